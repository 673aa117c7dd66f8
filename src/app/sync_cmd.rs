//! `gsl-sync sync …`: one job (or all of them) for every configured account, under their sync leases.

use tokio_util::sync::CancellationToken;

use super::AppError;
use crate::cli::SyncCommand;
use crate::config::Settings;
use crate::domain::{FlowPeriod, YearMonth};
use crate::store::{Leases, Store};
use crate::sync::{Engine, Fences, JobKind, JobReport, JobRequest};
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

/// Runs the jobs holding every account's sync lease, so a one-shot sync never spends GSL's budget twice
/// beside a daemon.
pub async fn run_jobs(
    store: &Store,
    engine: &Engine,
    settings: &Settings,
    cmd: &SyncCommand,
    request: JobRequest,
    cancel: &CancellationToken,
) -> Result<Vec<JobReport>, AppError> {
    let leases = Leases::open(store, settings.sync.leader_lock_key, engine.holder()).await?;
    let mut fences = Fences::default();
    let mut busy = Vec::new();
    for account in engine.account_names() {
        match leases.try_take(account).await? {
            Some(fence) => fences = fences.with(account, fence),
            None => busy.push(account.to_owned()),
        }
    }
    if !busy.is_empty() {
        leases.close().await;
        return Err(AppError::LockHeld(busy));
    }
    // Holding the leases, no other syncer runs these accounts: runs left 'running' were killed.
    let held = leases.held();
    let held: Vec<&str> = held.iter().map(String::as_str).collect();
    if let Ok(n @ 1..) = store.fail_abandoned_runs(&held, engine.holder()).await {
        tracing::warn!(runs = n, "marked runs of a killed syncer as failed");
    }
    let reports = engine
        .run_together(&kinds_of(cmd), request, &fences, cancel)
        .await;
    leases.close().await;
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
