//! How the guard reports what it does, so the edge can count it and ring the notifier without this crate
//! knowing about metrics or delivery.

/// Receives one event per guard decision or order outcome, and one per finished pass.
pub trait GuardObserver: Send + Sync + 'static {
    /// `result`: `dry_run`, `queued`, `refused` (decisions); `sent`, `deferred`, `failed`, `completed`,
    /// `restore_sent`, `restore_failed`, `restored`, `expired`, `dismissed` (orders); `braked` (the fleet
    /// brake held the policy).
    fn guard_action(&self, account: &str, policy: &str, action: &str, mode: &str, result: &str);
    /// A pass over `account` ended; `announced` when it recorded something the receivers should hear.
    fn guard_pass_finished(&self, _account: &str, _announced: bool) {}
}

/// Observes nothing: for tests and one-shot tools.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopGuardObserver;

impl GuardObserver for NoopGuardObserver {
    fn guard_action(&self, _: &str, _: &str, _: &str, _: &str, _: &str) {}
}

/// Every `result` label `gsl_guard_actions_total` can carry.
pub const GUARD_RESULTS: [&str; 13] = [
    "dry_run",
    "queued",
    "refused",
    "sent",
    "deferred",
    "failed",
    "completed",
    "restore_sent",
    "restore_failed",
    "restored",
    "expired",
    "dismissed",
    "braked",
];
