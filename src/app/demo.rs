//! `gsl-sync demo`: the simulator, a full sync with a progress line, alerts, /metrics and the API in one
//! process, on a fresh `gsl_sync_demo` database, then it says where to look.

use std::sync::Arc;
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::progress::ProgressDisplay;
use super::temp_pg::{self, TempCluster};
use super::AppError;
use crate::cli::{DemoArgs, SyncCommand};
use crate::config::{AccountSettings, Settings};
use crate::gsl::Auth;
use crate::http::status::StatusOptions;
use crate::http::{router_with, serve_with, HttpState};
use crate::metrics::{MetricsOptions, SimGauges};
use crate::simulator::{self, SimulatorOptions};
use crate::store::Store;
use crate::sync::JobRequest;
use crate::telemetry::Telemetry;

const DEMO_DATABASE: &str = "gsl_sync_demo";

pub async fn run(
    mut settings: Settings,
    args: &DemoArgs,
    database_configured: bool,
) -> Result<(), AppError> {
    let (store, url, cluster) = demo_database(&settings, database_configured).await?;
    store.migrate().await?;
    let sim = simulator::start(
        "127.0.0.1:0".parse().expect("valid address"),
        SimulatorOptions {
            cards: args.cards,
            showcase: true,
            ..SimulatorOptions::default()
        },
    )
    .await
    .map_err(AppError::io("simulator: bind 127.0.0.1:0"))?;
    eprintln!(
        "gsl-sync demo: GSL simulator with {} cards at {}",
        args.cards,
        sim.base_url()
    );
    settings.accounts = vec![demo_account(&sim.base_url())?];

    let telemetry = Telemetry::new().in_zone(settings.sync.timezone);
    let progress = Arc::new(ProgressDisplay::default());
    let engine =
        super::engine(store.clone(), &settings, &telemetry)?.with_progress(progress.clone());
    let cancel = CancellationToken::new();
    super::cancel_on_signal(cancel.clone());
    let started = Instant::now();
    let reports = super::sync_cmd::run_jobs(
        &store,
        &engine,
        &settings,
        &SyncCommand::All,
        JobRequest::Scheduled,
        &cancel,
    )
    .await?;
    progress.finish();
    super::hooks::evaluate_and_notify(&store, &settings, &telemetry).await;
    let failures: Vec<String> = reports.iter().flat_map(|r| r.failures()).collect();
    if !failures.is_empty() {
        return Err(AppError::JobsFailed(failures));
    }
    eprintln!(
        "gsl-sync demo: full sync done in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let metrics = MetricsOptions::new(&settings.metrics, settings.sync.timezone);
    let gauges = SimGauges::new();
    gauges.refresh(&store, &metrics).await?;
    let listener = match tokio::net::TcpListener::bind(settings.http.listen).await {
        Ok(l) => l,
        // The configured port may belong to a running daemon: any free port serves the demo.
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(AppError::io("http: bind 127.0.0.1:0"))?,
    };
    let address = listener
        .local_addr()
        .map_err(AppError::io("http: local address"))?;
    print_where_to_look(&store, &settings, address, &url, cluster.is_some()).await;
    if args.once {
        return Ok(());
    }
    let state = HttpState {
        store: store.clone(),
        gauges,
        telemetry,
        metrics,
    };
    eprintln!("gsl-sync demo: serving until Ctrl-C");
    let mut options = settings.http.options.clone();
    options.pages = StatusOptions::from_sync(&settings.sync);
    serve_with(
        listener,
        router_with(state, &options),
        cancel.cancelled_owned(),
        options,
    )
    .await
    .map_err(AppError::io("http: serve"))?;
    drop(sim);
    Ok(())
}

/// A fresh demo database on the configured server; a throwaway cluster when none is configured or answering.
async fn demo_database(
    settings: &Settings,
    configured: bool,
) -> Result<(Store, String, Option<TempCluster>), AppError> {
    let url = with_database(settings.database.url.expose_secret(), DEMO_DATABASE);
    match fresh(&url).await {
        Ok(store) => {
            eprintln!("gsl-sync demo: using a fresh database {DEMO_DATABASE} on the configured server");
            Ok((store, url, None))
        }
        Err(e) if configured => Err(AppError::Demo(format!(
            "the configured database does not answer ({e}); start it or unset DATABASE_URL / database.url to let the demo start its own"
        ))),
        Err(_) => {
            let cluster = temp_pg::start().await.map_err(|why| {
                AppError::Demo(format!(
                    "no PostgreSQL answers at the default address and none could be started: {why}. \
                     Install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL=postgres://USER@HOST:PORT/postgres"
                ))
            })?;
            eprintln!(
                "gsl-sync demo: no PostgreSQL configured or answering; started a throwaway cluster in {} for this demo",
                cluster.data_dir().display()
            );
            let store = fresh(&cluster.url).await?;
            eprintln!(
                "gsl-sync demo: the throwaway cluster is at {} while the demo runs",
                cluster.url
            );
            Ok((store, cluster.url.clone(), Some(cluster)))
        }
    }
}

async fn fresh(url: &str) -> Result<Store, crate::store::StoreError> {
    let secret = SecretString::from(url.to_owned());
    crate::store::drop_database_if_exists(&secret).await?;
    let mut last = None;
    // A just-started cluster may refuse connections for a moment.
    for _ in 0..20 {
        match Store::connect(&secret, 8).await {
            Ok(store) => return Ok(store),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Err(last.expect("tried at least once"))
}

fn with_database(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

fn demo_account(base_url: &str) -> Result<AccountSettings, AppError> {
    let url = url::Url::parse(base_url)
        .map_err(|e| AppError::Demo(format!("simulator address {base_url}: {e}")))?;
    Ok(AccountSettings {
        name: "demo".into(),
        endpoint: url.clone(),
        auth: Auth::Password {
            iam_endpoint: url,
            domain: "demo".into(),
            user: "demo".into(),
            password: SecretString::from("demo".to_owned()),
            project: "cn-north-4".into(),
        },
        list_rate_per_second: 1.0,
        total_rate_per_second: 5.0,
    })
}

/// How to run this binary again as the user can paste it: its real path, or `cargo run --release --`
/// when it is cargo's build (whose `.cargo/config.toml` would inject another DATABASE_URL, so the URL is
/// passed the one way that wins over it).
/// `url` without its password: what the demo prints never carries a secret. The printed commands then
/// read the password from `PGPASSWORD`, as libpq and sqlx do.
fn printable(url: &str) -> (String, bool) {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(None);
            (u.to_string(), true)
        }
        _ => (url.to_owned(), false),
    }
}

fn command_prefix(url: &str) -> String {
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "cargo run --release --".into());
    let quoted = if exe.contains([' ', '\'', '"']) {
        format!("'{}'", exe.replace('\'', "'\\''"))
    } else {
        exe
    };
    format!(
        "GSL_SYNC__DATABASE__URL='{}' {quoted}",
        url.replace('\'', "%27")
    )
}

/// Where to look, and commands that work as printed: the month is the one the data is in (on the 1st,
/// last month).
async fn print_where_to_look(
    store: &Store,
    settings: &Settings,
    address: std::net::SocketAddr,
    url: &str,
    throwaway: bool,
) {
    let yesterday = chrono::Utc::now()
        .with_timezone(&settings.sync.timezone)
        .date_naive()
        - chrono::Days::new(1);
    let month = yesterday.format("%Y-%m");
    let kinds = store.firing_counts().await.unwrap_or_default();
    let (url, had_password) = printable(url);
    let url = url.as_str();
    let run = command_prefix(url);
    println!();
    println!("  status page   http://{address}/");
    println!("  /metrics      http://{address}/metrics");
    println!(
        "  usage report  http://{address}/api/v1/usage?month={month}&group_by=plan&format=html"
    );
    println!("  alerts (JSON) http://{address}/api/v1/alerts  (as Alertmanager receives them)");
    println!("  health        http://{address}/healthz  http://{address}/readyz");
    println!(
        "  database      {url}{}",
        if throwaway {
            " (throwaway, removed when the demo stops)"
        } else {
            ""
        }
    );
    println!("  alerts firing now:");
    for k in &kinds {
        println!("    {:<27} {:>8} {}", k.kind, k.firing, k.severity);
    }
    if had_password {
        println!("  (the database password is not shown: export PGPASSWORD before pasting)");
    }
    println!("  next steps (paste them while the demo runs):");
    println!("  $ {run} report usage --month {month} --group-by plan");
    println!("  $ {run} report usage --month {month} --format html > usage.html");
    println!(
        "  $ {run} report sim --iccid {} --format table",
        showcase_iccid(store).await
    );
    println!();
}

/// A card worth opening: the one nearest exhaustion.
async fn showcase_iccid(store: &Store) -> String {
    store
        .nearest_exhaustion(1)
        .await
        .ok()
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.iccid)
        .unwrap_or_else(|| "ICCID".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_urls_never_carry_the_password() {
        let (shown, had) = printable("postgres://gsl:hunter2@db.example.com:5432/gsl_sync_demo");
        assert!(had);
        assert_eq!(shown, "postgres://gsl@db.example.com:5432/gsl_sync_demo");
        assert!(!command_prefix(&shown).contains("hunter2"));
        assert!(!printable("postgres://postgres@127.0.0.1:5433/x").1);
    }
}
