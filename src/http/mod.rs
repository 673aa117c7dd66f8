//! The HTTP surface: /metrics, /healthz, /readyz, the /api/v1 report routes and the status pages.

pub mod api;
pub mod status;

use std::future::Future;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::metrics::text::Format;
use crate::metrics::{scrape, MetricsOptions, ScrapeRequest, Shard, SimGauges};
use crate::store::Store;
use crate::telemetry::Telemetry;

/// Everything the handlers need; cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    pub store: Store,
    pub gauges: SimGauges,
    pub telemetry: Telemetry,
    pub metrics: MetricsOptions,
}

pub fn router(state: HttpState) -> Router {
    router_with(state, status::StatusOptions::default())
}

/// `router` with the status pages told the jobs' schedules, so they can say when each runs next.
pub fn router_with(state: HttpState, pages: status::StatusOptions) -> Router {
    let tz = state.metrics.timezone;
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state.clone())
        .merge(api::routes(state.store.clone(), tz))
        .merge(status::routes(state.store.clone(), tz, pages))
}

/// Serves `router` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
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
        state.telemetry.encode(format)
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

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.store.ready().await {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable or migrations pending\n",
        )
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
