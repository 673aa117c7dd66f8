//! The store: every SQL statement of gsl-sync lives under this module; it knows nothing of HTTP or GSL.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Failures of the store, split by what a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("this replica no longer holds the sync lock")]
    LostLeadership,
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("cannot connect to database {database} at {target}: {reason}")]
    Connect {
        database: String,
        target: String,
        reason: String,
    },
    #[error("database.url is not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e),
            other => StoreError::Query(other),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// Partitions known to exist, so writes do not ask the catalog every batch.
    partitions: Arc<Mutex<BTreeSet<String>>>,
}

impl Store {
    /// Connects, creating the database first when it is missing and the server allows it.
    ///
    /// One direct connection is tried first, so a refused, timed-out or untrusted server is reported with its
    /// host and reason at once, not after the pool's acquire timeout as "pool timed out".
    pub async fn connect(url: &SecretString, max_connections: u32) -> Result<Self> {
        let options = parse_url(url)?;
        create_database_if_missing(&options).await?;
        connect::probe(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| Box::pin(without_jit(conn)))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Wraps an existing pool (tests hand in the one `#[sqlx::test]` made).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            partitions: Arc::default(),
        }
    }

    fn partition_known(&self, name: &str) -> bool {
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
    }

    fn remember_partition(&self, name: String) {
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name);
    }

    fn forget_partition(&self, name: &str) {
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// True when the database answers and every known migration is applied.
    pub async fn ready(&self) -> bool {
        let applied: std::result::Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await;
        matches!(applied, Ok(n) if n as usize >= MIGRATOR.iter().count())
    }
}

/// Every statement here is either short or a single pass over the fleet run once: compiling it (JIT, past
/// the server's `jit_above_cost`) costs a tenth to a quarter of a second each time and is never earned
/// back, as a month's report at a million cards showed. A session setting, not a startup option, so a
/// pooler that refuses unknown startup parameters still lets the daemon in.
async fn without_jit(conn: &mut sqlx::PgConnection) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("SET jit = off").execute(conn).await.map(drop)
}

/// Parses `database.url`; the error never repeats the URL, which may hold a password.
fn parse_url(url: &SecretString) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url.expose_secret()).map_err(|e| {
        StoreError::BadUrl(connect::without_secrets(
            &e.to_string(),
            url.expose_secret(),
        ))
    })
}

/// Drops the database named in `url` (the demo starts from a clean one each time).
pub async fn drop_database_if_exists(url: &SecretString) -> Result<()> {
    let options = parse_url(url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut conn = options.clone().database("postgres").connect().await?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    let _ = conn.close().await;
    Ok(())
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let admin = options.clone().database("postgres");
    let mut conn = match tokio::time::timeout(connect::PROBE_TIMEOUT, admin.connect()).await {
        Ok(Ok(c)) => c,
        // No maintenance database to ask: let the real connect report the problem.
        Ok(Err(_)) => return Ok(()),
        // A server that does not answer would not answer the probe either: say so now, not twice as late.
        Err(_) => return Err(connect::timed_out(options)),
    };
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut conn)
            .await
        {
            // Another replica may have created it a moment ago; anything else surfaces on connect.
            tracing::warn!(database = %name, error = %e, "could not create database");
        } else {
            tracing::info!(database = %name, "created database");
        }
    }
    let _ = conn.close().await;
    Ok(())
}

pub mod alerts;
mod announce;
mod cards;
mod connect;
mod copy;
mod digest;
pub mod flow_state;
mod flows;
pub mod guard;
mod leader;
mod leases;
mod partitions;
mod pools;
pub mod realtime;
pub mod rows;
mod runs;
mod staged;

pub use announce::{Heard, RefreshListener};
pub use leader::{Fence, LeaderLock};
pub use leases::{fair_share, Leases};
pub use rows::{
    CardRow, DailyFlowRow, MergeStats, MonthlyUsageRow, PoolMemberRow, PoolRow, PoolUsageRow,
};
pub use runs::{RunOutcome, RunStatus};
pub mod gauges;
pub mod reports;
pub mod status;

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn the_daemons_connections_do_not_compile_statements(pool: PgPool) {
        let o = pool.connect_options();
        let url = format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().expect("a database")
        );
        let store = Store::connect(&SecretString::from(url), 2)
            .await
            .expect("connect");
        for _ in 0..3 {
            let jit: String = sqlx::query_scalar("SHOW jit")
                .fetch_one(store.pool())
                .await
                .expect("show");
            assert_eq!(jit, "off");
        }
    }
}
