//! `sync_runs`: one row per job run and account, from start to its outcome.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub api_calls: u64,
    pub items_seen: u64,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub rows_removed: u64,
    pub gap_days: Vec<NaiveDate>,
    pub details: serde_json::Value,
    pub error: Option<String>,
    /// Daily-flow runs that succeeded: the last day stored for every card.
    pub data_complete_through: Option<NaiveDate>,
}

impl Store {
    pub async fn start_run(&self, account: &str, job: &str, holder: &str) -> Result<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO sync_runs (account, job, holder) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(account)
        .bind(job)
        .bind(holder)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    pub async fn finish_run(&self, id: i64, o: &RunOutcome) -> Result<()> {
        sqlx::query(
            "UPDATE sync_runs SET finished_at = now(), status = $2, api_calls = $3, items_seen = $4, rows_inserted = $5,
             rows_updated = $6, rows_removed = $7, gap_days = $8, details = $9, error = $10,
             data_complete_through = $11,
             -- the night was complete when the first run reached this day, not at each later re-check
             night_complete_at = CASE WHEN $11::date IS NOT NULL THEN COALESCE(
                 (SELECT min(p.night_complete_at) FROM sync_runs p
                  WHERE p.account = sync_runs.account AND p.job = sync_runs.job
                    AND p.data_complete_through = $11::date),
                 now()) END
             WHERE id = $1",
        )
        .bind(id)
        .bind(o.status.as_str())
        .bind(o.api_calls as i64)
        .bind(o.items_seen as i64)
        .bind(o.rows_inserted as i64)
        .bind(o.rows_updated as i64)
        .bind(o.rows_removed as i64)
        .bind(&o.gap_days)
        .bind(&o.details)
        .bind(&o.error)
        .bind(o.data_complete_through)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// True while a run of `job` for `account` is in progress.
    pub async fn job_running(&self, account: &str, job: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sync_runs WHERE account = $1 AND job = $2 AND status = 'running')",
        )
        .bind(account)
        .bind(job)
        .fetch_one(self.pool())
        .await?)
    }

    /// Marks runs still 'running' as failed: called by whoever just took the sync lock, so no syncer can be
    /// running them. Also forgets their inventory seen-sets.
    pub async fn fail_abandoned_runs(&self, accounts: &[&str], by: &str) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query(
            "UPDATE sync_runs SET status = 'failed', finished_at = now(),
             error = 'abandoned: the syncer stopped before the run finished (noticed by ' || $1 || ')'
             WHERE status = 'running' AND account = ANY($2)",
        )
        .bind(by)
        .bind(accounts)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM inventory_seen s WHERE NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = s.run_id AND r.status = 'running')")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn last_success(&self, account: &str, job: &str) -> Result<Option<DateTime<Utc>>> {
        let t = sqlx::query_scalar(
            "SELECT max(finished_at) FROM sync_runs WHERE account = $1 AND job = $2 AND status = 'succeeded'",
        )
        .bind(account)
        .bind(job)
        .fetch_one(self.pool())
        .await?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_run_lives_from_start_to_outcome_and_abandoned_ones_fail(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        assert_eq!(store.last_success("main", "inventory").await.unwrap(), None);
        let id = store.start_run("main", "inventory", "test").await.unwrap();
        store
            .finish_run(
                id,
                &RunOutcome {
                    status: RunStatus::Succeeded,
                    api_calls: 5,
                    items_seen: 2345,
                    rows_inserted: 2345,
                    rows_updated: 0,
                    rows_removed: 0,
                    gap_days: vec!["2026-09-30".parse().unwrap()],
                    details: serde_json::json!({"pages": 5}),
                    error: None,
                    data_complete_through: None,
                },
            )
            .await
            .unwrap();
        assert!(store
            .last_success("main", "inventory")
            .await
            .unwrap()
            .is_some());
        let killed = store.start_run("main", "daily_flow", "test").await.unwrap();
        assert_eq!(
            store
                .fail_abandoned_runs(&["main"], "replica-b")
                .await
                .unwrap(),
            1
        );
        let (status, error): (String, String) =
            sqlx::query_as("SELECT status, error FROM sync_runs WHERE id = $1")
                .bind(killed)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(status, "failed");
        assert!(error.starts_with("abandoned"));
        assert_eq!(
            store.last_success("main", "daily_flow").await.unwrap(),
            None
        );
    }
}
