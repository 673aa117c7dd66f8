//! Leader election: a Postgres advisory lock held on a dedicated connection, and the fence every write checks.

use std::time::Duration;

use sqlx::{Connection, PgConnection, Postgres, Transaction};
use tokio::sync::Mutex;

use super::{Result, Store, StoreError};

/// The sync lock, held for as long as this value and its connection live. When the process dies, Postgres
/// ends the session and frees the lock, so another replica takes over.
pub struct LeaderLock {
    conn: Mutex<PgConnection>,
    key: i64,
    pid: i32,
}

/// Proof of leadership that writes carry: inside the write's transaction the store checks that the lock's
/// session still holds it, so a syncer that lost the lock writes nothing more.
#[derive(Debug, Clone, Copy)]
pub struct Fence {
    held: Option<(i64, i32)>,
}

impl Fence {
    /// No check: for tests and tools that run without election (merges are idempotent anyway).
    pub fn unfenced() -> Self {
        Self { held: None }
    }

    pub(crate) fn held(key: i64, pid: i32) -> Self {
        Self {
            held: Some((key, pid)),
        }
    }

    pub(crate) async fn check(&self, tx: &mut Transaction<'_, Postgres>) -> Result<()> {
        let Some((key, pid)) = self.held else {
            return Ok(());
        };
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1
               AND classid = (($2 >> 32) & 4294967295)::bigint::oid AND objid = ($2 & 4294967295)::bigint::oid AND objsubid = 1)",
        )
        .bind(pid)
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
        if held {
            Ok(())
        } else {
            Err(StoreError::LostLeadership)
        }
    }
}

impl LeaderLock {
    /// Tries once; `None` when another session holds the lock.
    pub async fn try_acquire(store: &Store, key: i64, holder: &str) -> Result<Option<Self>> {
        let options = store
            .pool()
            .connect_options()
            .as_ref()
            .clone()
            .application_name(&format!("gsl-sync leader {holder}"));
        let mut conn = PgConnection::connect_with(&options).await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if !got {
            let _ = conn.close().await;
            return Ok(None);
        }
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await?;
        Ok(Some(Self {
            conn: Mutex::new(conn),
            key,
            pid,
        }))
    }

    pub fn fence(&self) -> Fence {
        Fence {
            held: Some((self.key, self.pid)),
        }
    }

    /// True while the lock's connection answers (and so still holds the lock).
    pub async fn check(&self) -> bool {
        let mut conn = self.conn.lock().await;
        matches!(
            tokio::time::timeout(Duration::from_secs(5), conn.ping()).await,
            Ok(Ok(()))
        )
    }

    pub async fn release(self) {
        let mut conn = self.conn.into_inner();
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn one_holder_at_a_time_and_a_lost_lock_fences_writes(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let key = 4242;
        let first = LeaderLock::try_acquire(&store, key, "a")
            .await
            .unwrap()
            .expect("free lock");
        assert!(LeaderLock::try_acquire(&store, key, "b")
            .await
            .unwrap()
            .is_none());
        assert!(first.check().await);
        let fence = first.fence();
        let mut tx = store.pool().begin().await.unwrap();
        fence.check(&mut tx).await.expect("held");
        drop(tx);

        // The first holder's session ends (as when its process dies): the second takes over, the first's
        // fence no longer lets it write.
        first.conn.lock().await.close_hard_for_test().await;
        let second = LeaderLock::try_acquire(&store, key, "b")
            .await
            .unwrap()
            .expect("taken over");
        let mut tx = store.pool().begin().await.unwrap();
        assert!(matches!(
            fence.check(&mut tx).await,
            Err(StoreError::LostLeadership)
        ));
        second
            .fence()
            .check(&mut tx)
            .await
            .expect("the new holder may write");
        second.release().await;
    }
}

#[cfg(test)]
pub(crate) trait CloseHard {
    async fn close_hard_for_test(&mut self);
}

#[cfg(test)]
impl CloseHard for PgConnection {
    async fn close_hard_for_test(&mut self) {
        // Ends the backend the way a crash would: the server frees its session locks.
        let _ = sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
            .execute(self)
            .await;
    }
}
