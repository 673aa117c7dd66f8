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
    pub build_info: IntGaugeVec,
    pub api_implausible_values: IntCounterVec,
    pub guard_actions: IntCounterVec,
    pub freshness: super::freshness::Freshness,
    /// `sync.timezone`: where a data day ends.
    zone: chrono_tz::Tz,
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
            &["account", "job_name", "result"],
        )
        .expect("valid metric");
        let sync_last_success = GaugeVec::new(
            Opts::new(
                "gsl_sync_last_success_timestamp_seconds",
                "Unix time the job last succeeded.",
            ),
            &["account", "job_name"],
        )
        .expect("valid metric");
        let sync_last_duration = GaugeVec::new(
            Opts::new(
                "gsl_sync_last_duration_seconds",
                "How long the job's last run took.",
            ),
            &["account", "job_name"],
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
        let build_info = IntGaugeVec::new(
            Opts::new(
                "gsl_build_info",
                "1, labelled with the version of the running gsl-sync.",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry
            .register(Box::new(build_info.clone()))
            .expect("unique metric");
        register_process_collector(&registry);
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
        let guard_actions = super::guard::guard_actions_family(&registry);
        let freshness = super::freshness::Freshness::register(&registry);
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
            build_info,
            api_implausible_values,
            guard_actions,
            freshness,
            zone: chrono_tz::Asia::Shanghai,
        }
    }

    /// Days end at midnight in `zone` (`sync.timezone`) for the freshness gauges.
    pub fn in_zone(mut self, zone: chrono_tz::Tz) -> Self {
        self.zone = zone;
        self
    }

    /// Creates every counter series the daemon can move, at 0, so `rate()` and `increase()` see the first
    /// failure instead of a series that appears with it.
    pub fn seed_zeros(&self, accounts: &[&str], jobs: &[&str], receivers: &[&str]) {
        for account in accounts {
            for job in jobs {
                for result in ["succeeded", "failed"] {
                    self.sync_runs.with_label_values(&[account, job, result]);
                }
            }
            for op in Operation::ALL {
                self.api_requests
                    .with_label_values(&[account, op.as_str(), "200"]);
                for reason in gsl_client::RETRY_REASONS {
                    self.api_retries
                        .with_label_values(&[account, op.as_str(), reason]);
                }
            }
        }
        for receiver in receivers {
            for result in ["success", "failure"] {
                self.alert_notifications
                    .with_label_values(&[receiver, result]);
            }
        }
    }
}

/// `process_*` (CPU, resident memory, open files, start time) where the platform offers them (Linux).
fn register_process_collector(registry: &Registry) {
    #[cfg(target_os = "linux")]
    {
        let collector = prometheus::process_collector::ProcessCollector::for_self();
        if let Err(e) = registry.register(Box::new(collector)) {
            tracing::warn!(error = %e, "process metrics unavailable");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = registry;
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
        self.freshness.seed(runs, self.zone);
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

    /// The daemon's families in the text format; small, so encoded at every scrape. OpenMetrics differs
    /// from 0.0.4 here only in how a counter family is named (without `_total`).
    pub fn encode(&self, format: crate::metrics::text::Format) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding our own well-formed registry into a Vec cannot fail; an empty body is the safe fallback.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            out.clear();
        }
        match format {
            crate::metrics::text::Format::Prometheus => out,
            crate::metrics::text::Format::OpenMetrics => counters_for_open_metrics(&out),
        }
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

/// Renames counter families `x_total` to `x` in their HELP and TYPE lines, as OpenMetrics wants (the
/// samples keep `_total`); untyped families become `unknown`.
fn counters_for_open_metrics(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let base = name
                .strip_suffix("_total")
                .filter(|_| counters.contains(name))?;
            Some(format!("{prefix}{base} {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(l.trim_end()),
            None if line.starts_with("# TYPE ") && line.ends_with(" untyped") => {
                out.push_str(&line.replace(" untyped", " unknown"))
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_metrics_names_counter_families_without_total() {
        let t = Telemetry::new();
        t.seed_zeros(&["main"], &["inventory"], &["webhook"]);
        let om = String::from_utf8(t.encode(crate::metrics::text::Format::OpenMetrics)).unwrap();
        assert!(om.contains("# TYPE gsl_sync_runs counter\n"), "{om}");
        assert!(
            om.contains(
                "gsl_sync_runs_total{account=\"main\",job_name=\"inventory\",result=\"failed\"} 0"
            ),
            "{om}"
        );
        assert!(!om.contains("# TYPE gsl_sync_runs_total"), "{om}");
        let text = String::from_utf8(t.encode(crate::metrics::text::Format::Prometheus)).unwrap();
        assert!(
            text.contains("# TYPE gsl_sync_runs_total counter"),
            "{text}"
        );
    }

    #[test]
    fn build_info_and_process_metrics_are_there_from_the_start() {
        let text =
            String::from_utf8(Telemetry::new().encode(crate::metrics::text::Format::Prometheus))
                .unwrap();
        assert!(
            text.contains(&format!(
                "gsl_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        #[cfg(target_os = "linux")]
        for family in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ] {
            assert!(text.contains(family), "{family} missing:\n{text}");
        }
    }
}
