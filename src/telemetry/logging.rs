//! Logging set-up: tracing with text or JSON output; `RUST_LOG` sets the filter.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// The default filter: our lifecycle at INFO, dependencies only when they warn (sqlx's notices about
/// `CREATE … IF NOT EXISTS` and the scheduler's own INFO lines are noise to an operator).
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// The demo's default: its own progress display says what happens, so only warnings interleave with it.
pub const DEMO_FILTER: &str = "warn";

/// Installs the global subscriber once; later calls (tests) are ignored. Colour only on a terminal.
/// `default_filter` applies unless `RUST_LOG` is set.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
