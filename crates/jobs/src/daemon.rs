//! The long-running syncer. Each replica holds a fair share of the accounts through per-account leases
//! (Postgres advisory locks), runs the scheduled jobs of the accounts it holds, catches up their missed
//! runs, and stops at a safe point on shutdown. One more lock picks the replica that delivers alerts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::{Engine, JobReport};
use super::guard::GuardRunner;
use super::schedule::{self, JobKind, JobQueue};
use super::watch::{AfterWatch, Clock, WatchSettings};
use super::worker::Worker;
use gsl_store::{fair_share, LeaderLock, Leases, Store};

/// What the daemon does after each job (refresh gauges, evaluate alerts) and when its leases change.
/// Implemented at the edge, so that sync does not depend on metrics or alerts.
#[async_trait::async_trait]
pub trait AfterJob: Send + Sync {
    async fn after_job(&self, report: &JobReport);

    /// The accounts this replica syncs now.
    fn leases_changed(&self, _held: &[String]) {}
}

/// Timings of the lease loop; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct ElectionTimings {
    /// How often a replica balances its leases (takes free accounts, gives back more than its share).
    /// A dead replica's accounts are taken over within about one period.
    pub retry: Duration,
    /// How often the lease connection is checked between balances.
    pub check: Duration,
}

impl Default for ElectionTimings {
    fn default() -> Self {
        Self {
            retry: Duration::from_secs(5),
            check: Duration::from_secs(5),
        }
    }
}

pub struct Daemon {
    engine: Arc<Engine>,
    store: Store,
    hooks: Arc<dyn AfterJob>,
    timings: ElectionTimings,
    syncing: Arc<AtomicBool>,
    delivering: Arc<AtomicBool>,
    guard: Option<Arc<GuardRunner>>,
    watch: Option<Arc<WatchPlan>>,
}

/// The real-time watch each held account runs beside its jobs (`watch::watch_account`).
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
            syncing: Arc::new(AtomicBool::new(false)),
            delivering: Arc::new(AtomicBool::new(false)),
            guard: None,
            watch: None,
        }
    }

    /// Runs guard passes over each held account after its daily-flow job and every `guard.interval`.
    pub fn with_guard(mut self, guard: GuardRunner) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// Runs the real-time watch of each account while this replica holds its lease.
    pub fn with_watch(mut self, plan: WatchPlan) -> Self {
        self.watch = Some(plan).filter(|p| p.settings.enabled).map(Arc::new);
        self
    }

    /// True while this replica holds at least one account's lease.
    pub fn leading(&self) -> Arc<AtomicBool> {
        self.syncing.clone()
    }

    /// True while this replica is the one that delivers alert notifications.
    pub fn delivering(&self) -> Arc<AtomicBool> {
        self.delivering.clone()
    }

    /// Runs until `shutdown` is cancelled. Returns once no job is running and every lease is released.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), schedule::ScheduleError> {
        let (queue, mut rx) = JobQueue::new();
        let triggers = schedule::start_triggers(self.engine.settings(), queue.clone())?;
        while !shutdown.is_cancelled() {
            let key = self.engine.settings().leader_lock_key;
            match Leases::open(&self.store, key, self.engine.holder()).await {
                Ok(leases) => {
                    let held = Held::new(&self, Arc::new(leases));
                    held.run(&queue, &mut rx, &shutdown).await;
                }
                Err(e) => tracing::warn!(error = %e, "could not open the lease connection"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.timings.retry) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        triggers.shutdown().await;
        Ok(())
    }
}

/// One lease connection's life: the accounts held on it and their workers.
struct Held<'a> {
    daemon: &'a Daemon,
    leases: Arc<Leases>,
    workers: BTreeMap<String, Worker>,
    delivery: Option<LeaderLock>,
}

impl<'a> Held<'a> {
    fn new(daemon: &'a Daemon, leases: Arc<Leases>) -> Self {
        Self {
            daemon,
            leases,
            workers: BTreeMap::new(),
            delivery: None,
        }
    }

    async fn run(
        mut self,
        queue: &JobQueue,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<JobKind>,
        shutdown: &CancellationToken,
    ) {
        let timings = self.daemon.timings;
        // The first balance waits one period, so replicas that start together count each other first.
        let mut balance =
            tokio::time::interval_at(tokio::time::Instant::now() + timings.retry, timings.retry);
        let mut check = tokio::time::interval(timings.check);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = balance.tick() => {
                    if let Err(e) = self.balance().await {
                        tracing::warn!(error = %e, "could not balance the account leases");
                    }
                    self.hold_delivery().await;
                }
                _ = check.tick() => {
                    if !self.leases.alive().await {
                        tracing::warn!("lost the lease connection; this replica stops syncing until it reconnects");
                        break;
                    }
                }
                Some(kind) = rx.recv() => {
                    // Triggers fire for every account; each worker runs its own.
                    for worker in self.workers.values() {
                        worker.push(kind);
                    }
                    queue.done(kind);
                }
            }
        }
        self.stop_all().await;
    }

    /// Takes free accounts up to this replica's fair share, and gives back idle ones beyond it.
    async fn balance(&mut self) -> gsl_store::Result<()> {
        let engine = &self.daemon.engine;
        let accounts: Vec<String> = engine.account_names().map(str::to_owned).collect();
        let share = fair_share(accounts.len(), self.leases.replicas().await?);
        let before = self.workers.len();
        for account in rotated(&accounts, engine.holder()) {
            if self.workers.len() >= share {
                break;
            }
            if self.workers.contains_key(&account) {
                continue;
            }
            if let Some(fence) = self.leases.try_take(&account).await? {
                tracing::info!(account = %account, "took the account's sync lease");
                let worker = Worker::start(self.daemon.worker_parts(), &account, fence).await;
                self.workers.insert(account, worker);
            }
        }
        let idle: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.idle())
            .map(|(a, _)| a.clone())
            .collect();
        for account in idle
            .into_iter()
            .take(self.workers.len().saturating_sub(share))
        {
            if let Some(worker) = self.workers.remove(&account) {
                worker.stop().await;
            }
            self.leases.release(&account).await?;
            tracing::info!(account = %account, "gave the account's sync lease back for another replica");
        }
        if self.workers.len() != before || before == 0 {
            self.publish();
        }
        Ok(())
    }

    /// One replica delivers notifications, so receivers hear each alert once.
    async fn hold_delivery(&mut self) {
        if let Some(lock) = &self.delivery {
            if lock.check().await {
                return;
            }
            self.delivery = None;
        }
        let d = self.daemon;
        let key = d.engine.settings().leader_lock_key;
        match LeaderLock::try_acquire(&d.store, key, d.engine.holder()).await {
            Ok(lock) => self.delivery = lock,
            Err(e) => tracing::warn!(error = %e, "could not try the delivery lock"),
        }
        d.delivering
            .store(self.delivery.is_some(), Ordering::SeqCst);
    }

    fn publish(&self) {
        let held: Vec<String> = self.workers.keys().cloned().collect();
        self.daemon
            .syncing
            .store(!held.is_empty(), Ordering::SeqCst);
        self.daemon.hooks.leases_changed(&held);
    }

    /// Stopping or lost: every job stops at its next safe point; the leases go only after that.
    async fn stop_all(mut self) {
        let workers = std::mem::take(&mut self.workers);
        futures::future::join_all(workers.into_values().map(Worker::stop)).await;
        self.publish();
        if let Some(lock) = self.delivery.take() {
            lock.release().await;
        }
        self.daemon.delivering.store(false, Ordering::SeqCst);
        if let Ok(leases) = Arc::try_unwrap(self.leases) {
            leases.close().await;
        }
    }
}

impl Daemon {
    fn worker_parts(&self) -> super::worker::Parts {
        super::worker::Parts {
            engine: self.engine.clone(),
            store: self.store.clone(),
            hooks: self.hooks.clone(),
            guard: self.guard.clone(),
            watch: self.watch.clone(),
        }
    }
}

/// The accounts in an order that starts at a place of this replica's own, so replicas that balance at
/// the same moment mostly try different accounts first.
fn rotated(accounts: &[String], holder: &str) -> Vec<String> {
    if accounts.is_empty() {
        return Vec::new();
    }
    let start = holder.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    }) % accounts.len();
    accounts[start..]
        .iter()
        .chain(&accounts[..start])
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_is_tried_once_from_the_holders_place() {
        let accounts: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        let order = rotated(&accounts, "replica-7");
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, accounts);
        assert!(rotated(&[], "x").is_empty());
        let starts: std::collections::BTreeSet<String> = (0..20)
            .map(|i| rotated(&accounts, &format!("replica-{i}"))[0].clone())
            .collect();
        assert!(starts.len() > 1, "holders start at different accounts");
    }
}
