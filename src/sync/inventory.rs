//! The inventory job: one pass over the card list into `sim_cards` and `sim_snapshots`, with drift handling.

use chrono::Duration;

use super::engine::{Counts, JobContext, SyncError};
use super::map;
use super::progress::ProgressEvent;
use crate::gsl::{ListSimCardsQuery, PagingDrift};

pub(crate) async fn run(ctx: &JobContext<'_>) -> Result<Counts, SyncError> {
    let mut counts = Counts::default();
    let first = pass(ctx, ListSimCardsQuery::default(), &mut counts).await?;
    let mut complete = !drifted(&first);
    if !complete {
        tracing::warn!(
            account = %ctx.account.name, first_count = first.first_count, last_count = first.last_count,
            duplicates = first.duplicate_ids, "the card list changed during the pass; running a reconciling pass sorted by cid"
        );
        let by_cid = ListSimCardsQuery {
            sort: Some("cid".into()),
            order: Some("asc".into()),
            ..ListSimCardsQuery::default()
        };
        let second = pass(ctx, by_cid, &mut counts).await?;
        complete = !drifted(&second);
        counts
            .details
            .insert("reconciling_pass".into(), true.into());
    }
    ctx.check_cancelled()?;
    counts.removed = ctx
        .store
        .finish_inventory_pass(ctx.fence, &ctx.account.name, ctx.run_id, complete)
        .await?;
    if !complete {
        counts.incomplete = Some(
            "the card list kept changing during two passes; removals were not recorded".into(),
        );
    }
    Ok(counts)
}

fn drifted(d: &PagingDrift) -> bool {
    d.count_changed || d.duplicate_ids > 0
}

async fn pass(
    ctx: &JobContext<'_>,
    mut query: ListSimCardsQuery,
    counts: &mut Counts,
) -> Result<PagingDrift, SyncError> {
    query.limit = Some(ctx.settings.page_size);
    let data_date = ctx.today - Duration::days(1);
    let mut pager = ctx.account.client.card_pages(query);
    loop {
        ctx.check_cancelled()?;
        let Some(page) = ctx.call(pager.next_page()).await? else {
            break;
        };
        counts.api_calls += 1;
        let rows: Vec<_> = page
            .sim_cards
            .iter()
            .map(|c| map::card_row(c, data_date))
            .collect();
        counts.items_seen += rows.len() as u64;
        let stats = ctx
            .store
            .merge_cards(ctx.fence, &ctx.account.name, ctx.run_id, &rows)
            .await?;
        counts.inserted += stats.inserted;
        counts.updated += stats.updated;
        let total = page.count.unwrap_or(0).max(0) as u64;
        ctx.progress.report(|| ProgressEvent {
            account: ctx.account.name.clone(),
            job: "inventory",
            what: "cards",
            done: counts.items_seen,
            total: Some(total),
            calls_done: counts.api_calls,
            calls_total: Some(total.div_ceil(u64::from(ctx.settings.page_size))),
        });
    }
    Ok(pager.drift())
}
