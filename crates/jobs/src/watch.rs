//! The real-time watch: one long-lived loop per account that re-checks the cards at risk with real-time
//! usage (`GslClient::realtime_usage`) between the nightly cutoffs.
//!
//! - The watchlist (`Store::rebuild_watchlist`) is rebuilt at start and after every successful job of the
//!   account; each round of checks then takes the due cards (not checked within `interval`), most urgent
//!   first, from it.
//! - Calls wait at `Priority::Background`: they only take budget slots no scheduled call waits for. On top,
//!   `Share` keeps the watch within `budget_share` of the calls the scheduled jobs leave unused.
//! - Every round's figures are stored in one fenced write; `AfterWatch` (the edge) then evaluates alerts
//!   and refreshes the gauges.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use gsl_client::{Budget, GslClient, GslError, Priority, SimCardRef};
use gsl_domain::SimCardId;
use gsl_store::realtime::{RealtimeRow, WatchParams};
use gsl_store::{Fence, Store, StoreError};

/// The validated `[watch]` section, with what it borrows from `[sync]` and `[alerts]`.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    pub enabled: bool,
    /// Watch cards at or above this usage ratio ...
    pub ratio: f64,
    /// ... or projected to run out within this many days ...
    pub days: u32,
    /// ... and re-check each at most this often.
    pub interval: Duration,
    /// Of the calls the scheduled jobs leave unused.
    pub budget_share: f64,
    /// Cards always watched.
    pub iccids: Vec<String>,
    /// `alerts.projection_window_days`: the projection is the alert rule's.
    pub projection_window_days: u32,
    /// `sync.timezone`: a check's usage day.
    pub timezone: Tz,
    /// How long to wait when no card is due before looking again.
    pub idle_poll: Duration,
    /// Checks per round at most: the list is re-ranked (and alerts evaluated) after each round.
    pub round_size: usize,
}

impl WatchSettings {
    /// The defaults of CONTRACT.md, for tests and tools.
    pub fn defaults(timezone: Tz) -> Self {
        Self {
            enabled: true,
            ratio: 0.7,
            days: 3,
            interval: Duration::from_secs(15 * 60),
            budget_share: 0.5,
            iccids: Vec::new(),
            projection_window_days: 7,
            timezone,
            idle_poll: Duration::from_secs(30),
            round_size: 60,
        }
    }
}

/// The watch's "now": the real clock in the daemon, a simulated one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The real clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchRound {
    /// Cards on the watchlist, when this round rebuilt it.
    pub rebuilt: Option<u64>,
    pub checked: u64,
    pub failed: u64,
    /// Each checked card's usage ratio before (its freshest figures) and after the check, so an edge can
    /// evaluate the alert rules only when a check crossed a threshold.
    pub ratios: Vec<(Option<f64>, Option<f64>)>,
}

impl WatchRound {
    /// Whether some check moved a card's ratio across `threshold` (either way).
    pub fn crossed(&self, threshold: f64) -> bool {
        self.ratios.iter().any(|(before, after)| {
            let side = |r: &Option<f64>| r.is_some_and(|r| r >= threshold);
            side(before) != side(after)
        })
    }
}

/// What the daemon does after each round, e.g. evaluate alerts and refresh the gauges. Implemented at the
/// edge, like `daemon::AfterJob`.
#[async_trait::async_trait]
pub trait AfterWatch: Send + Sync {
    async fn after_round(&self, account: &str, round: &WatchRound);
}

/// Does nothing after a round.
pub struct NoAfterWatch;

#[async_trait::async_trait]
impl AfterWatch for NoAfterWatch {
    async fn after_round(&self, _: &str, _: &WatchRound) {}
}

/// One account's watch.
pub struct Watch {
    pub store: Store,
    /// The account's client; its calls are made at `Priority::Background`.
    pub client: GslClient,
    pub settings: WatchSettings,
    pub hooks: Arc<dyn AfterWatch>,
    pub clock: Clock,
}

/// Runs the account's watch until `cancel` (shutdown or a lost lease/lock) or a write is refused by the
/// fence. Errors are logged and the loop goes on: the watch never fails a job.
pub async fn watch_account(watch: Watch, fence: Fence, cancel: CancellationToken) {
    if !watch.settings.enabled {
        return;
    }
    let span = tracing::info_span!("job", account = %watch.client.account(), job = "watch");
    WatchLoop::new(watch, fence, cancel)
        .run()
        .instrument(span)
        .await
}

/// Keeps the watch within a share of the calls the scheduled jobs leave unused.
///
/// Every so often it reads the budget's counters: over the time since the last look, the budget could
/// have granted `elapsed × rate` permits, others took `granted − spare` of them, and the watch earns
/// `share` of the rest. Each check spends one; the credit is capped so an idle hour is no burst later.
#[derive(Debug, Clone)]
pub struct Share {
    share: f64,
    credit: f64,
    cap: f64,
    seen_at: Instant,
    seen_granted: u64,
    seen_spare: u64,
}

impl Share {
    pub fn new(share: f64, budget: &Budget) -> Self {
        let cap = budget
            .total_per_second()
            .map_or(f64::INFINITY, |r| (share * r * 10.0).max(1.0));
        Self {
            share,
            credit: 1.0f64.min(cap),
            cap,
            seen_at: Instant::now(),
            seen_granted: budget.granted(),
            seen_spare: budget.granted_spare(),
        }
    }

    /// Brings the credit up to date from the budget's counters.
    pub fn look(&mut self, budget: &Budget) {
        let now = Instant::now();
        let (granted, spare) = (budget.granted(), budget.granted_spare());
        let others = (granted - self.seen_granted).saturating_sub(spare - self.seen_spare);
        self.earn(
            now.saturating_duration_since(self.seen_at),
            others,
            budget.total_per_second(),
        );
        (self.seen_at, self.seen_granted, self.seen_spare) = (now, granted, spare);
    }

    /// Credit for `elapsed` during which the others took `others` permits of `rate` per second.
    pub fn earn(&mut self, elapsed: Duration, others: u64, rate: Option<f64>) {
        let Some(rate) = rate else {
            self.credit = f64::INFINITY;
            return;
        };
        let unused = (elapsed.as_secs_f64() * rate - others as f64).max(0.0);
        self.credit = (self.credit + self.share * unused).min(self.cap);
    }

    /// Spends one check's credit, if there is one.
    pub fn take(&mut self) -> bool {
        if self.credit >= 1.0 {
            self.credit -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until one check's credit is earned if the others stay away.
    pub fn wait_hint(&self, rate: Option<f64>) -> Duration {
        match rate {
            Some(r) if r > 0.0 && self.share > 0.0 => {
                let need = (1.0 - self.credit).max(0.0) / (self.share * r);
                Duration::from_secs_f64(need.clamp(0.05, 5.0))
            }
            _ => Duration::from_secs(1),
        }
    }
}

struct WatchLoop {
    w: Watch,
    client: GslClient,
    fence: Fence,
    cancel: CancellationToken,
    share: Share,
    /// The job finish the watchlist was last rebuilt for (`None`: never rebuilt).
    rebuilt_for: Option<Option<DateTime<Utc>>>,
    /// Cards whose check failed, not tried again before the time given.
    failed_until: HashMap<SimCardId, DateTime<Utc>>,
}

/// Why the loop stops.
enum Stop {
    Cancelled,
    Fenced,
}

impl WatchLoop {
    fn new(w: Watch, fence: Fence, cancel: CancellationToken) -> Self {
        let client = w.client.with_priority(Priority::Background);
        let share = Share::new(w.settings.budget_share, client.budget());
        Self {
            w,
            client,
            fence,
            cancel,
            share,
            rebuilt_for: None,
            failed_until: HashMap::new(),
        }
    }

    async fn run(mut self) {
        tracing::info!(
            interval_s = self.w.settings.interval.as_secs(),
            budget_share = self.w.settings.budget_share,
            "real-time watch started"
        );
        loop {
            match self.round().await {
                Ok(true) => {}
                Ok(false) => {
                    if self.pause(self.w.settings.idle_poll).await.is_err() {
                        break;
                    }
                }
                Err(Stop::Cancelled) => break,
                Err(Stop::Fenced) => {
                    tracing::warn!("the watch stops: this replica no longer holds the account");
                    break;
                }
            }
        }
        tracing::info!("real-time watch stopped");
    }

    /// Sleeps `d` unless cancelled first.
    async fn pause(&self, d: Duration) -> Result<(), Stop> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        (self.w.clock)()
    }

    /// One round: rebuild the list if a job finished, check the due cards, store, report. `Ok(false)`
    /// when nothing was due.
    async fn round(&mut self) -> Result<bool, Stop> {
        if self.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let mut report = WatchRound {
            rebuilt: self.rebuild_if_stale().await?,
            ..WatchRound::default()
        };
        let now = self.now();
        self.failed_until.retain(|_, until| *until > now);
        let due = match self.due(now).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the watchlist");
                Vec::new()
            }
        };
        let mut rows = Vec::new();
        for card in due {
            let checked = match self.earn_credit().await {
                Ok(()) => self.check(card.sim_card_id, card.iccid).await,
                Err(stop) => Err(stop),
            };
            let checked = match checked {
                Ok(c) => c,
                Err(stop) => {
                    // Stopping: what this round read is kept.
                    if !rows.is_empty() {
                        let _ = self.store(&rows).await;
                    }
                    return Err(stop);
                }
            };
            match checked {
                Ok(row) => {
                    let after = gsl_domain::usage_ratio(row.flow_used_mb, row.flow_left_mb);
                    report.ratios.push((card.ratio, after));
                    rows.push(row);
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(sim_card_id = card.sim_card_id.get(), code = e.code().unwrap_or(""), error = %e, "real-time check failed");
                    let retry =
                        chrono::Duration::from_std(self.w.settings.interval).unwrap_or_default();
                    self.failed_until
                        .insert(card.sim_card_id, self.now() + retry);
                }
            }
        }
        report.checked = rows.len() as u64;
        if !rows.is_empty() {
            self.store(&rows).await?;
        }
        let worked = report.checked + report.failed > 0;
        if worked || report.rebuilt.is_some() {
            tracing::debug!(checked = report.checked, failed = report.failed, rebuilt = ?report.rebuilt, "watch round");
            self.w
                .hooks
                .after_round(self.client.account(), &report)
                .await;
        }
        Ok(worked)
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<gsl_store::realtime::DueCard>, StoreError> {
        let s = &self.w.settings;
        let before = now - chrono::Duration::from_std(s.interval).unwrap_or_default();
        let limit = (s.round_size + self.failed_until.len()) as i64;
        let mut due = self
            .w
            .store
            .due_watch_cards(self.client.account(), before, limit)
            .await?;
        due.retain(|c| !self.failed_until.contains_key(&c.sim_card_id));
        due.truncate(s.round_size);
        Ok(due)
    }

    /// Rebuilds the watchlist when the account finished a job since the last rebuild (or never rebuilt).
    async fn rebuild_if_stale(&mut self) -> Result<Option<u64>, Stop> {
        let account = self.client.account().to_owned();
        let last = match self.w.store.last_success_of_any_job(&account).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the last runs");
                return Ok(None);
            }
        };
        if self.rebuilt_for == Some(last) {
            return Ok(None);
        }
        let now = self.now();
        let s = &self.w.settings;
        let params = WatchParams {
            as_of: now.with_timezone(&s.timezone).date_naive() - chrono::Duration::days(1),
            ratio: s.ratio,
            days: f64::from(s.days),
            window_days: i32::try_from(s.projection_window_days.max(1)).unwrap_or(i32::MAX),
            iccids: s.iccids.clone(),
        };
        match self
            .w
            .store
            .rebuild_watchlist(&self.fence, &account, &params, now)
            .await
        {
            Ok(n) => {
                self.rebuilt_for = Some(last);
                tracing::info!(cards = n, "watchlist rebuilt");
                Ok(Some(n))
            }
            Err(StoreError::LostLeadership) => Err(Stop::Fenced),
            Err(e) => {
                tracing::warn!(error = %e, "could not rebuild the watchlist");
                Ok(None)
            }
        }
    }

    /// Waits until the share allows one more check.
    async fn earn_credit(&mut self) -> Result<(), Stop> {
        loop {
            self.share.look(self.client.budget());
            if self.share.take() {
                return Ok(());
            }
            let hint = self
                .share
                .wait_hint(self.client.budget().total_per_second());
            self.pause(hint).await?;
        }
    }

    /// One real-time check; the outer error stops the loop, the inner one is the card's.
    async fn check(
        &self,
        sim_card_id: SimCardId,
        iccid: Option<String>,
    ) -> Result<Result<RealtimeRow, GslError>, Stop> {
        let answer = tokio::select! {
            r = self.client.realtime_usage(SimCardRef::Id(sim_card_id)) => r,
            _ = self.cancel.cancelled() => return Err(Stop::Cancelled),
        };
        let checked_at = self.now();
        Ok(answer.map(|u| RealtimeRow {
            sim_card_id,
            iccid,
            checked_at,
            usage_day: checked_at
                .with_timezone(&self.w.settings.timezone)
                .date_naive(),
            flow_used_mb: u.flow_used_mb,
            flow_left_mb: u.flow_left_mb,
            flow_total_mb: u.flow_total_mb,
        }))
    }

    async fn store(&self, rows: &[RealtimeRow]) -> Result<(), Stop> {
        let account = self.client.account();
        match self
            .w
            .store
            .record_realtime(&self.fence, account, rows, self.now())
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::LostLeadership) => Err(Stop::Fenced),
            Err(e) => {
                tracing::warn!(error = %e, cards = rows.len(), "could not store real-time figures");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gsl_client::Rates;

    fn budget() -> Budget {
        Budget::new(Rates {
            total_per_second: 5.0,
            card_list_per_second: 1.0,
            price_plans_per_second: 1.0,
        })
    }

    #[test]
    fn a_round_tells_which_thresholds_its_checks_crossed() {
        let round = WatchRound {
            ratios: vec![
                (Some(0.75), Some(0.82)),
                (None, Some(0.5)),
                (Some(0.95), Some(0.2)),
            ],
            ..WatchRound::default()
        };
        assert!(round.crossed(0.8));
        assert!(round.crossed(0.9), "down across critical: a new cycle");
        assert!(!round.crossed(0.99));
        assert!(round.crossed(0.3));
    }

    #[test]
    fn the_watch_earns_its_share_of_what_the_others_leave() {
        let b = budget();
        let rate = b.total_per_second();
        let mut s = Share::new(0.5, &b);
        assert!(s.take(), "one check to start with");
        assert!(!s.take());
        // Ten idle seconds at 4.76/s: 47.6 unused, half of it earned, capped at 10 s of the share.
        s.earn(Duration::from_secs(10), 0, rate);
        let mut n = 0;
        while s.take() {
            n += 1;
        }
        assert_eq!(n, 23);
        // The night's jobs took every permit: nothing is earned.
        s.earn(Duration::from_secs(10), 48, rate);
        assert!(!s.take());
        // They took 40 of 47.6: 3.8 earned, on top of the 0.8 left over.
        s.earn(Duration::from_secs(10), 40, rate);
        assert_eq!((0..10).filter(|_| s.take()).count(), 4);
        // An idle hour is no burst: the credit is capped.
        s.earn(Duration::from_secs(3600), 0, rate);
        assert_eq!((0..1000).filter(|_| s.take()).count(), 23);
    }

    #[tokio::test(start_paused = true)]
    async fn the_share_reads_the_budget_counters() {
        let b = budget();
        let mut s = Share::new(1.0, &b);
        assert!(s.take());
        // The others take every slot for ten seconds: no credit.
        let t0 = Instant::now();
        while Instant::now() - t0 < Duration::from_secs(10) {
            b.acquire(Priority::DailyFlow, gsl_client::Lane::Any).await;
        }
        s.look(&b);
        assert!(!s.take());
        // Ten quiet seconds: credit.
        tokio::time::sleep(Duration::from_secs(10)).await;
        s.look(&b);
        assert!(s.take());
        assert!(s.wait_hint(b.total_per_second()) <= Duration::from_secs(5));
    }
}
