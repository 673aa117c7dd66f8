//! Metrics: the daemon's own counters and histograms (`daemon`), and the pre-rendered per-SIM store.

pub mod daemon;

pub use daemon::Telemetry;
