//! A night of a fleet that has been running: its inventory and two months of daily flow already stored (as
//! the simulator serves them), so the night refreshes the month and brings one new day, as every night does.
//! The stored state is built once into a template database; each measured night starts from a copy of it.

use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use gsl_sync::domain::SimCardId;
use gsl_sync::simulator::{FleetView, SimulatorHandle};
use gsl_sync::store::flow_state::FlowMonthState;
use gsl_sync::store::Store;
use secrecy::SecretString;
use sqlx::Connection;

/// The account the bench settings name.
const ACCOUNT: &str = "main";
/// COPY buffers are sent at this size.
const CHUNK: usize = 4 << 20;

/// Stores every live card's daily flow from `from` to `through` as the simulator serves it (what earlier
/// nights merged), builds the rollups as an import does, and records both months as fetched that far.
pub async fn store_history(
    store: &Store,
    sim: &SimulatorHandle,
    from: NaiveDate,
    through: NaiveDate,
) {
    let started = Instant::now();
    store
        .ensure_partitions(from, through)
        .await
        .expect("partitions");
    let fleet = sim.fleet();
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= through).collect();
    let mut conn = store.pool().acquire().await.expect("conn");
    let rows = copy_per_card(
        &mut conn,
        "COPY sim_daily_flow (account, sim_card_id, iccid, day, flow_mb) FROM STDIN",
        &fleet,
        |id| {
            days.iter()
                .filter_map(|d| Some((*d, fleet.daily_flow(id, *d)?)))
                .collect()
        },
    )
    .await;
    let cycles = store_month_usages(&mut conn, sim).await;
    drop(conn);
    let next_month = first_of_next_month(through);
    gsl_sync::store::reports::rebuild_flow_rollup(store, from, next_month)
        .await
        .expect("rollups");
    for month in [from, first_of_month(through)] {
        let last = first_of_next_month(month).pred_opt().unwrap();
        store
            .record_daily_flow_fetched(
                ACCOUNT,
                FlowMonthState {
                    month,
                    complete_through: last.min(through),
                    closed: last <= through,
                },
            )
            .await
            .expect("flow state");
    }
    sqlx::query("VACUUM ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");
    println!(
        "  (set-up: {rows} daily rows of {} days and {cycles} month-usages stored and rolled up in {:.0?})",
        days.len(),
        started.elapsed()
    );
}

/// Stores month-usages' six cycles for every live card as the simulator serves them; returns the rows.
async fn store_month_usages(conn: &mut sqlx::PgConnection, sim: &SimulatorHandle) -> u64 {
    let fleet = sim.fleet();
    let mut cycles = vec![gsl_sync::domain::YearMonth::of(fleet.today())];
    for _ in 1..6 {
        cycles.push(cycles[cycles.len() - 1].previous());
    }
    copy_per_card(
        conn,
        "COPY sim_monthly_usage (account, sim_card_id, iccid, billing_cycle, flow_used_mb) FROM STDIN",
        &fleet,
        |id| {
            cycles
                .iter()
                .filter_map(|ym| Some((ym.first_day(), fleet.month_usage(id, *ym)?)))
                .collect()
        },
    )
    .await
}

/// COPYs `(account, card, ICCID, date, MB)` rows, `figures` giving each live card's (date, MB) pairs, in
/// chunks of `CHUNK`; returns the rows.
async fn copy_per_card(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    fleet: &FleetView,
    figures: impl Fn(SimCardId) -> Vec<(NaiveDate, f64)>,
) -> u64 {
    use std::io::Write;
    let mut copy = conn.copy_in_raw(statement).await.expect("copy in");
    let (mut buf, mut rows) = (Vec::with_capacity(CHUNK + 4096), 0u64);
    for id in fleet.card_ids() {
        let Some(profile) = fleet.profile_of(id) else {
            continue;
        };
        let iccid = profile.iccid();
        for (date, mb) in figures(id) {
            writeln!(buf, "{ACCOUNT}\t{id}\t{iccid}\t{date}\t{mb}").expect("write");
            rows += 1;
        }
        if buf.len() >= CHUNK {
            copy.send(std::mem::take(&mut buf)).await.expect("send");
            buf.reserve(CHUNK + 4096);
        }
    }
    copy.send(buf).await.expect("send");
    copy.finish().await.expect("finish");
    rows
}

/// Replaces database `name` by a copy of `template`, ending the connections to `template` first.
pub async fn copy_database(server: &str, template: &str, name: &str) -> Store {
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("admin");
    for sql in [
        // The night's pool may still be closing its connections to the source.
        format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}'"
        ),
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        // A file copy: the default strategy writes the whole database through the WAL, minutes at a million cards.
        format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("copy database");
    }
    Store::connect(&SecretString::from(format!("{server}/{name}")), 8)
        .await
        .expect("connect")
}

/// With GSL_BENCH_KEEP_STORED set and `template` built for `n` cards by an earlier run: a simulator of the same
/// fleet on the template's day, so the set-up can be skipped.
pub async fn kept_template(server: &str, template: &str, n: u64) -> Option<SimulatorHandle> {
    std::env::var_os("GSL_BENCH_KEEP_STORED")?;
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .ok()?;
    let marker: Option<String> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(template)
    .fetch_optional(&mut admin)
    .await
    .ok()??;
    if marker.as_deref() != Some(template_marker(n).as_str()) {
        return None;
    }
    drop(admin);
    let kept = Store::connect(&SecretString::from(format!("{server}/{template}")), 2)
        .await
        .ok()?;
    kept.migrate().await.expect("migrate the kept template");
    kept.pool().close().await;
    let today: NaiveDate = super::STORED_TODAY.parse().ok()?;
    println!("  (set-up: kept from an earlier run, {template})");
    gsl_sync::simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        gsl_sync::simulator::SimulatorOptions {
            cards: n,
            today: today.pred_opt()?,
            rate_limit: None,
            ..Default::default()
        },
    )
    .await
    .ok()
}

/// Records that `template` holds the stored state of `n` cards, for `kept_template`.
pub async fn mark_template(server: &str, template: &str, n: u64) {
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("admin");
    let sql = format!("COMMENT ON DATABASE {template} IS '{}'", template_marker(n));
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .expect("mark template");
}

fn template_marker(n: u64) -> String {
    format!(
        "gsl-sync bench stored fleet: {n} cards through {}",
        super::STORED_TODAY
    )
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap()
}

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    first_of_month(d) + chrono::Months::new(1)
}
