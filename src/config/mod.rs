//! Configuration: embedded defaults → file → `GSL_SYNC__…` environment, validated once into typed values.
//!
//! `raw` is the layered form (every key, as written), `validate` turns it into the typed settings each crate
//! defines for itself, `redact` keeps secrets out of `Debug` and `config check`. Nothing else in the program
//! reads files or environment variables for settings.

mod guard;
mod raw;
mod redact;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use gsl_alerts::AlertSettings;
use gsl_client::{Auth, ClientSettings};
use gsl_jobs::guard::GuardSettings;
use gsl_jobs::{SyncSettings, WatchSettings};
use gsl_metrics::MetricsSettings;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use redact::redact_url;
pub use validate::validate_cron;

/// The commented defaults, embedded so the binary runs without any file.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// The commented example printed by `config example`.
pub const EXAMPLE_TOML: &str = include_str!("../../config/example.toml");

const ENV_PREFIX: &str = "GSL_SYNC";

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
#[derive(Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub accounts: Vec<AccountSettings>,
    pub sync: SyncSettings,
    pub http: HttpSettings,
    pub metrics: MetricsSettings,
    pub alerts: AlertSettings,
    pub guard: GuardSettings,
    pub log: LogSettings,
    /// `[watch]` (0.2): real-time re-checks of the cards at risk.
    pub watch: WatchSettings,
    /// This replica's name in `sync_runs` and leases: `$HOSTNAME:PID`.
    pub instance: String,
    /// True when a file or the environment set the database, not only the built-in default.
    pub database_explicit: bool,
    raw: raw::RawSettings,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every part redacts its own secrets; the raw form is left out (it is what `config check` prints).
        f.debug_struct("Settings")
            .field("database", &self.database)
            .field("accounts", &self.accounts)
            .field("sync", &self.sync)
            .field("http", &self.http)
            .field("metrics", &self.metrics)
            .field("alerts", &self.alerts)
            .field("guard", &self.guard)
            .field("log", &self.log)
            .field("watch", &self.watch)
            .finish()
    }
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

/// One GSL account: where it is, how it authenticates (`Auth` redacts its own secrets) and its rate budget.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub name: String,
    pub endpoint: Url,
    pub auth: Auth,
    pub list_rate_per_second: f64,
    pub total_rate_per_second: f64,
}

impl AccountSettings {
    /// The client's settings for this account, with the timeouts and retries of `[sync]`.
    pub fn client_settings(&self, sync: &SyncSettings) -> ClientSettings {
        ClientSettings {
            account: self.name.clone(),
            endpoint: self.endpoint.clone(),
            auth: self.auth.clone(),
            list_rate_per_second: self.list_rate_per_second,
            total_rate_per_second: self.total_rate_per_second,
            request_timeout: sync.request_timeout,
            connect_timeout: sync.connect_timeout,
            max_retries: sync.max_retries,
            retry_base_delay: sync.retry_base_delay,
            retry_max_delay: sync.retry_max_delay,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// Access control, bounds and timeouts of the server (`HttpOptions` redacts its tokens).
    pub options: crate::http::HttpOptions,
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
        let layer = match &file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::new(
                    "--config",
                    format!("{} does not exist", path.display()),
                ))
            }
            Some(path) => Some(config::File::from(path.as_path()).format(config::FileFormat::Toml)),
            None => None,
        };
        Self::load_layers(layer, env)
    }

    /// Loads `toml` as if it were the `--config` file, with `env` as the environment (no file is read):
    /// what `config check` round-trips and what the fuzz tests feed.
    pub fn load_from_toml(toml: &str, env: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        Self::load_layers(
            Some(config::File::from_str(toml, config::FileFormat::Toml)),
            env,
        )
    }

    /// Defaults, then `file` (when given), then `env`.
    fn load_layers<F>(file: Option<F>, env: BTreeMap<String, String>) -> Result<Self, ConfigError>
    where
        F: config::Source + Send + Sync + 'static,
    {
        let explicit_file = file.is_some();
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(file) = file {
            builder = builder.add_source(file);
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
        let raw: raw::RawSettings = merged.try_deserialize().map_err(config_error)?;
        let host = env.get("HOSTNAME").map_or("gsl-sync", String::as_str);
        let mut settings = raw.validate(format!("{host}:{}", std::process::id()))?;
        settings.database_explicit =
            explicit_file || env.contains_key("DATABASE_URL") || env.contains_key(&db_key);
        Ok(settings)
    }

    pub fn account(&self, name: &str) -> Option<&AccountSettings> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The configuration as loaded, as TOML, with every secret replaced by `***`; it loads back as the
    /// same settings (secrets aside). Changes made to the typed fields after loading are not in it.
    pub fn to_redacted_toml(&self) -> String {
        // Serializing plain strings, numbers, tables and arrays cannot fail.
        toml::to_string(&self.raw.redacted()).unwrap_or_default()
    }
}

fn config_error(e: config::ConfigError) -> ConfigError {
    // The config crate's messages already name the key ("missing field `x`", "invalid type ... for key `y`").
    ConfigError::new("config", e)
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
            matches!(&acct.auth, Auth::Password { password, .. } if password.expose_secret() == "hunter2-secret")
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
        assert_eq!(format!("{again:?}"), format!("{s:?}"), "the same settings");
    }

    #[test]
    fn watch_defaults_and_errors_that_say_what_to_fix() {
        let s = load(&[], None).unwrap();
        let w = &s.watch;
        assert!(w.enabled);
        assert_eq!((w.ratio, w.days, w.budget_share), (0.7, 3, 0.5));
        assert_eq!(w.interval, std::time::Duration::from_secs(900));
        assert_eq!(w.projection_window_days, s.alerts.projection_window_days);
        let s = load(&[], Some("[watch]\niccids = [\"89860000000000000001\"]\n")).unwrap();
        assert_eq!(s.watch.iccids, ["89860000000000000001"]);
        assert!(
            s.to_redacted_toml().contains("89860000000000000001"),
            "config check prints it"
        );
        for (env, key) in [
            (("GSL_SYNC__WATCH__RATIO", "1.5"), "watch.ratio"),
            (("GSL_SYNC__WATCH__BUDGET_SHARE", "0"), "watch.budget_share"),
            (("GSL_SYNC__WATCH__INTERVAL", "0s"), "watch.interval"),
            (("GSL_SYNC__WATCH__INTERVAL", "soon"), "watch.interval"),
            (("GSL_SYNC__WATCH__DAYS", "400"), "watch.days"),
        ] {
            assert_eq!(err_key(&[env], None), key, "{env:?}");
        }
        let e = load(&[], Some("[watch]\niccids = [\"89 86\"]\n")).expect_err("bad ICCID");
        assert_eq!(e.key, "watch.iccids[0]");
        let e = load(&[("GSL_SYNC__WATCH__BUDGET_SHARE", "0")], None).expect_err("share 0");
        assert!(e.problem.contains("watch.enabled = false"), "{}", e.problem);
    }

    #[test]
    fn check_output_is_toml_even_with_unusual_characters() {
        let file = "[accounts.main]\nauth = \"password\"\ndomain = \"d\\u0301\\u200b\\\"q\"\nuser = \"用户\"\npassword = \"pw\"\n\
                    [[alerts.overrides]]\ntag = \"华北，x\"\nwarning_ratio = 0.5\n";
        let s = load(&[], Some(file)).unwrap();
        let text = s.to_redacted_toml();
        let value: toml::Value = text.parse().expect("config check prints TOML");
        assert_eq!(
            value["accounts"]["main"]["domain"].as_str(),
            Some("d\u{301}\u{200b}\"q")
        );
        assert_eq!(value["accounts"]["main"]["password"].as_str(), Some("***"));
        let again = load(&[], Some(&text)).unwrap();
        assert_eq!(format!("{again:?}"), format!("{s:?}"));
    }

    #[test]
    fn sentinel_credentials_in_every_url_never_show() {
        let s = load(
            &[
                ("DATABASE_URL", "postgres://u:SENTINEL_DB@h/db"),
                (
                    "GSL_SYNC__ALERTS__ALERTMANAGER_URL",
                    "https://am:SENTINEL_AM@am.example",
                ),
                (
                    "GSL_SYNC__ALERTS__WEBHOOK_URL",
                    "https://SENTINEL_HOOK@hook.example/x",
                ),
            ],
            None,
        )
        .unwrap();
        for shown in [format!("{s:?}"), s.to_redacted_toml()] {
            assert!(!shown.contains("SENTINEL"), "{shown}");
        }
    }

    #[test]
    fn sentinel_tokens_in_queries_and_http_keys_never_show() {
        let s = load(
            &[
                (
                    "DATABASE_URL",
                    "postgres://u@h/db?password=SENTINEL_DBQ&sslmode=prefer",
                ),
                (
                    "GSL_SYNC__ALERTS__WEBHOOK_URL",
                    "https://hook.example/x?token=SENTINEL_HOOKQ",
                ),
                ("GSL_SYNC__HTTP__API_TOKEN", "SENTINEL_API"),
                ("GSL_SYNC__HTTP__METRICS_TOKEN", "SENTINEL_METRICS"),
            ],
            None,
        )
        .unwrap();
        assert!(s.http.options.api_token.is_some());
        for shown in [format!("{s:?}"), s.to_redacted_toml()] {
            assert!(!shown.contains("SENTINEL"), "{shown}");
        }
        let again = load(&[], Some(&s.to_redacted_toml())).unwrap();
        assert!(
            again.http.options.metrics_token.is_some(),
            "a redacted token stays set"
        );
    }

    #[test]
    fn http_bounds_are_checked() {
        for (key, value) in [
            ("GSL_SYNC__HTTP__MAX_CONCURRENT_REPORTS", "0"),
            ("GSL_SYNC__HTTP__REQUEST_TIMEOUT", "0s"),
            ("GSL_SYNC__HTTP__HEADER_READ_TIMEOUT", "soon"),
        ] {
            let e = load(&[(key, value)], None).unwrap_err().to_string();
            assert!(e.contains("http."), "{key}: {e}");
        }
    }

    mod fuzz {
        //! The config loader as a fuzz target: any TOML text and any environment load or fail with a
        //! `ConfigError`, never a panic.
        use super::*;
        use proptest::prelude::*;

        const KEYS: &[&str] = &[
            "database.url",
            "database.max_connections",
            "sync.timezone",
            "sync.page_size",
            "sync.request_timeout",
            "sync.max_retries",
            "sync.inventory_schedule",
            "sync.shutdown_grace",
            "sync.retention_days",
            "http.listen",
            "http.api_token",
            "http.max_concurrent_reports",
            "http.header_read_timeout",
            "metrics.shard",
            "metrics.total_shards",
            "metrics.tags",
            "metrics.min_usage_ratio",
            "alerts.warning_ratio",
            "alerts.critical_ratio",
            "alerts.webhook_url",
            "alerts.notify_timeout",
            "accounts.main.auth",
            "accounts.main.endpoint",
            "accounts.main.list_rate_per_second",
            "accounts.x.password",
            "log.format",
        ];

        fn toml_value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|v| v.to_string()),
                any::<f64>().prop_map(|v| format!("{v:?}")),
                any::<bool>().prop_map(|v| v.to_string()),
                ".{0,20}".prop_map(|s| format!("{s:?}")),
                "[0-9]{1,4}(ms|s|m|h|d|x)?".prop_map(|s| format!("{s:?}")),
                proptest::collection::vec(".{0,5}", 0..3).prop_map(|v| format!("{v:?}")),
                Just("inf".to_owned()),
                Just("nan".to_owned()),
                Just("{}".to_owned()),
            ]
        }

        fn settings_toml() -> impl Strategy<Value = String> {
            proptest::collection::vec((prop::sample::select(KEYS), toml_value()), 0..8).prop_map(
                |pairs| {
                    pairs
                        .into_iter()
                        .map(|(k, v)| {
                            let (table, key) = k.rsplit_once('.').unwrap_or(("", k));
                            format!("[{table}]\n{key} = {v}\n")
                        })
                        .collect()
                },
            )
        }

        proptest! {
            #[test]
            fn fuzz_config_loader_takes_any_text(text in ".{0,300}") {
                let _ = Settings::load_from_toml(&text, BTreeMap::new());
            }

            #[test]
            fn fuzz_config_loader_takes_any_settings_shaped_toml(text in settings_toml()) {
                if let Ok(s) = Settings::load_from_toml(&text, BTreeMap::new()) {
                    // What loads prints as TOML that loads again.
                    let again = Settings::load_from_toml(&s.to_redacted_toml(), BTreeMap::new());
                    prop_assert!(again.is_ok(), "{text}\n{again:?}");
                }
            }

            #[test]
            fn fuzz_config_loader_takes_any_environment(
                pairs in proptest::collection::btree_map(
                    prop::sample::select(KEYS).prop_map(|k| format!("GSL_SYNC__{}", k.replace('.', "__").to_uppercase())),
                    ".{0,20}",
                    0..6,
                )
            ) {
                let _ = Settings::load_from_toml("", pairs);
            }
        }
    }
}
