//! Who is calling: IAM tokens the simulator issued, or AK/SK signatures; and per-user flow control.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

/// The one account the simulator knows.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub domain: String,
    pub user: String,
    pub password: SecretString,
    pub access_key: String,
    pub secret_key: SecretString,
    /// Project (region) name, e.g. `cn-north-4`.
    pub project: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            domain: "demo".into(),
            user: "demo".into(),
            password: SecretString::from("demo"),
            access_key: "DEMOAK".into(),
            secret_key: SecretString::from("DEMOSK"),
            project: "cn-north-4".into(),
        }
    }
}

impl Credentials {
    pub fn password_matches(&self, domain: &str, user: &str, password: &str) -> bool {
        domain == self.domain && user == self.user && password == self.password.expose_secret()
    }
}

/// GSL's flow control: per-user calls per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// ListSimCards, and ListSimPricePlans: each its own bucket of this rate.
    pub list_per_second: f64,
    /// Every GSL call.
    pub total_per_second: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            list_per_second: 1.0,
            total_per_second: 5.0,
        }
    }
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Tokens {
    live: Mutex<HashMap<String, (String, Instant)>>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Unknown,
    Expired,
}

impl Tokens {
    pub fn issue(&self, user: &str, lifetime: Duration) -> Issued {
        let mut rng = rand::thread_rng();
        let body: String = (0..256)
            .map(|_| {
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        [rng.gen_range(0..62)],
                )
            })
            .collect();
        let token = format!("MIIP{body}");
        let issued_at = Utc::now();
        let expires_at =
            issued_at + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(1));
        if let Ok(mut live) = self.live.lock() {
            live.insert(token.clone(), (user.to_owned(), Instant::now() + lifetime));
        }
        Issued {
            token,
            issued_at,
            expires_at,
        }
    }

    /// The user a token belongs to.
    pub fn check(&self, token: &str) -> Result<String, TokenError> {
        let live = self.live.lock().map_err(|_| TokenError::Unknown)?;
        let (user, until) = live.get(token).ok_or(TokenError::Unknown)?;
        if Instant::now() >= *until {
            return Err(TokenError::Expired);
        }
        Ok(user.clone())
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, rate: f64, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(rate.max(1.0));
        self.at = now;
    }
}

/// Token buckets per (user, class): capacity = rate, refilled at rate per second. The class is `""` for
/// the total, or the operation whose own 1/s limit applies.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<(String, &'static str), Bucket>>,
}

impl Limiter {
    /// None when admitted; otherwise the limit that was hit. `lane` names an operation with its own
    /// limit (ListSimCards, ListSimPricePlans: `list_per_second` each).
    pub fn admit(
        &self,
        limits: &RateLimits,
        user: &str,
        lane: Option<&'static str>,
    ) -> Option<f64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().ok()?;
        let mut classes = vec![("", limits.total_per_second)];
        if let Some(lane) = lane {
            classes.push((lane, limits.list_per_second));
        }
        for &(class, rate) in &classes {
            let b = buckets.entry((user.to_owned(), class)).or_insert(Bucket {
                tokens: rate.max(1.0),
                at: now,
            });
            b.refill(rate, now);
            if b.tokens < 1.0 {
                return Some(rate);
            }
        }
        for &(class, _) in &classes {
            if let Some(b) = buckets.get_mut(&(user.to_owned(), class)) {
                b.tokens -= 1.0;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_beyond_capacity_is_refused() {
        let l = Limiter::default();
        let limits = RateLimits::default();
        let admitted = (0..10)
            .filter(|_| l.admit(&limits, "u", Some("list_sim_cards")).is_none())
            .count();
        assert_eq!(admitted, 1);
        // The price-plan lane is its own 1/s: one more call of the 5/s total goes through.
        let plans = (0..10)
            .filter(|_| {
                l.admit(&limits, "u", Some("list_sim_price_plans"))
                    .is_none()
            })
            .count();
        assert_eq!(plans, 1);
        let other = (0..10)
            .filter(|_| l.admit(&limits, "v", None).is_none())
            .count();
        assert_eq!(other, 5);
    }

    #[test]
    fn tokens_expire() {
        let t = Tokens::default();
        let issued = t.issue("demo", Duration::from_secs(3600));
        assert_eq!(t.check(&issued.token), Ok("demo".to_owned()));
        assert_eq!(t.check("nope"), Err(TokenError::Unknown));
        let dead = t.issue("demo", Duration::ZERO);
        assert_eq!(t.check(&dead.token), Err(TokenError::Expired));
    }
}
