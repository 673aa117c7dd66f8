//! Sync jobs: the only module that wires the GSL client to the store.
//!
//! `engine` runs a job for every account and records it; `inventory`, `daily_flow`, `monthly` and `pools`
//! are the jobs; `planner` decides the daily-flow calls; `schedule` and `daemon` run jobs on time on exactly
//! one replica.

pub mod planner;
pub mod progress;
pub mod schedule;
