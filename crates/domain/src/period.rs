//! `FlowPeriod`: what one batch-daily-flow query asks for.

use chrono::NaiveDate;

use crate::YearMonth;

/// Daily flow for a whole month so far, or for one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPeriod {
    Month(YearMonth),
    Date(NaiveDate),
}

impl std::fmt::Display for FlowPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Month(m) => write!(f, "month {m}"),
            Self::Date(d) => write!(f, "date {d}"),
        }
    }
}
