//! The HTTP surface: /metrics, /healthz, /readyz, the /api/v1 report routes and the status pages, behind
//! optional bearer tokens, a request timeout and (in `serve_with`) a header-read timeout.

pub mod api;
pub mod guard;
pub mod params;
pub mod status;

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::SecretString;
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::text::Format;
use crate::metrics::{scrape, MetricsOptions, ScrapeRequest, Shard, SimGauges};
use crate::store::Store;
use crate::telemetry::Telemetry;
use guard::{require_bearer, Bearer};

/// Everything the handlers need; cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    pub store: Store,
    pub gauges: SimGauges,
    pub telemetry: Telemetry,
    pub metrics: MetricsOptions,
}

/// Access control, bounds and timeouts of the server (`[http]` in the configuration).
#[derive(Clone)]
pub struct HttpOptions {
    /// Required as `Authorization: Bearer …` on /api/v1 (and the status page) when set.
    pub api_token: Option<SecretString>,
    /// Required on /metrics when set.
    pub metrics_token: Option<SecretString>,
    /// Usage reports computed at once; one more answers 503 with `Retry-After`.
    pub max_concurrent_reports: usize,
    /// A request not answered by then gets 503.
    pub request_timeout: Duration,
    /// A connection that has not sent its request headers by then is closed.
    pub header_read_timeout: Duration,
    /// What the status pages know beyond the store (the jobs' schedules).
    pub pages: status::StatusOptions,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            api_token: None,
            metrics_token: None,
            max_concurrent_reports: 4,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            pages: status::StatusOptions::default(),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |t: &Option<SecretString>| if t.is_some() { "***" } else { "(off)" };
        f.debug_struct("HttpOptions")
            .field("api_token", &set(&self.api_token))
            .field("metrics_token", &set(&self.metrics_token))
            .field("max_concurrent_reports", &self.max_concurrent_reports)
            .field("request_timeout", &self.request_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .finish()
    }
}

/// How long /readyz waits for the database before it answers 503: well inside a probe's timeout.
pub const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The router with the default options: no tokens.
pub fn router(state: HttpState) -> Router {
    router_with(state, &HttpOptions::default())
}

pub fn router_with(state: HttpState, opts: &HttpOptions) -> Router {
    let metrics_routes = Router::new()
        .route("/metrics", get(metrics))
        .with_state(state.clone())
        .layer(from_fn_with_state(
            Bearer::new(opts.metrics_token.as_ref()),
            require_bearer,
        ));
    let api_routes = api::routes(
        state.store.clone(),
        state.metrics.timezone,
        opts.max_concurrent_reports,
    )
    .merge(status::routes(
        state.store.clone(),
        state.metrics.timezone,
        opts.pages.clone(),
    ))
    .layer(from_fn_with_state(
        Bearer::new(opts.api_token.as_ref()),
        require_bearer,
    ));
    // Probes stay open: an orchestrator has no token, and they reveal nothing.
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(metrics_routes)
        .merge(api_routes);
    harden(routes, opts)
}

/// What every route gets: the request timeout, and a 500 with a request id (detail in the log) instead
/// of a dropped connection when a handler panics.
pub fn harden(routes: Router, opts: &HttpOptions) -> Router {
    routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            opts.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
}

fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    guard::internal_error(&format!("handler panicked: {what}"))
}

/// Serves `router` on `listener` with the default timeouts until `shutdown` completes, then drains
/// in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, HttpOptions::default()).await
}

/// Like `serve`, with `opts.header_read_timeout`: a client that trickles its headers (or sends none) is
/// disconnected instead of holding a connection and its task forever.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    opts: HttpOptions,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(%error, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[derive(Debug, Deserialize)]
struct ShardParams {
    shard: Option<String>,
    total: Option<String>,
}

/// `?shard=i&total=n`: both or neither; `i < n`, `1 <= n <= 1024`.
fn parse_shard(p: &ShardParams) -> Result<Option<Shard>, &'static str> {
    match (&p.shard, &p.total) {
        (None, None) => Ok(None),
        (Some(i), Some(n)) => {
            let (i, n) = (i.trim().parse::<u32>(), n.trim().parse::<u32>());
            match (i, n) {
                (Ok(i), Ok(n)) => Shard::new(i, n)
                    .map(Some)
                    .ok_or("shard must be below total, and total in 1..=1024\n"),
                _ => Err("shard and total must be non-negative integers\n"),
            }
        }
        _ => Err("give both shard and total, or neither\n"),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

async fn metrics(
    State(state): State<HttpState>,
    Query(params): Query<ShardParams>,
    headers: HeaderMap,
) -> Response {
    let shard = match parse_shard(&params) {
        Ok(s) => s,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let format = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map_or(Format::Prometheus, Format::negotiate);
    let req = ScrapeRequest {
        shard,
        accept_gzip: accepts_gzip(&headers),
        format,
    };
    // This process's own families: once per process, so not on scrape-time shards other than 0.
    let serve_daemon = shard.is_none_or(|s| s.serves_fleet());
    let daemon = if serve_daemon {
        let mut text = state.gauges.watch_text().to_vec();
        text.extend(state.telemetry.encode(format));
        text
    } else {
        Vec::new()
    };
    let body = scrape::body(state.gauges.snapshot(), req, daemon);
    let mut resp = Response::new(Body::empty());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if body.gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
    *resp.body_mut() = Body::from_stream(body.into_stream());
    resp
}

/// 503 unless the database answers within `READY_TIMEOUT`: a probe must learn the truth quickly, not
/// wait on a pool whose server is gone.
async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_TIMEOUT, state.store.ready()).await {
        Ok(true) => (StatusCode::OK, "ready\n"),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable or migrations pending\n",
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database did not answer within 1s\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_params_are_validated() {
        let p = |s: Option<&str>, t: Option<&str>| ShardParams {
            shard: s.map(Into::into),
            total: t.map(Into::into),
        };
        assert_eq!(parse_shard(&p(None, None)), Ok(None));
        assert_eq!(parse_shard(&p(Some("1"), Some("4"))), Ok(Shard::new(1, 4)));
        for (s, t) in [
            (Some("4"), Some("4")),
            (Some("0"), Some("0")),
            (Some("-1"), Some("2")),
            (Some("x"), Some("2")),
            (Some("0"), None),
            (None, Some("2")),
            (Some("0"), Some("5000")),
        ] {
            assert!(parse_shard(&p(s, t)).is_err(), "{s:?}/{t:?}");
        }
    }

    #[test]
    fn gzip_is_used_only_when_accepted() {
        for (value, gzip) in [
            ("gzip", true),
            ("deflate, gzip;q=1.0, *;q=0.5", true),
            ("identity", false),
            ("gzip;q=0", false),
            ("*", true),
            ("br", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            assert_eq!(accepts_gzip(&h), gzip, "{value}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
