//! The long-running syncer: elects one active replica through a Postgres advisory lock, runs the scheduled
//! jobs while it holds the lock, catches up missed runs, and stops at a safe point on shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::{Engine, JobReport, JobRequest};
use super::guard::GuardRunner;
use super::schedule::{self, JobKind, JobQueue};
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
    guard: Option<Arc<GuardRunner>>,
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
            guard: None,
        }
    }

    /// Runs guard passes after each daily-flow job and every `guard.interval`.
    pub fn with_guard(mut self, guard: GuardRunner) -> Self {
        self.guard = Some(Arc::new(guard));
        self
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
        let lock = Arc::new(lock);
        let watchdog = tokio::spawn(watch_lock(lock.clone(), lost.clone(), self.timings.check));
        // Jobs run side by side, drawing on each account's one call budget (daily flow first); the queue
        // keeps any one kind from running twice at a time.
        let mut running = tokio::task::JoinSet::new();
        let mut guard_tick = self
            .guard
            .as_ref()
            .map(|g| tokio::time::interval(g.settings.interval));
        loop {
            let kind = tokio::select! {
                _ = lost.cancelled() => break,
                _ = tick(&mut guard_tick) => {
                    if let Some(guard) = self.guard.clone() {
                        let (engine, store, lost) = (self.engine.clone(), self.store.clone(), lost.clone());
                        running.spawn(async move { guard.pass(&engine, &store, &fence, &lost).await });
                    }
                    continue;
                }
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
            let (guard, store) = (self.guard.clone(), self.store.clone());
            running.spawn(async move {
                let report = engine.run(kind, JobRequest::Scheduled, &fence, &lost).await;
                queue.done(kind);
                hooks.after_job(&report).await;
                // The night's figures are in and the alerts evaluated: the guard acts on them now.
                if let (Some(guard), JobKind::DailyFlow) = (guard, kind) {
                    guard.pass(&engine, &store, &fence, &lost).await;
                }
            });
        }
        // Stopping or lost: every job stops at its next safe point; wait for them before letting go.
        lost.cancel();
        while running.join_next().await.is_some() {}
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

/// The guard's next tick, or never when no guard runs.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
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
