//! Raw settings into typed ones, one section at a time; every error names its key.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use gsl_alerts::AlertSettings;
use gsl_client::Auth;
use gsl_jobs::{SyncSettings, WatchSettings};
use gsl_metrics::MetricsSettings;
use secrecy::SecretString;

use crate::http::HttpOptions;
use url::Url;

use super::raw::{
    RawAccount, RawAlerts, RawDatabase, RawHttp, RawLog, RawMetrics, RawSettings, RawSync, RawWatch,
};
use super::redact::redact_url;
use super::{
    AccountSettings, ConfigError, DatabaseSettings, HttpSettings, LogFormat, LogSettings, Settings,
};

impl RawSettings {
    pub(super) fn validate(&self, instance: String) -> Result<Settings, ConfigError> {
        let accounts = self
            .accounts
            .iter()
            .map(|(name, raw)| account(name, raw))
            .collect::<Result<Vec<_>, _>>()?;
        let sync = sync(&self.sync)?;
        let alerts = alerts(&self.alerts)?;
        let guard = super::guard::guard(&self.guard, &accounts, &alerts)?;
        Ok(Settings {
            watch: watch(&self.watch, &sync, &alerts)?,
            database: database(&self.database)?,
            accounts,
            sync,
            http: http(&self.http)?,
            metrics: metrics(&self.metrics)?,
            alerts,
            guard,
            log: log(&self.log)?,
            instance,
            database_explicit: false,
            raw: self.clone(),
        })
    }
}

fn database(d: &RawDatabase) -> Result<DatabaseSettings, ConfigError> {
    let u = Url::parse(&d.url)
        .map_err(|e| ConfigError::new("database.url", format!("not a URL ({e})")))?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::new(
            "database.url",
            "must start with postgres://",
        ));
    }
    Ok(DatabaseSettings {
        url: SecretString::from(d.url.clone()),
        max_connections: in_range("database.max_connections", d.max_connections, 2, 1000)?,
    })
}

fn account(name: &str, a: &RawAccount) -> Result<AccountSettings, ConfigError> {
    let key = |k: &str| format!("accounts.{name}.{k}");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ConfigError::new(
            format!("accounts.{name}"),
            "account names use letters, digits, '_' and '-'",
        ));
    }
    let required = |k: &str, v: &str| {
        if v.trim().is_empty() {
            Err(ConfigError::new(
                key(k),
                format!("is required when auth = {:?}", a.auth),
            ))
        } else {
            Ok(())
        }
    };
    let auth = match a.auth.as_str() {
        "token" => {
            required("token", &a.token)?;
            Auth::Token {
                token: SecretString::from(a.token.clone()),
            }
        }
        "password" => {
            required("domain", &a.domain)?;
            required("user", &a.user)?;
            required("password", &a.password)?;
            Auth::Password {
                iam_endpoint: parse_url(&key("iam_endpoint"), &a.iam_endpoint)?,
                domain: a.domain.clone(),
                user: a.user.clone(),
                password: SecretString::from(a.password.clone()),
                project: a.project.clone(),
            }
        }
        "aksk" => {
            required("access_key", &a.access_key)?;
            required("secret_key", &a.secret_key)?;
            Auth::AkSk {
                access_key: a.access_key.clone(),
                secret_key: SecretString::from(a.secret_key.clone()),
                project_id: a.project_id.clone(),
            }
        }
        other => {
            return Err(ConfigError::new(
                key("auth"),
                format!("{other:?} must be \"token\", \"password\" or \"aksk\""),
            ));
        }
    };
    Ok(AccountSettings {
        name: name.to_owned(),
        endpoint: parse_url(&key("endpoint"), &a.endpoint)?,
        auth,
        list_rate_per_second: rate(&key("list_rate_per_second"), a.list_rate_per_second)?,
        total_rate_per_second: rate(&key("total_rate_per_second"), a.total_rate_per_second)?,
    })
}

fn sync(s: &RawSync) -> Result<SyncSettings, ConfigError> {
    let timezone = Tz::from_str(&s.timezone).map_err(|_| {
        ConfigError::new(
            "sync.timezone",
            format!("{:?} is not an IANA time zone", s.timezone),
        )
    })?;
    for (key, cron) in [
        ("sync.inventory_schedule", &s.inventory_schedule),
        ("sync.daily_flow_schedule", &s.daily_flow_schedule),
        ("sync.monthly_schedule", &s.monthly_schedule),
        ("sync.pools_schedule", &s.pools_schedule),
    ] {
        validate_cron(key, cron)?;
    }
    Ok(SyncSettings {
        timezone,
        page_size: in_range("sync.page_size", s.page_size, 10, 500)?,
        daily_flow_batch_size: in_range(
            "sync.daily_flow_batch_size",
            s.daily_flow_batch_size,
            1,
            100,
        )?,
        monthly_batch_size: in_range("sync.monthly_batch_size", s.monthly_batch_size, 1, 500)?,
        request_timeout: duration("sync.request_timeout", &s.request_timeout)?,
        connect_timeout: duration("sync.connect_timeout", &s.connect_timeout)?,
        max_retries: in_range("sync.max_retries", s.max_retries, 0, 20)?,
        retry_base_delay: duration("sync.retry_base_delay", &s.retry_base_delay)?,
        retry_max_delay: duration("sync.retry_max_delay", &s.retry_max_delay)?,
        inventory_schedule: s.inventory_schedule.clone(),
        daily_flow_schedule: s.daily_flow_schedule.clone(),
        monthly_schedule: s.monthly_schedule.clone(),
        pools_schedule: s.pools_schedule.clone(),
        retention_days: in_range("sync.retention_days", s.retention_days, 62, 36_500)?,
        leader_lock_key: s.leader_lock_key,
        shutdown_grace: duration("sync.shutdown_grace", &s.shutdown_grace)?,
    })
}

fn http(h: &RawHttp) -> Result<HttpSettings, ConfigError> {
    let listen = h.listen.parse().map_err(|_| {
        ConfigError::new(
            "http.listen",
            format!("{:?} is not an address like 127.0.0.1:9860", h.listen),
        )
    })?;
    Ok(HttpSettings {
        listen,
        options: HttpOptions {
            api_token: token(&h.api_token),
            metrics_token: token(&h.metrics_token),
            max_concurrent_reports: in_range(
                "http.max_concurrent_reports",
                h.max_concurrent_reports,
                1,
                1024,
            )?,
            request_timeout: positive("http.request_timeout", &h.request_timeout)?,
            header_read_timeout: positive("http.header_read_timeout", &h.header_read_timeout)?,
            // The daemon fills in the jobs' schedules (from [sync]) where it builds the server.
            pages: Default::default(),
        },
    })
}

/// An empty token turns its check off.
fn token(raw: &str) -> Option<SecretString> {
    (!raw.is_empty()).then(|| SecretString::from(raw.to_owned()))
}

pub(super) fn positive(key: &str, raw: &str) -> Result<std::time::Duration, ConfigError> {
    let d = duration(key, raw)?;
    if d.is_zero() {
        return Err(ConfigError::new(key, "must be above 0s"));
    }
    Ok(d)
}

fn metrics(m: &RawMetrics) -> Result<MetricsSettings, ConfigError> {
    if !(0.0..=1.0).contains(&m.min_usage_ratio) {
        return Err(ConfigError::new(
            "metrics.min_usage_ratio",
            "must be in 0..=1",
        ));
    }
    let total_shards = in_range("metrics.total_shards", m.total_shards, 1, 1024)?;
    if m.shard >= total_shards {
        return Err(ConfigError::new(
            "metrics.shard",
            format!(
                "{} must be below metrics.total_shards ({total_shards})",
                m.shard
            ),
        ));
    }
    Ok(MetricsSettings {
        per_sim: m.per_sim,
        min_usage_ratio: m.min_usage_ratio,
        tags: m.tags.clone(),
        shard: m.shard,
        total_shards,
        gzip_level: in_range("metrics.gzip_level", m.gzip_level, 0, 9)?,
    })
}

fn alerts(a: &RawAlerts) -> Result<AlertSettings, ConfigError> {
    let warning_ratio = ratio("alerts.warning_ratio", a.warning_ratio)?;
    let critical_ratio = ratio("alerts.critical_ratio", a.critical_ratio)?;
    if critical_ratio < warning_ratio {
        return Err(ConfigError::new(
            "alerts.critical_ratio",
            "must not be below alerts.warning_ratio",
        ));
    }
    for (i, o) in a.overrides.iter().enumerate() {
        let key = format!("alerts.overrides[{i}]");
        let selectors = [
            o.price_plan.is_some(),
            o.sim_pool_id.is_some(),
            o.tag.is_some(),
        ];
        if selectors.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::new(
                key,
                "needs exactly one of price_plan, sim_pool_id, tag",
            ));
        }
        if let Some(w) = o.warning_ratio {
            ratio(&format!("{key}.warning_ratio"), w)?;
        }
        if let Some(c) = o.critical_ratio {
            ratio(&format!("{key}.critical_ratio"), c)?;
        }
    }
    if !(a.anomaly_factor.is_finite() && a.anomaly_factor > 1.0) {
        return Err(ConfigError::new(
            "alerts.anomaly_factor",
            "must be a number above 1",
        ));
    }
    Ok(AlertSettings {
        warning_ratio,
        critical_ratio,
        overrides: a.overrides.clone(),
        projection_days: in_range("alerts.projection_days", a.projection_days, 0, 366)?,
        projection_window_days: in_range(
            "alerts.projection_window_days",
            a.projection_window_days,
            1,
            60,
        )?,
        anomaly_baseline_days: in_range(
            "alerts.anomaly_baseline_days",
            a.anomaly_baseline_days,
            3,
            60,
        )?,
        anomaly_factor: a.anomaly_factor,
        anomaly_min_mb: a.anomaly_min_mb.max(0.0),
        alertmanager_url: optional_url("alerts.alertmanager_url", &a.alertmanager_url)?,
        webhook_url: optional_url("alerts.webhook_url", &a.webhook_url)?,
        resend_interval: duration("alerts.resend_interval", &a.resend_interval)?,
        notify_timeout: duration("alerts.notify_timeout", &a.notify_timeout)?,
        notify_max_retries: in_range("alerts.notify_max_retries", a.notify_max_retries, 0, 20)?,
    })
}

fn watch(
    w: &RawWatch,
    sync: &SyncSettings,
    alerts: &AlertSettings,
) -> Result<WatchSettings, ConfigError> {
    if !(w.budget_share.is_finite() && w.budget_share > 0.0 && w.budget_share <= 1.0) {
        return Err(ConfigError::new(
            "watch.budget_share",
            format!(
                "{} must be a share in (0, 1] of the calls the jobs leave unused (turn the watch off with watch.enabled = false)",
                w.budget_share
            ),
        ));
    }
    for (i, iccid) in w.iccids.iter().enumerate() {
        let ok =
            (1..=32).contains(&iccid.len()) && iccid.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(ConfigError::new(
                format!("watch.iccids[{i}]"),
                format!("{iccid:?} is not an ICCID (letters and digits, at most 32)"),
            ));
        }
    }
    let interval = positive("watch.interval", &w.interval)?;
    if interval < std::time::Duration::from_secs(1) {
        return Err(ConfigError::new("watch.interval", "must be at least 1s"));
    }
    let mut s = WatchSettings::defaults(sync.timezone);
    s.enabled = w.enabled;
    s.ratio = ratio("watch.ratio", w.ratio)?;
    s.days = in_range("watch.days", w.days, 0, 366)?;
    s.interval = interval;
    s.budget_share = w.budget_share;
    s.iccids = w.iccids.clone();
    s.projection_window_days = alerts.projection_window_days;
    Ok(s)
}

fn log(l: &RawLog) -> Result<LogSettings, ConfigError> {
    let format = match l.format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::new(
                "log.format",
                format!("{other:?} must be \"text\" or \"json\""),
            ))
        }
    };
    Ok(LogSettings { format })
}

pub(super) fn duration(key: &str, raw: &str) -> Result<std::time::Duration, ConfigError> {
    humantime::parse_duration(raw)
        .map_err(|e| ConfigError::new(key, format!("{raw:?} is not a duration like \"30s\" ({e})")))
}

fn parse_url(key: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::new(key, format!("{:?} is not a URL ({e})", redact_url(raw))))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(key, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

fn optional_url(key: &str, raw: &str) -> Result<Option<Url>, ConfigError> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse_url(key, raw).map(Some)
    }
}

/// Checks a six-field cron string (seconds first), as the job triggers read it.
pub fn validate_cron(key: &str, raw: &str) -> Result<(), ConfigError> {
    if raw.split_whitespace().count() != 6 {
        return Err(ConfigError::new(
            key,
            format!("{raw:?} must have six fields, seconds first (e.g. \"0 30 2 * * *\")"),
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(raw)
        .map(|_| ())
        .map_err(|e| ConfigError::new(key, format!("{raw:?} is not a valid cron expression ({e})")))
}

pub(super) fn ratio(key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(ConfigError::new(
            key,
            format!("{v} must be a ratio in (0, 1]"),
        ))
    }
}

pub(super) fn in_range<T: PartialOrd + fmt::Display + Copy>(
    key: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(ConfigError::new(key, format!("{v} is outside {lo}..={hi}")))
    }
}

fn rate(key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ConfigError::new(
            key,
            format!("{v} must be a positive number of calls per second"),
        ))
    }
}
