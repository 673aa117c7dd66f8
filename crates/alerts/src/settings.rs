//! The validated `[alerts]` section. Built by the binary's configuration; this crate reads no files.

use std::time::Duration;

use gsl_domain::PoolId;
use serde::{Deserialize, Serialize};
use url::Url;

/// Thresholds for one price plan, pool or tag; `None` keeps the global value.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_pool_id: Option<PoolId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_ratio: Option<f64>,
}

/// Thresholds, projection, anomaly and delivery settings. `Debug` hides credentials in the receiver URLs.
#[derive(Clone)]
pub struct AlertSettings {
    pub warning_ratio: f64,
    pub critical_ratio: f64,
    pub overrides: Vec<ThresholdOverride>,
    pub projection_days: u32,
    pub projection_window_days: u32,
    pub anomaly_baseline_days: u32,
    pub anomaly_factor: f64,
    pub anomaly_min_mb: f64,
    pub alertmanager_url: Option<Url>,
    pub webhook_url: Option<Url>,
    pub resend_interval: Duration,
    pub notify_timeout: Duration,
    pub notify_max_retries: u32,
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |u: &Option<Url>| u.as_ref().map(without_credentials);
        f.debug_struct("AlertSettings")
            .field("warning_ratio", &self.warning_ratio)
            .field("critical_ratio", &self.critical_ratio)
            .field("overrides", &self.overrides)
            .field("projection_days", &self.projection_days)
            .field("projection_window_days", &self.projection_window_days)
            .field("anomaly_baseline_days", &self.anomaly_baseline_days)
            .field("anomaly_factor", &self.anomaly_factor)
            .field("anomaly_min_mb", &self.anomaly_min_mb)
            .field("alertmanager_url", &shown(&self.alertmanager_url))
            .field("webhook_url", &shown(&self.webhook_url))
            .field("resend_interval", &self.resend_interval)
            .field("notify_timeout", &self.notify_timeout)
            .field("notify_max_retries", &self.notify_max_retries)
            .finish()
    }
}

/// A receiver URL fit for logs: user name and password replaced by `***`, query dropped (it may hold a token).
pub fn without_credentials(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() {
        let _ = u.set_username("***");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.set_query(None);
    u.to_string()
}
