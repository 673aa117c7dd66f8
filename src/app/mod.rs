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
mod hooks;
mod sync_cmd;
pub mod temp_pg;

/// How a command ended, mapped to docs/reference.md's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad usage or configuration: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The job failed: exit 1.
    #[error("{0}")]
    Failed(String),
}

impl From<crate::config::ConfigError> for AppError {
    fn from(e: crate::config::ConfigError) -> Self {
        AppError::Usage(format!("configuration: {e}"))
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        AppError::Failed(e.to_string())
    }
}

pub async fn main(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(AppError::Usage(msg)) => {
            eprintln!("gsl-sync: {msg}");
            ExitCode::from(2)
        }
        Err(AppError::Failed(msg)) => {
            eprintln!("gsl-sync: {msg}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), AppError> {
    if let Command::Config(ConfigCommand::Example) = cli.command {
        print!("{EXAMPLE_TOML}");
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init(settings.log.format);
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
        Command::Simulate(args) => crate::simulator::run_cli(&args)
            .await
            .map_err(|e| AppError::Failed(e.to_string())),
        Command::Sync(cmd) => {
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
            .await
            .map_err(|e| match e {
                crate::report::ReportError::BadParameter(_) => AppError::Usage(e.to_string()),
                other => AppError::Failed(other.to_string()),
            })
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
                .map_err(|e| AppError::Usage(format!("accounts.{}: {e}", a.name)))
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
    Store::connect(&settings.database.url, settings.database.max_connections)
        .await
        .map_err(|e| AppError::Failed(format!("database: {e}")))
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
