//! The /api/v1 report routes: monthly usage (JSON, CSV or HTML) and one card's daily history (JSON or CSV).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{GroupBy, OutputFormat, YearMonth};
use crate::report::{self, html, text, ReportError};
use crate::store::Store;

#[derive(Clone)]
struct ApiState {
    store: Store,
    tz: chrono_tz::Tz,
}

/// The report API; merge it into the daemon's router.
pub fn routes(store: Store, tz: chrono_tz::Tz) -> Router {
    Router::new()
        .route("/api/v1/usage", get(usage))
        .route("/api/v1/sims/{iccid}/daily", get(sim_daily))
        .with_state(ApiState { store, tz })
}

#[derive(Deserialize)]
struct UsageParams {
    month: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
    top: Option<String>,
}

#[derive(Deserialize)]
struct DailyParams {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// A report error as the API answers it.
struct ApiError(ReportError);

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        Self(e)
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(ReportError::BadParameter(msg.into()))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            ReportError::BadParameter(_) => StatusCode::BAD_REQUEST,
            ReportError::UnknownCard(_) => StatusCode::NOT_FOUND,
            ReportError::Store(_) | ReportError::Io(_) => {
                tracing::warn!(error = %self.0, "report API failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.0.to_string() })),
        )
            .into_response()
    }
}

fn parse_group(s: Option<&str>) -> Result<GroupBy, ApiError> {
    let name = s.unwrap_or("sim");
    GroupBy::from_name(name).ok_or_else(|| {
        bad(format!(
            "group_by must be sim|pool|plan|tag|account, got {:?}",
            name.chars().take(32).collect::<String>()
        ))
    })
}

fn parse_day(s: Option<&str>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    s.map(|d| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| bad(format!("{name} must be YYYY-MM-DD")))
    })
    .transpose()
}

async fn usage(
    State(st): State<ApiState>,
    Query(p): Query<UsageParams>,
) -> Result<Response, ApiError> {
    let month = p.month.ok_or_else(|| bad("month=YYYY-MM is required"))?;
    let by = parse_group(p.group_by.as_deref())?;
    let top = p
        .top
        .map(|t| {
            t.parse::<usize>()
                .map_err(|_| bad("top must be a positive integer"))
        })
        .transpose()?;
    let format = match p.format.as_deref().unwrap_or("json") {
        "json" => OutputFormat::Json,
        "csv" => OutputFormat::Csv,
        "html" => OutputFormat::Html,
        other => return Err(bad(format!("format must be json|csv|html, got {other:?}"))),
    };
    let month: YearMonth = month
        .parse()
        .map_err(|e: crate::domain::BadYearMonth| bad(e.to_string()))?;
    let r = report::usage_report(&st.store, month, by, top).await?;
    Ok(match format {
        OutputFormat::Csv => csv(text::usage_csv(&r)),
        OutputFormat::Html => Html(html::usage_html(&r)).into_response(),
        _ => Json(r).into_response(),
    })
}

fn csv(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

async fn sim_daily(
    State(st): State<ApiState>,
    Path(iccid): Path<String>,
    Query(p): Query<DailyParams>,
) -> Result<Response, ApiError> {
    let from = parse_day(p.from.as_deref(), "from")?;
    let to = parse_day(p.to.as_deref(), "to")?;
    let csv_wanted = match p.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => return Err(bad(format!("format must be json|csv, got {other:?}"))),
    };
    let r = report::sim_report(&st.store, Some(&iccid), None, from, to, st.tz).await?;
    Ok(if csv_wanted {
        csv(text::sim_csv(&r))
    } else {
        Json(r).into_response()
    })
}
