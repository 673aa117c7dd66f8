//! The monthly job: month-usages for every billing cycle the API offers (this month and the five before),
//! 500 cards a call — one call covers all six cycles, so asking for fewer would save nothing.

use super::engine::{Counts, JobContext, SyncError};
use super::feed::CardFeed;
use super::map;
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
    let mut feed = CardFeed::default();
    while let Some(cards) = feed.next(ctx).await? {
        month_usages(ctx, &cards, &cycles, &mut counts).await?;
    }
    Ok(counts)
}

async fn month_usages(
    ctx: &JobContext<'_>,
    cards: &[gsl_store::CardKey],
    cycles: &[YearMonth],
    counts: &mut Counts,
) -> Result<(), SyncError> {
    for batch in cards.chunks(ctx.settings.monthly_batch_size) {
        ctx.check_cancelled()?;
        let ids = CardSelector::Ids(batch.iter().map(|c| c.sim_card_id).collect());
        let usages = ctx.call(ctx.client.month_usages(ids, cycles)).await?;
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
}
