//! `gsl-sync sync …`: one job (or all of them) for every configured account, under the sync lock.

use tokio_util::sync::CancellationToken;

use super::AppError;
use crate::cli::SyncCommand;
use crate::config::Settings;
use crate::domain::{FlowPeriod, YearMonth};
use crate::store::{LeaderLock, Store};
use crate::sync::{Engine, JobKind, JobReport, JobRequest};
use crate::telemetry::Telemetry;

/// What can be checked without a connection: there are accounts to sync, and the arguments are valid.
pub fn check(settings: &Settings, cmd: &SyncCommand) -> Result<JobRequest, AppError> {
    if settings.accounts.is_empty() {
        return Err(AppError::Usage(
            "configuration: no [accounts.NAME] table: nothing to sync (see `gsl-sync config example`)"
                .into(),
        ));
    }
    request_of(cmd)
}

pub async fn run(settings: &Settings, cmd: &SyncCommand) -> Result<(), AppError> {
    let request = check(settings, cmd)?;
    let store = super::connect(settings).await?;
    let telemetry = Telemetry::new();
    let engine = super::engine(store.clone(), settings, &telemetry)?;
    let cancel = CancellationToken::new();
    super::cancel_on_signal(cancel.clone());
    let reports = run_jobs(&store, &engine, settings, cmd, request, &cancel).await?;
    if let SyncCommand::All = cmd {
        super::hooks::evaluate_and_notify(&store, settings, &Telemetry::new()).await;
    }
    // Running daemons serve gauges: tell them the data moved.
    if let Err(e) = store.announce_refresh(&settings.instance).await {
        tracing::warn!(error = %e, "could not tell running daemons to refresh their gauges");
    }
    let failures: Vec<String> = reports.iter().flat_map(JobReport::failures).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AppError::JobsFailed(failures))
    }
}

/// Runs the jobs holding the sync lock, so a one-shot sync never spends GSL's budget twice beside a daemon.
pub async fn run_jobs(
    store: &Store,
    engine: &Engine,
    settings: &Settings,
    cmd: &SyncCommand,
    request: JobRequest,
    cancel: &CancellationToken,
) -> Result<Vec<JobReport>, AppError> {
    let lock = LeaderLock::try_acquire(store, settings.sync.leader_lock_key, engine.holder())
        .await?
        .ok_or(AppError::LockHeld)?;
    // Holding the lock, no other syncer runs: runs left 'running' were killed.
    if let Ok(n @ 1..) = store.fail_abandoned_runs(engine.holder()).await {
        tracing::warn!(runs = n, "marked runs of a killed syncer as failed");
    }
    let fence = lock.fence();
    let reports = engine
        .run_together(&kinds_of(cmd), request, &fence, cancel)
        .await;
    lock.release().await;
    Ok(reports)
}

fn kinds_of(cmd: &SyncCommand) -> Vec<JobKind> {
    match cmd {
        SyncCommand::Inventory => vec![JobKind::Inventory],
        SyncCommand::DailyFlow { .. } => vec![JobKind::DailyFlow],
        SyncCommand::Monthly => vec![JobKind::Monthly],
        SyncCommand::Pools => vec![JobKind::Pools],
        SyncCommand::All => JobKind::ALL.to_vec(),
    }
}

fn request_of(cmd: &SyncCommand) -> Result<JobRequest, AppError> {
    match cmd {
        SyncCommand::DailyFlow { date: Some(d), .. } => {
            Ok(JobRequest::DailyFlow(FlowPeriod::Date(*d)))
        }
        SyncCommand::DailyFlow { month: Some(m), .. } => m
            .parse::<YearMonth>()
            .ok()
            .filter(|_| m.len() == 7)
            .map(|ym| JobRequest::DailyFlow(FlowPeriod::Month(ym)))
            .ok_or_else(|| AppError::Usage(format!("--month {m:?} must look like YYYY-MM"))),
        _ => Ok(JobRequest::Scheduled),
    }
}
