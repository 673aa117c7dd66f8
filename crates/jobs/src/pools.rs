//! The pools job: forward and backward flow pools of the current billing cycle, their usage and members.

use super::engine::{Counts, JobContext, SyncError};
use gsl_client::PoolQuery;
use gsl_domain::YearMonth;
use gsl_store::rows::{PoolMemberRow, PoolRow, PoolUsageRow};

const PAGE: u32 = 100;
const MEMBER_PAGE: u32 = 500;

pub(crate) async fn run(ctx: &JobContext<'_>) -> Result<Counts, SyncError> {
    let cycle = YearMonth::of(ctx.today);
    let billing = cycle;
    let mut counts = Counts::default();
    for backward in [false, true] {
        sync_kind(ctx, backward, billing, cycle, &mut counts).await?;
    }
    Ok(counts)
}

/// One page of forward (`/v1/sim-pools`) or backward (`/v1/back-pools`) pools as store rows, and the total.
async fn pool_page(
    ctx: &JobContext<'_>,
    backward: bool,
    query: &PoolQuery,
    cycle: YearMonth,
) -> Result<(Vec<(PoolRow, PoolUsageRow)>, u64), SyncError> {
    let client = &ctx.client;
    let day = cycle.first_day();
    if backward {
        let page = ctx.call(client.list_back_pools(query)).await?;
        let rows = page.pools.iter().map(|p| {
            (
                super::map::back_pool_row(p),
                super::map::back_pool_usage(p, day),
            )
        });
        Ok((rows.collect(), page.count.unwrap_or(0).max(0) as u64))
    } else {
        let page = ctx.call(client.list_sim_pools(query)).await?;
        let rows = page.pools.iter().map(|p| {
            (
                super::map::forward_pool_row(p),
                super::map::forward_pool_usage(p, day),
            )
        });
        Ok((rows.collect(), page.count.unwrap_or(0).max(0) as u64))
    }
}

async fn sync_kind(
    ctx: &JobContext<'_>,
    backward: bool,
    billing: YearMonth,
    cycle: YearMonth,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let mut page = 1;
    loop {
        ctx.check_cancelled()?;
        let query = PoolQuery {
            billing_cycle: Some(billing),
            limit: Some(PAGE),
            offset: Some(page),
            ..PoolQuery::default()
        };
        let (pools, total) = pool_page(ctx, backward, &query, cycle).await?;
        counts.api_calls += 1;
        let (rows, usage): (Vec<PoolRow>, Vec<PoolUsageRow>) = pools.into_iter().unzip();
        write_pools(ctx, &rows, &usage, counts).await?;
        for pool in &rows {
            let members =
                fetch_members(ctx, pool.sim_pool_id, billing, backward, cycle, counts).await?;
            write_members(ctx, &members, counts).await?;
        }
        if rows.is_empty() || u64::from(page) * u64::from(PAGE) >= total {
            return Ok(());
        }
        page += 1;
    }
}

async fn fetch_members(
    ctx: &JobContext<'_>,
    pool_id: i64,
    billing: YearMonth,
    backward: bool,
    cycle: YearMonth,
    counts: &mut Counts,
) -> Result<Vec<PoolMemberRow>, SyncError> {
    let client = &ctx.client;
    let mut rows = Vec::new();
    let mut page = 1;
    loop {
        ctx.check_cancelled()?;
        let answer = if backward {
            ctx.call(client.list_back_pool_members(pool_id, billing, page, MEMBER_PAGE))
                .await?
        } else {
            ctx.call(client.list_sim_pool_members(pool_id, billing, page, MEMBER_PAGE))
                .await?
        };
        counts.api_calls += 1;
        rows.extend(
            answer
                .pool_members
                .iter()
                .map(|m| super::map::pool_member_row(m, pool_id, backward, cycle.first_day())),
        );
        if answer.pool_members.is_empty()
            || u64::from(page) * u64::from(MEMBER_PAGE) >= answer.count.unwrap_or(0).max(0) as u64
        {
            return Ok(rows);
        }
        page += 1;
    }
}

async fn write_pools(
    ctx: &JobContext<'_>,
    rows: &[PoolRow],
    usage: &[PoolUsageRow],
    counts: &mut Counts,
) -> Result<(), SyncError> {
    counts.items_seen += rows.len() as u64;
    let a = ctx
        .store
        .merge_pools(ctx.fence, &ctx.account.name, rows)
        .await?;
    let b = ctx
        .store
        .merge_pool_usage(ctx.fence, &ctx.account.name, usage)
        .await?;
    counts.inserted += a.inserted + b.inserted;
    counts.updated += a.updated + b.updated;
    Ok(())
}

async fn write_members(
    ctx: &JobContext<'_>,
    rows: &[PoolMemberRow],
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let s = ctx
        .store
        .merge_pool_members(ctx.fence, &ctx.account.name, rows)
        .await?;
    counts.inserted += s.inserted;
    counts.updated += s.updated;
    Ok(())
}
