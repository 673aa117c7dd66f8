//! Integration tests: the binary as users run it — the daemon end to end, the demo, exit codes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");

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

/// Kills the child when the test ends, passed or not.
struct Reap(std::process::Child);

impl Drop for Reap {
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

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let out = Command::new(BIN)
        .args(["config", "check"])
        .env("GSL_SYNC__SYNC__TIMEZONE", "Mars/Olympus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sync.timezone"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn config_check_redacts_secrets_and_example_is_valid_toml() {
    let out = Command::new(BIN)
        .args(["config", "check"])
        .env("GSL_SYNC__ACCOUNTS__MAIN__AUTH", "aksk")
        .env("GSL_SYNC__ACCOUNTS__MAIN__ACCESS_KEY", "AK1")
        .env("GSL_SYNC__ACCOUNTS__MAIN__SECRET_KEY", "very-secret-sk")
        .env("DATABASE_URL", "postgres://u:db-password@h/db")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("AK1") && !text.contains("very-secret-sk") && !text.contains("db-password"),
        "{text}"
    );
    let example = Command::new(BIN)
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&example.stdout)
        .parse::<toml::Value>()
        .is_ok());
}

#[test]
fn a_sync_that_cannot_reach_gsl_exits_1_without_leaking_the_password() {
    let port = free_port();
    let out = Command::new(BIN)
        .args(["sync", "inventory"])
        .env(
            "GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env(
            "GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "d")
        .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "u")
        .env(
            "GSL_SYNC__ACCOUNTS__MAIN__PASSWORD",
            "p4ssw0rd-not-for-logs",
        )
        .env("GSL_SYNC__SYNC__MAX_RETRIES", "0")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("p4ssw0rd"), "the password leaked");
}

/// The daemon syncs on start (every job is "missed" on a fresh database), serves the gauges, and stops on
/// SIGTERM within the grace period.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn the_daemon_syncs_serves_metrics_and_stops_on_sigterm(pool: PgPool) {
    let sim = crate::resilience::SimProcess::start(700).await;
    let port = free_port();
    // A file, not a pipe: a pipe nobody reads fills up and blocks the daemon's logging.
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut reap = Reap(
        Command::new(BIN)
            .arg("run")
            .env("GSL_SYNC__DATABASE__URL", database_url(&pool))
            .env("GSL_SYNC__HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", &sim.url)
            .env("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", &sim.url)
            .env("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo")
            .env("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo")
            .env("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo")
            .env("GSL_SYNC__LOG__FORMAT", "json")
            .env("RUST_LOG", "debug,hyper=info,sqlx=warn")
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let child = &mut reap.0;
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut body = String::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = http.get(&url).send().await {
            body = r.text().await.unwrap_or_default();
            let cards = body
                .lines()
                .filter(|l| l.starts_with("gsl_sim_flow_used_bytes{"))
                .count();
            let daily_done = body.contains(
                "gsl_sync_last_success_timestamp_seconds{account=\"main\",job_name=\"daily_flow\"}",
            );
            if cards == 700 && daily_done {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if body
        .lines()
        .filter(|l| l.starts_with("gsl_sim_flow_used_bytes{"))
        .count()
        != 700
    {
        let _ = child.kill();
        let stderr = std::fs::read_to_string(log.path()).unwrap();
        panic!("no 700 card series; daemon said: {stderr}\nbody: {body}");
    }
    let ready = http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let stopped = Instant::now();
    // `kill -TERM` through the shell: no unsafe libc call in the test.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(25),
            "still running 25 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let stderr = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        stderr.lines().all(|l| l.starts_with('{')),
        "JSON logs: {stderr}"
    );
    let running: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE status = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(running, 0, "no run left open");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn the_demo_syncs_a_simulated_fleet_and_says_where_to_look(pool: PgPool) {
    let out = tokio::process::Command::new(BIN)
        .args(["demo", "--cards", "500", "--once"])
        .env("DATABASE_URL", database_url(&pool))
        .env("GSL_SYNC__HTTP__LISTEN", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("/metrics") && stdout.contains("/api/v1/usage"),
        "{stdout}"
    );
    assert!(stderr.contains("full sync done"), "{stderr}");
    assert!(stderr.contains("calls left"), "a progress line: {stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "no redrawing without a terminal: {stderr:?}"
    );
    assert!(stdout.contains("status page   http://"), "{stdout}");
    let url = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("database"))
        .map(|u| u.trim().to_owned())
        .expect("the database the demo used");
    // The first run shows the product's point: every kind of alert, from the showcase cards.
    let demo = PgPool::connect(&url).await.unwrap();
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT kind FROM alerts WHERE resolved_at IS NULL ORDER BY 1")
            .fetch_all(&demo)
            .await
            .unwrap();
    let every_kind = [
        "GslPoolQuotaCritical",
        "GslPoolQuotaWarning",
        "GslSimExhaustionProjected",
        "GslSimQuotaCritical",
        "GslSimQuotaWarning",
        "GslSimSuspended",
        "GslSimUsageAnomaly",
    ];
    for kind in every_kind {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
        assert!(stdout.contains(kind), "{kind} not printed: {stdout}");
    }
    assert_eq!(kinds, every_kind, "every kind of alert, and only those");
    // The same alerts as Alertmanager receives them, from the route the demo prints.
    assert!(stdout.contains("/api/v1/alerts"), "{stdout}");
    let base = crate::status::serve(demo.clone()).await;
    let body: serde_json::Value = reqwest::get(format!("{base}/api/v1/alerts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: std::collections::BTreeSet<&str> = body
        .as_array()
        .expect("an array of alerts")
        .iter()
        .map(|a| {
            for key in ["startsAt", "endsAt", "generatorURL"] {
                assert!(a[key].is_string(), "{key} in {a}");
            }
            assert!(a["annotations"]["summary"].is_string(), "{a}");
            a["labels"]["alertname"].as_str().expect("alertname")
        })
        .collect();
    assert_eq!(names, every_kind.into(), "{body}");
    demo.close().await;
    // The next steps work as printed, pasted into a shell (cargo's DATABASE_URL notwithstanding).
    let steps: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("$ "))
        .collect();
    assert_eq!(steps.len(), 3, "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    for step in steps {
        let run = tokio::process::Command::new("sh")
            .args(["-c", step])
            .current_dir(dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/elsewhere")
            .output()
            .await
            .unwrap();
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        if !step.contains('>') {
            assert!(out.lines().count() > 3, "{step}: {out}");
        }
    }
    let html = std::fs::read_to_string(dir.path().join("usage.html")).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("No data yet"),
        "a month with data"
    );
}

/// Runs the binary with `database_url` and no accounts; returns (exit code, stderr).
fn run_against(database_url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("GSL_SYNC__DATABASE__URL", database_url)
        .env_remove("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim_end().to_owned(),
    )
}

#[test]
fn arguments_are_checked_before_any_connection() {
    // Nothing listens there: a command that connected first would fail with exit 1 instead.
    let dead = format!("postgres://postgres@127.0.0.1:{}/gsl_x", free_port());
    let (code, err) = run_against(&dead, &["report", "usage", "--month", "2026-13"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.lines().next(),
        Some(
            "error: invalid value '2026-13' for '--month <YYYY-MM>': must be a month like 2026-11"
        )
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_sync_without_accounts_refuses_before_touching_the_database(pool: PgPool) {
    let name = format!("gsl_never_{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let (code, err) = run_against(&url, &["sync", "all"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "gsl-sync: configuration: no [accounts.NAME] table: nothing to sync (see `gsl-sync config example`)"
    );
    let created: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!created, "no database was created");
}

#[test]
fn an_unreachable_database_is_one_line_naming_host_port_database_and_reason() {
    let port = free_port();
    let (code, err) = run_against(
        &format!("postgres://postgres@127.0.0.1:{port}/gsl_x"),
        &["migrate"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("gsl-sync: cannot connect to database gsl_x at 127.0.0.1:{port}: Connection refused (os error 111)")
    );
    let (code, err) = run_against("postgres://nobody@127.0.0.1:5432/gsl_x", &["migrate"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "gsl-sync: cannot connect to database gsl_x at 127.0.0.1:5432: the server refused the login: \
         role \"nobody\" does not exist (check the user and password in database.url)"
    );
    // A server that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (code, err) = run_against(
        &format!("postgres://postgres@127.0.0.1:{port}/gsl_x"),
        &["migrate"],
    );
    drop(silent);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "gsl-sync: cannot connect to database gsl_x at 127.0.0.1:{port}: no answer within 5 s"
        )
    );
}
