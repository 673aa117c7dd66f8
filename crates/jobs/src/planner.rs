//! The daily-flow call planner: which `month`/`date` queries fetch every missing or still-changing day
//! for the fewest calls, and which days fell out of the API's window for good.

use chrono::{Datelike, Duration, NaiveDate};
use gsl_domain::{FlowPeriod, YearMonth};

/// What the store knows about one month of an account's daily flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthState {
    pub month: YearMonth,
    /// Every day up to this one was fetched for every active card.
    pub complete_through: NaiveDate,
    /// Fetched after the close-out window: late corrections are no longer expected.
    pub closed: bool,
}

/// The days the API offers on `today`: from the 1st of last month to yesterday.
pub fn offered_window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = YearMonth::of(today).previous().first_day();
    (first, today - Duration::days(1))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Queries in the order to send them (older month first, so a month closes before the next one starts).
    pub periods: Vec<FlowPeriod>,
    /// Days after the last fetched one that the API no longer offers: lost, to be recorded and warned about.
    pub gap: Vec<NaiveDate>,
}

/// How many calls a plan costs for `cards` cards at `batch` cards per call.
pub fn calls(plan: &Plan, cards: usize, batch: usize) -> usize {
    plan.periods.len() * cards.div_ceil(batch.max(1))
}

/// Plans the nightly run: refresh this month so far (late corrections included), close out last month while
/// corrections may still arrive or while it is incomplete, and report the days that can no longer be had.
///
/// A `month` query returns every day of the month so far for the same price as one `date` query, so a month
/// is always fetched whole; `date` queries are only planned for an explicit `--date`.
pub fn plan_nightly(today: NaiveDate, close_out_days: u32, states: &[MonthState]) -> Plan {
    let (window_start, yesterday) = offered_window(today);
    let this_month = YearMonth::of(today);
    let last_month = this_month.previous();
    let mut periods = Vec::new();

    let last_state = states.iter().find(|s| s.month == last_month);
    let last_settled =
        last_state.is_some_and(|s| s.closed && s.complete_through >= last_month.last_day());
    let in_close_out = today.day() <= close_out_days;
    // Cards may not have existed last month; but a fleet seen for the first time still gets last month, which is
    // history the API will drop soon.
    if !last_settled || in_close_out {
        periods.push(FlowPeriod::Month(last_month));
    }
    if yesterday >= this_month.first_day() {
        periods.push(FlowPeriod::Month(this_month));
    }

    let fetched_through = states.iter().map(|s| s.complete_through).max();
    let gap = match fetched_through {
        Some(through) if through + Duration::days(1) < window_start => days_between(
            through + Duration::days(1),
            window_start - Duration::days(1),
        ),
        _ => Vec::new(),
    };
    Plan { periods, gap }
}

/// Why an explicit period cannot be fetched today.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--date {date} is outside the days the API offers today ({start} to {yesterday})")]
    DateOutsideWindow {
        date: NaiveDate,
        start: NaiveDate,
        yesterday: NaiveDate,
    },
    #[error("--month {month} must be this month or last month ({this} or {last})")]
    MonthNotOffered {
        month: YearMonth,
        this: YearMonth,
        last: YearMonth,
    },
    #[error("--month {month} has no finished day yet (the newest day offered is {yesterday})")]
    MonthNotStarted {
        month: YearMonth,
        yesterday: NaiveDate,
    },
}

/// The plan for an explicit `--date` or `--month`, checked against the API's window.
pub fn plan_explicit(today: NaiveDate, period: FlowPeriod) -> Result<Plan, PlanError> {
    let (start, yesterday) = offered_window(today);
    match period {
        FlowPeriod::Date(date) if date < start || date > yesterday => {
            Err(PlanError::DateOutsideWindow {
                date,
                start,
                yesterday,
            })
        }
        FlowPeriod::Month(month)
            if month != YearMonth::of(today) && month != YearMonth::of(start) =>
        {
            Err(PlanError::MonthNotOffered {
                month,
                this: YearMonth::of(today),
                last: YearMonth::of(start),
            })
        }
        FlowPeriod::Month(month) if month.first_day() > yesterday => {
            Err(PlanError::MonthNotStarted { month, yesterday })
        }
        p => Ok(Plan {
            periods: vec![p],
            gap: Vec::new(),
        }),
    }
}

/// The days a period covers on `today`, clipped to the offered window.
pub fn days_covered(today: NaiveDate, period: FlowPeriod) -> Vec<NaiveDate> {
    let (start, yesterday) = offered_window(today);
    match period {
        FlowPeriod::Date(d) => vec![d],
        FlowPeriod::Month(m) => days_between(m.first_day().max(start), m.last_day().min(yesterday)),
    }
}

fn days_between(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days().take_while(|d| *d <= to).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ym(s: &str) -> YearMonth {
        s.parse().unwrap()
    }

    fn month(s: &str, through: &str, closed: bool) -> MonthState {
        MonthState {
            month: ym(s),
            complete_through: d(through),
            closed,
        }
    }

    #[test]
    fn window_runs_from_first_of_last_month_to_yesterday() {
        assert_eq!(
            offered_window(d("2026-11-28")),
            (d("2026-10-01"), d("2026-11-27"))
        );
        assert_eq!(
            offered_window(d("2026-01-01")),
            (d("2025-12-01"), d("2025-12-31"))
        );
    }

    /// (today, close-out days, states) → expected periods
    #[test]
    fn nightly_plans() {
        let cases: Vec<(&str, Vec<MonthState>, Vec<FlowPeriod>)> = vec![
            // Mid-month, last month settled: one month query.
            (
                "2026-11-28",
                vec![
                    month("2026-10", "2026-10-31", true),
                    month("2026-11", "2026-11-26", false),
                ],
                vec![FlowPeriod::Month(ym("2026-11"))],
            ),
            // First run ever: last month too, while the API still has it.
            (
                "2026-11-28",
                vec![],
                vec![
                    FlowPeriod::Month(ym("2026-10")),
                    FlowPeriod::Month(ym("2026-11")),
                ],
            ),
            // Early in the month: close out last month (late corrections).
            (
                "2026-11-02",
                vec![month("2026-10", "2026-10-31", false)],
                vec![
                    FlowPeriod::Month(ym("2026-10")),
                    FlowPeriod::Month(ym("2026-11")),
                ],
            ),
            // The 1st: this month has no finished day yet.
            (
                "2026-11-01",
                vec![month("2026-10", "2026-10-30", false)],
                vec![FlowPeriod::Month(ym("2026-10"))],
            ),
            // Past the close-out window but last month was left incomplete (daemon down): fetch it.
            (
                "2026-11-10",
                vec![month("2026-10", "2026-10-20", false)],
                vec![
                    FlowPeriod::Month(ym("2026-10")),
                    FlowPeriod::Month(ym("2026-11")),
                ],
            ),
        ];
        for (today, states, expected) in cases {
            let plan = plan_nightly(d(today), 3, &states);
            assert_eq!(plan.periods, expected, "today {today}");
            assert!(plan.gap.is_empty(), "today {today}");
        }
    }

    #[test]
    fn downtime_beyond_the_window_is_a_gap() {
        let plan = plan_nightly(d("2026-11-28"), 3, &[month("2026-08", "2026-08-29", true)]);
        assert_eq!(plan.gap.first(), Some(&d("2026-08-30")));
        assert_eq!(plan.gap.last(), Some(&d("2026-09-30")));
        assert_eq!(plan.gap.len(), 32);
        let none = plan_nightly(d("2026-11-28"), 3, &[month("2026-09", "2026-09-30", true)]);
        assert!(none.gap.is_empty());
    }

    #[test]
    fn nightly_call_count_is_one_month_query_per_batch() {
        let plan = plan_nightly(d("2026-11-20"), 3, &[month("2026-10", "2026-10-31", true)]);
        assert_eq!(calls(&plan, 2345, 100), 24);
    }

    #[test]
    fn explicit_periods_are_checked_against_the_window() {
        let today = d("2026-11-28");
        assert!(plan_explicit(today, FlowPeriod::Date(d("2026-10-01"))).is_ok());
        assert!(plan_explicit(today, FlowPeriod::Date(d("2026-09-30"))).is_err());
        assert!(plan_explicit(today, FlowPeriod::Date(today)).is_err());
        assert!(plan_explicit(today, FlowPeriod::Month(ym("2026-10"))).is_ok());
        assert!(plan_explicit(today, FlowPeriod::Month(ym("2026-09"))).is_err());
        assert!(plan_explicit(d("2026-11-01"), FlowPeriod::Month(ym("2026-11"))).is_err());
    }

    #[test]
    fn days_covered_clips_to_yesterday() {
        let days = days_covered(d("2026-11-04"), FlowPeriod::Month(ym("2026-11")));
        assert_eq!(
            days,
            vec![d("2026-11-01"), d("2026-11-02"), d("2026-11-03")]
        );
        assert_eq!(
            days_covered(d("2026-11-04"), FlowPeriod::Month(ym("2026-10"))).len(),
            31
        );
    }
}
