//! The status page (`/`), a card's page (`/sims/{iccid}`) and the card search (`/search?q=`): HTML from
//! the store only, never from GSL.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::report::pages::{card_html, not_found_html, status_html, url_part};
use crate::report::status::{card_page, card_page_of, status_page, FleetCache, JobSchedule};
use crate::report::ReportError;
use crate::store::Store;
use crate::sync::schedule::JobKind;
use crate::sync::SyncSettings;

/// What the pages know beyond the store: the jobs' cron strings, to say when each runs next.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// (job, cron with seconds) in the sync time zone.
    pub schedules: Vec<(String, String)>,
}

impl StatusOptions {
    pub fn from_sync(sync: &SyncSettings) -> Self {
        Self {
            schedules: JobKind::ALL
                .iter()
                .map(|k| (k.as_str().to_owned(), k.cron(sync).to_owned()))
                .collect(),
        }
    }
}

#[derive(Clone)]
struct PageState {
    store: Store,
    tz: chrono_tz::Tz,
    options: StatusOptions,
    cache: FleetCache,
}

/// The pages; merge them into the daemon's router.
pub fn routes(store: Store, tz: chrono_tz::Tz, options: StatusOptions) -> Router {
    Router::new()
        .route("/", get(status))
        .route("/sims/{iccid}", get(card))
        .route("/search", get(search))
        .with_state(PageState {
            store,
            tz,
            options,
            cache: FleetCache::default(),
        })
}

/// The next time `cron` fires after `now`, in `tz`; `None` for a string croner cannot parse.
pub fn next_fire(cron: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(cron)
        .ok()?
        .find_next_occurrence(&now.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A failed read as a page: one line, the detail in the log.
fn failed(e: ReportError) -> Response {
    tracing::warn!(error = %e, "status page failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(crate::report::html::page(
            "gsl-sync: database unavailable",
            "<h1>The database did not answer</h1><p>See the daemon's log; <a href=\"/readyz\">/readyz</a> \
             says when it is back.</p>",
        )),
    )
        .into_response()
}

fn html(body: String) -> Response {
    // The figures change with every sync: a cached copy would show an old state as the current one.
    ([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

fn not_found(q: &str) -> Response {
    (StatusCode::NOT_FOUND, html(not_found_html(q))).into_response()
}

async fn status(State(st): State<PageState>) -> Response {
    let now = Utc::now();
    let schedules = st
        .options
        .schedules
        .iter()
        .map(|(job, cron)| JobSchedule {
            job: job.clone(),
            cron: cron.clone(),
            next_run: next_fire(cron, st.tz, now),
        })
        .collect();
    match status_page(&st.store, &st.cache, schedules).await {
        Ok(p) => html(status_html(&p)),
        Err(e) => failed(e),
    }
}

async fn card(State(st): State<PageState>, Path(iccid): Path<String>) -> Response {
    match card_page(&st.store, &iccid, st.tz).await {
        Ok(Some(p)) => html(card_html(&p)),
        Ok(None) => not_found(&iccid),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
}

async fn search(State(st): State<PageState>, Query(p): Query<SearchParams>) -> Response {
    let q = p.q.unwrap_or_default();
    let q = q.trim();
    if q.is_empty() {
        return Redirect::to("/").into_response();
    }
    match st.store.search_card(q).await {
        Ok(Some(card)) => match &card.iccid {
            Some(iccid) => Redirect::to(&format!("/sims/{}", url_part(iccid))).into_response(),
            // Without an ICCID there is no /sims/ address: show the page here.
            None => match card_page_of(&st.store, card, st.tz).await {
                Ok(p) => html(card_html(&p)),
                Err(e) => failed(e),
            },
        },
        Ok(None) => not_found(q),
        Err(e) => failed(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_fire_is_after_now_in_the_configured_zone() {
        let now: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().unwrap();
        // 02:30 Beijing = 18:30 UTC.
        let next = next_fire("0 30 2 * * *", chrono_tz::Asia::Shanghai, now).unwrap();
        assert_eq!(
            next,
            "2026-11-28T18:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(next_fire("not cron", chrono_tz::UTC, now), None);
    }
}
