//! The configuration as the layers give it: every key of `config/default.toml`, plain strings and numbers.
//! `config check` prints this form (secrets redacted) through serde, so its output reads back as TOML.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::redact::{redact_url, REDACTED};
use gsl_alerts::ThresholdOverride;
use gsl_domain::PoolId;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    pub(super) database: RawDatabase,
    #[serde(default)]
    pub(super) accounts: BTreeMap<String, RawAccount>,
    pub(super) sync: RawSync,
    pub(super) http: RawHttp,
    pub(super) metrics: RawMetrics,
    pub(super) alerts: RawAlerts,
    pub(super) guard: RawGuard,
    pub(super) log: RawLog,
    pub(super) watch: RawWatch,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) url: String,
    pub(super) max_connections: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    #[serde(default = "default_endpoint")]
    pub(super) endpoint: String,
    #[serde(default = "default_auth")]
    pub(super) auth: String,
    #[serde(default)]
    pub(super) token: String,
    #[serde(default = "default_iam_endpoint")]
    pub(super) iam_endpoint: String,
    #[serde(default)]
    pub(super) domain: String,
    #[serde(default)]
    pub(super) user: String,
    #[serde(default)]
    pub(super) password: String,
    #[serde(default = "default_project")]
    pub(super) project: String,
    #[serde(default)]
    pub(super) access_key: String,
    #[serde(default)]
    pub(super) secret_key: String,
    #[serde(default)]
    pub(super) project_id: String,
    #[serde(default = "default_list_rate")]
    pub(super) list_rate_per_second: f64,
    #[serde(default = "default_total_rate")]
    pub(super) total_rate_per_second: f64,
}

fn default_endpoint() -> String {
    "https://gsl.cn-north-4.myhuaweicloud.com".into()
}
fn default_iam_endpoint() -> String {
    "https://iam.cn-north-4.myhuaweicloud.com".into()
}
fn default_auth() -> String {
    "password".into()
}
fn default_project() -> String {
    "cn-north-4".into()
}
fn default_list_rate() -> f64 {
    1.0
}
fn default_total_rate() -> f64 {
    5.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    pub(super) timezone: String,
    pub(super) page_size: u32,
    pub(super) daily_flow_batch_size: usize,
    pub(super) monthly_batch_size: usize,
    pub(super) request_timeout: String,
    pub(super) connect_timeout: String,
    pub(super) max_retries: u32,
    pub(super) retry_base_delay: String,
    pub(super) retry_max_delay: String,
    pub(super) inventory_schedule: String,
    pub(super) daily_flow_schedule: String,
    pub(super) monthly_schedule: String,
    pub(super) pools_schedule: String,
    pub(super) retention_days: u32,
    pub(super) leader_lock_key: i64,
    pub(super) shutdown_grace: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) listen: String,
    #[serde(default)]
    pub(super) api_token: String,
    #[serde(default)]
    pub(super) metrics_token: String,
    pub(super) max_concurrent_reports: usize,
    pub(super) request_timeout: String,
    pub(super) header_read_timeout: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) per_sim: bool,
    pub(super) min_usage_ratio: f64,
    pub(super) tags: Vec<String>,
    pub(super) shard: u32,
    pub(super) total_shards: u32,
    pub(super) gzip_level: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub(super) warning_ratio: f64,
    pub(super) critical_ratio: f64,
    #[serde(default)]
    pub(super) overrides: Vec<ThresholdOverride>,
    pub(super) projection_days: u32,
    pub(super) projection_window_days: u32,
    pub(super) anomaly_baseline_days: u32,
    pub(super) anomaly_factor: f64,
    pub(super) anomaly_min_mb: f64,
    pub(super) alertmanager_url: String,
    pub(super) webhook_url: String,
    pub(super) resend_interval: String,
    pub(super) notify_timeout: String,
    pub(super) notify_max_retries: u32,
}

/// `[watch]` (0.2): real-time re-checks of the cards at risk, in the budget the jobs leave.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatch {
    pub(super) enabled: bool,
    pub(super) ratio: f64,
    pub(super) days: u32,
    pub(super) interval: String,
    pub(super) budget_share: f64,
    #[serde(default)]
    pub(super) iccids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGuard {
    pub(super) fleet_brake: f64,
    pub(super) fleet_brake_cards: u64,
    pub(super) interval: String,
    pub(super) order_check: String,
    #[serde(default)]
    pub(super) policies: Vec<RawPolicy>,
}

/// One `[[guard.policies]]` entry as written; unset keys stay unset when printed back.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) min_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) projected_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) anomaly: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) over_quota: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) price_plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sim_pool_id: Option<PoolId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tag: Option<String>,
    pub(super) action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) speed_kbps: Option<u32>,
    #[serde(default = "default_mode")]
    pub(super) mode: String,
    #[serde(default = "default_restore")]
    pub(super) restore: String,
    #[serde(default = "default_max_per_hour")]
    pub(super) max_per_hour: u32,
}

fn default_mode() -> String {
    "dry_run".into()
}
fn default_restore() -> String {
    "next_cycle".into()
}
fn default_max_per_hour() -> u32 {
    100
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) format: String,
}

impl RawSettings {
    /// The same settings with every secret replaced by `***` and passwords cut out of URLs.
    pub(super) fn redacted(&self) -> Self {
        let mut r = self.clone();
        r.database.url = redact_url(&r.database.url);
        for a in r.accounts.values_mut() {
            for secret in [&mut a.token, &mut a.password, &mut a.secret_key] {
                if !secret.is_empty() {
                    *secret = REDACTED.into();
                }
            }
        }
        for token in [&mut r.http.api_token, &mut r.http.metrics_token] {
            if !token.is_empty() {
                *token = REDACTED.into();
            }
        }
        for url in [&mut r.alerts.alertmanager_url, &mut r.alerts.webhook_url] {
            if !url.is_empty() {
                *url = redact_url(url);
            }
        }
        r
    }
}
