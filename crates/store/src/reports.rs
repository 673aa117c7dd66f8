//! Report SQL: set-based monthly aggregates and one card's history, read-only.

use chrono::NaiveDate;
use sqlx::Row;

use super::digest::digest_sql;
use super::{Result, Store};
use gsl_domain::{GroupBy, PoolId, SimCardId};

/// One group's raw figures for a month (MB).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFigures {
    pub group: String,
    pub cards: i64,
    pub daily_mb: f64,
    pub monthly_mb: Option<f64>,
    pub prev_daily_mb: f64,
}

/// One card's state as stored in `sim_cards`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

/// The SQL expression naming a card's group; `t.tag` comes from the tag lateral join.
fn group_expr(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Sim => "coalesce(r.iccid, r.sim_card_id::text)",
        GroupBy::Pool => "coalesce(r.sim_pool_id::text, '(no pool)')",
        GroupBy::Plan => "coalesce(r.price_plan_name, '(no plan)')",
        GroupBy::Tag => "coalesce(t.tag, '(untagged)')",
        GroupBy::Account => "r.account",
    }
}

// `tags` was split once when the card was written; a card counts once per distinct tag.
const TAG_JOIN: &str =
    "LEFT JOIN LATERAL (SELECT DISTINCT x AS tag FROM unnest(r.tags) x) t ON true";

/// Per-group sums of the month's report rows (`sim_report_month`, one per card: this month's daily flow,
/// month-usages of the cycle and the previous month's daily flow, beside the card's grouping attributes).
pub async fn usage_by_group(
    store: &Store,
    month: NaiveDate,
    by: GroupBy,
    top: Option<usize>,
) -> Result<UsageGroups> {
    let tag_join = if by == GroupBy::Tag { TAG_JOIN } else { "" };
    let sql = format!(
        "WITH g AS (SELECT {g} AS grp, count(*) AS cards, coalesce(sum(r.flow_mb), 0) AS daily, \
                           sum(r.used_mb) AS monthly, coalesce(sum(r.prev_flow_mb), 0) AS prev \
                    FROM sim_report_month r {tag_join} WHERE r.month = $1 GROUP BY 1) \
         SELECT grp, cards, daily, monthly, prev, count(*) OVER () AS groups, sum(daily) OVER () AS all_daily \
         FROM g ORDER BY daily DESC, grp LIMIT $2",
        g = group_expr(by)
    );
    // Grouping by card hashes a million groups: at the default work_mem that spills to disk and triples
    // the time. Reports are rare, so they may take the memory for a moment.
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET LOCAL work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(month)
        .bind(top.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut out = UsageGroups::default();
    if let Some(first) = rows.first() {
        out.groups_total = first.try_get("groups")?;
        out.daily_mb = first.try_get("all_daily")?;
    }
    out.top = rows
        .iter()
        .map(|r| {
            Ok(GroupFigures {
                group: r.try_get("grp")?,
                cards: r.try_get("cards")?,
                daily_mb: r.try_get("daily")?,
                monthly_mb: r.try_get("monthly")?,
                prev_daily_mb: r.try_get("prev")?,
            })
        })
        .collect::<Result<_>>()?;
    // A limit of 0 returns no row to read the count from.
    if top == Some(0) {
        out.groups_total = usage_by_group_count(store, month, by).await?;
    }
    Ok(out)
}

async fn usage_by_group_count(store: &Store, month: NaiveDate, by: GroupBy) -> Result<i64> {
    let tag_join = if by == GroupBy::Tag { TAG_JOIN } else { "" };
    let sql = format!(
        "SELECT count(DISTINCT {g}) FROM sim_report_month r {tag_join} WHERE r.month = $1",
        g = group_expr(by)
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(month)
        .fetch_one(store.pool())
        .await?)
}

/// The month's sums over every card.
pub async fn usage_totals(store: &Store, month: NaiveDate) -> Result<UsageTotals> {
    let (cards, daily_mb, monthly_mb, prev_daily_mb) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(flow_mb), 0), coalesce(sum(used_mb), 0), coalesce(sum(prev_flow_mb), 0) \
         FROM sim_report_month WHERE month = $1",
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
    "INSERT INTO sim_report_month (account, sim_card_id, month, flow_mb, prev_flow_mb, used_mb, \
                                   iccid, price_plan_name, sim_pool_id, tags) \
     SELECT u.account, u.sim_card_id, u.month, max(u.cur), max(u.prv), max(u.used), \
            c.iccid, c.price_plan_name, c.sim_pool_id, coalesce(c.tags, '{}') \
     FROM (SELECT account, sim_card_id, month, flow_mb AS cur, NULL::float8 AS prv, NULL::float8 AS used \
           FROM sim_flow_monthly \
           UNION ALL SELECT account, sim_card_id, (month + interval '1 month')::date, NULL, flow_mb, NULL \
           FROM sim_flow_monthly \
           UNION ALL SELECT account, sim_card_id, billing_cycle, NULL, NULL, flow_used_mb FROM sim_monthly_usage) u \
     LEFT JOIN sim_cards c ON c.account = u.account AND c.sim_card_id = u.sim_card_id \
     WHERE u.month >= date_trunc('month', $1::date) \
       AND u.month <= (date_trunc('month', ($2 - 1)::date) + interval '1 month')::date \
     GROUP BY u.account, u.sim_card_id, u.month, c.iccid, c.price_plan_name, c.sim_pool_id, c.tags",
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

/// Current cards by (sim_status, operator_status).
pub async fn status_counts(store: &Store) -> Result<Vec<(Option<i32>, Option<i32>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT sim_status, operator_status, count(*) FROM sim_cards WHERE removed_at IS NULL \
         GROUP BY 1, 2 ORDER BY 3 DESC",
    )
    .fetch_all(store.pool())
    .await?)
}

/// Active cards (sim_status 20, not removed) with no or only zero daily rows in the month:
/// the count and the first `limit` ICCIDs.
pub async fn no_usage_cards(
    store: &Store,
    month: NaiveDate,
    limit: i64,
) -> Result<(i64, Vec<String>)> {
    let base = "FROM sim_cards c WHERE c.removed_at IS NULL AND c.sim_status = 20 AND NOT EXISTS \
                (SELECT 1 FROM sim_flow_monthly m WHERE m.account = c.account AND m.sim_card_id = c.sim_card_id \
                 AND m.month = $1 AND m.used_days > 0)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {base}")))
        .bind(month)
        .fetch_one(store.pool())
        .await?;
    let sample: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT coalesce(c.iccid, c.sim_card_id::text) {base} ORDER BY 1 LIMIT $2"
    )))
    .bind(month)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok((count, sample))
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
    row.map(|r| {
        Ok(CardState {
            account: r.try_get("account")?,
            sim_card_id: r.try_get("sim_card_id")?,
            iccid: r.try_get("iccid")?,
            price_plan_name: r.try_get("price_plan_name")?,
            sim_status: r.try_get("sim_status")?,
            operator_status: r.try_get("operator_status")?,
            flow_used_mb: r.try_get("flow_used_mb")?,
            flow_left_mb: r.try_get("flow_left_mb")?,
            sim_pool_id: r.try_get("sim_pool_id")?,
            data_date: r.try_get("data_date")?,
        })
    })
    .transpose()
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
