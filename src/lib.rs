//! gsl-sync: pages through every SIM card of Huawei Cloud Global SIM Link accounts, keeps their state and
//! daily usage in Postgres, serves Prometheus gauges and raises quota alerts.
//!
//! Data flow: `gsl` (HTTP client) → `sync` (jobs) → `store` (Postgres) → `metrics`, `alerts`, `report`
//! → `http`. `config` and `cli` sit at the edge; `simulator` is a stand-alone GSL imitation for tests
//! and the demo, sharing no types with the client.

pub mod alerts;
pub mod app;
pub mod cli;
pub mod config;
pub mod gsl;
pub mod http;
pub mod metrics;
pub mod report;
pub mod simulator;
pub mod store;
pub mod sync;
pub mod telemetry;
