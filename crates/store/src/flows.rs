//! Usage history: `sim_daily_flow` (per card and day) and `sim_monthly_usage` (per card and billing cycle).

use std::collections::HashMap;

use gsl_domain::SimCardId;

use chrono::{Datelike, NaiveDate};

use super::digest::digest_sql;
use super::digest::month_digest;
use super::rows::{DailyFlowRow, MergeStats, MonthlyUsageRow};
use super::staged::{Fill, Staged};
use super::{Fence, Result, Store};

// Only rows that are new or differ are written: ON CONFLICT would lock every row it meets, even one it leaves
// alone. Finding them costs one primary-key probe per row (the LATERAL ... LIMIT 1: a semi-join may hash a
// whole month's partition instead), which also tells inserts from updates (`xmax` cannot be read back from a
// partitioned table) and gives the day totals exactly what changed. Days the store already holds exactly
// are left out before this (`without_stored_days`), so a nightly month refresh probes only its new day.
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
   ON CONFLICT (account, day) DO UPDATE SET flow_mb = t.flow_mb + EXCLUDED.flow_mb, cards = t.cards + EXCLUDED.cards)
 SELECT count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE existed AND NOT same), count(*) FROM compared";

// The day totals add up what each merge changed, so two merges of one account must not read the same old
// figures: they take turns (merges of one account are sequential anyway; this makes it a fact).
const DAILY_MERGES_TAKE_TURNS: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('gsl-sync daily flow ' || $1, 0))";

// Re-sums the card-months the staged rows touched, from sim_daily_flow itself (so a rerun or a correction
// leaves the rollup exact); LATERAL keeps it to one primary-key range scan per card-month.
const ROLLUP_MONTHLY: &str = concat!(
    "INSERT INTO sim_flow_monthly AS m (account, sim_card_id, month, flow_mb, days, used_days, digest, through)
   SELECT $1, k.sim_card_id, k.month, a.flow_mb, a.days, a.used_days, a.digest, a.through
   FROM (SELECT DISTINCT sim_card_id, date_trunc('month', day)::date AS month FROM stage_daily_flow) k,
   LATERAL (SELECT coalesce(sum(f.flow_mb), 0) AS flow_mb, count(*)::int AS days,
                   (count(*) FILTER (WHERE f.flow_mb > 0))::int AS used_days, max(f.day) AS through, ",
    digest_sql!(),
    " AS digest
            FROM sim_daily_flow f
            WHERE f.account = $1 AND f.sim_card_id = k.sim_card_id
              AND f.day >= k.month AND f.day < (k.month + interval '1 month')::date) a
   ON CONFLICT (account, sim_card_id, month) DO UPDATE
   SET flow_mb = EXCLUDED.flow_mb, days = EXCLUDED.days, used_days = EXCLUDED.used_days,
       digest = EXCLUDED.digest, through = EXCLUDED.through
   WHERE (m.flow_mb, m.days, m.used_days, m.digest, m.through)
         IS DISTINCT FROM (EXCLUDED.flow_mb, EXCLUDED.days, EXCLUDED.used_days, EXCLUDED.digest, EXCLUDED.through)"
);

// The report row of each touched card-month takes the month's new sum as its own flow and as the previous
// month's flow of the month after. A row created here takes the card's grouping attributes as they are now;
// the trigger on sim_cards keeps them current afterwards.
const REPORT_FLOW: &str = "INSERT INTO sim_report_month AS r (account, sim_card_id, month, flow_mb, prev_flow_mb,
                                iccid, price_plan_name, sim_pool_id, tags, active)
   SELECT $1, x.sim_card_id, x.month, x.cur, x.prv, c.iccid, c.price_plan_name, c.sim_pool_id, coalesce(c.tags, '{}'),
          gsl_card_active(c.sim_status, c.removed_at)
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

// Figures the store already holds are left out before this (`without_stored_usages`: five of the six cycles
// a call returns are settled), so ON CONFLICT meets, and locks, only rows that change. What changed also goes
// to the report row of its billing cycle, created with the card's grouping attributes.
const MERGE_MONTHLY: &str = "WITH merged AS (
   INSERT INTO sim_monthly_usage AS m (account, sim_card_id, iccid, billing_cycle, flow_used_mb)
   SELECT DISTINCT ON (sim_card_id, billing_cycle) $1, sim_card_id, iccid, billing_cycle, flow_used_mb
   FROM stage_monthly ORDER BY sim_card_id, billing_cycle, ord DESC
   ON CONFLICT (account, sim_card_id, billing_cycle) DO UPDATE
   SET flow_used_mb = EXCLUDED.flow_used_mb, iccid = EXCLUDED.iccid, fetched_at = now()
   WHERE (m.flow_used_mb, m.iccid) IS DISTINCT FROM (EXCLUDED.flow_used_mb, EXCLUDED.iccid)
   RETURNING sim_card_id, billing_cycle, flow_used_mb, (xmax = 0) AS inserted),
 report AS (
   INSERT INTO sim_report_month AS r (account, sim_card_id, month, used_mb, iccid, price_plan_name, sim_pool_id, tags,
                                      active)
   SELECT $1, u.sim_card_id, u.billing_cycle, u.flow_used_mb, c.iccid, c.price_plan_name, c.sim_pool_id,
          coalesce(c.tags, '{}'), gsl_card_active(c.sim_status, c.removed_at)
   FROM merged u LEFT JOIN sim_cards c ON c.account = $1 AND c.sim_card_id = u.sim_card_id
   ORDER BY 2, 3
   ON CONFLICT (account, sim_card_id, month) DO UPDATE SET used_mb = EXCLUDED.used_mb
   WHERE r.used_mb IS DISTINCT FROM EXCLUDED.used_mb)
 SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
        (SELECT count(*) FROM (SELECT DISTINCT sim_card_id, billing_cycle FROM stage_monthly) d) FROM merged";

/// Per (card, billing cycle): the stored figure and ICCID.
type StoredUsages = HashMap<(SimCardId, NaiveDate), (f64, Option<String>)>;

/// `rows` without the figures the store already holds, and how many distinct (card, cycle) keys those were.
/// A repeated key is decided by its last row, as in the merge.
fn without_stored_usages(
    rows: &[MonthlyUsageRow],
    stored: &StoredUsages,
) -> (Vec<MonthlyUsageRow>, u64) {
    let mut last: HashMap<(SimCardId, NaiveDate), &MonthlyUsageRow> =
        HashMap::with_capacity(rows.len());
    for r in rows {
        last.insert((r.sim_card_id, r.billing_cycle), r);
    }
    let held: std::collections::HashSet<(SimCardId, NaiveDate)> = last
        .iter()
        .filter(|(key, r)| {
            stored
                .get(key)
                .is_some_and(|(mb, iccid)| *mb == r.flow_used_mb && *iccid == r.iccid)
        })
        .map(|(key, _)| *key)
        .collect();
    let kept = rows
        .iter()
        .filter(|r| !held.contains(&(r.sim_card_id, r.billing_cycle)))
        .cloned()
        .collect();
    (kept, held.len() as u64)
}

/// Per (card, month): the stored digest, row count and last day.
type StoredMonths = HashMap<(SimCardId, NaiveDate), (i64, i32, NaiveDate)>;

/// The values once each, for an `= ANY($n)` bind.
fn distinct<T: Ord>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = values.collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// `rows` without the days of card-months the store already holds exactly (the same days up to its last
/// stored one, with the same digest), and how many distinct (card, day) keys were left out. The last row of
/// a repeated (card, day) is the one that counts, as in the merge.
fn without_stored_days(rows: &[DailyFlowRow], stored: &StoredMonths) -> (Vec<DailyFlowRow>, u64) {
    // Only days up to the stored card-month's last day can be held already.
    let held_day = |id: SimCardId, day: NaiveDate| {
        stored.get(&(id, month_of(day))).is_some_and(|s| day <= s.2)
    };
    let mut last: HashMap<(SimCardId, NaiveDate), f64> = HashMap::with_capacity(rows.len());
    for r in rows.iter().filter(|r| held_day(r.sim_card_id, r.day)) {
        last.insert((r.sim_card_id, r.day), r.flow_mb);
    }
    let mut answered: HashMap<(SimCardId, NaiveDate), Vec<(NaiveDate, f64)>> = HashMap::new();
    for (&(id, day), &mb) in &last {
        answered
            .entry((id, month_of(day)))
            .or_default()
            .push((day, mb));
    }
    let same: std::collections::HashSet<(SimCardId, NaiveDate)> = answered
        .into_iter()
        .filter(|(key, days)| {
            let (digest, count, _) = stored[key];
            days.len() as i64 == i64::from(count) && month_digest(days.iter().copied()) == digest
        })
        .map(|(key, _)| key)
        .collect();
    let is_held =
        |id: SimCardId, day: NaiveDate| held_day(id, day) && same.contains(&(id, month_of(day)));
    let left_out = last.keys().filter(|(id, day)| is_held(*id, *day)).count() as u64;
    let kept = rows
        .iter()
        .filter(|r| !is_held(r.sim_card_id, r.day))
        .cloned()
        .collect();
    (kept, left_out)
}

impl Store {
    pub async fn merge_daily_flow(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[DailyFlowRow],
    ) -> Result<MergeStats> {
        let stored = self.stored_months(account, rows).await?;
        let (rows, already_stored) = without_stored_days(rows, &stored);
        let mut stats = self.merge_new_daily_flow(fence, account, &rows).await?;
        stats.unchanged += already_stored;
        Ok(stats)
    }

    /// The digest, row count and last day stored for each card-month `rows` touch.
    async fn stored_months(&self, account: &str, rows: &[DailyFlowRow]) -> Result<StoredMonths> {
        let ids = distinct(rows.iter().map(|r| r.sim_card_id));
        let months = distinct(rows.iter().map(|r| month_of(r.day)));
        if ids.is_empty() {
            return Ok(StoredMonths::new());
        }
        let found: Vec<(SimCardId, NaiveDate, i64, i32, NaiveDate)> = sqlx::query_as(
            "SELECT sim_card_id, month, digest, days, through FROM sim_flow_monthly
             WHERE account = $1 AND sim_card_id = ANY($2) AND month = ANY($3)
               AND digest IS NOT NULL AND through IS NOT NULL",
        )
        .bind(account)
        .bind(&ids)
        .bind(&months)
        .fetch_all(self.pool())
        .await?;
        Ok(found
            .into_iter()
            .map(|(id, month, digest, days, through)| ((id, month), (digest, days, through)))
            .collect())
    }

    async fn merge_new_daily_flow(
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
        let ord: Vec<i64> = (0..rows.len() as i64).collect();
        let ids: Vec<SimCardId> = rows.iter().map(|r| r.sim_card_id).collect();
        let iccids: Vec<Option<&str>> = rows.iter().map(|r| r.iccid.as_deref()).collect();
        let days: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.day).collect();
        let mbs: Vec<f64> = rows.iter().map(|r| r.flow_mb).collect();
        let fill = sqlx::query(
            "INSERT INTO stage_daily_flow SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::date[], $5::float8[])",
        )
        .bind(&ord)
        .bind(&ids)
        .bind(&iccids)
        .bind(&days)
        .bind(&mbs);
        self.merge_staged(fence, account, Staged {
                create: "CREATE TEMP TABLE IF NOT EXISTS stage_daily_flow
                         (ord bigint, sim_card_id bigint, iccid text, day date, flow_mb double precision) ON COMMIT DELETE ROWS",
                before: &[DAILY_MERGES_TAKE_TURNS],
                merge: MERGE_DAILY,
                then: &[ROLLUP_MONTHLY, REPORT_FLOW],
                run_id: None,
            }, Fill::Insert(fill))
            .await
    }

    pub async fn merge_monthly_usage(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[MonthlyUsageRow],
    ) -> Result<MergeStats> {
        let stored = self.stored_usages(account, rows).await?;
        let (rows, already_stored) = without_stored_usages(rows, &stored);
        let mut stats = self.merge_new_monthly_usage(fence, account, &rows).await?;
        stats.unchanged += already_stored;
        Ok(stats)
    }

    /// What the store holds for the (card, cycle) pairs `rows` name.
    async fn stored_usages(&self, account: &str, rows: &[MonthlyUsageRow]) -> Result<StoredUsages> {
        if rows.is_empty() {
            return Ok(StoredUsages::new());
        }
        let ids = distinct(rows.iter().map(|r| r.sim_card_id));
        let cycles = distinct(rows.iter().map(|r| r.billing_cycle));
        let found: Vec<(SimCardId, NaiveDate, f64, Option<String>)> = sqlx::query_as(
            "SELECT sim_card_id, billing_cycle, flow_used_mb, iccid FROM sim_monthly_usage
             WHERE account = $1 AND sim_card_id = ANY($2) AND billing_cycle = ANY($3)",
        )
        .bind(account)
        .bind(&ids)
        .bind(&cycles)
        .fetch_all(self.pool())
        .await?;
        Ok(found
            .into_iter()
            .map(|(id, cycle, mb, iccid)| ((id, cycle), (mb, iccid)))
            .collect())
    }

    async fn merge_new_monthly_usage(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[MonthlyUsageRow],
    ) -> Result<MergeStats> {
        if rows.is_empty() {
            return Ok(MergeStats::default());
        }
        let ord: Vec<i64> = (0..rows.len() as i64).collect();
        let ids: Vec<SimCardId> = rows.iter().map(|r| r.sim_card_id).collect();
        let iccids: Vec<Option<&str>> = rows.iter().map(|r| r.iccid.as_deref()).collect();
        let cycles: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.billing_cycle).collect();
        let mbs: Vec<f64> = rows.iter().map(|r| r.flow_used_mb).collect();
        let fill = sqlx::query(
            "INSERT INTO stage_monthly SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::date[], $5::float8[])",
        )
        .bind(&ord)
        .bind(&ids)
        .bind(&iccids)
        .bind(&cycles)
        .bind(&mbs);
        self.merge_staged(fence, account, Staged {
                create: "CREATE TEMP TABLE IF NOT EXISTS stage_monthly
                         (ord bigint, sim_card_id bigint, iccid text, billing_cycle date, flow_used_mb double precision) ON COMMIT DELETE ROWS",
                before: &[],
                merge: MERGE_MONTHLY,
                then: &[],
                run_id: None,
            }, Fill::Insert(fill))
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

    #[test]
    fn only_days_of_a_card_month_held_exactly_are_left_out() {
        let held = [row(1, "2026-11-01", 1.0), row(1, "2026-11-02", 2.0)];
        let digest = month_digest(held.iter().map(|r| (r.day, r.flow_mb)));
        let m = "2026-11-01".parse::<NaiveDate>().unwrap();
        let stored: StoredMonths = [((SimCardId::from(1), m), (digest, 2, held[1].day))].into();
        // The refresh brings the two held days and a new one: only the new one is kept.
        let mut refresh = held.to_vec();
        refresh.push(row(1, "2026-11-03", 3.0));
        refresh.push(row(2, "2026-11-01", 9.0));
        let (kept, left_out) = without_stored_days(&refresh, &stored);
        assert_eq!(kept, [row(1, "2026-11-03", 3.0), row(2, "2026-11-01", 9.0)]);
        assert_eq!(left_out, 2);
        // A correction of a held day keeps the whole card-month; so does a held day gone missing.
        let corrected = [row(1, "2026-11-01", 1.5), row(1, "2026-11-02", 2.0)];
        assert_eq!(
            without_stored_days(&corrected, &stored),
            (corrected.to_vec(), 0)
        );
        let partial = [row(1, "2026-11-02", 2.0)];
        assert_eq!(
            without_stored_days(&partial, &stored),
            (partial.to_vec(), 0)
        );
        // The last of repeated rows counts, as in the merge.
        let repeated = [row(1, "2026-11-01", 7.0), held[0].clone(), held[1].clone()];
        assert_eq!(without_stored_days(&repeated, &stored).1, 2);
    }

    /// month, flow, previous month's flow, month-usages, plan.
    type ReportRow = (
        NaiveDate,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<String>,
    );

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_month_refresh_writes_its_new_day_and_keeps_the_rollups(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let f = Fence::unfenced();
        sqlx::query("INSERT INTO sim_cards (account, sim_card_id, iccid, price_plan_name) VALUES ('main', 1, 'X1', 'A')")
            .execute(&pool)
            .await
            .unwrap();
        let oct = [row(1, "2026-10-30", 4.0), row(1, "2026-10-31", 1.0)];
        store.merge_daily_flow(&f, "main", &oct).await.unwrap();
        let nov = [row(1, "2026-11-01", 1.0), row(1, "2026-11-02", 2.0)];
        store.merge_daily_flow(&f, "main", &nov).await.unwrap();
        let mut refresh = nov.to_vec();
        refresh.push(row(1, "2026-11-03", 3.0));
        assert_eq!(
            store.merge_daily_flow(&f, "main", &refresh).await.unwrap(),
            MergeStats {
                inserted: 1,
                updated: 0,
                unchanged: 2
            }
        );
        let corrected = [
            row(1, "2026-11-01", 1.5),
            row(1, "2026-11-02", 2.0),
            row(1, "2026-11-03", 3.0),
        ];
        assert_eq!(
            store
                .merge_daily_flow(&f, "main", &corrected)
                .await
                .unwrap()
                .updated,
            1
        );
        store
            .merge_monthly_usage(
                &f,
                "main",
                &[MonthlyUsageRow {
                    sim_card_id: 1.into(),
                    iccid: None,
                    billing_cycle: "2026-11-01".parse().unwrap(),
                    flow_used_mb: 6.6,
                }],
            )
            .await
            .unwrap();
        let report: Vec<ReportRow> = sqlx::query_as(
            "SELECT month, flow_mb, prev_flow_mb, used_mb, price_plan_name FROM sim_report_month ORDER BY month",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let m = |s: &str| s.parse::<NaiveDate>().unwrap();
        let a = Some("A".to_string());
        assert_eq!(
            report,
            [
                (m("2026-10-01"), Some(5.0), None, None, a.clone()),
                (m("2026-11-01"), Some(6.5), Some(5.0), Some(6.6), a.clone()),
                (m("2026-12-01"), None, Some(6.5), None, a),
            ]
        );
        let days: Vec<(NaiveDate, f64, i64)> = sqlx::query_as(
            "SELECT day, flow_mb::float8, cards FROM sim_flow_day_totals ORDER BY day",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(days[2], (m("2026-11-01"), 1.5, 1), "{days:?}");
        assert_eq!(days.len(), 5);
        // A card's new plan moves its report rows with it.
        sqlx::query("UPDATE sim_cards SET price_plan_name = 'B' WHERE sim_card_id = 1")
            .execute(&pool)
            .await
            .unwrap();
        let plans: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT price_plan_name FROM sim_report_month")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(plans, ["B"]);
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
