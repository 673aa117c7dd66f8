//! The engine: runs one job for every account, each recorded in `sync_runs` and counted in metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::observe::RunObserver;
use super::progress::{Progress, ProgressSink};
use super::schedule::JobKind;
use super::settings::SyncSettings;
use gsl_client::{GslClient, GslError};
use gsl_domain::FlowPeriod;
use gsl_store::{Fence, RunOutcome, RunStatus, Store, StoreError};

/// Why a job could not do everything it meant to.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("GSL API: {0}")]
    Api(#[from] GslError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stopped before it finished (shutdown or lost leadership)")]
    Cancelled,
    #[error(transparent)]
    Invalid(#[from] crate::planner::PlanError),
}

/// What a run was asked to do beyond its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRequest {
    Scheduled,
    DailyFlow(FlowPeriod),
}

/// What one job did for one account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub api_calls: u64,
    pub items_seen: u64,
    pub inserted: u64,
    pub updated: u64,
    pub removed: u64,
    pub gap_days: Vec<NaiveDate>,
    /// Set when the job stored what it got but could not fetch everything (e.g. a drifting inventory pass).
    pub incomplete: Option<String>,
    /// Daily flow: the last day now stored for every card.
    pub complete_through: Option<NaiveDate>,
    pub details: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct AccountRun {
    pub account: String,
    pub run_id: Option<i64>,
    pub counts: Counts,
    pub error: Option<String>,
}

impl AccountRun {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.counts.incomplete.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct JobReport {
    pub kind: JobKind,
    pub runs: Vec<AccountRun>,
}

impl JobReport {
    pub fn succeeded(&self) -> bool {
        self.runs.iter().all(AccountRun::succeeded)
    }

    /// One line per failed account, for the CLI's exit message.
    pub fn failures(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| !r.succeeded())
            .map(|r| {
                let why = r
                    .error
                    .clone()
                    .or_else(|| r.counts.incomplete.clone())
                    .unwrap_or_default();
                format!("{} {}: {}", self.kind.as_str(), r.account, why)
            })
            .collect()
    }
}

/// One configured account and its client.
pub struct Account {
    pub name: String,
    pub client: GslClient,
    /// Rings when the account's inventory has merged cards (or finished), so jobs beside it that wait for
    /// new cards look at once instead of at their next poll.
    pub(crate) cards_merged: tokio::sync::watch::Sender<u64>,
}

impl Account {
    pub fn new(client: GslClient) -> Self {
        Self {
            name: client.account().to_owned(),
            client,
            cards_merged: tokio::sync::watch::Sender::new(0),
        }
    }

    pub(crate) fn ring_cards_merged(&self) {
        self.cards_merged.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The write fence of each account a run covers: accounts without one are not run (another replica
/// holds their lease).
#[derive(Debug, Clone, Default)]
pub struct Fences {
    every: Option<Fence>,
    accounts: BTreeMap<String, Fence>,
}

impl Fences {
    /// The same fence for every account (one-shot tools, tests, benches).
    pub fn every(fence: Fence) -> Self {
        Self {
            every: Some(fence),
            accounts: BTreeMap::new(),
        }
    }

    /// Only `account`, with its lease's fence.
    pub fn one(account: &str, fence: Fence) -> Self {
        Self::default().with(account, fence)
    }

    pub fn with(mut self, account: &str, fence: Fence) -> Self {
        self.accounts.insert(account.to_owned(), fence);
        self
    }

    fn of(&self, account: &str) -> Option<&Fence> {
        self.accounts.get(account).or(self.every.as_ref())
    }
}

/// Shared by the jobs of one run.
pub(crate) struct JobContext<'a> {
    pub store: &'a Store,
    pub account: &'a Account,
    /// The account's client, its calls waiting in the shared budget with this job's priority.
    pub client: GslClient,
    pub settings: &'a SyncSettings,
    pub fence: &'a Fence,
    pub cancel: &'a CancellationToken,
    pub run_id: i64,
    pub progress: &'a Progress,
    pub today: NaiveDate,
}

/// Calls a job keeps in flight: enough to use its budget while answers take up to about a second, and a
/// bound on memory when the budget is unlimited or huge.
const IN_FLIGHT_LATENCY_SECONDS: f64 = 1.0;
const IN_FLIGHT_MIN: usize = 4;
const IN_FLIGHT_MAX: usize = 64;

pub(crate) fn in_flight_for(per_second: Option<f64>) -> usize {
    let wanted = per_second.map_or(16.0, |r| (r * IN_FLIGHT_LATENCY_SECONDS).ceil());
    (wanted as usize).clamp(IN_FLIGHT_MIN, IN_FLIGHT_MAX)
}

impl JobContext<'_> {
    /// How many calls this job keeps in flight (the budget, not this bound, sets the pace).
    pub fn calls_in_flight(&self) -> usize {
        in_flight_for(self.client.budget().total_per_second())
    }

    pub fn check_cancelled(&self) -> Result<(), SyncError> {
        if self.cancel.is_cancelled() {
            Err(SyncError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Runs an API call unless the job is cancelled first; the call is dropped (no transaction is open).
    pub async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, GslError>>,
    ) -> Result<T, SyncError> {
        tokio::select! {
            r = fut => Ok(r?),
            _ = self.cancel.cancelled() => Err(SyncError::Cancelled),
        }
    }
}

pub struct Engine {
    store: Store,
    accounts: Vec<Account>,
    settings: SyncSettings,
    observer: Arc<dyn RunObserver>,
    holder: String,
    progress: Progress,
    /// A fixed "today" instead of the clock's (tests, replays).
    today: Option<NaiveDate>,
    /// Days at the start of a month during which last month is fetched again for late corrections.
    pub close_out_days: u32,
}

impl Engine {
    /// An engine over `accounts`; runs are reported to `observer`. The holder names this process in
    /// `sync_runs` (`gsl-sync:PID` until `with_holder` names the replica).
    pub fn new(
        store: Store,
        accounts: Vec<Account>,
        settings: SyncSettings,
        observer: Arc<dyn RunObserver>,
    ) -> Self {
        let holder = format!("gsl-sync:{}", std::process::id());
        Self {
            store,
            accounts,
            settings,
            observer,
            holder,
            progress: Progress::default(),
            today: None,
            close_out_days: 3,
        }
    }

    pub fn with_progress(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.progress = Progress::new(sink);
        self
    }

    /// Names this replica in `sync_runs.holder` (default: host name and process id).
    pub fn with_holder(mut self, holder: &str) -> Self {
        self.holder = holder.to_owned();
        self
    }

    /// Runs as if the carrier's "today" were `day`.
    pub fn with_today(mut self, day: NaiveDate) -> Self {
        self.today = Some(day);
        self
    }

    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The client of the account named `name`.
    pub fn client_of(&self, name: &str) -> Option<GslClient> {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.client.clone())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn account_names(&self) -> impl Iterator<Item = &str> {
        self.accounts.iter().map(|a| a.name.as_str())
    }

    /// The carrier's "today" from this process's clock, in `sync.timezone`.
    pub fn today(&self) -> NaiveDate {
        if let Some(day) = self.today {
            return day;
        }
        Utc::now()
            .with_timezone(&self.settings.timezone)
            .date_naive()
    }

    /// Runs `kind` for every account that has a fence, concurrently (each account has its own budget).
    pub async fn run(
        &self,
        kind: JobKind,
        request: JobRequest,
        fences: &Fences,
        cancel: &CancellationToken,
    ) -> JobReport {
        let fenced = self
            .accounts
            .iter()
            .filter_map(|account| Some((account, fences.of(&account.name)?)));
        let runs = futures::future::join_all(fenced.map(|(account, fence)| {
            let span = tracing::info_span!("job", account = %account.name, job = kind.as_str());
            self.run_account(kind, request, account, fence, cancel)
                .instrument(span)
        }))
        .await;
        JobReport { kind, runs }
    }

    /// Runs `kinds` side by side for every account: each account's calls share its one budget, which
    /// serves them by priority (daily flow first), so the jobs together keep the budget busy.
    pub async fn run_together(
        &self,
        kinds: &[JobKind],
        request: JobRequest,
        fences: &Fences,
        cancel: &CancellationToken,
    ) -> Vec<JobReport> {
        futures::future::join_all(
            kinds
                .iter()
                .map(|&kind| self.run(kind, request, fences, cancel)),
        )
        .await
    }

    async fn run_account(
        &self,
        kind: JobKind,
        request: JobRequest,
        account: &Account,
        fence: &Fence,
        cancel: &CancellationToken,
    ) -> AccountRun {
        let started = Utc::now();
        let clock = Instant::now();
        let run_id = match self
            .store
            .start_run(&account.name, kind.as_str(), &self.holder)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "could not record the run start");
                self.observer.run_finished(
                    &account.name,
                    kind.as_str(),
                    false,
                    started,
                    clock.elapsed(),
                );
                return AccountRun {
                    account: account.name.clone(),
                    run_id: None,
                    counts: Counts::default(),
                    error: Some(e.to_string()),
                };
            }
        };
        let ctx = JobContext {
            store: &self.store,
            account,
            client: account.client.with_priority(kind.priority()),
            settings: &self.settings,
            fence,
            cancel,
            run_id,
            progress: &self.progress,
            today: self.today(),
        };
        let result = match kind {
            JobKind::Inventory => super::inventory::run(&ctx).await,
            JobKind::DailyFlow => {
                let explicit = match request {
                    JobRequest::DailyFlow(p) => Some(p),
                    JobRequest::Scheduled => None,
                };
                super::daily_flow::run(&ctx, explicit, self.close_out_days).await
            }
            JobKind::Monthly => super::monthly::run(&ctx).await,
            JobKind::Pools => super::pools::run(&ctx).await,
        };
        let (counts, error) = match result {
            Ok(counts) => (counts, None),
            Err(e) => (Counts::default(), Some(e.to_string())),
        };
        let run = AccountRun {
            account: account.name.clone(),
            run_id: Some(run_id),
            counts,
            error,
        };
        self.finish(kind, &run, run_id, started, clock).await;
        if kind == JobKind::Inventory {
            account.ring_cards_merged();
        }
        run
    }

    async fn finish(
        &self,
        kind: JobKind,
        run: &AccountRun,
        run_id: i64,
        started: chrono::DateTime<Utc>,
        clock: Instant,
    ) {
        let c = &run.counts;
        let error = run.error.clone().or_else(|| c.incomplete.clone());
        let outcome = RunOutcome {
            status: if error.is_none() {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            },
            api_calls: c.api_calls,
            items_seen: c.items_seen,
            rows_inserted: c.inserted,
            rows_updated: c.updated,
            rows_removed: c.removed,
            gap_days: c.gap_days.clone(),
            details: serde_json::Value::Object(c.details.clone()),
            error: error.clone(),
            data_complete_through: c.complete_through.filter(|_| error.is_none()),
        };
        if let Err(e) = self.store.finish_run(run_id, &outcome).await {
            tracing::error!(run_id, error = %e, "could not record the run's end");
        }
        let elapsed = clock.elapsed();
        self.observer.run_finished(
            &run.account,
            kind.as_str(),
            error.is_none(),
            started,
            elapsed,
        );
        match &error {
            None => tracing::info!(
                run_id,
                seconds = elapsed.as_secs_f64(),
                api_calls = c.api_calls,
                items = c.items_seen,
                inserted = c.inserted,
                updated = c.updated,
                removed = c.removed,
                "sync run succeeded"
            ),
            Some(e) => tracing::error!(
                run_id, seconds = elapsed.as_secs_f64(), error = %e,
                "sync run failed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_flight_follow_the_budget() {
        assert_eq!(in_flight_for(Some(5.0)), 5);
        assert_eq!(in_flight_for(Some(1.0)), IN_FLIGHT_MIN);
        assert_eq!(in_flight_for(Some(100.0)), 64);
        assert_eq!(in_flight_for(Some(40.0)), 40);
        assert_eq!(in_flight_for(None), 16);
    }
}
