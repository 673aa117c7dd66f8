//! Usage history: `sim_daily_flow` (per card and day) and `sim_monthly_usage` (per card and billing cycle).

use super::copy::CopyLine;
use super::rows::{DailyFlowRow, MergeStats, MonthlyUsageRow};
use super::staged::Staged;
use super::{Fence, Result, Store};

// `xmax` cannot be read back from a partitioned table, so inserts are told from updates by counting the keys
// that existed before: every part of one statement sees the same snapshot. The LATERAL ... LIMIT 1 keeps that
// count to one primary-key probe per staged key: a semi-join may otherwise hash a whole month's partition.
const MERGE_DAILY: &str = "WITH keys AS (SELECT DISTINCT sim_card_id, day FROM stage_daily_flow),
 existed AS (SELECT count(*) AS n FROM keys k, LATERAL (
               SELECT 1 FROM sim_daily_flow f WHERE f.account = $1 AND f.sim_card_id = k.sim_card_id AND f.day = k.day LIMIT 1) hit),
 merged AS (
   INSERT INTO sim_daily_flow AS f (account, sim_card_id, iccid, day, flow_mb)
   SELECT DISTINCT ON (sim_card_id, day) $1, sim_card_id, iccid, day, flow_mb FROM stage_daily_flow
   ORDER BY sim_card_id, day, ord DESC
   ON CONFLICT (account, sim_card_id, day) DO UPDATE
   SET flow_mb = EXCLUDED.flow_mb, iccid = EXCLUDED.iccid, fetched_at = now()
   WHERE (f.flow_mb, f.iccid) IS DISTINCT FROM (EXCLUDED.flow_mb, EXCLUDED.iccid)
   RETURNING 1)
 SELECT (SELECT count(*) FROM keys) - (SELECT n FROM existed),
        (SELECT count(*) FROM merged) - ((SELECT count(*) FROM keys) - (SELECT n FROM existed)),
        (SELECT count(*) FROM keys)";

// Re-sums the card-months the staged rows touched, from sim_daily_flow itself (so a rerun or a correction
// leaves the rollup exact); LATERAL keeps it to one primary-key range scan per card-month.
const ROLLUP_MONTHLY: &str = "INSERT INTO sim_flow_monthly AS m (account, sim_card_id, month, flow_mb, days, used_days)
   SELECT $1, k.sim_card_id, k.month, a.flow_mb, a.days, a.used_days
   FROM (SELECT DISTINCT sim_card_id, date_trunc('month', day)::date AS month FROM stage_daily_flow) k,
   LATERAL (SELECT coalesce(sum(f.flow_mb), 0) AS flow_mb, count(*)::int AS days,
                   (count(*) FILTER (WHERE f.flow_mb > 0))::int AS used_days
            FROM sim_daily_flow f
            WHERE f.account = $1 AND f.sim_card_id = k.sim_card_id
              AND f.day >= k.month AND f.day < (k.month + interval '1 month')::date) a
   ON CONFLICT (account, sim_card_id, month) DO UPDATE
   SET flow_mb = EXCLUDED.flow_mb, days = EXCLUDED.days, used_days = EXCLUDED.used_days
   WHERE (m.flow_mb, m.days, m.used_days) IS DISTINCT FROM (EXCLUDED.flow_mb, EXCLUDED.days, EXCLUDED.used_days)";

const MERGE_MONTHLY: &str = "WITH merged AS (
   INSERT INTO sim_monthly_usage AS m (account, sim_card_id, iccid, billing_cycle, flow_used_mb)
   SELECT DISTINCT ON (sim_card_id, billing_cycle) $1, sim_card_id, iccid, billing_cycle, flow_used_mb
   FROM stage_monthly ORDER BY sim_card_id, billing_cycle, ord DESC
   ON CONFLICT (account, sim_card_id, billing_cycle) DO UPDATE
   SET flow_used_mb = EXCLUDED.flow_used_mb, iccid = EXCLUDED.iccid, fetched_at = now()
   WHERE (m.flow_used_mb, m.iccid) IS DISTINCT FROM (EXCLUDED.flow_used_mb, EXCLUDED.iccid)
   RETURNING (xmax = 0) AS inserted)
 SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
        (SELECT count(*) FROM (SELECT DISTINCT sim_card_id, billing_cycle FROM stage_monthly) d) FROM merged";

impl Store {
    pub async fn merge_daily_flow(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[DailyFlowRow],
    ) -> Result<MergeStats> {
        let (Some(min), Some(max)) = (
            rows.iter().map(|r| r.day).min(),
            rows.iter().map(|r| r.day).max(),
        ) else {
            return Ok(MergeStats::default());
        };
        self.ensure_partitions(min, max).await?;
        let mut data = Vec::with_capacity(rows.len() * 48);
        for (ord, r) in rows.iter().enumerate() {
            CopyLine::new(&mut data)
                .field(&(ord as i64))
                .field(&r.sim_card_id)
                .field(&r.iccid)
                .field(&r.day)
                .field(&r.flow_mb)
                .end();
        }
        self.merge_staged(fence, account, Staged {
                create: "CREATE TEMP TABLE IF NOT EXISTS stage_daily_flow
                         (ord bigint, sim_card_id bigint, iccid text, day date, flow_mb double precision) ON COMMIT DELETE ROWS",
                copy: "COPY stage_daily_flow FROM STDIN",
                merge: MERGE_DAILY,
                then: &[ROLLUP_MONTHLY],
                run_id: None,
            }, data)
            .await
    }

    pub async fn merge_monthly_usage(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[MonthlyUsageRow],
    ) -> Result<MergeStats> {
        if rows.is_empty() {
            return Ok(MergeStats::default());
        }
        let mut data = Vec::with_capacity(rows.len() * 48);
        for (ord, r) in rows.iter().enumerate() {
            CopyLine::new(&mut data)
                .field(&(ord as i64))
                .field(&r.sim_card_id)
                .field(&r.iccid)
                .field(&r.billing_cycle)
                .field(&r.flow_used_mb)
                .end();
        }
        self.merge_staged(fence, account, Staged {
                create: "CREATE TEMP TABLE IF NOT EXISTS stage_monthly
                         (ord bigint, sim_card_id bigint, iccid text, billing_cycle date, flow_used_mb double precision) ON COMMIT DELETE ROWS",
                copy: "COPY stage_monthly FROM STDIN",
                merge: MERGE_MONTHLY,
                then: &[],
                run_id: None,
            }, data)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn row(id: i64, day: &str, mb: f64) -> DailyFlowRow {
        DailyFlowRow {
            sim_card_id: id.into(),
            iccid: Some(format!("8986{id:016}")),
            day: day.parse::<NaiveDate>().unwrap(),
            flow_mb: mb,
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn daily_flow_merge_is_idempotent_and_takes_corrections(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let f = Fence::unfenced();
        let rows = vec![
            row(1, "2026-10-31", 1.5),
            row(1, "2026-11-01", 2.0),
            row(2, "2026-11-01", 0.0),
        ];
        assert_eq!(
            store.merge_daily_flow(&f, "main", &rows).await.unwrap(),
            MergeStats {
                inserted: 3,
                updated: 0,
                unchanged: 0
            }
        );
        assert_eq!(
            store.merge_daily_flow(&f, "main", &rows).await.unwrap(),
            MergeStats {
                inserted: 0,
                updated: 0,
                unchanged: 3
            }
        );
        let corrected = vec![row(1, "2026-11-01", 2.5), row(1, "2026-11-01", 3.0)];
        assert_eq!(
            store
                .merge_daily_flow(&f, "main", &corrected)
                .await
                .unwrap(),
            MergeStats {
                inserted: 0,
                updated: 1,
                unchanged: 0
            }
        );
        let mb: f64 = sqlx::query_scalar(
            "SELECT flow_mb FROM sim_daily_flow WHERE sim_card_id = 1 AND day = '2026-11-01'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(mb, 3.0, "the last of duplicates wins");
        // The monthly rollup follows every merge, corrections included.
        store
            .merge_daily_flow(&f, "main", &[row(1, "2026-11-02", 4.0)])
            .await
            .unwrap();
        let rollup: Vec<(i64, NaiveDate, f64, i32, i32)> = sqlx::query_as(
            "SELECT sim_card_id, month, flow_mb, days, used_days FROM sim_flow_monthly ORDER BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let m = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            rollup,
            [
                (1, m("2026-10-01"), 1.5, 1, 1),
                (1, m("2026-11-01"), 7.0, 2, 2),
                (2, m("2026-11-01"), 0.0, 1, 0),
            ]
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn monthly_merge_is_idempotent(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let f = Fence::unfenced();
        let rows = vec![MonthlyUsageRow {
            sim_card_id: 1.into(),
            iccid: None,
            billing_cycle: "2026-10-01".parse().unwrap(),
            flow_used_mb: 12.5,
        }];
        assert_eq!(
            store
                .merge_monthly_usage(&f, "main", &rows)
                .await
                .unwrap()
                .inserted,
            1
        );
        assert_eq!(
            store.merge_monthly_usage(&f, "main", &rows).await.unwrap(),
            MergeStats {
                inserted: 0,
                updated: 0,
                unchanged: 1
            }
        );
    }
}
