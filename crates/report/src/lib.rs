//! Usage reports: monthly usage by group and one card's history, rendered as table, CSV, JSON or HTML.

pub mod format;
pub mod guard;
pub mod html;
pub mod pages;
pub mod status;
mod svg;
pub mod text;

use std::io::Write;

use chrono::{Months, NaiveDate};
use serde::Serialize;

use format::{json2, json2_opt};
use gsl_domain::{GroupBy, OutputFormat, SimCardId, YearMonth};
use gsl_store::reports::{self, CardState};
use gsl_store::{Store, StoreError};

pub const BYTES_PER_MB: f64 = 1_048_576.0;
/// Daily sum and month-usages differing by more than this fraction are flagged.
const MISMATCH: f64 = 0.01;
const NO_USAGE_SAMPLE: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("bad parameter: {0}")]
    BadParameter(String),
    #[error("no such card: {0}")]
    UnknownCard(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
}

/// One group line of the monthly report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupLine {
    pub group: String,
    pub cards: i64,
    #[serde(serialize_with = "json2")]
    pub daily_sum_mb: f64,
    pub daily_sum_bytes: u64,
    /// From sim_monthly_usage for the billing cycle; its cycle may differ from the calendar month.
    #[serde(serialize_with = "json2_opt")]
    pub month_usages_mb: Option<f64>,
    pub month_usages_bytes: Option<u64>,
    /// True when daily sum and month-usages differ by more than 1 %.
    pub differs: bool,
    #[serde(serialize_with = "json2")]
    pub prev_daily_sum_mb: f64,
    #[serde(serialize_with = "json2_opt")]
    pub mom_change_pct: Option<f64>,
    #[serde(serialize_with = "json2")]
    pub share_pct: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusCount {
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub cards: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayTotal {
    pub day: NaiveDate,
    #[serde(serialize_with = "json2")]
    pub mb: f64,
}

/// The monthly usage report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsageReport {
    pub month: String,
    pub group_by: String,
    pub note: Option<String>,
    #[serde(serialize_with = "json2")]
    pub total_daily_sum_mb: f64,
    pub total_daily_sum_bytes: u64,
    #[serde(serialize_with = "json2")]
    pub total_month_usages_mb: f64,
    #[serde(serialize_with = "json2")]
    pub total_prev_daily_sum_mb: f64,
    pub groups_total: usize,
    pub groups: Vec<GroupLine>,
    pub no_usage_cards: i64,
    pub no_usage_sample: Vec<String>,
    pub days: Vec<DayTotal>,
    pub statuses: Vec<StatusCount>,
}

/// One card's history report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimReport {
    pub card: CardState,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(serialize_with = "json2")]
    pub total_mb: f64,
    pub days: Vec<DayTotal>,
}

/// What a `report` command or API call asks for; arguments are parsed before any connection is made.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportRequest {
    Usage {
        month: YearMonth,
        group_by: GroupBy,
        format: OutputFormat,
        top: Option<usize>,
    },
    Sim {
        iccid: Option<String>,
        sim_card_id: Option<SimCardId>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        format: OutputFormat,
    },
}

fn to_bytes(mb: f64) -> u64 {
    (mb.max(0.0) * BYTES_PER_MB).round() as u64
}

fn differs(daily: f64, monthly: Option<f64>) -> bool {
    monthly.is_some_and(|m| {
        let base = daily.abs().max(m.abs());
        base > 0.0 && (daily - m).abs() / base > MISMATCH
    })
}

/// Builds the monthly report from the store.
pub async fn usage_report(
    store: &Store,
    month: YearMonth,
    by: GroupBy,
    top: Option<usize>,
) -> Result<UsageReport, ReportError> {
    let start = month.first_day();
    let next = start + Months::new(1);
    // Independent reads on separate connections: the report takes as long as its slowest query, not the sum.
    let (groups, totals, days, statuses, no_usage) = tokio::try_join!(
        reports::usage_by_group(store, start, by, top),
        // Per-card totals: a card with several tags counts once.
        reports::usage_totals(store, start),
        reports::daily_totals(store, start, next),
        reports::status_counts(store),
        reports::no_usage_cards(store, start, NO_USAGE_SAMPLE),
    )?;
    let (no_usage, sample) = no_usage;
    Ok(UsageReport {
        month: month.dashed(),
        group_by: by.name().into(),
        note: (by == GroupBy::Tag).then(|| {
            "a card with several tags counts in each of its tag groups; shares may add up to more than 100 %"
                .into()
        }),
        total_daily_sum_mb: totals.daily_mb,
        total_daily_sum_bytes: to_bytes(totals.daily_mb),
        total_month_usages_mb: totals.monthly_mb,
        total_prev_daily_sum_mb: totals.prev_daily_mb,
        groups_total: usize::try_from(groups.groups_total).unwrap_or(0),
        groups: groups
            .top
            .iter()
            .map(|f| line(f, groups.daily_mb))
            .collect(),
        no_usage_cards: no_usage,
        no_usage_sample: sample,
        days: days.into_iter().map(|(day, mb)| DayTotal { day, mb }).collect(),
        statuses: statuses
            .into_iter()
            .map(|(s, o, n)| StatusCount {
                sim_status: s,
                operator_status: o,
                cards: n,
            })
            .collect(),
    })
}

fn line(f: &reports::GroupFigures, total: f64) -> GroupLine {
    GroupLine {
        group: f.group.clone(),
        cards: f.cards,
        daily_sum_mb: f.daily_mb,
        daily_sum_bytes: to_bytes(f.daily_mb),
        month_usages_mb: f.monthly_mb,
        month_usages_bytes: f.monthly_mb.map(to_bytes),
        differs: differs(f.daily_mb, f.monthly_mb),
        prev_daily_sum_mb: f.prev_daily_mb,
        mom_change_pct: (f.prev_daily_mb > 0.0)
            .then(|| (f.daily_mb - f.prev_daily_mb) / f.prev_daily_mb * 100.0),
        share_pct: if total > 0.0 {
            f.daily_mb / total * 100.0
        } else {
            0.0
        },
    }
}

/// Builds one card's history; `from`/`to` default to the 90 days up to yesterday in `tz`.
pub async fn sim_report(
    store: &Store,
    iccid: Option<&str>,
    sim_card_id: Option<SimCardId>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    tz: chrono_tz::Tz,
) -> Result<SimReport, ReportError> {
    let yesterday = chrono::Utc::now().with_timezone(&tz).date_naive() - chrono::Days::new(1);
    let to = to.unwrap_or(yesterday);
    let from = from.unwrap_or(to - chrono::Days::new(89));
    if from > to {
        return Err(ReportError::BadParameter(format!(
            "from {from} is after to {to}"
        )));
    }
    let card = reports::find_card(store, iccid, sim_card_id)
        .await?
        .ok_or_else(|| {
            ReportError::UnknownCard(
                iccid
                    .map(str::to_owned)
                    .or(sim_card_id.map(|i| i.to_string()))
                    .unwrap_or_default(),
            )
        })?;
    let days = reports::card_history(store, &card.account, card.sim_card_id, from, to).await?;
    Ok(SimReport {
        total_mb: days.iter().map(|d| d.1).sum(),
        card,
        from,
        to,
        days: days
            .into_iter()
            .map(|(day, mb)| DayTotal { day, mb })
            .collect(),
    })
}

/// Runs a `report` subcommand and writes the result to `out`.
pub async fn run_report(
    store: &Store,
    request: &ReportRequest,
    tz: chrono_tz::Tz,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match request {
        ReportRequest::Usage {
            month,
            group_by,
            format,
            top,
        } => {
            let r = usage_report(store, *month, *group_by, *top).await?;
            match format {
                OutputFormat::Table => out.write_all(text::usage_table(&r).as_bytes())?,
                OutputFormat::Csv => out.write_all(text::usage_csv(&r).as_bytes())?,
                OutputFormat::Json => serde_json::to_writer_pretty(&mut *out, &r)
                    .map_err(|e| ReportError::Io(e.into()))?,
                OutputFormat::Html => out.write_all(html::usage_html(&r).as_bytes())?,
            }
        }
        ReportRequest::Sim {
            iccid,
            sim_card_id,
            from,
            to,
            format,
        } => {
            let r = sim_report(store, iccid.as_deref(), *sim_card_id, *from, *to, tz).await?;
            match format {
                OutputFormat::Table => out.write_all(text::sim_table(&r).as_bytes())?,
                OutputFormat::Csv => out.write_all(text::sim_csv(&r).as_bytes())?,
                OutputFormat::Json => serde_json::to_writer_pretty(&mut *out, &r)
                    .map_err(|e| ReportError::Io(e.into()))?,
                OutputFormat::Html => out.write_all(html::sim_html(&r).as_bytes())?,
            }
        }
    }
    out.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_threshold_is_one_percent() {
        assert!(!differs(100.0, Some(100.5)));
        assert!(differs(100.0, Some(102.0)));
        assert!(!differs(100.0, None));
        assert!(!differs(0.0, Some(0.0)));
    }
}
