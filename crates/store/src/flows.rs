//! Usage history: `sim_daily_flow` (per card and day) and `sim_monthly_usage` (per card and billing cycle).

use super::copy::CopyLine;
use super::rows::{DailyFlowRow, MergeStats, MonthlyUsageRow};
use super::staged::Staged;
use super::{Fence, Result, Store};

// Only rows that are new or differ are written: a nightly month refresh re-reads ~30 days per card of which
// one is new, so the merge costs one primary-key probe per unchanged row (the LATERAL ... LIMIT 1: a semi-join
// may hash a whole month's partition instead). Unchanged rows then leave the stage, so the rollups after
// re-sum only the card-months that changed. The old figures give the day totals exactly what changed.
// (`xmax` cannot be read back from a partitioned table; the probe also tells inserts from updates.)
const MERGE_DAILY: &str = "WITH staged AS (
   SELECT DISTINCT ON (sim_card_id, day) sim_card_id, iccid, day, flow_mb FROM stage_daily_flow
   ORDER BY sim_card_id, day, ord DESC),
 old AS (SELECT s.sim_card_id, s.day, hit.flow_mb, hit.iccid FROM staged s, LATERAL (
           SELECT f.flow_mb, f.iccid FROM sim_daily_flow f
           WHERE f.account = $1 AND f.sim_card_id = s.sim_card_id AND f.day = s.day LIMIT 1) hit),
 compared AS (
   SELECT s.sim_card_id, s.iccid, s.day, s.flow_mb, o.flow_mb AS old_mb, o.day IS NOT NULL AS existed,
          o.day IS NOT NULL AND (o.flow_mb, o.iccid) IS NOT DISTINCT FROM (s.flow_mb, s.iccid) AS same
   FROM staged s LEFT JOIN old o USING (sim_card_id, day)),
 merged AS (
   INSERT INTO sim_daily_flow AS f (account, sim_card_id, iccid, day, flow_mb)
   SELECT $1, sim_card_id, iccid, day, flow_mb FROM compared WHERE NOT same
   ON CONFLICT (account, sim_card_id, day) DO UPDATE
   SET flow_mb = EXCLUDED.flow_mb, iccid = EXCLUDED.iccid, fetched_at = now()
   WHERE (f.flow_mb, f.iccid) IS DISTINCT FROM (EXCLUDED.flow_mb, EXCLUDED.iccid)),
 totals AS (
   INSERT INTO sim_flow_day_totals AS t (account, day, flow_mb, cards)
   SELECT $1, day, sum(flow_mb::numeric - coalesce(old_mb, 0)::numeric), count(*) FILTER (WHERE NOT existed)
   FROM compared WHERE NOT existed OR old_mb IS DISTINCT FROM flow_mb
   GROUP BY day ORDER BY day
   ON CONFLICT (account, day) DO UPDATE SET flow_mb = t.flow_mb + EXCLUDED.flow_mb, cards = t.cards + EXCLUDED.cards),
 unchanged AS (
   DELETE FROM stage_daily_flow d USING compared c
   WHERE c.same AND d.sim_card_id = c.sim_card_id AND d.day = c.day)
 SELECT count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE existed AND NOT same), count(*) FROM compared";

// The day totals add up what each merge changed, so two merges of one account must not read the same old
// figures: they take turns (merges of one account are sequential anyway; this makes it a fact).
const DAILY_MERGES_TAKE_TURNS: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('gsl-sync daily flow ' || $1, 0))";

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

// The report row of each touched card-month takes the month's new sum as its own flow and as the previous
// month's flow of the month after. A row created here takes the card's grouping attributes as they are now;
// the trigger on sim_cards keeps them current afterwards.
const REPORT_FLOW: &str = "INSERT INTO sim_report_month AS r (account, sim_card_id, month, flow_mb, prev_flow_mb,
                                iccid, price_plan_name, sim_pool_id, tags)
   SELECT $1, x.sim_card_id, x.month, x.cur, x.prv, c.iccid, c.price_plan_name, c.sim_pool_id, coalesce(c.tags, '{}')
   FROM (SELECT k.sim_card_id, (k.month + s.months * interval '1 month')::date AS month,
                max(m.flow_mb) FILTER (WHERE s.months = 0) AS cur, max(m.flow_mb) FILTER (WHERE s.months = 1) AS prv
         FROM (SELECT DISTINCT sim_card_id, date_trunc('month', day)::date AS month FROM stage_daily_flow) k
         JOIN sim_flow_monthly m ON m.account = $1 AND m.sim_card_id = k.sim_card_id AND m.month = k.month
         CROSS JOIN (VALUES (0), (1)) s(months)
         GROUP BY 1, 2) x
   LEFT JOIN sim_cards c ON c.account = $1 AND c.sim_card_id = x.sim_card_id
   ORDER BY 2, 3
   ON CONFLICT (account, sim_card_id, month) DO UPDATE
   SET flow_mb = coalesce(EXCLUDED.flow_mb, r.flow_mb), prev_flow_mb = coalesce(EXCLUDED.prev_flow_mb, r.prev_flow_mb)
   WHERE (r.flow_mb, r.prev_flow_mb) IS DISTINCT FROM
         (coalesce(EXCLUDED.flow_mb, r.flow_mb), coalesce(EXCLUDED.prev_flow_mb, r.prev_flow_mb))";

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

// Month-usages' figure goes to the report row of its billing cycle (created with the card's attributes).
const REPORT_USED: &str = "INSERT INTO sim_report_month AS r (account, sim_card_id, month, used_mb,
                                iccid, price_plan_name, sim_pool_id, tags)
   SELECT $1, u.sim_card_id, u.billing_cycle, u.flow_used_mb, c.iccid, c.price_plan_name, c.sim_pool_id,
          coalesce(c.tags, '{}')
   FROM (SELECT DISTINCT ON (sim_card_id, billing_cycle) sim_card_id, billing_cycle, flow_used_mb
         FROM stage_monthly ORDER BY sim_card_id, billing_cycle, ord DESC) u
   LEFT JOIN sim_cards c ON c.account = $1 AND c.sim_card_id = u.sim_card_id
   ON CONFLICT (account, sim_card_id, month) DO UPDATE SET used_mb = EXCLUDED.used_mb
   WHERE r.used_mb IS DISTINCT FROM EXCLUDED.used_mb";

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
                before: &[DAILY_MERGES_TAKE_TURNS],
                merge: MERGE_DAILY,
                then: &[ROLLUP_MONTHLY, REPORT_FLOW],
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
                before: &[],
                merge: MERGE_MONTHLY,
                then: &[REPORT_USED],
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
            sim_card_id: id,
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
            sim_card_id: 1,
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
