//! What follows a sync: refresh the gauges, evaluate alert rules, deliver notifications.

use std::sync::Arc;

use chrono::{Duration, Utc};

use crate::alerts::Notifier;
use crate::config::Settings;
use crate::metrics::{MetricsOptions, SimGauges};
use crate::store::Store;
use crate::sync::daemon::AfterJob;
use crate::sync::{JobKind, JobReport};
use crate::telemetry::Telemetry;

/// Evaluates the alert rules as of yesterday (the newest usage day) and sends what is due.
pub async fn evaluate_and_notify(store: &Store, settings: &Settings, telemetry: &Telemetry) {
    let now = Utc::now();
    let as_of = now.with_timezone(&settings.sync.timezone).date_naive() - Duration::days(1);
    match crate::alerts::evaluate(store, &settings.alerts, as_of, now).await {
        Ok(summary) => tracing::info!(
            opened = summary.opened,
            resolved = summary.resolved,
            open = summary.open,
            "alert rules evaluated"
        ),
        Err(e) => tracing::error!(error = %e, "alert evaluation failed"),
    }
    deliver_due(store, settings, telemetry).await;
}

/// Sends the notifications that are due (a receiver that was down gets them here).
pub async fn deliver_due(store: &Store, settings: &Settings, telemetry: &Telemetry) {
    if settings.alerts.alertmanager_url.is_none() && settings.alerts.webhook_url.is_none() {
        return;
    }
    match Notifier::new(store.clone(), &settings.alerts, Arc::new(telemetry.clone())) {
        Ok(notifier) => {
            let stats = notifier.deliver_due().await;
            tracing::debug!(
                sent = stats.sent,
                failed = stats.failed,
                "alert notifications delivered"
            );
        }
        Err(e) => tracing::error!(error = %e, "alert notifier could not start"),
    }
}

/// The daemon's after-job hook.
pub struct DaemonHooks {
    pub store: Store,
    pub settings: Settings,
    pub telemetry: Telemetry,
    pub gauges: SimGauges,
    pub metrics: MetricsOptions,
}

#[async_trait::async_trait]
impl AfterJob for DaemonHooks {
    async fn after_job(&self, report: &JobReport) {
        if let Err(e) = self.gauges.refresh(&self.store, &self.metrics).await {
            tracing::error!(error = %e, "could not refresh the gauges");
        }
        if matches!(
            report.kind,
            JobKind::Inventory | JobKind::DailyFlow | JobKind::Pools
        ) {
            evaluate_and_notify(&self.store, &self.settings, &self.telemetry).await;
            // Open episodes feed gsl_sims_over_threshold.
            if let Err(e) = self.gauges.refresh(&self.store, &self.metrics).await {
                tracing::error!(error = %e, "could not refresh the gauges");
            }
        }
    }
}
