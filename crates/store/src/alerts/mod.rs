//! Alert SQL: episode reconciliation in `alerts` and the per-receiver outbox; the rules are in `rules`.
//!
//! Every rule is one statement over the whole fleet whose conditions land in a temporary `alert_now` table;
//! the episodes are then reconciled against it in two statements, all in one transaction, so no round-trip
//! is ever made per card.

mod rules;

pub(crate) use rules::RECENT_RATE;

use chrono::{DateTime, NaiveDate, Utc};
use gsl_domain::{PoolId, SimCardId};

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

impl EpisodeChanges {
    /// Whether so many episodes changed that the table's statistics are stale: autovacuum's own rule
    /// (50 rows and a tenth of the table).
    fn moves_statistics(&self) -> bool {
        self.opened + self.resolved > 50 + self.open / 10
    }
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
        rules::tune_for_fleet_passes(&mut tx).await?;
        sqlx::query(CREATE_TEMP).execute(&mut *tx).await?;
        // The rules read on other connections see this transaction's snapshot, so one evaluation judges one
        // state of the fleet whatever a sync commits meanwhile.
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await?;
        let (own, projections, anomalies) = tokio::join!(
            rules::quota_suspended_and_pools(&mut tx, params),
            self.projections(params, &snapshot),
            self.usage_anomalies(params, &snapshot)
        );
        own?;
        rules::insert_card_conditions(&mut tx, "GslSimExhaustionProjected", &projections?).await?;
        rules::insert_card_conditions(&mut tx, "GslSimUsageAnomaly", &anomalies?).await?;
        // Temporary tables get no statistics from autovacuum; without them the reconciliation plans badly
        // (resolving takes four times as long). The reconciliation joins on these columns only; the others'
        // statistics (the details above all) would double the time taken.
        sqlx::query("ANALYZE alert_now (account, kind, subject)")
            .execute(&mut *tx)
            .await?;
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
        let changes = EpisodeChanges {
            opened: u64::try_from(opened).unwrap_or(0),
            resolved,
            open: u64::try_from(open).unwrap_or(0),
        };
        if changes.moves_statistics() {
            // The next evaluation joins the open episodes; planned on figures from before a wave of openings
            // it sorts them for a merge join instead of hashing them. Autovacuum would analyze too, later
            // (or never, where it is off).
            sqlx::query("ANALYZE alerts").execute(self.pool()).await?;
        }
        Ok(changes)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(as_of: NaiveDate) -> RuleParams {
        RuleParams {
            as_of,
            warning: 0.8,
            critical: 0.95,
            overrides: Vec::new(),
            projection_days: 3.0,
            projection_window_days: 7,
            anomaly_baseline_days: 14,
            anomaly_min_history_days: 7,
            anomaly_factor: 3.0,
            anomaly_min_mb: 50.0,
        }
    }

    /// The heap page of every open episode, by subject.
    async fn episode_pages(pool: &sqlx::PgPool) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT subject, (ctid::text::point)[0]::text FROM alerts WHERE resolved_at IS NULL ORDER BY subject",
        )
        .fetch_all(pool)
        .await
        .expect("pages")
    }

    /// A night moves the figures of every open episode; their new versions stay on their pages (heap-only,
    /// so no index is written), which a table packed full (fillfactor 100) cannot do.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn moving_figures_rewrite_episodes_in_place(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let cards = "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, data_date) \
             SELECT 'acme', g, 'I' || g, 85 + $1, 15 - $1, $2 FROM generate_series(1, 600) g \
             ON CONFLICT (account, sim_card_id) DO UPDATE SET flow_used_mb = EXCLUDED.flow_used_mb, \
                 flow_left_mb = EXCLUDED.flow_left_mb, data_date = EXCLUDED.data_date";
        let night = |used: f64, as_of: &'static str| {
            let (pool, store) = (pool.clone(), store.clone());
            async move {
                sqlx::query(cards)
                    .bind(used)
                    .bind(day(as_of))
                    .execute(&pool)
                    .await
                    .expect("cards");
                store
                    .reconcile_alerts(&params(day(as_of)), Utc::now())
                    .await
                    .expect("evaluate")
            }
        };
        assert_eq!(night(0.0, "2026-11-28").await.opened, 600);
        let before = episode_pages(&pool).await;
        let next = night(1.0, "2026-11-29").await;
        assert_eq!((next.opened, next.resolved, next.open), (0, 0, 600));
        let moved: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM alerts WHERE resolved_at IS NULL AND details->>'data_date' = '2026-11-29'",
        )
        .fetch_one(&pool)
        .await
        .expect("moved");
        assert_eq!(moved, 600, "every episode holds the night's figures");
        let after = episode_pages(&pool).await;
        let elsewhere = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert_eq!(
            (after.len(), elsewhere),
            (600, 0),
            "episodes moved to other pages"
        );
    }
}
