//! Integration tests: a killed sync, replicas electing one syncer, and Postgres going away mid-run.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gsl_sync::store::{Fence, Store};
use gsl_sync::sync::daemon::{AfterJob, Daemon, ElectionTimings};
use gsl_sync::sync::{Fences, JobKind, JobReport, JobRequest};
use gsl_sync::telemetry::Telemetry;
use sqlx::PgPool;
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::helpers::{d, settings_for, simulator, wait_until};
use crate::sync::assert_ok;

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");

pub(crate) fn server_url(pool: &PgPool, database: &str) -> String {
    let opts = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        database
    )
}

pub(crate) fn database_of(pool: &PgPool) -> String {
    pool.connect_options()
        .get_database()
        .expect("a database")
        .to_owned()
}

/// A `gsl-sync simulate` child process and its base URL; killed when dropped.
pub struct SimProcess {
    child: tokio::process::Child,
    pub url: String,
}

impl SimProcess {
    pub async fn start(cards: u64) -> Self {
        let mut child = tokio::process::Command::new(BIN)
            .args([
                "simulate",
                "--cards",
                &cards.to_string(),
                "--no-rate-limit",
                "--latency",
                "5ms",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("simulate starts");
        let stdout = child.stdout.take().expect("piped");
        let mut first = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut first)
            .await
            .expect("first line");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .expect("listening on URL")
            .to_owned();
        Self { child, url }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn sync_command(sim: &SimProcess, database_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["sync", "all"])
        .env("GSL_SYNC__DATABASE__URL", database_url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", &sim.url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", &sim.url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
        .env("GSL_SYNC__HTTP__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

const SNAPSHOT_SQL: &[&str] = &[
    "SELECT count(*)::text || md5(string_agg(sim_card_id::text || coalesce(iccid,'') || coalesce(flow_used_mb::text,'') || coalesce(flow_left_mb::text,'') || coalesce(operator_status::text,'') || (removed_at IS NULL)::text, ',' ORDER BY sim_card_id)) FROM sim_cards",
    "SELECT count(*)::text || md5(string_agg(sim_card_id::text || day::text || flow_mb::text, ',' ORDER BY sim_card_id, day)) FROM sim_daily_flow",
    "SELECT count(*)::text || md5(string_agg(sim_card_id::text || data_date::text || coalesce(flow_used_mb::text,''), ',' ORDER BY sim_card_id, data_date)) FROM sim_snapshots",
    "SELECT count(*)::text || md5(string_agg(sim_card_id::text || billing_cycle::text || flow_used_mb::text, ',' ORDER BY sim_card_id, billing_cycle)) FROM sim_monthly_usage",
    "SELECT count(*)::text || md5(string_agg(sim_pool_id::text || billing_cycle::text || coalesce(flow_used_mb::text,''), ',' ORDER BY kind, sim_pool_id, billing_cycle)) FROM sim_pool_usage",
];

async fn data_fingerprint(url: &str) -> Vec<String> {
    let pool = PgPool::connect(url).await.expect("connect");
    let mut out = Vec::new();
    for sql in SNAPSHOT_SQL {
        out.push(
            sqlx::query_scalar::<_, Option<String>>(*sql)
                .fetch_one(&pool)
                .await
                .expect(sql)
                .unwrap_or_default(),
        );
    }
    pool.close().await;
    out
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_sync_killed_with_sigkill_and_rerun_equals_a_clean_run(pool: PgPool) {
    let sim = SimProcess::start(3000).await;
    let killed_db = server_url(&pool, &database_of(&pool));
    let clean_name = format!("gsl_sync_clean_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{clean_name}\""
    )))
    .execute(&pool)
    .await
    .unwrap();
    let clean_db = server_url(&pool, &clean_name);

    let mut child = sync_command(&sim, &killed_db).spawn().expect("sync starts");
    // Kill it once daily flow is being written: mid-job, with rows already stored.
    let mut killed_mid_run = false;
    for _ in 0..400 {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sim_daily_flow")
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
        if rows > 0 {
            child.kill().expect("SIGKILL");
            killed_mid_run = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.wait();
    assert!(
        killed_mid_run,
        "the sync finished before it could be killed; make it slower"
    );
    let succeeded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_runs WHERE job = 'daily_flow' AND status = 'succeeded'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(succeeded, 0, "the killed run is not marked succeeded");

    let rerun = sync_command(&sim, &killed_db).output().expect("rerun");
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let clean = sync_command(&sim, &clean_db).output().expect("clean run");
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );

    assert_eq!(
        data_fingerprint(&killed_db).await,
        data_fingerprint(&clean_db).await
    );
    let abandoned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error LIKE 'abandoned%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        abandoned >= 1,
        "the killed run is marked failed by the next one"
    );
    let other = PgPool::connect(&clean_db).await.unwrap();
    other.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{clean_name}\" WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .unwrap();
}

struct Recorder(Mutex<Vec<JobKind>>);

#[async_trait::async_trait]
impl AfterJob for Recorder {
    async fn after_job(&self, report: &JobReport) {
        self.0.lock().unwrap().push(report.kind);
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn two_replicas_elect_exactly_one_syncer_and_the_other_takes_over(pool: PgPool) {
    let sim = simulator(400, "2026-11-20", false).await;
    let settings = settings_for(&sim);
    let timings = ElectionTimings {
        retry: Duration::from_millis(200),
        check: Duration::from_millis(200),
    };
    let mut replicas = Vec::new();
    for name in ["replica-a", "replica-b"] {
        let store = Store::from_pool(pool.clone());
        let engine = gsl_sync::app::engine(store.clone(), &settings, &Telemetry::new())
            .unwrap()
            .with_holder(name);
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        let daemon = Daemon::new(Arc::new(engine), store, recorder.clone(), timings);
        let leading = daemon.leading();
        let stop = CancellationToken::new();
        let task = tokio::spawn(daemon.run(stop.clone()));
        replicas.push((name, leading, stop, task, recorder));
    }
    // Both start with every job missed: exactly one of them runs them.
    wait_until("the missed jobs ran", || {
        replicas
            .iter()
            .map(|r| r.4 .0.lock().unwrap().len())
            .sum::<usize>()
            >= 4
    })
    .await;
    let leaders: Vec<&str> = replicas
        .iter()
        .filter(|r| r.1.load(Ordering::SeqCst))
        .map(|r| r.0)
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one syncer: {leaders:?}");
    let holders: Vec<String> = sqlx::query_scalar("SELECT DISTINCT holder FROM sync_runs")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(holders, vec![leaders[0].to_string()]);

    // The leader stops; the other takes over.
    let leader = replicas
        .iter()
        .position(|r| r.1.load(Ordering::SeqCst))
        .unwrap();
    replicas[leader].2.cancel();
    let follower = 1 - leader;
    let follower_leading = replicas[follower].1.clone();
    wait_until("the follower takes over", || {
        follower_leading.load(Ordering::SeqCst)
    })
    .await;
    for r in &replicas {
        r.2.cancel();
    }
    for r in replicas {
        r.3.await.unwrap().unwrap();
    }
}

/// A TCP proxy in front of Postgres that can cut every connection and refuse new ones for a while,
/// which is what a Postgres restart looks like from the daemon.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused-ish
                }
                let upstream = upstream.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self { port, down, conns }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn postgres_going_away_mid_run_fails_the_run_cleanly_and_the_next_one_completes(
    pool: PgPool,
) {
    let opts = pool.connect_options();
    let proxy = Proxy::start((opts.get_host().to_owned(), opts.get_port())).await;
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{}",
        opts.get_username(),
        proxy.port,
        database_of(&pool)
    );
    let store = Store::connect(&secrecy::SecretString::from(url), 4)
        .await
        .unwrap();
    let sim = simulator(2500, "2026-11-20", false).await;
    sim.set_faults(gsl_sync::simulator::Faults {
        latency: Duration::from_millis(30),
        ..Default::default()
    });
    let engine = gsl_sync::app::engine(store.clone(), &settings_for(&sim), &Telemetry::new())
        .unwrap()
        .with_today(d("2026-11-20"));
    assert_ok(&[engine
        .run(
            JobKind::Inventory,
            JobRequest::Scheduled,
            &Fences::every(Fence::unfenced()),
            &CancellationToken::new(),
        )
        .await]);

    let cut_later = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.restore();
    };
    let (fence, never) = (Fences::every(Fence::unfenced()), CancellationToken::new());
    let (report, _) = tokio::join!(
        engine.run(JobKind::DailyFlow, JobRequest::Scheduled, &fence, &never),
        cut_later
    );
    assert!(!report.succeeded(), "the run saw the database go away");

    let again = engine
        .run(
            JobKind::DailyFlow,
            JobRequest::Scheduled,
            &Fences::every(Fence::unfenced()),
            &CancellationToken::new(),
        )
        .await;
    assert_ok(&[again]);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sim_daily_flow")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 2500 * (31 + 19));
}
