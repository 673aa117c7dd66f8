//! The jobs of one account whose lease this replica holds: its own queue (each job kind at most once at a
//! time), its missed runs caught up when the lease is taken, and a stop that waits for a safe point.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::daemon::AfterJob;
use super::engine::{Engine, Fences, JobRequest};
use super::guard::GuardRunner;
use super::schedule::{self, JobKind, JobQueue};
use gsl_store::{Fence, Store};

pub(crate) struct Parts {
    pub engine: Arc<Engine>,
    pub store: Store,
    pub hooks: Arc<dyn AfterJob>,
    pub guard: Option<Arc<GuardRunner>>,
    pub watch: Option<Arc<super::daemon::WatchPlan>>,
}

pub(crate) struct Worker {
    queue: JobQueue,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts syncing `account` under its lease: runs a stopped holder left behind are marked failed
    /// (nobody else can be running them now), and missed runs are queued.
    pub async fn start(parts: Parts, account: &str, fence: Fence) -> Self {
        let holder = parts.engine.holder().to_owned();
        match parts.store.fail_abandoned_runs(&[account], &holder).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                account,
                runs = n,
                "marked runs of a stopped syncer as failed"
            ),
            Err(e) => tracing::warn!(account, error = %e, "could not mark abandoned runs"),
        }
        let (queue, rx) = JobQueue::new();
        queue_missed_runs(&parts, account, &queue).await;
        let cancel = CancellationToken::new();
        let span = tracing::info_span!("lease", account = %account);
        let task = tokio::spawn(
            run(
                parts,
                account.to_owned(),
                fence,
                Fences::one(account, fence),
                queue.clone(),
                rx,
                cancel.clone(),
            )
            .instrument(span),
        );
        Self {
            queue,
            cancel,
            task,
        }
    }

    pub fn push(&self, kind: JobKind) {
        self.queue.push(kind);
    }

    /// Nothing queued or running: the lease can go without stopping a job.
    pub fn idle(&self) -> bool {
        self.queue.is_idle()
    }

    /// Stops the account's jobs at their next safe point and waits for them.
    pub async fn stop(self) {
        self.cancel.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "an account's job loop ended abnormally");
        }
    }
}

async fn run(
    parts: Parts,
    account: String,
    fence: Fence,
    fences: Fences,
    queue: JobQueue,
    mut rx: mpsc::UnboundedReceiver<JobKind>,
    cancel: CancellationToken,
) {
    // Jobs run side by side, drawing on the account's one call budget (daily flow first); the queue keeps
    // any one kind from running twice at a time.
    let mut running = tokio::task::JoinSet::new();
    // The guard's passes over this account: on its own tick, and once the night's figures are in.
    let guard_wake = Arc::new(tokio::sync::Notify::new());
    if let Some(guard) = parts.guard.clone() {
        let (engine, store, wake, cancel) = (
            parts.engine.clone(),
            parts.store.clone(),
            guard_wake.clone(),
            cancel.clone(),
        );
        let account = account.clone();
        running.spawn(
            async move {
                guard
                    .run_account(&engine, &store, &account, &fence, &wake, &cancel)
                    .await
            }
            .in_current_span(),
        );
    }
    if let Some(plan) = parts.watch.clone() {
        if let Some(client) = parts.engine.client_of(&account) {
            let w = super::watch::Watch {
                store: parts.store.clone(),
                client,
                settings: plan.settings.clone(),
                hooks: plan.hooks.clone(),
                clock: plan.clock.clone(),
            };
            running.spawn(super::watch::watch_account(w, fence, cancel.clone()).in_current_span());
        }
    }
    loop {
        let kind = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a job task ended abnormally");
                }
                continue;
            }
            kind = rx.recv() => match kind { Some(k) => k, None => break },
        };
        let (engine, hooks, queue, fences, cancel, guard_wake) = (
            parts.engine.clone(),
            parts.hooks.clone(),
            queue.clone(),
            fences.clone(),
            cancel.clone(),
            guard_wake.clone(),
        );
        running.spawn(
            async move {
                let report = engine
                    .run(kind, JobRequest::Scheduled, &fences, &cancel)
                    .await;
                queue.done(kind);
                hooks.after_job(&report).await;
                // The night's figures are in and the alerts evaluated: the guard acts on them now.
                if kind == JobKind::DailyFlow {
                    guard_wake.notify_one();
                }
            }
            .in_current_span(),
        );
    }
    cancel.cancel();
    while running.join_next().await.is_some() {}
}

async fn queue_missed_runs(parts: &Parts, account: &str, queue: &JobQueue) {
    let settings = parts.engine.settings();
    let now = Utc::now();
    for kind in JobKind::ALL {
        let last = match parts.store.last_success(account, kind.as_str()).await {
            Ok(last) => last,
            Err(e) => {
                tracing::warn!(account, job = kind.as_str(), error = %e, "could not read the last run");
                continue;
            }
        };
        if schedule::missed(kind.cron(settings), settings.timezone, now, last) {
            tracing::info!(account, job = kind.as_str(), "catching up a missed run");
            queue.push(kind);
        }
    }
}
