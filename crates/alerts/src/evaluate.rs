//! `evaluate`: runs every rule over the fleet and keeps one episode per condition in `alerts`.

use chrono::{DateTime, NaiveDate, Utc};

use super::rules::anomaly_min_history;
use crate::settings::AlertSettings;
use gsl_store::alerts::{EpisodeChanges, OverrideRow, RuleParams};
use gsl_store::{Store, StoreError};

/// What one evaluation changed: episodes opened and resolved, and how many are open now.
pub type EvalSummary = EpisodeChanges;

/// Evaluates the card and pool rules for the usage day `as_of` and reconciles the episodes at `now`:
/// a condition that still holds keeps its episode, one that no longer holds is resolved, a new one opens.
/// A quota episode rising from warning to critical is a change of kind: the warning episode resolves and a
/// critical one opens (and back the other way when the ratio falls between the two thresholds).
pub async fn evaluate(
    store: &Store,
    settings: &AlertSettings,
    as_of: NaiveDate,
    now: DateTime<Utc>,
) -> Result<EvalSummary, StoreError> {
    let params = rule_params(settings, as_of);
    let summary = store.reconcile_alerts(&params, now).await?;
    tracing::info!(
        %as_of,
        opened = summary.opened,
        resolved = summary.resolved,
        open = summary.open,
        "alerts evaluated"
    );
    Ok(summary)
}

/// The SQL parameters for the settings: the same values the functions in `rules` use.
pub fn rule_params(settings: &AlertSettings, as_of: NaiveDate) -> RuleParams {
    RuleParams {
        as_of,
        warning: settings.warning_ratio,
        critical: settings.critical_ratio,
        overrides: settings
            .overrides
            .iter()
            .map(|o| OverrideRow {
                price_plan: o.price_plan.clone(),
                sim_pool_id: o.sim_pool_id,
                tag: o.tag.clone(),
                warning: o.warning_ratio,
                critical: o.critical_ratio,
            })
            .collect(),
        projection_days: f64::from(settings.projection_days),
        projection_window_days: clamp_days(settings.projection_window_days),
        anomaly_baseline_days: clamp_days(settings.anomaly_baseline_days),
        anomaly_min_history_days: i64::from(anomaly_min_history(settings.anomaly_baseline_days)),
        anomaly_factor: settings.anomaly_factor,
        anomaly_min_mb: settings.anomaly_min_mb,
    }
}

fn clamp_days(days: u32) -> i32 {
    i32::try_from(days.max(1)).unwrap_or(i32::MAX)
}
