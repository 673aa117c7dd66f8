//! `SyncSettings`: how the jobs page, batch, retry, schedule and keep data. Built by the binary's
//! configuration; this crate never reads files or the environment.

use std::time::Duration;

use chrono_tz::Tz;

/// The validated `[sync]` section.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub timezone: Tz,
    pub page_size: u32,
    pub daily_flow_batch_size: usize,
    pub monthly_batch_size: usize,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub inventory_schedule: String,
    pub daily_flow_schedule: String,
    pub monthly_schedule: String,
    pub pools_schedule: String,
    pub retention_days: u32,
    pub leader_lock_key: i64,
    pub shutdown_grace: Duration,
}
