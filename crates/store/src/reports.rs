//! Report SQL: set-based monthly aggregates and one card's history, read-only.

use chrono::NaiveDate;
use sqlx::{FromRow, Row};

use super::digest::digest_sql;
use super::{Result, Store};
use gsl_domain::{GroupBy, PoolId, SimCardId};

/// One group's raw figures for a month (MB).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GroupFigures {
    #[sqlx(rename = "grp")]
    pub group: String,
    pub cards: i64,
    #[sqlx(rename = "daily")]
    pub daily_mb: f64,
    #[sqlx(rename = "monthly")]
    pub monthly_mb: Option<f64>,
    #[sqlx(rename = "prev")]
    pub prev_daily_mb: f64,
}

/// One card's state as stored in `sim_cards`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct CardState {
    pub account: String,
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub price_plan_name: Option<String>,
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub sim_pool_id: Option<PoolId>,
    pub data_date: Option<NaiveDate>,
}

/// The month's groups, largest daily sum first, cut to the requested number; the count and the daily sum
/// are over every group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageGroups {
    pub top: Vec<GroupFigures>,
    pub groups_total: i64,
    pub daily_mb: f64,
}

/// The month's sums over every card, each card once whatever its tags.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UsageTotals {
    pub cards: i64,
    pub daily_mb: f64,
    pub monthly_mb: f64,
    pub prev_daily_mb: f64,
}

/// The name of a grouping in `sim_report_groups`; by card the report reads the report rows themselves.
fn grouping(by: GroupBy) -> Option<&'static str> {
    match by {
        GroupBy::Sim => None,
        GroupBy::Pool => Some("pool"),
        GroupBy::Plan => Some("plan"),
        GroupBy::Tag => Some("tag"),
        GroupBy::Account => Some("account"),
    }
}

/// By card: each report row (`sim_report_month`, one per card and month) is its own group, so the ranking is a
/// top-N cut of one pass with no grouping; the count and the sum come from the account sums.
const BY_CARD: &str = "SELECT coalesce(r.iccid, r.sim_card_id::text) AS grp, 1::int8 AS cards, \
        coalesce(r.flow_mb, 0) AS daily, r.used_mb AS monthly, coalesce(r.prev_flow_mb, 0) AS prev \
    FROM sim_report_month r WHERE r.month = $1 ORDER BY daily DESC, grp LIMIT $2";

/// By account, plan, pool or tag: the group sums the merges keep (`sim_report_groups`, one row per account
/// and group), summed over accounts. A group left with no card is gone.
const BY_GROUP: &str = "WITH g AS (SELECT grp, sum(cards)::int8 AS cards, sum(flow_mb)::float8 AS daily, \
        CASE WHEN sum(used_cards) > 0 THEN sum(used_mb)::float8 END AS monthly, sum(prev_flow_mb)::float8 AS prev \
    FROM sim_report_groups WHERE month = $1 AND grouped_by = $3 GROUP BY grp HAVING sum(cards) > 0) \
    SELECT grp, cards, daily, monthly, prev, count(*) OVER () AS groups, sum(daily) OVER () AS all_daily \
    FROM g ORDER BY daily DESC, grp LIMIT $2";

/// A transaction for one of a report's passes over the fleet. Ranking every card of a month sorts a million
/// rows, and the idle cards' walk may fall back to a pass over every card: at the default work_mem both spill
/// to disk. Reports are rare, so they may take the memory for a moment.
async fn report_transaction(store: &Store) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET LOCAL work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// This month's figures per group, largest daily sum first, cut to `top`; the count and the daily sum are
/// over every group.
pub async fn usage_by_group(
    store: &Store,
    month: NaiveDate,
    by: GroupBy,
    top: Option<usize>,
) -> Result<UsageGroups> {
    // With a limit of 0 one row is still read, for the count.
    let limit = top.map(|n| i64::try_from(n.max(1)).unwrap_or(i64::MAX));
    let mut out = match grouping(by) {
        Some(grouping) => groups_ranked(store, month, grouping, limit).await?,
        None => cards_ranked(store, month, limit).await?,
    };
    if top == Some(0) {
        out.top.clear();
    }
    Ok(out)
}

async fn groups_ranked(
    store: &Store,
    month: NaiveDate,
    grouping: &str,
    limit: Option<i64>,
) -> Result<UsageGroups> {
    let rows = sqlx::query(BY_GROUP)
        .bind(month)
        .bind(limit)
        .bind(grouping)
        .fetch_all(store.pool())
        .await?;
    let mut out = UsageGroups {
        top: rows
            .iter()
            .map(GroupFigures::from_row)
            .collect::<std::result::Result<_, _>>()?,
        ..UsageGroups::default()
    };
    if let Some(first) = rows.first() {
        out.groups_total = first.try_get("groups")?;
        out.daily_mb = first.try_get("all_daily")?;
    }
    Ok(out)
}

async fn cards_ranked(store: &Store, month: NaiveDate, limit: Option<i64>) -> Result<UsageGroups> {
    let mut tx = report_transaction(store).await?;
    let rows = sqlx::query(BY_CARD)
        .bind(month)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let totals = usage_totals(store, month).await?;
    Ok(UsageGroups {
        top: rows
            .iter()
            .map(GroupFigures::from_row)
            .collect::<std::result::Result<_, _>>()?,
        groups_total: totals.cards,
        daily_mb: totals.daily_mb,
    })
}

/// The month's sums over every card.
pub async fn usage_totals(store: &Store, month: NaiveDate) -> Result<UsageTotals> {
    let (cards, daily_mb, monthly_mb, prev_daily_mb) = sqlx::query_as(
        "SELECT coalesce(sum(cards), 0)::int8, coalesce(sum(flow_mb), 0)::float8, coalesce(sum(used_mb), 0)::float8, \
                coalesce(sum(prev_flow_mb), 0)::float8 \
         FROM sim_report_groups WHERE month = $1 AND grouped_by = 'account'",
    )
    .bind(month)
    .fetch_one(store.pool())
    .await?;
    Ok(UsageTotals {
        cards,
        daily_mb,
        monthly_mb,
        prev_daily_mb,
    })
}

/// Re-sums the rollups for the months in [from, to_excl) from `sim_daily_flow` and `sim_monthly_usage`: after
/// rows were loaded around the merges (a bulk import, a restore). Returns the card-months of daily flow written.
pub async fn rebuild_flow_rollup(
    store: &Store,
    from: NaiveDate,
    to_excl: NaiveDate,
) -> Result<u64> {
    let mut tx = store.pool().begin().await?;
    let mut written = 0;
    for (i, statement) in REBUILD.iter().enumerate() {
        let done = sqlx::query(*statement)
            .bind(from)
            .bind(to_excl)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if i == REBUILD_MONTHLY {
            written = done;
        }
    }
    tx.commit().await?;
    Ok(written)
}

const REBUILD_MONTHLY: usize = 1;

/// Each binds `$1` = from, `$2` = to (exclusive); months are whole from the month of `$1`.
const REBUILD: &[&str] = &[
    "DELETE FROM sim_flow_monthly WHERE month >= date_trunc('month', $1::date) AND month < $2",
    concat!(
        "INSERT INTO sim_flow_monthly (account, sim_card_id, month, flow_mb, days, used_days, through, digest) \
         SELECT f.account, f.sim_card_id, date_trunc('month', f.day)::date, sum(f.flow_mb), count(*), \
                count(*) FILTER (WHERE f.flow_mb > 0), max(f.day), ",
        digest_sql!(),
        " FROM sim_daily_flow f WHERE f.day >= date_trunc('month', $1::date) AND f.day < $2 GROUP BY 1, 2, 3"
    ),
    "DELETE FROM sim_flow_day_totals WHERE day >= date_trunc('month', $1::date) AND day < $2",
    "INSERT INTO sim_flow_day_totals (account, day, flow_mb, cards) \
     SELECT account, day, sum(flow_mb::numeric), count(*) FROM sim_daily_flow \
     WHERE day >= date_trunc('month', $1::date) AND day < $2 GROUP BY 1, 2",
    // Report rows of the rebuilt months and of the month after (its previous-month figure).
    "DELETE FROM sim_report_month WHERE month >= date_trunc('month', $1::date) \
       AND month <= (date_trunc('month', ($2 - 1)::date) + interval '1 month')::date",
    // The groups the deleted rows leave are zero if they were right; cleared, the insert below sums them anew.
    "DELETE FROM sim_report_groups WHERE month >= date_trunc('month', $1::date) \
       AND month <= (date_trunc('month', ($2 - 1)::date) + interval '1 month')::date",
    "INSERT INTO sim_report_month (account, sim_card_id, month, flow_mb, prev_flow_mb, used_mb, \
                                   iccid, price_plan_name, sim_pool_id, tags, active) \
     SELECT u.account, u.sim_card_id, u.month, max(u.cur), max(u.prv), max(u.used), \
            c.iccid, c.price_plan_name, c.sim_pool_id, coalesce(c.tags, '{}'), \
            gsl_card_active(c.sim_status, c.removed_at) \
     FROM (SELECT account, sim_card_id, month, flow_mb AS cur, NULL::float8 AS prv, NULL::float8 AS used \
           FROM sim_flow_monthly \
           UNION ALL SELECT account, sim_card_id, (month + interval '1 month')::date, NULL, flow_mb, NULL \
           FROM sim_flow_monthly \
           UNION ALL SELECT account, sim_card_id, billing_cycle, NULL, NULL, flow_used_mb FROM sim_monthly_usage) u \
     LEFT JOIN sim_cards c ON c.account = u.account AND c.sim_card_id = u.sim_card_id \
     WHERE u.month >= date_trunc('month', $1::date) \
       AND u.month <= (date_trunc('month', ($2 - 1)::date) + interval '1 month')::date \
     GROUP BY u.account, u.sim_card_id, u.month, c.iccid, c.price_plan_name, c.sim_pool_id, c.tags, \
              c.sim_status, c.removed_at",
];

/// Fleet total per day of the month, from the day totals the daily-flow merge keeps.
pub async fn daily_totals(
    store: &Store,
    from: NaiveDate,
    to_excl: NaiveDate,
) -> Result<Vec<(NaiveDate, f64)>> {
    Ok(sqlx::query_as(
        "SELECT day, sum(flow_mb)::float8 FROM sim_flow_day_totals WHERE day >= $1 AND day < $2 \
         GROUP BY day ORDER BY day",
    )
    .bind(from)
    .bind(to_excl)
    .fetch_all(store.pool())
    .await?)
}

/// Current cards by (sim_status, operator_status), from the counts the sim_cards triggers keep.
pub async fn status_counts(store: &Store) -> Result<Vec<(Option<i32>, Option<i32>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT sim_status, operator_status, sum(cards)::int8 FROM sim_status_counts \
         GROUP BY 1, 2 HAVING sum(cards) > 0 ORDER BY 3 DESC, 1, 2",
    )
    .fetch_all(store.pool())
    .await?)
}

/// How many active cards the search for the idle sample reads in card order before it reads every card
/// instead: where one active card in 2,500 or more is idle, a sample of 20 is found within it.
const IDLE_SAMPLE_WALK: i64 = 50_000;

/// Active cards (current, sim_status 20) that used no data in the month (no daily sum above zero): the count,
/// from the rollups, and the first `limit` ICCIDs in card order (account, sim_card_id).
pub async fn no_usage_cards(
    store: &Store,
    month: NaiveDate,
    limit: i64,
) -> Result<(i64, Vec<String>)> {
    idle_cards_walking(store, month, limit, IDLE_SAMPLE_WALK).await
}

/// `no_usage_cards`, the sample first searched for among the first `walk` active cards.
async fn idle_cards_walking(
    store: &Store,
    month: NaiveDate,
    limit: i64,
    walk: i64,
) -> Result<(i64, Vec<String>)> {
    let count = idle_count(store, month).await?;
    let wanted = limit.clamp(0, count);
    if wanted == 0 {
        return Ok((count, Vec::new()));
    }
    let walked = idle_sample(store, month, wanted, Some(walk)).await?;
    if i64::try_from(walked.len()).unwrap_or(i64::MAX) >= wanted {
        return Ok((count, walked));
    }
    Ok((count, idle_sample(store, month, wanted, None).await?))
}

/// The fleet's active cards less its active cards that used data in the month: a few rows of each rollup.
async fn idle_count(store: &Store, month: NaiveDate) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT greatest(0, \
             (SELECT coalesce(sum(cards), 0) FROM sim_status_counts WHERE sim_status = 20) \
           - (SELECT coalesce(sum(active_used_cards), 0) FROM sim_report_groups \
              WHERE month = $1 AND grouped_by = 'account'))::int8",
    )
    .bind(month)
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// The first `limit` idle cards in card order, reading at most `walk` active cards (all of them with `None`).
/// The bound is a literal: as a parameter the planner would not know it is small and would hash every card.
async fn idle_sample(
    store: &Store,
    month: NaiveDate,
    limit: i64,
    walk: Option<i64>,
) -> Result<Vec<String>> {
    let walk = walk.map_or_else(|| "ALL".to_owned(), |n| n.max(0).to_string());
    let sql = format!(
        "SELECT coalesce(c.iccid, c.sim_card_id::text) FROM \
           (SELECT account, sim_card_id, iccid FROM sim_cards WHERE gsl_card_active(sim_status, removed_at) \
            ORDER BY account, sim_card_id LIMIT {walk}) c \
         WHERE NOT EXISTS (SELECT 1 FROM sim_report_month r WHERE r.account = c.account \
                           AND r.sim_card_id = c.sim_card_id AND r.month = $1 AND r.flow_mb > 0) \
         ORDER BY c.account, c.sim_card_id LIMIT $2"
    );
    let mut tx = report_transaction(store).await?;
    let ids = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(month)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids)
}

/// A card found by ICCID or by sim_card_id.
pub async fn find_card(
    store: &Store,
    iccid: Option<&str>,
    sim_card_id: Option<SimCardId>,
) -> Result<Option<CardState>> {
    // One indexed condition per query: an OR of the two would make the planner scan every card.
    let query = |condition: &str| {
        format!(
            "SELECT account, sim_card_id, iccid, price_plan_name, sim_status, operator_status, flow_used_mb, \
                    flow_left_mb, sim_pool_id, data_date FROM sim_cards \
             WHERE {condition} ORDER BY removed_at NULLS FIRST LIMIT 1"
        )
    };
    let row = match (iccid, sim_card_id) {
        (Some(iccid), _) => {
            sqlx::query(sqlx::AssertSqlSafe(query("iccid = $1")))
                .bind(iccid)
                .fetch_optional(store.pool())
                .await?
        }
        (None, Some(id)) => {
            sqlx::query(sqlx::AssertSqlSafe(query("sim_card_id = $1")))
                .bind(id)
                .fetch_optional(store.pool())
                .await?
        }
        (None, None) => None,
    };
    Ok(row.as_ref().map(CardState::from_row).transpose()?)
}

/// One card's daily flow between two days inclusive; served by the primary key per partition.
pub async fn card_history(
    store: &Store,
    account: &str,
    sim_card_id: SimCardId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, f64)>> {
    Ok(sqlx::query_as(
        "SELECT day, flow_mb FROM sim_daily_flow WHERE account = $1 AND sim_card_id = $2 \
         AND day >= $3 AND day <= $4 ORDER BY day",
    )
    .bind(account)
    .bind(sim_card_id)
    .bind(from)
    .bind(to)
    .fetch_all(store.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{DailyFlowRow, MonthlyUsageRow};
    use crate::Fence;

    fn flow(id: i64, day: &str, mb: f64) -> DailyFlowRow {
        DailyFlowRow {
            sim_card_id: id.into(),
            iccid: None,
            day: day.parse().unwrap(),
            flow_mb: mb,
        }
    }

    /// The group rows the triggers keep, and the same sums taken afresh from the report rows: equal, to the
    /// last digit, after every kind of write.
    async fn kept_and_afresh(pool: &sqlx::PgPool) -> (Vec<String>, Vec<String>) {
        let kept = "SELECT concat_ws(' ', month, grouped_by, account, grp, cards, trim_scale(flow_mb), trim_scale(prev_flow_mb), \
                           trim_scale(used_mb), used_cards, active_used_cards) \
                    FROM sim_report_groups WHERE cards <> 0 ORDER BY 1";
        // The active flag is taken from sim_cards here, so a report row whose flag lags its card differs.
        let afresh = "SELECT concat_ws(' ', month, k.grouped_by, r.account, k.grp, count(*), \
                             trim_scale(coalesce(sum(r.flow_mb::numeric), 0)), trim_scale(coalesce(sum(r.prev_flow_mb::numeric), 0)), \
                             trim_scale(coalesce(sum(r.used_mb::numeric), 0)), count(r.used_mb), \
                             count(*) FILTER (WHERE gsl_card_active(c.sim_status, c.removed_at) AND r.flow_mb > 0)) \
                      FROM sim_report_month r \
                      LEFT JOIN sim_cards c ON c.account = r.account AND c.sim_card_id = r.sim_card_id \
                      CROSS JOIN LATERAL gsl_report_groups(r.account, r.price_plan_name, r.sim_pool_id, r.tags) k \
                      GROUP BY r.month, k.grouped_by, r.account, k.grp ORDER BY 1";
        let read = |sql: &'static str| sqlx::query_scalar::<_, String>(sql).fetch_all(pool);
        (read(kept).await.unwrap(), read(afresh).await.unwrap())
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn group_sums_follow_every_write_of_the_report_rows(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let f = Fence::unfenced();
        sqlx::query(
            "INSERT INTO sim_cards (account, sim_card_id, iccid, price_plan_name, sim_pool_id, tag_names, sim_status) \
             VALUES ('main', 1, 'X1', 'A', 7, 'a,b,a', 20), ('main', 2, 'X2', 'A', NULL, NULL, 20), \
             ('other', 3, 'X3', NULL, 7, 'b', 20)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let check = |step: &'static str| {
            let pool = pool.clone();
            async move {
                let (kept, afresh) = kept_and_afresh(&pool).await;
                assert!(!afresh.is_empty(), "{step}: no report rows");
                assert_eq!(kept, afresh, "{step}");
            }
        };
        let days = [
            flow(1, "2026-10-31", 0.1),
            flow(1, "2026-11-01", 0.2),
            flow(2, "2026-11-01", 1e-9),
        ];
        store.merge_daily_flow(&f, "main", &days).await.unwrap();
        store
            .merge_daily_flow(&f, "other", &[flow(3, "2026-11-02", 3.3)])
            .await
            .unwrap();
        check("merged").await;
        store
            .merge_daily_flow(&f, "main", &[flow(1, "2026-11-01", 0.7)])
            .await
            .unwrap();
        check("corrected").await;
        let usage = MonthlyUsageRow {
            sim_card_id: 2.into(),
            iccid: None,
            billing_cycle: "2026-11-01".parse().unwrap(),
            flow_used_mb: 9.5,
        };
        store
            .merge_monthly_usage(&f, "main", &[usage])
            .await
            .unwrap();
        check("month-usages").await;
        sqlx::query(
            "UPDATE sim_cards SET price_plan_name = 'B', tag_names = 'c', sim_pool_id = 8 WHERE sim_card_id = 1",
        )
        .execute(&pool)
        .await
        .unwrap();
        check("a card moved").await;
        let write = |sql: &'static str| {
            let pool = pool.clone();
            async move { sqlx::query(sql).execute(&pool).await.unwrap() }
        };
        write("UPDATE sim_cards SET sim_status = 30 WHERE sim_card_id = 3").await;
        check("a card deactivated").await;
        write("UPDATE sim_cards SET removed_at = now() WHERE sim_card_id = 1").await;
        check("a card removed").await;
        write("UPDATE sim_cards SET removed_at = NULL WHERE sim_card_id = 1").await;
        check("a card seen again").await;
        store
            .merge_daily_flow(&f, "main", &[flow(9, "2026-11-03", 1.5)])
            .await
            .unwrap();
        write("INSERT INTO sim_cards (account, sim_card_id, iccid, sim_status) VALUES ('main', 9, 'X9', 20)").await;
        check("a card listed after its flow").await;
        let from: NaiveDate = "2026-10-01".parse().unwrap();
        rebuild_flow_rollup(&store, from, "2026-12-01".parse().unwrap())
            .await
            .unwrap();
        check("rebuilt").await;
        store
            .drop_partitions_before("2026-11-01".parse().unwrap())
            .await
            .unwrap();
        check("October dropped").await;
        let by_plan = usage_by_group(&store, "2026-11-01".parse().unwrap(), GroupBy::Plan, None)
            .await
            .unwrap();
        let plans: Vec<(&str, i64)> = by_plan
            .top
            .iter()
            .map(|g| (g.group.as_str(), g.cards))
            .collect();
        assert_eq!(plans, [("(no plan)", 2), ("B", 1), ("A", 1)]);
        assert_eq!(by_plan.groups_total, 3);
        let none = usage_by_group(&store, "2026-11-01".parse().unwrap(), GroupBy::Tag, Some(0))
            .await
            .unwrap();
        assert!(none.top.is_empty());
        assert_eq!(none.groups_total, 3, "b, c and (untagged)");
    }

    /// The status counts the triggers keep and the same counts taken afresh from the cards.
    async fn statuses_kept_and_afresh(
        store: &Store,
    ) -> (
        Vec<(Option<i32>, Option<i32>, i64)>,
        Vec<(Option<i32>, Option<i32>, i64)>,
    ) {
        let afresh = sqlx::query_as(
            "SELECT sim_status, operator_status, count(*) FROM sim_cards WHERE removed_at IS NULL \
             GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        (status_counts(store).await.unwrap(), afresh)
    }

    /// The idle cards by their first definition: active, and no day of the month above zero.
    async fn idle_afresh(store: &Store, month: NaiveDate) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT coalesce(c.iccid, c.sim_card_id::text) FROM sim_cards c \
             WHERE c.removed_at IS NULL AND c.sim_status = 20 AND NOT EXISTS \
                   (SELECT 1 FROM sim_daily_flow f WHERE f.account = c.account AND f.sim_card_id = c.sim_card_id \
                    AND f.day >= $1 AND f.day < ($1 + interval '1 month')::date AND f.flow_mb > 0) \
             ORDER BY c.account, c.sim_card_id",
        )
        .bind(month)
        .fetch_all(store.pool())
        .await
        .unwrap()
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn statuses_and_idle_cards_follow_every_write_of_the_cards(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool.clone());
        let f = Fence::unfenced();
        let write = |sql: &'static str| {
            let pool = pool.clone();
            async move { sqlx::query(sql).execute(&pool).await.unwrap() }
        };
        // Ten active cards in two accounts, one suspended, one of unknown status.
        write(
            "INSERT INTO sim_cards (account, sim_card_id, iccid, sim_status, operator_status) \
             SELECT CASE WHEN i % 2 = 0 THEN 'main' ELSE 'other' END, i, CASE WHEN i <> 4 THEN 'I' || i END, \
                    CASE WHEN i = 11 THEN 30 WHEN i = 12 THEN NULL ELSE 20 END, CASE WHEN i = 5 THEN 2 END \
             FROM generate_series(1, 12) i",
        )
        .await;
        let november: NaiveDate = "2026-11-01".parse().unwrap();
        let check = |step: &'static str| {
            let store = store.clone();
            async move {
                let (kept, afresh) = statuses_kept_and_afresh(&store).await;
                assert_eq!(kept, afresh, "{step}: statuses");
                let idle = idle_afresh(&store, november).await;
                let n = i64::try_from(idle.len()).unwrap();
                let first: Vec<String> = idle.iter().take(3).cloned().collect();
                for walk in [1, IDLE_SAMPLE_WALK] {
                    let (count, sample) =
                        idle_cards_walking(&store, november, 3, walk).await.unwrap();
                    assert_eq!(
                        (count, &sample),
                        (n, &first),
                        "{step}: idle cards, walking {walk}"
                    );
                }
            }
        };
        check("listed").await;
        let main: Vec<_> = [2, 6, 8]
            .iter()
            .map(|&i| flow(i, "2026-11-02", 1.0))
            .collect();
        store.merge_daily_flow(&f, "main", &main).await.unwrap();
        let other = [
            flow(1, "2026-11-02", 0.0),
            flow(3, "2026-10-30", 4.0),
            flow(11, "2026-11-02", 2.0),
        ];
        store.merge_daily_flow(&f, "other", &other).await.unwrap();
        check("flows merged").await;
        store
            .merge_daily_flow(&f, "main", &[flow(6, "2026-11-02", 0.0)])
            .await
            .unwrap();
        check("a day corrected to nothing").await;
        write("UPDATE sim_cards SET sim_status = 30, operator_status = 1 WHERE sim_card_id IN (2, 10)").await;
        check("cards deactivated").await;
        write("UPDATE sim_cards SET sim_status = 20 WHERE sim_card_id = 11").await;
        check("a card activated").await;
        write("UPDATE sim_cards SET removed_at = now() WHERE sim_card_id IN (4, 8)").await;
        check("cards removed").await;
        write("UPDATE sim_cards SET removed_at = NULL WHERE sim_card_id = 8").await;
        check("a card back").await;
        write("DELETE FROM sim_cards WHERE sim_card_id = 12").await;
        check("a card deleted").await;
        let (count, sample) = no_usage_cards(&store, november, 0).await.unwrap();
        assert!(
            count > 0 && sample.is_empty(),
            "a sample of none: {count} {sample:?}"
        );
    }
}
