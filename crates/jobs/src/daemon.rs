//! The long-running syncer: elects one active replica through a Postgres advisory lock, runs the scheduled
//! jobs while it holds the lock, catches up missed runs, and stops at a safe point on shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::{Engine, JobReport, JobRequest};
use super::schedule::{self, JobKind, JobQueue};
use super::watch::{self, AfterWatch, Clock, WatchSettings};
use gsl_store::{LeaderLock, Store};

/// What the daemon does after each job, e.g. refresh gauges and evaluate alerts. Implemented at the edge, so
/// that sync does not depend on metrics or alerts.
#[async_trait::async_trait]
pub trait AfterJob: Send + Sync {
    async fn after_job(&self, report: &JobReport);
}

/// Timings of leader election; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct ElectionTimings {
    /// How often a follower tries to take the lock.
    pub retry: Duration,
    /// How often the leader checks that its lock connection is alive.
    pub check: Duration,
}

impl Default for ElectionTimings {
    fn default() -> Self {
        Self {
            retry: Duration::from_secs(15),
            check: Duration::from_secs(10),
        }
    }
}

pub struct Daemon {
    engine: Arc<Engine>,
    store: Store,
    hooks: Arc<dyn AfterJob>,
    timings: ElectionTimings,
    leading: Arc<AtomicBool>,
    watch: Option<WatchPlan>,
}

/// The real-time watch the syncer runs beside the jobs, one loop per account (`watch::watch_account`).
pub struct WatchPlan {
    pub settings: WatchSettings,
    pub hooks: Arc<dyn AfterWatch>,
    pub clock: Clock,
}

impl Daemon {
    pub fn new(
        engine: Arc<Engine>,
        store: Store,
        hooks: Arc<dyn AfterJob>,
        timings: ElectionTimings,
    ) -> Self {
        Self {
            engine,
            store,
            hooks,
            timings,
            leading: Arc::new(AtomicBool::new(false)),
            watch: None,
        }
    }

    /// Runs the real-time watch of every account while this replica syncs.
    pub fn with_watch(mut self, plan: WatchPlan) -> Self {
        self.watch = Some(plan);
        self
    }

    /// One watch loop per account, stopped with `stop` (shutdown or lost lock).
    fn spawn_watches(
        &self,
        fence: gsl_store::Fence,
        stop: &CancellationToken,
    ) -> tokio::task::JoinSet<()> {
        let mut set = tokio::task::JoinSet::new();
        let Some(plan) = self.watch.as_ref().filter(|p| p.settings.enabled) else {
            return set;
        };
        for account in self.engine.accounts() {
            let w = watch::Watch {
                store: self.store.clone(),
                client: account.client.clone(),
                settings: plan.settings.clone(),
                hooks: plan.hooks.clone(),
                clock: plan.clock.clone(),
            };
            set.spawn(watch::watch_account(w, fence, stop.clone()));
        }
        set
    }

    /// True while this replica holds the sync lock.
    pub fn leading(&self) -> Arc<AtomicBool> {
        self.leading.clone()
    }

    /// Runs until `shutdown` is cancelled. Returns once no job is running and the lock is released.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), schedule::ScheduleError> {
        let (queue, mut rx) = JobQueue::new();
        let triggers = schedule::start_triggers(self.engine.settings(), queue.clone())?;
        while !shutdown.is_cancelled() {
            match LeaderLock::try_acquire(
                &self.store,
                self.engine.settings().leader_lock_key,
                self.engine.holder(),
            )
            .await
            {
                Ok(Some(lock)) => self.lead(lock, &queue, &mut rx, &shutdown).await,
                Ok(None) => tracing::debug!("another replica holds the sync lock"),
                Err(e) => tracing::warn!(error = %e, "could not try the sync lock"),
            }
            // A follower drops the triggers it sees: the leader runs them.
            while let Ok(kind) = rx.try_recv() {
                queue.done(kind);
            }
            tokio::select! {
                _ = tokio::time::sleep(self.timings.retry) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        triggers.shutdown().await;
        Ok(())
    }

    async fn lead(
        &self,
        lock: LeaderLock,
        queue: &JobQueue,
        rx: &mut mpsc::UnboundedReceiver<JobKind>,
        shutdown: &CancellationToken,
    ) {
        tracing::info!(
            holder = self.engine.holder(),
            "this replica is now the syncer"
        );
        self.leading.store(true, Ordering::SeqCst);
        let lost = shutdown.child_token();
        match self.store.fail_abandoned_runs(self.engine.holder()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "marked runs of a stopped syncer as failed"),
            Err(e) => tracing::warn!(error = %e, "could not mark abandoned runs"),
        }
        self.queue_missed_runs(queue).await;
        let fence = lock.fence();
        let mut watches = self.spawn_watches(fence, &lost);
        let lock = Arc::new(lock);
        let watchdog = tokio::spawn(watch_lock(lock.clone(), lost.clone(), self.timings.check));
        // Jobs run side by side, drawing on each account's one call budget (daily flow first); the queue
        // keeps any one kind from running twice at a time.
        let mut running = tokio::task::JoinSet::new();
        loop {
            let kind = tokio::select! {
                _ = lost.cancelled() => break,
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "a job task ended abnormally");
                    }
                    continue;
                }
                kind = rx.recv() => match kind { Some(k) => k, None => break },
            };
            let (engine, hooks, queue, lost) = (
                self.engine.clone(),
                self.hooks.clone(),
                queue.clone(),
                lost.clone(),
            );
            running.spawn(async move {
                let report = engine.run(kind, JobRequest::Scheduled, &fence, &lost).await;
                queue.done(kind);
                hooks.after_job(&report).await;
            });
        }
        // Stopping or lost: every job stops at its next safe point; wait for them before letting go.
        lost.cancel();
        while running.join_next().await.is_some() {}
        while watches.join_next().await.is_some() {}
        watchdog.abort();
        self.leading.store(false, Ordering::SeqCst);
        if !shutdown.is_cancelled() {
            tracing::warn!("lost the sync lock; this replica stops syncing until it wins it again");
        }
        match Arc::try_unwrap(lock) {
            Ok(lock) => lock.release().await,
            Err(_) => tracing::debug!("lock connection dropped with the watchdog"),
        }
    }

    async fn queue_missed_runs(&self, queue: &JobQueue) {
        let settings = self.engine.settings();
        let now = Utc::now();
        for kind in JobKind::ALL {
            let mut oldest = None;
            let mut any_missing = false;
            for account in self.engine.account_names() {
                match self.store.last_success(account, kind.as_str()).await {
                    Ok(Some(t)) => {
                        oldest = Some(oldest.map_or(t, |o: chrono::DateTime<Utc>| o.min(t)))
                    }
                    Ok(None) => any_missing = true,
                    Err(e) => {
                        tracing::warn!(error = %e, job = kind.as_str(), "could not read the last run")
                    }
                }
            }
            let last = if any_missing { None } else { oldest };
            if schedule::missed(kind.cron(settings), settings.timezone, now, last) {
                tracing::info!(job = kind.as_str(), "catching up a missed run");
                queue.push(kind);
            }
        }
    }
}

async fn watch_lock(lock: Arc<LeaderLock>, lost: CancellationToken, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if !lock.check().await {
            lost.cancel();
            return;
        }
    }
}
