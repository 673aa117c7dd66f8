//! Flow pools: `sim_pools`, their per-cycle usage `sim_pool_usage`, and members `sim_pool_members`. Pools
//! are few (tens to hundreds), so these merge with plain batched statements rather than COPY.

use sqlx::QueryBuilder;

use super::rows::{MergeStats, PoolMemberRow, PoolRow, PoolUsageRow};
use super::{Fence, Result, Store};

/// Rows per statement: well under Postgres' 65,535 bind parameters.
const CHUNK: usize = 2000;

fn counts(rows: &[(bool,)], total: usize) -> MergeStats {
    let inserted = rows.iter().filter(|r| r.0).count() as u64;
    let updated = rows.len() as u64 - inserted;
    MergeStats {
        inserted,
        updated,
        unchanged: total as u64 - inserted - updated,
    }
}

/// One batched upsert: `insert` names the table and columns, `bind` pushes one row's values after the
/// account, `conflict` is the `ON CONFLICT ... RETURNING (xmax = 0)` tail. Each chunk is its own transaction.
struct Batched<'a, T> {
    insert: &'a str,
    bind: fn(&mut sqlx::query_builder::Separated<'_, sqlx::Postgres, &'static str>, &'a T),
    conflict: &'a str,
}

impl Store {
    async fn merge_batched<'a, T>(
        &self,
        fence: &Fence,
        account: &'a str,
        rows: &'a [T],
        batched: Batched<'a, T>,
    ) -> Result<MergeStats> {
        let mut total = MergeStats::default();
        for chunk in rows.chunks(CHUNK) {
            let mut tx = self.pool().begin().await?;
            fence.check(&mut tx).await?;
            let mut q = QueryBuilder::new(batched.insert);
            q.push_values(chunk.iter(), |mut b, r| {
                b.push_bind(account);
                (batched.bind)(&mut b, r);
            });
            q.push(batched.conflict);
            let changed: Vec<(bool,)> = q.build_query_as().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            total += counts(&changed, chunk.len());
        }
        Ok(total)
    }

    pub async fn merge_pools(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[PoolRow],
    ) -> Result<MergeStats> {
        let rows = dedup(rows, |r| (r.kind, r.sim_pool_id));
        self.merge_batched(fence, account, &rows, Batched {
            insert: "INSERT INTO sim_pools AS p (account, kind, sim_pool_id, pool_name, price_plan_name, price_plan_id, status,
                 quantity, activated_sim_quantity, inactive_sim_quantity, disassembled_sim_quantity, effective_time, expired_time) ",
            bind: |b, r| {
                b.push_bind(r.kind)
                    .push_bind(r.sim_pool_id)
                    .push_bind(&r.pool_name)
                    .push_bind(&r.price_plan_name)
                    .push_bind(&r.price_plan_id)
                    .push_bind(r.status)
                    .push_bind(r.quantity)
                    .push_bind(r.activated_sim_quantity)
                    .push_bind(r.inactive_sim_quantity)
                    .push_bind(r.disassembled_sim_quantity)
                    .push_bind(r.effective_time)
                    .push_bind(r.expired_time);
            },
            conflict: " ON CONFLICT (account, kind, sim_pool_id) DO UPDATE SET pool_name = EXCLUDED.pool_name,
                 price_plan_name = EXCLUDED.price_plan_name, price_plan_id = EXCLUDED.price_plan_id, status = EXCLUDED.status,
                 quantity = EXCLUDED.quantity, activated_sim_quantity = EXCLUDED.activated_sim_quantity,
                 inactive_sim_quantity = EXCLUDED.inactive_sim_quantity, disassembled_sim_quantity = EXCLUDED.disassembled_sim_quantity,
                 effective_time = EXCLUDED.effective_time, expired_time = EXCLUDED.expired_time, last_seen_at = now(), removed_at = NULL
                 WHERE (p.pool_name, p.price_plan_name, p.price_plan_id, p.status, p.quantity, p.activated_sim_quantity,
                        p.inactive_sim_quantity, p.disassembled_sim_quantity, p.effective_time, p.expired_time, p.removed_at IS NULL)
                 IS DISTINCT FROM (EXCLUDED.pool_name, EXCLUDED.price_plan_name, EXCLUDED.price_plan_id, EXCLUDED.status,
                        EXCLUDED.quantity, EXCLUDED.activated_sim_quantity, EXCLUDED.inactive_sim_quantity,
                        EXCLUDED.disassembled_sim_quantity, EXCLUDED.effective_time, EXCLUDED.expired_time, true)
                 RETURNING (xmax = 0)",
        })
        .await
    }

    pub async fn merge_pool_usage(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[PoolUsageRow],
    ) -> Result<MergeStats> {
        let rows = dedup(rows, |r| (r.kind, r.sim_pool_id, r.billing_cycle));
        self.merge_batched(fence, account, &rows, Batched {
            insert: "INSERT INTO sim_pool_usage AS u (account, kind, sim_pool_id, billing_cycle, flow_total_mb, flow_used_mb, flow_left_mb) ",
            bind: |b, r| {
                b.push_bind(r.kind)
                    .push_bind(r.sim_pool_id)
                    .push_bind(r.billing_cycle)
                    .push_bind(r.flow_total_mb)
                    .push_bind(r.flow_used_mb)
                    .push_bind(r.flow_left_mb);
            },
            conflict: " ON CONFLICT (account, kind, sim_pool_id, billing_cycle) DO UPDATE SET flow_total_mb = EXCLUDED.flow_total_mb,
                 flow_used_mb = EXCLUDED.flow_used_mb, flow_left_mb = EXCLUDED.flow_left_mb, fetched_at = now()
                 WHERE (u.flow_total_mb, u.flow_used_mb, u.flow_left_mb)
                   IS DISTINCT FROM (EXCLUDED.flow_total_mb, EXCLUDED.flow_used_mb, EXCLUDED.flow_left_mb)
                 RETURNING (xmax = 0)",
        })
        .await
    }

    pub async fn merge_pool_members(
        &self,
        fence: &Fence,
        account: &str,
        rows: &[PoolMemberRow],
    ) -> Result<MergeStats> {
        let rows = dedup(rows, |r| {
            (r.kind, r.sim_pool_id, r.billing_cycle, r.cid.clone())
        });
        self.merge_batched(fence, account, &rows, Batched {
            insert: "INSERT INTO sim_pool_members AS m (account, kind, sim_pool_id, billing_cycle, cid, sim_price_plan_id, flow_used_mb, sim_status) ",
            bind: |b, r| {
                b.push_bind(r.kind)
                    .push_bind(r.sim_pool_id)
                    .push_bind(r.billing_cycle)
                    .push_bind(&r.cid)
                    .push_bind(r.sim_price_plan_id)
                    .push_bind(r.flow_used_mb)
                    .push_bind(r.sim_status);
            },
            conflict: " ON CONFLICT (account, kind, sim_pool_id, billing_cycle, cid) DO UPDATE SET sim_price_plan_id = EXCLUDED.sim_price_plan_id,
                 flow_used_mb = EXCLUDED.flow_used_mb, sim_status = EXCLUDED.sim_status, fetched_at = now()
                 WHERE (m.sim_price_plan_id, m.flow_used_mb, m.sim_status)
                   IS DISTINCT FROM (EXCLUDED.sim_price_plan_id, EXCLUDED.flow_used_mb, EXCLUDED.sim_status)
                 RETURNING (xmax = 0)",
        })
        .await
    }
}

/// Keeps the last row for each key, in first-seen order: Postgres refuses to update one row twice in one
/// statement.
fn dedup<T: Clone, K: std::hash::Hash + Eq>(rows: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut index = std::collections::HashMap::new();
    let mut out: Vec<T> = Vec::with_capacity(rows.len());
    for r in rows {
        match index.entry(key(r)) {
            std::collections::hash_map::Entry::Occupied(e) => out[*e.get()] = r.clone(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(r.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_the_last_of_each_key() {
        let rows = vec![(1, "a"), (2, "b"), (1, "c")];
        assert_eq!(dedup(&rows, |r| r.0), vec![(1, "c"), (2, "b")]);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn pool_merges_are_idempotent(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let f = Fence::unfenced();
        let cycle = "2026-11-01".parse().unwrap();
        let pools = vec![PoolRow {
            kind: "forward",
            sim_pool_id: 7.into(),
            pool_name: Some("华北池".into()),
            ..PoolRow::default()
        }];
        let usage = vec![PoolUsageRow {
            kind: "forward",
            sim_pool_id: 7.into(),
            billing_cycle: cycle,
            flow_total_mb: Some(1000.0),
            flow_used_mb: Some(10.0),
            flow_left_mb: Some(990.0),
        }];
        let members = vec![PoolMemberRow {
            kind: "forward",
            sim_pool_id: 7.into(),
            billing_cycle: cycle,
            cid: "898600".into(),
            sim_price_plan_id: None,
            flow_used_mb: Some(1.0),
            sim_status: None,
        }];
        for round in 0..2 {
            let a = store.merge_pools(&f, "main", &pools).await.unwrap();
            let b = store.merge_pool_usage(&f, "main", &usage).await.unwrap();
            let c = store
                .merge_pool_members(&f, "main", &members)
                .await
                .unwrap();
            let added = a.inserted + b.inserted + c.inserted;
            assert_eq!(added, if round == 0 { 3 } else { 0 });
            assert_eq!(a.updated + b.updated + c.updated, 0);
        }
    }
}
