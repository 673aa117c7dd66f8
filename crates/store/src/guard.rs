//! Guard SQL: the candidate cards of every policy in one pass, the brakes' counts, and `guard_actions`
//! from decision to restore, each change mirrored into its `GslGuardAction` episode in `alerts` (so the
//! existing outbox announces it) in the same transaction.
//!
//! Every write takes the caller's `Fence`: a daemon that lost its account writes nothing more.

use chrono::{DateTime, NaiveDate, Utc};
use gsl_domain::{PoolId, SimCardId};
use sqlx::{Postgres, Transaction};

use super::{Fence, Result, Store};

/// The alert names the guard raises; `alerts::KINDS` (the rules' kinds) never touches them.
pub const GUARD_ACTION: &str = "GslGuardAction";
pub const GUARD_BRAKE: &str = "GslGuardBrake";

/// One policy as the candidate query sees it; conditions are any-of, scope is all-of. `take` is how many
/// new candidates the brakes leave room for (rows past it come back only to carry the count).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyFilter {
    pub price_plan: Option<String>,
    pub sim_pool_id: Option<PoolId>,
    pub tag: Option<String>,
    pub min_ratio: Option<f64>,
    pub projected_days: Option<f64>,
    pub anomaly: bool,
    pub over_quota: bool,
    pub mode: String,
    pub take: i64,
}

/// A card a policy (by position) would act on, with the figures it would act on.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Candidate {
    pub ord: i32,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub price_plan_name: Option<String>,
    pub sim_pool_id: Option<PoolId>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub ratio: Option<f64>,
    pub data_date: Option<NaiveDate>,
    /// Days to exhaustion, from the open `GslSimExhaustionProjected` episode.
    pub projected_days: Option<f64>,
    /// The day's flow, from the open `GslSimUsageAnomaly` episode.
    pub anomaly_mb: Option<f64>,
    /// How many new candidates the policy has in all (not only the rows returned).
    pub matched: i64,
    pub rank: i64,
}

/// A policy's decisions of the last hour and of the day (for the brakes).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PolicyCounts {
    pub policy: String,
    pub last_hour: i64,
    pub today: i64,
}

/// A decision to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub policy: String,
    pub action: String,
    pub mode: String,
    pub restore: String,
    pub speed_kbps: Option<i32>,
    pub quota_mb: Option<i64>,
    pub reason: String,
    pub figures: serde_json::Value,
    /// `dry_run`, `refused` or `queued`.
    pub status: String,
    pub next_cycle: NaiveDate,
    /// The ratio the episode shows as its value.
    pub value: Option<f64>,
}

/// A policy held by the fleet brake in this pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Brake {
    pub policy: String,
    /// New cards the policy would have acted on.
    pub matched: i64,
    /// The day's limit and what the policy already did today.
    pub limit: i64,
    pub today: i64,
    pub fleet_cards: i64,
}

/// One row of `guard_actions`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GuardAction {
    pub id: i64,
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub policy: String,
    pub action: String,
    pub mode: String,
    pub restore: String,
    pub speed_kbps: Option<i32>,
    pub quota_mb: Option<i64>,
    pub reason: String,
    pub status: String,
    pub error: Option<String>,
    pub work_order_id: Option<i64>,
    pub restore_work_order_id: Option<i64>,
    pub attempts: i32,
    pub next_cycle: NaiveDate,
    pub requested_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub restored_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Decisions per (account, policy, status) since some time: the status page's summary.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatusCount {
    pub account: String,
    pub policy: String,
    pub mode: String,
    pub status: String,
    pub actions: i64,
}

const COLUMNS: &str = "id, account, sim_card_id, iccid, policy, action, mode, restore, speed_kbps, quota_mb, \
    reason, status, error, work_order_id, restore_work_order_id, attempts, next_cycle, requested_at, sent_at, \
    completed_at, restored_at, closed_at";

// One pass over the account's cards: each card goes to the first policy whose scope holds and one of whose
// conditions holds, unless an open decision in the same mode (or an enforced one) already covers it. The
// projection and the anomaly are the alert rules' own figures, read from their open episodes.
// The flow figures are the nightly ones (`sim_cards`); a fresher source joins in the `card` step.
const CANDIDATES: &str = "
WITH pol AS (
    SELECT * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[], $6::float8[], $7::float8[],
                         $8::bool[], $9::bool[], $10::text[], $11::bigint[])
        AS p(ord, price_plan, sim_pool_id, tag, min_ratio, projected_days, anomaly, over_quota, mode, take)
),
card AS (
    SELECT c.account, c.sim_card_id, c.iccid, c.price_plan_name, c.sim_pool_id, c.tags, c.data_date,
           c.flow_used_mb, c.flow_left_mb,
           c.flow_used_mb / NULLIF(c.flow_used_mb + c.flow_left_mb, 0) AS ratio,
           pr.value AS projected_days, an.value AS anomaly_mb
    FROM sim_cards c
    LEFT JOIN alerts pr ON pr.account = c.account AND pr.kind = 'GslSimExhaustionProjected'
         AND pr.subject = 'sim:' || c.sim_card_id AND pr.resolved_at IS NULL
    LEFT JOIN alerts an ON an.account = c.account AND an.kind = 'GslSimUsageAnomaly'
         AND an.subject = 'sim:' || c.sim_card_id AND an.resolved_at IS NULL
    WHERE c.account = $1 AND c.removed_at IS NULL AND c.flow_used_mb >= 0 AND c.flow_left_mb >= 0
),
hit AS (
    SELECT DISTINCT ON (k.sim_card_id) k.*, p.ord, p.mode
    FROM card k JOIN pol p
      ON (p.price_plan IS NULL OR p.price_plan = k.price_plan_name)
     AND (p.sim_pool_id IS NULL OR p.sim_pool_id = k.sim_pool_id)
     AND (p.tag IS NULL OR p.tag = ANY(k.tags))
     AND ((p.min_ratio IS NOT NULL AND k.ratio >= p.min_ratio)
       OR (p.projected_days IS NOT NULL AND k.projected_days <= p.projected_days)
       OR (p.anomaly AND k.anomaly_mb IS NOT NULL)
       OR (p.over_quota AND k.flow_left_mb <= 0 AND k.flow_used_mb > 0))
    ORDER BY k.sim_card_id, p.ord
),
fresh AS (
    SELECT h.*, count(*) OVER (PARTITION BY h.ord) AS matched,
           row_number() OVER (PARTITION BY h.ord ORDER BY h.ratio DESC NULLS LAST, h.sim_card_id) AS rank
    FROM hit h
    WHERE NOT EXISTS (SELECT 1 FROM guard_actions g
                      WHERE g.account = h.account AND g.sim_card_id = h.sim_card_id AND g.closed_at IS NULL
                        AND (g.mode = 'enforce' OR g.mode = h.mode))
)
SELECT f.ord, f.sim_card_id, f.iccid, f.price_plan_name, f.sim_pool_id, f.flow_used_mb, f.flow_left_mb,
       f.ratio, f.data_date, f.projected_days, f.anomaly_mb, f.matched, f.rank
FROM fresh f JOIN pol p ON p.ord = f.ord
WHERE f.rank <= greatest(p.take, 1)
ORDER BY f.ord, f.rank";

// The episode of a decision carries what it is about and where it stands; it fires while the decision is
// in effect or needs a look (refused, failed), and resolves once it is over, undone or dismissed.
const SYNC_EPISODES: &str = "
UPDATE alerts a SET details = jsonb_build_object(
        'guard_action_id', g.id, 'policy', g.policy, 'action', g.action, 'mode', g.mode, 'status', g.status,
        'reason', g.reason, 'speed_kbps', g.speed_kbps, 'work_order_id', g.work_order_id,
        'restore_work_order_id', g.restore_work_order_id, 'error', g.error) || g.figures,
    resolved_at = CASE WHEN g.closed_at IS NOT NULL THEN g.closed_at
                       WHEN g.status IN ('dismissed', 'restored', 'expired') THEN coalesce(g.checked_at, now())
                       ELSE a.resolved_at END
FROM guard_actions g
WHERE g.id = ANY($1) AND a.account = g.account AND a.kind = 'GslGuardAction'
  AND a.subject = 'guard:' || g.id AND a.resolved_at IS NULL";

const OPEN_EPISODES: &str = "
INSERT INTO alerts (account, kind, severity, sim_card_id, iccid, subject, started_at, value, details)
SELECT g.account, 'GslGuardAction', CASE WHEN g.mode = 'enforce' AND g.status <> 'refused' THEN 'warning'
                                         ELSE 'info' END,
       g.sim_card_id, g.iccid, 'guard:' || g.id, g.requested_at, v.value, '{}'
FROM guard_actions g JOIN unnest($1::bigint[], $2::float8[]) AS v(id, value) ON v.id = g.id";

impl Store {
    /// The new candidates of each policy (`policies` in configuration order) on `account`.
    pub async fn guard_candidates(
        &self,
        account: &str,
        policies: &[PolicyFilter],
    ) -> Result<Vec<Candidate>> {
        let ord: Vec<i32> = (0..policies.len() as i32).collect();
        let col = |f: &dyn Fn(&PolicyFilter) -> Option<String>| -> Vec<Option<String>> {
            policies.iter().map(f).collect()
        };
        Ok(sqlx::query_as::<_, Candidate>(CANDIDATES)
            .bind(account)
            .bind(ord)
            .bind(col(&|p| p.price_plan.clone()))
            .bind(policies.iter().map(|p| p.sim_pool_id).collect::<Vec<_>>())
            .bind(col(&|p| p.tag.clone()))
            .bind(policies.iter().map(|p| p.min_ratio).collect::<Vec<_>>())
            .bind(
                policies
                    .iter()
                    .map(|p| p.projected_days)
                    .collect::<Vec<_>>(),
            )
            .bind(policies.iter().map(|p| p.anomaly).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.over_quota).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.mode.clone()).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.take).collect::<Vec<_>>())
            .fetch_all(self.pool())
            .await?)
    }

    /// Each policy's decisions on `account` since `hour_ago` and since `day_start` (an index range).
    pub async fn guard_counts(
        &self,
        account: &str,
        hour_ago: DateTime<Utc>,
        day_start: DateTime<Utc>,
    ) -> Result<Vec<PolicyCounts>> {
        Ok(sqlx::query_as::<_, PolicyCounts>(
            "SELECT policy, count(*) FILTER (WHERE requested_at >= $2) AS last_hour,
                    count(*) FILTER (WHERE requested_at >= $3) AS today
             FROM guard_actions WHERE account = $1 AND requested_at >= least($2, $3)
             GROUP BY policy",
        )
        .bind(account)
        .bind(hour_ago)
        .bind(day_start)
        .fetch_all(self.pool())
        .await?)
    }

    /// The account's current cards: what the fleet brake's share is of.
    pub async fn guard_fleet_size(&self, account: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM sim_cards WHERE account = $1 AND removed_at IS NULL",
        )
        .bind(account)
        .fetch_one(self.pool())
        .await?)
    }

    /// Records decisions and opens their `GslGuardAction` episodes; returns the new rows in order.
    pub async fn record_guard_actions(
        &self,
        fence: &Fence,
        actions: &[NewAction],
        now: DateTime<Utc>,
    ) -> Result<Vec<GuardAction>> {
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        let mut rows = Vec::with_capacity(actions.len());
        for a in actions {
            let sql = format!(
                "INSERT INTO guard_actions (account, sim_card_id, iccid, policy, action, mode, restore, speed_kbps,
                     quota_mb, reason, figures, status, next_cycle, requested_at, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                         CASE WHEN $12 = 'refused' THEN $10 END)
                 RETURNING {COLUMNS}"
            );
            let row: GuardAction = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&a.account)
                .bind(a.sim_card_id)
                .bind(&a.iccid)
                .bind(&a.policy)
                .bind(&a.action)
                .bind(&a.mode)
                .bind(&a.restore)
                .bind(a.speed_kbps)
                .bind(a.quota_mb)
                .bind(&a.reason)
                .bind(&a.figures)
                .bind(&a.status)
                .bind(a.next_cycle)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            rows.push(row);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let values: Vec<Option<f64>> = actions.iter().map(|a| a.value).collect();
        sqlx::query(OPEN_EPISODES)
            .bind(&ids)
            .bind(values)
            .execute(&mut *tx)
            .await?;
        sync_episodes(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Opens or refreshes a `GslGuardBrake` episode per braked policy of `account`, and resolves those of
    /// its other policies.
    pub async fn guard_brakes(
        &self,
        fence: &Fence,
        account: &str,
        braked: &[Brake],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        let subjects: Vec<String> = braked
            .iter()
            .map(|b| format!("guard-brake:{}", b.policy))
            .collect();
        sqlx::query(
            "UPDATE alerts SET resolved_at = $3 WHERE account = $1 AND kind = 'GslGuardBrake'
               AND resolved_at IS NULL AND NOT (subject = ANY($2))",
        )
        .bind(account)
        .bind(&subjects)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (b, subject) in braked.iter().zip(&subjects) {
            let details = serde_json::json!({
                "policy": b.policy, "matched": b.matched, "limit": b.limit, "today": b.today,
                "fleet_cards": b.fleet_cards,
            });
            sqlx::query(
                "INSERT INTO alerts AS a (account, kind, severity, subject, started_at, value, threshold, details)
                 VALUES ($1, 'GslGuardBrake', 'critical', $2, $3, $4, $5, $6)
                 ON CONFLICT (account, kind, subject) WHERE resolved_at IS NULL DO UPDATE
                     SET value = EXCLUDED.value, threshold = EXCLUDED.threshold, details = EXCLUDED.details
                     WHERE (a.value, a.threshold, a.details)
                           IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.threshold, EXCLUDED.details)",
            )
            .bind(account)
            .bind(subject)
            .bind(now)
            .bind(b.matched as f64)
            .bind(b.limit as f64)
            .bind(details)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` queued enforce decisions of `account` due at `now` (status `sending`), and
    /// gives back claims older than `stale_before` (a sender that died) with a 5-minute wait.
    pub async fn claim_queued_guard_actions(
        &self,
        fence: &Fence,
        account: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<GuardAction>> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        sqlx::query(
            "UPDATE guard_actions SET status = 'queued', not_before = $2 + interval '5 minutes'
             WHERE account = $1 AND closed_at IS NULL AND status = 'sending' AND checked_at < $3",
        )
        .bind(account)
        .bind(now)
        .bind(stale_before)
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "UPDATE guard_actions SET status = 'sending', checked_at = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM guard_actions
                          WHERE account = $1 AND closed_at IS NULL AND status = 'queued'
                            AND (not_before IS NULL OR not_before <= $2)
                          ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        );
        let mut rows: Vec<GuardAction> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Claims one decision by id for a person's `approve` (a dry-run decision turned enforce) or `undo`
    /// (an enforced one being restored): `None` when it is not in one of `from` statuses.
    pub async fn claim_guard_action(
        &self,
        id: i64,
        from: &[&str],
        status: &str,
        mode: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<GuardAction>> {
        let mut tx = self.pool().begin().await?;
        // Never two enforced decisions open on one card.
        let sql = format!(
            "UPDATE guard_actions g SET status = $3, mode = coalesce($4, mode), checked_at = $5
             WHERE id = $1 AND status = ANY($2) AND closed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM guard_actions o
                               WHERE o.account = g.account AND o.sim_card_id = g.sim_card_id AND o.id <> g.id
                                 AND o.mode = 'enforce' AND o.closed_at IS NULL AND coalesce($4, g.mode) = 'enforce')
             RETURNING {COLUMNS}"
        );
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        let row: Option<GuardAction> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(from)
            .bind(status)
            .bind(mode)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = &row {
            sync_episodes(&mut tx, &[r.id]).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Sets a decision's status, and what came with it: a work order (`order`, of the action or, while
    /// restoring, of the restore), an error, a time before which it is not sent again, and the time it
    /// completed, was restored or closed. Its episode follows.
    pub async fn update_guard_action(&self, fence: &Fence, id: i64, change: &Change) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        sqlx::query(
            "UPDATE guard_actions SET status = $2,
                 work_order_id = CASE WHEN $2 IN ('pending') THEN coalesce($3, work_order_id) ELSE work_order_id END,
                 restore_work_order_id = CASE WHEN $2 = 'restoring' THEN coalesce($3, restore_work_order_id)
                                              ELSE restore_work_order_id END,
                 sent_at = CASE WHEN $2 = 'pending' AND $3 IS NOT NULL THEN $8 ELSE sent_at END,
                 error = coalesce($4, error), not_before = $5,
                 completed_at = coalesce($6, completed_at), restored_at = coalesce($7, restored_at),
                 checked_at = $8, closed_at = coalesce($9, closed_at)
             WHERE id = $1",
        )
        .bind(id)
        .bind(&change.status)
        .bind(change.work_order_id)
        .bind(&change.error)
        .bind(change.not_before)
        .bind(change.completed_at)
        .bind(change.restored_at)
        .bind(change.now)
        .bind(change.closed_at)
        .execute(&mut *tx)
        .await?;
        sync_episodes(&mut tx, &[id]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes that a pending order was looked at and is still pending (its episode is unchanged).
    pub async fn guard_checked(&self, fence: &Fence, id: i64, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        sqlx::query("UPDATE guard_actions SET checked_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sent orders of `account` not yet confirmed (`pending`, `restoring`), not looked at since
    /// `checked_before`; oldest first.
    pub async fn guard_orders_to_check(
        &self,
        account: &str,
        checked_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<GuardAction>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM guard_actions
             WHERE account = $1 AND closed_at IS NULL
               AND ((status = 'pending' AND work_order_id IS NOT NULL)
                 OR (status = 'restoring' AND restore_work_order_id IS NOT NULL))
               AND (checked_at IS NULL OR checked_at < $2)
             ORDER BY checked_at NULLS FIRST, id LIMIT $3"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .bind(checked_before)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Open decisions of `account` whose card's billing cycle has ended by `today` and that the end of
    /// the cycle changes: enforced ones to restore (`restore = next_cycle`, not waiting before `now`), and
    /// those with nothing in effect, to close. Orders in flight and manual restores are left alone.
    pub async fn guard_cycle_ended(
        &self,
        account: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<GuardAction>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM guard_actions
             WHERE account = $1 AND closed_at IS NULL AND next_cycle <= $2
               AND (status IN ('dry_run', 'refused', 'failed', 'restored', 'dismissed', 'queued')
                 OR (status = 'completed' AND restore = 'next_cycle'
                     AND (not_before IS NULL OR not_before <= $4)))
             ORDER BY id LIMIT $3"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .bind(today)
            .bind(limit)
            .bind(now)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn guard_action(&self, id: i64) -> Result<Option<GuardAction>> {
        let sql = format!("SELECT {COLUMNS} FROM guard_actions WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The newest `limit` decisions, open ones only when `open_only`.
    pub async fn guard_actions(&self, open_only: bool, limit: i64) -> Result<Vec<GuardAction>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM guard_actions WHERE NOT $1 OR closed_at IS NULL
             ORDER BY requested_at DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(open_only)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Decisions since `since` per account, policy, mode and status (an index range on `requested_at`).
    pub async fn guard_status_counts(&self, since: DateTime<Utc>) -> Result<Vec<StatusCount>> {
        Ok(sqlx::query_as::<_, StatusCount>(
            "SELECT account, policy, mode, status, count(*) AS actions FROM guard_actions
             WHERE requested_at >= $1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?)
    }
}

/// A status change of one decision (see `Store::update_guard_action`).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub status: String,
    pub now: DateTime<Utc>,
    pub work_order_id: Option<i64>,
    pub error: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub restored_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Change {
    pub fn to(status: &str, now: DateTime<Utc>) -> Self {
        Self {
            status: status.to_owned(),
            now,
            work_order_id: None,
            error: None,
            not_before: None,
            completed_at: None,
            restored_at: None,
            closed_at: None,
        }
    }
}

async fn sync_episodes(tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> Result<()> {
    sqlx::query(SYNC_EPISODES)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
