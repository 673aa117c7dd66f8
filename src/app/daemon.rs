//! `gsl-sync run`: migrate, serve HTTP, and sync on schedule the accounts whose leases this replica holds.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::follow::Follower;
use super::hooks::{DaemonHooks, Delivery, GuardAnnounce, WatchHooks};
use super::AppError;
use crate::config::Settings;
use crate::http::status::StatusOptions;
use crate::http::{router_with, serve_with, HttpState};
use crate::metrics::{MetricsOptions, SimGauges};
use crate::sync::daemon::{Daemon, ElectionTimings, WatchPlan};
use crate::sync::guard::GuardRunner;
use crate::sync::JobKind;
use crate::telemetry::Telemetry;

/// How often due notifications are retried between syncs (a receiver that was down gets them here).
const NOTIFY_EVERY: Duration = Duration::from_secs(60);

pub async fn run(settings: Settings) -> Result<(), AppError> {
    let store = super::connect(&settings).await?;
    store.migrate().await?;
    let telemetry = Telemetry::new().in_zone(settings.sync.timezone);
    seed_zeros(&telemetry, &settings);
    let metrics = MetricsOptions::new(&settings.metrics, settings.sync.timezone);
    let gauges = SimGauges::new();
    if let Err(e) = gauges.refresh(&store, &metrics).await {
        tracing::error!(error = %e, "could not build the gauges from the store");
    }
    if let Err(e) = telemetry.seed_from_store(&store).await {
        tracing::warn!(error = %e, "could not read the last runs for the freshness gauges");
    }
    let engine = Arc::new(super::engine(store.clone(), &settings, &telemetry)?);
    let listener = tokio::net::TcpListener::bind(settings.http.listen)
        .await
        .map_err(AppError::io(format!(
            "http.listen {}",
            settings.http.listen
        )))?;
    tracing::info!(address = %settings.http.listen, "serving /metrics, /healthz, /readyz and /api/v1");
    let shutdown = CancellationToken::new();
    super::cancel_on_signal(shutdown.clone());
    let state = HttpState {
        store: store.clone(),
        gauges: gauges.clone(),
        telemetry: telemetry.clone(),
        metrics: metrics.clone(),
    };
    let mut http_options = settings.http.options.clone();
    http_options.pages = StatusOptions::from_sync(&settings.sync);
    let http = tokio::spawn(serve_with(
        listener,
        router_with(state, &http_options),
        shutdown.clone().cancelled_owned(),
        http_options,
    ));
    let follower = tokio::spawn(
        Follower {
            store: store.clone(),
            gauges: gauges.clone(),
            metrics: metrics.clone(),
            telemetry: telemetry.clone(),
            me: settings.instance.clone(),
        }
        .run(shutdown.clone()),
    );
    let hooks = Arc::new(DaemonHooks {
        store: store.clone(),
        settings: settings.clone(),
        delivery: Delivery::new(&store, &settings, &telemetry),
        gauges,
        metrics,
        telemetry: telemetry.clone(),
        refresh: Default::default(),
    });
    let guard = GuardRunner::new(
        settings.guard.clone(),
        settings.sync.timezone,
        Arc::new(GuardAnnounce {
            telemetry: telemetry.clone(),
            delivery: hooks.delivery.clone(),
        }),
    );
    let watch = WatchPlan {
        settings: settings.watch.clone(),
        hooks: Arc::new(WatchHooks {
            store: store.clone(),
            settings: settings.clone(),
            delivery: hooks.delivery.clone(),
            gauges: hooks.gauges.clone(),
            metrics: hooks.metrics.clone(),
        }),
        clock: crate::sync::watch::system_clock(),
    };
    let daemon = Daemon::new(engine, store, hooks.clone(), ElectionTimings::default())
        .with_guard(guard)
        .with_watch(watch);
    let notify_loop = tokio::spawn({
        let (hooks, stop, syncing) = (hooks.clone(), shutdown.clone(), daemon.delivering());
        async move { hooks.delivery.run(NOTIFY_EVERY, syncing, stop).await }
    });
    let grace = settings.sync.shutdown_grace;
    let outcome = daemon.run(shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::time::timeout(grace, async {
        let _ = notify_loop.await;
        let _ = follower.await;
        let _ = http.await;
    })
    .await;
    tracing::info!("stopped");
    Ok(outcome?)
}

fn seed_zeros(telemetry: &Telemetry, settings: &Settings) {
    let accounts: Vec<&str> = settings.accounts.iter().map(|a| a.name.as_str()).collect();
    let jobs: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut receivers = Vec::new();
    if settings.alerts.alertmanager_url.is_some() {
        receivers.push("alertmanager");
    }
    if settings.alerts.webhook_url.is_some() {
        receivers.push("webhook");
    }
    telemetry.seed_zeros(&accounts, &jobs, &receivers);
    telemetry.seed_guard_zeros(settings);
}
