//! Integration tests: the sync engine against the simulator over real HTTP and a fresh Postgres each.

use chrono::NaiveDate;
use gsl_sync::domain::SimCardId;
use gsl_sync::simulator::{DriftFault, Faults, SimulatorHandle};
use gsl_sync::store::{Fence, Store};
use gsl_sync::sync::{Engine, Fences, JobKind, JobReport, JobRequest};
use gsl_sync::telemetry::Telemetry;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::{d, settings_for, simulator};

pub fn engine(store: &Store, sim: &SimulatorHandle, today: &str) -> Engine {
    gsl_sync::app::engine(store.clone(), &settings_for(sim), &Telemetry::new())
        .expect("engine")
        .with_today(d(today))
}

pub async fn run(engine: &Engine, kinds: &[JobKind]) -> Vec<JobReport> {
    let mut reports = Vec::new();
    for kind in kinds {
        let report = engine
            .run(
                *kind,
                JobRequest::Scheduled,
                &Fences::every(Fence::unfenced()),
                &CancellationToken::new(),
            )
            .await;
        reports.push(report);
    }
    reports
}

pub fn assert_ok(reports: &[JobReport]) {
    for r in reports {
        assert!(r.succeeded(), "{:?}", r.failures());
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect(sql)
}

fn inserted(reports: &[JobReport]) -> u64 {
    reports
        .iter()
        .flat_map(|r| &r.runs)
        .map(|r| r.counts.inserted)
        .sum()
}

fn updated(reports: &[JobReport]) -> u64 {
    reports
        .iter()
        .flat_map(|r| &r.runs)
        .map(|r| r.counts.updated)
        .sum()
}

const ALL: [JobKind; 4] = [
    JobKind::Inventory,
    JobKind::DailyFlow,
    JobKind::Monthly,
    JobKind::Pools,
];

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn sync_all_fills_every_table_and_a_rerun_changes_nothing(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(2345, "2026-11-20", false).await;
    let engine = engine(&store, &sim, "2026-11-20");
    let reports = run(&engine, &ALL).await;
    assert_ok(&reports);

    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM sim_cards WHERE removed_at IS NULL"
        )
        .await,
        2345
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM sim_snapshots WHERE data_date = '2026-11-19'"
        )
        .await,
        2345
    );
    // October whole and November 1..19, for every card.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM sim_daily_flow").await,
        2345 * (31 + 19)
    );
    assert!(count(&pool, "SELECT count(*) FROM sim_monthly_usage").await >= 2345);
    assert!(count(&pool, "SELECT count(*) FROM sim_pools").await > 0);
    assert!(count(&pool, "SELECT count(*) FROM sim_pool_usage").await > 0);
    assert!(count(&pool, "SELECT count(*) FROM sim_pool_members").await > 0);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM sync_runs WHERE status = 'succeeded'"
        )
        .await,
        4
    );

    // The database holds exactly what the simulator says.
    let fleet = sim.fleet();
    let sample: Vec<(SimCardId, NaiveDate, f64)> = sqlx::query_as(
        "SELECT sim_card_id, day, flow_mb FROM sim_daily_flow ORDER BY random() LIMIT 200",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (id, day, mb) in sample {
        let truth = fleet.daily_flow(id, day).expect("a simulated card");
        assert!(
            (truth - mb).abs() < 1e-6,
            "card {id} day {day}: {mb} != {truth}"
        );
    }
    let cards: Vec<(SimCardId, Option<f64>, Option<f64>)> = sqlx::query_as(
        "SELECT sim_card_id, flow_used_mb, flow_left_mb FROM sim_cards ORDER BY random() LIMIT 100",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (id, used, left) in cards {
        let truth = fleet.card(id).expect("a simulated card");
        assert_eq!(
            (used, left),
            (Some(truth.flow_used), Some(truth.flow_left)),
            "card {id}"
        );
    }

    let rerun = run(&engine, &ALL).await;
    assert_ok(&rerun);
    assert_eq!(
        (inserted(&rerun), updated(&rerun)),
        (0, 0),
        "a rerun adds and changes nothing"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM sim_daily_flow").await,
        2345 * (31 + 19)
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_nightly_run_spends_exactly_the_planned_calls(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let n: u64 = 2345;
    let sim = simulator(n, "2026-11-20", true).await;
    assert_ok(
        &run(
            &engine(&store, &sim, "2026-11-20"),
            &[JobKind::Inventory, JobKind::DailyFlow],
        )
        .await,
    );

    // The next night, mid-month: one list pass and one month query per 100 cards.
    sim.set_today(d("2026-11-21"));
    sim.reset_stats();
    assert_ok(
        &run(
            &engine(&store, &sim, "2026-11-21"),
            &[JobKind::Inventory, JobKind::DailyFlow],
        )
        .await,
    );
    let stats = sim.stats();
    assert_eq!(stats.calls("list_sim_cards"), n.div_ceil(500));
    assert_eq!(stats.calls("daily_flow"), n.div_ceil(100));
    assert_eq!(
        stats.throttled, 0,
        "the client's pacing kept to GSL's limits"
    );

    // Early in a month it also closes out last month: one more month query per 100 cards.
    sim.set_today(d("2026-12-02"));
    sim.reset_stats();
    assert_ok(&run(&engine(&store, &sim, "2026-12-02"), &[JobKind::DailyFlow]).await);
    assert_eq!(sim.stats().calls("daily_flow"), 2 * n.div_ceil(100));
    assert_eq!(sim.stats().throttled, 0);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_week_of_downtime_is_caught_up(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(300, "2026-11-05", false).await;
    assert_ok(
        &run(
            &engine(&store, &sim, "2026-11-05"),
            &[JobKind::Inventory, JobKind::DailyFlow],
        )
        .await,
    );
    sim.set_today(d("2026-11-12"));
    let reports = run(&engine(&store, &sim, "2026-11-12"), &[JobKind::DailyFlow]).await;
    assert_ok(&reports);
    assert!(reports[0].runs[0].counts.gap_days.is_empty());
    // Every day from 1 October to 11 November, for every card.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM sim_daily_flow WHERE day BETWEEN '2026-10-01' AND '2026-11-11'"
        )
        .await,
        300 * (31 + 11)
    );
    let missing = count(
        &pool,
        "SELECT count(*) FROM generate_series('2026-11-04'::date, '2026-11-11', '1 day') g(day)
         WHERE NOT EXISTS (SELECT 1 FROM sim_daily_flow f WHERE f.day = g.day)",
    )
    .await;
    assert_eq!(missing, 0);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn two_months_of_downtime_are_recorded_as_a_gap(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(150, "2026-08-20", false).await;
    assert_ok(
        &run(
            &engine(&store, &sim, "2026-08-20"),
            &[JobKind::Inventory, JobKind::DailyFlow],
        )
        .await,
    );
    sim.set_today(d("2026-11-10"));
    let reports = run(&engine(&store, &sim, "2026-11-10"), &[JobKind::DailyFlow]).await;
    let gap = &reports[0].runs[0].counts.gap_days;
    assert_eq!(gap.first(), Some(&d("2026-08-20")));
    assert_eq!(gap.last(), Some(&d("2026-09-30")));
    let recorded: Vec<NaiveDate> =
        sqlx::query_scalar("SELECT unnest(gap_days) FROM sync_runs WHERE job = 'daily_flow' AND cardinality(gap_days) > 0")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(&recorded, gap);
    // What the API still offers was fetched.
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT day) FROM sim_daily_flow WHERE day >= '2026-10-01'"
        )
        .await,
        31 + 9
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn drift_during_a_pass_loses_and_doubles_no_stable_card(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(2345, "2026-11-20", false).await;
    let stable: Vec<SimCardId> = sim.fleet().card_ids().collect();
    sim.set_faults(Faults {
        drift: Some(DriftFault {
            inserts: 3,
            removes: 2,
        }),
        ..Faults::default()
    });
    let reports = run(&engine(&store, &sim, "2026-11-20"), &[JobKind::Inventory]).await;
    let listed_now: std::collections::HashSet<SimCardId> = sim.fleet().card_ids().collect();
    let in_db: Vec<(SimCardId, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT sim_card_id, removed_at FROM sim_cards")
            .fetch_all(&pool)
            .await
            .unwrap();
    let in_db_ids: std::collections::HashSet<SimCardId> = in_db.iter().map(|(id, _)| *id).collect();
    assert_eq!(in_db_ids.len(), in_db.len(), "no card twice");
    for id in stable.iter().filter(|id| listed_now.contains(id)) {
        assert!(in_db_ids.contains(id), "stable card {id} lost");
    }
    for (id, removed) in &in_db {
        if listed_now.contains(id) {
            assert!(removed.is_none(), "listed card {id} marked removed");
        }
    }
    assert!(reports[0].runs[0]
        .counts
        .details
        .contains_key("reconciling_pass"));
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn cards_gone_from_a_complete_pass_are_marked_removed(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(600, "2026-11-20", false).await;
    let engine = engine(&store, &sim, "2026-11-20");
    assert_ok(&run(&engine, &[JobKind::Inventory]).await);
    let gone: Vec<SimCardId> = sim.fleet().card_ids().take(3).collect();
    sim.remove_cards(&gone);
    let reports = run(&engine, &[JobKind::Inventory]).await;
    assert_ok(&reports);
    assert_eq!(reports[0].runs[0].counts.removed, 3);
    let removed: Vec<SimCardId> = sqlx::query_scalar(
        "SELECT sim_card_id FROM sim_cards WHERE removed_at IS NOT NULL ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut expected = gone.clone();
    expected.sort();
    assert_eq!(removed, expected);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_failing_api_fails_the_run_but_keeps_what_was_stored(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(1200, "2026-11-20", false).await;
    sim.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let reports = run(&engine(&store, &sim, "2026-11-20"), &[JobKind::Inventory]).await;
    assert!(!reports[0].succeeded());
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM sim_cards WHERE removed_at IS NOT NULL"
        )
        .await,
        0
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn daily_flow_creates_next_months_partitions_and_drops_those_past_retention(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    // A month of history far older than the default retention of 1,095 days.
    store
        .ensure_partitions(d("2020-01-01"), d("2020-01-31"))
        .await
        .unwrap();
    store
        .merge_daily_flow(
            &gsl_sync::store::Fence::unfenced(),
            "main",
            &[gsl_sync::store::DailyFlowRow {
                sim_card_id: SimCardId::from(1),
                iccid: None,
                day: d("2020-01-15"),
                flow_mb: 9.0,
            }],
        )
        .await
        .unwrap();
    let sim = simulator(120, "2026-11-20", false).await;
    assert_ok(
        &run(
            &engine(&store, &sim, "2026-11-20"),
            &[JobKind::Inventory, JobKind::DailyFlow],
        )
        .await,
    );
    let partitions: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'sim_daily_flow' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        !partitions.iter().any(|p| p.contains("2020_01")),
        "{partitions:?}"
    );
    assert!(
        partitions.iter().any(|p| p.ends_with("2026_12")),
        "next month exists ahead: {partitions:?}"
    );
    let old_rollups: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sim_flow_monthly WHERE month < '2026-01-01'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(old_rollups, 0, "the dropped month's rollup goes with it");
    let this_month: f64 =
        sqlx::query_scalar("SELECT sum(flow_mb) FROM sim_flow_monthly WHERE month = '2026-11-01'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let daily: f64 = sqlx::query_scalar(
        "SELECT sum(flow_mb) FROM sim_daily_flow WHERE day >= '2026-11-01' AND day < '2026-12-01'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(daily > 0.0);
    assert!((this_month - daily).abs() < 1e-6, "{this_month} vs {daily}");
}

/// `sync all` on an empty database with the jobs side by side on GSL's real limits: daily flow and
/// month-usages start with no stored card, pick up every card the inventory lists as it goes, and no call
/// is throttled.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn jobs_side_by_side_complete_every_card_the_inventory_lists(pool: PgPool) {
    let sim = simulator(1200, "2026-11-20", true).await;
    let store = Store::from_pool(pool.clone());
    let engine = engine(&store, &sim, "2026-11-20");
    let reports = engine
        .run_together(
            &JobKind::ALL,
            JobRequest::Scheduled,
            &Fences::every(Fence::unfenced()),
            &CancellationToken::new(),
        )
        .await;
    assert_ok(&reports);
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT sim_card_id) FROM sim_daily_flow"
        )
        .await,
        1200,
        "daily flow missed cards the inventory listed while it ran"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM sim_daily_flow").await,
        1200 * (31 + 19)
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT sim_card_id) FROM sim_monthly_usage"
        )
        .await,
        1200
    );
    assert_eq!(
        sim.stats().throttled,
        0,
        "the shared budget kept to GSL's limits"
    );
    // Side by side: daily flow's calls went out while the inventory still paged the list.
    let overlap: bool = sqlx::query_scalar(
        "SELECT d.started_at < i.finished_at FROM sync_runs d, sync_runs i
         WHERE d.job = 'daily_flow' AND i.job = 'inventory'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(overlap);
}
