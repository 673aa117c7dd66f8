//! The real-time watch's SQL: real-time figures (the latest per card in `sim_realtime_usage`, the last days
//! in `sim_realtime_history`, pruned in the same write) and the watchlist (`watch_cards`).
//!
//! A card's *freshest* figures are the real-time ones when they were checked on a later day than the
//! nightly figures are "as of" (`usage_day > sim_cards.data_date`, see `FRESHEST`), else the nightly ones:
//! the alert rules (`alerts::CARD_RATIOS`) and the watchlist read them the same way.
//!
//! The watchlist is rebuilt from the whole account once per finished job (ratio, the alert rules' own
//! recent-rate projection, open anomaly episodes, cards named in config); a round of checks only re-ranks
//! it from the latest figures, which touches the watched cards and nothing else.

use chrono::{DateTime, NaiveDate, Utc};
use gsl_domain::SimCardId;
use sqlx::Row;

use super::alerts::RECENT_RATE;
use super::{Fence, Result, Store};

/// Days of real-time history kept per card.
pub const HISTORY_DAYS: i64 = 7;

/// The freshest used/left of card `c` with its real-time row `r` (LEFT JOINed): `r`'s when it was checked
/// on a later day than `c`'s figures are as of, or on that very day and shows more used (then `c` holds
/// figures labelled a day newer than they are: a card list read just after midnight, before the carrier's
/// cutoff moved). Within a cycle usage only grows, so the freshest figure is never the smaller one.
pub(crate) const FRESHEST: &str = "
    SELECT f.realtime,
           CASE WHEN f.realtime THEN r.flow_used_mb ELSE c.flow_used_mb END AS used,
           CASE WHEN f.realtime THEN r.flow_left_mb ELSE c.flow_left_mb END AS left_mb
    FROM (SELECT (r.flow_used_mb IS NOT NULL AND r.flow_left_mb IS NOT NULL
                  AND (r.usage_day > c.data_date
                       OR (r.usage_day = c.data_date AND r.flow_used_mb > c.flow_used_mb))) IS TRUE
                 AS realtime) f";

/// One real-time check of one card.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RealtimeRow {
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub checked_at: DateTime<Utc>,
    /// The check's calendar day in `sync.timezone`.
    pub usage_day: NaiveDate,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub flow_total_mb: Option<f64>,
}

/// What decides who is watched.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchParams {
    /// The newest usage day (yesterday), as the alert rules use it.
    pub as_of: NaiveDate,
    pub ratio: f64,
    pub days: f64,
    /// The alert rules' `projection_window_days`: the same recent rate as `GslSimExhaustionProjected`.
    pub window_days: i32,
    pub iccids: Vec<String>,
}

/// A watched card due for a check, most urgent first.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DueCard {
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub days_left: Option<f64>,
    /// The usage ratio of its freshest figures before this check.
    pub ratio: Option<f64>,
}

/// A watched card with its latest real-time figures, for the status page and /metrics.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WatchedCard {
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub reasons: Vec<String>,
    pub daily_rate_mb: Option<f64>,
    pub checked_at: Option<DateTime<Utc>>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub days_left: Option<f64>,
}

const UPSERT_LATEST: &str = "
INSERT INTO sim_realtime_usage AS u (account, sim_card_id, iccid, checked_at, usage_day, flow_used_mb,
                                     flow_left_mb, flow_total_mb)
SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::date[], $6::float8[],
                         $7::float8[], $8::float8[])
ON CONFLICT (account, sim_card_id) DO UPDATE
SET iccid = EXCLUDED.iccid, checked_at = EXCLUDED.checked_at, usage_day = EXCLUDED.usage_day,
    flow_used_mb = EXCLUDED.flow_used_mb, flow_left_mb = EXCLUDED.flow_left_mb,
    flow_total_mb = EXCLUDED.flow_total_mb
WHERE EXCLUDED.checked_at > u.checked_at";

const INSERT_HISTORY: &str = "
INSERT INTO sim_realtime_history (account, sim_card_id, checked_at, flow_used_mb, flow_left_mb)
SELECT $1, * FROM unnest($2::bigint[], $3::timestamptz[], $4::float8[], $5::float8[])
ON CONFLICT DO NOTHING";

const REBUILD: &str = "
INSERT INTO watch_cards (account, sim_card_id, iccid, reasons, daily_rate_mb, listed_at)
SELECT $3, f.sim_card_id, f.iccid, f.reasons, f.rate, $7
FROM (
    SELECT c.sim_card_id, c.iccid, rate.rate,
           array_remove(ARRAY[
               CASE WHEN x.used >= 0 AND x.left_mb >= 0 AND x.used + x.left_mb > 0
                         AND x.used / (x.used + x.left_mb) >= $4 THEN 'ratio' END,
               CASE WHEN rate.rate > 0 AND greatest(x.left_mb, 0) / rate.rate <= $5 THEN 'projection' END,
               CASE WHEN an.sim_card_id IS NOT NULL THEN 'anomaly' END,
               CASE WHEN c.iccid = ANY($6) THEN 'config' END
           ], NULL) AS reasons
    FROM sim_cards c
    LEFT JOIN sim_realtime_usage r ON r.account = c.account AND r.sim_card_id = c.sim_card_id
    CROSS JOIN LATERAL (FRESHEST) x
    LEFT JOIN (RECENT_RATE) rate ON rate.account = c.account AND rate.sim_card_id = c.sim_card_id
    LEFT JOIN (SELECT DISTINCT account, sim_card_id FROM alerts
               WHERE kind = 'GslSimUsageAnomaly' AND resolved_at IS NULL) an
      ON an.account = c.account AND an.sim_card_id = c.sim_card_id
    WHERE c.account = $3 AND c.removed_at IS NULL
) f
WHERE cardinality(f.reasons) > 0";

// Cards already out of flow have nothing left to find out until the cycle resets (the nightly figures see
// that), so only the ones named in config are re-checked.
const DUE: &str = "
SELECT w.sim_card_id, w.iccid,
       CASE WHEN w.daily_rate_mb > 0 THEN greatest(x.left_mb, 0) / w.daily_rate_mb END AS days_left,
       CASE WHEN x.used >= 0 AND x.left_mb >= 0 AND x.used + x.left_mb > 0
            THEN x.used / (x.used + x.left_mb) END AS ratio
FROM watch_cards w
JOIN sim_cards c ON c.account = w.account AND c.sim_card_id = w.sim_card_id AND c.removed_at IS NULL
LEFT JOIN sim_realtime_usage r ON r.account = w.account AND r.sim_card_id = w.sim_card_id
CROSS JOIN LATERAL (FRESHEST) x
WHERE w.account = $1 AND (r.checked_at IS NULL OR r.checked_at <= $2)
  AND (x.left_mb IS NULL OR x.left_mb > 0 OR 'config' = ANY(w.reasons))
ORDER BY days_left ASC NULLS LAST, ratio DESC NULLS LAST, w.sim_card_id
LIMIT $3";

const WATCHED: &str = "
SELECT w.account, w.sim_card_id, w.iccid, w.reasons, w.daily_rate_mb, r.checked_at,
       r.flow_used_mb, r.flow_left_mb,
       CASE WHEN w.daily_rate_mb > 0 THEN greatest(x.left_mb, 0) / w.daily_rate_mb END AS days_left
FROM watch_cards w
LEFT JOIN sim_cards c ON c.account = w.account AND c.sim_card_id = w.sim_card_id
LEFT JOIN sim_realtime_usage r ON r.account = w.account AND r.sim_card_id = w.sim_card_id
CROSS JOIN LATERAL (FRESHEST) x
WHERE ($1::text IS NULL OR w.account = $1)
ORDER BY days_left ASC NULLS LAST, w.account, w.sim_card_id
LIMIT $2";

fn sql(template: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(
        template
            .replace("(FRESHEST)", &format!("({FRESHEST})"))
            .replace("(RECENT_RATE)", &format!("({RECENT_RATE})")),
    )
}

impl Store {
    /// Stores a round of checks: each card's latest figure (an older one never replaces a newer), its
    /// history, and drops history older than `HISTORY_DAYS` before `now`, in one fenced transaction.
    pub async fn record_realtime(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[RealtimeRow],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        let ids: Vec<SimCardId> = rows.iter().map(|r| r.sim_card_id).collect();
        let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.checked_at).collect();
        let used: Vec<Option<f64>> = rows.iter().map(|r| r.flow_used_mb).collect();
        let left: Vec<Option<f64>> = rows.iter().map(|r| r.flow_left_mb).collect();
        sqlx::query(UPSERT_LATEST)
            .bind(account)
            .bind(&ids)
            .bind(rows.iter().map(|r| r.iccid.clone()).collect::<Vec<_>>())
            .bind(&at)
            .bind(rows.iter().map(|r| r.usage_day).collect::<Vec<_>>())
            .bind(&used)
            .bind(&left)
            .bind(rows.iter().map(|r| r.flow_total_mb).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        sqlx::query(INSERT_HISTORY)
            .bind(account)
            .bind(&ids)
            .bind(&at)
            .bind(&used)
            .bind(&left)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sim_realtime_history WHERE account = $1 AND checked_at < $2")
            .bind(account)
            .bind(now - chrono::Duration::days(HISTORY_DAYS))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rebuilds the account's watchlist from the whole fleet; returns how many cards it holds.
    pub async fn rebuild_watchlist(
        &self,
        fence: &Fence,
        account: &str,
        p: &WatchParams,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        // A fleet-wide, set-based statement: hash joins are always right here, and a nested loop over the
        // recent-rate aggregate (what the planner picks for tables without statistics yet, e.g. while the
        // first night loads them) takes minutes and holds back the jobs' partition DDL meanwhile.
        sqlx::query("SET LOCAL enable_nestloop = off")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM watch_cards WHERE account = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(sql(REBUILD))
            .bind(p.as_of)
            .bind(p.window_days.max(1))
            .bind(account)
            .bind(p.ratio)
            .bind(p.days)
            .bind(&p.iccids)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Up to `limit` watched cards not checked since `checked_before`, most urgent (fewest days left) first.
    pub async fn due_watch_cards(
        &self,
        account: &str,
        checked_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueCard>> {
        Ok(sqlx::query_as(sql(DUE))
            .bind(account)
            .bind(checked_before)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Watched cards with their latest real-time figures (of one account, or all), most urgent first.
    pub async fn watched_cards(
        &self,
        account: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WatchedCard>> {
        Ok(sqlx::query_as(sql(WATCHED))
            .bind(account)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Cards on each account's watchlist.
    pub async fn watch_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT account, count(*) AS n FROM watch_cards GROUP BY account ORDER BY account",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("account")?, r.try_get("n")?)))
            .collect()
    }

    /// The latest real-time figure of one card, if it was ever checked.
    pub async fn card_realtime(
        &self,
        account: &str,
        sim_card_id: SimCardId,
    ) -> Result<Option<RealtimeRow>> {
        Ok(sqlx::query_as(
            "SELECT sim_card_id, iccid, checked_at, usage_day, flow_used_mb, flow_left_mb, flow_total_mb \
             FROM sim_realtime_usage WHERE account = $1 AND sim_card_id = $2",
        )
        .bind(account)
        .bind(sim_card_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// When the account's latest successful run finished: the watch rebuilds its list after each one.
    pub async fn last_success_of_any_job(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT max(finished_at) FROM sync_runs WHERE account = $1 AND status = 'succeeded'",
        )
        .bind(account)
        .fetch_one(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    async fn card(store: &Store, id: i64, used: f64, left: f64) {
        sqlx::query(
            "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, data_date) \
             VALUES ('main', $1, $2, $3, $4, '2026-11-19')",
        )
        .bind(id)
        .bind(format!("ICC{id}"))
        .bind(used)
        .bind(left)
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn daily(store: &Store, id: i64, mb: f64) {
        store
            .ensure_partitions(day("2026-11-01"), day("2026-11-30"))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO sim_daily_flow (account, sim_card_id, day, flow_mb) \
             SELECT 'main', $1, d::date, $2 FROM generate_series('2026-11-13'::date, '2026-11-19', '1 day') d",
        )
        .bind(id)
        .bind(mb)
        .execute(store.pool())
        .await
        .unwrap();
    }

    fn check(id: i64, h: u32, used: f64, left: f64) -> RealtimeRow {
        RealtimeRow {
            sim_card_id: id.into(),
            iccid: Some(format!("ICC{id}")),
            checked_at: at(h),
            usage_day: day("2026-11-20"),
            flow_used_mb: Some(used),
            flow_left_mb: Some(left),
            flow_total_mb: Some(used + left),
        }
    }

    fn params() -> WatchParams {
        WatchParams {
            as_of: day("2026-11-19"),
            ratio: 0.7,
            days: 3.0,
            window_days: 7,
            iccids: vec!["ICC5".into()],
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn the_watchlist_holds_each_reason_most_urgent_first(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let fence = Fence::unfenced();
        card(&store, 1, 75.0, 25.0).await; // ratio
        card(&store, 2, 10.0, 90.0).await; // projection: 90 MB left at 40 MB a day
        daily(&store, 2, 40.0).await;
        card(&store, 3, 10.0, 90.0).await; // neither
        daily(&store, 3, 1.0).await;
        card(&store, 4, 10.0, 90.0).await; // an open anomaly episode
        sqlx::query(
            "INSERT INTO alerts (account, kind, severity, sim_card_id, subject, started_at, details) \
             VALUES ('main', 'GslSimUsageAnomaly', 'warning', 4, 'sim:4', now(), '{}')",
        )
        .execute(store.pool())
        .await
        .unwrap();
        card(&store, 5, 0.0, 100.0).await; // named in config
        card(&store, 6, 100.0, 0.0).await; // out of flow: listed, never due
        let n = store
            .rebuild_watchlist(&fence, "main", &params(), at(1))
            .await
            .unwrap();
        assert_eq!(n, 5);
        let due = store.due_watch_cards("main", at(2), 100).await.unwrap();
        let ids: Vec<i64> = due.iter().map(|d| d.sim_card_id.get()).collect();
        // Card 2 runs out in 2.25 days; the others have no recent rate and follow by ratio.
        assert_eq!(ids, vec![2, 1, 4, 5]);
        assert_eq!(due[0].days_left, Some(90.0 / 40.0));
        let counts = store.watch_counts().await.unwrap();
        assert_eq!(counts, vec![("main".to_owned(), 5)]);
        // Rebuilt, not added to.
        store
            .rebuild_watchlist(&fence, "main", &params(), at(1))
            .await
            .unwrap();
        assert_eq!(store.watch_counts().await.unwrap()[0].1, 5);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn checks_keep_the_latest_figure_bounded_history_and_leave_the_due_list(
        pool: sqlx::PgPool,
    ) {
        let store = Store::from_pool(pool);
        let fence = Fence::unfenced();
        card(&store, 1, 75.0, 25.0).await;
        card(&store, 2, 72.0, 28.0).await;
        store
            .rebuild_watchlist(&fence, "main", &params(), at(1))
            .await
            .unwrap();
        store
            .record_realtime(&fence, "main", &[check(1, 3, 80.0, 20.0)], at(3))
            .await
            .unwrap();
        // An older figure arriving late does not replace the newer one.
        store
            .record_realtime(&fence, "main", &[check(1, 2, 78.0, 22.0)], at(3))
            .await
            .unwrap();
        let latest = store
            .card_realtime("main", 1.into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (latest.checked_at, latest.flow_used_mb),
            (at(3), Some(80.0))
        );
        // Checked at 03:00: not due for a check "not since 02:00", due for "not since 04:00".
        let due = |h| {
            let store = store.clone();
            async move {
                let d = store.due_watch_cards("main", at(h), 10).await.unwrap();
                d.into_iter()
                    .map(|c| c.sim_card_id.get())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(due(2).await, vec![2]);
        assert_eq!(due(4).await, vec![1, 2], "fresher 80 % ranks card 1 first");
        let watched = store.watched_cards(None, 10).await.unwrap();
        assert_eq!(watched[0].flow_used_mb, Some(80.0));
        // History: a week later the first checks are pruned by the next write.
        let later = at(3) + chrono::Duration::days(HISTORY_DAYS) + chrono::Duration::hours(1);
        let mut next = check(2, 0, 90.0, 10.0);
        next.checked_at = later;
        store
            .record_realtime(&fence, "main", &[next], later)
            .await
            .unwrap();
        let kept: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT sim_card_id, checked_at FROM sim_realtime_history ORDER BY 1, 2",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(kept, vec![(2, later)]);
    }
}
