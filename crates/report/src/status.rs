//! The status page's and card page's figures, read from the store only: indexed top-N lists and one
//! fleet summary per finished sync run (`FleetCache`), so a request never scans a million cards.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, Utc};

use gsl_store::alerts::KINDS;
use gsl_store::realtime::{RealtimeRow, WatchedCard};
use gsl_store::reports::card_history;
use gsl_store::status::{AlertLine, CardDetail, CardLine, FiringCount, FleetGroup, JobHealth};
use gsl_store::Store;

use crate::ReportError;

/// Rows in each top-N list, and firing episodes listed per alert kind.
const TOP: i64 = 10;
const NEWEST_PER_KIND: i64 = 5;
const CARD_ALERTS: i64 = 20;
/// Watched cards listed on the status page, most urgent first.
const WATCHED: i64 = 20;
/// A summary older than this is re-read even without a finished run: an inventory pass writes cards
/// for many minutes before it finishes.
const SUMMARY_MAX_AGE: Duration = Duration::from_secs(30);

/// When a job runs next, as the edge computes it from the cron strings.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSchedule {
    pub job: String,
    pub cron: String,
    pub next_run: Option<DateTime<Utc>>,
}

/// Everything the status page shows.
#[derive(Debug, Clone)]
pub struct StatusPage {
    pub now: DateTime<Utc>,
    pub jobs: Vec<JobHealth>,
    pub schedules: Vec<JobSchedule>,
    pub fleet: Arc<Vec<FleetGroup>>,
    pub firing: Vec<FiringCount>,
    pub newest_firing: Vec<AlertLine>,
    pub top_consumers: Vec<CardLine>,
    pub nearest_exhaustion: Vec<CardLine>,
    /// The guard's decisions (0.2).
    pub guard: crate::guard::GuardPanel,
    /// The watchlist's most urgent cards with their real-time estimates, and its size per account.
    pub watched: Vec<WatchedCard>,
    pub watch_counts: Vec<(String, i64)>,
}

impl StatusPage {
    /// The newest data day of any account: the month the report links open.
    pub fn data_as_of(&self) -> Option<NaiveDate> {
        self.fleet.iter().filter_map(|g| g.data_as_of).max()
    }
}

/// One card's page.
#[derive(Debug, Clone)]
pub struct CardPage {
    pub card: CardDetail,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<(NaiveDate, f64)>,
    pub alerts: Vec<AlertLine>,
    /// The latest real-time check, if the card was ever watched: an estimate, not the billed figure.
    pub realtime: Option<RealtimeRow>,
}

struct Cached {
    key: Option<DateTime<Utc>>,
    read_at: Instant,
    groups: Arc<Vec<FleetGroup>>,
}

/// The fleet-by-status summary, re-read when a sync run has finished since, or after `SUMMARY_MAX_AGE`.
#[derive(Clone, Default)]
pub struct FleetCache(Arc<Mutex<Option<Cached>>>);

impl FleetCache {
    pub async fn get(&self, store: &Store) -> Result<Arc<Vec<FleetGroup>>, ReportError> {
        let key = store.last_run_finished().await?;
        if let Some(c) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if c.key == key && c.read_at.elapsed() < SUMMARY_MAX_AGE {
                return Ok(c.groups.clone());
            }
        }
        let groups = Arc::new(store.fleet_summary().await?);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            key,
            read_at: Instant::now(),
            groups: groups.clone(),
        });
        Ok(groups)
    }
}

/// Reads the status page's figures; independent reads run side by side on the pool.
pub async fn status_page(
    store: &Store,
    cache: &FleetCache,
    schedules: Vec<JobSchedule>,
) -> Result<StatusPage, ReportError> {
    let now = Utc::now();
    let (jobs, fleet, firing, newest_firing, top_consumers, nearest_exhaustion, guard) = tokio::try_join!(
        async { Ok::<_, ReportError>(store.job_health().await?) },
        cache.get(store),
        async { Ok(store.firing_counts().await?) },
        async { Ok(store.newest_firing(&KINDS, NEWEST_PER_KIND).await?) },
        async { Ok(store.top_consumers(TOP).await?) },
        async { Ok(store.nearest_exhaustion(TOP).await?) },
        async { Ok(crate::guard::guard_panel(store, now).await?) },
    )?;
    let (watched, watch_counts) = tokio::try_join!(
        async { Ok::<_, ReportError>(store.watched_cards(None, WATCHED).await?) },
        async { Ok(store.watch_counts().await?) },
    )?;
    Ok(StatusPage {
        now,
        jobs,
        schedules,
        fleet,
        firing,
        newest_firing,
        top_consumers,
        nearest_exhaustion,
        guard,
        watched,
        watch_counts,
    })
}

/// The card with this ICCID and its 90 days to yesterday in `tz`; `None` for an unknown card.
pub async fn card_page(
    store: &Store,
    iccid: &str,
    tz: chrono_tz::Tz,
) -> Result<Option<CardPage>, ReportError> {
    match store.card_by_iccid(iccid).await? {
        Some(card) => Ok(Some(card_page_of(store, card, tz).await?)),
        None => Ok(None),
    }
}

/// The page of a card already found (by the search).
pub async fn card_page_of(
    store: &Store,
    card: CardDetail,
    tz: chrono_tz::Tz,
) -> Result<CardPage, ReportError> {
    let to = Utc::now().with_timezone(&tz).date_naive() - Days::new(1);
    let from = to - Days::new(89);
    let (history, alerts, realtime) = tokio::try_join!(
        card_history(store, &card.account, card.sim_card_id, from, to),
        store.card_alerts(&card.account, card.sim_card_id, CARD_ALERTS),
        store.card_realtime(&card.account, card.sim_card_id),
    )?;
    // Every day of the window, so a day without a row shows as a gap at zero rather than vanishing.
    let mut days: Vec<(NaiveDate, f64)> = from.iter_days().take(90).map(|d| (d, 0.0)).collect();
    for (day, mb) in history {
        if let Some(slot) = days.iter_mut().find(|(d, _)| *d == day) {
            slot.1 = mb;
        }
    }
    Ok(CardPage {
        card,
        from,
        to,
        days,
        alerts,
        realtime,
    })
}
