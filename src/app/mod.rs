//! The edge: turns a parsed command line and the configuration into running jobs, and errors into exit codes.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{Settings, EXAMPLE_TOML};
use crate::gsl::{CallObserver, GslClient};
use crate::store::Store;
use crate::sync::{Account, Engine};
use crate::telemetry::Telemetry;

mod daemon;
mod demo;
mod follow;
mod guard_cmd;
mod hooks;
mod progress;
mod sim_cmd;
mod sync_cmd;
pub mod temp_pg;

/// How a command failed; `exit_code` maps it to docs/reference.md's exit codes (2 = fix the invocation or
/// the configuration, 1 = the work failed).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("accounts.{account}: {source}")]
    Client {
        account: String,
        source: crate::gsl::GslError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Schedule(#[from] crate::sync::schedule::ScheduleError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("gauges: {0}")]
    Metrics(#[from] crate::metrics::MetricsError),
    #[error(transparent)]
    Simulator(#[from] crate::simulator::SimulatorError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("another gsl-sync holds the sync lease of {} (a daemon is syncing); try again later", .0.join(", "))]
    LockHeld(Vec<String>),
    #[error("{}", .0.join("; "))]
    JobsFailed(Vec<String>),
    #[error("{0}")]
    Demo(String),
    /// A carrier action refused, not confirmed or not sent.
    #[error("{0}")]
    Action(String),
}

impl AppError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Config(_) | AppError::Usage(_) | AppError::Client { .. } => 2,
            AppError::Report(crate::report::ReportError::BadParameter(_)) => 2,
            _ => 1,
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
        let what = what.into();
        move |source| AppError::Io { what, source }
    }
}

pub async fn main(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gsl-sync: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), AppError> {
    if let Command::Config(ConfigCommand::Example) = cli.command {
        print!("{EXAMPLE_TOML}");
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    let default_filter = match cli.command {
        Command::Demo(_) => crate::telemetry::DEMO_FILTER,
        _ => crate::telemetry::DEFAULT_FILTER,
    };
    crate::telemetry::init(settings.log.format, default_filter);
    match cli.command {
        Command::Config(_) => {
            print!("{}", settings.to_redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            connect(&settings).await?.migrate().await?;
            eprintln!("gsl-sync: migrations applied");
            Ok(())
        }
        Command::Simulate(args) => Ok(crate::simulator::run_cli(&args).await?),
        Command::Sync(cmd) => {
            // Accounts and arguments first: a command that cannot run must not create a database.
            sync_cmd::check(&settings, &cmd)?;
            let store = connect(&settings).await?;
            store.migrate().await?;
            sync_cmd::run(&settings, &cmd).await
        }
        Command::Run => daemon::run(settings).await,
        Command::Demo(args) => {
            let explicit = settings.database_explicit;
            demo::run(settings, &args, explicit).await
        }
        Command::Report(cmd) => {
            let store = connect(&settings).await?;
            let mut out = std::io::stdout().lock();
            crate::report::run_report(
                &store,
                &cmd.into_request(),
                settings.sync.timezone,
                &mut out,
            )
            .await?;
            Ok(())
        }
        Command::Sim(cmd) => sim_cmd::run(&settings, &cmd).await,
        Command::Guard(cmd) => {
            let store = connect(&settings).await?;
            store.migrate().await?;
            guard_cmd::run(&settings, &store, &cmd).await
        }
    }
}

/// An engine over every configured account, reporting API calls and runs into `telemetry`.
pub fn engine(
    store: Store,
    settings: &Settings,
    telemetry: &Telemetry,
) -> Result<Engine, AppError> {
    let calls: Arc<dyn CallObserver> = Arc::new(telemetry.clone());
    let accounts = settings
        .accounts
        .iter()
        .map(|a| {
            GslClient::new(a.client_settings(&settings.sync), calls.clone())
                .map(Account::new)
                .map_err(|source| AppError::Client {
                    account: a.name.clone(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Engine::new(
        store,
        accounts,
        settings.sync.clone(),
        Arc::new(telemetry.clone()),
    )
    .with_holder(&settings.instance))
}

/// Connects to the configured database (creating it when missing and allowed).
pub(crate) async fn connect(settings: &Settings) -> Result<Store, AppError> {
    Ok(Store::connect(&settings.database.url, settings.database.max_connections).await?)
}

/// Cancels `token` on SIGINT or SIGTERM, so jobs stop at a safe point.
pub(crate) fn cancel_on_signal(token: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stop requested: finishing at the next safe point");
        token.cancel();
    });
}
