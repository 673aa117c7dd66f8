//! The daemon's side of the guard: one pass over every account, never two at once.

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
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
    busy: tokio::sync::Mutex<()>,
}

impl GuardRunner {
    pub fn new(settings: GuardSettings, timezone: Tz, observer: Arc<dyn GuardObserver>) -> Self {
        Self {
            settings,
            timezone,
            observer,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// One pass over every account of `engine`, side by side; skipped while the previous one runs.
    pub async fn pass(
        &self,
        engine: &Engine,
        store: &Store,
        fence: &Fence,
        cancel: &CancellationToken,
    ) {
        let Ok(_running) = self.busy.try_lock() else {
            tracing::debug!("a guard pass is still running; this one is skipped");
            return;
        };
        let clock = GuardClock::at(Utc::now(), self.timezone);
        let passes = engine.accounts().iter().map(|account| {
            let span = tracing::info_span!("job", account = %account.name, job = "guard");
            async move {
                let r = guard_account(
                    &account.client,
                    store,
                    &self.settings,
                    fence,
                    cancel,
                    self.observer.as_ref(),
                    clock,
                )
                .await;
                match r {
                    Ok(report) => tracing::debug!(?report, "guard pass finished"),
                    Err(e) => tracing::warn!(error = %e, "guard pass failed"),
                }
            }
            .instrument(span)
        });
        futures::future::join_all(passes).await;
    }
}
