//! Integration tests for issue 10: wrong list pages never pass for complete, and what a run could not
//! fetch is named.

use std::process::{Command, Stdio};

use gsl_sync::simulator::{Faults, PageAnswer, PageFault, SimulatorHandle};
use gsl_sync::store::Store;
use gsl_sync::sync::{JobKind, JobReport};
use sqlx::PgPool;

use crate::helpers::simulator;
use crate::sync::{assert_ok, engine, run};

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");

fn fault(op: &'static str, page: u64, answer: PageAnswer, times: Option<u64>) -> Faults {
    Faults {
        page_fault: Some(PageFault {
            op,
            page,
            answer,
            times,
        }),
        ..Faults::default()
    }
}

async fn removed(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sim_cards WHERE removed_at IS NOT NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn failure(reports: &[JobReport]) -> String {
    assert!(!reports[0].succeeded(), "the run must fail");
    reports[0].failures().join("\n")
}

/// A first clean pass of 1,200 cards, then one with page 2 answered wrong every time.
async fn inventory_with_bad_page_2(pool: &PgPool, answer: PageAnswer) -> String {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(1200, "2026-11-20", false).await;
    let engine = engine(&store, &sim, "2026-11-20");
    assert_ok(&run(&engine, &[JobKind::Inventory]).await);
    sim.set_faults(fault("list_sim_cards", 2, answer, None));
    let reports = run(&engine, &[JobKind::Inventory]).await;
    assert_eq!(removed(pool).await, 0, "no card still listed is removed");
    let stored_error: String = sqlx::query_scalar(
        "SELECT error FROM sync_runs WHERE job = 'inventory' AND status = 'failed'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let message = failure(&reports);
    assert!(
        message.contains(&stored_error),
        "{message} / {stored_error}"
    );
    message
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_null_page_makes_the_pass_incomplete_and_removes_nothing(pool: PgPool) {
    let why = inventory_with_bad_page_2(&pool, PageAnswer::Null).await;
    assert!(why.contains("page 2 of 3 returned 0 of 500 cards"), "{why}");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn an_empty_page_makes_the_pass_incomplete_and_removes_nothing(pool: PgPool) {
    let why = inventory_with_bad_page_2(&pool, PageAnswer::Empty).await;
    assert!(why.contains("page 2 of 3 returned 0 of 500 cards"), "{why}");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_short_page_makes_the_pass_incomplete_and_keeps_what_it_got(pool: PgPool) {
    let why = inventory_with_bad_page_2(&pool, PageAnswer::Short(120)).await;
    assert!(
        why.contains("page 2 of 3 returned 120 of 500 cards"),
        "{why}"
    );
    assert!(why.contains("removals were not recorded"), "{why}");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_short_page_on_the_first_pass_stores_the_pages_after_it(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(1200, "2026-11-20", false).await;
    sim.set_faults(fault("list_sim_cards", 2, PageAnswer::Short(100), None));
    let reports = run(&engine(&store, &sim, "2026-11-20"), &[JobKind::Inventory]).await;
    failure(&reports);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM sim_cards")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 500 + 100 + 200, "every card the pass saw is stored");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_page_that_is_short_once_is_fetched_again_and_the_pass_completes(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(1200, "2026-11-20", false).await;
    let engine = engine(&store, &sim, "2026-11-20");
    assert_ok(&run(&engine, &[JobKind::Inventory]).await);
    let gone: Vec<_> = sim.fleet().card_ids().take(2).collect();
    sim.remove_cards(&gone);
    sim.reset_stats();
    sim.set_faults(fault("list_sim_cards", 2, PageAnswer::Null, Some(1)));
    let reports = run(&engine, &[JobKind::Inventory]).await;
    assert_ok(&reports);
    assert_eq!(
        sim.stats().calls("list_sim_cards"),
        4,
        "page 2 fetched twice"
    );
    assert_eq!(removed(&pool).await, 2, "a complete pass records removals");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn short_pool_pages_fail_the_pools_run_naming_the_page(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let sim = simulator(1200, "2026-11-20", false).await;
    let engine = engine(&store, &sim, "2026-11-20");
    assert_ok(&run(&engine, &[JobKind::Inventory]).await);
    sim.set_faults(fault("list_sim_pool_members", 1, PageAnswer::Empty, None));
    let why = failure(&run(&engine, &[JobKind::Pools]).await);
    assert!(why.contains("pool members"), "{why}");
    assert!(why.contains("page 1 of"), "{why}");
    sim.set_faults(fault("list_sim_pools", 1, PageAnswer::Null, None));
    let why = failure(&run(&engine, &[JobKind::Pools]).await);
    assert!(why.contains("pools: page 1 of 1 returned 0 of"), "{why}");
}

fn sync_inventory(sim: &SimulatorHandle, pool: &PgPool) -> std::process::Output {
    let opts = pool.connect_options();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or_default()
    );
    let base = sim.base_url();
    Command::new(BIN)
        .args(["sync", "inventory"])
        .env("GSL_SYNC__DATABASE__URL", url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", &base)
        .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", &base)
        .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
        .env("GSL_SYNC__SYNC__RETRY_BASE_DELAY", "10ms")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("sync runs")
}

/// Runs the binary off the runtime, which serves the simulator meanwhile.
async fn sync_inventory_off_runtime(
    sim: &std::sync::Arc<SimulatorHandle>,
    pool: &PgPool,
) -> std::process::Output {
    let (sim, pool) = (sim.clone(), pool.clone());
    tokio::task::spawn_blocking(move || sync_inventory(&sim, &pool))
        .await
        .unwrap()
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn sync_inventory_exits_1_naming_the_null_page(pool: PgPool) {
    let sim = std::sync::Arc::new(simulator(1200, "2026-11-20", false).await);
    let clean = sync_inventory_off_runtime(&sim, &pool).await;
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    sim.set_faults(fault("list_sim_cards", 2, PageAnswer::Null, None));
    let out = sync_inventory_off_runtime(&sim, &pool).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("page 2 of 3 returned 0 of 500 cards"),
        "{stderr}"
    );
    assert_eq!(removed(&pool).await, 0);
}
