//! Integration tests: guard actions against the simulator over real HTTP and a fresh Postgres each — dry
//! run records and announces without sending, enforce sends one work order, follows it to completion and
//! restores it at the next cycle, the fleet brake holds a policy matching half the fleet, an action the
//! carrier does not offer is refused unsent, and the `sim` and `guard` commands as users run them.

use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use gsl_sync::domain::{CardAction, SimCardId};
use gsl_sync::simulator::SimulatorHandle;
use gsl_sync::store::{Fence, Store};
use gsl_sync::sync::guard::{
    guard_account, Conditions, GuardClock, GuardObserver, GuardReport, GuardSettings, Mode, Policy,
    Restore, Scope,
};
use gsl_sync::sync::{Engine, JobKind};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::{d, simulator};
use crate::sync::{assert_ok, engine, run};

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");
const TODAY: &str = "2026-11-20";

/// Counts what the guard reports, as the daemon's telemetry would.
#[derive(Default)]
struct Seen(Mutex<Vec<(String, String, String)>>);

impl GuardObserver for Seen {
    fn guard_action(&self, _account: &str, policy: &str, action: &str, mode: &str, result: &str) {
        let _ = action;
        if let Ok(mut v) = self.0.lock() {
            v.push((policy.to_owned(), mode.to_owned(), result.to_owned()));
        }
    }
}

impl Seen {
    fn count(&self, result: &str) -> usize {
        self.0
            .lock()
            .map(|v| v.iter().filter(|(_, _, r)| r == result).count())
            .unwrap_or(0)
    }
}

fn policy(name: &str, action: CardAction, mode: Mode, min_ratio: f64, max_per_hour: u32) -> Policy {
    Policy {
        name: name.into(),
        when: Conditions {
            min_ratio: Some(min_ratio),
            ..Conditions::default()
        },
        scope: Scope::default(),
        action,
        speed_kbps: (action == CardAction::SpeedLimit).then_some(64),
        mode,
        restore: Restore::NextCycle,
        max_per_hour,
    }
}

fn settings(fleet_brake: f64, policies: Vec<Policy>) -> GuardSettings {
    GuardSettings {
        fleet_brake: Some(fleet_brake),
        fleet_brake_cards: None,
        interval: Duration::from_secs(60),
        order_check: Duration::ZERO,
        policies,
    }
}

fn clock(today: &str) -> GuardClock {
    let now = Utc::now();
    GuardClock {
        now,
        today: d(today),
        day_start: now - chrono::Duration::hours(2),
    }
}

/// A synced fleet of `cards` on the simulator's `TODAY`, alerts evaluated, work orders done in 200 ms.
async fn synced(pool: &PgPool, cards: u64) -> (Store, SimulatorHandle, Engine) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(cards, TODAY, false).await;
    sim.set_order_delay(Duration::from_millis(200));
    let engine = engine(&store, &sim, TODAY);
    assert_ok(&run(&engine, &[JobKind::Inventory, JobKind::DailyFlow]).await);
    let as_of = d(TODAY) - chrono::Days::new(1);
    let alert_settings = gsl_sync::config::Settings::load_from_toml("", Default::default())
        .expect("defaults")
        .alerts;
    gsl_sync::alerts::evaluate(&store, &alert_settings, as_of, Utc::now())
        .await
        .expect("alerts evaluate");
    sim.reset_stats();
    (store, sim, engine)
}

async fn pass(
    engine: &Engine,
    store: &Store,
    s: &GuardSettings,
    seen: &Seen,
    today: &str,
) -> GuardReport {
    guard_account(
        &engine.accounts()[0].client,
        store,
        s,
        &Fence::unfenced(),
        &CancellationToken::new(),
        seen,
        clock(today),
    )
    .await
    .expect("guard pass")
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn status_of(pool: &PgPool, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM guard_actions WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("a guard action")
}

/// What a test's passes run with.
struct Rig<'a> {
    pool: &'a PgPool,
    engine: &'a Engine,
    store: &'a Store,
    settings: &'a GuardSettings,
    seen: &'a Seen,
}

/// Passes until the decision reaches `status` (each pass looks the order up again).
async fn until_status(r: &Rig<'_>, today: &str, id: i64, status: &str) {
    for _ in 0..100 {
        if status_of(r.pool, id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pass(r.engine, r.store, r.settings, r.seen, today).await;
    }
    panic!(
        "guard action {id} never reached {status}: {}",
        status_of(r.pool, id).await
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_dry_run_records_and_announces_every_decision_and_sends_nothing(pool: PgPool) {
    let (store, sim, engine) = synced(&pool, 300).await;
    let s = settings(
        1.0,
        vec![policy(
            "near-quota",
            CardAction::Stop,
            Mode::DryRun,
            0.9,
            1000,
        )],
    );
    let seen = Seen::default();
    let report = pass(&engine, &store, &s, &seen, TODAY).await;

    let matching = scalar(
        &pool,
        "SELECT count(*) FROM sim_cards WHERE flow_used_mb / NULLIF(flow_used_mb + flow_left_mb, 0) >= 0.9",
    )
    .await;
    assert!(matching > 0, "the fleet has cards near quota");
    let recorded = scalar(
        &pool,
        "SELECT count(*) FROM guard_actions WHERE status IN ('dry_run', 'refused')",
    )
    .await;
    assert_eq!(recorded, matching, "one decision per matching card");
    assert_eq!(report.decided.values().sum::<u64>(), matching as u64);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM guard_actions WHERE reason NOT LIKE 'near-quota: used %'"
        )
        .await,
        0,
        "every reason names the policy and the figures"
    );
    let stats = sim.stats();
    assert_eq!(
        stats.calls("stop_sim_card"),
        0,
        "a dry run sends nothing: {stats:?}"
    );
    // Announced: one GslGuardAction episode per decision, due at the receivers, and counted.
    let episodes = scalar(
        &pool,
        "SELECT count(*) FROM alerts WHERE kind = 'GslGuardAction' AND resolved_at IS NULL \
         AND details->>'mode' = 'dry_run' AND details->>'policy' = 'near-quota'",
    )
    .await;
    assert_eq!(episodes, matching);
    let due = store
        .due_alerts("webhook", Utc::now(), 10_000)
        .await
        .expect("due");
    assert_eq!(
        due.iter().filter(|a| a.kind == "GslGuardAction").count() as i64,
        matching
    );
    assert_eq!(
        (seen.count("dry_run") + seen.count("refused")) as i64,
        matching
    );

    // The status page shows them.
    let page = gsl_sync::report::status::status_page(
        &store,
        &gsl_sync::report::status::FleetCache::default(),
        vec![],
    )
    .await
    .expect("status page");
    let html = gsl_sync::report::pages::status_html(&page);
    assert!(
        html.contains("Guard actions") && html.contains("near-quota: used "),
        "guard panel"
    );

    // A second pass decides nothing new: the open decisions cover the cards.
    let again = pass(&engine, &store, &s, &seen, TODAY).await;
    assert!(again.decided.is_empty(), "{again:?}");

    // `guard approve` sends one of them for real, through the binary as a person runs it.
    let id: i64 = scalar(
        &pool,
        "SELECT min(id) FROM guard_actions WHERE status = 'dry_run'",
    )
    .await;
    let out = bin(&sim, &pool, &["guard", "approve", &id.to_string()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("work order"));
    assert_eq!(sim.stats().calls("stop_sim_card"), 1);
    assert_eq!(status_of(&pool, id).await, "pending");
    let list = bin(&sim, &pool, &["guard", "list"]).await;
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("near-quota"),
        "{list:?}"
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn enforce_sends_one_order_follows_it_and_restores_at_the_next_cycle(pool: PgPool) {
    let (store, sim, engine) = synced(&pool, 400).await;
    // GSL refuses the same operation within 5 minutes; the restore here follows within seconds.
    sim.set_repeat_window(Duration::from_millis(500));
    // The China Telecom card using the most of its plan: speed limits are Telecom's and Unicom's.
    let (plan, card, ratio): (String, SimCardId, f64) = sqlx::query_as(
        "SELECT price_plan_name, sim_card_id, flow_used_mb / (flow_used_mb + flow_left_mb) AS r \
         FROM sim_cards WHERE iccid LIKE '898603%' AND flow_used_mb > 0 AND flow_used_mb + flow_left_mb > 0 \
         ORDER BY r DESC, sim_card_id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("a Telecom card with usage");
    let mut p = policy(
        "throttle",
        CardAction::SpeedLimit,
        Mode::Enforce,
        ratio.min(1.0),
        1,
    );
    p.scope.price_plan = Some(plan);
    let s = settings(1.0, vec![p]);
    let seen = Seen::default();
    pass(&engine, &store, &s, &seen, TODAY).await;

    assert_eq!(
        sim.stats().calls("speed_limit"),
        1,
        "exactly one work order"
    );
    let (id, sent_card): (i64, SimCardId) =
        sqlx::query_as("SELECT id, sim_card_id FROM guard_actions")
            .fetch_one(&pool)
            .await
            .expect("one decision");
    assert_eq!(sent_card, card);
    let rig = Rig {
        pool: &pool,
        engine: &engine,
        store: &store,
        settings: &s,
        seen: &seen,
    };
    until_status(&rig, TODAY, id, "completed").await;
    assert_eq!(
        sim.stats().calls("speed_limit"),
        1,
        "followed, never sent again"
    );
    assert!(sim.stats().calls("list_work_orders") >= 1);
    assert_eq!(sim.fleet().card(card).and_then(|c| c.speed_value), Some(64));

    // The next billing cycle (China Telecom: the calendar month): the limit is lifted.
    sim.set_today(d("2026-12-01"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    pass(&engine, &store, &s, &seen, "2026-12-01").await;
    assert_eq!(sim.stats().calls("speed_limit"), 2, "one restore order");
    until_status(&rig, "2026-12-01", id, "restored").await;
    assert_eq!(sim.fleet().card(card).and_then(|c| c.speed_value), Some(-1));
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM guard_actions WHERE id = {id} AND closed_at IS NOT NULL AND restored_at IS NOT NULL AND completed_at IS NOT NULL")).await,
        1
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM alerts WHERE kind = 'GslGuardAction' AND resolved_at IS NULL"
        )
        .await,
        0,
        "the episode resolves with the restore"
    );
    assert_eq!(sim.stats().calls("speed_limit"), 2);
    assert_eq!(seen.count("completed"), 1);
    assert_eq!(seen.count("restored"), 1);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_policy_matching_half_the_fleet_is_held_by_the_fleet_brake(pool: PgPool) {
    let (store, sim, engine) = synced(&pool, 400).await;
    // The median ratio of the cards with any usage: a threshold a typo could plausibly set.
    let median: f64 = sqlx::query_scalar(
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY r) FROM (SELECT flow_used_mb / \
         NULLIF(flow_used_mb + flow_left_mb, 0) AS r FROM sim_cards) x WHERE r > 0",
    )
    .fetch_one(&pool)
    .await
    .expect("median");
    let fleet = scalar(&pool, "SELECT count(*) FROM sim_cards").await;
    let matching = scalar(
        &pool,
        &format!("SELECT count(*) FROM sim_cards WHERE flow_used_mb / NULLIF(flow_used_mb + flow_left_mb, 0) >= {median}"),
    )
    .await;
    assert!(
        matching * 4 >= fleet,
        "a quarter or more of the fleet matches: {matching} of {fleet}"
    );
    let s = settings(
        0.01,
        vec![policy(
            "typo",
            CardAction::Stop,
            Mode::Enforce,
            median,
            1000,
        )],
    );
    let seen = Seen::default();
    let report = pass(&engine, &store, &s, &seen, TODAY).await;

    let limit = fleet / 100;
    assert_eq!(report.braked, vec!["typo".to_owned()]);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM guard_actions").await,
        limit,
        "none beyond the brake"
    );
    assert!(sim.stats().calls("stop_sim_card") <= limit as u64);
    let (value, threshold): (f64, f64) = sqlx::query_as(
        "SELECT value, threshold FROM alerts WHERE kind = 'GslGuardBrake' AND resolved_at IS NULL \
         AND details->>'policy' = 'typo'",
    )
    .fetch_one(&pool)
    .await
    .expect("GslGuardBrake fires");
    assert_eq!((value as i64, threshold as i64), (matching, limit));
    assert_eq!(seen.count("braked"), 1);

    // The rest of the day the policy stays held: nothing more is decided.
    let again = pass(&engine, &store, &s, &seen, TODAY).await;
    assert!(again.decided.is_empty(), "{again:?}");
    assert_eq!(again.braked, vec!["typo".to_owned()]);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM guard_actions").await,
        limit
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn an_action_the_carrier_does_not_offer_is_refused_with_its_reason_and_not_sent(
    pool: PgPool,
) {
    let (store, sim, engine) = synced(&pool, 300).await;
    // Data cuts are China Telecom's only; these are China Mobile cards.
    let plan: String = sqlx::query_scalar(
        "SELECT price_plan_name FROM sim_cards WHERE iccid LIKE '898600%' AND flow_used_mb > 0 \
         GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("a China Mobile plan");
    let mut p = policy(
        "cut-mobile",
        CardAction::CutNet,
        Mode::Enforce,
        0.0001,
        1000,
    );
    p.scope.price_plan = Some(plan.clone());
    let s = settings(1.0, vec![p]);
    let seen = Seen::default();
    pass(&engine, &store, &s, &seen, TODAY).await;

    let refused = scalar(
        &pool,
        "SELECT count(*) FROM guard_actions WHERE status = 'refused'",
    )
    .await;
    assert!(refused > 0);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM guard_actions WHERE status <> 'refused'"
        )
        .await,
        0
    );
    let reason: String = sqlx::query_scalar("SELECT reason FROM guard_actions LIMIT 1")
        .fetch_one(&pool)
        .await
        .expect("reason");
    assert!(
        reason.contains("not sent: cut_net needs a China Telecom card; this is a")
            && reason.contains("China Mobile card"),
        "{reason}"
    );
    assert_eq!(sim.stats().calls("cut_net"), 0, "nothing sent");
    assert_eq!(seen.count("refused") as i64, refused);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn sim_commands_confirm_print_the_order_and_name_the_code_of_a_repeat(pool: PgPool) {
    let sim = simulator(50, TODAY, true).await;
    let card = sim
        .fleet()
        .card_ids()
        .filter_map(|id| sim.fleet().card(id))
        .find(|c| c.sim_status == 20 && c.iccid.starts_with("898603"))
        .expect("a China Telecom card in use");
    sim.reset_stats();

    // No terminal to ask on and no --yes: refused before any call.
    let out = bin(&sim, &pool, &["sim", "stop", "--iccid", &card.iccid]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(sim.stats().calls("stop_sim_card"), 0);

    let out = bin(
        &sim,
        &pool,
        &["sim", "stop", "--iccid", &card.iccid, "--yes"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("work order 1000001"), "{printed}");
    assert_eq!(sim.stats().calls("stop_sim_card"), 1);

    // The same operation again inside GSL's 5 minutes: exit 1 naming the code, after one more call.
    let out = bin(
        &sim,
        &pool,
        &["sim", "stop", "--iccid", &card.iccid, "--yes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GSL.00016016"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(
        sim.stats().calls("stop_sim_card"),
        2,
        "no retry of a refusal"
    );

    // A data cut on a China Mobile card is refused without a call.
    let mobile = sim
        .fleet()
        .card_ids()
        .filter_map(|id| sim.fleet().card(id))
        .find(|c| c.iccid.starts_with("898600"))
        .expect("a China Mobile card");
    let out = bin(
        &sim,
        &pool,
        &["sim", "cut-net", "--iccid", &mobile.iccid, "--yes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("China Telecom"));
    assert_eq!(sim.stats().calls("cut_net"), 0);

    let out = bin(&sim, &pool, &["sim", "show", "--iccid", &card.iccid]).await;
    assert_eq!(out.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("China Telecom") && shown.contains("speed_limit, cut_net"),
        "{shown}"
    );
}

/// The binary with the simulator as account `main` and the test's database (awaited, so the simulator in
/// this test's runtime keeps answering).
async fn bin(sim: &SimulatorHandle, pool: &PgPool, args: &[&str]) -> std::process::Output {
    let o = pool.connect_options();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or_default()
    );
    tokio::process::Command::new(BIN)
        .args(args)
        .env("GSL_SYNC__DATABASE__URL", url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", sim.base_url())
        .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", sim.base_url())
        .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
        .env("GSL_SYNC__SYNC__RETRY_BASE_DELAY", "10ms")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the binary runs")
}
