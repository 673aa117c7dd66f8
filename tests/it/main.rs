//! The integration test binary: one binary, one module per area, against real Postgres and the simulator.

mod alerts;
mod cli;
mod client;
mod delivery;
mod deploy;
mod e2e;
mod faults;
mod guard;
mod helpers;
mod http;
mod leases;
mod metrics;
mod replicas;
mod report;
mod resilience;
mod simulator;
mod status;
mod sync;
mod tidy;
mod tls;
mod watch;
