//! The card list: `sim_cards` (latest state), `sim_snapshots` (one row per card per data day) and the
//! seen-set that lets a complete pass mark the missing cards removed.

use chrono::{DateTime, Utc};
use gsl_domain::SimCardId;

use super::copy::CopyLine;
use super::rows::{CardRow, MergeStats};
use super::staged::{Fill, Staged};
use super::{Fence, Result, Store};

/// The `sim_cards` columns a listing sets, in staging order (after `ord`).
const CARD_COLUMNS: &[&str] = &[
    "sim_card_id",
    "iccid",
    "cid",
    "msisdn",
    "imsi",
    "imei",
    "account_id",
    "sim_type",
    "sim_status",
    "operator_status",
    "device_status",
    "device_model",
    "device_status_date",
    "node_id",
    "network_type",
    "dbm",
    "signal_level",
    "sim_pool_id",
    "order_id",
    "price_plan_name",
    "sim_price_plan_id",
    "flow_used_mb",
    "flow_left_mb",
    "act_date",
    "expire_time",
    "tag_names",
    "real_named",
    "cut_net_flag",
    "exceed_cut_net_flag",
    "exceed_cut_net_quota",
    "imei_bind_remain_times",
    "speed_value",
    "customer_attribute1",
    "customer_attribute2",
    "customer_attribute3",
    "customer_attribute4",
    "customer_attribute5",
    "customer_attribute6",
    "data_date",
];

/// The last row of each card in `rows`: a batch names a card twice only when the list drifted, and the later
/// listing is the newer one. Collapsing here, not in SQL, spares every merge statement a sort of wide rows.
fn last_per_card(rows: &[CardRow]) -> Vec<&CardRow> {
    let mut last = std::collections::HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(r.sim_card_id, i);
    }
    if last.len() == rows.len() {
        return rows.iter().collect();
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| &rows[i]).collect()
}

fn encode(rows: &[&CardRow]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 400);
    for r in rows {
        CopyLine::new(&mut out)
            .field(&r.sim_card_id)
            .field(&r.iccid)
            .field(&r.cid)
            .field(&r.msisdn)
            .field(&r.imsi)
            .field(&r.imei)
            .field(&r.account_id)
            .field(&r.sim_type)
            .field(&r.sim_status)
            .field(&r.operator_status)
            .field(&r.device_status)
            .field(&r.device_model)
            .field(&r.device_status_date)
            .field(&r.node_id)
            .field(&r.network_type)
            .field(&r.dbm)
            .field(&r.signal_level)
            .field(&r.sim_pool_id)
            .field(&r.order_id)
            .field(&r.price_plan_name)
            .field(&r.sim_price_plan_id)
            .field(&r.flow_used_mb)
            .field(&r.flow_left_mb)
            .field(&r.act_date)
            .field(&r.expire_time)
            .field(&r.tag_names)
            .field(&r.real_named)
            .field(&r.cut_net_flag)
            .field(&r.exceed_cut_net_flag)
            .field(&r.exceed_cut_net_quota)
            .field(&r.imei_bind_remain_times)
            .field(&r.speed_value)
            .field(&r.customer_attribute1)
            .field(&r.customer_attribute2)
            .field(&r.customer_attribute3)
            .field(&r.customer_attribute4)
            .field(&r.customer_attribute5)
            .field(&r.customer_attribute6)
            .field(&r.data_date)
            .end();
    }
    out
}

fn merge_cards_sql() -> String {
    let cols = CARD_COLUMNS.join(", ");
    let target: Vec<String> = CARD_COLUMNS.iter().map(|c| format!("c.{c}")).collect();
    let excluded: Vec<String> = CARD_COLUMNS
        .iter()
        .map(|c| format!("EXCLUDED.{c}"))
        .collect();
    let set: Vec<String> = CARD_COLUMNS
        .iter()
        .filter(|c| **c != "sim_card_id")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    // Unchanged rows are not rewritten: no dead tuples, no WAL, and last_seen_at moves only when the card
    // changed or its figures reached a new data day (data_date is among the compared columns).
    format!(
        "WITH merged AS (
           INSERT INTO sim_cards AS c (account, {cols})
           SELECT $1, {cols} FROM stage_cards
           ON CONFLICT (account, sim_card_id) DO UPDATE SET {set}, last_seen_at = now(), updated_at = now(), removed_at = NULL
           WHERE ({target}, c.removed_at IS NULL) IS DISTINCT FROM ({excluded}, true)
           RETURNING (xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                (SELECT count(*) FROM stage_cards) FROM merged",
        set = set.join(", "),
        target = target.join(", "),
        excluded = excluded.join(", "),
    )
}

const SEEN_SQL: &str =
    "INSERT INTO inventory_seen (run_id, sim_card_id) SELECT $2, sim_card_id FROM stage_cards ON CONFLICT DO NOTHING";

const SNAPSHOT_SQL: &str = "INSERT INTO sim_snapshots AS s (account, sim_card_id, data_date, flow_used_mb, flow_left_mb, operator_status, sim_status)
   SELECT $1, sim_card_id, data_date, flow_used_mb, flow_left_mb, operator_status, sim_status FROM stage_cards
   ON CONFLICT (account, sim_card_id, data_date) DO UPDATE
   SET flow_used_mb = EXCLUDED.flow_used_mb, flow_left_mb = EXCLUDED.flow_left_mb,
       operator_status = EXCLUDED.operator_status, sim_status = EXCLUDED.sim_status, captured_at = now()
   WHERE (s.flow_used_mb, s.flow_left_mb, s.operator_status, s.sim_status)
     IS DISTINCT FROM (EXCLUDED.flow_used_mb, EXCLUDED.flow_left_mb, EXCLUDED.operator_status, EXCLUDED.sim_status)";

impl Store {
    /// Upserts listed cards, writes their snapshot for the data day, and records them as seen by `run_id`.
    pub async fn merge_cards(
        &self,
        fence: &Fence,
        account: &str,
        run_id: i64,
        rows: &[CardRow],
    ) -> Result<MergeStats> {
        if rows.is_empty() {
            return Ok(MergeStats::default());
        }
        let (min, max) = rows
            .iter()
            .fold((rows[0].data_date, rows[0].data_date), |(lo, hi), r| {
                (lo.min(r.data_date), hi.max(r.data_date))
            });
        self.ensure_partitions(min, max).await?;
        // Staged in card order, so concurrent merges that share a card (a drifting list) take its row lock
        // in the same order and cannot deadlock.
        let mut rows = last_per_card(rows);
        rows.sort_unstable_by_key(|r| r.sim_card_id);
        // Staged rows are unique per card (see `last_per_card`), so the statements below need no DISTINCT.
        let create = format!(
            "CREATE TEMP TABLE IF NOT EXISTS stage_cards ON COMMIT DELETE ROWS AS SELECT {} FROM sim_cards WITH NO DATA",
            CARD_COLUMNS.join(", ")
        );
        let copy = format!("COPY stage_cards ({}) FROM STDIN", CARD_COLUMNS.join(", "));
        self.merge_staged(
            fence,
            account,
            Staged {
                create: &create,
                before: &[],
                merge: &merge_cards_sql(),
                then: &[SNAPSHOT_SQL, SEEN_SQL],
                run_id: Some(run_id),
            },
            Fill::Copy {
                statement: &copy,
                data: encode(&rows),
            },
        )
        .await
    }

    /// Ends a pass: when `complete`, cards of the account that this run did not see are marked removed.
    /// Always forgets the run's seen-set. Returns how many cards were marked removed.
    pub async fn finish_inventory_pass(
        &self,
        fence: &Fence,
        account: &str,
        run_id: i64,
        complete: bool,
    ) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        fence.check(&mut tx).await?;
        let mut removed = 0;
        if complete {
            removed = sqlx::query(
                "UPDATE sim_cards c SET removed_at = now(), updated_at = now()
                 WHERE c.account = $1 AND c.removed_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM inventory_seen s WHERE s.run_id = $2 AND s.sim_card_id = c.sim_card_id)",
            )
            .bind(account)
            .bind(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        sqlx::query("DELETE FROM inventory_seen WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Cards of the account not removed, by id: the ids alone, 8 bytes a card, since a job holds the
    /// whole list for its run (a million cards).
    pub async fn active_cards(&self, account: &str) -> Result<Vec<SimCardId>> {
        let rows = sqlx::query_scalar::<_, SimCardId>(
            "SELECT sim_card_id FROM sim_cards WHERE account = $1 AND removed_at IS NULL ORDER BY sim_card_id",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Current cards first seen at or after `since` (every current card without one), with the database's
    /// clock at the read, so the caller's next `since` follows the same clock.
    pub async fn cards_first_seen_since(
        &self,
        account: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<(DateTime<Utc>, Vec<SimCardId>)> {
        let Some(since) = since else {
            let now = sqlx::query_scalar("SELECT now()")
                .fetch_one(self.pool())
                .await?;
            return Ok((now, self.active_cards(account).await?));
        };
        let mut tx = self.pool().begin().await?;
        let now = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query_scalar::<_, SimCardId>(
            "SELECT sim_card_id FROM sim_cards
             WHERE account = $1 AND first_seen_at >= $2 AND removed_at IS NULL ORDER BY sim_card_id",
        )
        .bind(account)
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((now, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn card(id: i64, used: f64, day: &str) -> CardRow {
        CardRow {
            sim_card_id: id.into(),
            iccid: Some(format!("8986{id:016}")),
            price_plan_name: Some("物联网卡流量包-10GB\t(tab)".into()),
            flow_used_mb: Some(used),
            flow_left_mb: Some(10240.0 - used),
            operator_status: Some(-1),
            sim_status: Some(20),
            data_date: day.parse::<NaiveDate>().unwrap(),
            ..CardRow::default()
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn merges_count_inserts_updates_and_skip_unchanged_rows(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let f = Fence::unfenced();
        let rows = vec![card(1, 10.0, "2026-11-19"), card(2, 20.0, "2026-11-19")];
        let s = store.merge_cards(&f, "main", 1, &rows).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (2, 0, 0));
        let s = store.merge_cards(&f, "main", 2, &rows).await.unwrap();
        assert_eq!(
            (s.inserted, s.updated, s.unchanged),
            (0, 0, 2),
            "a rerun changes nothing"
        );
        // A batch naming a card twice: the last one wins.
        let s = store
            .merge_cards(
                &f,
                "main",
                3,
                &[card(1, 11.0, "2026-11-19"), card(1, 12.0, "2026-11-19")],
            )
            .await
            .unwrap();
        assert_eq!((s.inserted, s.updated), (0, 1));
        let used: f64 =
            sqlx::query_scalar("SELECT flow_used_mb FROM sim_cards WHERE sim_card_id = 1")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(used, 12.0);
        let plan: String =
            sqlx::query_scalar("SELECT price_plan_name FROM sim_cards WHERE sim_card_id = 1")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(plan, "物联网卡流量包-10GB\t(tab)");
        // Next data day: a new snapshot row per card.
        store
            .merge_cards(&f, "main", 4, &[card(1, 15.0, "2026-11-20")])
            .await
            .unwrap();
        let snaps: i64 = sqlx::query_scalar("SELECT count(*) FROM sim_snapshots")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(snaps, 3);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn only_a_complete_pass_marks_removals_and_a_returning_card_is_restored(
        pool: sqlx::PgPool,
    ) {
        let store = Store::from_pool(pool.clone());
        let f = Fence::unfenced();
        let day = "2026-11-19";
        store
            .merge_cards(
                &f,
                "main",
                1,
                &[card(1, 1.0, day), card(2, 1.0, day), card(3, 1.0, day)],
            )
            .await
            .unwrap();
        store
            .finish_inventory_pass(&f, "main", 1, true)
            .await
            .unwrap();
        store
            .merge_cards(&f, "main", 2, &[card(1, 1.0, day)])
            .await
            .unwrap();
        assert_eq!(
            store
                .finish_inventory_pass(&f, "main", 2, false)
                .await
                .unwrap(),
            0,
            "incomplete: nothing removed"
        );
        store
            .merge_cards(&f, "main", 3, &[card(1, 1.0, day), card(2, 1.0, day)])
            .await
            .unwrap();
        assert_eq!(
            store
                .finish_inventory_pass(&f, "main", 3, true)
                .await
                .unwrap(),
            1
        );
        let active: Vec<i64> = store
            .active_cards("main")
            .await
            .unwrap()
            .into_iter()
            .map(SimCardId::get)
            .collect();
        assert_eq!(active, vec![1, 2]);
        let s = store
            .merge_cards(&f, "main", 4, &[card(3, 1.0, day)])
            .await
            .unwrap();
        assert_eq!(s.updated, 1, "a card that came back is restored");
        assert_eq!(store.active_cards("main").await.unwrap().len(), 3);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_seen WHERE run_id <> 4")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "finished runs leave no seen-set behind");
    }

    #[test]
    fn staging_columns_match_the_encoder() {
        let line = encode(&[&card(1, 1.0, "2026-11-19")]);
        let fields = String::from_utf8(line)
            .unwrap()
            .trim_end()
            .split('\t')
            .count();
        assert_eq!(fields, CARD_COLUMNS.len());
    }

    #[test]
    fn a_card_listed_twice_in_a_batch_keeps_its_last_listing_in_order() {
        let rows = [
            card(1, 1.0, "2026-11-19"),
            card(2, 2.0, "2026-11-19"),
            card(1, 3.0, "2026-11-19"),
        ];
        let kept: Vec<(i64, Option<f64>)> = last_per_card(&rows)
            .iter()
            .map(|r| (r.sim_card_id.get(), r.flow_used_mb))
            .collect();
        assert_eq!(kept, [(2, Some(2.0)), (1, Some(3.0))]);
    }
}
