//! Every replica serves current gauges: the syncer refreshes its own after each job and announces it; the
//! others refresh when they hear that (LISTEN/NOTIFY), or, where LISTEN is unavailable, when a cheap poll
//! of `sync_runs` shows a newly finished run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::metrics::{MetricsOptions, SimGauges};
use crate::store::{Heard, Store};
use crate::telemetry::Telemetry;

/// How long further announcements are gathered into one refresh (the night's jobs finish close together).
const COALESCE: Duration = Duration::from_millis(300);
const POLL_EVERY: Duration = Duration::from_secs(10);
/// How long the poll stands in before LISTEN is tried again.
const POLL_SPELL: Duration = Duration::from_secs(60);

pub struct Follower {
    pub store: Store,
    pub gauges: SimGauges,
    pub metrics: MetricsOptions,
    pub telemetry: Telemetry,
    /// This replica's holder name: its own announcements are skipped.
    pub me: String,
}

impl Follower {
    pub async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            match self.store.listen_refreshes().await {
                Ok(listener) => self.listen(listener, &stop).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for finished jobs; polling sync_runs instead");
                    self.poll(&stop).await;
                }
            }
        }
    }

    async fn listen(&self, mut listener: crate::store::RefreshListener, stop: &CancellationToken) {
        loop {
            let heard = tokio::select! {
                _ = stop.cancelled() => return,
                heard = listener.next() => heard,
            };
            match heard {
                Ok(Heard::Finished { holder }) if holder == self.me => continue,
                Ok(_) => {
                    // Gather what follows closely, then refresh once.
                    while let Ok(Ok(_)) = tokio::time::timeout(COALESCE, listener.next()).await {}
                    self.refresh().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the LISTEN connection for finished jobs");
                    self.poll(stop).await;
                    return;
                }
            }
        }
    }

    /// Polls for `POLL_SPELL`, refreshing whenever a run finished since the last look.
    async fn poll(&self, stop: &CancellationToken) {
        let mut seen: Option<DateTime<Utc>> = None;
        let until = tokio::time::Instant::now() + POLL_SPELL;
        while tokio::time::Instant::now() < until {
            match self.store.latest_run_finished().await {
                Ok(latest) if latest != seen => {
                    if seen.is_some() {
                        self.refresh().await;
                    }
                    seen = latest;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "could not poll sync_runs"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        // Runs finished while LISTEN was down may have been missed: refresh once on the way back.
        self.refresh().await;
    }

    async fn refresh(&self) {
        match self.gauges.refresh(&self.store, &self.metrics).await {
            Ok(stats) => tracing::debug!(?stats, "gauges refreshed after the syncer's job"),
            Err(e) => tracing::error!(error = %e, "could not refresh the gauges"),
        }
        if let Err(e) = self.telemetry.seed_from_store(&self.store).await {
            tracing::warn!(error = %e, "could not read the last runs for the freshness gauges");
        }
    }
}
