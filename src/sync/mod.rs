//! Sync jobs: the only module that wires the GSL client to the store.

pub mod planner;
pub mod schedule;
