//! Integration tests for issue 10: the HTTP API against hostile input, a busy or missing database, slow
//! clients, and optional bearer tokens.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gsl_sync::http::{harden, router_with, serve_with, HttpOptions, HttpState};
use gsl_sync::metrics::{MetricsOptions, SimGauges};
use gsl_sync::store::Store;
use gsl_sync::telemetry::Telemetry;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::report::seed;

async fn spawn(store: Store, opts: HttpOptions) -> String {
    let state = HttpState {
        store,
        gauges: SimGauges::new(),
        telemetry: Telemetry::new(),
        metrics: MetricsOptions::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router_with(state, &opts);
    tokio::spawn(serve_with(listener, app, std::future::pending(), opts));
    base
}

/// Sends `path` byte for byte (reqwest would re-encode it) and returns the status and body.
async fn raw_get(base: &str, path: &str, headers: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{headers}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn hostile_paths_and_queries_get_a_short_400(pool: PgPool) {
    seed(&pool).await;
    let base = spawn(Store::from_pool(pool), HttpOptions::default()).await;
    let long = "9".repeat(10_000);
    let month_10k = format!("/api/v1/usage?month={long}");
    let card_10k = format!("/api/v1/sims/{}/daily", "8".repeat(1000));
    for path in [
        "/api/v1/sims/%00/daily",
        "/api/v1/sims/89%0086/daily",
        "/api/v1/sims/%FF%FE/daily",
        card_10k.as_str(),
        "/api/v1/sims/8986001/daily?from=%00",
        "/api/v1/sims/8986001/daily?from=%C3%28",
        "/api/v1/sims/8986001/daily?colour=red",
        "/api/v1/sims/8986001/daily?from=2026-11-01&from=2026-11-02",
        "/api/v1/usage?month=2026-11&%FF=1",
        "/api/v1/usage?month=2026-11&unknown=1",
        "/api/v1/usage?month=2026-1%001",
        month_10k.as_str(),
        "/api/v1/usage?month=2026-11&top=99999999999999999999999",
        // Found by fuzzing: a multi-byte character across the year/month split panicked the handler.
        "/api/v1/usage?month=ab%E2%82%ACc",
        "/api/v1/usage?month=20%E2%82%AC-1",
    ] {
        let (status, body) = raw_get(&base, path, "").await;
        assert_eq!(status, 400, "{path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
        let message = v["error"].as_str().unwrap();
        assert!(message.len() < 160, "{path}: {message}");
        assert!(!message.contains("invalid byte sequence"), "{message}");
        assert!(!message.contains(&"9".repeat(41)), "{message}");
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn an_internal_error_answers_500_with_a_request_id_and_no_detail(pool: PgPool) {
    seed(&pool).await;
    sqlx::query("DROP TABLE sim_report_groups CASCADE")
        .execute(&pool)
        .await
        .unwrap();
    let base = spawn(Store::from_pool(pool), HttpOptions::default()).await;
    let (status, body) = raw_get(&base, "/api/v1/usage?month=2026-11", "").await;
    assert_eq!(status, 500, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "internal error");
    assert_eq!(v["request_id"].as_str().unwrap().len(), 32, "{body}");
    assert!(!body.contains("sim_report_groups"), "{body}");
}

/// Holds an exclusive lock on `sim_report_groups` until dropped: every usage report reads its totals there, so
/// every one waits.
async fn lock_reports(pool: &PgPool) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE sim_report_groups IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn reports_beyond_the_bound_answer_503_with_retry_after(pool: PgPool) {
    seed(&pool).await;
    let opts = HttpOptions {
        max_concurrent_reports: 2,
        ..HttpOptions::default()
    };
    let base = spawn(Store::from_pool(pool.clone()), opts).await;
    let lock = lock_reports(&pool).await;
    let url = format!("{base}/api/v1/usage?month=2026-11");
    let waiting: Vec<_> = (0..2)
        .map(|_| tokio::spawn(reqwest::get(url.clone())))
        .collect();
    // The two permitted reports are waiting on the lock; the third is refused at once.
    let mut refused = None;
    for _ in 0..100 {
        let resp = reqwest::get(&url).await.unwrap();
        if resp.status() == 503 {
            refused = Some(resp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = refused.expect("a third report is refused while two run");
    assert_eq!(refused.headers()["retry-after"], "2");
    assert!(refused.text().await.unwrap().contains("too many reports"));
    drop(lock);
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap().status(), 200);
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_request_that_takes_too_long_answers_503(pool: PgPool) {
    seed(&pool).await;
    let opts = HttpOptions {
        request_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let base = spawn(Store::from_pool(pool.clone()), opts).await;
    let _lock = lock_reports(&pool).await;
    let (status, _) = raw_get(&base, "/api/v1/usage?month=2026-11", "").await;
    assert_eq!(status, 503);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn a_client_that_never_finishes_its_headers_is_disconnected(pool: PgPool) {
    let opts = HttpOptions {
        header_read_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let base = spawn(Store::from_pool(pool), opts).await;
    let mut s = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // Functional bound, generous: the server must give up on its own, long before this.
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection is still held open");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn tokens_guard_the_api_and_metrics_but_not_the_probes(pool: PgPool) {
    seed(&pool).await;
    let opts = HttpOptions {
        api_token: Some(SecretString::from("api-SENTINEL".to_owned())),
        metrics_token: Some(SecretString::from("metrics-SENTINEL".to_owned())),
        ..HttpOptions::default()
    };
    let base = spawn(Store::from_pool(pool), opts).await;
    let usage = "/api/v1/usage?month=2026-11";
    let daily = "/api/v1/sims/8986001/daily";
    let api = "authorization: Bearer api-SENTINEL\r\n";
    let metrics = "authorization: Bearer metrics-SENTINEL\r\n";
    for (path, headers, status) in [
        (usage, "", 401),
        (usage, "authorization: Bearer wrong\r\n", 401),
        (usage, metrics, 401),
        (usage, api, 200),
        (daily, "", 401),
        (daily, api, 200),
        ("/metrics", "", 401),
        ("/metrics", api, 401),
        ("/metrics", metrics, 200),
        ("/healthz", "", 200),
        ("/readyz", "", 200),
    ] {
        let (got, body) = raw_get(&base, path, headers).await;
        assert_eq!(got, status, "{path} {headers:?}: {body}");
    }
}

/// A TCP proxy to Postgres that can turn into a black hole: accepts and never answers.
struct BlackHole {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl BlackHole {
    async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    held.push(client);
                    continue;
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

    fn stop_answering(&self) {
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
async fn readyz_answers_503_within_2s_of_the_database_stopping_and_200_when_back(pool: PgPool) {
    let opts = pool.connect_options();
    let hole = BlackHole::start((opts.get_host().to_owned(), opts.get_port())).await;
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{}",
        opts.get_username(),
        hole.port,
        opts.get_database().unwrap()
    );
    let store = Store::connect(&SecretString::from(url), 2).await.unwrap();
    let base = spawn(store, HttpOptions::default()).await;
    assert_eq!(raw_get(&base, "/readyz", "").await.0, 200);

    hole.stop_answering();
    let started = Instant::now();
    let (status, body) = raw_get(&base, "/readyz", "").await;
    let took = started.elapsed();
    eprintln!(
        "/readyz answered {status} {} ms after the database stopped",
        took.as_millis()
    );
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    hole.restore();
    let mut back = false;
    for _ in 0..60 {
        if raw_get(&base, "/readyz", "").await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(back, "/readyz answers 200 once the database is back");
}

#[tokio::test]
async fn a_handler_that_panics_answers_500_with_a_request_id() {
    let routes = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            if true {
                panic!("secret detail");
            }
            ""
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opts = HttpOptions::default();
    tokio::spawn(serve_with(
        listener,
        harden(routes, &opts),
        std::future::pending(),
        opts,
    ));
    let (status, body) = raw_get(&base, "/boom", "").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("request_id"), "{body}");
    assert!(!body.contains("secret detail"), "{body}");
}
