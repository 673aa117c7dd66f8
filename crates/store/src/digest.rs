//! The digest of a card-month's daily rows, computed alike here and in SQL (`gsl_flow_h1`/`gsl_flow_h2`,
//! migration 0013). The nightly refresh re-reads the whole month for every card, one new day among ~30 it
//! already has: when the days the store holds come back with the same digest and count, only the new days
//! are merged. At a million cards that is 1 row written per card instead of 30 probed.
//!
//! Two sums of non-linear per-row hashes modulo 2^31 − 1, packed into 62 bits: a correction that leaves
//! both unchanged has a chance of about 2^-62. Integer arithmetic only, so SQL and Rust agree to the bit.

use chrono::{Datelike, NaiveDate};

const P: i64 = 2_147_483_647;

/// MB as whole hundredths, bounded so the SQL cast to bigint cannot overflow on an absurd figure.
fn cents(flow_mb: f64) -> i64 {
    (flow_mb * 100.0).round_ties_even().clamp(-1e15, 1e15) as i64
}

fn row_key(day: NaiveDate, flow_mb: f64) -> i64 {
    ((i64::from(day.day()) * 1_000_003 + cents(flow_mb) % P) % P + P) % P
}

fn h1(a: i64) -> i64 {
    a * a % P
}

fn h2(a: i64) -> i64 {
    let b = (a + 1_013_904_223) % P;
    b * b % P * 48_271 % P
}

/// The digest of one card-month's rows (each day once).
pub fn month_digest(rows: impl IntoIterator<Item = (NaiveDate, f64)>) -> i64 {
    let (mut s1, mut s2) = (0i64, 0i64);
    for (day, mb) in rows {
        let a = row_key(day, mb);
        s1 = (s1 + h1(a)) % P;
        s2 = (s2 + h2(a)) % P;
    }
    s1 * (1 << 31) + s2
}

/// The SQL aggregate of `month_digest` over rows `f` (columns `day`, `flow_mb`); a macro so statements can
/// `concat!` it.
macro_rules! digest_sql {
    () => {
        "((sum(gsl_flow_h1(f.day, f.flow_mb)) % 2147483647) * 2147483648 + sum(gsl_flow_h2(f.day, f.flow_mb)) % 2147483647)::bigint"
    };
}
pub(crate) use digest_sql;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_correction_that_keeps_the_sum_changes_the_digest() {
        let before = month_digest([(d("2026-11-01"), 1.25), (d("2026-11-02"), 2.0)]);
        let moved = month_digest([(d("2026-11-01"), 2.0), (d("2026-11-02"), 1.25)]);
        let shifted = month_digest([(d("2026-11-01"), 1.24), (d("2026-11-02"), 2.01)]);
        assert_ne!(before, moved);
        assert_ne!(before, shifted);
        assert_eq!(
            before,
            month_digest([(d("2026-11-02"), 2.0), (d("2026-11-01"), 1.25)]),
            "the order of rows does not matter"
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn sql_and_rust_agree(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        let rows: Vec<(NaiveDate, f64)> = (1..=30)
            .map(|i| {
                let mb = match i % 5 {
                    0 => 0.0,
                    1 => 1e300,
                    2 => -3.5,
                    3 => 0.005 * i as f64,
                    _ => 123456.78 * i as f64,
                };
                (d("2026-11-01") + chrono::Days::new(i - 1), mb)
            })
            .collect();
        let days: Vec<NaiveDate> = rows.iter().map(|r| r.0).collect();
        let mbs: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let sql = concat!(
            "SELECT ",
            digest_sql!(),
            " FROM unnest($1::date[], $2::float8[]) AS f(day, flow_mb)"
        );
        let from_sql: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&days)
            .bind(&mbs)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(from_sql, month_digest(rows));
    }
}
