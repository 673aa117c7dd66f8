//! `GuardSettings`: the validated `[guard]` section and its `[[guard.policies]]`. Built by the binary's
//! configuration; this crate never reads files or the environment.

use std::time::Duration;

use gsl_domain::{CardAction, PoolId};

/// Whether a policy's decisions are sent to the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Recorded and announced, nothing sent (the default).
    DryRun,
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry_run",
            Mode::Enforce => "enforce",
        }
    }
}

/// When an enforced action is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    /// At the start of the card's next billing cycle.
    NextCycle,
    /// Only by `gsl-sync guard undo`.
    Manual,
}

impl Restore {
    pub fn as_str(self) -> &'static str {
        match self {
            Restore::NextCycle => "next_cycle",
            Restore::Manual => "manual",
        }
    }
}

/// The conditions of a policy: it matches a card when any one that is set holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// used / (used + left) at or above this.
    pub min_ratio: Option<f64>,
    /// The projection alert's days to exhaustion at or below this.
    pub projected_days: Option<f64>,
    /// The anomaly alert fires for the card.
    pub anomaly: bool,
    /// Nothing left and something used.
    pub over_quota: bool,
}

/// Which cards a policy looks at: all that are set must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub account: Option<String>,
    pub price_plan: Option<String>,
    pub sim_pool_id: Option<PoolId>,
    pub tag: Option<String>,
}

/// One `[[guard.policies]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub when: Conditions,
    pub scope: Scope,
    pub action: CardAction,
    /// For `speed_limit`.
    pub speed_kbps: Option<u32>,
    pub mode: Mode,
    pub restore: Restore,
    /// At most this many decisions per hour.
    pub max_per_hour: u32,
}

impl Policy {
    pub fn applies_to(&self, account: &str) -> bool {
        self.scope.account.as_deref().is_none_or(|a| a == account)
    }
}

/// The validated `[guard]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    /// A policy acts on at most this share of an account's cards in a day.
    pub fleet_brake: Option<f64>,
    /// ... and at most this many of them.
    pub fleet_brake_cards: Option<u64>,
    /// How often the daemon runs a guard pass besides after the nightly jobs.
    pub interval: Duration,
    /// A sent order is looked up again at most this often until the carrier confirms it.
    pub order_check: Duration,
    pub policies: Vec<Policy>,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            fleet_brake: Some(0.01),
            fleet_brake_cards: None,
            interval: Duration::from_secs(300),
            order_check: Duration::from_secs(60),
            policies: Vec::new(),
        }
    }
}

impl GuardSettings {
    /// The most cards a policy may decide on in a day on an account of `fleet_cards` cards.
    pub fn daily_limit(&self, fleet_cards: i64) -> i64 {
        let by_share = self
            .fleet_brake
            .map(|s| (s * fleet_cards.max(0) as f64).floor() as i64);
        let by_count = self
            .fleet_brake_cards
            .map(|c| i64::try_from(c).unwrap_or(i64::MAX));
        match (by_share, by_count) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => i64::MAX,
        }
    }
}
