//! `gsl-sync demo`: the simulator, a full sync with a progress line, alerts, /metrics and the API in one
//! process, on a fresh `gsl_sync_demo` database, then it says where to look.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::temp_pg::{self, TempCluster};
use super::AppError;
use crate::cli::{DemoArgs, SyncCommand};
use crate::config::{AccountSettings, Settings};
use crate::gsl::Auth;
use crate::http::status::StatusOptions;
use crate::http::{router_with, serve, HttpState};
use crate::metrics::{MetricsOptions, SimGauges};
use crate::simulator::{self, SimulatorOptions};
use crate::store::Store;
use crate::sync::progress::{ProgressEvent, ProgressSink};
use crate::sync::JobRequest;
use crate::telemetry::Telemetry;

const DEMO_DATABASE: &str = "gsl_sync_demo";

pub async fn run(
    mut settings: Settings,
    args: &DemoArgs,
    database_configured: bool,
) -> Result<(), AppError> {
    let (store, _cluster) = demo_database(&settings, database_configured).await?;
    store.migrate().await?;
    let sim = simulator::start(
        "127.0.0.1:0".parse().expect("valid address"),
        SimulatorOptions {
            cards: args.cards,
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

    let telemetry = Telemetry::new();
    let progress = Arc::new(ProgressLine::default());
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
    print_where_to_look(&store, &settings, address).await;
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
    serve(
        listener,
        router_with(state, StatusOptions::from_sync(&settings.sync)),
        cancel.cancelled_owned(),
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
) -> Result<(Store, Option<TempCluster>), AppError> {
    let url = with_database(settings.database.url.expose_secret(), DEMO_DATABASE);
    match fresh(&url).await {
        Ok(store) => {
            eprintln!("gsl-sync demo: using a fresh database {DEMO_DATABASE} on the configured server");
            Ok((store, None))
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
            Ok((store, Some(cluster)))
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

async fn print_where_to_look(store: &Store, settings: &Settings, address: std::net::SocketAddr) {
    let month = chrono::Utc::now()
        .with_timezone(&settings.sync.timezone)
        .format("%Y-%m");
    let open_alerts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM alerts WHERE resolved_at IS NULL")
            .fetch_one(store.pool())
            .await
            .unwrap_or(0);
    println!();
    println!("  /metrics      http://{address}/metrics");
    println!("  usage API     http://{address}/api/v1/usage?month={month}&group_by=plan");
    println!("  health        http://{address}/healthz  http://{address}/readyz");
    println!("  open alerts   {open_alerts} (table `alerts`)");
    println!("  reports       gsl-sync report usage --month {month} --group-by plan");
    println!("                gsl-sync report usage --month {month} --format html > usage.html");
    println!("  (reports read DATABASE_URL's server, database {DEMO_DATABASE})");
    println!();
}

/// One updating line on stderr: what is being fetched, how far, calls left and an ETA.
#[derive(Default)]
struct ProgressLine {
    state: Mutex<Option<(Instant, String)>>,
}

impl ProgressLine {
    fn finish(&self) {
        eprintln!();
    }
}

impl ProgressSink for ProgressLine {
    fn update(&self, e: &ProgressEvent) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{}:{}", e.account, e.job);
        let since = match &*state {
            Some((t, k)) if *k == key => *t,
            _ => {
                if state.is_some() {
                    eprintln!();
                }
                let now = Instant::now();
                *state = Some((now, key));
                now
            }
        };
        let mut line = format!("\r  {:<11} {:>9} {}", e.job, e.done, e.what);
        if let Some(total) = e.total {
            line.push_str(&format!(" of {total}"));
        }
        if let Some(calls_total) = e.calls_total {
            let left = calls_total.saturating_sub(e.calls_done);
            let per_call = since.elapsed().as_secs_f64() / e.calls_done.max(1) as f64;
            line.push_str(&format!(
                " · {left} calls left · ETA {:.0} s   ",
                per_call * left as f64
            ));
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }
}
