//! Three `gsl-sync run` daemons share six accounts through per-account leases: each account is synced by
//! one replica at a time, every account once per scheduled fire, the accounts split evenly, and a
//! SIGKILLed replica's accounts are taken over by the others.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::resilience::{database_of, server_url, SimProcess};

const BIN: &str = env!("CARGO_BIN_EXE_gsl-sync");
const ACCOUNTS: [&str; 6] = ["a1", "a2", "a3", "a4", "a5", "a6"];
/// Pools run every 15 s, so the test sees several fires before and after the kill.
const POOLS_EVERY: &str = "*/15 * * * * *";

struct Replica {
    name: String,
    child: Child,
    metrics: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn replica(name: &str, sim: &SimProcess, database: &str, dir: &std::path::Path) -> Replica {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .env("HOSTNAME", name)
        .env("GSL_SYNC__DATABASE__URL", database)
        .env("GSL_SYNC__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("GSL_SYNC__SYNC__POOLS_SCHEDULE", POOLS_EVERY)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    for account in ACCOUNTS {
        let key = account.to_uppercase();
        for (field, value) in [
            ("ENDPOINT", sim.url.as_str()),
            ("IAM_ENDPOINT", sim.url.as_str()),
            ("DOMAIN", "demo"),
            ("USER", "demo"),
            ("PASSWORD", "demo"),
        ] {
            cmd.env(format!("GSL_SYNC__ACCOUNTS__{key}__{field}"), value);
        }
    }
    Replica {
        name: name.to_owned(),
        child: cmd.spawn().expect("gsl-sync run starts"),
        metrics: format!("http://127.0.0.1:{port}/metrics"),
    }
}

/// The accounts a replica says it holds (`gsl_sync_lease_held 1`).
async fn held(replica: &Replica) -> BTreeSet<String> {
    let Ok(resp) = reqwest::get(&replica.metrics).await else {
        return BTreeSet::new();
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("gsl_sync_lease_held{account=\""))
        .filter_map(|l| l.strip_suffix("\"} 1"))
        .map(str::to_owned)
        .collect()
}

async fn until<F, Fut>(what: &str, limit: Duration, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

#[derive(Debug, sqlx::FromRow)]
struct Run {
    account: String,
    job: String,
    holder: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

async fn runs(pool: &PgPool) -> Vec<Run> {
    sqlx::query_as(
        "SELECT account, job, holder, started_at, finished_at FROM sync_runs ORDER BY started_at",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Runs of one account by two holders that overlap in time: the one thing leases must prevent.
fn overlapping(runs: &[Run]) -> Vec<String> {
    let far = Utc::now() + chrono::Duration::days(1);
    let mut out = Vec::new();
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            let ends = |r: &Run| r.finished_at.unwrap_or(far);
            let overlap = a.started_at < ends(b) && b.started_at < ends(a);
            if a.account == b.account && a.holder != b.holder && overlap {
                out.push(format!(
                    "{} {} by {} and {} {} by {}",
                    a.account, a.job, a.holder, b.job, b.account, b.holder
                ));
            }
        }
    }
    out
}

/// Pools runs per account that started within `window` after each 15-second fire in `[from, to)`.
fn pools_runs_per_fire(
    runs: &[Run],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<DateTime<Utc>, BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    let mut fire = DateTime::from_timestamp((from.timestamp() / 15 + 1) * 15, 0).unwrap();
    while fire + chrono::Duration::seconds(15) <= to {
        let next = fire + chrono::Duration::seconds(15);
        let mut per_account: BTreeMap<String, usize> =
            ACCOUNTS.iter().map(|a| (a.to_string(), 0)).collect();
        for r in runs.iter().filter(|r| r.job == "pools") {
            if r.started_at >= fire && r.started_at < next {
                *per_account.entry(r.account.clone()).or_default() += 1;
            }
        }
        out.insert(fire, per_account);
        fire = next;
    }
    out
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn three_replicas_split_six_accounts_and_take_over_a_killed_ones(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(120).await;
    let database = server_url(&pool, &database_of(&pool));
    let mut replicas: Vec<Replica> = ["replica-a", "replica-b", "replica-c"]
        .iter()
        .map(|name| replica(name, &sim, &database, dir.path()))
        .collect();

    // The accounts split two by two, and every account's missed jobs ran once.
    until("an even split", Duration::from_secs(90), || async {
        let mut sizes = Vec::new();
        for r in &replicas {
            sizes.push(held(r).await.len());
        }
        sizes == [2, 2, 2]
    })
    .await;
    until(
        "every account's first jobs",
        Duration::from_secs(120),
        || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(DISTINCT (account, job)) FROM sync_runs WHERE status = 'succeeded'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            n == 24
        },
    )
    .await;
    let mut owners = BTreeMap::new();
    for r in &replicas {
        for account in held(r).await {
            owners.insert(account, r.name.clone());
        }
    }
    assert_eq!(owners.len(), 6, "every account has one holder: {owners:?}");

    // Two pools fires on the split fleet: each account once per fire.
    let steady_from = Utc::now();
    tokio::time::sleep(Duration::from_secs(36)).await;
    let steady_to = Utc::now();

    // SIGKILL the holder of a1: its accounts go to the survivors.
    let victim = replicas
        .iter()
        .position(|r| owners["a1"] == r.name)
        .unwrap();
    let orphans: BTreeSet<String> = held(&replicas[victim]).await;
    let killed_at = Utc::now();
    let mut dead = replicas.remove(victim);
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    let takeover = until(
        "the survivors hold all six",
        Duration::from_secs(60),
        || async {
            let mut all = BTreeSet::new();
            for r in &replicas {
                all.extend(held(r).await);
            }
            all.len() == 6
        },
    )
    .await;
    eprintln!("takeover of {orphans:?} after SIGKILL: {takeover:?}");
    let after_from = Utc::now();
    tokio::time::sleep(Duration::from_secs(36)).await;
    let after_to = Utc::now();

    let all = runs(&pool).await;
    assert_eq!(overlapping(&all), Vec::<String>::new());
    for (window, (from, to)) in [
        ("steady", (steady_from, steady_to)),
        ("after takeover", (after_from, after_to)),
    ] {
        let fires = pools_runs_per_fire(&all, from, to);
        assert!(!fires.is_empty(), "{window}: no whole fire in the window");
        for (fire, per_account) in fires {
            for (account, n) in per_account {
                assert_eq!(
                    n, 1,
                    "{window}: {account} ran pools {n} times for the fire at {fire}"
                );
            }
        }
    }
    // The orphans are now synced by a survivor.
    for account in &orphans {
        let holders: BTreeSet<&str> = all
            .iter()
            .filter(|r| &r.account == account && r.started_at > killed_at)
            .map(|r| r.holder.as_str())
            .collect();
        assert!(
            !holders.is_empty() && !holders.iter().any(|h| h.starts_with(&dead.name)),
            "{account} after the kill: {holders:?}"
        );
    }
}
