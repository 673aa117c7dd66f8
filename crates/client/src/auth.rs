//! Credentials: a static token, an IAM password login cached and refreshed single-flight, or AK/SK signing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::time::Instant;
use url::Url;

use super::de::parse_datetime;
use super::error::{parse_error_body, GslError};
use super::observe::{CallObserver, Operation};

/// How the client authenticates. `Debug` shows no secret (`SecretString` redacts itself).
#[derive(Debug, Clone)]
pub enum Auth {
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

const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const MAX_MARGIN: Duration = Duration::from_secs(3600);

/// When to renew a token of this lifetime: with min(1 h, lifetime/10) left.
pub fn refresh_after(lifetime: Duration) -> Duration {
    lifetime.saturating_sub(MAX_MARGIN.min(lifetime / 10))
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
    generation: u64,
}

/// The IAM token of one account; one login at a time, shared by all tasks.
#[derive(Default)]
pub struct TokenCache {
    state: tokio::sync::Mutex<Option<Cached>>,
    generation: AtomicU64,
}

/// What a password login needs besides the cache.
pub struct Login<'a> {
    pub http: &'a reqwest::Client,
    pub observer: &'a dyn CallObserver,
    pub account: &'a str,
    pub iam_endpoint: &'a Url,
    pub domain: &'a str,
    pub user: &'a str,
    pub password: &'a SecretString,
    pub project: &'a str,
}

impl TokenCache {
    /// A valid token and its generation, logging in first when none is cached or it is due for renewal.
    pub async fn get(&self, login: Login<'_>) -> Result<(SecretString, u64), GslError> {
        let mut state = self.state.lock().await;
        if let Some(c) = state.as_ref() {
            if Instant::now() < c.refresh_at {
                return Ok((c.token.clone(), c.generation));
            }
        }
        let (token, lifetime) = login.run().await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *state = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + refresh_after(lifetime),
            generation,
        });
        Ok((token, generation))
    }

    /// Drops the token of `generation` after a 401, unless another task already replaced it.
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.as_ref().is_some_and(|c| c.generation == generation) {
            *state = None;
        }
    }
}

impl Login<'_> {
    async fn run(&self) -> Result<(SecretString, Duration), GslError> {
        let started = std::time::Instant::now();
        let result = self.send().await;
        let code = match &result {
            Ok(_) => "201".to_owned(),
            Err(e) => e.label(),
        };
        self.observer
            .call_finished(self.account, Operation::Login, &code, started.elapsed());
        tracing::debug!(
            account = self.account,
            operation = "login",
            code,
            "IAM login finished"
        );
        result
    }

    async fn send(&self) -> Result<(SecretString, Duration), GslError> {
        let op = Operation::Login;
        let url = format!(
            "{}/v3/auth/tokens",
            self.iam_endpoint.as_str().trim_end_matches('/')
        );
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "password": self.password.expose_secret(),
                "domain": {"name": self.domain}}}},
            "scope": {"project": {"name": self.project}}}});
        let resp = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| transport(op, e))?;
        let status = resp.status();
        let request_id = header(&resp, "x-request-id");
        let token = header(&resp, "x-subject-token");
        let bytes = resp.bytes().await.map_err(|e| transport(op, e))?;
        if !status.is_success() {
            let eb = parse_error_body(&bytes);
            let message = eb
                .message
                .unwrap_or_else(|| format!("IAM answered HTTP {}", status.as_u16()));
            let request_id = request_id.or(eb.request_id);
            if status.is_server_error() {
                return Err(GslError::Api {
                    operation: op,
                    status: status.as_u16(),
                    code: eb.code,
                    message,
                    request_id,
                });
            }
            return Err(GslError::Auth {
                code: eb.code,
                message,
                request_id,
            });
        }
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GslError::Auth {
                code: None,
                message: "IAM answered without X-Subject-Token".into(),
                request_id: request_id.clone(),
            })?;
        Ok((SecretString::from(token), lifetime(&bytes)))
    }
}

/// The token's lifetime from `token.expires_at` (and `issued_at` when given); 24 h when absent.
fn lifetime(body: &[u8]) -> Duration {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let at = |k: &str| {
        v.pointer(&format!("/token/{k}"))
            .and_then(|s| s.as_str())
            .and_then(parse_datetime)
    };
    let Some(expires) = at("expires_at") else {
        return DEFAULT_LIFETIME;
    };
    let issued: DateTime<Utc> = at("issued_at").unwrap_or_else(Utc::now);
    (expires - issued).to_std().unwrap_or(Duration::ZERO)
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(crate) fn transport(operation: Operation, e: reqwest::Error) -> GslError {
    if e.is_timeout() {
        GslError::Timeout { operation }
    } else {
        GslError::Transport {
            operation,
            detail: e.without_url().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_is_a_tenth_up_to_an_hour() {
        let cases = [(24 * 3600, 23 * 3600), (3600, 3240), (10, 9), (0, 0)];
        for (life, want) in cases {
            assert_eq!(
                refresh_after(Duration::from_secs(life)),
                Duration::from_secs(want),
                "{life}"
            );
        }
    }

    #[test]
    fn lifetime_from_body() {
        let body = br#"{"token":{"issued_at":"2020-01-03T09:05:22.701000Z","expires_at":"2020-01-04T09:05:22.701000Z"}}"#;
        assert_eq!(lifetime(body), Duration::from_secs(86400));
        assert_eq!(lifetime(b"{}"), DEFAULT_LIFETIME);
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = Auth::Password {
            iam_endpoint: Url::parse("http://127.0.0.1/").expect("url"),
            domain: "d".into(),
            user: "u".into(),
            password: SecretString::from("hunter2-pw"),
            project: "p".into(),
        };
        let k = Auth::AkSk {
            access_key: "AK".into(),
            secret_key: SecretString::from("sk-secret"),
            project_id: "x".into(),
        };
        let t = Auth::Token {
            token: SecretString::from("tok-secret"),
        };
        let all = format!("{a:?}{k:?}{t:?}");
        for s in ["hunter2-pw", "sk-secret", "tok-secret"] {
            assert!(!all.contains(s), "{all}");
        }
    }
}
