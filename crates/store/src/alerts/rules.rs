//! The rule queries. Each rule is one statement over the whole fleet. The card rules read `sim_cards` in two
//! passes on two connections at once, beside the usage-anomaly rule on a third, all on one snapshot: at a
//! million cards each pass is a core's work, and a temporary table of every card (read by one connection
//! only) used to put them all on one core, after writing and analysing a million rows.

use chrono::{Datelike, NaiveDate};
use gsl_domain::SimCardId;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{FromRow, Postgres, Transaction};

use super::{OverrideRow, RuleParams};
use crate::{Result, Store};

type PgQuery = Query<'static, Postgres, PgArguments>;

/// A card's current figures and thresholds, one row per current card, `$1`/`$2` the global warning and
/// critical ratios. `ratio` is NULL where the figures make none (negative, or nothing used of nothing), which
/// no ratio rule matches. The freshest figures win (`realtime::FRESHEST`): a real-time check from a day after
/// the nightly figures' cutoff fires a quota rule first; the next night's figures (the day's whole usage,
/// never less) then keep the same episode open. `source` says which one the row holds.
const CARD_FIGURES: &str = "
SELECT c.account, c.sim_card_id, c.iccid, c.data_date, c.operator_status,
       x.used, x.left_mb,
       CASE WHEN x.used >= 0 AND x.left_mb >= 0 AND x.used + x.left_mb > 0 THEN x.used / (x.used + x.left_mb) END
           AS ratio,
       CASE WHEN x.realtime THEN 'realtime' ELSE 'nightly' END AS source,
       CASE WHEN x.realtime THEN r.checked_at END AS checked_at,
       coalesce(t.warning, $1) AS warn, coalesce(t.critical, $2) AS crit
FROM sim_cards c
LEFT JOIN sim_realtime_usage r ON r.account = c.account AND r.sim_card_id = c.sim_card_id
CROSS JOIN LATERAL (FRESHEST) x
LEFT JOIN LATERAL (THRESHOLDS) t ON true
WHERE c.removed_at IS NULL";

/// The configured overrides as rows, bound from six arrays starting at parameter `$N`.
const OVERRIDES: &str =
    "unnest($N::int[], $N1::text[], $N2::bigint[], $N3::text[], $N4::float8[], $N5::float8[])
    AS o(ord, price_plan, sim_pool_id, tag, warning, critical)";

// Tags: `sim_cards.tags`, split once when the card was written; the first match wins by level (plan, pool, tag),
// then by position in the configuration.
const CARD_OVERRIDE: &str = "
    SELECT o.warning, o.critical FROM OVERRIDES
    WHERE o.price_plan = c.price_plan_name
       OR o.sim_pool_id = c.sim_pool_id
       OR o.tag = ANY(c.tags)
    ORDER BY CASE WHEN o.price_plan = c.price_plan_name THEN 0
                  WHEN o.sim_pool_id = c.sim_pool_id THEN 1 ELSE 2 END, o.ord
    LIMIT 1";

// Without overrides the per-card lookup is skipped: it is most of the cost at a million cards.
const NO_OVERRIDE: &str = "SELECT NULL::float8 AS warning, NULL::float8 AS critical";

// Quota and suspension in one pass over the cards. `source`: the figures the episode holds now;
// `first_source`: the ones that opened it, kept for the episode's life (one episode, whichever source saw
// the crossing first).
const RULE_QUOTA_AND_SUSPENDED: &str = "
WITH hit AS MATERIALIZED (
    SELECT f.*, CASE WHEN f.ratio >= f.crit THEN 'GslSimQuotaCritical' ELSE 'GslSimQuotaWarning' END AS quota_kind
    FROM (CARD_FIGURES) f
    WHERE f.ratio >= f.warn OR (f.operator_status IS NOT NULL AND f.operator_status <> -1)
)
INSERT INTO alert_now
SELECT q.account, q.quota_kind, CASE WHEN q.ratio >= q.crit THEN 'critical' ELSE 'warning' END,
       q.sim_card_id, q.iccid, NULL::bigint, 'sim:' || q.sim_card_id, q.ratio,
       CASE WHEN q.ratio >= q.crit THEN q.crit ELSE q.warn END,
       jsonb_build_object('flow_used_mb', q.used, 'flow_left_mb', q.left_mb, 'data_date', q.data_date,
           'source', q.source, 'first_source', coalesce(a.details->>'first_source', q.source))
       || CASE WHEN q.checked_at IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('checked_at', q.checked_at) END
FROM hit q
LEFT JOIN alerts a ON a.account = q.account AND a.kind = q.quota_kind AND a.subject = 'sim:' || q.sim_card_id
                  AND a.resolved_at IS NULL
WHERE q.ratio >= q.warn
UNION ALL
SELECT account, 'GslSimSuspended', 'critical', sim_card_id, iccid, NULL, 'sim:' || sim_card_id,
       operator_status, NULL::float8, jsonb_build_object('operator_status', operator_status)
FROM hit WHERE operator_status IS NOT NULL AND operator_status <> -1";

/// A card's recent daily rate, $1 the newest day and $2 the window in days: the window's total over the
/// window's length (days without a row count as zero). The watchlist projects with the same rate.
pub(crate) const RECENT_RATE: &str = "SELECT account, sim_card_id, sum(flow_mb) / $2 AS rate
      FROM sim_daily_flow WHERE day > $1::date - $2 AND day <= $1::date
      GROUP BY account, sim_card_id";

// The rate is `RECENT_RATE`'s, read per card by primary key, and only for the cards that could be projected
// to run out: a window's total is at most the month's daily sum (and the previous month's when the window
// reaches into it), since stored daily flow is never negative (`plausible` drops negative rows). That leaves
// some 2 % of a fleet; summing the window for every card scanned a month's partition (4 s at a million).
// $3 is the newest day, $4 the window, $5 the horizon in days, $6 the month of $3; $7 the previous month when
// the window reaches into it (else NULL, which matches no row), $8 says it reaches further back, where the
// month sums bound nothing and every card is read. The sums are `sim_flow_monthly`'s, a third of the pages of
// the report rows holding the same figures: the first reader after a night sets the hint bits of every page
// the night rewrote, which made the first evaluation after a night the slowest. Only sums above zero are
// joined (a sum of zero reads as no row): an idle card bounds nothing, and idle cards are a large part of a
// fleet (40 % of the benchmark's), whose rows would fill the hash for nothing. The calendar is worked out
// once (`ProjectionWindow`), not per card: `date_trunc` over a date is only stable, so the server would
// evaluate it on every row.
const RULE_PROJECTION: &str = "
SELECT c.account, c.sim_card_id, c.iccid, c.left_mb / f.rate AS value, $5 AS threshold,
       jsonb_build_object('daily_rate_mb', f.rate, 'flow_left_mb', c.left_mb,
           'projected_date', $3::date + ceil(c.left_mb / f.rate)::int)::text AS details
FROM (CARD_FIGURES) c
LEFT JOIN sim_flow_monthly m
  ON m.account = c.account AND m.sim_card_id = c.sim_card_id AND m.month = $6 AND m.flow_mb > 0
LEFT JOIN sim_flow_monthly p
  ON p.account = c.account AND p.sim_card_id = c.sim_card_id AND p.month = $7 AND p.flow_mb > 0
CROSS JOIN LATERAL (
    SELECT sum(d.flow_mb) / $4 AS rate FROM sim_daily_flow d
    WHERE d.account = c.account AND d.sim_card_id = c.sim_card_id AND d.day > $3::date - $4 AND d.day <= $3::date
) f
WHERE c.ratio < c.warn
  AND ($8 OR c.left_mb * $4 <= $5 * (coalesce(m.flow_mb, 0) + coalesce(p.flow_mb, 0)))
  AND f.rate > 0 AND c.left_mb / f.rate <= $5";

/// The projection window's place in the calendar, as `RULE_PROJECTION` binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProjectionWindow {
    month: NaiveDate,
    /// The previous month, when the window reaches into it.
    previous_month_reached: Option<NaiveDate>,
    reaches_before_previous_month: bool,
}

impl ProjectionWindow {
    fn new(newest: NaiveDate, days: i32) -> Self {
        let first = newest - chrono::Days::new(u64::try_from(days.max(1) - 1).unwrap_or(0));
        let month = newest.with_day(1).unwrap_or(newest);
        let previous = month
            .checked_sub_months(chrono::Months::new(1))
            .unwrap_or(month);
        Self {
            month,
            previous_month_reached: (first < month).then_some(previous),
            reaches_before_previous_month: first < previous,
        }
    }
}

// Only cards over the absolute floor on the day are looked at, so the median runs over few cards.
const RULE_ANOMALY: &str = "
SELECT s.account, s.sim_card_id, c.iccid, s.flow_mb AS value, $4 * b.median AS threshold,
       jsonb_build_object('flow_mb', s.flow_mb, 'baseline_mb', b.median, 'baseline_days', b.n,
           'factor', $4, 'day', $1::date)::text AS details
FROM (SELECT account, sim_card_id, flow_mb FROM sim_daily_flow WHERE day = $1::date AND flow_mb > $5) s
JOIN LATERAL (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY h.flow_mb) AS median, count(*) AS n
    FROM sim_daily_flow h
    WHERE h.account = s.account AND h.sim_card_id = s.sim_card_id
      AND h.day >= $1::date - $2 AND h.day < $1::date
) b ON true
JOIN sim_cards c ON c.account = s.account AND c.sim_card_id = s.sim_card_id AND c.removed_at IS NULL
WHERE b.n >= $3 AND s.flow_mb > $4 * b.median";

const INSERT_CARD_CONDITIONS: &str = "
INSERT INTO alert_now
SELECT account, $1, 'warning', sim_card_id, iccid, NULL, 'sim:' || sim_card_id, value, threshold, details::jsonb
FROM unnest($2::text[], $3::bigint[], $4::text[], $5::float8[], $6::float8[], $7::text[])
    AS a(account, sim_card_id, iccid, value, threshold, details)";

const RULE_POOL: &str = "
INSERT INTO alert_now
SELECT u.account,
       CASE WHEN u.ratio >= u.crit THEN 'GslPoolQuotaCritical' ELSE 'GslPoolQuotaWarning' END,
       CASE WHEN u.ratio >= u.crit THEN 'critical' ELSE 'warning' END,
       NULL, NULL, u.sim_pool_id, 'pool:' || u.kind || ':' || u.sim_pool_id, u.ratio,
       CASE WHEN u.ratio >= u.crit THEN u.crit ELSE u.warn END,
       jsonb_build_object('pool_kind', u.kind, 'pool_name', u.pool_name, 'billing_cycle', u.billing_cycle,
           'flow_used_mb', u.flow_used_mb, 'flow_total_mb', u.flow_total_mb)
FROM (
    SELECT cur.*, cur.flow_used_mb / cur.flow_total_mb AS ratio,
           coalesce(t.warning, $1) AS warn, coalesce(t.critical, $2) AS crit
    FROM (
        SELECT DISTINCT ON (pu.account, pu.kind, pu.sim_pool_id) pu.*, p.pool_name, p.removed_at
        FROM sim_pool_usage pu
        LEFT JOIN sim_pools p
          ON p.account = pu.account AND p.kind = pu.kind AND p.sim_pool_id = pu.sim_pool_id
        ORDER BY pu.account, pu.kind, pu.sim_pool_id, pu.billing_cycle DESC
    ) cur
    LEFT JOIN LATERAL (
        SELECT o.warning, o.critical FROM OVERRIDES
        WHERE o.sim_pool_id = cur.sim_pool_id ORDER BY o.ord LIMIT 1
    ) t ON true
    WHERE cur.removed_at IS NULL AND cur.flow_total_mb > 0 AND cur.flow_used_mb >= 0
) u
WHERE u.ratio >= u.warn";

/// A card whose figures meet a rule read on a connection of its own (projection, anomaly).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CardCondition {
    account: String,
    sim_card_id: SimCardId,
    iccid: Option<String>,
    value: f64,
    threshold: f64,
    details: String,
}

/// The overrides' rows bound from parameter `$first` on.
fn overrides_from(first: usize) -> String {
    (1..=5)
        .rev()
        .fold(OVERRIDES.to_owned(), |sql, k| {
            sql.replace(&format!("$N{k}"), &format!("${}", first + k))
        })
        .replace("$N", &format!("${first}"))
}

/// `CARD_FIGURES` with its threshold lookup, the overrides bound from `$first` when there are any.
fn card_figures(overrides: &[OverrideRow], first: usize) -> String {
    let lookup = if overrides.is_empty() {
        NO_OVERRIDE.to_owned()
    } else {
        CARD_OVERRIDE.replace("OVERRIDES", &overrides_from(first))
    };
    CARD_FIGURES
        .replace("THRESHOLDS", &lookup)
        .replace("FRESHEST", crate::realtime::FRESHEST)
}

fn bind_overrides(query: PgQuery, rows: &[OverrideRow]) -> PgQuery {
    let ord: Vec<i32> = (0..rows.len() as i32).collect();
    let plans: Vec<Option<String>> = rows.iter().map(|r| r.price_plan.clone()).collect();
    let pools: Vec<_> = rows.iter().map(|r| r.sim_pool_id).collect();
    let tags: Vec<Option<String>> = rows.iter().map(|r| r.tag.clone()).collect();
    let warn: Vec<Option<f64>> = rows.iter().map(|r| r.warning).collect();
    let crit: Vec<Option<f64>> = rows.iter().map(|r| r.critical).collect();
    query
        .bind(ord)
        .bind(plans)
        .bind(pools)
        .bind(tags)
        .bind(warn)
        .bind(crit)
}

/// The overrides `card_figures` looks up, bound where it looks them up: only when there are any.
fn bind_card_overrides(query: PgQuery, rows: &[OverrideRow]) -> PgQuery {
    if rows.is_empty() {
        query
    } else {
        bind_overrides(query, rows)
    }
}

/// The card rules' thresholds bound first, then the overrides when the statement looks them up.
fn with_thresholds(query: PgQuery, p: &RuleParams) -> PgQuery {
    query.bind(p.warning).bind(p.critical)
}

/// The quota, suspension and pool rules, into `alert_now` on the evaluation's own connection.
pub(super) async fn quota_suspended_and_pools(
    tx: &mut Transaction<'_, Postgres>,
    p: &RuleParams,
) -> Result<()> {
    let cards = RULE_QUOTA_AND_SUSPENDED.replace("CARD_FIGURES", &card_figures(&p.overrides, 3));
    let query = with_thresholds(sqlx::query(sqlx::AssertSqlSafe(cards)), p);
    bind_card_overrides(query, &p.overrides)
        .execute(&mut **tx)
        .await?;
    let pools = RULE_POOL.replace("OVERRIDES", &overrides_from(3));
    let query = with_thresholds(sqlx::query(sqlx::AssertSqlSafe(pools)), p);
    bind_overrides(query, &p.overrides)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Settings for statements that each pass over the whole fleet once.
pub(super) async fn tune_for_fleet_passes(tx: &mut Transaction<'_, Postgres>) -> Result<()> {
    // The projection hashes a month's sums per card (some 70 MB at a million cards) and the quota rule sorts
    // or hashes the open episodes; at the default 4 MB both spill to disk in batches.
    sqlx::query("SET LOCAL work_mem = '128MB'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts conditions read elsewhere into `alert_now`, as warnings of `kind`.
pub(super) async fn insert_card_conditions(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    rows: &[CardCondition],
) -> Result<()> {
    sqlx::query(INSERT_CARD_CONDITIONS)
        .bind(kind)
        .bind(rows.iter().map(|a| a.account.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.sim_card_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.iccid.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.value).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.threshold).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.details.as_str()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// A read-only transaction on the snapshot another transaction exported, so every rule sees one state.
    async fn on_snapshot(&self, snapshot: &str) -> Result<Transaction<'static, Postgres>> {
        // The name is the server's own answer; the statement takes no parameters, so keep it to its alphabet.
        let name: String = snapshot
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .collect();
        let mut tx = self.pool().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET TRANSACTION SNAPSHOT '{name}'"
        )))
        .execute(&mut *tx)
        .await?;
        tune_for_fleet_passes(&mut tx).await?;
        Ok(tx)
    }

    /// The exhaustion-projection rule's conditions, on a connection of its own.
    pub(super) async fn projections(
        &self,
        p: &RuleParams,
        snapshot: &str,
    ) -> Result<Vec<CardCondition>> {
        let mut tx = self.on_snapshot(snapshot).await?;
        let window = ProjectionWindow::new(p.as_of, p.projection_window_days);
        let sql = RULE_PROJECTION.replace("CARD_FIGURES", &card_figures(&p.overrides, 9));
        let query = with_thresholds(sqlx::query(sqlx::AssertSqlSafe(sql)), p)
            .bind(p.as_of)
            .bind(p.projection_window_days.max(1))
            .bind(p.projection_days)
            .bind(window.month)
            .bind(window.previous_month_reached)
            .bind(window.reaches_before_previous_month);
        let rows = bind_card_overrides(query, &p.overrides)
            .try_map(|row: PgRow| CardCondition::from_row(&row))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The usage-anomaly rule's conditions, on a connection of its own.
    pub(super) async fn usage_anomalies(
        &self,
        p: &RuleParams,
        snapshot: &str,
    ) -> Result<Vec<CardCondition>> {
        let mut tx = self.on_snapshot(snapshot).await?;
        // Memoize would cache each card's baseline under a key that includes the day's flow: every lookup
        // misses, and the cache costs a sixth of the rule's time.
        sqlx::query("SET LOCAL enable_memoize = off")
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query_as(RULE_ANOMALY)
            .bind(p.as_of)
            .bind(p.anomaly_baseline_days)
            .bind(p.anomaly_min_history_days)
            .bind(p.anomaly_factor)
            .bind(p.anomaly_min_mb)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_numbered_from_the_first_parameter() {
        assert_eq!(
            overrides_from(6).lines().next().unwrap(),
            "unnest($6::int[], $7::text[], $8::bigint[], $9::text[], $10::float8[], $11::float8[])"
        );
    }

    #[test]
    fn the_projection_window_knows_which_months_it_reaches() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let w = |newest: &str, days: i32| {
            let w = ProjectionWindow::new(d(newest), days);
            (
                w.month,
                w.previous_month_reached.is_some(),
                w.reaches_before_previous_month,
            )
        };
        assert_eq!(w("2026-03-10", 7), (d("2026-03-01"), false, false));
        assert_eq!(w("2026-03-07", 7), (d("2026-03-01"), false, false));
        assert_eq!(w("2026-03-06", 7), (d("2026-03-01"), true, false));
        assert_eq!(w("2026-03-02", 40), (d("2026-03-01"), true, true));
        assert_eq!(w("2026-03-31", 59), (d("2026-03-01"), true, false));
        assert_eq!(w("2026-03-31", 60), (d("2026-03-01"), true, true));
        assert_eq!(w("2026-03-10", 0), w("2026-03-10", 1));
    }

    /// What commits after the evaluation exported its snapshot is not seen by the rules read elsewhere.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn rules_on_other_connections_read_the_evaluations_snapshot(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let count = "SELECT count(*) FROM sim_cards";
        let mut evaluation = pool.begin().await.expect("begin");
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *evaluation)
            .await
            .expect("export");
        sqlx::query("INSERT INTO sim_cards (account, sim_card_id) VALUES ('acme', 1)")
            .execute(&pool)
            .await
            .expect("card");
        let mut rule = store.on_snapshot(&snapshot).await.expect("import");
        let seen: i64 = sqlx::query_scalar(count)
            .fetch_one(&mut *rule)
            .await
            .expect("count");
        let now: i64 = sqlx::query_scalar(count)
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!((seen, now), (0, 1));
    }

    #[test]
    fn without_overrides_the_card_figures_bind_only_the_thresholds() {
        let sql = card_figures(&[], 3);
        assert!(sql.contains("$1") && sql.contains("$2") && !sql.contains("$3"));
    }
}
