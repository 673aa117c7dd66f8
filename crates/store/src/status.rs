//! Reads behind the status page and the card page: each one indexed (migration 0008) or over a small
//! table, except `fleet_summary`, the one scan of every card, which callers cache per finished sync run.

use chrono::{DateTime, NaiveDate, Utc};
use gsl_domain::{PoolId, SimCardId};

use super::{Result, Store};

/// The health of one (account, job): its latest run and its last success.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobHealth {
    pub account: String,
    pub job: String,
    /// `running`, `succeeded` or `failed`: the latest run's status.
    pub last_status: String,
    pub last_started_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_success: Option<DateTime<Utc>>,
    /// How long the last successful run took.
    pub success_duration_seconds: Option<f64>,
}

/// Current cards per (account, sim_status, operator_status), with the newest data day of the group.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FleetGroup {
    pub account: String,
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub cards: i64,
    pub data_as_of: Option<NaiveDate>,
}

/// One card in a top-N list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CardLine {
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub msisdn: Option<String>,
    pub price_plan_name: Option<String>,
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub ratio: Option<f64>,
}

/// Firing episodes of one kind and severity.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FiringCount {
    pub kind: String,
    pub severity: String,
    pub firing: i64,
}

/// One alert episode as the pages show it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AlertLine {
    pub account: String,
    pub kind: String,
    pub severity: String,
    pub sim_card_id: Option<SimCardId>,
    pub iccid: Option<String>,
    pub sim_pool_id: Option<PoolId>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

/// Everything `sim_cards` knows of one card that its page shows.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CardDetail {
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub cid: Option<String>,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    pub sim_type: Option<i32>,
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub sim_pool_id: Option<PoolId>,
    pub price_plan_name: Option<String>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub act_date: Option<DateTime<Utc>>,
    pub expire_time: Option<DateTime<Utc>>,
    pub tag_names: Option<String>,
    pub data_date: Option<NaiveDate>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

const CARD_LINE: &str = "SELECT account, sim_card_id, iccid, msisdn, price_plan_name, sim_status, \
    operator_status, flow_used_mb, flow_left_mb, \
    flow_used_mb / NULLIF(flow_used_mb + flow_left_mb, 0) AS ratio FROM sim_cards WHERE removed_at IS NULL";

const ALERT_LINE: &str =
    "account, kind, severity, sim_card_id, iccid, sim_pool_id, started_at, resolved_at, \
    value, threshold";

const CARD_DETAIL: &str = "SELECT account, sim_card_id, iccid, cid, msisdn, imsi, imei, sim_type, sim_status, \
    operator_status, sim_pool_id, price_plan_name, flow_used_mb, flow_left_mb, act_date, expire_time, tag_names, \
    data_date, first_seen_at, last_seen_at, removed_at FROM sim_cards";

impl Store {
    /// The latest run and last success of every (account, job) that ever ran.
    pub async fn job_health(&self) -> Result<Vec<JobHealth>> {
        Ok(sqlx::query_as::<_, JobHealth>(
            "SELECT DISTINCT ON (r.account, r.job) r.account, r.job, r.status AS last_status, \
                    r.started_at AS last_started_at, r.error AS last_error, s.finished_at AS last_success, \
                    EXTRACT(EPOCH FROM s.finished_at - s.started_at)::float8 AS success_duration_seconds \
             FROM sync_runs r \
             LEFT JOIN LATERAL (SELECT started_at, finished_at FROM sync_runs x \
                 WHERE x.account = r.account AND x.job = r.job AND x.status = 'succeeded' \
                 ORDER BY x.started_at DESC LIMIT 1) s ON true \
             ORDER BY r.account, r.job, r.started_at DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// When any run last finished: what a cache of `fleet_summary` is keyed by, since cards change only
    /// while a run writes them.
    pub async fn last_run_finished(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar("SELECT max(finished_at) FROM sync_runs")
            .fetch_one(self.pool())
            .await?)
    }

    /// Current cards by account and status: a scan of every card, so cache it.
    pub async fn fleet_summary(&self) -> Result<Vec<FleetGroup>> {
        Ok(sqlx::query_as::<_, FleetGroup>(
            "SELECT account, sim_status, operator_status, count(*) AS cards, max(data_date) AS data_as_of \
             FROM sim_cards WHERE removed_at IS NULL GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The `limit` current cards that used the most flow in their package.
    pub async fn top_consumers(&self, limit: i64) -> Result<Vec<CardLine>> {
        let sql = format!("{CARD_LINE} ORDER BY flow_used_mb DESC NULLS LAST LIMIT $1");
        Ok(sqlx::query_as::<_, CardLine>(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The `limit` current cards with the highest used / (used + left).
    pub async fn nearest_exhaustion(&self, limit: i64) -> Result<Vec<CardLine>> {
        let sql = format!(
            "{CARD_LINE} ORDER BY (flow_used_mb / NULLIF(flow_used_mb + flow_left_mb, 0)) DESC NULLS LAST \
             LIMIT $1"
        );
        Ok(sqlx::query_as::<_, CardLine>(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Firing episodes per kind and severity.
    pub async fn firing_counts(&self) -> Result<Vec<FiringCount>> {
        Ok(sqlx::query_as::<_, FiringCount>(
            "SELECT kind, severity, count(*) AS firing FROM alerts WHERE resolved_at IS NULL \
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The newest `per_kind` firing episodes of each of `kinds`.
    pub async fn newest_firing(&self, kinds: &[&str], per_kind: i64) -> Result<Vec<AlertLine>> {
        let sql = format!(
            "SELECT a.* FROM unnest($1::text[]) WITH ORDINALITY k(kind, ord) CROSS JOIN LATERAL ( \
                SELECT {ALERT_LINE} FROM alerts WHERE resolved_at IS NULL AND kind = k.kind \
                ORDER BY started_at DESC LIMIT $2) a ORDER BY k.ord, a.started_at DESC"
        );
        Ok(sqlx::query_as::<_, AlertLine>(sqlx::AssertSqlSafe(sql))
            .bind(kinds)
            .bind(per_kind)
            .fetch_all(self.pool())
            .await?)
    }

    /// One card's newest `limit` episodes, firing or resolved.
    pub async fn card_alerts(
        &self,
        account: &str,
        sim_card_id: SimCardId,
        limit: i64,
    ) -> Result<Vec<AlertLine>> {
        let sql = format!(
            "SELECT {ALERT_LINE} FROM alerts WHERE account = $1 AND sim_card_id = $2 \
             ORDER BY started_at DESC LIMIT $3"
        );
        Ok(sqlx::query_as::<_, AlertLine>(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .bind(sim_card_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The card with this ICCID, a current one before a removed one.
    pub async fn card_by_iccid(&self, iccid: &str) -> Result<Option<CardDetail>> {
        self.card_where("iccid = $1", iccid).await
    }

    /// A card by ICCID, then MSISDN, then sim_card_id: one indexed condition per query, since an OR of
    /// them would make the planner scan every card.
    pub async fn search_card(&self, q: &str) -> Result<Option<CardDetail>> {
        if let Some(c) = self.card_where("iccid = $1", q).await? {
            return Ok(Some(c));
        }
        if let Some(c) = self.card_where("msisdn = $1", q).await? {
            return Ok(Some(c));
        }
        match q.parse::<SimCardId>() {
            Ok(id) => {
                let sql = format!(
                    "{CARD_DETAIL} WHERE sim_card_id = $1 ORDER BY removed_at NULLS FIRST LIMIT 1"
                );
                Ok(sqlx::query_as::<_, CardDetail>(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?)
            }
            Err(_) => Ok(None),
        }
    }

    async fn card_where(&self, condition: &str, value: &str) -> Result<Option<CardDetail>> {
        let sql =
            format!("{CARD_DETAIL} WHERE {condition} ORDER BY removed_at NULLS FIRST LIMIT 1");
        Ok(sqlx::query_as::<_, CardDetail>(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(self.pool())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn seed(pool: &sqlx::PgPool) {
        sqlx::query(
            "INSERT INTO sim_cards (account, sim_card_id, iccid, msisdn, sim_status, operator_status, \
             flow_used_mb, flow_left_mb, data_date) VALUES \
             ('main', 1, '8986001', '1441001', 20, -1, 95, 5, '2026-11-30'), \
             ('main', 2, '8986002', '1441002', 20, -1, 500, 1500, '2026-11-30'), \
             ('main', 3, '8986003', NULL, 20, 1, 10, 0, '2026-11-29')",
        )
        .execute(pool)
        .await
        .unwrap();
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn top_lists_search_and_summary_read_current_cards(pool: sqlx::PgPool) {
        seed(&pool).await;
        let store = Store::from_pool(pool);
        let top: Vec<i64> = store
            .top_consumers(2)
            .await
            .unwrap()
            .iter()
            .map(|c| c.sim_card_id.get())
            .collect();
        assert_eq!(top, [2, 1]);
        let near = store.nearest_exhaustion(3).await.unwrap();
        assert_eq!(near[0].sim_card_id, 3.into());
        assert_eq!(near[1].ratio, Some(0.95));
        for (q, id) in [("8986002", 2), ("1441001", 1), ("3", 3)] {
            let found = store.search_card(q).await.unwrap().unwrap();
            assert_eq!(found.sim_card_id.get(), id, "{q}");
        }
        assert!(store.search_card("nope").await.unwrap().is_none());
        let summary = store.fleet_summary().await.unwrap();
        assert_eq!(summary.iter().map(|g| g.cards).sum::<i64>(), 3);
        assert_eq!(summary[0].data_as_of, NaiveDate::from_ymd_opt(2026, 11, 30));
    }
}
