//! Quota alerts: rules evaluated over the store after each sync, one episode per condition in `alerts`,
//! and delivery to Alertmanager and a JSON webhook from that table (an outbox: an outage delays, never loses).
//!
//! Rules (names from docs/reference.md), per card not removed and per pool's latest billing cycle:
//! - `GslSimQuotaWarning` / `GslSimQuotaCritical`: used / (used + left) at or above the warning (below
//!   critical) or critical threshold. Thresholds come from the first matching `alerts.overrides` entry: price
//!   plan, then pool, then tag (`tag_names` splits on commas, each tag trimmed); unset values stay global.
//! - `GslSimSuspended`: operator_status set and not -1; value is the code, the reason is annotated.
//! - `GslSimExhaustionProjected`: the mean daily flow of the last `projection_window_days` days (missing days
//!   count as zero) exhausts flow_left within `projection_days`, while the ratio is still below warning.
//! - `GslSimUsageAnomaly`: the `as_of` day's flow above `anomaly_factor` × the median of the previous
//!   `anomaly_baseline_days` days (at least half of them, and 3, present) and above `anomaly_min_mb`.
//! - `GslPoolQuotaWarning` / `GslPoolQuotaCritical`: used / total of the pool's latest cycle; pool
//!   overrides (`sim_pool_id`) apply.
//!
//! A change of severity is a change of kind: warning resolves, critical opens.

mod evaluate;
mod notify;
mod payload;
pub mod rules;
mod settings;

pub use evaluate::{evaluate, rule_params, EvalSummary};
pub use notify::{
    DeliveryObserver, DeliveryStats, NoopDeliveryObserver, Notifier, NotifyError, Receiver,
};
pub use payload::{alertmanager_alert, annotations, labels, webhook_body};
pub use settings::{without_credentials, AlertSettings, ThresholdOverride};
