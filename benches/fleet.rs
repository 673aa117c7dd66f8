//! The sync at fleet scale: inventory and daily flow of N simulated cards (rate limits off) into a fresh
//! database, beside the raw COPY rate of the same rows into the same tables (the ceiling), the peak RSS of
//! the sync, and how a paced nightly run compares with the time GSL's flow control forces.
//!
//! `cargo bench --bench fleet` (N = 1,000,000; set GSL_BENCH_CARDS for another size, GSL_BENCH_SCALED_ONLY=1
//! for the N-card night with GSL's limits ×20 alone, GSL_BENCH_WATCH_ONLY=1 for the real-time watch's
//! figures alone at min(N, 20,000) cards: checks per hour at 1 call/s, and the night with the watch on and
//! off side by side). GSL_BENCH_KEEP_STORED=1 reuses the stored fleet's template database of an earlier run
//! of the same N (its set-up takes about ten minutes at a million cards); GSL_BENCH_AFTER_ONLY=1 runs only
//! the figures after the night, on the database the last night left. GSL_BENCH_KEEP_NIGHT=1 keeps a copy of
//! the database as the night left it (`gsl_sync_bench_night_kept`), and with GSL_BENCH_AFTER_ONLY restores
//! it first, so the first figures after a night can be measured again without another night.
//! GSL_BENCH_TIMELINE=1 prints, every 20 s of a night, the calls made per operation and how busy the CPU was.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gsl_sync::config::{Settings, Sources};
use gsl_sync::domain::{FlowPeriod, GroupBy};
use gsl_sync::report::{sim_report, usage_report};
use gsl_sync::simulator::{self, RateLimits, SimulatorHandle, SimulatorOptions};
use gsl_sync::store::{Fence, Store};
use gsl_sync::sync::watch::{watch_account, NoAfterWatch, Watch, WatchSettings};
use gsl_sync::sync::{Engine, Fences, JobKind, JobReport, JobRequest};
use gsl_sync::telemetry::Telemetry;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const TODAY: &str = "2026-11-20";
/// The stored fleet's night: the last of the month, so the refresh re-reads 29 days per card and the
/// history after it is the 60 days from 1 October.
const STORED_TODAY: &str = "2026-11-30";

/// The factor GSL's limits are scaled by, on both sides, for the N-card night (GSL_BENCH_SCALE).
const DEFAULT_SCALE: f64 = 20.0;

#[path = "fleet/stored.rs"]
mod stored;

fn vm(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn server() -> String {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    url.rsplit_once('/')
        .map(|(s, _)| s.to_owned())
        .unwrap_or(url)
}

async fn fresh_store(name: &str) -> Store {
    let url = SecretString::from(format!("{}/{name}", server()));
    gsl_sync::store::drop_database_if_exists(&url)
        .await
        .expect("drop");
    let store = Store::connect(&url, 8).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

fn settings(sim: &SimulatorHandle, paced: bool) -> Settings {
    let base = sim.base_url();
    // Unpaced runs measure the local work alone; paced ones keep to GSL's limits.
    let (list, total) = if paced {
        ("1.0", "5.0")
    } else {
        ("100000", "100000")
    };
    let env = [
        ("GSL_SYNC__ACCOUNTS__MAIN__LIST_RATE_PER_SECOND", list),
        ("GSL_SYNC__ACCOUNTS__MAIN__TOTAL_RATE_PER_SECOND", total),
        ("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", base.as_str()),
        ("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", base.as_str()),
        ("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo"),
        ("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo"),
        ("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo"),
    ];
    Settings::load_from(&Sources {
        file: None,
        env: Some(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    })
    .expect("settings")
}

async fn run(engine: &Engine, kind: JobKind, request: JobRequest) -> (Duration, JobReport) {
    let started = Instant::now();
    let report = engine
        .run(
            kind,
            request,
            &Fences::every(Fence::unfenced()),
            &CancellationToken::new(),
        )
        .await;
    assert!(report.succeeded(), "{:?}", report.failures());
    (started.elapsed(), report)
}

/// Copies the tables' rows out and back in with raw COPY: the ceiling for writing those rows.
async fn copy_ceiling(store: &Store, tables: &[(&str, &str)]) -> Duration {
    let mut conn = store.pool().acquire().await.expect("conn");
    let mut dumps = Vec::new();
    for (table, cols) in tables {
        let mut out = conn
            .copy_out_raw(&format!("COPY (SELECT {cols} FROM {table}) TO STDOUT"))
            .await
            .expect("copy out");
        let mut bytes = Vec::new();
        use futures::StreamExt;
        while let Some(chunk) = out.next().await {
            bytes.extend_from_slice(&chunk.expect("chunk"));
        }
        dumps.push(bytes);
    }
    for (table, _) in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {table}")))
            .execute(&mut *conn)
            .await
            .expect("truncate");
    }
    let started = Instant::now();
    for ((table, cols), bytes) in tables.iter().zip(dumps) {
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table} ({cols}) FROM STDIN"))
            .await
            .expect("copy in");
        for chunk in bytes.chunks(1 << 20) {
            copy.send(chunk.to_vec()).await.expect("send");
        }
        copy.finish().await.expect("finish");
    }
    started.elapsed()
}

const CARD_COLS: &str = "account, sim_card_id, iccid, cid, msisdn, imsi, imei, account_id, sim_type, sim_status, operator_status, device_status, device_model, device_status_date, node_id, network_type, dbm, signal_level, sim_pool_id, order_id, price_plan_name, sim_price_plan_id, flow_used_mb, flow_left_mb, act_date, expire_time, tag_names, real_named, cut_net_flag, exceed_cut_net_flag, exceed_cut_net_quota, imei_bind_remain_times, speed_value, customer_attribute1, customer_attribute2, customer_attribute3, customer_attribute4, customer_attribute5, customer_attribute6, data_date";
const SNAPSHOT_COLS: &str =
    "account, sim_card_id, data_date, flow_used_mb, flow_left_mb, operator_status, sim_status";
const FLOW_COLS: &str = "account, sim_card_id, iccid, day, flow_mb";

async fn fleet_scale(n: u64) {
    let today: NaiveDate = TODAY.parse().unwrap();
    let sim = simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorOptions {
            cards: n,
            today,
            rate_limit: None,
            ..SimulatorOptions::default()
        },
    )
    .await
    .expect("simulator");
    let store = fresh_store("gsl_sync_bench_sync").await;
    let engine = gsl_sync::app::engine(store.clone(), &settings(&sim, false), &Telemetry::new())
        .expect("engine")
        .with_today(today);
    let rss_before = vm("VmRSS:");

    let (inv, _) = run(&engine, JobKind::Inventory, JobRequest::Scheduled).await;
    let yesterday = today.pred_opt().unwrap();
    let (flow, report) = run(
        &engine,
        JobKind::DailyFlow,
        JobRequest::DailyFlow(FlowPeriod::Date(yesterday)),
    )
    .await;
    let flow_rows: u64 = report.runs.iter().map(|r| r.counts.items_seen).sum();
    let (rerun, _) = run(&engine, JobKind::Inventory, JobRequest::Scheduled).await;
    let peak = vm("VmHWM:");
    println!(
        "sync done: inventory {:.1} s, daily flow {:.1} s ({flow_rows} rows), unchanged inventory rerun {:.1} s; measuring the COPY ceiling",
        inv.as_secs_f64(),
        flow.as_secs_f64(),
        rerun.as_secs_f64()
    );

    let card_ceiling = copy_ceiling(
        &store,
        &[("sim_cards", CARD_COLS), ("sim_snapshots", SNAPSHOT_COLS)],
    )
    .await;
    let flow_ceiling = copy_ceiling(&store, &[("sim_daily_flow", FLOW_COLS)]).await;

    let rate = |rows: u64, t: Duration| rows as f64 / t.as_secs_f64();
    let (inv_rate, inv_ceiling) = (rate(n, inv), rate(n, card_ceiling));
    let (flow_rate, flow_ceil) = (rate(flow_rows, flow), rate(flow_rows, flow_ceiling));
    let list_calls = n.div_ceil(500);
    let flow_calls = n.div_ceil(100);
    let forced = Duration::from_secs_f64(list_calls as f64 / 1.0 + flow_calls as f64 / 5.0);
    println!("== sync of {n} simulated cards (rate limits off, simulator in-process)");
    println!("inventory (list + decode + merge into sim_cards and sim_snapshots): {:>9.0} cards/s  ({:.1} s)", inv_rate, inv.as_secs_f64());
    println!("raw COPY of the same rows into the same tables (ceiling):           {:>9.0} rows/s   ({:.1} s)", inv_ceiling, card_ceiling.as_secs_f64());
    println!(
        "inventory / ceiling:                                                 {:>9.2}",
        inv_rate / inv_ceiling
    );
    println!("unchanged rerun of the inventory:                                    {:>9.0} cards/s  ({:.1} s)", rate(n, rerun), rerun.as_secs_f64());
    println!("daily flow, one date (fetch + decode + merge):                       {:>9.0} rows/s   ({:.1} s)", flow_rate, flow.as_secs_f64());
    println!("raw COPY of the same rows into sim_daily_flow (ceiling):             {:>9.0} rows/s   ({:.1} s)", flow_ceil, flow_ceiling.as_secs_f64());
    println!(
        "daily flow / ceiling:                                                {:>9.2}",
        flow_rate / flow_ceil
    );
    println!(
        "peak RSS of the process (sync + in-process simulator): {} MiB (before the sync: {} MiB)",
        peak, rss_before
    );
    println!(
        "local work of a nightly run (inventory + one day of flow): {:.1} s = {:.2} % of the {:.0} s GSL's flow control forces ({list_calls} list calls at 1/s + {flow_calls} daily-flow calls at 5/s)",
        (inv + flow).as_secs_f64(),
        100.0 * (inv + flow).as_secs_f64() / forced.as_secs_f64(),
        forced.as_secs_f64()
    );
    sim.shutdown().await;
}

/// An unthrottled simulator of `n` cards on `TODAY`, and a fresh database `db` holding its inventory.
async fn stored_fleet(n: u64, db: &str) -> (NaiveDate, SimulatorHandle, Store, Engine) {
    stored_fleet_on(n, TODAY.parse().unwrap(), db).await
}

/// `stored_fleet` on `today`.
async fn stored_fleet_on(
    n: u64,
    today: NaiveDate,
    db: &str,
) -> (NaiveDate, SimulatorHandle, Store, Engine) {
    let sim = simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorOptions {
            cards: n,
            today,
            rate_limit: None,
            ..SimulatorOptions::default()
        },
    )
    .await
    .expect("simulator");
    let store = fresh_store(db).await;
    let first = gsl_sync::app::engine(store.clone(), &settings(&sim, false), &Telemetry::new())
        .unwrap()
        .with_today(today);
    run(&first, JobKind::Inventory, JobRequest::Scheduled).await;
    (today, sim, store, first)
}

/// A nightly run with GSL's real limits, against the time those limits force.
async fn paced_nightly(n: u64) {
    let (today, sim, store, first) = stored_fleet(n, "gsl_sync_bench_paced").await;
    run(&first, JobKind::DailyFlow, JobRequest::Scheduled).await;

    let next = today.succ_opt().unwrap();
    sim.set_today(next);
    sim.set_rate_limit(Some(RateLimits::default()));
    sim.reset_stats();
    let engine = gsl_sync::app::engine(store.clone(), &settings(&sim, true), &Telemetry::new())
        .unwrap()
        .with_today(next);
    let started = Instant::now();
    let (inventory, _) = run(&engine, JobKind::Inventory, JobRequest::Scheduled).await;
    let (daily, _) = run(&engine, JobKind::DailyFlow, JobRequest::Scheduled).await;
    let took = started.elapsed();
    let stats = sim.stats();
    let (list, flow) = (stats.calls("list_sim_cards"), stats.calls("daily_flow"));
    // The first call of each phase goes at once; the rest are spaced by the limits.
    let forced = (list.saturating_sub(1)) as f64 / 1.0 + (flow.saturating_sub(1)) as f64 / 5.0;
    println!("== nightly run of {n} cards with GSL's limits (1/s list, 5/s total)");
    println!(
        "calls: {list} list + {flow} daily-flow (+{} login), 429s: {}; took {:.1} s, the limits force {:.1} s: ratio {:.3} (target ≤ 1.10)",
        stats.calls("login"),
        stats.throttled,
        took.as_secs_f64(),
        forced,
        took.as_secs_f64() / forced
    );
    println!(
        "  inventory {:.1} s (its {} list calls force {:.1} s), daily flow {:.1} s (its {} calls force {:.1} s)",
        inventory.as_secs_f64(),
        list,
        list.saturating_sub(1) as f64,
        daily.as_secs_f64(),
        flow,
        flow.saturating_sub(1) as f64 / 5.0
    );
    sim.shutdown().await;
}

fn main() {
    let n: u64 = std::env::var("GSL_BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if std::env::var_os("RUST_LOG").is_some() {
        gsl_sync::telemetry::init(gsl_sync::config::LogFormat::Text, "warn");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // GSL_BENCH_SCALED_ONLY=1 runs only the N-card night with the limits ×20.
    let scaled_only = std::env::var_os("GSL_BENCH_SCALED_ONLY").is_some();
    let watch_only = std::env::var_os("GSL_BENCH_WATCH_ONLY").is_some();
    let scale: f64 = std::env::var("GSL_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SCALE);
    rt.block_on(async {
        if watch_only {
            watch_figures(n.min(20_000)).await;
            return;
        }
        if std::env::var_os("GSL_BENCH_AFTER_ONLY").is_some() {
            keep_or_restore_the_night(true).await;
            after_the_night(n).await;
            return;
        }
        if scaled_only {
            stored_joint_floor(n, scale).await;
            keep_or_restore_the_night(false).await;
            after_the_night(n).await;
            return;
        }
        paced_nightly(2345).await;
        joint_floor(20_000, 1.0).await;
        watch_figures(20_000).await;
        if n > 0 {
            stored_joint_floor(n, scale).await;
            after_the_night(n).await;
            fleet_scale(n).await;
        }
    });
}

/// Resets the peak-RSS watermark (Linux), so each section reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time so far in jiffies (`/proc`): this process's, the whole machine's, and the machine's idle part.
#[derive(Clone, Copy)]
struct CpuSample {
    own: u64,
    machine: u64,
    idle: u64,
}

impl CpuSample {
    fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // utime and stime: the 14th and 15th fields, the 12th and 13th after the command's closing parenthesis.
        let own = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = all
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // idle and iowait
        let idle = fields.iter().skip(3).take(2).sum();
        Self {
            own,
            machine: fields.iter().sum(),
            idle,
        }
    }
}

/// With GSL_BENCH_TIMELINE set: every 20 s of a night, the calls made per operation and where the CPU went,
/// to see which part of a night runs over its floor.
async fn timeline(sim: &SimulatorHandle, stop: &CancellationToken) {
    if std::env::var_os("GSL_BENCH_TIMELINE").is_none() {
        return;
    }
    let ops = ["list_sim_cards", "daily_flow", "month_usages"];
    // The machine's jiffies are summed over its cores; the process's share is shown as % of one core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let started = Instant::now();
    let (mut last, mut cpu) = (sim.stats(), CpuSample::now());
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(20)) => {}
        }
        let (now, at) = (sim.stats(), CpuSample::now());
        let moved: Vec<String> = ops
            .iter()
            .map(|op| format!("{op} {}", now.calls(op) - last.calls(op)))
            .collect();
        let total: u64 = now.calls.values().sum::<u64>() - last.calls.values().sum::<u64>();
        let machine = (at.machine - cpu.machine).max(1) as f64;
        println!(
            "    t={:>4.0} s  calls {total:>4} ({})  bench process {:>3.0} % of a core  machine busy {:>3.0} %",
            started.elapsed().as_secs_f64(),
            moved.join(", "),
            100.0 * cores * (at.own - cpu.own) as f64 / machine,
            100.0 * (1.0 - (at.idle - cpu.idle) as f64 / machine),
        );
        (last, cpu) = (now, at);
    }
}

/// What one night cost: calls per operation, 429s and the wall time.
struct Night {
    took: Duration,
    list: u64,
    all: u64,
    throttled: u64,
    by_op: String,
}

/// A `sync all` on a fresh database with GSL's limits scaled by `scale` on both sides, run either one job
/// after another (`together = false`, how 0.1 ran) or side by side on the shared budget.
async fn night(n: u64, scale: f64, together: bool) -> Night {
    night_with(n, scale, together, None).await.0
}

/// The watch as aggressive as it gets: every card at 30 % or more, re-checked every second, the whole
/// unused budget its share. The night must not notice it.
fn eager_watch() -> WatchSettings {
    let mut w = WatchSettings::defaults(chrono_tz::Asia::Shanghai);
    w.ratio = 0.3;
    w.interval = Duration::from_secs(1);
    w.budget_share = 1.0;
    w.idle_poll = Duration::from_millis(200);
    w
}

/// The simulated day's clock running at real speed from 10:00 Beijing time, for the watch.
fn day_clock(today: NaiveDate) -> gsl_sync::sync::watch::Clock {
    let start = today.and_hms_opt(2, 0, 0).unwrap().and_utc();
    let t0 = Instant::now();
    std::sync::Arc::new(move || {
        start + chrono::Duration::from_std(t0.elapsed()).unwrap_or_default()
    })
}

/// `night`, with the watch of `watch` running beside the jobs on the same budget; also returns the
/// real-time checks made.
async fn night_with(
    n: u64,
    scale: f64,
    together: bool,
    watch: Option<WatchSettings>,
) -> (Night, u64) {
    let today: NaiveDate = TODAY.parse().unwrap();
    let sim = simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorOptions {
            cards: n,
            today,
            rate_limit: Some(scaled_limits(scale)),
            ..SimulatorOptions::default()
        },
    )
    .await
    .expect("simulator");
    let store = fresh_store("gsl_sync_bench_night").await;
    let out = run_night(&sim, store, today, scale, together, watch).await;
    sim.shutdown().await;
    out
}

fn scaled_limits(scale: f64) -> RateLimits {
    RateLimits {
        list_per_second: scale,
        total_per_second: 5.0 * scale,
    }
}

/// A `sync all` of every job on `today` against `sim` (whose limits the caller set) with the daemon's
/// limits scaled by `scale`, and the calls it made by operation.
async fn run_night(
    sim: &SimulatorHandle,
    store: Store,
    today: NaiveDate,
    scale: f64,
    together: bool,
    watch: Option<WatchSettings>,
) -> (Night, u64) {
    sim.reset_stats();
    let mut s = settings(sim, true);
    for a in &mut s.accounts {
        a.list_rate_per_second = scale;
        a.total_rate_per_second = 5.0 * scale;
    }
    let engine = gsl_sync::app::engine(store.clone(), &s, &Telemetry::new())
        .unwrap()
        .with_today(today);
    let (fence, cancel) = (Fences::every(Fence::unfenced()), CancellationToken::new());
    let stop_watch = CancellationToken::new();
    let watching = watch.map(|settings| {
        tokio::spawn(watch_account(
            Watch {
                store: store.clone(),
                client: engine.accounts()[0].client.clone(),
                settings,
                hooks: std::sync::Arc::new(NoAfterWatch),
                clock: day_clock(today),
            },
            Fence::unfenced(),
            stop_watch.clone(),
        ))
    });
    let started = Instant::now();
    let night = async {
        let reports = if together {
            engine
                .run_together(&JobKind::ALL, JobRequest::Scheduled, &fence, &cancel)
                .await
        } else {
            let mut out = Vec::new();
            for kind in JobKind::ALL {
                out.push(
                    engine
                        .run(kind, JobRequest::Scheduled, &fence, &cancel)
                        .await,
                );
            }
            out
        };
        stop_watch.cancel();
        reports
    };
    let (reports, ()) = tokio::join!(night, timeline(sim, &stop_watch));
    let took = started.elapsed();
    if let Some(task) = watching {
        task.await.expect("the watch stops");
    }
    for r in &reports {
        assert!(r.succeeded(), "{:?}", r.failures());
    }
    let stats = sim.stats();
    let ops = [
        "list_sim_cards",
        "daily_flow",
        "month_usages",
        "list_sim_pools",
        "list_sim_pool_members",
        "list_back_pools",
        "list_back_pool_members",
    ];
    let by_op = ops
        .iter()
        .map(|op| format!("{} {op}", stats.calls(op)))
        .collect::<Vec<_>>()
        .join(", ");
    let all = ops.iter().map(|op| stats.calls(op)).sum();
    let night = Night {
        took,
        list: stats.calls("list_sim_cards"),
        all,
        throttled: stats.throttled,
        by_op,
    };
    (night, stats.calls("list_sim_price_plans"))
}

/// The watch's figures with GSL's real limits: real-time checks per hour when nothing else runs (1 call/s
/// is the most GSL allows), and the side-by-side night's ratio to its joint floor with the watch off and on.
async fn watch_figures(n: u64) {
    println!("== real-time watch, {n} cards, GSL's limits (price plans 1/s, total 5/s)");
    // Checks per hour: a synced fleet, the watch alone with the default share for 60 s.
    let (today, sim, store, _) = stored_fleet(n, "gsl_sync_bench_watch").await;
    sim.set_rate_limit(Some(RateLimits::default()));
    sim.reset_stats();
    let engine = gsl_sync::app::engine(store.clone(), &settings(&sim, true), &Telemetry::new())
        .unwrap()
        .with_today(today);
    let mut w = eager_watch();
    w.budget_share = 0.5;
    let stop = CancellationToken::new();
    let task = tokio::spawn(watch_account(
        Watch {
            store: store.clone(),
            client: engine.accounts()[0].client.clone(),
            settings: w,
            hooks: std::sync::Arc::new(NoAfterWatch),
            clock: day_clock(today),
        },
        Fence::unfenced(),
        stop.clone(),
    ));
    let window = Duration::from_secs(60);
    tokio::time::sleep(window).await;
    stop.cancel();
    task.await.expect("the watch stops");
    let stats = sim.stats();
    let checks = stats.calls("list_sim_price_plans");
    let watched = store
        .watch_counts()
        .await
        .unwrap()
        .first()
        .map_or(0, |c| c.1);
    println!(
        "  watch alone (share 0.5, {watched} cards watched): {checks} checks in {} s = {:.0} checks/hour (1 call/s allows 3,600), 429s: {}",
        window.as_secs(),
        checks as f64 * 3600.0 / window.as_secs_f64(),
        stats.throttled
    );
    sim.shutdown().await;
    // The night, side by side on one budget, with the watch off and on.
    for watch in [None, Some(eager_watch())] {
        let on = watch.is_some();
        let (night, checks) = night_with(n, 1.0, true, watch).await;
        let floor =
            (night.list.saturating_sub(1) as f64).max(night.all.saturating_sub(1) as f64 / 5.0);
        println!(
            "  night with the watch {}: {} GSL calls, 429s: {}; wall {:.1} s, joint floor {:.1} s, ratio {:.3}; {} real-time checks during it",
            if on { "on (every card ≥ 30 %, every 1 s, share 1.0)" } else { "off" },
            night.all,
            night.throttled,
            night.took.as_secs_f64(),
            floor,
            night.took.as_secs_f64() / floor,
            checks,
        );
    }
}

/// `sync all` one job after another against the jobs side by side on one budget, beside the joint floor
/// max(list calls − 1, (all calls − 1) / 5) that GSL's limits force.
async fn joint_floor(n: u64, scale: f64) {
    println!("== sync all of {n} cards on a fresh database, GSL's limits ×{scale} (list {scale}/s, total {}/s)", 5.0 * scale);
    for together in [false, true] {
        reset_peak_rss();
        print_night(&night(n, scale, together).await, scale, together);
    }
}

fn print_night(night: &Night, scale: f64, together: bool) {
    let floor = ((night.list.saturating_sub(1)) as f64 / scale)
        .max((night.all.saturating_sub(1)) as f64 / (5.0 * scale));
    println!(
        "  {}: {} GSL calls ({}), 429s: {}; wall {:.1} s, joint floor {:.1} s, ratio {:.3} (target ≤ 1.10); peak RSS {} MiB",
        if together { "side by side, one budget" } else { "one job after another" },
        night.all,
        night.by_op,
        night.throttled,
        night.took.as_secs_f64(),
        floor,
        night.took.as_secs_f64() / floor,
        vm("VmHWM:"),
    );
}

/// The night of a fleet of `n` cards that has been running: inventory and every day from the 1st of last
/// month stored, the month refreshed and one new day brought in (`STORED_TODAY`: 60 days of history after
/// the night). Both runs start from a copy of the same stored state; the side-by-side one is left in
/// `gsl_sync_bench_night` for `after_the_night`.
async fn stored_joint_floor(n: u64, scale: f64) {
    let today: NaiveDate = STORED_TODAY.parse().unwrap();
    let yesterday = today.pred_opt().unwrap();
    println!(
        "== the night of {n} stored cards on {today} (month refreshed, {yesterday} new), GSL's limits ×{scale} (list {scale}/s, total {}/s)",
        5.0 * scale
    );
    let sim = match stored::kept_template(&server(), "gsl_sync_bench_stored", n).await {
        Some(sim) => sim,
        None => {
            let (_, sim, store, _) = stored_fleet_on(n, yesterday, "gsl_sync_bench_stored").await;
            let from = gsl_sync::domain::YearMonth::of(yesterday)
                .previous()
                .first_day();
            stored::store_history(&store, &sim, from, yesterday.pred_opt().unwrap()).await;
            store.pool().close().await;
            stored::mark_template(&server(), "gsl_sync_bench_stored", n).await;
            sim
        }
    };
    sim.set_today(today);
    sim.set_rate_limit(Some(scaled_limits(scale)));
    // Beyond 100,000 cards only the side-by-side night runs: one job after another takes twice as long and is
    // shown at every size up to that.
    let modes: &[bool] = if n > 100_000 { &[true] } else { &[false, true] };
    for &together in modes {
        let store =
            stored::copy_database(&server(), "gsl_sync_bench_stored", "gsl_sync_bench_night").await;
        evaluate_the_previous_night(&store, yesterday.pred_opt().unwrap()).await;
        reset_peak_rss();
        let (night, _) = run_night(&sim, store, today, scale, together, None).await;
        print_night(&night, scale, together);
    }
    sim.shutdown().await;
}

/// With GSL_BENCH_KEEP_NIGHT set: keeps a copy of the night's database as the night left it, or (`restore`)
/// puts that copy back.
async fn keep_or_restore_the_night(restore: bool) {
    if std::env::var_os("GSL_BENCH_KEEP_NIGHT").is_none() {
        return;
    }
    let (night, kept) = ("gsl_sync_bench_night", "gsl_sync_bench_night_kept");
    let (from, to) = if restore {
        (kept, night)
    } else {
        (night, kept)
    };
    stored::copy_database(&server(), from, to)
        .await
        .pool()
        .close()
        .await;
}

/// The built-in defaults, with no file and no environment.
fn built_in_settings() -> Settings {
    Settings::load_from(&Sources {
        file: None,
        env: Some(Default::default()),
    })
    .expect("settings")
}

/// A daemon that has been running evaluated the previous night's data, so its episodes are open when this
/// night begins; without them the first evaluation after the night would open every one of them, which a
/// deployment does once in its life.
async fn evaluate_the_previous_night(store: &Store, as_of: NaiveDate) {
    let s = built_in_settings();
    gsl_sync::alerts::evaluate(store, &s.alerts, as_of, chrono::Utc::now())
        .await
        .expect("evaluate the previous night");
}

/// What users wait on once the scaled night has stored its N cards and their history (the side-by-side
/// run's database): a gauge refresh, an alert evaluation, the month's usage report per grouping, and one
/// card's 90 days (p50/p99 over 200 cards).
async fn after_the_night(n: u64) {
    let url = SecretString::from(format!("{}/gsl_sync_bench_night", server()));
    let store = Store::connect(&url, 8).await.expect("connect");
    // A database an earlier build left (GSL_BENCH_AFTER_ONLY) takes this build's migrations first.
    store.migrate().await.expect("migrate");
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");
    let days: i64 = sqlx::query_scalar("SELECT count(DISTINCT day) FROM sim_daily_flow")
        .fetch_one(store.pool())
        .await
        .expect("days");
    let today: NaiveDate = STORED_TODAY.parse().unwrap();
    let s = built_in_settings();
    println!("== after that night: {n} cards, {days} days of history (release build)");
    let metrics = gsl_sync::metrics::MetricsOptions::new(&s.metrics, s.sync.timezone);
    let gauges = gsl_sync::metrics::SimGauges::new();
    // The first refresh after the night at the configured level, then the same text again at the default
    // and at the fastest level: the trade-off `metrics.gzip_level` makes, measured side by side.
    let levels = [("first", metrics.gzip_level), ("next", 6), ("next", 1)];
    for (run, level) in levels {
        let mut at = metrics.clone();
        at.gzip_level = level;
        let t = Instant::now();
        let stats = gauges.refresh(&store, &at).await.expect("gauges");
        println!(
            "  gauge refresh ({run:<5} gzip {level}) {:>8.2?} (target ≤ 5 s; {} MB of text, {} MB gzipped)",
            t.elapsed(),
            stats.plain_bytes >> 20,
            stats.gzip_bytes >> 20,
        );
    }
    let as_of = today - chrono::Duration::days(1);
    for label in ["alert evaluation (first)", "alert evaluation (next) "] {
        let t = Instant::now();
        let summary = gsl_sync::alerts::evaluate(&store, &s.alerts, as_of, chrono::Utc::now())
            .await
            .expect("evaluate");
        println!(
            "  {label} {:>8.2?} (target ≤ 3 s; {} open)",
            t.elapsed(),
            summary.open
        );
    }
    let month = gsl_sync::domain::YearMonth::of(as_of);
    for by in [
        GroupBy::Account,
        GroupBy::Plan,
        GroupBy::Pool,
        GroupBy::Tag,
        GroupBy::Sim,
    ] {
        let t = Instant::now();
        let r = usage_report(&store, month, by, Some(20))
            .await
            .expect("report");
        let target = if by == GroupBy::Sim { "3 s" } else { "1 s" };
        println!(
            "  usage report by {:<8} {:>8.2?} (target ≤ {target}; {} groups)",
            format!("{by:?}"),
            t.elapsed(),
            r.groups_total
        );
    }
    let ids: Vec<gsl_sync::domain::SimCardId> = sqlx::query_scalar(
        "SELECT sim_card_id FROM sim_cards ORDER BY md5(sim_card_id::text) LIMIT 200",
    )
    .fetch_all(store.pool())
    .await
    .expect("ids");
    let mut times = Vec::with_capacity(ids.len());
    for id in ids {
        let t = Instant::now();
        sim_report(
            &store,
            None,
            Some(id),
            Some(today - chrono::Duration::days(90)),
            Some(as_of),
            s.sync.timezone,
        )
        .await
        .expect("card history");
        times.push(t.elapsed());
    }
    times.sort();
    if !times.is_empty() {
        println!(
            "  one card's 90 days       p50 {:.2?} p99 {:.2?} (target ≤ 50 ms)",
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
    }
}
