//! The reads behind /metrics: current cards (streamed), pool usage, open quota episodes and last sync runs.

use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, TryStreamExt};
use gsl_domain::{PoolId, SimCardId};

use super::{Result, Store, StoreError};

/// One current (not removed) card, as much of it as /metrics shows.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct GaugeCard {
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub cid: Option<String>,
    pub sim_type: Option<i32>,
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub sim_pool_id: Option<PoolId>,
    pub price_plan_name: Option<String>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    /// `sim_cards.tags`: `tag_names` split once when the card was written.
    pub tags: Vec<String>,
    pub data_date: Option<NaiveDate>,
}

/// A pool's figures for its latest billing cycle up to the current one.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GaugePool {
    pub account: String,
    pub sim_pool_id: PoolId,
    pub flow_total_mb: Option<f64>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
}

/// Open quota episodes per account and alert kind.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OpenAlertCount {
    pub account: String,
    pub kind: String,
    pub open: i64,
}

/// The freshness of one (account, job): its last success and how long its last finished run took.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LastRun {
    pub account: String,
    pub job: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_duration_seconds: Option<f64>,
    /// Daily flow only: the last day stored for every card, and when the night's data reached it.
    pub data_complete_through: Option<NaiveDate>,
    pub night_complete_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Every current card ordered by (account, sim_card_id), streamed so memory stays bounded at any fleet size.
    pub fn gauge_cards(&self) -> impl Stream<Item = Result<GaugeCard>> + Send + '_ {
        sqlx::query_as::<_, GaugeCard>(
            "SELECT account, sim_card_id, iccid, cid, sim_type, sim_status, operator_status, sim_pool_id, \
                    price_plan_name, flow_used_mb, flow_left_mb, tags, data_date \
             FROM sim_cards WHERE removed_at IS NULL ORDER BY account, sim_card_id",
        )
        .fetch(self.pool())
        .map_err(StoreError::from)
    }

    /// Each pool's latest billing cycle at or before `current_cycle`; one row per (account, sim_pool_id),
    /// forward pools first when a backward pool shares the id.
    pub async fn gauge_pools(&self, current_cycle: NaiveDate) -> Result<Vec<GaugePool>> {
        Ok(sqlx::query_as::<_, GaugePool>(
            "SELECT DISTINCT ON (account, sim_pool_id) account, sim_pool_id, flow_total_mb, flow_used_mb, \
                    flow_left_mb \
             FROM sim_pool_usage WHERE billing_cycle <= $1 \
             ORDER BY account, sim_pool_id, billing_cycle DESC, kind DESC",
        )
        .bind(current_cycle)
        .fetch_all(self.pool())
        .await?)
    }

    /// Open episodes of the given alert kinds, counted per account and kind.
    pub async fn gauge_open_alerts(&self, kinds: &[&str]) -> Result<Vec<OpenAlertCount>> {
        Ok(sqlx::query_as::<_, OpenAlertCount>(
            "SELECT account, kind, count(*) AS open FROM alerts \
             WHERE resolved_at IS NULL AND kind = ANY($1) GROUP BY account, kind ORDER BY account, kind",
        )
        .bind(kinds)
        .fetch_all(self.pool())
        .await?)
    }

    /// The last success and last finished run's duration per (account, job), from `sync_runs`.
    pub async fn gauge_last_runs(&self) -> Result<Vec<LastRun>> {
        Ok(sqlx::query_as::<_, LastRun>(
            "SELECT account, job, \
                    max(finished_at) FILTER (WHERE status = 'succeeded') AS last_success, \
                    (array_agg(EXTRACT(EPOCH FROM finished_at - started_at)::float8 \
                        ORDER BY finished_at DESC) FILTER (WHERE finished_at IS NOT NULL))[1] \
                        AS last_duration_seconds, \
                    max(data_complete_through) AS data_complete_through, \
                    (array_agg(night_complete_at ORDER BY data_complete_through DESC) \
                        FILTER (WHERE data_complete_through IS NOT NULL))[1] AS night_complete_at \
             FROM sync_runs GROUP BY account, job ORDER BY account, job",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
