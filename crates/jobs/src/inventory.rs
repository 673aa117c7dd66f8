//! The inventory job: one pass over the card list into `sim_cards` and `sim_snapshots`, with drift handling.

use chrono::Duration;
use futures::stream::{FuturesUnordered, StreamExt};

use super::engine::{Counts, JobContext, SyncError};
use super::map;
use super::progress::ProgressEvent;
use gsl_client::{ListSimCardsQuery, PagingDrift, SimCardPage};

pub(crate) async fn run(ctx: &JobContext<'_>) -> Result<Counts, SyncError> {
    let mut counts = Counts::default();
    let first = pass(ctx, ListSimCardsQuery::default(), &mut counts).await?;
    let mut shortfall = first.incompleteness();
    let mut complete = shortfall.is_none() && !drifted(&first);
    // A list that moved underneath gets a second pass; one with a page that stayed short does not (the
    // same upstream fault would likely cut the second one too).
    if drifted(&first) && first.short_pages.is_empty() {
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
        shortfall = second.incompleteness();
        complete = shortfall.is_none() && !drifted(&second);
        counts
            .details
            .insert("reconciling_pass".into(), true.into());
    }
    ctx.check_cancelled()?;
    // An incomplete pass still stored every card it saw; only the removals, which trust the pass to have
    // listed everything, are skipped.
    counts.removed = ctx
        .store
        .finish_inventory_pass(ctx.fence, &ctx.account.name, ctx.run_id, complete)
        .await?;
    if !complete {
        let why =
            shortfall.unwrap_or_else(|| "the card list kept changing during two passes".into());
        counts.incomplete = Some(format!("{why}; removals were not recorded"));
    }
    Ok(counts)
}

/// Cards merged per transaction: a commit per 500-card page would bound a fast pass by fsyncs.
const MERGE_ROWS: usize = 5_000;

/// Merge transactions at once: one is bound by a single Postgres backend; two keep the server's cores busy
/// while the client decodes. `merge_cards` stages rows in card order, so two merges cannot deadlock.
const MERGES_IN_FLIGHT: usize = 2;

async fn merge_batch(
    ctx: &JobContext<'_>,
    batch: Vec<gsl_store::CardRow>,
) -> Result<(usize, gsl_store::MergeStats), SyncError> {
    let stats = ctx
        .store
        .merge_cards(ctx.fence, &ctx.account.name, ctx.run_id, &batch)
        .await?;
    Ok((batch.len(), stats))
}

fn absorb(
    ctx: &JobContext<'_>,
    counts: &mut Counts,
    (rows, stats): (usize, gsl_store::MergeStats),
) {
    ctx.account.ring_cards_merged();
    counts.items_seen += rows as u64;
    counts.inserted += stats.inserted;
    counts.updated += stats.updated;
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
    let mut pager = ctx.client.card_pages(query);
    // Pages are fetched while earlier ones merge, so a merge never delays a call; the channel holds up to one
    // merge batch, which bounds memory. When the fetch fails, what it already fetched is still merged.
    let pages_per_merge = MERGE_ROWS / ctx.settings.page_size.max(1) as usize;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<SimCardPage>(pages_per_merge.max(2));
    let fetch = async {
        let tx = tx;
        loop {
            ctx.check_cancelled()?;
            let Some(page) = ctx.call(pager.next_page()).await? else {
                break;
            };
            if tx.send(page).await.is_err() {
                break;
            }
        }
        Ok::<_, SyncError>(())
    };
    let merge = async {
        let mut pending = Vec::new();
        let mut merging = FuturesUnordered::new();
        let mut listed = 0u64;
        // The first merges are small, so the jobs beside the inventory get cards within a page or two
        // (on an empty database they have nothing else to do); later ones grow to MERGE_ROWS.
        let mut merge_at = (ctx.settings.page_size.max(1) as usize).min(MERGE_ROWS);
        loop {
            tokio::select! {
                page = rx.recv() => {
                    let Some(page) = page else { break };
                    counts.api_calls += 1;
                    listed += page.sim_cards.len() as u64;
                    pending.extend(page.sim_cards.iter().map(|c| map::card_row(c, data_date)));
                    if pending.len() >= merge_at {
                        merge_at = (merge_at * 2).min(MERGE_ROWS);
                        if merging.len() >= MERGES_IN_FLIGHT {
                            if let Some(done) = merging.next().await {
                                absorb(ctx, counts, done?);
                            }
                        }
                        merging.push(merge_batch(ctx, std::mem::take(&mut pending)));
                    }
                    let total = page.count.unwrap_or(0).max(0) as u64;
                    ctx.progress.report(|| ProgressEvent {
                        account: ctx.account.name.clone(),
                        job: "inventory",
                        what: "cards",
                        done: listed,
                        total: Some(total),
                        calls_done: counts.api_calls,
                        calls_total: Some(total.div_ceil(u64::from(ctx.settings.page_size))),
                    });
                }
                Some(done) = merging.next(), if !merging.is_empty() => absorb(ctx, counts, done?),
            }
        }
        merging.push(merge_batch(ctx, pending));
        while let Some(done) = merging.next().await {
            absorb(ctx, counts, done?);
        }
        Ok::<_, SyncError>(())
    };
    let (fetched, merged) = tokio::join!(fetch, merge);
    merged?;
    fetched?;
    Ok(pager.drift())
}
