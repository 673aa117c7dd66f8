//! Integration tests for issue 10: an alert receiver that accepts connections and never answers delays
//! only its own notifications; the daemon keeps syncing, stops within `sync.shutdown_grace`, and the
//! outbox delivers everything after a restart.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::resilience::SimProcess;

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");
const GRACE_SECS: u64 = 10;

fn database_url(pool: &PgPool) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().expect("a database")
    )
}

/// Accepts every connection and never reads or answers; counts the connections.
async fn black_hole() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// An Alertmanager that accepts everything; counts the alerts posted.
async fn alertmanager() -> (String, Arc<AtomicU64>) {
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    let app = Router::new().route(
        "/api/v2/alerts",
        post(move |body: axum::Json<Vec<serde_json::Value>>| {
            let count = count.clone();
            async move {
                count.fetch_add(body.0.len() as u64, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// `gsl-sync run` syncing the simulator every 3 s, every card over its alert threshold.
struct Daemon {
    child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    fn start(pool: &PgPool, sim: &SimProcess, alertmanager_url: &str) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(BIN)
            .arg("run")
            .env("GSL_SYNC__DATABASE__URL", database_url(pool))
            .env("GSL_SYNC__HTTP__LISTEN", "127.0.0.1:0")
            .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", &sim.url)
            .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", &sim.url)
            .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
            .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
            .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
            .env("GSL_SYNC__SYNC__INVENTORY_SCHEDULE", "*/3 * * * * *")
            .env("GSL_SYNC__SYNC__SHUTDOWN_GRACE", format!("{GRACE_SECS}s"))
            .env("GSL_SYNC__ALERTS__ALERTMANAGER_URL", alertmanager_url)
            .env("GSL_SYNC__ALERTS__WARNING_RATIO", "0.0001")
            .env("GSL_SYNC__ALERTS__CRITICAL_RATIO", "0.0002")
            .env("GSL_SYNC__ALERTS__NOTIFY_TIMEOUT", "10s")
            .env("RUST_LOG", "info,sqlx=warn,tokio_cron_scheduler=warn")
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn said(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit; how long it took.
    async fn terminate(&mut self) -> Duration {
        let asked = Instant::now();
        // `kill -TERM` through the shell: no unsafe libc call in the test.
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit {status:?}: {}", self.said());
                return asked.elapsed();
            }
            assert!(
                asked.elapsed() < Duration::from_secs(60),
                "still running 60 s after SIGTERM: {}",
                self.said()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn wait_for<F, Fut>(what: &str, daemon: &Daemon, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < limit,
            "timed out waiting for {what}: {}",
            daemon.said()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const INVENTORIES: &str =
    "SELECT count(*) FROM sync_runs WHERE job = 'inventory' AND status = 'succeeded'";
const OPEN: &str = "SELECT count(*) FROM alerts WHERE resolved_at IS NULL";
const DELIVERED: &str = "SELECT count(*) FROM alert_deliveries WHERE receiver = 'alertmanager'";

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_black_holed_receiver_blocks_neither_syncing_nor_stopping_and_loses_nothing(
    pool: PgPool,
) {
    let sim = SimProcess::start(300).await;
    let (hole, accepted) = black_hole().await;
    let mut daemon = Daemon::start(&pool, &sim, &hole);

    let limit = Duration::from_secs(90);
    wait_for(
        "a notification stuck in the black hole",
        &daemon,
        limit,
        || async { accepted.load(Ordering::SeqCst) > 0 && scalar(&pool, OPEN).await > 0 },
    )
    .await;
    // While that delivery hangs (10 s per attempt, 6 attempts), inventory keeps running every 3 s.
    let before = scalar(&pool, INVENTORIES).await;
    wait_for(
        "two more inventory passes during the hang",
        &daemon,
        limit,
        || async { scalar(&pool, INVENTORIES).await >= before + 2 },
    )
    .await;
    assert_eq!(
        scalar(&pool, DELIVERED).await,
        0,
        "nothing reached the black hole"
    );

    let took = daemon.terminate().await;
    eprintln!(
        "SIGTERM to exit with a black-holed receiver: {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(GRACE_SECS), "exit took {took:?}");
    let open = scalar(&pool, OPEN).await;
    assert!(open > 0);
    assert_eq!(
        scalar(&pool, DELIVERED).await,
        0,
        "every episode is still due"
    );
    let running = scalar(
        &pool,
        "SELECT count(*) FROM sync_runs WHERE status = 'running'",
    )
    .await;
    assert_eq!(running, 0, "no run left open");

    // Restarted against a receiver that answers, the outbox delivers every episode it kept.
    let (am, received) = alertmanager().await;
    let mut again = Daemon::start(&pool, &sim, &am);
    wait_for("the outbox to empty", &again, limit, || async {
        scalar(&pool, DELIVERED).await >= scalar(&pool, OPEN).await
    })
    .await;
    assert!(received.load(Ordering::SeqCst) >= open as u64);
    again.terminate().await;
}

/// `sync all` against `alertmanager_url`, its duration and output.
async fn sync_all(
    pool: &PgPool,
    sim: &SimProcess,
    alertmanager_url: &str,
) -> (Duration, std::process::Output) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(["sync", "all"])
        .env("GSL_SYNC__DATABASE__URL", database_url(pool))
        .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", &sim.url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", &sim.url)
        .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
        .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
        .env("GSL_SYNC__ALERTS__ALERTMANAGER_URL", alertmanager_url)
        .env("GSL_SYNC__ALERTS__WARNING_RATIO", "0.0001")
        .env("GSL_SYNC__ALERTS__CRITICAL_RATIO", "0.0002")
        .env("GSL_SYNC__ALERTS__NOTIFY_TIMEOUT", "3s")
        .env("GSL_SYNC__ALERTS__NOTIFY_MAX_RETRIES", "5")
        .env("RUST_LOG", "warn");
    let started = Instant::now();
    let out = cmd.output().await.unwrap();
    (started.elapsed(), out)
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_one_shot_sync_waits_at_most_notify_timeout_for_a_black_holed_receiver(pool: PgPool) {
    let sim = SimProcess::start(300).await;
    let (am, _) = alertmanager().await;
    let (baseline, out) = sync_all(&pool, &sim, &am).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Forget what the first receiver got, so every open episode is due again, now for the black hole.
    sqlx::query("DELETE FROM alert_deliveries")
        .execute(&pool)
        .await
        .unwrap();
    let (hole, accepted) = black_hole().await;
    let (took, out) = sync_all(&pool, &sim, &hole).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        accepted.load(Ordering::SeqCst) > 0,
        "the receiver was tried"
    );
    assert!(stderr.contains("stays due in the outbox"), "{stderr}");
    eprintln!(
        "sync all: {} ms with a working receiver, {} ms with a black hole",
        baseline.as_millis(),
        took.as_millis()
    );
    // Functional bound: the 3 s budget plus a generous margin, far below the 6 x 3 s retry schedule.
    assert!(
        took < baseline + Duration::from_secs(3 + 8),
        "{took:?} vs {baseline:?}"
    );
    assert_eq!(scalar(&pool, DELIVERED).await, 0, "all still due");
}
