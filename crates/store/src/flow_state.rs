//! The daily-flow planner's memory: per account and month, how far daily flow has been fetched.

use chrono::NaiveDate;

use super::{Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FlowMonthState {
    pub month: NaiveDate,
    pub complete_through: NaiveDate,
    pub closed: bool,
}

impl Store {
    pub async fn daily_flow_state(&self, account: &str) -> Result<Vec<FlowMonthState>> {
        let rows = sqlx::query_as::<_, FlowMonthState>(
            "SELECT month, complete_through, closed FROM daily_flow_state WHERE account = $1 ORDER BY month",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Records a fetched month; progress never moves backwards and a closed month stays closed.
    pub async fn record_daily_flow_fetched(
        &self,
        account: &str,
        state: FlowMonthState,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO daily_flow_state (account, month, complete_through, closed) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, month) DO UPDATE
             SET complete_through = GREATEST(daily_flow_state.complete_through, EXCLUDED.complete_through),
                 closed = daily_flow_state.closed OR EXCLUDED.closed,
                 updated_at = now()
             WHERE daily_flow_state.complete_through < EXCLUDED.complete_through
                OR (EXCLUDED.closed AND NOT daily_flow_state.closed)",
        )
        .bind(account)
        .bind(state.month)
        .bind(state.complete_through)
        .bind(state.closed)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn progress_only_moves_forward(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let state = |through: &str, closed| FlowMonthState {
            month: d("2026-10-01"),
            complete_through: d(through),
            closed,
        };
        store
            .record_daily_flow_fetched("main", state("2026-10-20", false))
            .await
            .unwrap();
        store
            .record_daily_flow_fetched("main", state("2026-10-10", false))
            .await
            .unwrap();
        assert_eq!(
            store.daily_flow_state("main").await.unwrap(),
            vec![state("2026-10-20", false)]
        );
        store
            .record_daily_flow_fetched("main", state("2026-10-31", true))
            .await
            .unwrap();
        store
            .record_daily_flow_fetched("main", state("2026-10-31", false))
            .await
            .unwrap();
        assert_eq!(
            store.daily_flow_state("main").await.unwrap(),
            vec![state("2026-10-31", true)]
        );
        assert!(store.daily_flow_state("other").await.unwrap().is_empty());
    }
}
