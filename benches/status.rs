//! Status page benchmark: N cards (default 1,000,000; GSL_BENCH_CARDS) loaded with COPY, 14 days of daily
//! rows for every card and 90 for the cards whose pages are timed, open alerts for 6 % of the fleet; then
//! `/`, `/sims/{iccid}` and `/search` over real HTTP, p50/p99. Prints figures only.

use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate, Utc};
use gsl_sync::http::status::{routes, StatusOptions};
use gsl_sync::store::Store;
use secrecy::SecretString;
use sqlx::Connection;

const DB: &str = "gsl_sync_bench_status";
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const SAMPLED: i64 = 500;

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
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
    println!(
        "loaded {cards} cards, their daily rows and alerts in {:.1?}",
        t.elapsed()
    );

    let options = StatusOptions {
        schedules: vec![
            ("inventory".into(), "0 0 */4 * * *".into()),
            ("daily_flow".into(), "0 30 2 * * *".into()),
        ],
    };
    let app = routes(store.clone(), chrono_tz::Asia::Shanghai, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // The first request reads the fleet summary (a scan of every card); later ones reuse it until a run
    // finishes or 30 s pass.
    let t = Instant::now();
    let first = client.get(format!("{base}/")).send().await?;
    let bytes = first.bytes().await?.len();
    println!(
        "status page, fleet summary re-read: {:.1?} ({bytes} bytes)",
        t.elapsed()
    );
    let status = time(&client, (0..200).map(|_| format!("{base}/"))).await?;
    report("status page /", cards, &status);
    let pages = (0..SAMPLED).map(|i| format!("{base}/sims/{}", iccid(sampled(i, cards))));
    let card = time(&client, pages).await?;
    report("card page /sims/{iccid}", cards, &card);
    let searches = (0..SAMPLED).map(|i| format!("{base}/search?q={}", msisdn(sampled(i, cards))));
    let search = time(&client, searches).await?;
    report("search by MSISDN (303)", cards, &search);
    Ok(())
}

fn sampled(i: i64, cards: i64) -> i64 {
    (i * 7919) % cards
}

fn iccid(id: i64) -> String {
    format!("8986{id:016}")
}

fn msisdn(id: i64) -> String {
    format!("1440{id:010}")
}

async fn time(
    client: &reqwest::Client,
    urls: impl Iterator<Item = String>,
) -> Result<Vec<Duration>, Error> {
    let mut times = Vec::new();
    for url in urls {
        let t = Instant::now();
        let resp = client.get(&url).send().await?;
        let ok = resp.status().is_success() || resp.status().is_redirection();
        resp.bytes().await?;
        times.push(t.elapsed());
        if !ok {
            return Err(format!("{url} did not answer 2xx/3xx").into());
        }
    }
    times.sort();
    Ok(times)
}

fn report(what: &str, cards: i64, times: &[Duration]) {
    println!(
        "{what:<26} at {cards} cards over {} requests: p50 {:.2?}  p99 {:.2?}",
        times.len(),
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
}

async fn load(store: &Store, cards: i64) -> Result<(), Error> {
    let yesterday = Utc::now().date_naive() - Days::new(1);
    store
        .ensure_partitions(yesterday - Days::new(95), yesterday)
        .await?;
    let mut conn = store.pool().acquire().await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY sim_cards (account, sim_card_id, iccid, msisdn, sim_pool_id, price_plan_name, tag_names, \
             sim_status, operator_status, flow_used_mb, flow_left_mb, data_date) FROM STDIN",
        )
        .await?;
    let mut buf = String::new();
    for id in 0..cards {
        let quota = 1024.0 * (1 + id % 10) as f64;
        let used = quota * ((id * 37) % 101) as f64 / 100.0;
        buf += &format!(
            "main\t{id}\t{}\t{}\t{}\t套餐{}\tt{}\t{}\t{}\t{used:.2}\t{:.2}\t{yesterday}\n",
            iccid(id),
            msisdn(id),
            id % 50,
            id % 8,
            id % 10,
            if id % 20 == 0 { 14 } else { 20 },
            if id % 25 == 0 { 1 } else { -1 },
            quota - used
        );
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    let recent: Vec<NaiveDate> = (0..14).map(|i| yesterday - Days::new(i)).collect();
    let mut copy = conn
        .copy_in_raw("COPY sim_daily_flow (account, sim_card_id, iccid, day, flow_mb) FROM STDIN")
        .await?;
    let mut buf = String::new();
    let sampled_ids: std::collections::BTreeSet<i64> =
        (0..SAMPLED).map(|i| sampled(i, cards)).collect();
    for id in 0..cards {
        let days: Box<dyn Iterator<Item = NaiveDate>> = if sampled_ids.contains(&id) {
            Box::new((0..90).map(|i| yesterday - Days::new(i)))
        } else {
            Box::new(recent.iter().copied())
        };
        for d in days {
            buf += &format!(
                "main\t{id}\t{}\t{d}\t{}.5\n",
                iccid(id),
                (id + d.ordinal() as i64) % 13
            );
        }
        if buf.len() > 1 << 22 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    // Open episodes as a first evaluation leaves them: suspensions, quota warnings and criticals.
    sqlx::query(
        "INSERT INTO alerts (account, kind, severity, sim_card_id, iccid, subject, value, threshold) \
         SELECT account, 'GslSimSuspended', 'critical', sim_card_id, iccid, 'sim:' || sim_card_id, \
                operator_status, NULL FROM sim_cards WHERE operator_status <> -1 \
         UNION ALL \
         SELECT account, CASE WHEN r >= 0.9 THEN 'GslSimQuotaCritical' ELSE 'GslSimQuotaWarning' END, \
                CASE WHEN r >= 0.9 THEN 'critical' ELSE 'warning' END, sim_card_id, iccid, \
                'sim:' || sim_card_id, r, 0.8 \
         FROM (SELECT *, flow_used_mb / (flow_used_mb + flow_left_mb) AS r FROM sim_cards \
               WHERE sim_card_id % 50 = 0) c WHERE r >= 0.8",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO sync_runs (account, job, started_at, finished_at, status) \
         SELECT 'main', j, now() - (i || ' hours')::interval, now() - (i || ' hours')::interval \
                + interval '35 min', 'succeeded' \
         FROM generate_series(1, 2000) i, unnest(ARRAY['inventory', 'daily_flow']) j",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    Ok(())
}
