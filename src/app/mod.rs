//! The edge: turns a parsed command line and the configuration into running jobs, and errors into exit codes.

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{Settings, EXAMPLE_TOML};
use crate::store::Store;

/// How a command ended, mapped to CONTRACT.md's exit codes.
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
        Command::Config(ConfigCommand::Check) => {
            print!("{}", settings.to_redacted_toml());
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => unreachable_example(),
        Command::Migrate => {
            let store =
                Store::connect(&settings.database.url, settings.database.max_connections).await?;
            store.migrate().await?;
            eprintln!("gsl-sync: migrations applied");
            Ok(())
        }
        Command::Report(cmd) => {
            let store =
                Store::connect(&settings.database.url, settings.database.max_connections).await?;
            let mut out = std::io::stdout().lock();
            crate::report::run_report(&store, &cmd, settings.sync.timezone, &mut out)
                .await
                .map_err(|e| match e {
                    crate::report::ReportError::BadParameter(_) => AppError::Usage(e.to_string()),
                    other => AppError::Failed(other.to_string()),
                })
        }
        other => Err(AppError::Usage(format!(
            "{} is not yet implemented",
            command_name(&other)
        ))),
    }
}

fn unreachable_example() -> Result<(), AppError> {
    print!("{EXAMPLE_TOML}");
    Ok(())
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Run => "run",
        Command::Sync(_) => "sync",
        Command::Migrate => "migrate",
        Command::Simulate(_) => "simulate",
        Command::Demo(_) => "demo",
        Command::Report(_) => "report",
        Command::Config(_) => "config",
    }
}
