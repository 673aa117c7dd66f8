//! The daemon's side of the guard: for each account whose lease this replica holds, one pass after its
//! night's daily flow and one every `guard.interval`, one after another, never two at once.

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::observe::GuardObserver;
use super::run::{guard_account, GuardClock};
use super::settings::GuardSettings;
use crate::engine::Engine;
use gsl_store::{Fence, Store};

/// What the daemon needs to run guard passes.
pub struct GuardRunner {
    pub settings: GuardSettings,
    /// `sync.timezone`: the carrier's day, for the daily brake and the billing cycle.
    pub timezone: Tz,
    pub observer: Arc<dyn GuardObserver>,
}

impl GuardRunner {
    pub fn new(settings: GuardSettings, timezone: Tz, observer: Arc<dyn GuardObserver>) -> Self {
        Self {
            settings,
            timezone,
            observer,
        }
    }

    /// Passes over `account` on every tick and every `wake` until `cancel` (the lease is given up or
    /// the daemon stops); `fence` is the account's lease.
    pub async fn run_account(
        &self,
        engine: &Engine,
        store: &Store,
        account: &str,
        fence: &Fence,
        wake: &Notify,
        cancel: &CancellationToken,
    ) {
        let Some(client) = engine
            .accounts()
            .iter()
            .find(|a| a.name == account)
            .map(|a| a.client.clone())
        else {
            return;
        };
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
                _ = wake.notified() => {}
            }
            let clock = GuardClock::at(Utc::now(), self.timezone);
            let span = tracing::info_span!("job", account = %account, job = "guard");
            let pass = guard_account(
                &client,
                store,
                &self.settings,
                fence,
                cancel,
                self.observer.as_ref(),
                clock,
            );
            match pass.instrument(span).await {
                Ok(report) => tracing::debug!(?report, "guard pass finished"),
                Err(e) => tracing::warn!(error = %e, "guard pass failed"),
            }
        }
    }
}
