//! The monthly job: month-usages for every billing cycle the API offers (this month and the five before),
//! 500 cards a call — one call covers all six cycles, so asking for fewer would save nothing.

use futures::StreamExt;

use super::engine::{Counts, JobContext, SyncError};
use super::feed::CardFeed;
use super::map;
use super::overlap::merge_while_fetching;
use gsl_client::CardSelector;
use gsl_domain::YearMonth;

const CYCLES_OFFERED: usize = 6;

pub(crate) async fn run(ctx: &JobContext<'_>) -> Result<Counts, SyncError> {
    let mut cycles = Vec::with_capacity(CYCLES_OFFERED);
    let mut m = YearMonth::of(ctx.today);
    for _ in 0..CYCLES_OFFERED {
        cycles.push(m);
        m = m.previous();
    }
    let mut counts = Counts::default();
    let mut feed = CardFeed::new(ctx);
    while let Some(cards) = feed.next(ctx).await? {
        month_usages(ctx, &cards, &cycles, &mut counts).await?;
    }
    Ok(counts)
}

/// Calls go on while answers merge, a few in flight, so the shared budget, not one call's latency, sets
/// the pace (at GSL's 5/s and at scaled limits alike).
async fn month_usages(
    ctx: &JobContext<'_>,
    cards: &[gsl_domain::SimCardId],
    cycles: &[YearMonth],
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let in_flight = ctx.calls_in_flight();
    let selectors: Vec<CardSelector> = cards
        .chunks(ctx.settings.monthly_batch_size)
        .map(|batch| CardSelector::Ids(batch.to_vec()))
        .collect();
    let (client, cancel) = (ctx.client.clone(), ctx.cancel.clone());
    let cycles = cycles.to_vec();
    let answers = futures::stream::iter(selectors)
        .map(move |ids| {
            let (client, cancel, cycles) = (client.clone(), cancel.clone(), cycles.clone());
            async move {
                tokio::select! {
                    r = client.month_usages(ids, &cycles) => r.map_err(SyncError::from),
                    _ = cancel.cancelled() => Err(SyncError::Cancelled),
                }
            }
        })
        .buffer_unordered(in_flight);
    merge_while_fetching(answers, in_flight, move |mut answers| async move {
        while let Some(answer) = answers.recv().await {
            let usages = answer?;
            counts.api_calls += 1;
            let rows = map::monthly_rows(&usages);
            counts.items_seen += rows.len() as u64;
            let stats = ctx
                .store
                .merge_monthly_usage(ctx.fence, &ctx.account.name, &rows)
                .await?;
            counts.inserted += stats.inserted;
            counts.updated += stats.updated;
        }
        Ok(())
    })
    .await
}
