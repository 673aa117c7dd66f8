//! The /api/v1 report routes: monthly usage (JSON, CSV or HTML) and one card's daily history (JSON or CSV).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use tokio::sync::Semaphore;

use super::guard::internal_error;
use super::params::{checked_value, echo, parse_query, ParamError, Params};
use crate::domain::{GroupBy, OutputFormat, YearMonth};
use crate::report::{self, html, text, ReportError};
use crate::store::Store;

#[derive(Clone)]
struct ApiState {
    store: Store,
    tz: chrono_tz::Tz,
    /// Permits for usage reports: each one scans a month of the fleet, so a burst must not queue
    /// unbounded work on the database.
    reports: Arc<Semaphore>,
}

/// Seconds a client is told to wait when every report permit is taken.
const RETRY_AFTER_SECS: &str = "2";

/// The report API; merge it into the daemon's router.
pub fn routes(store: Store, tz: chrono_tz::Tz, max_concurrent_reports: usize) -> Router {
    Router::new()
        .route("/api/v1/usage", get(usage))
        .route("/api/v1/sims/{iccid}/daily", get(sim_daily))
        .route("/api/v1/alerts", get(alerts))
        .with_state(ApiState {
            store,
            tz,
            reports: Arc::new(Semaphore::new(max_concurrent_reports.max(1))),
        })
}

const USAGE_PARAMS: &[&str] = &["month", "group_by", "format", "top"];
const DAILY_PARAMS: &[&str] = &["from", "to", "format"];
const ALERTS_PARAMS: &[&str] = &["alertname", "limit"];
const ALERTS_LIMIT_DEFAULT: i64 = 1_000;
const ALERTS_LIMIT_MAX: i64 = 10_000;

/// How the API answers a request it cannot serve.
enum ApiError {
    Report(ReportError),
    Busy,
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        Self::Report(e)
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        bad(e.to_string())
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::Report(ReportError::BadParameter(msg.into()))
}

fn json_error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Busy => {
                let mut resp = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many reports at once; retry shortly".into(),
                );
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(RETRY_AFTER_SECS),
                );
                resp
            }
            ApiError::Report(ReportError::BadParameter(m)) => {
                json_error(StatusCode::BAD_REQUEST, format!("bad parameter: {m}"))
            }
            ApiError::Report(ReportError::UnknownCard(c)) => {
                json_error(StatusCode::NOT_FOUND, format!("no such card: {}", echo(&c)))
            }
            ApiError::Report(e @ (ReportError::Store(_) | ReportError::Io(_))) => {
                internal_error(&e)
            }
        }
    }
}

fn parse_group(s: Option<&str>) -> Result<GroupBy, ApiError> {
    let name = s.unwrap_or("sim");
    GroupBy::from_name(name).ok_or_else(|| {
        bad(format!(
            "group_by must be sim|pool|plan|tag|account, got {}",
            echo(name)
        ))
    })
}

fn parse_day(s: Option<&str>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    s.map(|d| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| bad(format!("{name} must be YYYY-MM-DD, got {}", echo(d))))
    })
    .transpose()
}

/// A validated usage request.
#[derive(Debug, PartialEq)]
pub struct UsageRequest {
    pub month: YearMonth,
    pub by: GroupBy,
    pub top: Option<usize>,
    pub format: OutputFormat,
}

/// `month`, `group_by`, `format`, `top` from a raw query string; no other parameter.
pub fn usage_request(raw: Option<&str>) -> Result<UsageRequest, String> {
    parse_usage(raw).map_err(|e| match e {
        ApiError::Report(r) => r.to_string(),
        ApiError::Busy => "busy".into(),
    })
}

fn parse_usage(raw: Option<&str>) -> Result<UsageRequest, ApiError> {
    let p: Params = parse_query(raw, USAGE_PARAMS)?;
    let month = p
        .get("month")
        .ok_or_else(|| bad("month=YYYY-MM is required"))?;
    let month: YearMonth = month
        .parse()
        .map_err(|_| bad(format!("month must be YYYY-MM, got {}", echo(month))))?;
    let by = parse_group(p.get("group_by"))?;
    let top = p
        .get("top")
        .map(|t| {
            t.parse::<usize>()
                .map_err(|_| bad(format!("top must be a positive integer, got {}", echo(t))))
        })
        .transpose()?;
    let format = match p.get("format").unwrap_or("json") {
        "json" => OutputFormat::Json,
        "csv" => OutputFormat::Csv,
        "html" => OutputFormat::Html,
        other => {
            return Err(bad(format!(
                "format must be json|csv|html, got {}",
                echo(other)
            )))
        }
    };
    Ok(UsageRequest {
        month,
        by,
        top,
        format,
    })
}

async fn usage(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let req = parse_usage(raw.as_deref())?;
    let _permit = st.reports.try_acquire().map_err(|_| ApiError::Busy)?;
    let r = report::usage_report(&st.store, req.month, req.by, req.top).await?;
    Ok(match req.format {
        OutputFormat::Csv => csv(text::usage_csv(&r)),
        OutputFormat::Html => Html(html::usage_html(&r)).into_response(),
        _ => Json(r).into_response(),
    })
}

fn csv(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

/// The card of `/api/v1/sims/{iccid}/daily`: UTF-8, no control character (Postgres refuses NUL), short.
fn card_in_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(iccid) = path.map_err(|_| bad("the card in the path is not valid UTF-8"))?;
    Ok(checked_value("the card in the path", &iccid)?)
}

/// A validated card-history request.
#[derive(Debug, PartialEq)]
pub struct DailyRequest {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub csv: bool,
}

/// `from`, `to` and `format` from a raw query string; no other parameter.
pub fn daily_range(raw: Option<&str>) -> Result<DailyRequest, String> {
    parse_daily(raw).map_err(|e| match e {
        ApiError::Report(r) => r.to_string(),
        ApiError::Busy => "busy".into(),
    })
}

fn parse_daily(raw: Option<&str>) -> Result<DailyRequest, ApiError> {
    let p = parse_query(raw, DAILY_PARAMS)?;
    let csv = match p.get("format").unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => return Err(bad(format!("format must be json|csv, got {}", echo(other)))),
    };
    Ok(DailyRequest {
        from: parse_day(p.get("from"), "from")?,
        to: parse_day(p.get("to"), "to")?,
        csv,
    })
}

async fn sim_daily(
    State(st): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let iccid = card_in_path(path)?;
    let req = parse_daily(raw.as_deref())?;
    let r = report::sim_report(&st.store, Some(&iccid), None, req.from, req.to, st.tz).await?;
    Ok(if req.csv {
        csv(text::sim_csv(&r))
    } else {
        Json(r).into_response()
    })
}

/// A validated alerts request.
#[derive(Debug, PartialEq)]
struct AlertsRequest {
    alertname: Option<String>,
    limit: i64,
}

fn parse_alerts(raw: Option<&str>) -> Result<AlertsRequest, ApiError> {
    let q = parse_query(raw, ALERTS_PARAMS)?;
    let alertname = q.get("alertname").map(str::to_owned);
    if let Some(name) = &alertname {
        if !crate::store::alerts::KINDS.contains(&name.as_str()) {
            return Err(bad(format!(
                "alertname must be one of {}, got {}",
                crate::store::alerts::KINDS.join("|"),
                echo(name)
            )));
        }
    }
    let limit = match q.get("limit") {
        None => ALERTS_LIMIT_DEFAULT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=ALERTS_LIMIT_MAX).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "limit must be 1..={ALERTS_LIMIT_MAX}, got {}",
                    echo(l)
                ))
            })?,
    };
    Ok(AlertsRequest { alertname, limit })
}

/// The firing alerts as Alertmanager v2 alerts (the body gsl-sync posts to `/api/v2/alerts`), newest
/// first, so what a receiver gets can be read without one.
async fn alerts(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let req = parse_alerts(raw.as_deref())?;
    let firing = st
        .store
        .firing_alerts(req.alertname.as_deref(), req.limit)
        .await
        .map_err(ReportError::from)?;
    // A firing alert's `endsAt` a while ahead, as when posted: a viewer treats it as firing until then.
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    let body: Vec<serde_json::Value> = firing
        .iter()
        .map(|a| crate::alerts::alertmanager_alert(a, until))
        .collect();
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod alerts_tests {
    use super::*;

    #[test]
    fn alerts_take_a_known_kind_and_a_bounded_limit() {
        let all = parse_alerts(None).unwrap_or_else(|_| panic!("no parameters"));
        assert_eq!(all.limit, ALERTS_LIMIT_DEFAULT);
        assert_eq!(all.alertname, None);
        let one = parse_alerts(Some("alertname=GslSimSuspended&limit=5"))
            .unwrap_or_else(|_| panic!("valid"));
        assert_eq!(one.alertname.as_deref(), Some("GslSimSuspended"));
        assert_eq!(one.limit, 5);
        for bad in [
            "alertname=Nope",
            "limit=0",
            "limit=10001",
            "limit=x",
            "other=1",
        ] {
            assert!(parse_alerts(Some(bad)).is_err(), "{bad}");
        }
    }
}
