//! `gsl_guard_actions_total{account,policy,action,mode,result}`: every guard decision and order outcome,
//! counted where the guard reports it (`GuardObserver`).

use prometheus::{IntCounterVec, Opts, Registry};

use super::Telemetry;
use crate::config::Settings;
use gsl_jobs::guard::{GuardObserver, GUARD_RESULTS};

pub(super) fn guard_actions_family(registry: &Registry) -> IntCounterVec {
    let family = IntCounterVec::new(
        Opts::new(
            "gsl_guard_actions_total",
            "Guard decisions and their work orders, by policy, action, mode and result.",
        ),
        &["account", "policy", "action", "mode", "result"],
    )
    .expect("valid metric");
    registry
        .register(Box::new(family.clone()))
        .expect("unique metric");
    family
}

impl Telemetry {
    /// Every series a configured policy can move, at 0 (as `seed_zeros` does for the sync families).
    pub fn seed_guard_zeros(&self, settings: &Settings) {
        for account in &settings.accounts {
            for p in settings
                .guard
                .policies
                .iter()
                .filter(|p| p.applies_to(&account.name))
            {
                for result in GUARD_RESULTS {
                    self.guard_actions.with_label_values(&[
                        account.name.as_str(),
                        p.name.as_str(),
                        p.action.as_str(),
                        p.mode.as_str(),
                        result,
                    ]);
                }
            }
        }
    }
}

impl GuardObserver for Telemetry {
    fn guard_action(&self, account: &str, policy: &str, action: &str, mode: &str, result: &str) {
        self.guard_actions
            .with_label_values(&[account, policy, action, mode, result])
            .inc();
    }
}
