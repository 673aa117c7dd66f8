//! The daily-flow job: asks the planner which month/date queries to send, sends them for every batch of
//! active cards, and records how far each month is fetched and which days were lost.

use chrono::{Datelike, NaiveDate};
use futures::StreamExt;

use super::engine::{Counts, JobContext, SyncError};
use super::feed::CardFeed;
use super::map;
use super::overlap::merge_while_fetching;
use super::planner::{self, MonthState, Plan};
use super::progress::ProgressEvent;
use gsl_client::{CardSelector, DailyFlowQuery};
use gsl_domain::{FlowPeriod, SimCardId, YearMonth};
use gsl_store::flow_state::FlowMonthState;

/// Rows merged per transaction: answers are buffered up to this (a killed run refetches what was unmerged).
const MERGE_ROWS: usize = 10_000;

pub(crate) async fn run(
    ctx: &JobContext<'_>,
    explicit: Option<FlowPeriod>,
    close_out_days: u32,
) -> Result<Counts, SyncError> {
    let states = ctx.store.daily_flow_state(&ctx.account.name).await?;
    let plan = match explicit {
        Some(period) => planner::plan_explicit(ctx.today, period)?,
        None => planner::plan_nightly(ctx.today, close_out_days, &to_planner(&states)),
    };
    let mut counts = Counts::default();
    record_gap(ctx, &plan, &mut counts);
    let mut feed = CardFeed::new(ctx);
    let cards = feed.next(ctx).await?.unwrap_or_default();
    let batches: Vec<&[SimCardId]> = cards.chunks(ctx.settings.daily_flow_batch_size).collect();
    let calls_total = (plan.periods.len() * batches.len()) as u64;
    for period in &plan.periods {
        fetch_period(ctx, *period, &batches, calls_total, &mut counts).await?;
    }
    // Cards the inventory running beside this job lists for the first time, fetched as they arrive.
    while let Some(late) = feed.next(ctx).await? {
        let batches: Vec<&[SimCardId]> = late.chunks(ctx.settings.daily_flow_batch_size).collect();
        let calls = (plan.periods.len() * batches.len()) as u64;
        for period in &plan.periods {
            fetch_period(ctx, *period, &batches, calls, &mut counts).await?;
        }
    }
    // Only now has every card the inventory lists been fetched: a month marked earlier (before a fresh
    // account's first page of cards arrived, say) would be skipped as settled by a run after a kill.
    if explicit.is_none() {
        for period in &plan.periods {
            mark_fetched(ctx, *period, close_out_days).await?;
        }
    }
    maintain_partitions(ctx, &mut counts).await?;
    counts.complete_through = complete_through(ctx).await?;
    counts.details.insert(
        "periods".into(),
        plan.periods.iter().map(describe).collect::<Vec<_>>().into(),
    );
    counts
        .details
        .insert("cards".into(), (feed.seen() as u64).into());
    Ok(counts)
}

/// Keeps the history tables a bounded time series: next month's partitions exist before its first write,
/// and whole months older than `sync.retention_days` are dropped (a cheap DROP, no row deletes).
async fn maintain_partitions(ctx: &JobContext<'_>, counts: &mut Counts) -> Result<(), SyncError> {
    ctx.store
        .ensure_partitions(ctx.today, ctx.today + chrono::Duration::days(31))
        .await?;
    let cutoff = ctx.today - chrono::Duration::days(i64::from(ctx.settings.retention_days));
    let dropped = ctx.store.drop_partitions_before(cutoff).await?;
    if !dropped.is_empty() {
        tracing::info!(account = %ctx.account.name, partitions = ?dropped, %cutoff, "dropped history partitions past retention");
        counts
            .details
            .insert("dropped_partitions".into(), dropped.into());
    }
    Ok(())
}

fn record_gap(ctx: &JobContext<'_>, plan: &Plan, counts: &mut Counts) {
    if let (Some(first), Some(last)) = (plan.gap.first(), plan.gap.last()) {
        tracing::warn!(
            account = %ctx.account.name, from = %first, to = %last, days = plan.gap.len(),
            "daily flow for these days is no longer offered by the API and was never fetched: recorded as a gap"
        );
        counts.gap_days = plan.gap.clone();
    }
}

async fn fetch_period(
    ctx: &JobContext<'_>,
    period: FlowPeriod,
    batches: &[&[SimCardId]],
    calls_total: u64,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    let days = planner::days_covered(ctx.today, period);
    let (Some(&from), Some(&to)) = (days.first(), days.last()) else {
        return Ok(());
    };
    ctx.store.ensure_partitions(from, to).await?;
    let client = ctx.client.clone();
    let queries: Vec<DailyFlowQuery> = batches
        .iter()
        .map(|batch| DailyFlowQuery {
            cards: CardSelector::Ids(batch.to_vec()),
            period,
        })
        .collect();
    let cancel = ctx.cancel.clone();
    let in_flight = ctx.calls_in_flight();
    let answers = futures::stream::iter(queries)
        .map(move |query| {
            let client = client.clone();
            let cancel = cancel.clone();
            async move {
                tokio::select! {
                    r = client.daily_flow(&query) => r.map_err(SyncError::from),
                    _ = cancel.cancelled() => Err(SyncError::Cancelled),
                }
            }
        })
        .buffer_unordered(in_flight);
    merge_while_fetching(answers, in_flight * 2, move |mut answers| async move {
        let mut pending = Vec::new();
        while let Some(answer) = answers.recv().await {
            let answer = answer?;
            counts.api_calls += 1;
            pending.extend(map::daily_flow_rows(&answer, |d| d >= from && d <= to));
            if pending.len() >= MERGE_ROWS {
                flush(ctx, &mut pending, counts).await?;
            }
            ctx.progress.report(|| ProgressEvent {
                account: ctx.account.name.clone(),
                job: "daily_flow",
                what: "day rows",
                done: counts.items_seen + pending.len() as u64,
                total: None,
                calls_done: counts.api_calls,
                calls_total: Some(calls_total),
            });
        }
        flush(ctx, &mut pending, counts).await
    })
    .await
}

/// Merges the buffered rows in one transaction: per-statement overhead dwarfs per-row work at 100 rows.
async fn flush(
    ctx: &JobContext<'_>,
    pending: &mut Vec<gsl_store::DailyFlowRow>,
    counts: &mut Counts,
) -> Result<(), SyncError> {
    if pending.is_empty() {
        return Ok(());
    }
    let stats = ctx
        .store
        .merge_daily_flow(ctx.fence, &ctx.account.name, pending)
        .await?;
    counts.items_seen += pending.len() as u64;
    counts.inserted += stats.inserted;
    counts.updated += stats.updated;
    pending.clear();
    Ok(())
}

async fn mark_fetched(
    ctx: &JobContext<'_>,
    period: FlowPeriod,
    close_out_days: u32,
) -> Result<(), SyncError> {
    let FlowPeriod::Month(month) = period else {
        return Ok(());
    };
    let Some(through) = planner::days_covered(ctx.today, period).last().copied() else {
        return Ok(());
    };
    // Last month is settled once fetched after the days in which carriers still correct it.
    let closed = month < YearMonth::of(ctx.today) && ctx.today.day() > close_out_days;
    ctx.store
        .record_daily_flow_fetched(
            &ctx.account.name,
            FlowMonthState {
                month: month.first_day(),
                complete_through: through,
                closed,
            },
        )
        .await?;
    Ok(())
}

/// The last day stored for every card: the newest month's recorded progress.
async fn complete_through(ctx: &JobContext<'_>) -> Result<Option<NaiveDate>, SyncError> {
    let states = ctx.store.daily_flow_state(&ctx.account.name).await?;
    Ok(states.iter().map(|s| s.complete_through).max())
}

fn to_planner(states: &[FlowMonthState]) -> Vec<MonthState> {
    states
        .iter()
        .map(|s| MonthState {
            month: YearMonth::of(s.month),
            complete_through: s.complete_through,
            closed: s.closed,
        })
        .collect()
}

fn describe(p: &FlowPeriod) -> serde_json::Value {
    p.to_string().into()
}
