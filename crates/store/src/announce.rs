//! Tells every replica that the syncer finished a job and what follows it, so followers refresh their gauges
//! within seconds instead of serving the figures they read at start (Postgres LISTEN/NOTIFY).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;

use super::{Result, Store};

const CHANNEL: &str = "gsl_sync_refresh";

/// What a listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A syncer (named by its holder) finished a job.
    Finished { holder: String },
    /// The listening connection was lost and is back: announcements may have been missed meanwhile.
    Reconnected,
}

/// A dedicated connection listening for announcements.
pub struct RefreshListener {
    inner: PgListener,
}

impl RefreshListener {
    /// Waits for the next announcement.
    pub async fn next(&mut self) -> Result<Heard> {
        Ok(match self.inner.try_recv().await? {
            Some(n) => Heard::Finished {
                holder: n.payload().to_owned(),
            },
            None => Heard::Reconnected,
        })
    }
}

impl Store {
    /// Announces that `holder` finished a job and its follow-up (alert evaluation, its own gauges).
    pub async fn announce_refresh(&self, holder: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Listens for announcements on a connection of its own (fails where LISTEN is unavailable, such as
    /// behind a transaction-pooling proxy: poll `latest_run_finished` then).
    pub async fn listen_refreshes(&self) -> Result<RefreshListener> {
        let mut inner = PgListener::connect_with(self.pool()).await?;
        inner.listen(CHANNEL).await?;
        Ok(RefreshListener { inner })
    }

    /// When the latest run of any job finished: the cheap poll behind LISTEN.
    pub async fn latest_run_finished(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar("SELECT max(finished_at) FROM sync_runs")
            .fetch_one(self.pool())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn listeners_hear_who_finished(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let mut listener = store.listen_refreshes().await.unwrap();
        store.announce_refresh("replica-a").await.unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
            .await
            .expect("heard within 5 s")
            .unwrap();
        assert_eq!(
            heard,
            Heard::Finished {
                holder: "replica-a".into()
            }
        );
    }
}
