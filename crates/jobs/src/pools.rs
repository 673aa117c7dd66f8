//! The pools job: forward and backward flow pools of the current billing cycle, their usage and members.

use futures::StreamExt;

use super::engine::{Counts, JobContext, SyncError};
use super::overlap::merge_while_fetching;
use gsl_client::{short_page, BackPoolPage, PoolMemberPage, PoolPage, PoolQuery, ShortPage};
use gsl_domain::{PoolId, YearMonth};
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

/// A page of a GSL list: how many items it holds and how many the whole listing has.
trait Listed {
    fn listed(&self) -> usize;
    fn count(&self) -> Option<i64>;
}

impl Listed for PoolPage {
    fn listed(&self) -> usize {
        self.pools.len()
    }
    fn count(&self) -> Option<i64> {
        self.count
    }
}

impl Listed for BackPoolPage {
    fn listed(&self) -> usize {
        self.pools.len()
    }
    fn count(&self) -> Option<i64> {
        self.count
    }
}

impl Listed for PoolMemberPage {
    fn listed(&self) -> usize {
        self.pool_members.len()
    }
    fn count(&self) -> Option<i64> {
        self.count
    }
}

/// Fetches page `page`, again (bounded) while it holds fewer items than its `count` promised; the last
/// answer and its shortfall, if it stayed short.
async fn checked_page<T: Listed, Fut>(
    ctx: &JobContext<'_>,
    what: &'static str,
    (page, limit): (u32, u32),
    counts: &mut Counts,
    fetch: impl Fn() -> Fut,
) -> Result<(T, Option<ShortPage>), SyncError>
where
    Fut: std::future::Future<Output = Result<T, gsl_client::GslError>>,
{
    let client = &ctx.client;
    let mut attempt = 0;
    loop {
        ctx.check_cancelled()?;
        let answer = ctx.call(fetch()).await?;
        counts.api_calls += 1;
        let short = short_page(
            what,
            u64::from(page),
            u64::from(limit),
            answer.count(),
            answer.listed(),
        );
        let Some(short) = short else {
            return Ok((answer, None));
        };
        if attempt >= client.short_page_refetches() {
            return Ok((answer, Some(short)));
        }
        tracing::warn!(page = %short, attempt, "short page; fetching it again");
        client.short_page_pause(attempt).await;
        attempt += 1;
    }
}

/// Records a page that stayed short: the run stores what it got and fails naming the page.
fn note_short(counts: &mut Counts, context: String, short: ShortPage) {
    let line = format!("{context}{short}");
    tracing::warn!(page = %line, "page stayed short; the run will be marked incomplete");
    add_incomplete(counts, line);
}

fn add_incomplete(counts: &mut Counts, line: String) {
    counts.incomplete = Some(match counts.incomplete.take() {
        Some(earlier) => format!("{earlier}; {line}"),
        None => line,
    });
}

type PoolRows = Vec<(PoolRow, PoolUsageRow)>;

/// One page of forward (`/v1/sim-pools`) or backward (`/v1/back-pools`) pools as store rows, and the total.
async fn pool_page(
    ctx: &JobContext<'_>,
    backward: bool,
    query: &PoolQuery,
    cycle: YearMonth,
    counts: &mut Counts,
) -> Result<(PoolRows, u64), SyncError> {
    let client = &ctx.client;
    let day = cycle.first_day();
    let at = (query.offset.unwrap_or(1), query.limit.unwrap_or(PAGE));
    let kind = if backward {
        "backward pools: "
    } else {
        "pools: "
    };
    let (rows, count, short): (PoolRows, _, _) = if backward {
        let (page, short) =
            checked_page(ctx, "pools", at, counts, || client.list_back_pools(query)).await?;
        let rows = page.pools.iter().map(|p| {
            (
                super::map::back_pool_row(p),
                super::map::back_pool_usage(p, day),
            )
        });
        (rows.collect(), page.count, short)
    } else {
        let (page, short) =
            checked_page(ctx, "pools", at, counts, || client.list_sim_pools(query)).await?;
        let rows = page.pools.iter().map(|p| {
            (
                super::map::forward_pool_row(p),
                super::map::forward_pool_usage(p, day),
            )
        });
        (rows.collect(), page.count, short)
    };
    if let Some(short) = short {
        note_short(counts, kind.into(), short);
    }
    Ok((rows, count.unwrap_or(0).max(0) as u64))
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
        let (pools, total) = pool_page(ctx, backward, &query, cycle, counts).await?;
        let (rows, usage): (Vec<PoolRow>, Vec<PoolUsageRow>) = pools.into_iter().unzip();
        write_pools(ctx, &rows, &usage, counts).await?;
        let ids: Vec<PoolId> = rows.iter().map(|p| p.sim_pool_id).collect();
        page_members(ctx, &ids, (billing, backward, cycle), counts).await?;
        if rows.is_empty() || u64::from(page) * u64::from(PAGE) >= total {
            return Ok(());
        }
        page += 1;
    }
}

/// The members of one page's pools, a few pools in flight while the answers merge: pools come last in the
/// night, and paged one call at a time they would finish alone, at one call's latency instead of the budget.
async fn page_members(
    ctx: &JobContext<'_>,
    pools: &[PoolId],
    (billing, backward, cycle): (YearMonth, bool, YearMonth),
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let in_flight = ctx.calls_in_flight();
    let fetched = futures::stream::iter(pools.iter().copied())
        .map(|pool_id| async move {
            let mut own = Counts::default();
            let rows = fetch_members(ctx, pool_id, billing, backward, cycle, &mut own).await;
            rows.map(|rows| (rows, own))
        })
        .buffer_unordered(in_flight);
    merge_while_fetching(fetched, in_flight, move |mut answers| async move {
        while let Some(answer) = answers.recv().await {
            let (rows, own) = answer?;
            counts.api_calls += own.api_calls;
            if let Some(short) = own.incomplete {
                add_incomplete(counts, short);
            }
            write_members(ctx, &rows, counts).await?;
        }
        Ok(())
    })
    .await
}

async fn fetch_members(
    ctx: &JobContext<'_>,
    pool_id: PoolId,
    billing: YearMonth,
    backward: bool,
    cycle: YearMonth,
    counts: &mut Counts,
) -> Result<Vec<PoolMemberRow>, SyncError> {
    let client = &ctx.client;
    let mut rows = Vec::new();
    let mut page = 1;
    loop {
        let at = (page, MEMBER_PAGE);
        let (answer, short) = checked_page(ctx, "pool members", at, counts, || async move {
            if backward {
                client
                    .list_back_pool_members(pool_id, billing, page, MEMBER_PAGE)
                    .await
            } else {
                client
                    .list_sim_pool_members(pool_id, billing, page, MEMBER_PAGE)
                    .await
            }
        })
        .await?;
        if let Some(short) = short {
            note_short(counts, format!("pool {pool_id}: "), short);
        }
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
