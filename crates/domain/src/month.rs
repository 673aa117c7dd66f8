//! `YearMonth`: a calendar month, valid by construction, with the one parser every input goes through.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};

/// A calendar month, years 1000..=9999: `YYYY-MM` for month-usages, pools and reports, `YYYYMM` for daily flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1000..=9999).contains(&year)).then_some(Self { year, month })
    }

    /// The month a date falls in. Dates outside years 1000..=9999 are clamped, so calendar math never fails.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year().clamp(1000, 9999),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// `YYYYMM`.
    pub fn compact(self) -> String {
        format!("{:04}{:02}", self.year, self.month)
    }

    /// `YYYY-MM`.
    pub fn dashed(self) -> String {
        self.to_string()
    }

    pub fn first_day(self) -> NaiveDate {
        // Year and month are in range by construction: this never falls back.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day() - Duration::days(1)
    }

    pub fn next(self) -> Self {
        self.plus(1)
    }

    pub fn previous(self) -> Self {
        self.minus(1)
    }

    /// The month `n` months before this one.
    pub fn minus(self, n: u32) -> Self {
        self.plus(-i64::from(n))
    }

    fn plus(self, n: i64) -> Self {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 + n;
        let year = index.div_euclid(12).clamp(1000, 9999) as i32;
        Self {
            year,
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// Every day of the month, first to last.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last_day();
        self.first_day().iter_days().take_while(move |d| *d <= last)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The text was neither `YYYY-MM` nor `YYYYMM`. Keeps at most a few dozen characters of what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a month (YYYY-MM or YYYYMM): {0:?}")]
pub struct BadYearMonth(pub String);

impl BadYearMonth {
    fn of(raw: &str) -> Self {
        Self(raw.chars().take(32).collect())
    }
}

impl FromStr for YearMonth {
    type Err = BadYearMonth;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        // Only ASCII can be a month; checking first also keeps the byte slicing below on char boundaries
        // (found by fuzzing: "ab€c" panicked).
        if !t.is_ascii() {
            return Err(BadYearMonth::of(s));
        }
        let (y, m) = match t.as_bytes() {
            [_, _, _, _, b'-', _, _] => (&t[..4], &t[5..]),
            b if b.len() == 6 => (&t[..4], &t[4..]),
            _ => return Err(BadYearMonth::of(s)),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(y) || !digits(m) {
            return Err(BadYearMonth::of(s));
        }
        match (y.parse(), m.parse()) {
            (Ok(y), Ok(m)) => Self::new(y, m).ok_or_else(|| BadYearMonth::of(s)),
            _ => Err(BadYearMonth::of(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: Option<(i32, u32)>) {
        let got = raw.parse::<YearMonth>().ok().map(|m| (m.year(), m.month()));
        assert_eq!(got, expected, "{raw:?}");
    }

    #[test]
    fn parses_both_forms_and_nothing_else() {
        check("2026-11", Some((2026, 11)));
        check("202611", Some((2026, 11)));
        check("ab€c", None);
        check("20€11", None);
        check("2€-11", None);
        check(" 2026-01 ", Some((2026, 1)));
        check("2026-13", None);
        check("2026-00", None);
        check("2026-1", None);
        check("20261", None);
        check("2026/11", None);
        check("２０２６-11", None);
        check("2026-１1", None);
        check("é2026-", None);
        check("0999-01", None);
        check("", None);
        check("202400", None);
        check("abcdef", None);
        check("24-08", None);
        check("２０２４０８", None);
    }

    #[test]
    fn an_overlong_value_is_cut_in_the_error() {
        let err = "x".repeat(10_000).parse::<YearMonth>().unwrap_err();
        assert!(err.to_string().len() < 80, "{err}");
    }

    #[test]
    fn calendar_math_crosses_years() {
        let m = YearMonth::new(2026, 1).unwrap();
        assert_eq!(m.previous(), YearMonth::new(2025, 12).unwrap());
        assert_eq!(m.minus(13), YearMonth::new(2024, 12).unwrap());
        assert_eq!(
            YearMonth::new(2026, 12).unwrap().next(),
            YearMonth::new(2027, 1).unwrap()
        );
        assert_eq!(
            YearMonth::new(2028, 2).unwrap().last_day(),
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        );
        assert_eq!(YearMonth::new(2026, 11).unwrap().days().count(), 30);
        assert_eq!(m.compact(), "202601");
        assert_eq!(m.dashed(), "2026-01");
    }
}
