//! Configuration: embedded defaults → file → `GSL_SYNC__…` environment, validated once into typed values.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The commented defaults, embedded so the binary runs without any file.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// The commented example printed by `config example`.
pub const EXAMPLE_TOML: &str = include_str!("../config/example.toml");

const ENV_PREFIX: &str = "GSL_SYNC";
const REDACTED: &str = "***";

/// A configuration problem: always names the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self {
            key: key.into(),
            problem: problem.to_string(),
        }
    }
}

/// The validated configuration the rest of the program uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub accounts: Vec<AccountSettings>,
    pub sync: SyncSettings,
    pub http: HttpSettings,
    pub metrics: MetricsSettings,
    pub alerts: AlertSettings,
    pub log: LogSettings,
}

#[derive(Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// How one account authenticates; secrets never leave their `SecretString` except on the wire.
#[derive(Clone)]
pub enum AuthSettings {
    Token {
        token: SecretString,
    },
    Password {
        iam_endpoint: Url,
        domain: String,
        user: String,
        password: SecretString,
        project: String,
    },
    AkSk {
        access_key: String,
        secret_key: SecretString,
        project_id: String,
    },
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token { .. } => f.debug_struct("Token").field("token", &REDACTED).finish(),
            Self::Password {
                iam_endpoint,
                domain,
                user,
                project,
                ..
            } => f
                .debug_struct("Password")
                .field("iam_endpoint", &iam_endpoint.as_str())
                .field("domain", domain)
                .field("user", user)
                .field("password", &REDACTED)
                .field("project", project)
                .finish(),
            Self::AkSk {
                access_key,
                project_id,
                ..
            } => f
                .debug_struct("AkSk")
                .field("access_key", access_key)
                .field("secret_key", &REDACTED)
                .field("project_id", project_id)
                .finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub name: String,
    pub endpoint: Url,
    pub auth: AuthSettings,
    pub list_rate_per_second: f64,
    pub total_rate_per_second: f64,
}

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

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub per_sim: bool,
    pub min_usage_ratio: f64,
    pub tags: Vec<String>,
    pub shard: u32,
    pub total_shards: u32,
    pub gzip_level: u32,
}

/// Thresholds for one price plan, pool or tag; `None` keeps the global value.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOverride {
    pub price_plan: Option<String>,
    pub sim_pool_id: Option<i64>,
    pub tag: Option<String>,
    pub warning_ratio: Option<f64>,
    pub critical_ratio: Option<f64>,
}

#[derive(Debug, Clone)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
}

// ---- raw, as deserialized; every field optional where the defaults file supplies it ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    database: RawDatabase,
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
    sync: RawSync,
    http: RawHttp,
    metrics: RawMetrics,
    alerts: RawAlerts,
    log: RawLog,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    max_connections: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default = "default_endpoint")]
    endpoint: String,
    #[serde(default = "default_auth")]
    auth: String,
    #[serde(default)]
    token: String,
    #[serde(default = "default_iam_endpoint")]
    iam_endpoint: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default = "default_project")]
    project: String,
    #[serde(default)]
    access_key: String,
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    project_id: String,
    #[serde(default = "default_list_rate")]
    list_rate_per_second: f64,
    #[serde(default = "default_total_rate")]
    total_rate_per_second: f64,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    timezone: String,
    page_size: u32,
    daily_flow_batch_size: usize,
    monthly_batch_size: usize,
    request_timeout: String,
    connect_timeout: String,
    max_retries: u32,
    retry_base_delay: String,
    retry_max_delay: String,
    inventory_schedule: String,
    daily_flow_schedule: String,
    monthly_schedule: String,
    pools_schedule: String,
    retention_days: u32,
    leader_lock_key: i64,
    shutdown_grace: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    per_sim: bool,
    min_usage_ratio: f64,
    tags: Vec<String>,
    shard: u32,
    total_shards: u32,
    gzip_level: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    warning_ratio: f64,
    critical_ratio: f64,
    #[serde(default)]
    overrides: Vec<ThresholdOverride>,
    projection_days: u32,
    projection_window_days: u32,
    anomaly_baseline_days: u32,
    anomaly_factor: f64,
    anomaly_min_mb: f64,
    alertmanager_url: String,
    webhook_url: String,
    resend_interval: String,
    notify_timeout: String,
    notify_max_retries: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
}

/// Where the configuration comes from, besides the embedded defaults.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub file: Option<std::path::PathBuf>,
    /// Environment variables; `None` reads the process environment.
    pub env: Option<BTreeMap<String, String>>,
}

impl Settings {
    /// Loads and validates the configuration from the process environment and an optional file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(&Sources {
            file: file.map(Path::to_path_buf),
            env: None,
        })
    }

    pub fn load_from(sources: &Sources) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = match &sources.env {
            Some(env) => env.clone(),
            None => std::env::vars().collect(),
        };
        let file = sources
            .file
            .clone()
            .or_else(|| env.get("GSL_SYNC_CONFIG").map(Into::into));
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = &file {
            if !path.exists() {
                return Err(ConfigError::new(
                    "--config",
                    format!("{} does not exist", path.display()),
                ));
            }
            builder = builder
                .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        let env_source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .source(Some(env.clone().into_iter().collect()));
        builder = builder.add_source(env_source);
        let db_key = format!("{ENV_PREFIX}__DATABASE__URL");
        if let (Some(url), false) = (env.get("DATABASE_URL"), env.contains_key(&db_key)) {
            builder = builder
                .set_override("database.url", url.as_str())
                .map_err(|e| ConfigError::new("DATABASE_URL", e))?;
        }
        let merged = builder.build().map_err(config_error)?;
        let raw: RawSettings = merged.try_deserialize().map_err(config_error)?;
        raw.validate()
    }

    pub fn account(&self, name: &str) -> Option<&AccountSettings> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The effective configuration as TOML, with every secret replaced by `***`.
    pub fn to_redacted_toml(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k} = {v}\n"));
        out.push_str("[database]\n");
        line(
            &mut out,
            "url",
            quote(&redact_url(self.database.url.expose_secret())),
        );
        line(
            &mut out,
            "max_connections",
            self.database.max_connections.to_string(),
        );
        for a in &self.accounts {
            out.push_str(&format!("\n[accounts.{}]\n", a.name));
            line(&mut out, "endpoint", quote(a.endpoint.as_str()));
            match &a.auth {
                AuthSettings::Token { .. } => {
                    line(&mut out, "auth", quote("token"));
                    line(&mut out, "token", quote(REDACTED));
                }
                AuthSettings::Password {
                    iam_endpoint,
                    domain,
                    user,
                    project,
                    ..
                } => {
                    line(&mut out, "auth", quote("password"));
                    line(&mut out, "iam_endpoint", quote(iam_endpoint.as_str()));
                    line(&mut out, "domain", quote(domain));
                    line(&mut out, "user", quote(user));
                    line(&mut out, "password", quote(REDACTED));
                    line(&mut out, "project", quote(project));
                }
                AuthSettings::AkSk {
                    access_key,
                    project_id,
                    ..
                } => {
                    line(&mut out, "auth", quote("aksk"));
                    line(&mut out, "access_key", quote(access_key));
                    line(&mut out, "secret_key", quote(REDACTED));
                    line(&mut out, "project_id", quote(project_id));
                }
            }
            line(
                &mut out,
                "list_rate_per_second",
                format!("{:?}", a.list_rate_per_second),
            );
            line(
                &mut out,
                "total_rate_per_second",
                format!("{:?}", a.total_rate_per_second),
            );
        }
        let s = &self.sync;
        out.push_str("\n[sync]\n");
        line(&mut out, "timezone", quote(s.timezone.name()));
        line(&mut out, "page_size", s.page_size.to_string());
        line(
            &mut out,
            "daily_flow_batch_size",
            s.daily_flow_batch_size.to_string(),
        );
        line(
            &mut out,
            "monthly_batch_size",
            s.monthly_batch_size.to_string(),
        );
        line(
            &mut out,
            "request_timeout",
            quote(&humantime::format_duration(s.request_timeout).to_string()),
        );
        line(
            &mut out,
            "connect_timeout",
            quote(&humantime::format_duration(s.connect_timeout).to_string()),
        );
        line(&mut out, "max_retries", s.max_retries.to_string());
        line(
            &mut out,
            "retry_base_delay",
            quote(&humantime::format_duration(s.retry_base_delay).to_string()),
        );
        line(
            &mut out,
            "retry_max_delay",
            quote(&humantime::format_duration(s.retry_max_delay).to_string()),
        );
        line(&mut out, "inventory_schedule", quote(&s.inventory_schedule));
        line(
            &mut out,
            "daily_flow_schedule",
            quote(&s.daily_flow_schedule),
        );
        line(&mut out, "monthly_schedule", quote(&s.monthly_schedule));
        line(&mut out, "pools_schedule", quote(&s.pools_schedule));
        line(&mut out, "retention_days", s.retention_days.to_string());
        line(&mut out, "leader_lock_key", s.leader_lock_key.to_string());
        line(
            &mut out,
            "shutdown_grace",
            quote(&humantime::format_duration(s.shutdown_grace).to_string()),
        );
        out.push_str("\n[http]\n");
        line(&mut out, "listen", quote(&self.http.listen.to_string()));
        let m = &self.metrics;
        out.push_str("\n[metrics]\n");
        line(&mut out, "per_sim", m.per_sim.to_string());
        line(
            &mut out,
            "min_usage_ratio",
            format!("{:?}", m.min_usage_ratio),
        );
        line(&mut out, "tags", format!("{:?}", m.tags));
        line(&mut out, "shard", m.shard.to_string());
        line(&mut out, "total_shards", m.total_shards.to_string());
        line(&mut out, "gzip_level", m.gzip_level.to_string());
        let al = &self.alerts;
        out.push_str("\n[alerts]\n");
        line(&mut out, "warning_ratio", format!("{:?}", al.warning_ratio));
        line(
            &mut out,
            "critical_ratio",
            format!("{:?}", al.critical_ratio),
        );
        line(&mut out, "projection_days", al.projection_days.to_string());
        line(
            &mut out,
            "projection_window_days",
            al.projection_window_days.to_string(),
        );
        line(
            &mut out,
            "anomaly_baseline_days",
            al.anomaly_baseline_days.to_string(),
        );
        line(
            &mut out,
            "anomaly_factor",
            format!("{:?}", al.anomaly_factor),
        );
        line(
            &mut out,
            "anomaly_min_mb",
            format!("{:?}", al.anomaly_min_mb),
        );
        let url_or_empty = |u: &Option<Url>| {
            quote(
                &u.as_ref()
                    .map(|u| redact_url(u.as_str()))
                    .unwrap_or_default(),
            )
        };
        line(
            &mut out,
            "alertmanager_url",
            url_or_empty(&al.alertmanager_url),
        );
        line(&mut out, "webhook_url", url_or_empty(&al.webhook_url));
        line(
            &mut out,
            "resend_interval",
            quote(&humantime::format_duration(al.resend_interval).to_string()),
        );
        line(
            &mut out,
            "notify_timeout",
            quote(&humantime::format_duration(al.notify_timeout).to_string()),
        );
        line(
            &mut out,
            "notify_max_retries",
            al.notify_max_retries.to_string(),
        );
        for o in &al.overrides {
            out.push_str("\n[[alerts.overrides]]\n");
            if let Some(p) = &o.price_plan {
                line(&mut out, "price_plan", quote(p));
            }
            if let Some(p) = o.sim_pool_id {
                line(&mut out, "sim_pool_id", p.to_string());
            }
            if let Some(t) = &o.tag {
                line(&mut out, "tag", quote(t));
            }
            if let Some(w) = o.warning_ratio {
                line(&mut out, "warning_ratio", format!("{w:?}"));
            }
            if let Some(c) = o.critical_ratio {
                line(&mut out, "critical_ratio", format!("{c:?}"));
            }
        }
        out.push_str("\n[log]\n");
        let format = match self.log.format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        line(&mut out, "format", quote(format));
        out
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// Hides the password of a URL such as `postgres://user:pw@host/db`.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some(REDACTED));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => REDACTED.to_string(),
    }
}

fn config_error(e: config::ConfigError) -> ConfigError {
    // The config crate's messages already name the key ("missing field `x`", "invalid type ... for key `y`").
    ConfigError::new("config", e)
}

fn parse_duration(key: &str, raw: &str) -> Result<Duration, ConfigError> {
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

/// Checks a six-field cron string (seconds first), as tokio-cron-scheduler reads it.
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

fn ratio(key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(ConfigError::new(
            key,
            format!("{v} must be a ratio in (0, 1]"),
        ))
    }
}

fn in_range<T: PartialOrd + fmt::Display + Copy>(
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

impl RawSettings {
    fn validate(self) -> Result<Settings, ConfigError> {
        let database = DatabaseSettings {
            url: {
                let u = Url::parse(&self.database.url)
                    .map_err(|e| ConfigError::new("database.url", format!("not a URL ({e})")))?;
                if !matches!(u.scheme(), "postgres" | "postgresql") {
                    return Err(ConfigError::new(
                        "database.url",
                        "must start with postgres://",
                    ));
                }
                SecretString::from(self.database.url)
            },
            max_connections: in_range(
                "database.max_connections",
                self.database.max_connections,
                2,
                1000,
            )?,
        };
        let accounts = self
            .accounts
            .into_iter()
            .map(|(name, raw)| raw.validate(name))
            .collect::<Result<Vec<_>, _>>()?;
        let s = self.sync;
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
        let sync = SyncSettings {
            timezone,
            page_size: in_range("sync.page_size", s.page_size, 10, 500)?,
            daily_flow_batch_size: in_range(
                "sync.daily_flow_batch_size",
                s.daily_flow_batch_size,
                1,
                100,
            )?,
            monthly_batch_size: in_range("sync.monthly_batch_size", s.monthly_batch_size, 1, 500)?,
            request_timeout: parse_duration("sync.request_timeout", &s.request_timeout)?,
            connect_timeout: parse_duration("sync.connect_timeout", &s.connect_timeout)?,
            max_retries: in_range("sync.max_retries", s.max_retries, 0, 20)?,
            retry_base_delay: parse_duration("sync.retry_base_delay", &s.retry_base_delay)?,
            retry_max_delay: parse_duration("sync.retry_max_delay", &s.retry_max_delay)?,
            inventory_schedule: s.inventory_schedule,
            daily_flow_schedule: s.daily_flow_schedule,
            monthly_schedule: s.monthly_schedule,
            pools_schedule: s.pools_schedule,
            retention_days: in_range("sync.retention_days", s.retention_days, 62, 36_500)?,
            leader_lock_key: s.leader_lock_key,
            shutdown_grace: parse_duration("sync.shutdown_grace", &s.shutdown_grace)?,
        };
        let http = HttpSettings {
            listen: self.http.listen.parse().map_err(|_| {
                ConfigError::new(
                    "http.listen",
                    format!(
                        "{:?} is not an address like 127.0.0.1:9860",
                        self.http.listen
                    ),
                )
            })?,
        };
        let m = self.metrics;
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
        let metrics = MetricsSettings {
            per_sim: m.per_sim,
            min_usage_ratio: m.min_usage_ratio,
            tags: m.tags,
            shard: m.shard,
            total_shards,
            gzip_level: in_range("metrics.gzip_level", m.gzip_level, 0, 9)?,
        };
        let a = self.alerts;
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
        let alerts = AlertSettings {
            warning_ratio,
            critical_ratio,
            overrides: a.overrides,
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
            resend_interval: parse_duration("alerts.resend_interval", &a.resend_interval)?,
            notify_timeout: parse_duration("alerts.notify_timeout", &a.notify_timeout)?,
            notify_max_retries: in_range("alerts.notify_max_retries", a.notify_max_retries, 0, 20)?,
        };
        let log = LogSettings {
            format: match self.log.format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::new(
                        "log.format",
                        format!("{other:?} must be \"text\" or \"json\""),
                    ))
                }
            },
        };
        Ok(Settings {
            database,
            accounts,
            sync,
            http,
            metrics,
            alerts,
            log,
        })
    }
}

impl RawAccount {
    fn validate(self, name: String) -> Result<AccountSettings, ConfigError> {
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
                    format!("is required when auth = {:?}", self.auth),
                ))
            } else {
                Ok(())
            }
        };
        let auth = match self.auth.as_str() {
            "token" => {
                required("token", &self.token)?;
                AuthSettings::Token {
                    token: SecretString::from(self.token.clone()),
                }
            }
            "password" => {
                required("domain", &self.domain)?;
                required("user", &self.user)?;
                required("password", &self.password)?;
                AuthSettings::Password {
                    iam_endpoint: parse_url(&key("iam_endpoint"), &self.iam_endpoint)?,
                    domain: self.domain.clone(),
                    user: self.user.clone(),
                    password: SecretString::from(self.password.clone()),
                    project: self.project.clone(),
                }
            }
            "aksk" => {
                required("access_key", &self.access_key)?;
                required("secret_key", &self.secret_key)?;
                AuthSettings::AkSk {
                    access_key: self.access_key.clone(),
                    secret_key: SecretString::from(self.secret_key.clone()),
                    project_id: self.project_id.clone(),
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
            endpoint: parse_url(&key("endpoint"), &self.endpoint)?,
            list_rate_per_second: rate(&key("list_rate_per_second"), self.list_rate_per_second)?,
            total_rate_per_second: rate(&key("total_rate_per_second"), self.total_rate_per_second)?,
            auth,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)], file: Option<&str>) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = file.map(|body| {
            let p = dir.path().join("c.toml");
            std::fs::write(&p, body).unwrap();
            p
        });
        Settings::load_from(&Sources {
            file: path,
            env: Some(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        })
    }

    fn err_key(env: &[(&str, &str)], file: Option<&str>) -> String {
        load(env, file).expect_err("should be rejected").key
    }

    #[test]
    fn defaults_alone_are_valid_and_have_no_account() {
        let s = load(&[], None).unwrap();
        assert!(s.accounts.is_empty());
        assert_eq!(s.sync.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(s.sync.page_size, 500);
        assert_eq!(s.http.listen.port(), 9860);
    }

    #[test]
    fn environment_overrides_file_and_database_url_fallback() {
        let file =
            "[accounts.main]\nauth = \"token\"\ntoken = \"from-file\"\n[sync]\npage_size = 100\n";
        let s = load(
            &[
                ("GSL_SYNC__SYNC__PAGE_SIZE", "200"),
                ("DATABASE_URL", "postgres://x@h/db"),
            ],
            Some(file),
        )
        .unwrap();
        assert_eq!(s.sync.page_size, 200);
        assert_eq!(s.database.url.expose_secret(), "postgres://x@h/db");
        let s = load(
            &[
                ("GSL_SYNC__DATABASE__URL", "postgres://a@h/one"),
                ("DATABASE_URL", "postgres://b@h/two"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(s.database.url.expose_secret(), "postgres://a@h/one");
    }

    #[test]
    fn account_secrets_come_from_env_and_never_show() {
        let file = "[accounts.main]\nauth = \"password\"\ndomain = \"d\"\nuser = \"u\"\n";
        let s = load(
            &[("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "hunter2-secret")],
            Some(file),
        )
        .unwrap();
        let acct = s.account("main").unwrap();
        assert!(
            matches!(&acct.auth, AuthSettings::Password { password, .. } if password.expose_secret() == "hunter2-secret")
        );
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!s.to_redacted_toml().contains("hunter2"));
    }

    #[test]
    fn database_password_is_redacted() {
        let s = load(&[("DATABASE_URL", "postgres://u:topsecret@h/db")], None).unwrap();
        assert!(!format!("{s:?}").contains("topsecret"));
        assert!(!s.to_redacted_toml().contains("topsecret"));
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            err_key(&[("GSL_SYNC__SYNC__TIMEZONE", "Mars/Olympus")], None),
            "sync.timezone"
        );
        assert_eq!(
            err_key(&[("GSL_SYNC__SYNC__REQUEST_TIMEOUT", "soon")], None),
            "sync.request_timeout"
        );
        assert_eq!(
            err_key(&[("GSL_SYNC__SYNC__INVENTORY_SCHEDULE", "0 0 * *")], None),
            "sync.inventory_schedule"
        );
        assert_eq!(
            err_key(
                &[("GSL_SYNC__SYNC__DAILY_FLOW_SCHEDULE", "0 99 2 * * *")],
                None
            ),
            "sync.daily_flow_schedule"
        );
        assert_eq!(
            err_key(&[("GSL_SYNC__SYNC__PAGE_SIZE", "501")], None),
            "sync.page_size"
        );
        assert_eq!(
            err_key(&[("GSL_SYNC__HTTP__LISTEN", "nowhere")], None),
            "http.listen"
        );
        assert_eq!(
            err_key(&[("GSL_SYNC__ALERTS__WARNING_RATIO", "0.95")], None),
            "alerts.critical_ratio"
        );
        assert_eq!(
            err_key(&[("GSL_SYNC__LOG__FORMAT", "xml")], None),
            "log.format"
        );
        assert_eq!(
            err_key(&[("DATABASE_URL", "mysql://x")], None),
            "database.url"
        );
        assert_eq!(
            err_key(
                &[],
                Some("[accounts.main]\nauth = \"aksk\"\naccess_key = \"AK\"\n")
            ),
            "accounts.main.secret_key"
        );
        assert_eq!(
            err_key(&[], Some("[accounts.main]\nauth = \"magic\"\n")),
            "accounts.main.auth"
        );
        assert_eq!(
            err_key(
                &[],
                Some("[accounts.main]\nauth = \"token\"\ntoken = \"t\"\nendpoint = \"ftp://x\"\n")
            ),
            "accounts.main.endpoint"
        );
        assert_eq!(
            err_key(&[], Some("[[alerts.overrides]]\nwarning_ratio = 0.5\n")),
            "alerts.overrides[0]"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = load(&[], Some("[sync]\npage_sise = 10\n")).unwrap_err();
        assert!(e.problem.contains("page_sise"), "{e}");
    }

    #[test]
    fn example_config_is_valid_once_secrets_are_given() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("example.toml");
        std::fs::write(&p, EXAMPLE_TOML).unwrap();
        let s = Settings::load_from(&Sources {
            file: Some(p),
            env: Some(
                [
                    ("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "pw"),
                    ("GSL_SYNC__ACCOUNTS__LAB__SECRET_KEY", "sk"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ),
        })
        .unwrap();
        assert_eq!(s.accounts.len(), 2);
        assert_eq!(s.alerts.overrides.len(), 1);
    }

    #[test]
    fn redacted_toml_round_trips_through_the_loader() {
        let s = load(
            &[],
            Some("[accounts.main]\nauth = \"token\"\ntoken = \"tok\"\n"),
        )
        .unwrap();
        let text = s.to_redacted_toml();
        let again = load(&[], Some(&text)).unwrap();
        assert_eq!(again.to_redacted_toml(), text);
    }
}
