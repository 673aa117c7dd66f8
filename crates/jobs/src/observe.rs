//! `RunObserver`: how a finished job run is reported to whoever counts runs (the binary's metrics),
//! so this crate knows nothing of Prometheus.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Told once per account and job run, whatever its outcome.
pub trait RunObserver: Send + Sync {
    fn run_finished(
        &self,
        account: &str,
        job: &str,
        succeeded: bool,
        started: DateTime<Utc>,
        duration: Duration,
    );
}

/// Counts nothing: for callers that do not export metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopRunObserver;

impl RunObserver for NoopRunObserver {
    fn run_finished(&self, _: &str, _: &str, _: bool, _: DateTime<Utc>, _: Duration) {}
}
