//! What follows a sync: refresh the gauges, evaluate alert rules, deliver notifications.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{Duration, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alerts::Notifier;
use crate::config::Settings;
use crate::metrics::{MetricsOptions, SimGauges};
use crate::store::Store;
use crate::sync::daemon::AfterJob;
use crate::sync::guard::GuardObserver;
use crate::sync::watch::{AfterWatch, WatchRound};
use crate::sync::{JobKind, JobReport};
use crate::telemetry::Telemetry;

/// The one notifier of a process (none when no receiver is configured), and a bell that wakes the
/// daemon's delivery task, so a slow receiver never holds up a job.
#[derive(Clone)]
pub struct Delivery {
    notifier: Option<Arc<Notifier>>,
    wake: Arc<Notify>,
}

impl Delivery {
    pub fn new(store: &Store, settings: &Settings, telemetry: &Telemetry) -> Self {
        let configured =
            settings.alerts.alertmanager_url.is_some() || settings.alerts.webhook_url.is_some();
        let notifier = configured
            .then(|| Notifier::new(store.clone(), &settings.alerts, Arc::new(telemetry.clone())))
            .and_then(|built| {
                built
                    .map_err(|e| tracing::error!(error = %e, "alert notifier could not start"))
                    .ok()
            })
            .map(Arc::new);
        Self {
            notifier,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Sends the notifications that are due (a receiver that was down gets them here).
    pub async fn deliver_due(&self) {
        if let Some(notifier) = &self.notifier {
            let stats = notifier.deliver_due().await;
            tracing::debug!(
                sent = stats.sent,
                failed = stats.failed,
                "alert notifications delivered"
            );
        }
    }

    /// Asks the delivery task to run now.
    pub fn ring(&self) {
        self.wake.notify_one();
    }

    /// The daemon's delivery task: on every ring and every `every`, off the job loop, until `stop`; only
    /// while `syncing` is set (the syncer delivers, so replicas do not send each notification twice).
    pub async fn run(
        &self,
        every: std::time::Duration,
        syncing: Arc<AtomicBool>,
        stop: CancellationToken,
    ) {
        if let Some(notifier) = &self.notifier {
            let active = move || syncing.load(Ordering::SeqCst);
            notifier.run(every, &self.wake, &active, stop).await;
        }
    }
}

/// Evaluates the alert rules as of yesterday (the newest usage day).
pub async fn evaluate(store: &Store, settings: &Settings) {
    let now = Utc::now();
    let as_of = now.with_timezone(&settings.sync.timezone).date_naive() - Duration::days(1);
    match crate::alerts::evaluate(store, &settings.alerts, as_of, now).await {
        Ok(summary) => tracing::info!(
            opened = summary.opened,
            resolved = summary.resolved,
            open = summary.open,
            "alert rules evaluated"
        ),
        Err(e) => tracing::error!(error = %e, "alert evaluation failed"),
    }
}

/// For one-shot commands: evaluate, then deliver before the process exits, waiting at most
/// `alerts.notify_timeout`: a receiver that hangs or keeps failing must not hold the command for its
/// whole retry schedule. What was not delivered stays due in the outbox for the next run or the daemon.
pub async fn evaluate_and_notify(store: &Store, settings: &Settings, telemetry: &Telemetry) {
    evaluate(store, settings).await;
    let delivery = Delivery::new(store, settings, telemetry);
    let budget = settings.alerts.notify_timeout;
    if tokio::time::timeout(budget, delivery.deliver_due())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = budget.as_secs_f64(),
            "alert delivery did not finish in time; the rest stays due in the outbox"
        );
    }
}

/// The daemon's after-job hook: evaluation (after the jobs that change what rules see), one gauge refresh
/// (after evaluation, since open episodes feed gsl_sims_over_threshold), and a ring for the delivery task.
/// Jobs of several accounts finish close together; what they ask for while a refresh runs is done once
/// more after it, not once per job.
pub struct DaemonHooks {
    pub store: Store,
    pub settings: Settings,
    pub delivery: Delivery,
    pub gauges: SimGauges,
    pub metrics: MetricsOptions,
    pub telemetry: Telemetry,
    pub refresh: Coalesce,
}

#[async_trait::async_trait]
impl AfterJob for DaemonHooks {
    async fn after_job(&self, report: &JobReport) {
        let evaluates = matches!(
            report.kind,
            JobKind::Inventory | JobKind::DailyFlow | JobKind::Pools
        );
        self.refresh
            .run(evaluates, |evaluates| self.refresh_all(evaluates))
            .await;
    }

    fn leases_changed(&self, held: &[String]) {
        let gauge = &self.telemetry.freshness.lease_held;
        for account in &self.settings.accounts {
            let holds = held.contains(&account.name);
            gauge
                .with_label_values(&[&account.name])
                .set(i64::from(holds));
        }
    }
}

impl DaemonHooks {
    async fn refresh_all(&self, evaluates: bool) {
        if evaluates {
            evaluate(&self.store, &self.settings).await;
        }
        if let Err(e) = self.gauges.refresh(&self.store, &self.metrics).await {
            tracing::error!(error = %e, "could not refresh the gauges");
        }
        if let Err(e) = self.telemetry.seed_from_store(&self.store).await {
            tracing::warn!(error = %e, "could not read the runs for the freshness gauges");
        }
        if let Err(e) = self.store.announce_refresh(&self.settings.instance).await {
            tracing::warn!(error = %e, "could not tell the other replicas to refresh their gauges");
        }
        if evaluates {
            self.delivery.ring();
        }
    }
}

/// Where guard passes report: the counter on /metrics, and a ring for the delivery task when a pass
/// recorded something to announce (its episodes are already in the outbox).
pub struct GuardAnnounce {
    pub telemetry: Telemetry,
    pub delivery: Delivery,
}

impl GuardObserver for GuardAnnounce {
    fn guard_action(&self, account: &str, policy: &str, action: &str, mode: &str, result: &str) {
        GuardObserver::guard_action(&self.telemetry, account, policy, action, mode, result);
    }

    fn guard_pass_finished(&self, _account: &str, announced: bool) {
        if announced {
            self.delivery.ring();
        }
    }
}

/// The watch's after-round hook: the alert rules only when a check moved a card across a quota threshold
/// (a full evaluation reads the whole fleet), the watch's gauges after every round, and a ring for the
/// delivery task when rules ran. Other replicas show the new figures at their next refresh.
pub struct WatchHooks {
    pub store: Store,
    pub settings: Settings,
    pub delivery: Delivery,
    pub gauges: SimGauges,
    pub metrics: MetricsOptions,
}

impl WatchHooks {
    /// Every warning and critical ratio in force: the global ones and the overrides'.
    fn thresholds(&self) -> Vec<f64> {
        let a = &self.settings.alerts;
        let mut t = vec![a.warning_ratio, a.critical_ratio];
        for o in &a.overrides {
            t.extend(o.warning_ratio);
            t.extend(o.critical_ratio);
        }
        t
    }
}

#[async_trait::async_trait]
impl AfterWatch for WatchHooks {
    async fn after_round(&self, _account: &str, round: &WatchRound) {
        let crossed = self.thresholds().into_iter().any(|t| round.crossed(t));
        if crossed {
            evaluate(&self.store, &self.settings).await;
        }
        if let Err(e) = self.gauges.refresh_watch(&self.store, &self.metrics).await {
            tracing::warn!(error = %e, "could not refresh the watch gauges");
        }
        if crossed {
            self.delivery.ring();
        }
    }
}

/// Runs a refresh at most once at a time; requests that arrive meanwhile are merged into one more run.
#[derive(Default)]
pub struct Coalesce {
    state: std::sync::Mutex<CoalesceState>,
}

#[derive(Default)]
struct CoalesceState {
    running: bool,
    /// A request arrived while running; `Some(evaluates)` merged over all of them.
    again: Option<bool>,
}

impl Coalesce {
    /// Runs `work(evaluates)` now, or hands the request to the run in progress and returns at once.
    pub async fn run<F, Fut>(&self, evaluates: bool, work: F)
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        {
            let mut s = self.lock();
            if s.running {
                s.again = Some(s.again.unwrap_or(false) || evaluates);
                return;
            }
            s.running = true;
        }
        let mut next = evaluates;
        loop {
            work(next).await;
            let mut s = self.lock();
            match s.again.take() {
                Some(again) => next = again,
                None => {
                    s.running = false;
                    return;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CoalesceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn requests_during_a_run_become_one_more_run_that_evaluates_if_any_asked() {
        let coalesce = Arc::new(Coalesce::default());
        let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let gate = Arc::new(Notify::new());
        let started = Arc::new(AtomicUsize::new(0));
        let work = {
            let (runs, gate, started) = (runs.clone(), gate.clone(), started.clone());
            move |evaluates: bool| {
                let (runs, gate, started) = (runs.clone(), gate.clone(), started.clone());
                async move {
                    if started.fetch_add(1, Ordering::SeqCst) == 0 {
                        gate.notified().await;
                    }
                    runs.lock().unwrap().push(evaluates);
                }
            }
        };
        let first = tokio::spawn({
            let (c, w) = (coalesce.clone(), work.clone());
            async move { c.run(false, w).await }
        });
        while started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Three more finish while the first runs: they return at once and merge into one run.
        coalesce.run(false, work.clone()).await;
        coalesce.run(true, work.clone()).await;
        coalesce.run(false, work.clone()).await;
        gate.notify_one();
        first.await.unwrap();
        assert_eq!(*runs.lock().unwrap(), vec![false, true]);
        // Idle again: the next request runs itself.
        coalesce.run(false, work).await;
        assert_eq!(runs.lock().unwrap().len(), 3);
    }
}
