//! Alert SQL: the set-based rule queries, episode reconciliation in `alerts`, and the per-receiver outbox.
//!
//! Every rule is one statement over the whole fleet into a temporary `alert_now` table; the episodes are then
//! reconciled against it in two statements, all in one transaction, so no round-trip is ever made per card.

use chrono::{DateTime, NaiveDate, Utc};
use gsl_domain::{PoolId, SimCardId};
use sqlx::{Postgres, Transaction};

use super::{Result, Store};

/// The alert names this module raises (docs/reference.md); episodes of other kinds are never touched.
pub const KINDS: [&str; 7] = [
    "GslSimQuotaWarning",
    "GslSimQuotaCritical",
    "GslSimSuspended",
    "GslSimExhaustionProjected",
    "GslSimUsageAnomaly",
    "GslPoolQuotaWarning",
    "GslPoolQuotaCritical",
];

/// A threshold override as the SQL sees it; a `None` threshold keeps the global one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverrideRow {
    pub price_plan: Option<String>,
    pub sim_pool_id: Option<PoolId>,
    pub tag: Option<String>,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
}

/// Everything the rule queries need, in plain values.
#[derive(Debug, Clone)]
pub struct RuleParams {
    pub as_of: NaiveDate,
    pub warning: f64,
    pub critical: f64,
    pub overrides: Vec<OverrideRow>,
    pub projection_days: f64,
    pub projection_window_days: i32,
    pub anomaly_baseline_days: i32,
    pub anomaly_min_history_days: i64,
    pub anomaly_factor: f64,
    pub anomaly_min_mb: f64,
}

/// What one reconciliation changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EpisodeChanges {
    pub opened: u64,
    pub resolved: u64,
    pub open: u64,
}

/// An episode due for delivery to one receiver.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueAlert {
    pub id: i64,
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
    /// The `details` jsonb as text (the sqlx json feature is not enabled).
    pub details: String,
}

const CREATE_TEMP: &str = "
CREATE TEMP TABLE alert_now (
    account text NOT NULL, kind text NOT NULL, severity text NOT NULL, sim_card_id bigint, iccid text,
    sim_pool_id bigint, subject text NOT NULL, value double precision, threshold double precision,
    details jsonb NOT NULL
) ON COMMIT DROP";

const LOAD_OVERRIDES: &str = "
CREATE TEMP TABLE alert_overrides ON COMMIT DROP AS
SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[], $5::float8[], $6::float8[])
    AS o(ord, price_plan, sim_pool_id, tag, warning, critical)";

// Every current card, once: the suspension rule reads it here rather than scanning `sim_cards` again. `ratio`
// is NULL where the figures make none (negative, or nothing used of nothing), which no ratio rule matches.
// Each card's freshest figures (`realtime::FRESHEST`): a real-time check from a day after the nightly
// figures' cutoff wins, so a quota rule fires on it first; the next night's figures (the day's whole usage,
// never less) then keep the same episode open. `source` says which one the row holds.
const CARD_RATIOS: &str = "
CREATE TEMP TABLE alert_card_ratio ON COMMIT DROP AS
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

// Tags: `sim_cards.tags`, split once when the card was written; the first match wins by level (plan, pool, tag),
// then by position in the configuration.
const CARD_OVERRIDE: &str = "
    SELECT o.warning, o.critical FROM alert_overrides o
    WHERE o.price_plan = c.price_plan_name
       OR o.sim_pool_id = c.sim_pool_id
       OR o.tag = ANY(c.tags)
    ORDER BY CASE WHEN o.price_plan = c.price_plan_name THEN 0
                  WHEN o.sim_pool_id = c.sim_pool_id THEN 1 ELSE 2 END, o.ord
    LIMIT 1";

// Without overrides the per-card lookup is skipped: it is most of the cost at a million cards.
const NO_OVERRIDE: &str = "SELECT NULL::float8 AS warning, NULL::float8 AS critical";

// `source`: the figures the episode holds now; `first_source`: the ones that opened it, kept for the
// episode's life (one episode, whichever source saw the crossing first).
const RULE_QUOTA: &str = "
INSERT INTO alert_now
SELECT q.account, q.kind, q.severity, q.sim_card_id, q.iccid, NULL, q.subject, q.ratio, q.threshold,
       jsonb_build_object('flow_used_mb', q.used, 'flow_left_mb', q.left_mb, 'data_date', q.data_date,
           'source', q.source, 'first_source', coalesce(a.details->>'first_source', q.source))
       || CASE WHEN q.checked_at IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('checked_at', q.checked_at) END
FROM (
    SELECT account, sim_card_id, iccid, used, left_mb, data_date, source, checked_at, ratio,
           CASE WHEN ratio >= crit THEN 'GslSimQuotaCritical' ELSE 'GslSimQuotaWarning' END AS kind,
           CASE WHEN ratio >= crit THEN 'critical' ELSE 'warning' END AS severity,
           'sim:' || sim_card_id AS subject,
           CASE WHEN ratio >= crit THEN crit ELSE warn END AS threshold
    FROM alert_card_ratio WHERE ratio >= warn
) q
LEFT JOIN alerts a ON a.account = q.account AND a.kind = q.kind AND a.subject = q.subject
                  AND a.resolved_at IS NULL";

const RULE_SUSPENDED: &str = "
INSERT INTO alert_now
SELECT account, 'GslSimSuspended', 'critical', sim_card_id, iccid, NULL, 'sim:' || sim_card_id,
       operator_status, NULL, jsonb_build_object('operator_status', operator_status)
FROM alert_card_ratio WHERE operator_status IS NOT NULL AND operator_status <> -1";

/// A card's recent daily rate, $1 the newest day and $2 the window in days: the window's total over the
/// window's length (days without a row count as zero). The watchlist projects with the same rate.
pub(crate) const RECENT_RATE: &str = "SELECT account, sim_card_id, sum(flow_mb) / $2 AS rate
      FROM sim_daily_flow WHERE day > $1::date - $2 AND day <= $1::date
      GROUP BY account, sim_card_id";

// The rate is `RECENT_RATE`'s, read per card by primary key, and only for the cards that could be projected
// to run out: a window's total is at most the month's daily sum (and the previous month's when the window
// reaches into it), since stored daily flow is never negative (`plausible` drops negative rows). That leaves
// some 2 % of a fleet; summing the window for every card scanned a month's partition (4 s at a million).
// A window reaching further back than the previous month takes every card.
const RULE_PROJECTION: &str = "
INSERT INTO alert_now
SELECT c.account, 'GslSimExhaustionProjected', 'warning', c.sim_card_id, c.iccid, NULL,
       'sim:' || c.sim_card_id, c.left_mb / f.rate, $3,
       jsonb_build_object('daily_rate_mb', f.rate, 'flow_left_mb', c.left_mb,
           'projected_date', $1::date + ceil(c.left_mb / f.rate)::int)
FROM alert_card_ratio c
LEFT JOIN sim_report_month m
  ON m.account = c.account AND m.sim_card_id = c.sim_card_id AND m.month = date_trunc('month', $1::date)::date
CROSS JOIN LATERAL (
    SELECT sum(d.flow_mb) / $2 AS rate FROM sim_daily_flow d
    WHERE d.account = c.account AND d.sim_card_id = c.sim_card_id AND d.day > $1::date - $2 AND d.day <= $1::date
) f
WHERE c.ratio < c.warn
  AND ($1::date - $2 + 1 < (date_trunc('month', $1::date) - interval '1 month')::date
       OR c.left_mb * $2 <= $3 * (coalesce(m.flow_mb, 0)
           + CASE WHEN $1::date - $2 + 1 < date_trunc('month', $1::date)::date THEN coalesce(m.prev_flow_mb, 0) ELSE 0 END))
  AND f.rate > 0 AND c.left_mb / f.rate <= $3";

// Only cards over the absolute floor on the day are looked at, so the median runs over few cards. It reads
// no temporary table, so it runs on a connection of its own beside the other rules (`usage_anomalies`):
// its per-card medians are a second core's work at a million cards.
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

const INSERT_ANOMALIES: &str = "
INSERT INTO alert_now
SELECT account, 'GslSimUsageAnomaly', 'warning', sim_card_id, iccid, NULL, 'sim:' || sim_card_id, value,
       threshold, details::jsonb
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::float8[], $6::text[])
    AS a(account, sim_card_id, iccid, value, threshold, details)";

/// A card whose day is far above its own baseline, as `RULE_ANOMALY` finds it.
#[derive(Debug, sqlx::FromRow)]
struct Anomaly {
    account: String,
    sim_card_id: SimCardId,
    iccid: Option<String>,
    value: f64,
    threshold: f64,
    details: String,
}

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
        SELECT o.warning, o.critical FROM alert_overrides o
        WHERE o.sim_pool_id = cur.sim_pool_id ORDER BY o.ord LIMIT 1
    ) t ON true
    WHERE cur.removed_at IS NULL AND cur.flow_total_mb > 0 AND cur.flow_used_mb >= 0
) u
WHERE u.ratio >= u.warn";

const RESOLVE: &str = "
UPDATE alerts a SET resolved_at = $1
WHERE a.resolved_at IS NULL AND a.kind = ANY($2)
  AND NOT EXISTS (SELECT 1 FROM alert_now n
                  WHERE n.account = a.account AND n.kind = a.kind AND n.subject = a.subject)";

// A condition that still holds keeps its episode; only its figures are refreshed, and only when they moved.
// Conditions whose open episode already holds their figures are left out before the insert: ON CONFLICT
// would lock (and so write) each of them, some hundred thousand a run at a million cards.
const OPEN: &str = "
WITH changed AS (
    SELECT n.* FROM alert_now n
    LEFT JOIN alerts a ON a.account = n.account AND a.kind = n.kind AND a.subject = n.subject
                      AND a.resolved_at IS NULL
    WHERE a.id IS NULL
       OR (a.value, a.threshold, a.details, a.iccid) IS DISTINCT FROM (n.value, n.threshold, n.details, n.iccid)
), up AS (
    INSERT INTO alerts AS a (account, kind, severity, sim_card_id, iccid, sim_pool_id, subject, started_at,
                             value, threshold, details)
    SELECT account, kind, severity, sim_card_id, iccid, sim_pool_id, subject, $1, value, threshold, details
    FROM changed
    ON CONFLICT (account, kind, subject) WHERE resolved_at IS NULL DO UPDATE
        SET value = EXCLUDED.value, threshold = EXCLUDED.threshold, details = EXCLUDED.details,
            iccid = EXCLUDED.iccid
        WHERE (a.value, a.threshold, a.details, a.iccid)
              IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.threshold, EXCLUDED.details, EXCLUDED.iccid)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) FROM up";

const DUE: &str = "
SELECT * FROM (
    SELECT a.id, a.account, a.kind, a.severity, a.sim_card_id, a.iccid, a.sim_pool_id, a.started_at,
           a.resolved_at, a.value, a.threshold, a.details::text AS details
    FROM alerts a
    LEFT JOIN alert_deliveries d ON d.alert_id = a.id AND d.receiver = $1
    WHERE a.resolved_at IS NULL AND (d.last_sent_at IS NULL OR d.last_sent_at <= $2)
    UNION ALL
    SELECT a.id, a.account, a.kind, a.severity, a.sim_card_id, a.iccid, a.sim_pool_id, a.started_at,
           a.resolved_at, a.value, a.threshold, a.details::text AS details
    FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
    WHERE d.receiver = $1 AND d.resolve_sent_at IS NULL AND a.resolved_at IS NOT NULL
) due ORDER BY id LIMIT $3";

impl Store {
    /// Evaluates every rule over the fleet and reconciles the episodes in `alerts`, in one transaction.
    pub async fn reconcile_alerts(
        &self,
        params: &RuleParams,
        now: DateTime<Utc>,
    ) -> Result<EpisodeChanges> {
        let mut tx = self.pool().begin().await?;
        // Replicas syncing different accounts may evaluate at once; one at a time keeps the episode
        // bookkeeping simple (the lock ends with the transaction).
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('gsl-sync alert evaluation', 0))",
        )
        .execute(&mut *tx)
        .await?;
        // Each rule is one statement over the fleet, executed once: compiling it (JIT) is paid on every run
        // and never earned back by a second execution.
        sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
        let (conditions, anomalies) = tokio::join!(
            collect_conditions(&mut tx, params),
            self.usage_anomalies(params)
        );
        conditions?;
        insert_anomalies(&mut tx, &anomalies?).await?;
        // Temporary tables get no statistics from autovacuum; without them the reconciliation plans badly.
        sqlx::query("ANALYZE alert_now").execute(&mut *tx).await?;
        let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
        let resolved = sqlx::query(RESOLVE)
            .bind(now)
            .bind(&kinds)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let opened: i64 = sqlx::query_scalar(OPEN)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_now")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(EpisodeChanges {
            opened: u64::try_from(opened).unwrap_or(0),
            resolved,
            open: u64::try_from(open).unwrap_or(0),
        })
    }

    /// The usage-anomaly rule's conditions, read on a connection of its own.
    async fn usage_anomalies(&self, p: &RuleParams) -> Result<Vec<Anomaly>> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
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

    /// Firing episodes, newest first, optionally of one kind: what a receiver was told is firing now.
    pub async fn firing_alerts(&self, kind: Option<&str>, limit: i64) -> Result<Vec<DueAlert>> {
        Ok(sqlx::query_as(
            "SELECT id, account, kind, severity, sim_card_id, iccid, sim_pool_id, started_at, resolved_at,
                    value, threshold, details::text AS details
             FROM alerts WHERE resolved_at IS NULL AND ($1::text IS NULL OR kind = $1)
             ORDER BY started_at DESC, id DESC LIMIT $2",
        )
        .bind(kind)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Up to `limit` episodes due at `receiver`: firing ones never sent there or last sent at or before
    /// `resend_before`, and resolved ones whose firing reached it but whose resolution did not.
    pub async fn due_alerts(
        &self,
        receiver: &str,
        resend_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueAlert>> {
        Ok(sqlx::query_as(DUE)
            .bind(receiver)
            .bind(resend_before)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Records that `receiver` accepted the firing notifications of `ids` at `now`.
    pub async fn mark_firing_sent(
        &self,
        receiver: &str,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO alert_deliveries (alert_id, receiver, last_sent_at)
             SELECT id, $2, $3 FROM unnest($1::bigint[]) id
             ON CONFLICT (alert_id, receiver) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at",
        )
        .bind(ids)
        .bind(receiver)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE alerts SET last_notified_at = $2 WHERE id = ANY($1)")
            .bind(ids)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `receiver` accepted the resolved notifications of `ids` at `now`.
    pub async fn mark_resolve_sent(
        &self,
        receiver: &str,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE alert_deliveries SET resolve_sent_at = $3
             WHERE alert_id = ANY($1) AND receiver = $2",
        )
        .bind(ids)
        .bind(receiver)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE alerts SET resolve_notified_at = coalesce(resolve_notified_at, $2)
             WHERE id = ANY($1)",
        )
        .bind(ids)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn collect_conditions(tx: &mut Transaction<'_, Postgres>, p: &RuleParams) -> Result<()> {
    sqlx::query(CREATE_TEMP).execute(&mut **tx).await?;
    load_overrides(tx, &p.overrides).await?;
    let lookup = if p.overrides.is_empty() {
        NO_OVERRIDE
    } else {
        CARD_OVERRIDE
    };
    sqlx::query(sqlx::AssertSqlSafe(
        CARD_RATIOS
            .replace("THRESHOLDS", lookup)
            .replace("FRESHEST", super::realtime::FRESHEST),
    ))
    .bind(p.warning)
    .bind(p.critical)
    .execute(&mut **tx)
    .await?;
    sqlx::query("ANALYZE alert_card_ratio")
        .execute(&mut **tx)
        .await?;
    sqlx::query(RULE_QUOTA).execute(&mut **tx).await?;
    sqlx::query(RULE_SUSPENDED).execute(&mut **tx).await?;
    sqlx::query(RULE_PROJECTION)
        .bind(p.as_of)
        .bind(p.projection_window_days.max(1))
        .bind(p.projection_days)
        .execute(&mut **tx)
        .await?;
    sqlx::query(RULE_POOL)
        .bind(p.warning)
        .bind(p.critical)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_anomalies(tx: &mut Transaction<'_, Postgres>, rows: &[Anomaly]) -> Result<()> {
    sqlx::query(INSERT_ANOMALIES)
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

async fn load_overrides(tx: &mut Transaction<'_, Postgres>, rows: &[OverrideRow]) -> Result<()> {
    let ord: Vec<i32> = (0..rows.len() as i32).collect();
    let plans: Vec<Option<String>> = rows.iter().map(|r| r.price_plan.clone()).collect();
    let pools: Vec<Option<PoolId>> = rows.iter().map(|r| r.sim_pool_id).collect();
    let tags: Vec<Option<String>> = rows.iter().map(|r| r.tag.clone()).collect();
    let warn: Vec<Option<f64>> = rows.iter().map(|r| r.warning).collect();
    let crit: Vec<Option<f64>> = rows.iter().map(|r| r.critical).collect();
    sqlx::query(LOAD_OVERRIDES)
        .bind(ord)
        .bind(plans)
        .bind(pools)
        .bind(tags)
        .bind(warn)
        .bind(crit)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
