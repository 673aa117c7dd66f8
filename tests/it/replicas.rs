//! Two `gsl-sync run` daemons on one database, scraped by a real Prometheus with the shipped configuration
//! and rules, alerting into a real Alertmanager: the sync-health rules see the labels as Prometheus stores
//! them, a quota alert fires once and resolves, the syncer is SIGKILLed and the other takes over without the
//! alert flapping or doubling, and the fleet sums equal the database throughout.
//!
//! The shipped files are adapted only where a test cannot wait: targets, 1 s intervals instead of 60 s, and
//! `for:` clauses of 2 s instead of minutes.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use gsl_sync::domain::SimCardId;
use gsl_sync::gsl::SimCardRef;
use gsl_sync::gsl::{Auth, CallObserver, ClientSettings, GslClient, NoopObserver};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;

use crate::resilience::{database_of, server_url, SimProcess};

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Sits between the daemons and Alertmanager and keeps every alert they post.
#[derive(Clone, Default)]
struct Posted(Arc<Mutex<Vec<Value>>>);

impl Posted {
    /// (firing, resolved) posts of the alert `name` for `iccid`.
    fn count(&self, name: &str, iccid: &str) -> (usize, usize) {
        let all = self.0.lock().unwrap();
        let mine = all
            .iter()
            .filter(|a| a["labels"]["alertname"] == name && a["labels"]["iccid"] == iccid);
        let (mut firing, mut resolved) = (0, 0);
        for a in mine {
            let ends: chrono::DateTime<chrono::Utc> = a["endsAt"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            // A resolved alert is posted with endsAt at (or before) the moment it is sent.
            if ends <= chrono::Utc::now() {
                resolved += 1;
            } else {
                firing += 1;
            }
        }
        (firing, resolved)
    }
}

async fn forward(
    State((posted, upstream)): State<(Posted, String)>,
    Json(body): Json<Value>,
) -> axum::http::StatusCode {
    posted
        .0
        .lock()
        .unwrap()
        .extend(body.as_array().cloned().unwrap_or_default());
    let status = reqwest::Client::new()
        .post(format!("{upstream}/api/v2/alerts"))
        .json(&body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(502);
    axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY)
}

async fn proxy(upstream: String) -> (Posted, String) {
    let posted = Posted::default();
    let app = axum::Router::new()
        .route("/api/v2/alerts", post(forward))
        .with_state((posted.clone(), upstream));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (posted, url)
}

fn alertmanager(dir: &std::path::Path) -> (Killed, String) {
    let binary = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Alertmanager not found: run scripts/install-test-deps.sh");
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={ROOT}/deploy/alertmanager/alertmanager.yml"
        ))
        .arg(format!("--storage.path={}", dir.join("am").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

fn prometheus(dir: &std::path::Path, targets: &[String], alertmanager: &str) -> (Killed, String) {
    assert!(
        std::path::Path::new("/usr/bin/prometheus").exists(),
        "prometheus not found: run scripts/install-test-deps.sh"
    );
    let shipped =
        std::fs::read_to_string(format!("{ROOT}/deploy/prometheus/prometheus.yml")).unwrap();
    let targets = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = shipped
        .replace("[\"127.0.0.1:9860\"]", &format!("[{targets}]"))
        .replace(
            "[\"127.0.0.1:9093\"]",
            &format!("['{}']", alertmanager.trim_start_matches("http://")),
        )
        .replace("60s", "1s")
        .replace("scrape_timeout: 50s", "scrape_timeout: 1s");
    assert!(
        config.contains(&targets) && config.contains("interval: 1s"),
        "{config}"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let rules = std::fs::read_to_string(format!("{ROOT}/deploy/prometheus/rules.yml")).unwrap();
    let rules: String = rules
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("for: ") {
                "        for: 2s"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    let port = free_port();
    let child = Command::new("/usr/bin/prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

struct Daemon {
    name: &'static str,
    child: Killed,
    base: String,
}

fn daemon(
    name: &'static str,
    sim: &SimProcess,
    database: &str,
    alertmanager: &str,
    dir: &std::path::Path,
) -> Daemon {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(BIN)
        .arg("run")
        .env("HOSTNAME", name)
        .env("GSL_SYNC__DATABASE__URL", database)
        .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", &sim.url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", &sim.url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
        .env("GSL_SYNC__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("GSL_SYNC__SYNC__INVENTORY_SCHEDULE", "*/2 * * * * *")
        .env("GSL_SYNC__ALERTS__ALERTMANAGER_URL", alertmanager)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("gsl-sync run starts");
    Daemon {
        name,
        child: Killed(child),
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn get(url: &str) -> Option<String> {
    let resp = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    resp.text().await.ok()
}

/// The instant-query result vector of `query`.
async fn query(prometheus: &str, query: &str) -> Vec<Value> {
    let url = format!("{prometheus}/api/v1/query?query={}", urlencode(query));
    let text = get(&url).await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or_default();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn scalar(result: &[Value]) -> Option<f64> {
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// Polls `what` every 100 ms until it holds; fails after `limit` (a bound for a stuck test, not a timing
/// assertion).
async fn until<F, Fut>(what: &str, limit: Duration, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The database sums in another order than the gauges: equal up to float rounding.
fn same_sum(v: Option<f64>, db: f64) -> bool {
    v.is_some_and(|v| (v - db).abs() <= db.abs() * 1e-12)
}

/// One sample of a family on a daemon's /metrics, summed over its series.
async fn family_sum(base: &str, family: &str) -> Option<f64> {
    let text = get(&format!("{base}/metrics")).await?;
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

async fn family_max(base: &str, family: &str) -> Option<f64> {
    let text = get(&format!("{base}/metrics")).await?;
    text.lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(f64::max)
}

async fn db_fleet_bytes(pool: &PgPool) -> f64 {
    let mb: f64 = sqlx::query_scalar(
        "SELECT coalesce(sum(flow_used_mb), 0)::float8 FROM sim_cards WHERE removed_at IS NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    mb * 1_048_576.0
}

fn gsl(sim: &SimProcess) -> GslClient {
    let url: url::Url = sim.url.parse().unwrap();
    let observer: Arc<dyn CallObserver> = Arc::new(NoopObserver);
    GslClient::new(
        ClientSettings {
            account: "main".into(),
            endpoint: url.clone(),
            auth: Auth::Password {
                iam_endpoint: url,
                domain: "demo".into(),
                user: "demo".into(),
                password: SecretString::from("demo".to_owned()),
                project: "cn-north-4".into(),
            },
            list_rate_per_second: 100.0,
            total_rate_per_second: 100.0,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(50),
            retry_max_delay: Duration::from_millis(500),
        },
        observer,
    )
    .unwrap()
}

/// The `expr: |` block of the alert `name` in a rules file.
fn rule_expr(rules: &str, name: &str) -> String {
    let rest = &rules[rules.find(&format!("alert: {name}")).expect("the rule")..];
    let block = &rest[rest.find("expr: |").expect("a block expr") + "expr: |".len()..];
    block
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("for:"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn two_replicas_behind_a_real_prometheus_alert_once_and_survive_a_sigkill(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(300).await;
    let database = server_url(&pool, &database_of(&pool));
    let (_am, am_url) = alertmanager(dir.path());
    let (posted, proxy_url) = proxy(am_url.clone()).await;
    let mut daemons = vec![
        daemon("replica-a", &sim, &database, &proxy_url, dir.path()),
        daemon("replica-b", &sim, &database, &proxy_url, dir.path()),
    ];
    let targets: Vec<String> = daemons
        .iter()
        .map(|d| d.base.trim_start_matches("http://").to_owned())
        .collect();
    let (_prom, prom) = prometheus(dir.path(), &targets, &am_url);

    // Every job of the first night ran on one replica.
    until("the first full sync", Duration::from_secs(120), || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT job) FROM sync_runs WHERE status = 'succeeded'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        n == 4
    })
    .await;
    let holders: Vec<String> = sqlx::query_scalar("SELECT DISTINCT holder FROM sync_runs")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(holders.len(), 1, "one syncer: {holders:?}");
    let leader = daemons
        .iter()
        .position(|d| holders[0].starts_with(d.name))
        .expect("a known holder");
    let follower = 1 - leader;

    // Both replicas serve the database's fleet figures, and so do Prometheus's aggregated queries.
    until(
        "both replicas and Prometheus agree with the database",
        Duration::from_secs(60),
        || async {
            let db = db_fleet_bytes(&pool).await;
            let a = family_sum(&daemons[0].base, "gsl_fleet_flow_used_bytes").await;
            let b = family_sum(&daemons[1].base, "gsl_fleet_flow_used_bytes").await;
            let p =
                scalar(&query(&prom, "sum(max by (account) (gsl_fleet_flow_used_bytes))").await);
            same_sum(a, db) && same_sum(b, db) && same_sum(p, db)
        },
    )
    .await;

    // The follower has run nothing and called nobody, yet its counters are there at 0.
    let text = get(&format!("{}/metrics", daemons[follower].base))
        .await
        .unwrap();
    for zero in [
        r#"gsl_sync_runs_total{account="main",job_name="inventory",result="failed"} 0"#,
        r#"gsl_api_requests_total{account="main",code="200",operation="list_sim_cards"} 0"#,
        r#"gsl_alert_notifications_total{receiver="alertmanager",result="failure"} 0"#,
    ] {
        assert!(text.contains(zero), "{zero} missing");
    }
    assert!(text.contains("process_resident_memory_bytes ") && text.contains("gsl_build_info{"));

    // The sync-health rules select on the labels as Prometheus stores them (`job_name`, not `exported_job`).
    let rules = std::fs::read_to_string(format!("{ROOT}/deploy/prometheus/rules.yml")).unwrap();
    let stale = rule_expr(&rules, "GslSyncStale");
    let fresh_enough = stale.replace("3 * 3600", "-1").replace("26 * 3600", "-1");
    assert_ne!(fresh_enough, stale);
    let job_names = |seen: &[Value]| -> std::collections::BTreeSet<String> {
        seen.iter()
            .map(|s| s["metric"]["job_name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let every_job: std::collections::BTreeSet<String> =
        ["daily_flow", "inventory", "monthly", "pools"]
            .map(String::from)
            .into();
    // The last job may have finished after the latest scrape: wait for the next one.
    until(
        "every job's freshness in Prometheus",
        Duration::from_secs(30),
        || async { job_names(&query(&prom, &fresh_enough).await) == every_job },
    )
    .await;
    let seen = query(&prom, &fresh_enough).await;
    assert!(seen
        .iter()
        .all(|s| s["metric"].get("exported_job").is_none() && s["metric"]["account"] == "main"));

    // A card is suspended at the carrier: one alert, whichever replica and source saw it.
    let (card_id, iccid): (SimCardId, String) = sqlx::query_as(
        "SELECT sim_card_id, iccid FROM sim_cards WHERE sim_status = 20 AND operator_status = -1 AND iccid IS NOT NULL
         ORDER BY sim_card_id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let client = gsl(&sim);
    client
        .stop_sim_card(SimCardRef::Id(card_id), 1)
        .await
        .expect("stop accepted");
    let firing = format!(
        "count(ALERTS{{alertname=\"GslSimSuspended\",iccid=\"{iccid}\",alertstate=\"firing\"}})"
    );
    until(
        "the suspension fires in Prometheus",
        Duration::from_secs(60),
        || async { scalar(&query(&prom, &firing).await).is_some() },
    )
    .await;
    until(
        "the daemon's own alert reached Alertmanager",
        Duration::from_secs(60),
        || async { posted.count("GslSimSuspended", &iccid).0 >= 1 },
    )
    .await;
    let sampler = {
        let (prom, firing) = (prom.clone(), firing.clone());
        let stop = tokio_util::sync::CancellationToken::new();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (stop, samples) = (stop.clone(), samples.clone());
            async move {
                while !stop.is_cancelled() {
                    let n = scalar(&query(&prom, &firing).await).unwrap_or(0.0);
                    samples.lock().unwrap().push(n);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        });
        (stop, samples, task)
    };

    // The syncer dies without a word; the other replica takes over.
    let killed_at = Instant::now();
    // Milliseconds: a run the killed syncer finished just before must not count as the follower's.
    let killed_epoch = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let _ = daemons[leader].child.0.kill();
    let _ = daemons[leader].child.0.wait();
    let follower_base = daemons[follower].base.clone();
    let mut first_call = None;
    let mut first_gauge = None;
    while killed_at.elapsed() < Duration::from_secs(60)
        && (first_call.is_none() || first_gauge.is_none())
    {
        if first_call.is_none()
            && family_sum(&follower_base, "gsl_api_requests_total")
                .await
                .unwrap_or(0.0)
                > 0.0
        {
            first_call = Some(killed_at.elapsed());
        }
        if first_gauge.is_none()
            && family_max(&follower_base, "gsl_sync_last_success_timestamp_seconds")
                .await
                .unwrap_or(0.0)
                > killed_epoch
        {
            first_gauge = Some(killed_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (first_call, first_gauge) = (
        first_call.expect("the follower called GSL"),
        first_gauge.expect("the follower refreshed"),
    );
    eprintln!(
        "takeover: first GSL call {:.1} s and first refreshed gauge {:.1} s after SIGKILL",
        first_call.as_secs_f64(),
        first_gauge.as_secs_f64()
    );

    // The card is resumed: the alert resolves, in Prometheus and in the daemon's own notifications.
    until(
        "the stop order finished",
        Duration::from_secs(30),
        || async {
            client
                .reset_sim_card(SimCardRef::Id(card_id), 1)
                .await
                .is_ok()
        },
    )
    .await;
    until(
        "the suspension resolves in Prometheus",
        Duration::from_secs(60),
        || async { scalar(&query(&prom, &firing).await).is_none() },
    )
    .await;
    until(
        "the resolution reached Alertmanager",
        Duration::from_secs(60),
        || async { posted.count("GslSimSuspended", &iccid).1 >= 1 },
    )
    .await;
    let resumed_seen = sampler.1.lock().unwrap().len();
    sampler.0.cancel();
    let _ = sampler.2.await;

    // Never two, never a gap while it fired (the samples after the resume may show the resolution).
    let samples = sampler.1.lock().unwrap().clone();
    assert!(
        samples.iter().all(|n| *n <= 1.0),
        "an alert per replica: {samples:?}"
    );
    let before_resume = &samples[..resumed_seen.min(samples.len())];
    let last_firing = before_resume.iter().rposition(|n| *n == 1.0).unwrap_or(0);
    assert!(
        before_resume[..=last_firing].iter().all(|n| *n == 1.0),
        "the alert flapped across the takeover: {samples:?}"
    );
    let (fired, resolved) = posted.count("GslSimSuspended", &iccid);
    eprintln!("alertmanager received {fired} firing and {resolved} resolved notification(s) of the episode from two replicas");
    assert_eq!(
        (fired, resolved),
        (1, 1),
        "each notification once, not once per replica"
    );
    let am_alerts = get(&format!(
        "{am_url}/api/v2/alerts?active=true&silenced=true&inhibited=true"
    ))
    .await
    .unwrap();
    let am_alerts: Vec<Value> = serde_json::from_str(&am_alerts).unwrap();
    assert!(
        am_alerts
            .iter()
            .filter(|a| a["labels"]["iccid"] == iccid.as_str())
            .count()
            <= 1,
        "{am_alerts:?}"
    );

    // After the takeover the fleet sums still equal the database.
    until(
        "the fleet sums equal the database after the takeover",
        Duration::from_secs(60),
        || async {
            let db = db_fleet_bytes(&pool).await;
            let f = family_sum(&follower_base, "gsl_fleet_flow_used_bytes").await;
            let p =
                scalar(&query(&prom, "sum(max by (account) (gsl_fleet_flow_used_bytes))").await);
            same_sum(f, db) && same_sum(p, db)
        },
    )
    .await;
    let cards: i64 = sqlx::query_scalar("SELECT count(*) FROM sim_cards WHERE removed_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    let info = scalar(&query(&prom, "count(max by (iccid) (gsl_sim_info))").await);
    assert_eq!(info, Some(cards as f64));
    daemons.clear();
}
