//! Report SQL: set-based monthly aggregates and one card's history, read-only.

use chrono::NaiveDate;
use sqlx::Row;

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

/// The SQL expression naming a card's group; `t.tag` comes from the tag lateral join.
fn group_expr(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Sim => "coalesce(c.iccid, k.sim_card_id::text)",
        GroupBy::Pool => "coalesce(c.sim_pool_id::text, '(no pool)')",
        GroupBy::Plan => "coalesce(c.price_plan_name, '(no plan)')",
        GroupBy::Tag => "coalesce(t.tag, '(untagged)')",
        GroupBy::Account => "k.account",
    }
}

// `sim_cards.tags` was split once when the card was written; a card counts once per distinct tag.
const TAG_JOIN: &str =
    "LEFT JOIN LATERAL (SELECT DISTINCT x AS tag FROM unnest(c.tags) x) t ON true";

/// Per-group sums: daily flow of the month, month-usages of the cycle and the previous month's daily flow.
/// Reads the per-card monthly rollup (one row per card and month), then joins the card table once.
pub async fn usage_by_group(
    store: &Store,
    month: NaiveDate,
    prev: NaiveDate,
    by: GroupBy,
) -> Result<Vec<GroupFigures>> {
    let tag_join = if by == GroupBy::Tag { TAG_JOIN } else { "" };
    let sql = format!(
        "WITH k AS (SELECT account, sim_card_id, sum(cur) AS cur, sum(mon) AS mon, sum(prv) AS prv FROM ( \
                SELECT account, sim_card_id, CASE WHEN month = $1 THEN flow_mb END AS cur, NULL::float8 AS mon, \
                       CASE WHEN month = $2 THEN flow_mb END AS prv \
                FROM sim_flow_monthly WHERE month IN ($1, $2) \
                UNION ALL SELECT account, sim_card_id, NULL, flow_used_mb, NULL \
                FROM sim_monthly_usage WHERE billing_cycle = $1) u GROUP BY 1, 2) \
         SELECT {g} AS grp, count(*) AS cards, coalesce(sum(k.cur), 0) AS daily, sum(k.mon) AS monthly, \
                coalesce(sum(k.prv), 0) AS prev \
         FROM k LEFT JOIN sim_cards c ON c.account = k.account AND c.sim_card_id = k.sim_card_id {tag_join} \
         GROUP BY 1 ORDER BY daily DESC, grp",
        g = group_expr(by)
    );
    // One hash aggregate over a row per card and month: at a million cards it needs ~100 MB, and spilling it
    // to disk at the default work_mem triples the time. Reports are rare, so they may take it for a moment.
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET LOCAL work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(month)
        .bind(prev)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            Ok(GroupFigures {
                group: r.try_get("grp")?,
                cards: r.try_get("cards")?,
                daily_mb: r.try_get("daily")?,
                monthly_mb: r.try_get("monthly")?,
                prev_daily_mb: r.try_get("prev")?,
            })
        })
        .collect()
}

/// Re-sums `sim_flow_monthly` for the months in [from, to_excl) from `sim_daily_flow`: after rows were loaded
/// around the daily-flow merge (a bulk import, a restore). Returns the card-months written.
pub async fn rebuild_flow_rollup(
    store: &Store,
    from: NaiveDate,
    to_excl: NaiveDate,
) -> Result<u64> {
    let mut tx = store.pool().begin().await?;
    sqlx::query(
        "DELETE FROM sim_flow_monthly WHERE month >= date_trunc('month', $1::date) AND month < $2",
    )
    .bind(from)
    .bind(to_excl)
    .execute(&mut *tx)
    .await?;
    let written = sqlx::query(
        "INSERT INTO sim_flow_monthly (account, sim_card_id, month, flow_mb, days, used_days) \
         SELECT account, sim_card_id, date_trunc('month', day)::date, sum(flow_mb), count(*), \
                count(*) FILTER (WHERE flow_mb > 0) \
         FROM sim_daily_flow WHERE day >= date_trunc('month', $1::date) AND day < $2 GROUP BY 1, 2, 3",
    )
    .bind(from)
    .bind(to_excl)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(written)
}

/// Fleet total per day of the month.
pub async fn daily_totals(
    store: &Store,
    from: NaiveDate,
    to_excl: NaiveDate,
) -> Result<Vec<(NaiveDate, f64)>> {
    Ok(sqlx::query_as(
        "SELECT day, sum(flow_mb) FROM sim_daily_flow WHERE day >= $1 AND day < $2 GROUP BY day ORDER BY day",
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
