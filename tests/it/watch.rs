//! The real-time watch end to end (issue 13): the simulator over real HTTP with GSL's limits, a fresh
//! Postgres, the watch loop of `gsl_jobs::watch` on a simulated clock. A card starts burning at 09:00; its
//! quota alert opens from real-time figures that evening, hours before the night, and the night's figures
//! keep the same episode open.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use gsl_sync::domain::SimCardId;
use gsl_sync::gsl::{GslClient, NoopObserver};
use gsl_sync::metrics::{MetricsOptions, SimGauges};
use gsl_sync::simulator::SimulatorHandle;
use gsl_sync::store::{Fence, Store};
use gsl_sync::sync::watch::{watch_account, AfterWatch, Clock, Watch, WatchRound, WatchSettings};
use gsl_sync::sync::{Account, Engine, JobKind, JobRequest, NoopRunObserver};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::{d, settings_for, simulator};

const ACCOUNT: &str = "main";

/// `day` `hour:minute` in Asia/Shanghai.
fn shanghai(day: &str, hour: u32, minute: u32) -> DateTime<Utc> {
    let day: NaiveDate = day.parse().expect("a date");
    let local = day.and_hms_opt(hour, minute, 0).expect("a time");
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&local)
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
}

/// The simulated clock the watch, the alert rules and the simulator share.
#[derive(Clone)]
struct SimClock(Arc<Mutex<DateTime<Utc>>>);

impl SimClock {
    fn set(&self, sim: &SimulatorHandle, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
        sim.set_now(t);
    }
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

/// Evaluates the alert rules after every round, at the simulated time (the daemon's hook does so with
/// the real clock, and only when a check crossed a threshold).
struct EvaluateAfterRound {
    store: Store,
    settings: gsl_sync::alerts::AlertSettings,
    clock: SimClock,
}

#[async_trait::async_trait]
impl AfterWatch for EvaluateAfterRound {
    async fn after_round(&self, _: &str, _: &WatchRound) {
        let now = self.clock.now();
        evaluate(&self.store, &self.settings, now).await;
    }
}

async fn evaluate(store: &Store, s: &gsl_sync::alerts::AlertSettings, now: DateTime<Utc>) {
    let as_of =
        now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    gsl_sync::alerts::evaluate(store, s, as_of, now)
        .await
        .expect("alert rules run");
}

async fn night(
    store: &Store,
    client: &GslClient,
    sync: &gsl_sync::sync::SyncSettings,
    today: &str,
) {
    let engine = Engine::new(
        store.clone(),
        vec![Account::new(client.clone())],
        sync.clone(),
        Arc::new(NoopRunObserver),
    )
    .with_today(d(today));
    for kind in [JobKind::Inventory, JobKind::DailyFlow] {
        let report = engine
            .run(
                kind,
                JobRequest::Scheduled,
                &gsl_sync::sync::Fences::every(Fence::unfenced()),
                &CancellationToken::new(),
            )
            .await;
        assert!(report.succeeded(), "{:?}", report.failures());
    }
}

/// A card between 70 % and 75 % of its quota on the morning of `today`, using little on its own, on a
/// calendar-month cycle (China Unicom's start on the 27th, which would reset it overnight).
fn candidate(sim: &SimulatorHandle, today: NaiveDate) -> (SimCardId, String, f64, f64) {
    let fleet = sim.fleet();
    let found = fleet
        .card_ids()
        .filter_map(|id| {
            let c = fleet.card(id)?;
            let quota = c.flow_used + c.flow_left;
            let own = fleet.daily_flow(id, today)? / quota;
            let ratio = c.flow_used / quota;
            let fits = c.sim_status == 20
                && c.operator_status == -1
                && !c.price_plan_name.contains("联通")
                && quota >= 500.0
                && (0.7..0.75).contains(&ratio)
                && own < 0.03;
            fits.then_some((id, c.iccid, quota, ratio + own))
        })
        .next();
    found.expect("a card between 70 and 75 % in the fleet")
}

/// Waits (real time, generously) until the watch has checked card `id` at simulated time `at`.
async fn checked_at(store: &Store, id: SimCardId, at: DateTime<Utc>) {
    for _ in 0..1200 {
        if let Ok(Some(r)) = store.card_realtime(ACCOUNT, id).await {
            if r.checked_at == at {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the watch did not check card {id} at {at}");
}

#[derive(Debug, sqlx::FromRow)]
struct Episode {
    id: i64,
    kind: String,
    started_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    details: String,
}

async fn quota_episodes(pool: &PgPool, id: SimCardId) -> Vec<Episode> {
    sqlx::query_as(
        "SELECT id, kind, started_at, resolved_at, details::text AS details FROM alerts \
         WHERE sim_card_id = $1 AND kind IN ('GslSimQuotaWarning', 'GslSimQuotaCritical') ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn detail(e: &Episode, key: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&e.details).unwrap();
    v[key].as_str().unwrap_or_default().to_owned()
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_burning_card_alerts_from_real_time_figures_before_the_night_and_does_not_flap(
    pool: PgPool,
) {
    let day = "2026-11-24";
    let store = Store::from_pool(pool.clone());
    // GSL's own limits: 5 calls/s in all, the card list and real-time usage 1/s each.
    let sim = simulator(2000, day, true).await;
    let settings = settings_for(&sim);
    let client = GslClient::new(
        settings.accounts[0].client_settings(&settings.sync),
        Arc::new(NoopObserver),
    )
    .unwrap();
    let clock = SimClock(Arc::new(Mutex::new(shanghai(day, 2, 40))));
    clock.set(&sim, shanghai(day, 2, 40));
    night(&store, &client, &settings.sync, day).await;
    evaluate(&store, &settings.alerts, clock.now()).await;

    let (id, iccid, quota, morning) = candidate(&sim, d(day));
    // From 09:00 it burns so that the day ends at 86 % (between warning and critical).
    let per_hour = (0.86 - morning) * quota / 15.0;
    sim.set_burn(id, shanghai(day, 9, 0), per_hour);
    assert!(quota_episodes(&pool, id).await.is_empty());

    let mut watch = WatchSettings::defaults(chrono_tz::Asia::Shanghai);
    watch.days = 1;
    watch.idle_poll = Duration::from_millis(20);
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(watch_account(
        Watch {
            store: store.clone(),
            client: client.clone(),
            settings: watch,
            hooks: Arc::new(EvaluateAfterRound {
                store: store.clone(),
                settings: settings.alerts.clone(),
                clock: clock.clone(),
            }),
            clock: clock.clock(),
        },
        Fence::unfenced(),
        cancel.clone(),
    ));

    // 08:00: on the watchlist (above 70 %), checked, no alert. From here on, each hour's burn and the
    // ratios stay clear of the thresholds: noon at most 78 %, 20:00 at least 81 %, the night 86 %.
    let morning_at = shanghai(day, 8, 0);
    clock.set(&sim, morning_at);
    checked_at(&store, id, morning_at).await;
    let watched = store.watched_cards(Some(ACCOUNT), 1000).await.unwrap();
    let listed = watched
        .iter()
        .find(|w| w.sim_card_id == id)
        .expect("watched");
    assert!(listed.reasons.contains(&"ratio".to_owned()), "{listed:?}");
    assert!(quota_episodes(&pool, id).await.is_empty());

    // 12:00: burning, still below 80 % (the simulator's ground truth says so).
    let noon = shanghai(day, 12, 0);
    clock.set(&sim, noon);
    checked_at(&store, id, noon).await;
    let truth = sim.fleet().realtime_used(id).unwrap() / quota;
    assert!(truth < 0.8, "{truth}");
    assert!(quota_episodes(&pool, id).await.is_empty());

    // 20:00: above 80 % in real time: the warning opens now, from real-time figures.
    let evening = shanghai(day, 20, 0);
    clock.set(&sim, evening);
    checked_at(&store, id, evening).await;
    let truth = sim.fleet().realtime_used(id).unwrap() / quota;
    assert!((0.8..0.9).contains(&truth), "{truth}");
    // The hook evaluates after the round that stored the figure.
    let mut episodes = Vec::new();
    for _ in 0..200 {
        episodes = quota_episodes(&pool, id).await;
        if !episodes.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(episodes.len(), 1, "{episodes:?}");
    let warning = &episodes[0];
    assert_eq!(warning.kind, "GslSimQuotaWarning");
    assert_eq!(
        warning.started_at, evening,
        "hours before the night's figures"
    );
    assert_eq!(detail(warning, "source"), "realtime");
    assert_eq!(detail(warning, "first_source"), "realtime");

    // The watch's gauges and the card page show the estimate.
    let gauges = SimGauges::new();
    gauges
        .refresh_watch(&store, &MetricsOptions::default())
        .await
        .unwrap();
    let text = String::from_utf8(gauges.watch_text().to_vec()).unwrap();
    assert!(
        text.contains(&format!(
            "gsl_sim_realtime_flow_used_bytes{{iccid=\"{iccid}\"}}"
        )),
        "{text}"
    );
    assert!(text.contains("gsl_watch_cards{account=\"main\"}"), "{text}");
    let page = gsl_sync::report::status::card_page(&store, &iccid, chrono_tz::Asia::Shanghai)
        .await
        .unwrap()
        .expect("the card page");
    let html = gsl_sync::report::pages::card_html(&page);
    assert!(html.contains("(estimate)"), "labelled an estimate");

    cancel.cancel();
    task.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();

    // Never a 429, and the real-time calls stayed under GSL's 1 call/s.
    let stats = sim.stats();
    let checks = stats.calls("list_sim_price_plans");
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert!(checks >= 4, "{stats:?}");
    assert!(
        (checks as f64) <= elapsed + 1.0,
        "{checks} checks in {elapsed:.1} s"
    );

    // The night: the figures as of 24:00 hold the whole day's burn (86 %): the same episode stays open,
    // its figures now nightly, its first source still the real-time one.
    let next = "2026-11-25";
    clock.set(&sim, shanghai(next, 2, 40));
    night(&store, &client, &settings.sync, next).await;
    evaluate(&store, &settings.alerts, clock.now()).await;
    let after = quota_episodes(&pool, id).await;
    assert_eq!(after.len(), 1, "no flap: {after:?}");
    assert_eq!(after[0].id, warning.id);
    assert_eq!(after[0].resolved_at, None);
    assert_eq!(detail(&after[0], "source"), "nightly");
    assert_eq!(detail(&after[0], "first_source"), "realtime");
}
