//! Account leases: one Postgres advisory lock per account, all held on one dedicated connection per
//! replica, so N replicas split M accounts and a dead replica's accounts come free the moment Postgres
//! ends its session.

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;

use super::leader::Fence;
use super::{Result, Store};

/// The `application_name` prefix of lease connections: counting them tells how many replicas share the
/// accounts, which sets each one's fair share.
const APPLICATION: &str = "gsl-sync leases";

/// The leases one replica holds, on the connection that holds them.
pub struct Leases {
    conn: Mutex<PgConnection>,
    pid: i32,
    base_key: i64,
    held: std::sync::Mutex<BTreeMap<String, i64>>,
}

impl Leases {
    /// Opens this replica's lease connection; it holds nothing yet.
    pub async fn open(store: &Store, base_key: i64, holder: &str) -> Result<Self> {
        let options = store
            .pool()
            .connect_options()
            .as_ref()
            .clone()
            .application_name(&format!("{APPLICATION} {holder}"));
        let mut conn = PgConnection::connect_with(&options).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await?;
        Ok(Self {
            conn: Mutex::new(conn),
            pid,
            base_key,
            held: Default::default(),
        })
    }

    /// Takes `account`'s lease if no other replica holds it; the fence proves it to every write.
    pub async fn try_take(&self, account: &str) -> Result<Option<Fence>> {
        if let Some(fence) = self.fence(account) {
            return Ok(Some(fence));
        }
        let mut conn = self.conn.lock().await;
        // Postgres hashes the name, so every replica and every version derives the same key.
        let (key, got): (i64, bool) = sqlx::query_as(
            "SELECT k, pg_try_advisory_lock(k) FROM (SELECT hashtextextended($1, $2) AS k) s",
        )
        .bind(account)
        .bind(self.base_key)
        .fetch_one(&mut *conn)
        .await?;
        if !got {
            return Ok(None);
        }
        self.held_map().insert(account.to_owned(), key);
        Ok(Some(Fence::held(key, self.pid)))
    }

    /// Gives `account` back, so another replica can take it.
    pub async fn release(&self, account: &str) -> Result<()> {
        let Some(key) = self.held_map().remove(account) else {
            return Ok(());
        };
        let mut conn = self.conn.lock().await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(key)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The fence of a lease this replica holds.
    pub fn fence(&self, account: &str) -> Option<Fence> {
        self.held_map()
            .get(account)
            .map(|&key| Fence::held(key, self.pid))
    }

    /// The accounts this replica holds, in name order.
    pub fn held(&self) -> Vec<String> {
        self.held_map().keys().cloned().collect()
    }

    /// Replicas with a live lease connection to this database, this one included.
    pub async fn replicas(&self) -> Result<u64> {
        let mut conn = self.conn.lock().await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name LIKE $1",
        )
        .bind(format!("{APPLICATION} %"))
        .fetch_one(&mut *conn)
        .await?;
        Ok(u64::try_from(n).unwrap_or(1).max(1))
    }

    /// True while the connection answers (and so still holds every lease).
    pub async fn alive(&self) -> bool {
        let mut conn = self.conn.lock().await;
        matches!(
            tokio::time::timeout(Duration::from_secs(5), conn.ping()).await,
            Ok(Ok(()))
        )
    }

    /// Lets every lease go and closes the connection.
    pub async fn close(self) {
        let _ = self.conn.into_inner().close().await;
    }

    fn held_map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, i64>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) async fn kill_for_test(&self) {
        use super::leader::CloseHard;
        self.conn.lock().await.close_hard_for_test().await;
    }
}

/// How many accounts one of `replicas` replicas should hold: an even split, rounded up so every account
/// has a holder.
pub fn fair_share(accounts: usize, replicas: u64) -> usize {
    let replicas = usize::try_from(replicas.max(1)).unwrap_or(usize::MAX);
    accounts.div_ceil(replicas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[test]
    fn the_fair_share_covers_every_account() {
        assert_eq!(fair_share(6, 3), 2);
        assert_eq!(fair_share(7, 3), 3);
        assert_eq!(fair_share(1, 3), 1);
        assert_eq!(fair_share(0, 2), 0);
        assert_eq!(fair_share(5, 0), 5);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn each_account_has_one_holder_and_a_dead_holder_frees_them_all(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let a = Leases::open(&store, 77, "a").await.unwrap();
        let b = Leases::open(&store, 77, "b").await.unwrap();
        assert_eq!(a.replicas().await.unwrap(), 2);
        let fence = a.try_take("one").await.unwrap().expect("free");
        assert!(a.try_take("two").await.unwrap().is_some());
        assert!(b.try_take("one").await.unwrap().is_none());
        assert!(b.try_take("three").await.unwrap().is_some());
        assert_eq!(a.held(), ["one", "two"]);
        // Keys are hashes, negative as often as not: the fence must read pg_locks right for both.
        let keys: Vec<i64> = a.held_map().values().copied().collect();
        for key in [i64::MIN + 7, -5, 5] {
            let mut conn = a.conn.lock().await;
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await
                .unwrap();
            drop(conn);
            let mut tx = store.pool().begin().await.unwrap();
            Fence::held(key, a.pid).check(&mut tx).await.expect("held");
        }
        assert!(!keys.is_empty());

        // A released lease is free for the other replica.
        a.release("two").await.unwrap();
        assert!(b.try_take("two").await.unwrap().is_some());

        // The holder's session ends: its accounts come free and its fence stops its writes.
        a.kill_for_test().await;
        // The server ends the session a moment after it is told to.
        let mut taken = None;
        for _ in 0..100 {
            taken = b.try_take("one").await.unwrap();
            if taken.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let taken = taken.expect("taken over");
        let mut tx = store.pool().begin().await.unwrap();
        assert!(matches!(
            fence.check(&mut tx).await,
            Err(StoreError::LostLeadership)
        ));
        taken.check(&mut tx).await.expect("held by b");
        assert_eq!(b.replicas().await.unwrap(), 1);
    }
}
