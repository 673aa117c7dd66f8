//! gsl-sync: pages through every SIM card of Huawei Cloud Global SIM Link accounts, keeps their state and
//! daily usage in Postgres, serves Prometheus gauges and raises quota alerts.
//!
//! This package is the edge: configuration, the command line, HTTP, the daemon's own metrics and the
//! commands that wire the workspace's crates together. The crates themselves are re-exported under the
//! names the code map in ARCHITECTURE.md uses.

pub use gsl_alerts as alerts;
pub use gsl_client as gsl;
pub use gsl_domain as domain;
pub use gsl_jobs as sync;
pub use gsl_metrics as metrics;
pub use gsl_report as report;
pub use gsl_simulator as simulator;
pub use gsl_store as store;

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod telemetry;
