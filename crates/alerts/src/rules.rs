//! The rules' arithmetic in plain Rust: threshold resolution, exhaustion projection and the anomaly test.
//!
//! The fleet-wide evaluation runs the same arithmetic in SQL (`store::alerts`); these functions are its
//! specification, used to build the SQL parameters and checked by the tests against the SQL's results.

use chrono::{Days, NaiveDate};

use crate::settings::AlertSettings;

/// Warning and critical usage ratios in force for one card or pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warning: f64,
    pub critical: f64,
}

pub use gsl_domain::usage_ratio;

/// A projected exhaustion: days until `flow_left` runs out and the day it does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    pub daily_rate_mb: f64,
    pub days_left: f64,
    pub date: NaiveDate,
}

/// Projects exhaustion from the recent daily flows (`window` days ending on `as_of`; days missing from
/// `recent` count as zero). `None` when nothing is being used.
pub fn project_exhaustion(
    as_of: NaiveDate,
    flow_left_mb: f64,
    recent: &[f64],
    window: u32,
) -> Option<Projection> {
    let rate = recent.iter().sum::<f64>() / f64::from(window.max(1));
    if rate <= 0.0 || !rate.is_finite() {
        return None;
    }
    let days_left = flow_left_mb.max(0.0) / rate;
    let date = as_of.checked_add_days(Days::new(days_left.ceil() as u64))?;
    Some(Projection {
        daily_rate_mb: rate,
        days_left,
        date,
    })
}

/// The projection rule: exhaustion within `projection_days` while the ratio is still below warning.
pub fn projection_fires(ratio: f64, warning: f64, p: &Projection, projection_days: u32) -> bool {
    ratio < warning && p.days_left <= f64::from(projection_days)
}

/// The fewest baseline days the anomaly rule needs: half the baseline, at least 3 (never above it).
pub fn anomaly_min_history(baseline_days: u32) -> u32 {
    baseline_days.div_ceil(2).max(3).min(baseline_days.max(1))
}

/// The median of `values` (the mean of the two middle ones for an even count), `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// The anomaly rule: the day's flow above `factor` × the median of the card's own baseline days and above
/// `min_mb`, given at least `anomaly_min_history(baseline_days)` days of baseline.
pub fn anomaly_fires(day_mb: f64, baseline: &[f64], settings: &AlertSettings) -> bool {
    if baseline.len() < anomaly_min_history(settings.anomaly_baseline_days) as usize {
        return false;
    }
    match median(baseline) {
        Some(m) => day_mb > settings.anomaly_min_mb && day_mb > settings.anomaly_factor * m,
        None => false,
    }
}

/// The reason text of an operator_status code (gsl-api.md §3.1).
pub fn suspension_reason(code: i64) -> &'static str {
    match code {
        -1 => "normal",
        1 => "stopped for exceeding the flow quota",
        2 => "stopped at the flow threshold",
        3 => "stopped because the flow pool is stopped",
        4 => "stopped because the package expired",
        5 => "stopped on request",
        6 => "stopped for a violation",
        7 => "stopped for machine-card separation",
        _ => "stopped for an unknown reason",
    }
}

/// The override resolution that `store::alerts` runs in SQL, in plain Rust: the tests' reference.
#[cfg(test)]
mod oracle {
    use super::*;
    use crate::ThresholdOverride;

    /// What identifies a card for the overrides.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct CardKey<'a> {
        pub price_plan: Option<&'a str>,
        pub sim_pool_id: Option<gsl_domain::PoolId>,
        /// `sim_cards.tag_names` as GSL gives it.
        pub tag_names: Option<&'a str>,
    }

    /// The thresholds for a card: the first override matching its price plan, else its pool, else one of its
    /// tags (in configuration order within each level); thresholds an override leaves unset stay global.
    pub fn thresholds_for(settings: &AlertSettings, card: CardKey<'_>) -> Thresholds {
        let by_plan = |o: &&ThresholdOverride| {
            o.price_plan.is_some() && o.price_plan.as_deref() == card.price_plan
        };
        let by_pool =
            |o: &&ThresholdOverride| o.sim_pool_id.is_some() && o.sim_pool_id == card.sim_pool_id;
        let by_tag = |o: &&ThresholdOverride| match (&o.tag, card.tag_names) {
            (Some(tag), Some(names)) => gsl_domain::split_tags(names).any(|t| t == tag),
            _ => false,
        };
        let chosen = settings
            .overrides
            .iter()
            .find(by_plan)
            .or_else(|| settings.overrides.iter().find(by_pool))
            .or_else(|| settings.overrides.iter().find(by_tag));
        Thresholds {
            warning: chosen
                .and_then(|o| o.warning_ratio)
                .unwrap_or(settings.warning_ratio),
            critical: chosen
                .and_then(|o| o.critical_ratio)
                .unwrap_or(settings.critical_ratio),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::oracle::*;
    use super::*;
    use crate::ThresholdOverride;
    use std::time::Duration;

    fn settings(overrides: Vec<ThresholdOverride>) -> AlertSettings {
        AlertSettings {
            warning_ratio: 0.8,
            critical_ratio: 0.9,
            overrides,
            projection_days: 3,
            projection_window_days: 7,
            anomaly_baseline_days: 14,
            anomaly_factor: 5.0,
            anomaly_min_mb: 50.0,
            alertmanager_url: None,
            webhook_url: None,
            resend_interval: Duration::from_secs(3600),
            notify_timeout: Duration::from_secs(10),
            notify_max_retries: 5,
        }
    }

    fn ov(plan: Option<&str>, pool: Option<i64>, tag: Option<&str>, w: f64) -> ThresholdOverride {
        ThresholdOverride {
            price_plan: plan.map(Into::into),
            sim_pool_id: pool.map(Into::into),
            tag: tag.map(Into::into),
            warning_ratio: Some(w),
            critical_ratio: None,
        }
    }

    #[test]
    fn thresholds_follow_plan_then_pool_then_tag() {
        let s = settings(vec![
            ov(None, None, Some("fleet"), 0.5),
            ov(None, Some(7), None, 0.6),
            ov(Some("10GB"), None, None, 0.7),
            ov(None, None, Some("vip"), 0.4),
        ]);
        type Case<'a> = (Option<&'a str>, Option<i64>, Option<&'a str>, f64);
        let cases: &[Case] = &[
            (None, None, None, 0.8),
            (Some("10GB"), Some(7), Some("fleet"), 0.7),
            (Some("1GB"), Some(7), Some("fleet"), 0.6),
            (Some("1GB"), Some(8), Some(" vip , fleet"), 0.5),
            (None, None, Some("vip"), 0.4),
            (None, None, Some("vipx,flee"), 0.8),
            (None, None, Some(""), 0.8),
        ];
        for &(plan, pool, tags, want) in cases {
            let key = CardKey {
                price_plan: plan,
                sim_pool_id: pool.map(Into::into),
                tag_names: tags,
            };
            let t = thresholds_for(&s, key);
            assert_eq!(t.warning, want, "{plan:?} {pool:?} {tags:?}");
            assert_eq!(t.critical, 0.9, "unset critical stays global");
        }
    }

    #[test]
    fn usage_ratio_cases() {
        let cases = [
            (Some(80.0), Some(20.0), Some(0.8)),
            (Some(0.0), Some(0.0), None),
            (None, Some(1.0), None),
            (Some(-1.0), Some(5.0), None),
            (Some(5.0), Some(0.0), Some(1.0)),
        ];
        for (used, left, want) in cases {
            assert_eq!(usage_ratio(used, left), want, "{used:?} {left:?}");
        }
    }

    #[test]
    fn projection_math() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let as_of = d("2026-03-10");
        // (left, recent, window, days_left, date)
        type Case<'a> = (f64, &'a [f64], u32, Option<(f64, &'a str)>);
        let cases: &[Case] = &[
            (300.0, &[100.0; 7], 7, Some((3.0, "2026-03-13"))),
            (250.0, &[100.0; 7], 7, Some((2.5, "2026-03-13"))),
            // Missing days count as zero: 700 MB over a 14-day window is 50 MB/day.
            (100.0, &[100.0; 7], 14, Some((2.0, "2026-03-12"))),
            (100.0, &[], 7, None),
            (100.0, &[0.0, 0.0], 7, None),
            (0.0, &[10.0], 1, Some((0.0, "2026-03-10"))),
        ];
        for &(left, recent, window, want) in cases {
            let got =
                project_exhaustion(as_of, left, recent, window).map(|p| (p.days_left, p.date));
            assert_eq!(
                got,
                want.map(|(n, s)| (n, d(s))),
                "{left} {recent:?} {window}"
            );
        }
        let p = project_exhaustion(as_of, 300.0, &[100.0; 7], 7).expect("projects");
        assert!(projection_fires(0.5, 0.8, &p, 3));
        assert!(!projection_fires(0.5, 0.8, &p, 2), "too far out");
        assert!(
            !projection_fires(0.85, 0.8, &p, 3),
            "the ratio rule already covers it"
        );
    }

    #[test]
    fn anomaly_math() {
        let s = settings(vec![]);
        let steady = [100.0; 14];
        let cases: &[(f64, &[f64], bool)] = &[
            (600.0, &steady, true),
            (500.0, &steady, false), // not above 5 × 100
            (110.0, &steady, false), // a steady heavy user
            (60.0, &[0.0; 14], true),
            (40.0, &[0.0; 14], false),   // under the absolute floor
            (600.0, &[100.0; 6], false), // too little history
            (600.0, &[100.0; 7], true),
            (600.0, &[1.0, 1.0, 1.0, 500.0, 500.0, 500.0, 500.0], false), // median 500
        ];
        for &(day, base, want) in cases {
            assert_eq!(anomaly_fires(day, base, &s), want, "{day} {base:?}");
        }
    }

    #[test]
    fn min_history_and_median() {
        for (days, want) in [(14, 7), (7, 4), (4, 3), (2, 2), (0, 1)] {
            assert_eq!(anomaly_min_history(days), want, "{days}");
        }
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn suspension_reasons_name_every_code() {
        assert_eq!(suspension_reason(1), "stopped for exceeding the flow quota");
        assert_eq!(suspension_reason(5), "stopped on request");
        assert_eq!(suspension_reason(42), "stopped for an unknown reason");
    }
}
