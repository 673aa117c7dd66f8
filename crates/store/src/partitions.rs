//! Monthly range partitions of the history tables: created ahead of the writes, dropped past retention.

use chrono::{Datelike, Months, NaiveDate};

use super::{Result, Store};

/// The range-partitioned history tables.
pub const PARTITIONED: [&str; 2] = ["sim_daily_flow", "sim_snapshots"];

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1 exists")
}

fn partition_name(table: &str, month: NaiveDate) -> String {
    format!("{table}_p{:04}_{:02}", month.year(), month.month())
}

impl Store {
    /// Creates the missing monthly partitions covering `from..=to`; idempotent and safe beside another
    /// replica doing the same.
    pub async fn ensure_partitions(&self, from: NaiveDate, to: NaiveDate) -> Result<()> {
        let mut month = month_start(from);
        while month <= to {
            let next = month + Months::new(1);
            for table in PARTITIONED {
                let name = partition_name(table, month);
                if self.partition_known(&name) {
                    continue;
                }
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ('{month}') TO ('{next}')"
                );
                match sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(self.pool())
                    .await
                {
                    Ok(_) => {}
                    // Two creators racing: the loser sees a duplicate type or relation; the partition exists.
                    Err(sqlx::Error::Database(e))
                        if matches!(e.code().as_deref(), Some("42P07" | "23505")) => {}
                    Err(e) => return Err(e.into()),
                }
                self.remember_partition(name);
            }
            month = next;
        }
        Ok(())
    }

    /// Drops the partitions that end on or before `cutoff` (whole months older than the retention).
    pub async fn drop_partitions_before(&self, cutoff: NaiveDate) -> Result<Vec<String>> {
        let children: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, p.relname::text FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname = ANY($1)",
        )
        .bind(PARTITIONED.to_vec())
        .fetch_all(self.pool())
        .await?;
        let mut dropped = Vec::new();
        for (child, parent) in children {
            let Some(month) = parse_month(&child, &parent) else {
                continue;
            };
            if month + Months::new(1) <= cutoff {
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {child}")))
                    .execute(self.pool())
                    .await?;
                if parent == "sim_daily_flow" {
                    // The month's rollups go with the rows they summed.
                    for rollup in DROPPED_WITH_THE_MONTH {
                        sqlx::query(*rollup)
                            .bind(month)
                            .execute(self.pool())
                            .await?;
                    }
                }
                self.forget_partition(&child);
                dropped.push(child);
            }
        }
        dropped.sort();
        Ok(dropped)
    }
}

/// Each binds `$1` = the first day of the dropped month. Month-usages' figures are kept (they are not daily
/// rows), so report rows lose only the daily sums that are gone, and go when nothing is left in them.
const DROPPED_WITH_THE_MONTH: &[&str] = &[
    "DELETE FROM sim_flow_monthly WHERE month = $1",
    "DELETE FROM sim_flow_day_totals WHERE day >= $1 AND day < ($1 + interval '1 month')::date",
    "UPDATE sim_report_month SET flow_mb = NULL WHERE month = $1",
    "UPDATE sim_report_month SET prev_flow_mb = NULL WHERE month = ($1 + interval '1 month')::date",
    "DELETE FROM sim_report_month WHERE month IN ($1, ($1 + interval '1 month')::date)
       AND flow_mb IS NULL AND prev_flow_mb IS NULL AND used_mb IS NULL",
];

fn parse_month(child: &str, parent: &str) -> Option<NaiveDate> {
    let rest = child.strip_prefix(parent)?.strip_prefix("_p")?;
    let (y, m) = rest.split_once('_')?;
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn names_round_trip() {
        let name = partition_name("sim_daily_flow", d("2026-11-01"));
        assert_eq!(name, "sim_daily_flow_p2026_11");
        assert_eq!(parse_month(&name, "sim_daily_flow"), Some(d("2026-11-01")));
        assert_eq!(
            parse_month("sim_daily_flow_p2026_11", "sim_snapshots"),
            None
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn partitions_are_created_ahead_and_dropped_past_retention(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        store
            .ensure_partitions(d("2026-09-15"), d("2026-11-02"))
            .await
            .unwrap();
        store
            .ensure_partitions(d("2026-09-15"), d("2026-11-02"))
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'sim_daily_flow'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(count, 3);
        let dropped = store.drop_partitions_before(d("2026-11-01")).await.unwrap();
        assert_eq!(
            dropped,
            vec![
                "sim_daily_flow_p2026_09",
                "sim_daily_flow_p2026_10",
                "sim_snapshots_p2026_09",
                "sim_snapshots_p2026_10"
            ]
        );
        // A forgotten partition is made again when needed.
        store
            .ensure_partitions(d("2026-10-01"), d("2026-10-01"))
            .await
            .unwrap();
        sqlx::query("INSERT INTO sim_daily_flow (account, sim_card_id, day, flow_mb) VALUES ('a', 1, '2026-10-05', 1)")
            .execute(&pool)
            .await
            .unwrap();
    }
}
