//! Report benchmark: N cards (default 1,000,000; GSL_BENCH_CARDS) × two months of daily rows loaded with COPY,
//! then the monthly report per group-by and the 90-day history of many cards (p50/p99). Prints figures only.

use std::time::{Duration, Instant};

use gsl_sync::domain::GroupBy;
use gsl_sync::report::{sim_report, usage_report};
use gsl_sync::store::Store;
use secrecy::SecretString;
use sqlx::Connection;

const DB: &str = "gsl_sync_bench_report";
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cards: i64 = std::env::var("GSL_BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut admin = sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {DB} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    let store = Store::connect(&SecretString::from(format!("{SERVER}/{DB}")), 8).await?;
    store.migrate().await?;
    let t = Instant::now();
    load(&store, cards).await?;
    println!("loaded {cards} cards x 61 days in {:.1?}", t.elapsed());
    // COPY went around the daily-flow merge, which keeps the monthly rollup; build it as an import would.
    let t = Instant::now();
    let from = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
    let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let written = gsl_sync::store::reports::rebuild_flow_rollup(&store, from, to).await?;
    sqlx::query("ANALYZE sim_flow_monthly")
        .execute(store.pool())
        .await?;
    println!(
        "monthly rollup of {written} card-months rebuilt in {:.1?}",
        t.elapsed()
    );
    for by in [
        GroupBy::Account,
        GroupBy::Plan,
        GroupBy::Pool,
        GroupBy::Tag,
        GroupBy::Sim,
    ] {
        let t = Instant::now();
        let r = usage_report(&store, "2026-11".parse().unwrap(), by, Some(20)).await?;
        println!(
            "monthly report by {:<8} {:>8.2?}  ({} groups)",
            format!("{by:?}"),
            t.elapsed(),
            r.groups_total
        );
    }
    let mut times: Vec<Duration> = Vec::new();
    for i in 0..500i64 {
        let id = (i * 7919) % cards;
        let t = Instant::now();
        sim_report(
            &store,
            None,
            Some(gsl_sync::domain::SimCardId::from(id)),
            chrono::NaiveDate::from_ymd_opt(2026, 9, 2),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30),
            chrono_tz::Asia::Shanghai,
        )
        .await?;
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "90-day history over 500 cards: p50 {:.2?}  p99 {:.2?}",
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
    Ok(())
}

async fn load(store: &Store, cards: i64) -> Result<(), Box<dyn std::error::Error>> {
    for (name, from, to) in [
        ("2026_10", "2026-10-01", "2026-11-01"),
        ("2026_11", "2026-11-01", "2026-12-01"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE sim_daily_flow_p{name} PARTITION OF sim_daily_flow FOR VALUES FROM ('{from}') TO ('{to}')"
        )))
        .execute(store.pool())
        .await?;
    }
    let mut conn = store.pool().acquire().await?;
    let mut copy = conn
        .copy_in_raw("COPY sim_cards (account, sim_card_id, iccid, sim_pool_id, price_plan_name, tag_names, sim_status) FROM STDIN")
        .await?;
    let mut buf = String::new();
    for id in 0..cards {
        buf += &format!(
            "main\t{id}\t8986{id:016}\t{}\t套餐{}\tt{},t{}\t{}\n",
            id % 50,
            id % 8,
            id % 10,
            id % 7,
            if id % 20 == 0 { 14 } else { 20 }
        );
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    let days: Vec<chrono::NaiveDate> = chrono::NaiveDate::from_ymd_opt(2026, 10, 1)
        .into_iter()
        .flat_map(|d| d.iter_days().take(61))
        .collect();
    let mut copy = conn
        .copy_in_raw("COPY sim_daily_flow (account, sim_card_id, iccid, day, flow_mb) FROM STDIN")
        .await?;
    let mut buf = String::new();
    for id in 0..cards {
        for (i, d) in days.iter().enumerate() {
            buf += &format!(
                "main\t{id}\t8986{id:016}\t{d}\t{}.5\n",
                (id + i as i64) % 13
            );
        }
        if buf.len() > 1 << 22 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    sqlx::query(
        "INSERT INTO sim_monthly_usage (account, sim_card_id, billing_cycle, flow_used_mb) \
                 SELECT 'main', sim_card_id, '2026-11-01', sim_card_id % 300 FROM sim_cards",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    Ok(())
}
