//! The one staged merge: rows are COPYed into a temp table and merged by set-based statements in one
//! transaction, after a fence check. Cards, daily flow and month usage all go through it.

use sqlx::postgres::PgArguments;
use sqlx::{Postgres, Transaction};

use super::rows::MergeStats;
use super::{Fence, Result, Store};

/// The statements of a staged merge. Each of `before` binds `$1` = account; `merge` binds `$1` = account and
/// returns `(inserted, updated, distinct keys)`; each of `then` binds `$1` = account and `$2` = `run_id`.
pub(super) struct Staged<'a> {
    pub create: &'a str,
    pub before: &'a [&'static str],
    pub merge: &'a str,
    pub then: &'a [&'static str],
    pub run_id: Option<i64>,
}

/// How rows reach the stage.
pub(super) enum Fill<'a> {
    /// COPY text: the card list's 40 columns.
    Copy { statement: &'a str, data: Vec<u8> },
    /// One INSERT from array parameters, sent in one write. COPY sends its data and its end in two writes,
    /// and on a connection without TCP_NODELAY (sqlx 0.9 sets none) Nagle's algorithm holds the end back
    /// until the server's delayed ACK: ~40 ms per merge, 100 s of a million-card night's daily flow.
    Insert(sqlx::query::Query<'a, Postgres, PgArguments>),
}

impl Store {
    pub(super) async fn merge_staged(
        &self,
        fence: &Fence,
        account: &str,
        staged: Staged<'_>,
        fill: Fill<'_>,
    ) -> Result<MergeStats> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        // Every statement is built from constants of this crate; no value is spliced into them.
        sqlx::query(sqlx::AssertSqlSafe(staged.create))
            .execute(&mut *tx)
            .await?;
        match fill {
            Fill::Copy { statement, data } => copy_in(&mut tx, statement, data).await?,
            Fill::Insert(insert) => {
                insert.execute(&mut *tx).await?;
            }
        }
        for before in staged.before {
            sqlx::query(*before).bind(account).execute(&mut *tx).await?;
        }
        let counts = sqlx::query_as(sqlx::AssertSqlSafe(staged.merge))
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
        for then in staged.then {
            sqlx::query(*then)
                .bind(account)
                .bind(staged.run_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(stats(counts))
    }
}

fn stats((inserted, updated, distinct): (i64, i64, i64)) -> MergeStats {
    MergeStats {
        inserted: inserted as u64,
        updated: updated as u64,
        unchanged: (distinct - inserted - updated).max(0) as u64,
    }
}

async fn copy_in(tx: &mut Transaction<'_, Postgres>, statement: &str, data: Vec<u8>) -> Result<()> {
    let mut copy = tx.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(data).await {
        let _ = copy.abort(e.to_string()).await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}
