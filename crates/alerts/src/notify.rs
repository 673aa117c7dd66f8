//! `Notifier`: delivers due episodes from the `alerts` outbox to Alertmanager and the webhook.
//!
//! Delivery is tracked per receiver (`alert_deliveries`), so a receiver that is down only delays its own
//! notifications: what failed stays due and goes out on the next pass. Counters count alerts, per batch.
//! A resolved episode is announced only to receivers that were told it fired: an episode that opened and
//! closed while a receiver was unreachable is not replayed to it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::payload::{alertmanager_alert, webhook_body};
use crate::settings::AlertSettings;
use gsl_domain::backoff;
use gsl_store::alerts::DueAlert;
use gsl_store::Store;

/// Alerts per POST: Alertmanager takes arrays, but one huge body helps nobody.
pub const DEFAULT_BATCH_SIZE: usize = 500;
/// How many resend intervals ahead a firing alert's `endsAt` lies.
const ENDS_AT_INTERVALS: u32 = 4;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Told how many alerts each POST carried and whether it succeeded (the binary counts them).
pub trait DeliveryObserver: Send + Sync {
    fn delivered(&self, receiver: &str, result: &str, alerts: u64);
}

/// Counts nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopDeliveryObserver;

impl DeliveryObserver for NoopDeliveryObserver {
    fn delivered(&self, _: &str, _: &str, _: u64) {}
}

/// A configured destination; its name is the `receiver` label and the key in `alert_deliveries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    Alertmanager,
    Webhook,
}

impl Receiver {
    pub fn name(self) -> &'static str {
        match self {
            Receiver::Alertmanager => "alertmanager",
            Receiver::Webhook => "webhook",
        }
    }
}

/// Why a POST failed; never carries the URL (it may hold credentials).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("receiver answered HTTP {0}")]
    Status(StatusCode),
    #[error("request failed: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl NotifyError {
    fn retryable(&self) -> bool {
        match self {
            NotifyError::Status(s) => {
                s.is_server_error()
                    || *s == StatusCode::TOO_MANY_REQUESTS
                    || *s == StatusCode::REQUEST_TIMEOUT
            }
            NotifyError::Transport(_) => true,
            NotifyError::Client(_) => false,
        }
    }
}

/// Alerts delivered and not delivered in one pass, summed over receivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub sent: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for DeliveryStats {
    fn add_assign(&mut self, o: Self) {
        self.sent += o.sent;
        self.failed += o.failed;
    }
}

/// Delivers due episodes; cheap to share behind an `Arc`.
pub struct Notifier {
    store: Store,
    client: reqwest::Client,
    targets: Vec<(Receiver, Url)>,
    resend: chrono::Duration,
    max_retries: u32,
    retry_base: Duration,
    batch_size: usize,
    observer: Arc<dyn DeliveryObserver>,
}

impl Notifier {
    /// A notifier for the receivers configured in `settings` (none configured: every pass is a no-op).
    pub fn new(
        store: Store,
        settings: &AlertSettings,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Result<Self, NotifyError> {
        let client = reqwest::Client::builder()
            .timeout(settings.notify_timeout)
            .connect_timeout(settings.notify_timeout)
            .build()
            .map_err(NotifyError::Client)?;
        let mut targets = Vec::new();
        if let Some(base) = &settings.alertmanager_url {
            let url = format!("{}/api/v2/alerts", base.as_str().trim_end_matches('/'));
            if let Ok(url) = Url::parse(&url) {
                targets.push((Receiver::Alertmanager, url));
            }
        }
        if let Some(url) = &settings.webhook_url {
            targets.push((Receiver::Webhook, url.clone()));
        }
        // At least a second, so that what was just sent is never due again in the same pass.
        let resend = settings.resend_interval.max(Duration::from_secs(1));
        Ok(Self {
            store,
            client,
            targets,
            resend: chrono::Duration::from_std(resend).unwrap_or(chrono::Duration::hours(1)),
            max_retries: settings.notify_max_retries,
            retry_base: Duration::from_millis(500),
            batch_size: DEFAULT_BATCH_SIZE,
            observer,
        })
    }

    /// Alerts per POST (at least 1).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// The first back-off between retries (tests shorten it).
    pub fn with_retry_base_delay(mut self, d: Duration) -> Self {
        self.retry_base = d;
        self
    }

    pub fn receivers(&self) -> Vec<Receiver> {
        self.targets.iter().map(|(r, _)| *r).collect()
    }

    /// Delivers due alerts every `every` and whenever `wake` is notified, until `stop` is cancelled. A stop
    /// ends a pass in flight at once: what was not sent stays due in the outbox for the next process.
    /// Delivers on every `wake` and every `every` until `stop`, skipping the rounds where `active` says
    /// no (a replica that does not sync leaves delivery to the one that does, so nothing is sent twice).
    pub async fn run(
        &self,
        every: Duration,
        wake: &tokio::sync::Notify,
        active: &(dyn Fn() -> bool + Sync),
        stop: tokio_util::sync::CancellationToken,
    ) {
        if self.targets.is_empty() {
            return;
        }
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
                _ = wake.notified() => {}
            }
            if !active() {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.deliver_due() => {}
            }
        }
    }

    /// Sends everything due now to every receiver, receivers in parallel.
    pub async fn deliver_due(&self) -> DeliveryStats {
        self.deliver_due_at(Utc::now()).await
    }

    /// As `deliver_due`, with the clock given (what is due and the recorded send times follow `now`).
    pub async fn deliver_due_at(&self, now: DateTime<Utc>) -> DeliveryStats {
        let passes = self
            .targets
            .iter()
            .map(|(receiver, url)| self.deliver_to(*receiver, url, now));
        let mut total = DeliveryStats::default();
        for s in futures::future::join_all(passes).await {
            total += s;
        }
        total
    }

    async fn deliver_to(&self, receiver: Receiver, url: &Url, now: DateTime<Utc>) -> DeliveryStats {
        let mut stats = DeliveryStats::default();
        loop {
            let due = match self
                .store
                .due_alerts(receiver.name(), now - self.resend, self.batch_size as i64)
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(receiver = receiver.name(), %error, "cannot read due alerts");
                    return stats;
                }
            };
            let full = due.len() >= self.batch_size;
            let (resolved, firing): (Vec<DueAlert>, Vec<DueAlert>) =
                due.into_iter().partition(|a| a.resolved_at.is_some());
            for (is_resolved, batch) in [(false, firing), (true, resolved)] {
                if batch.is_empty() {
                    continue;
                }
                match self
                    .send_batch(receiver, url, is_resolved, &batch, now)
                    .await
                {
                    Ok(()) => stats.sent += batch.len() as u64,
                    Err(()) => {
                        stats.failed += batch.len() as u64;
                        return stats;
                    }
                }
            }
            if !full {
                return stats;
            }
        }
    }

    /// Posts one batch with retries, records it, counts it; `Err` ends this receiver's pass.
    async fn send_batch(
        &self,
        receiver: Receiver,
        url: &Url,
        resolved: bool,
        batch: &[DueAlert],
        now: DateTime<Utc>,
    ) -> Result<(), ()> {
        let firing_until = now + self.resend * ENDS_AT_INTERVALS as i32;
        let body = match receiver {
            Receiver::Alertmanager => Value::Array(
                batch
                    .iter()
                    .map(|a| alertmanager_alert(a, firing_until))
                    .collect(),
            ),
            Receiver::Webhook => webhook_body(resolved, batch, firing_until),
        };
        let counter = |result: &str| {
            self.observer
                .delivered(receiver.name(), result, batch.len() as u64)
        };
        if let Err(error) = self.post_with_retries(url, &body).await {
            counter("failure");
            let status = match &error {
                NotifyError::Status(s) => s.as_u16(),
                _ => 0,
            };
            tracing::warn!(
                receiver = receiver.name(),
                status,
                %error,
                alerts = batch.len(),
                "alert delivery failed; the alerts stay due"
            );
            return Err(());
        }
        let ids: Vec<i64> = batch.iter().map(|a| a.id).collect();
        let recorded = if resolved {
            self.store
                .mark_resolve_sent(receiver.name(), &ids, now)
                .await
        } else {
            self.store
                .mark_firing_sent(receiver.name(), &ids, now)
                .await
        };
        if let Err(error) = recorded {
            // Sent but not recorded: they go out again next pass, which receivers tolerate.
            tracing::warn!(receiver = receiver.name(), %error, "cannot record alert delivery");
        }
        counter("success");
        tracing::debug!(
            receiver = receiver.name(),
            alerts = batch.len(),
            resolved,
            "alerts delivered"
        );
        Ok(())
    }

    async fn post_with_retries(&self, url: &Url, body: &Value) -> Result<(), NotifyError> {
        let mut attempt = 0;
        loop {
            match self.post(url, body).await {
                Ok(()) => return Ok(()),
                Err(e) if e.retryable() && attempt < self.max_retries => {
                    tracing::debug!(attempt, error = %e, "alert POST failed; retrying");
                    tokio::time::sleep(backoff::delay(self.retry_base, MAX_BACKOFF, attempt, None))
                        .await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn post(&self, url: &Url, body: &Value) -> Result<(), NotifyError> {
        let response = self
            .client
            .post(url.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| NotifyError::Transport(e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(NotifyError::Status(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_failures_are_retried() {
        let cases = [
            (StatusCode::SERVICE_UNAVAILABLE, true),
            (StatusCode::TOO_MANY_REQUESTS, true),
            (StatusCode::BAD_REQUEST, false),
            (StatusCode::NOT_FOUND, false),
        ];
        for (status, want) in cases {
            assert_eq!(NotifyError::Status(status).retryable(), want, "{status}");
        }
    }
}
