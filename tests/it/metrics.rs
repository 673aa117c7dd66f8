//! Integration tests: /metrics over real HTTP against rows inserted with SQL, checked by promtool and a real
//! Prometheus.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use gsl_sync::http::{router, serve, HttpState};
use gsl_sync::metrics::{MetricsOptions, SimGauges};
use gsl_sync::store::Store;
use gsl_sync::telemetry::Telemetry;
use sqlx::PgPool;

const MB: f64 = 1_048_576.0;

/// A running server on 127.0.0.1:0 and the gauges it serves.
struct Server {
    base: String,
    gauges: SimGauges,
    telemetry: Telemetry,
}

async fn spawn(store: &Store, opts: MetricsOptions) -> Server {
    let gauges = SimGauges::new();
    gauges.refresh(store, &opts).await.expect("refresh");
    let telemetry = Telemetry::new();
    let state = HttpState {
        store: store.clone(),
        gauges: gauges.clone(),
        telemetry: telemetry.clone(),
        metrics: opts,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, router(state), std::future::pending()));
    Server {
        base,
        gauges,
        telemetry,
    }
}

fn client() -> reqwest::Client {
    // No transparent decompression: the tests look at the bytes on the wire.
    reqwest::Client::builder().no_gzip().build().unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let resp = client().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn scrape(s: &Server, query: &str) -> String {
    let (status, body) = get(&format!("{}/metrics{query}", s.base)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Sample lines of one family, `name{labels}` → value.
fn samples(text: &str, family: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse::<f64>().unwrap())
        })
        .collect()
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

/// Five current cards in two accounts (one without ICCID, one all-zero, one with a Chinese plan and tags),
/// one removed card, two pool cycles, open and resolved quota episodes, and sync runs.
async fn seed(pool: &PgPool) {
    exec(
        pool,
        r#"
        INSERT INTO sim_cards (account, sim_card_id, iccid, cid, sim_type, sim_status, operator_status, sim_pool_id,
                               price_plan_name, flow_used_mb, flow_left_mb, tag_names, data_date, removed_at) VALUES
          ('main', 1, '89860000000000000001', 'c1', 1, 20, -1, 77, '全球流量 1GB "月包"', 900, 124, 'fleet-a,重点', '2026-03-09', NULL),
          ('main', 2, '89860000000000000002', 'c2', 1, 20, -1, 77, 'plan\b', 10.5, 1013.5, NULL, '2026-03-08', NULL),
          ('main', 3, NULL, 'cid-only', 2, 14, 4, NULL, NULL, 0, 0, 'fleet-b', '2026-03-09', NULL),
          ('main', 4, '89860000000000000004', 'c4', 1, 30, 5, NULL, 'x', 5, 5, NULL, '2026-03-01', now()),
          ('other', 10, '89860000000000000010', 'c10', 1, 20, -1, 5, 'p', 512, 512, '重点', '2026-03-07', NULL),
          ('other', 11, '89860000000000000011', 'c11', 1, 20, -1, 5, 'p', 1, 0, NULL, '2026-03-07', NULL);
        INSERT INTO sim_pool_usage (account, kind, sim_pool_id, billing_cycle, flow_total_mb, flow_used_mb, flow_left_mb) VALUES
          ('main', 'forward', 77, '2020-01-01', 1, 1, 0),
          ('main', 'forward', 77, date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date, 2048, 910.5, 1137.5),
          ('other', 'backward', 5, date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date, 1024, 513, 511);
        INSERT INTO alerts (account, kind, severity, sim_card_id, subject, resolved_at) VALUES
          ('main', 'GslSimQuotaWarning', 'warning', 1, 'sim:1', NULL),
          ('main', 'GslSimQuotaCritical', 'critical', 1, 'sim:1', NULL),
          ('main', 'GslSimQuotaWarning', 'warning', 2, 'sim:2', now()),
          ('other', 'GslSimSuspended', 'warning', 10, 'sim:10', NULL);
        INSERT INTO sync_runs (account, job, started_at, finished_at, status) VALUES
          ('main', 'inventory', '2026-03-10 01:00:00+00', '2026-03-10 01:00:42.5+00', 'succeeded'),
          ('main', 'inventory', '2026-03-10 02:00:00+00', '2026-03-10 02:00:07+00', 'failed');
        "#,
    )
    .await;
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_scrape_over_http_equals_the_database(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool.clone());
    let s = spawn(&store, MetricsOptions::default()).await;
    let text = scrape(&s, "").await;

    let rows: Vec<(String, Option<String>, f64, f64)> = sqlx::query_as(
        "SELECT coalesce(iccid, cid), NULL::text, flow_used_mb, flow_left_mb FROM sim_cards WHERE removed_at IS NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let used = samples(&text, "gsl_sim_flow_used_bytes");
    let left = samples(&text, "gsl_sim_flow_left_bytes");
    assert_eq!(used.len(), rows.len(), "{text}");
    for (id, _, used_mb, left_mb) in &rows {
        let key = |f: &str| format!("{f}{{iccid=\"{id}\"}}");
        assert_eq!(used[&key("gsl_sim_flow_used_bytes")], used_mb * MB);
        assert_eq!(left[&key("gsl_sim_flow_left_bytes")], left_mb * MB);
    }
    let ratio = samples(&text, "gsl_sim_usage_ratio");
    assert_eq!(ratio.len(), 4, "the all-zero card has no ratio: {ratio:?}");
    assert_eq!(
        ratio["gsl_sim_usage_ratio{iccid=\"89860000000000000011\"}"],
        1.0
    );
    assert!(
        !text.contains("89860000000000000004"),
        "removed card served"
    );
    assert_eq!(left.len(), rows.len());
    assert_eq!(
        samples(&text, "gsl_sim_operator_status")["gsl_sim_operator_status{iccid=\"cid-only\"}"],
        4.0
    );
    assert_eq!(
        samples(&text, "gsl_sim_status")["gsl_sim_status{iccid=\"cid-only\"}"],
        14.0
    );
    let info = samples(&text, "gsl_sim_info");
    assert!(info.contains_key(
        r#"gsl_sim_info{iccid="89860000000000000001",sim_card_id="1",account="main",sim_type="1",sim_pool_id="77",price_plan="全球流量 1GB \"月包\""}"#
    ), "{info:?}");
    assert!(info.contains_key(
        r#"gsl_sim_info{iccid="89860000000000000002",sim_card_id="2",account="main",sim_type="1",sim_pool_id="77",price_plan="plan\\b"}"#
    ), "{info:?}");

    let sims = samples(&text, "gsl_sims");
    assert_eq!(
        sims[r#"gsl_sims{account="main",sim_status="20",operator_status="-1"}"#],
        2.0
    );
    assert_eq!(
        sims[r#"gsl_sims{account="main",sim_status="14",operator_status="4"}"#],
        1.0
    );
    assert_eq!(sims.values().sum::<f64>(), 5.0);
    let fleet_used = samples(&text, "gsl_fleet_flow_used_bytes");
    assert_eq!(
        fleet_used[r#"gsl_fleet_flow_used_bytes{account="main"}"#],
        910.5 * MB
    );
    assert_eq!(
        samples(&text, "gsl_fleet_flow_left_bytes")[r#"gsl_fleet_flow_left_bytes{account="other"}"#],
        512.0 * MB
    );
    let over = samples(&text, "gsl_sims_over_threshold");
    assert_eq!(
        over[r#"gsl_sims_over_threshold{account="main",severity="warning"}"#],
        1.0
    );
    assert_eq!(
        over[r#"gsl_sims_over_threshold{account="main",severity="critical"}"#],
        1.0
    );
    assert_eq!(
        over[r#"gsl_sims_over_threshold{account="other",severity="warning"}"#],
        0.0
    );
    let pool_used = samples(&text, "gsl_pool_flow_used_bytes");
    assert_eq!(
        pool_used[r#"gsl_pool_flow_used_bytes{account="main",sim_pool_id="77"}"#],
        910.5 * MB
    );
    assert_eq!(
        samples(&text, "gsl_pool_flow_total_bytes")[r#"gsl_pool_flow_total_bytes{account="other",sim_pool_id="5"}"#],
        1024.0 * MB
    );
    assert_eq!(samples(&text, "gsl_pool_flow_left_bytes").len(), 2);
    // max data_date 2026-03-09 → 2026-03-10T00:00+08:00; the removed card's date does not count.
    let as_of = samples(&text, "gsl_usage_data_as_of_timestamp_seconds");
    let expected = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, 10, 0, 0, 0)
        .unwrap()
        .timestamp();
    assert_eq!(
        as_of[r#"gsl_usage_data_as_of_timestamp_seconds{account="main"}"#],
        expected as f64
    );
    for line in text.lines().filter(|l| l.starts_with("# TYPE gsl_")) {
        assert!(
            text.contains(&line.replace("# TYPE", "# HELP")[..line.rfind(' ').unwrap()]),
            "no HELP for {line}"
        );
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn gzip_decodes_to_the_same_text_with_the_text_content_type(pool: PgPool) {
    seed(&pool).await;
    let s = spawn(&Store::from_pool(pool), MetricsOptions::default()).await;
    let plain = client()
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.text().await.unwrap();
    let gz = client()
        .get(format!("{}/metrics", s.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut decoded = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn per_sim_off_serves_only_fleet_and_daemon_families(pool: PgPool) {
    seed(&pool).await;
    let opts = MetricsOptions {
        per_sim: false,
        ..MetricsOptions::default()
    };
    let s = spawn(&Store::from_pool(pool), opts).await;
    let text = scrape(&s, "").await;
    assert!(!text.contains("gsl_sim_"), "{text}");
    assert_eq!(samples(&text, "gsl_sims").values().sum::<f64>(), 5.0);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn ratio_and_tag_filters_select_cards_but_not_fleet_sums(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    for (min, tags, expected) in [
        (
            0.5,
            vec![],
            vec![
                "89860000000000000001",
                "89860000000000000010",
                "89860000000000000011",
            ],
        ),
        (
            0.0,
            vec!["重点".to_owned()],
            vec!["89860000000000000001", "89860000000000000010"],
        ),
        (
            0.6,
            vec!["重点".to_owned(), "fleet-b".to_owned()],
            vec!["89860000000000000001"],
        ),
    ] {
        let opts = MetricsOptions {
            min_usage_ratio: min,
            tags: tags.clone(),
            ..MetricsOptions::default()
        };
        let s = spawn(&store, opts).await;
        let text = scrape(&s, "").await;
        let got: Vec<String> = samples(&text, "gsl_sim_status")
            .keys()
            .map(|k| {
                k.trim_start_matches("gsl_sim_status{iccid=\"")
                    .trim_end_matches("\"}")
                    .to_owned()
            })
            .collect();
        assert_eq!(got, expected, "min {min} tags {tags:?}");
        assert_eq!(samples(&text, "gsl_sims").values().sum::<f64>(), 5.0);
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn shards_split_cards_exactly_and_bad_shard_params_are_rejected(pool: PgPool) {
    exec(
        &pool,
        "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, sim_status)
         SELECT 'main', g, 'ICC' || g, g, 100, 20 FROM generate_series(1, 300) g",
    )
    .await;
    let store = Store::from_pool(pool);
    let s = spawn(&store, MetricsOptions::default()).await;
    s.telemetry.record_run(
        "main",
        "inventory",
        true,
        Utc::now(),
        Duration::from_secs(1),
    );
    let full = samples(&scrape(&s, "").await, "gsl_sim_flow_used_bytes");
    let mut union = BTreeMap::new();
    for i in 0..4 {
        let text = scrape(&s, &format!("?shard={i}&total=4")).await;
        let part = samples(&text, "gsl_sim_flow_used_bytes");
        assert!(
            !part.is_empty() && part.len() < 300,
            "shard {i}: {}",
            part.len()
        );
        assert_eq!(text.contains("gsl_sims{"), i == 0, "fleet only on shard 0");
        assert_eq!(
            text.contains("gsl_sync_runs_total"),
            i == 0,
            "daemon families only on shard 0"
        );
        for (k, v) in part {
            assert!(union.insert(k, v).is_none(), "a card in two shards");
        }
    }
    assert_eq!(union, full);
    // Configured shards render the same partition.
    let mut configured = BTreeMap::new();
    for i in 0..4 {
        let opts = MetricsOptions {
            shard: gsl_sync::metrics::Shard::new(i, 4).unwrap(),
            ..MetricsOptions::default()
        };
        let s = spawn(&store, opts).await;
        s.telemetry.record_run(
            "main",
            "inventory",
            true,
            Utc::now(),
            Duration::from_secs(1),
        );
        let text = scrape(&s, "").await;
        assert_eq!(text.contains("gsl_sims{"), i == 0);
        assert!(
            text.contains("gsl_sync_runs_total"),
            "each replica serves its own families"
        );
        configured.extend(samples(&text, "gsl_sim_flow_used_bytes"));
    }
    assert_eq!(configured, full);
    for bad in [
        "?shard=4&total=4",
        "?shard=1",
        "?total=2",
        "?shard=a&total=2",
        "?shard=0&total=0",
    ] {
        let (status, _) = get(&format!("{}/metrics{bad}", s.base)).await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_restarted_daemon_serves_identical_text_and_seeded_freshness(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let first = spawn(&store, MetricsOptions::default()).await;
    first.telemetry.seed_from_store(&store).await.unwrap();
    let second = spawn(&store, MetricsOptions::default()).await;
    second.telemetry.seed_from_store(&store).await.unwrap();
    let (a, b) = (scrape(&first, "").await, scrape(&second, "").await);
    // The process's own figures (open files, memory) move between two scrapes; everything else must not.
    let without_process = |t: &str| {
        t.lines()
            .filter(|l| !l.contains("process_"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(without_process(&a) == without_process(&b), "{a}\n----\n{b}");
    let success = samples(&a, "gsl_sync_last_success_timestamp_seconds");
    let at = Utc
        .with_ymd_and_hms(2026, 3, 10, 1, 0, 42)
        .unwrap()
        .timestamp() as f64
        + 0.5;
    assert_eq!(
        success[r#"gsl_sync_last_success_timestamp_seconds{account="main",job_name="inventory"}"#],
        at
    );
    let duration = samples(&a, "gsl_sync_last_duration_seconds");
    assert_eq!(
        duration[r#"gsl_sync_last_duration_seconds{account="main",job_name="inventory"}"#],
        7.0
    );
    // A refresh with the same rows changes nothing either.
    second
        .gauges
        .refresh(&store, &MetricsOptions::default())
        .await
        .unwrap();
    assert!(without_process(&scrape(&second, "").await) == without_process(&a));
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn recorded_runs_show_up_on_the_next_scrape(pool: PgPool) {
    let s = spawn(&Store::from_pool(pool), MetricsOptions::default()).await;
    let started = Utc.with_ymd_and_hms(2026, 3, 10, 2, 30, 0).unwrap();
    s.telemetry
        .record_run("main", "daily_flow", true, started, Duration::from_secs(90));
    s.telemetry
        .record_run("main", "daily_flow", false, started, Duration::from_secs(3));
    let text = scrape(&s, "").await;
    let runs = samples(&text, "gsl_sync_runs_total");
    assert_eq!(
        runs[r#"gsl_sync_runs_total{account="main",job_name="daily_flow",result="succeeded"}"#],
        1.0
    );
    assert_eq!(
        runs[r#"gsl_sync_runs_total{account="main",job_name="daily_flow",result="failed"}"#],
        1.0
    );
    let success = samples(&text, "gsl_sync_last_success_timestamp_seconds");
    assert_eq!(
        success.values().next(),
        Some(&(started.timestamp() as f64 + 90.0))
    );
    assert_eq!(
        samples(&text, "gsl_sync_last_duration_seconds")
            .values()
            .next(),
        Some(&3.0)
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn healthz_and_readyz_answer_when_migrated(pool: PgPool) {
    let s = spawn(&Store::from_pool(pool), MetricsOptions::default()).await;
    assert_eq!(
        get(&format!("{}/healthz", s.base)).await,
        (200, "ok".to_owned())
    );
    assert_eq!(get(&format!("{}/readyz", s.base)).await.0, 200);
}

#[sqlx::test(migrations = false)]
async fn readyz_is_503_before_migrations(pool: PgPool) {
    let store = Store::from_pool(pool);
    let state = HttpState {
        store,
        gauges: SimGauges::new(),
        telemetry: Telemetry::new(),
        metrics: MetricsOptions::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, router(state), std::future::pending()));
    assert_eq!(get(&format!("{base}/readyz")).await.0, 503);
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
}

fn require(binary: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: run scripts/install-test-deps.sh"
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn promtool_finds_no_problems_in_a_real_scrape(pool: PgPool) {
    require("/usr/bin/promtool");
    seed(&pool).await;
    let s = spawn(&Store::from_pool(pool), MetricsOptions::default()).await;
    // Some daemon series too, so the registry's families are checked as well.
    s.telemetry.record_run(
        "main",
        "inventory",
        true,
        Utc::now(),
        Duration::from_secs(1),
    );
    s.telemetry
        .alert_notifications
        .with_label_values(&["webhook", "ok"])
        .inc();
    s.telemetry
        .api_request_duration
        .with_label_values(&["main", "list_sim_cards"])
        .observe(0.2);
    let text = scrape(&s, "").await;
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("/usr/bin/promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // promtool reads to end of input and exits; dropping stdin closes it.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}"
    );
}

/// Kills the child on drop, so a failing test leaves no Prometheus behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_real_prometheus_scrapes_and_counts_the_series(pool: PgPool) {
    require("/usr/bin/prometheus");
    exec(
        &pool,
        "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, sim_status, price_plan_name)
         SELECT 'main', g, 'ICC' || g, g, 100, 20, '套餐 ' || (g % 3) FROM generate_series(1, 250) g",
    )
    .await;
    let s = spawn(&Store::from_pool(pool), MetricsOptions::default()).await;
    // A daemon series too: Prometheus asks for gzip, so this checks it reads the second gzip member.
    s.telemetry.record_run(
        "main",
        "inventory",
        true,
        Utc::now(),
        Duration::from_secs(1),
    );
    let dir = tempfile::tempdir().unwrap();
    let target = s.base.trim_start_matches("http://");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gsl\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let _guard = ChildGuard(child);
    let url = format!("http://127.0.0.1:{port}/api/v1/query?query=count(gsl_sim_flow_used_bytes)");
    let mut last = String::new();
    // Waits (not a timing assertion) for the first scrape to land; gives up after about a minute.
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(resp) = client().get(&url).send().await else {
            continue;
        };
        last = resp.text().await.unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
        if let Some(count) = v["data"]["result"][0]["value"][1].as_str() {
            assert_eq!(count, "250", "{last}");
            let query = |q: &str| {
                let url = format!("http://127.0.0.1:{port}/api/v1/query?query={q}");
                async move {
                    client()
                        .get(url)
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            };
            let up = query("up").await;
            assert!(up.contains(r#","1"]"#), "{up}");
            let runs = query("sum(gsl_sync_runs_total)").await;
            assert!(runs.contains(r#","1"]"#), "{runs}");
            return;
        }
    }
    panic!("Prometheus never answered the query; last answer: {last}");
}

/// What Prometheus 2.x sends in `Accept`.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn open_metrics_is_served_when_asked_and_a_strict_parser_accepts_it(pool: PgPool) {
    seed(&pool).await;
    let s = spawn(&Store::from_pool(pool), MetricsOptions::default()).await;
    s.telemetry
        .seed_zeros(&["main"], &["inventory", "daily_flow"], &["webhook"]);
    s.telemetry.record_run(
        "main",
        "inventory",
        true,
        Utc::now(),
        Duration::from_secs(1),
    );
    s.telemetry
        .api_request_duration
        .with_label_values(&["main", "list_sim_cards"])
        .observe(0.2);
    let resp = client()
        .get(format!("{}/metrics", s.base))
        .header("accept", PROMETHEUS_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains(
        "gsl_sync_runs_total{account=\"main\",job_name=\"daily_flow\",result=\"failed\"} 0"
    ));
    // The reference parser of the OpenMetrics format, strict about counters, EOF and escapes.
    let check = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families\nfams = list(text_string_to_metric_families(sys.stdin.read()))\nprint(len(fams))";
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args(["-c", check])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3: run scripts/install-test-deps.sh");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "prometheus_client missing: run scripts/install-test-deps.sh"
    );
    assert!(out.status.success(), "OpenMetrics parser: {stderr}");
    let families: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(families > 15, "{families}");
    // Without an OpenMetrics Accept, the 0.0.4 text.
    let plain = client()
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(!plain.text().await.unwrap().contains("# EOF"));
}
