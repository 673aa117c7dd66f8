//! /metrics at fleet scale: pre-rendered SimGauges served over loopback HTTP versus the same families encoded
//! through the `prometheus` crate's registry and TextEncoder. Prints figures and ratios; asserts nothing.
//!
//! Run: `cargo bench --bench metrics` (optional argument: card counts, e.g. `-- 100000`).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gsl_sync::domain::{PoolId, SimCardId};
use gsl_sync::http::{router, serve, HttpState};
use gsl_sync::metrics::{FleetExtras, MetricsOptions, SimGauges};
use gsl_sync::store::gauges::GaugeCard;
use gsl_sync::store::Store;
use gsl_sync::telemetry::Telemetry;
use prometheus::{Encoder, GaugeVec, Opts, Registry, TextEncoder};

const PLANS: [&str; 5] = [
    "全球流量 1GB 月包",
    "中国移动 500MB",
    "EU roaming 2GB",
    "套餐 \"A\"",
    "IoT 10MB",
];

fn rows(n: u64) -> impl Iterator<Item = GaugeCard> {
    (0..n).map(|i| {
        let used = ((i * 37) % 10_240) as f64 + 0.5;
        GaugeCard {
            account: if i % 10 == 0 {
                "other".into()
            } else {
                "main".into()
            },
            sim_card_id: SimCardId::from(1_000_000_000 + i as i64),
            iccid: Some(format!("8986{:016}", i)),
            cid: Some(format!("C{i}")),
            sim_type: Some(1),
            sim_status: Some(if i % 50 == 0 { 14 } else { 20 }),
            operator_status: Some(if i % 50 == 0 { 1 } else { -1 }),
            sim_pool_id: Some(PoolId::from((i % 100) as i64)),
            price_plan_name: Some(PLANS[(i % 5) as usize].into()),
            flow_used_mb: Some(used),
            flow_left_mb: Some(10_240.0 - used),
            tags: vec!["fleet-a".into()],
            data_date: NaiveDate::from_ymd_opt(2026, 3, 9),
        }
    })
}

/// (VmRSS, VmHWM) in MiB.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS, so each phase reports its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn scrape(client: &reqwest::Client, url: &str, gzip: bool) -> (Duration, usize) {
    let started = Instant::now();
    let mut req = client.get(url);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let mut resp = req.send().await.expect("scrape");
    let mut len = 0;
    while let Some(chunk) = resp.chunk().await.expect("body") {
        len += chunk.len();
    }
    (started.elapsed(), len)
}

struct Ours {
    build: Duration,
    plain_p50: Duration,
    plain_p99: Duration,
    gzip_p50: Duration,
    gzip_p99: Duration,
    plain_len: usize,
    gzip_len: usize,
    steady_mib: f64,
    peak_mib: f64,
    concurrent_mib: f64,
}

async fn ours(n: u64, samples: usize) -> Ours {
    let (base_rss, _) = rss();
    reset_peak();
    let started = Instant::now();
    let gauges = SimGauges::from_rows(rows(n), &FleetExtras::default(), &MetricsOptions::default())
        .expect("render");
    let build = started.elapsed();
    let (after, peak) = rss();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://postgres@127.0.0.1:5432/postgres")
        .expect("lazy pool");
    let state = HttpState {
        store: Store::from_pool(pool),
        gauges: gauges.clone(),
        telemetry: Telemetry::new(),
        metrics: MetricsOptions::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router(state), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut out = Vec::new();
    let mut lens = Vec::new();
    for gzip in [false, true] {
        let mut times = Vec::new();
        for _ in 0..samples {
            let (t, len) = scrape(&client, &url, gzip).await;
            times.push(t);
            lens.push(len);
        }
        times.sort();
        out.push((pct(&times, 0.5), pct(&times, 0.99)));
    }
    // Two concurrent plain scrapes share the rendering's buffers.
    reset_peak();
    let (a, b) = tokio::join!(scrape(&client, &url, false), scrape(&client, &url, false));
    assert_eq!(a.1, b.1);
    let (_, concurrent_peak) = rss();
    drop(client);
    let _ = stop.send(());
    let _ = server.await;
    Ours {
        build,
        plain_p50: out[0].0,
        plain_p99: out[0].1,
        gzip_p50: out[1].0,
        gzip_p99: out[1].1,
        plain_len: lens[0],
        gzip_len: lens[samples],
        steady_mib: after - base_rss,
        peak_mib: peak - base_rss,
        concurrent_mib: concurrent_peak - base_rss,
    }
}

struct Theirs {
    fill: Duration,
    encode: Duration,
    len: usize,
    steady_mib: f64,
    peak_mib: f64,
}

/// The same per-SIM families through the `prometheus` crate: one child per card and family.
fn theirs(n: u64) -> Theirs {
    let (base_rss, _) = rss();
    reset_peak();
    let registry = Registry::new();
    let value = |name: &str| {
        let g = GaugeVec::new(Opts::new(name, "help"), &["iccid"]).unwrap();
        registry.register(Box::new(g.clone())).unwrap();
        g
    };
    let families = [
        value("gsl_sim_flow_used_bytes"),
        value("gsl_sim_flow_left_bytes"),
        value("gsl_sim_usage_ratio"),
        value("gsl_sim_operator_status"),
        value("gsl_sim_status"),
    ];
    let info = GaugeVec::new(
        Opts::new("gsl_sim_info", "help"),
        &[
            "iccid",
            "sim_card_id",
            "account",
            "sim_type",
            "sim_pool_id",
            "price_plan",
        ],
    )
    .unwrap();
    registry.register(Box::new(info.clone())).unwrap();
    let started = Instant::now();
    for c in rows(n) {
        let id = c.iccid.clone().unwrap_or_default();
        let used = c.flow_used_mb.unwrap_or(0.0);
        let left = c.flow_left_mb.unwrap_or(0.0);
        let vals = [
            used * 1_048_576.0,
            left * 1_048_576.0,
            used / (used + left),
            f64::from(c.operator_status.unwrap_or(0)),
            f64::from(c.sim_status.unwrap_or(0)),
        ];
        for (f, v) in families.iter().zip(vals) {
            f.with_label_values(&[&id]).set(v);
        }
        let (card, pool) = (
            c.sim_card_id.to_string(),
            c.sim_pool_id.unwrap_or_default().to_string(),
        );
        let plan = c.price_plan_name.unwrap_or_default();
        info.with_label_values(&[&id, &card, &c.account, "1", &pool, &plan])
            .set(1.0);
    }
    let fill = started.elapsed();
    let (steady, _) = rss();
    let started = Instant::now();
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buf)
        .unwrap();
    let encode = started.elapsed();
    let (_, peak) = rss();
    Theirs {
        fill,
        encode,
        len: buf.len(),
        steady_mib: steady - base_rss,
        peak_mib: peak - base_rss,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}x", a / b)
    } else {
        "n/a".into()
    }
}

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect::<Vec<_>>();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in sizes {
        let samples = if n >= 1_000_000 { 10 } else { 30 };
        let o = rt.block_on(ours(n, samples));
        let t = theirs(n);
        println!("== {n} cards, per-SIM on ({samples} scrapes each) ==");
        println!(
            "SimGauges  build+gzip {} | plain {} MiB p50 {} p99 {} | gzip {} KiB p50 {} p99 {}",
            ms(o.build),
            o.plain_len >> 20,
            ms(o.plain_p50),
            ms(o.plain_p99),
            o.gzip_len >> 10,
            ms(o.gzip_p50),
            ms(o.gzip_p99)
        );
        println!(
            "SimGauges  memory: steady {:.0} MiB, peak while building {:.0} MiB, peak during 2 concurrent scrapes {:.0} MiB",
            o.steady_mib, o.peak_mib, o.concurrent_mib
        );
        println!(
            "prometheus crate: fill {} | encode {} ({} MiB) | memory steady {:.0} MiB, peak {:.0} MiB",
            ms(t.fill),
            ms(t.encode),
            t.len >> 20,
            t.steady_mib,
            t.peak_mib
        );
        println!(
            "ratios (prometheus / SimGauges): scrape time {} (vs plain p50), {} (vs gzip p50); memory {}",
            ratio(t.encode.as_secs_f64(), o.plain_p50.as_secs_f64()),
            ratio(t.encode.as_secs_f64(), o.gzip_p50.as_secs_f64()),
            ratio(t.steady_mib, o.steady_mib)
        );
    }
}
