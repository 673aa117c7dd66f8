//! Integration tests: alert rules and episodes against Postgres, delivery to local receivers, a real
//! Alertmanager, and promtool over deploy/prometheus.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use gsl_sync::alerts::{self, Notifier};
use gsl_sync::alerts::{AlertSettings, ThresholdOverride};
use gsl_sync::store::Store;
use gsl_sync::telemetry::Telemetry;
use serde_json::Value;
use sqlx::PgPool;

const ACCOUNT: &str = "acme";

fn settings() -> AlertSettings {
    AlertSettings {
        warning_ratio: 0.8,
        critical_ratio: 0.9,
        overrides: vec![],
        projection_days: 3,
        projection_window_days: 7,
        anomaly_baseline_days: 14,
        anomaly_factor: 5.0,
        anomaly_min_mb: 50.0,
        alertmanager_url: None,
        webhook_url: None,
        resend_interval: Duration::from_secs(3600),
        notify_timeout: Duration::from_secs(5),
        notify_max_retries: 1,
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn at(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0)
        .single()
        .expect("time")
        + chrono::Duration::hours(h)
}

const AS_OF: &str = "2026-03-10";

async fn setup(pool: &PgPool) -> Store {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sim_daily_flow_all PARTITION OF sim_daily_flow DEFAULT",
    )
    .execute(pool)
    .await
    .expect("partition");
    Store::from_pool(pool.clone())
}

async fn card(pool: &PgPool, id: i64, used: f64, left: f64) {
    sqlx::query(
        "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, operator_status,
                                data_date)
         VALUES ($1, $2, $3, $4, $5, -1, $6)
         ON CONFLICT (account, sim_card_id) DO UPDATE
            SET flow_used_mb = EXCLUDED.flow_used_mb, flow_left_mb = EXCLUDED.flow_left_mb",
    )
    .bind(ACCOUNT)
    .bind(id)
    .bind(format!("89860000{id}"))
    .bind(used)
    .bind(left)
    .bind(day(AS_OF))
    .execute(pool)
    .await
    .expect("card");
}

async fn set(pool: &PgPool, id: i64, assignment: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE sim_cards SET {assignment} WHERE account = $1 AND sim_card_id = $2"
    )))
    .bind(ACCOUNT)
    .bind(id)
    .execute(pool)
    .await
    .expect("update card");
}

/// Stores `flows` as the card's daily flow up to `last_day`, through the daily merge as a sync does, so
/// the rollups the rules read (the report rows) hold them too.
async fn daily(pool: &PgPool, id: i64, last_day: &str, flows: &[f64]) {
    let last = day(last_day);
    let rows: Vec<gsl_sync::store::DailyFlowRow> = flows
        .iter()
        .rev()
        .enumerate()
        .map(|(i, mb)| gsl_sync::store::DailyFlowRow {
            sim_card_id: id.into(),
            iccid: None,
            day: last - chrono::Days::new(i as u64),
            flow_mb: *mb,
        })
        .collect();
    Store::from_pool(pool.clone())
        .merge_daily_flow(&gsl_sync::store::Fence::unfenced(), ACCOUNT, &rows)
        .await
        .expect("daily flow");
}

/// Every episode as (kind, subject, open?), ordered by id.
async fn episodes(pool: &PgPool) -> Vec<(String, String, bool)> {
    sqlx::query_as::<_, (String, String, bool)>(
        "SELECT kind, subject, resolved_at IS NULL FROM alerts ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("alerts")
}

fn ep(kind: &str, subject: &str, open: bool) -> (String, String, bool) {
    (kind.into(), subject.into(), open)
}

async fn eval(store: &Store, s: &AlertSettings, hour: i64) -> alerts::EvalSummary {
    alerts::evaluate(store, s, day(AS_OF), at(hour))
        .await
        .expect("evaluate")
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn quota_episodes_open_once_escalate_and_resolve_on_a_new_cycle(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    card(&pool, 1, 85.0, 15.0).await;
    card(&pool, 2, 10.0, 90.0).await;
    let first = eval(&store, &s, 0).await;
    assert_eq!((first.opened, first.resolved, first.open), (1, 0, 1));
    let again = eval(&store, &s, 1).await;
    assert_eq!(
        (again.opened, again.resolved, again.open),
        (0, 0, 1),
        "no duplicate"
    );
    assert_eq!(
        episodes(&pool).await,
        vec![ep("GslSimQuotaWarning", "sim:1", true)]
    );

    card(&pool, 1, 95.0, 5.0).await;
    let up = eval(&store, &s, 2).await;
    assert_eq!(
        (up.opened, up.resolved),
        (1, 1),
        "warning resolves, critical opens"
    );
    eval(&store, &s, 3).await;
    card(&pool, 1, 1.0, 99.0).await; // a new billing cycle
    let down = eval(&store, &s, 4).await;
    assert_eq!((down.opened, down.resolved, down.open), (0, 1, 0));
    assert_eq!(
        episodes(&pool).await,
        vec![
            ep("GslSimQuotaWarning", "sim:1", false),
            ep("GslSimQuotaCritical", "sim:1", false),
        ]
    );
    let row: (f64, f64, String) = sqlx::query_as(
        "SELECT value, threshold, details->>'flow_used_mb' FROM alerts WHERE kind = 'GslSimQuotaCritical'",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!(row, (0.95, 0.9, "95".into()));
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn suspension_fires_with_its_code_and_resolves_on_resumption(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    card(&pool, 1, 1.0, 99.0).await;
    card(&pool, 2, 1.0, 99.0).await;
    set(&pool, 1, "operator_status = 4").await;
    set(&pool, 2, "operator_status = NULL").await;
    eval(&store, &s, 0).await;
    eval(&store, &s, 1).await;
    let value: f64 = sqlx::query_scalar("SELECT value FROM alerts WHERE kind = 'GslSimSuspended'")
        .fetch_one(&pool)
        .await
        .expect("value");
    assert_eq!(value, 4.0);
    set(&pool, 1, "operator_status = -1").await;
    eval(&store, &s, 2).await;
    assert_eq!(
        episodes(&pool).await,
        vec![ep("GslSimSuspended", "sim:1", false)]
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn removed_cards_resolve_their_episodes(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    card(&pool, 1, 95.0, 5.0).await;
    eval(&store, &s, 0).await;
    set(&pool, 1, "removed_at = now()").await;
    eval(&store, &s, 1).await;
    assert_eq!(
        episodes(&pool).await,
        vec![ep("GslSimQuotaCritical", "sim:1", false)]
    );
}

/// The rule reads the window only for cards whose month sums allow it to fire: a window that starts in the
/// previous month counts that month's sum too.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn projection_reads_a_window_reaching_into_the_previous_month(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    card(&pool, 1, 500.0, 250.0).await;
    // 24 February to 2 March: five of the seven days are February's.
    daily(&pool, 1, "2026-03-02", &[100.0; 7]).await;
    alerts::evaluate(&store, &s, day("2026-03-02"), at(0))
        .await
        .expect("evaluate");
    assert_eq!(
        episodes(&pool).await,
        vec![ep("GslSimExhaustionProjected", "sim:1", true)]
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn projection_fires_before_the_ratio_does(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    // 500 used, 250 left (ratio 0.67): at 100 MB/day it runs out in 2.5 days.
    card(&pool, 1, 500.0, 250.0).await;
    daily(&pool, 1, AS_OF, &[100.0; 7]).await;
    // Same ratio, 10 MB/day: 25 days left.
    card(&pool, 2, 500.0, 250.0).await;
    daily(&pool, 2, AS_OF, &[10.0; 7]).await;
    eval(&store, &s, 0).await;
    assert_eq!(
        episodes(&pool).await,
        vec![ep("GslSimExhaustionProjected", "sim:1", true)]
    );
    let (value, date): (f64, String) = sqlx::query_as(
        "SELECT value, details->>'projected_date' FROM alerts WHERE kind = 'GslSimExhaustionProjected'",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!((value, date.as_str()), (2.5, "2026-03-13"));
    // Once the ratio itself warns, the projection gives way to it.
    card(&pool, 1, 700.0, 150.0).await;
    eval(&store, &s, 1).await;
    assert_eq!(
        episodes(&pool).await,
        vec![
            ep("GslSimExhaustionProjected", "sim:1", false),
            ep("GslSimQuotaWarning", "sim:1", true),
        ]
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn anomaly_fires_on_a_spike_not_on_a_steady_heavy_user(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    let mut spike = vec![20.0; 14];
    spike.push(400.0);
    let mut heavy = vec![900.0; 14];
    heavy.push(1000.0);
    let mut young = vec![20.0; 3];
    young.push(400.0);
    for (id, flows) in [(1, &spike), (2, &heavy), (3, &young)] {
        card(&pool, id, 1.0, 1e6).await;
        daily(&pool, id, AS_OF, flows).await;
    }
    eval(&store, &s, 0).await;
    assert_eq!(
        episodes(&pool).await,
        vec![ep("GslSimUsageAnomaly", "sim:1", true)]
    );
    let (value, threshold): (f64, f64) =
        sqlx::query_as("SELECT value, threshold FROM alerts WHERE kind = 'GslSimUsageAnomaly'")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!((value, threshold), (400.0, 100.0));
    // The next day is ordinary again.
    let next = alerts::evaluate(&store, &s, day("2026-03-11"), at(24))
        .await
        .expect("eval");
    assert_eq!(next.resolved, 1);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn pool_alerts_follow_the_latest_cycle(pool: PgPool) {
    let store = setup(&pool).await;
    let s = settings();
    for (id, cycle, used) in [
        (7, "2026-02-01", 99.0),
        (7, "2026-03-01", 85.0),
        (8, "2026-03-01", 95.0),
        (9, "2026-03-01", 10.0),
    ] {
        sqlx::query(
            "INSERT INTO sim_pool_usage (account, kind, sim_pool_id, billing_cycle, flow_total_mb, flow_used_mb)
             VALUES ($1, 'forward', $2, $3, 100, $4)",
        )
        .bind(ACCOUNT)
        .bind(id as i64)
        .bind(day(cycle))
        .bind(used)
        .execute(&pool)
        .await
        .expect("pool usage");
    }
    eval(&store, &s, 0).await;
    assert_eq!(
        episodes(&pool).await,
        vec![
            ep("GslPoolQuotaWarning", "pool:forward:7", true),
            ep("GslPoolQuotaCritical", "pool:forward:8", true),
        ]
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn overrides_match_plan_then_pool_then_tag(pool: PgPool) {
    let store = setup(&pool).await;
    let ov = |plan: Option<&str>, pool: Option<i64>, tag: Option<&str>, w: f64| ThresholdOverride {
        price_plan: plan.map(Into::into),
        sim_pool_id: pool.map(Into::into),
        tag: tag.map(Into::into),
        warning_ratio: Some(w),
        critical_ratio: None,
    };
    let mut s = settings();
    s.overrides = vec![
        ov(None, None, Some("fleet"), 0.3),
        ov(None, Some(7), None, 0.6),
        ov(Some("10GB"), None, None, 0.95),
    ];
    // ratio 0.65 everywhere: (plan, pool, tags) → fires?
    type Case<'a> = (i64, Option<&'a str>, Option<i64>, Option<&'a str>, bool);
    let cases: [Case; 5] = [
        (1, Some("10GB"), Some(7), Some("fleet"), false), // plan wins: 0.95
        (2, None, Some(7), Some("fleet"), true),          // pool: 0.6
        (3, None, Some(8), Some("x, fleet"), true),       // tag: 0.3
        (4, None, None, Some("fleetx"), false),           // global 0.8
        (5, Some("1GB"), None, None, false),
    ];
    for (id, plan, pool_id, tags, _) in cases {
        card(&pool, id, 65.0, 35.0).await;
        sqlx::query(
            "UPDATE sim_cards SET price_plan_name = $2, sim_pool_id = $3, tag_names = $4
             WHERE sim_card_id = $1",
        )
        .bind(id)
        .bind(plan)
        .bind(pool_id)
        .bind(tags)
        .execute(&pool)
        .await
        .expect("update");
    }
    eval(&store, &s, 0).await;
    let fired: Vec<String> = episodes(&pool).await.into_iter().map(|e| e.1).collect();
    assert_eq!(fired, vec!["sim:2", "sim:3"]);
}

/// An override moves a card between the quota and projection rules, which run on different connections;
/// a pool override applies to the pool rule beside them.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn overrides_reach_the_projection_and_pool_rules(pool: PgPool) {
    let store = setup(&pool).await;
    let mut s = settings();
    s.overrides = vec![
        ThresholdOverride {
            price_plan: Some("10GB".into()),
            sim_pool_id: None,
            tag: None,
            warning_ratio: Some(0.95),
            critical_ratio: Some(0.99),
        },
        ThresholdOverride {
            price_plan: None,
            sim_pool_id: Some(7.into()),
            tag: None,
            warning_ratio: Some(0.5),
            critical_ratio: None,
        },
    ];
    // ratio 0.85 and 150 MB left at 100 MB/day: quota warning under the global 0.8, projection under 0.95.
    for id in [1, 2] {
        card(&pool, id, 850.0, 150.0).await;
        daily(&pool, id, AS_OF, &[100.0; 7]).await;
    }
    set(&pool, 1, "price_plan_name = '10GB'").await;
    for (id, used) in [(7, 60.0), (8, 60.0)] {
        sqlx::query(
            "INSERT INTO sim_pool_usage (account, kind, sim_pool_id, billing_cycle, flow_total_mb, flow_used_mb)
             VALUES ($1, 'forward', $2, '2026-03-01', 100, $3)",
        )
        .bind(ACCOUNT)
        .bind(id as i64)
        .bind(used)
        .execute(&pool)
        .await
        .expect("pool usage");
    }
    eval(&store, &s, 0).await;
    let mut fired = episodes(&pool).await;
    fired.sort();
    assert_eq!(
        fired,
        vec![
            ep("GslPoolQuotaWarning", "pool:forward:7", true),
            ep("GslSimExhaustionProjected", "sim:1", true),
            ep("GslSimQuotaWarning", "sim:2", true),
        ]
    );
}

/// A card tagged with a full-width comma (`华北，fleet`) has the tag `fleet` for alerts, metrics and reports
/// alike: the tags are split once, when the card is written.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn full_width_comma_tags_match_alert_overrides_and_metric_filters(pool: PgPool) {
    let store = setup(&pool).await;
    let mut s = settings();
    s.overrides = vec![ThresholdOverride {
        price_plan: None,
        sim_pool_id: None,
        tag: Some("fleet".into()),
        warning_ratio: Some(0.3),
        critical_ratio: None,
    }];
    for (id, tags) in [
        (1, "华北，fleet"),
        (2, "华北、fleet；x"),
        (3, "fleetx,华北"),
    ] {
        card(&pool, id, 65.0, 35.0).await;
        sqlx::query("UPDATE sim_cards SET tag_names = $2 WHERE sim_card_id = $1")
            .bind(id)
            .bind(tags)
            .execute(&pool)
            .await
            .expect("update");
    }
    eval(&store, &s, 0).await;
    let fired: Vec<String> = episodes(&pool).await.into_iter().map(|e| e.1).collect();
    assert_eq!(fired, vec!["sim:1", "sim:2"]);

    let opts = gsl_sync::metrics::MetricsOptions {
        tags: vec!["fleet".into()],
        ..Default::default()
    };
    let kept: Vec<i64> = {
        use futures::TryStreamExt;
        store
            .gauge_cards()
            .try_collect::<Vec<_>>()
            .await
            .expect("cards")
            .into_iter()
            .filter(|c| opts.keeps(Some(0.65), &c.tags))
            .map(|c| c.sim_card_id.get())
            .collect()
    };
    assert_eq!(
        kept,
        vec![1, 2],
        "the metrics tag filter agrees with the alert overrides"
    );
}

/// The `sim_cards.tags` column (computed by Postgres) and `gsl_domain::split_tags` split alike.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn stored_tags_split_like_the_domain_splitter(pool: PgPool) {
    for raw in [
        "a,b",
        "a，b",
        "华北、车联网",
        " a ; b；c |d ",
        "north china,a",
        "a,,b, ,",
        "",
        " , ",
        "x\ny\tz",
    ] {
        let stored: Vec<String> = sqlx::query_scalar(
            "INSERT INTO sim_cards (account, sim_card_id, tag_names) VALUES ('t', 1, $1)
             ON CONFLICT (account, sim_card_id) DO UPDATE SET tag_names = EXCLUDED.tag_names
             RETURNING tags",
        )
        .bind(raw)
        .fetch_one(&pool)
        .await
        .expect("insert");
        let rust: Vec<&str> = gsl_sync::domain::split_tags(raw).collect();
        assert_eq!(stored, rust, "{raw:?}");
    }
}

// ---- delivery ----

#[derive(Clone, Default)]
struct Sink {
    bodies: Arc<Mutex<Vec<Value>>>,
    status: Arc<AtomicU16>,
}

impl Sink {
    fn received(&self) -> Vec<Value> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }
    fn fail_with(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

async fn accept(State(sink): State<Sink>, Json(body): Json<Value>) -> StatusCode {
    let code = sink.status.load(Ordering::SeqCst);
    if code != 0 {
        return StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if let Ok(mut b) = sink.bodies.lock() {
        b.push(body);
    }
    StatusCode::OK
}

async fn serve_sink() -> (Sink, SocketAddr) {
    let sink = Sink::default();
    let app = Router::new()
        .route("/api/v2/alerts", post(accept))
        .route("/hook", post(accept))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (sink, addr)
}

/// All alerts Alertmanager received, flattened over the POSTs.
fn am_alerts(sink: &Sink) -> Vec<Value> {
    sink.received()
        .into_iter()
        .flat_map(|b| b.as_array().cloned().unwrap_or_default())
        .collect()
}

fn counter(t: &Telemetry, receiver: &str, result: &str) -> u64 {
    t.alert_notifications
        .with_label_values(&[receiver, result])
        .get()
}

fn notifier(store: &Store, s: &AlertSettings, t: &Telemetry) -> Notifier {
    Notifier::new(store.clone(), s, std::sync::Arc::new(t.clone()))
        .expect("notifier")
        .with_retry_base_delay(Duration::from_millis(1))
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn firing_alerts_are_resent_after_the_interval_and_resolved_once_with_ends_at(pool: PgPool) {
    let store = setup(&pool).await;
    let (am, addr) = serve_sink().await;
    let mut s = settings();
    s.alertmanager_url = Some(format!("http://{addr}").parse().expect("url"));
    let t = Telemetry::new();
    let n = notifier(&store, &s, &t);
    card(&pool, 1, 85.0, 15.0).await;
    eval(&store, &s, 0).await;
    assert_eq!(n.deliver_due_at(at(0)).await.sent, 1);
    assert_eq!(
        n.deliver_due_at(at(0) + chrono::Duration::minutes(30))
            .await
            .sent,
        0
    );
    assert_eq!(
        n.deliver_due_at(at(1)).await.sent,
        1,
        "re-sent after resend_interval"
    );
    let sent = am_alerts(&am);
    assert_eq!(sent.len(), 2);
    let a = &sent[0];
    assert_eq!(a["labels"]["alertname"], "GslSimQuotaWarning");
    assert_eq!(a["labels"]["severity"], "warning");
    assert_eq!(a["labels"]["account"], ACCOUNT);
    assert_eq!(a["labels"]["sim_card_id"], "1");
    assert_eq!(a["labels"]["iccid"], "898600001");
    assert_eq!(a["annotations"]["value"], "0.85");
    assert_eq!(a["annotations"]["threshold"], "0.8");
    assert_eq!(
        a["endsAt"], "2026-03-11T04:00:00.000Z",
        "four resend intervals ahead"
    );

    card(&pool, 1, 1.0, 99.0).await;
    eval(&store, &s, 2).await;
    assert_eq!(n.deliver_due_at(at(3)).await.sent, 1);
    assert_eq!(
        n.deliver_due_at(at(5)).await.sent,
        0,
        "resolved is sent once"
    );
    let sent = am_alerts(&am);
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent[2]["endsAt"], "2026-03-11T02:00:00.000Z",
        "endsAt = resolved_at"
    );
    assert_eq!(counter(&t, "alertmanager", "success"), 3);
    assert_eq!(counter(&t, "alertmanager", "failure"), 0);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_receiver_outage_delays_but_loses_nothing_and_spares_the_other(pool: PgPool) {
    let store = setup(&pool).await;
    let (am, am_addr) = serve_sink().await;
    let (hook, hook_addr) = serve_sink().await;
    let mut s = settings();
    s.alertmanager_url = Some(format!("http://{am_addr}/").parse().expect("url"));
    s.webhook_url = Some(format!("http://{hook_addr}/hook").parse().expect("url"));
    let t = Telemetry::new();
    let n = notifier(&store, &s, &t).with_batch_size(2);
    for id in 1..=5 {
        card(&pool, id, 95.0, 5.0).await;
    }
    eval(&store, &s, 0).await;
    am.fail_with(503);
    let stats = n.deliver_due_at(at(0)).await;
    assert_eq!(stats.sent, 5, "the webhook got everything");
    assert_eq!(
        stats.failed, 2,
        "Alertmanager's first batch failed and ended its pass"
    );
    assert!(am_alerts(&am).is_empty());
    let hook_bodies = hook.received();
    assert_eq!(hook_bodies.len(), 3, "batches of 2");
    assert_eq!(hook_bodies[0]["status"], "firing");
    assert_eq!(
        hook_bodies[0]["alerts"][0]["labels"]["alertname"],
        "GslSimQuotaCritical"
    );

    // Three resolve while Alertmanager is down; it comes back and gets the two firing ones only.
    am.fail_with(0);
    for id in 1..=3 {
        card(&pool, id, 1.0, 99.0).await;
    }
    eval(&store, &s, 1).await;
    let stats = n.deliver_due_at(at(1) + chrono::Duration::minutes(5)).await;
    assert_eq!(stats.failed, 0);
    assert_eq!(am_alerts(&am).len(), 2, "still-firing alerts, nothing lost");
    let resolved: Vec<Value> = hook
        .received()
        .into_iter()
        .filter(|b| b["status"] == "resolved")
        .collect();
    let resolved_count: usize = resolved
        .iter()
        .map(|b| b["alerts"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(resolved_count, 3, "the webhook saw them resolve");
    assert_eq!(counter(&t, "alertmanager", "failure"), 2);
    assert_eq!(counter(&t, "alertmanager", "success"), 2);
    // 5 first, then the 2 still firing re-sent an hour later, and the 3 resolved.
    assert_eq!(counter(&t, "webhook", "success"), 10);
    assert_eq!(counter(&t, "webhook", "failure"), 0);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn connection_refused_keeps_alerts_due_until_the_receiver_listens(pool: PgPool) {
    let store = setup(&pool).await;
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = probe.local_addr().expect("addr");
    drop(probe);
    let mut s = settings();
    s.webhook_url = Some(format!("http://{addr}/hook").parse().expect("url"));
    let t = Telemetry::new();
    let n = notifier(&store, &s, &t);
    card(&pool, 1, 95.0, 5.0).await;
    eval(&store, &s, 0).await;
    let stats = n.deliver_due_at(at(0)).await;
    assert_eq!((stats.sent, stats.failed), (0, 1));
    assert_eq!(counter(&t, "webhook", "failure"), 1);

    let sink = Sink::default();
    let app = Router::new()
        .route("/hook", post(accept))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("rebind the same port");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let stats = n.deliver_due_at(at(0) + chrono::Duration::minutes(1)).await;
    assert_eq!((stats.sent, stats.failed), (1, 0));
    assert_eq!(sink.received().len(), 1);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn the_timer_delivers_until_stopped(pool: PgPool) {
    let store = setup(&pool).await;
    let (hook, addr) = serve_sink().await;
    let mut s = settings();
    s.webhook_url = Some(format!("http://{addr}/hook").parse().expect("url"));
    let n = Arc::new(notifier(&store, &s, &Telemetry::new()));
    card(&pool, 1, 95.0, 5.0).await;
    alerts::evaluate(&store, &s, day(AS_OF), Utc::now())
        .await
        .expect("eval");
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn({
        let (n, stop) = (n.clone(), stop.clone());
        async move {
            n.run(
                Duration::from_secs(1),
                &tokio::sync::Notify::new(),
                &|| true,
                stop,
            )
            .await
        }
    });
    for _ in 0..100 {
        if !hook.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    task.await.expect("the loop ends when stopped");
    assert_eq!(hook.received().len(), 1);
}

// ---- a real Alertmanager ----

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn alertmanager_binary() -> String {
    for candidate in ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("Alertmanager not found: run scripts/install-test-deps.sh");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn active_alerts(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let v: Value = client
        .get(format!(
            "{base}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
        ))
        .send()
        .await
        .expect("GET alerts")
        .json()
        .await
        .expect("json");
    v.as_array().cloned().unwrap_or_default()
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_real_alertmanager_lists_posted_alerts_and_clears_resolved_ones(pool: PgPool) {
    let store = setup(&pool).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("alertmanager.yml");
    // The example configuration from deploy/ (its webhook receivers are unreachable; that is fine here).
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/alertmanager/alertmanager.yml"
        ),
        &config,
    )
    .expect("config");
    let port = free_port();
    let _am = KillOnDrop(
        Command::new(alertmanager_binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/-/ready")).send().await {
            if r.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "alertmanager did not become ready");

    let mut s = settings();
    s.alertmanager_url = Some(base.parse().expect("url"));
    let t = Telemetry::new();
    let n = notifier(&store, &s, &t);
    card(&pool, 1, 95.0, 5.0).await;
    set(&pool, 1, "operator_status = 1").await;
    sqlx::query(
        "INSERT INTO sim_pool_usage (account, kind, sim_pool_id, billing_cycle, flow_total_mb, flow_used_mb)
         VALUES ($1, 'forward', 7, '2026-03-01', 100, 85)",
    )
    .bind(ACCOUNT)
    .execute(&pool)
    .await
    .expect("pool");
    let now = Utc::now();
    alerts::evaluate(&store, &s, day(AS_OF), now)
        .await
        .expect("eval");
    let stats = n.deliver_due_at(now).await;
    assert_eq!((stats.sent, stats.failed), (3, 0));

    let listed = active_alerts(&client, &base).await;
    let mut names: Vec<(String, String)> = listed
        .iter()
        .map(|a| {
            let l = &a["labels"];
            let subject = l["sim_card_id"]
                .as_str()
                .or(l["sim_pool_id"].as_str())
                .unwrap_or("");
            (
                l["alertname"].as_str().unwrap_or("").to_string(),
                subject.to_string(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("GslPoolQuotaWarning".to_string(), "7".to_string()),
            ("GslSimQuotaCritical".to_string(), "1".to_string()),
            ("GslSimSuspended".to_string(), "1".to_string()),
        ]
    );
    let card_alert = listed
        .iter()
        .find(|a| a["labels"]["alertname"] == "GslSimSuspended")
        .expect("suspended");
    assert_eq!(card_alert["labels"]["iccid"], "898600001");
    assert_eq!(card_alert["labels"]["account"], ACCOUNT);
    assert_eq!(
        card_alert["annotations"]["reason"],
        "stopped for exceeding the flow quota"
    );

    // Everything resolves: Alertmanager no longer lists them.
    set(
        &pool,
        1,
        "operator_status = -1, flow_used_mb = 1, flow_left_mb = 99",
    )
    .await;
    sqlx::query("UPDATE sim_pool_usage SET flow_used_mb = 1")
        .execute(&pool)
        .await
        .expect("pool");
    let later = Utc::now();
    alerts::evaluate(&store, &s, day(AS_OF), later)
        .await
        .expect("eval");
    let stats = n.deliver_due_at(later).await;
    assert_eq!((stats.sent, stats.failed), (3, 0));
    let mut cleared = false;
    for _ in 0..50 {
        if active_alerts(&client, &base).await.is_empty() {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        cleared,
        "resolved alerts still listed: {:?}",
        active_alerts(&client, &base).await
    );
}
