//! The daemon's own counters and histograms, kept in a `prometheus` registry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use gsl_alerts::DeliveryObserver;
use gsl_client::{CallObserver, Operation};
use gsl_jobs::RunObserver;
use gsl_store::gauges::LastRun;
use gsl_store::{Store, StoreError};

/// Every daemon-level metric family; clone-cheap handles into one registry.
#[derive(Clone)]
pub struct Telemetry {
    pub registry: Registry,
    pub api_requests: IntCounterVec,
    pub api_request_duration: HistogramVec,
    pub api_retries: IntCounterVec,
    pub up: IntGaugeVec,
    pub sync_runs: IntCounterVec,
    pub sync_last_success: GaugeVec,
    pub sync_last_duration: GaugeVec,
    pub alert_notifications: IntCounterVec,
    pub api_implausible_values: IntCounterVec,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let registry = Registry::new();
        let api_requests = IntCounterVec::new(
            Opts::new(
                "gsl_api_requests_total",
                "GSL API calls by operation and result code (HTTP status or GSL/APIGW error code).",
            ),
            &["account", "operation", "code"],
        )
        .expect("valid metric");
        let api_request_duration = HistogramVec::new(
            HistogramOpts::new(
                "gsl_api_request_duration_seconds",
                "GSL API call latency, per attempt.",
            )
            .buckets(vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["account", "operation"],
        )
        .expect("valid metric");
        let api_retries = IntCounterVec::new(
            Opts::new("gsl_api_retries_total", "GSL API calls retried, by reason."),
            &["account", "operation", "reason"],
        )
        .expect("valid metric");
        let up = IntGaugeVec::new(
            Opts::new("gsl_up", "1 when the last call to the GSL API succeeded."),
            &["account"],
        )
        .expect("valid metric");
        let sync_runs = IntCounterVec::new(
            Opts::new("gsl_sync_runs_total", "Sync job runs by result."),
            &["account", "job", "result"],
        )
        .expect("valid metric");
        let sync_last_success = GaugeVec::new(
            Opts::new(
                "gsl_sync_last_success_timestamp_seconds",
                "Unix time the job last succeeded.",
            ),
            &["account", "job"],
        )
        .expect("valid metric");
        let sync_last_duration = GaugeVec::new(
            Opts::new(
                "gsl_sync_last_duration_seconds",
                "How long the job's last run took.",
            ),
            &["account", "job"],
        )
        .expect("valid metric");
        let alert_notifications = IntCounterVec::new(
            Opts::new(
                "gsl_alert_notifications_total",
                "Alert notifications sent, by receiver and result.",
            ),
            &["receiver", "result"],
        )
        .expect("valid metric");
        for c in [
            &api_requests,
            &api_retries,
            &sync_runs,
            &alert_notifications,
        ] {
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
        }
        registry
            .register(Box::new(api_request_duration.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(up.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(sync_last_success.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(sync_last_duration.clone()))
            .expect("unique metric");
        let api_implausible_values = implausible_values_family(&registry);
        Self {
            registry,
            api_requests,
            api_request_duration,
            api_retries,
            up,
            sync_runs,
            sync_last_success,
            sync_last_duration,
            alert_notifications,
            api_implausible_values,
        }
    }
}

/// `gsl_api_implausible_values_total`: values GSL sent that cannot be true (negative, non-finite, far
/// beyond any plan), by the JSON field that held them. What is stored instead: `gsl_client::plausible`.
fn implausible_values_family(registry: &Registry) -> IntCounterVec {
    let family = IntCounterVec::new(
        Opts::new(
            "gsl_api_implausible_values_total",
            "Values from the GSL API that cannot be true, by operation and field.",
        ),
        &["account", "operation", "field"],
    )
    .expect("valid metric");
    registry
        .register(Box::new(family.clone()))
        .expect("unique metric");
    family
}

impl Telemetry {
    /// A sync job finished: counts the run and, on success, moves its freshness gauges.
    pub fn record_run(
        &self,
        account: &str,
        job: &str,
        succeeded: bool,
        started: DateTime<Utc>,
        duration: Duration,
    ) {
        let result = if succeeded { "succeeded" } else { "failed" };
        self.sync_runs
            .with_label_values(&[account, job, result])
            .inc();
        self.sync_last_duration
            .with_label_values(&[account, job])
            .set(duration.as_secs_f64());
        if succeeded {
            let finished = started.timestamp_millis() as f64 / 1000.0 + duration.as_secs_f64();
            self.sync_last_success
                .with_label_values(&[account, job])
                .set(finished);
        }
    }

    /// Seeds the freshness gauges from `sync_runs`, so a restarted daemon serves them before its next sync.
    pub async fn seed_from_store(&self, store: &Store) -> Result<(), StoreError> {
        self.seed(&store.gauge_last_runs().await?);
        Ok(())
    }

    pub fn seed(&self, runs: &[LastRun]) {
        for run in runs {
            let labels = [run.account.as_str(), run.job.as_str()];
            if let Some(at) = run.last_success {
                let secs = at.timestamp_millis() as f64 / 1000.0;
                self.sync_last_success.with_label_values(&labels).set(secs);
            }
            if let Some(d) = run.last_duration_seconds {
                self.sync_last_duration.with_label_values(&labels).set(d);
            }
        }
    }

    /// The daemon's families in the text format; small, so encoded at every scrape.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding our own well-formed registry into a Vec cannot fail; an empty body is the safe fallback.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            out.clear();
        }
        out
    }
}

impl CallObserver for Telemetry {
    fn call_finished(&self, account: &str, operation: Operation, code: &str, elapsed: Duration) {
        self.api_requests
            .with_label_values(&[account, operation.as_str(), code])
            .inc();
        self.api_request_duration
            .with_label_values(&[account, operation.as_str()])
            .observe(elapsed.as_secs_f64());
        let ok = code.starts_with('2');
        self.up.with_label_values(&[account]).set(i64::from(ok));
    }

    fn call_retried(&self, account: &str, operation: Operation, reason: &str) {
        self.api_retries
            .with_label_values(&[account, operation.as_str(), reason])
            .inc();
    }

    fn implausible_value(&self, account: &str, operation: Operation, field: &str) {
        self.api_implausible_values
            .with_label_values(&[account, operation.as_str(), field])
            .inc();
    }
}

impl RunObserver for Telemetry {
    fn run_finished(
        &self,
        account: &str,
        job: &str,
        succeeded: bool,
        started: DateTime<Utc>,
        duration: Duration,
    ) {
        self.record_run(account, job, succeeded, started, duration);
    }
}

impl DeliveryObserver for Telemetry {
    fn delivered(&self, receiver: &str, result: &str, alerts: u64) {
        self.alert_notifications
            .with_label_values(&[receiver, result])
            .inc_by(alerts);
    }
}
