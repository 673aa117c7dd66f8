//! Alert evaluation over a synthetic fleet: prints how long the set-based rules and the episode
//! reconciliation take, the first time (episodes open) and in steady state (nothing changes).
//!
//! `cargo bench --bench alerts` (ALERTS_BENCH_CARDS, default 1,000,000; ALERTS_BENCH_DAYS of daily flow,
//! default 15). Uses the database `gsl_alerts_bench` on DATABASE_URL's server, recreated each run.
//! Measured (dev profile, 2 shared cores, load 3..9): 1,000,000 cards, 15 days → about 26 s per evaluation
//! with 220,109 open episodes, first run and steady state alike. Then three nights that move every card's
//! figures, each evaluated with `alerts` at fillfactor 50 (migration 0017) and at 100 (before it), alternately.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use gsl_sync::alerts;
use gsl_sync::config::{Settings, Sources};
use gsl_sync::store::Store;
use secrecy::SecretString;
use sqlx::Connection;

const DB: &str = "gsl_alerts_bench";

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cards = env_num("ALERTS_BENCH_CARDS", 1_000_000);
    let days = env_num("ALERTS_BENCH_DAYS", 15);
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = sqlx::PgConnection::connect(&server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {DB} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = SecretString::from(format!("{base}/{DB}"));
    let store = Store::connect(&url, 4).await?;
    store.migrate().await?;
    let as_of = NaiveDate::from_ymd_opt(2026, 3, 10).ok_or("date")?;

    let t = Instant::now();
    seed(&store, cards, days, as_of).await?;
    println!(
        "seeded {cards} cards, {days} days of daily flow in {:.1?}",
        t.elapsed()
    );

    let settings = Settings::load_from(&Sources {
        file: None,
        env: Some(Default::default()),
    })?
    .alerts;
    let mut runs: Vec<(&str, Duration, alerts::EvalSummary)> = Vec::new();
    for label in ["first evaluation", "steady state", "steady state"] {
        let t = Instant::now();
        let s = alerts::evaluate(&store, &settings, as_of, Utc::now()).await?;
        runs.push((label, t.elapsed(), s));
    }
    for (label, took, s) in &runs {
        println!(
            "{label:<18} {took:>10.2?}  opened {:>7} resolved {:>7} open {:>7}  {:.2} µs/card",
            s.opened,
            s.resolved,
            s.open,
            took.as_secs_f64() * 1e6 / cards as f64
        );
    }
    if let [first, _, steady] = runs.as_slice() {
        println!(
            "steady / first: {:.2}",
            steady.1.as_secs_f64() / first.1.as_secs_f64()
        );
    }
    after_nights(&store, &settings, as_of).await?;
    drop(store);
    if std::env::var_os("ALERTS_BENCH_KEEP").is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {DB} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
    }
    Ok(())
}

/// A night moves every card's figures, so the evaluation after it rewrites every open episode. With half of
/// each `alerts` page free (migration 0017) the new versions are heap-only; packed full, as before 0017,
/// each one writes an entry in each of the table's indexes. The two alternate, three nights each, so the
/// machine's drift falls on both alike; the cards are vacuumed after each night, so what differs is the
/// episodes' rewrite alone.
async fn after_nights(
    store: &Store,
    settings: &alerts::AlertSettings,
    as_of: NaiveDate,
) -> Result<(), Box<dyn std::error::Error>> {
    let fills = [50, 100];
    let mut took: [Vec<Duration>; 2] = Default::default();
    for night in 0..3 {
        for (i, fill) in fills.iter().enumerate() {
            for sql in [
                format!("ALTER TABLE alerts SET (fillfactor = {fill})"),
                "VACUUM FULL alerts".into(),
                "ANALYZE alerts".into(),
                "UPDATE sim_cards SET flow_used_mb = flow_used_mb + 0.25, flow_left_mb = flow_left_mb - 0.25 \
                 WHERE flow_left_mb >= 0.25"
                    .into(),
                "VACUUM ANALYZE sim_cards".into(),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(store.pool())
                    .await?;
            }
            let t = Instant::now();
            let s = alerts::evaluate(store, settings, as_of, Utc::now()).await?;
            let elapsed = t.elapsed();
            took[i].push(elapsed);
            println!(
                "after night {} (alerts fillfactor {fill:>3}) {elapsed:>10.2?}  opened {:>7} resolved {:>7} open {:>7}",
                night + 1,
                s.opened,
                s.resolved,
                s.open
            );
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (half, full) = (median(&mut took[0]), median(&mut took[1]));
    println!(
        "evaluation after a night, median of 3: fillfactor 50 {half:.2?}, fillfactor 100 {full:.2?}, ratio {:.2}",
        half.as_secs_f64() / full.as_secs_f64()
    );
    sqlx::query("ALTER TABLE alerts SET (fillfactor = 50)")
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Ratios spread over 0..1 (about 20% warn or worse), 1% suspended, 1% spiking on the last day.
async fn seed(store: &Store, cards: i64, days: i64, as_of: NaiveDate) -> Result<(), sqlx::Error> {
    let pool = store.pool();
    sqlx::query("CREATE TABLE sim_daily_flow_all PARTITION OF sim_daily_flow DEFAULT")
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, operator_status,
                                price_plan_name, tag_names, data_date)
         SELECT 'bench', i, '8986' || i, (i % 1000)::float8, (1000 - i % 1000)::float8,
                CASE WHEN i % 100 = 0 THEN 1 ELSE -1 END, 'plan-' || (i % 10), 'tag-' || (i % 7), $2
         FROM generate_series(1, $1::bigint) i",
    )
    .bind(cards)
    .bind(as_of)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO sim_daily_flow (account, sim_card_id, day, flow_mb)
         SELECT 'bench', i, $2::date - d,
                CASE WHEN d = 0 AND i % 100 = 1 THEN 500 ELSE (i % 37)::float8 END
         FROM generate_series(1, $1::bigint) i, generate_series(0, $3::int - 1) d",
    )
    .bind(cards)
    .bind(as_of)
    .bind(days as i32)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}
