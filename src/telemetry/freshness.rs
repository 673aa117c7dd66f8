//! How fresh each account's data is, and which accounts this replica syncs: gauges read from the store
//! and the lease loop, so every replica serves the same freshness.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

use gsl_store::gauges::LastRun;

#[derive(Clone)]
pub struct Freshness {
    pub data_complete_through: GaugeVec,
    pub night_complete: GaugeVec,
    pub lease_held: IntGaugeVec,
}

impl Freshness {
    pub(super) fn register(registry: &Registry) -> Self {
        let data_complete_through = GaugeVec::new(
            Opts::new(
                "gsl_sync_data_complete_through_timestamp_seconds",
                "End (next midnight in sync.timezone) of the last day whose daily flow is stored for every card.",
            ),
            &["account"],
        )
        .expect("valid metric");
        let night_complete = GaugeVec::new(
            Opts::new(
                "gsl_sync_night_complete_timestamp_seconds",
                "Unix time the daily flow first became complete through that day.",
            ),
            &["account"],
        )
        .expect("valid metric");
        let lease_held = IntGaugeVec::new(
            Opts::new(
                "gsl_sync_lease_held",
                "1 while this replica holds the account's sync lease (one replica at a time does).",
            ),
            &["account"],
        )
        .expect("valid metric");
        for family in [&data_complete_through, &night_complete] {
            registry
                .register(Box::new(family.clone()))
                .expect("unique metric");
        }
        registry
            .register(Box::new(lease_held.clone()))
            .expect("unique metric");
        Self {
            data_complete_through,
            night_complete,
            lease_held,
        }
    }

    /// Moves the gauges to what `sync_runs` says (daily-flow rows carry the freshness).
    pub fn seed(&self, runs: &[LastRun], zone: Tz) {
        for run in runs {
            if let Some(day) = run.data_complete_through {
                if let Some(end) = end_of_day(day, zone) {
                    self.data_complete_through
                        .with_label_values(&[&run.account])
                        .set(seconds(end));
                }
            }
            if let Some(at) = run.night_complete_at {
                self.night_complete
                    .with_label_values(&[&run.account])
                    .set(seconds(at));
            }
        }
    }
}

/// The instant `day` ends in `zone`: the next day's first moment (which a DST change may move).
fn end_of_day(day: NaiveDate, zone: Tz) -> Option<DateTime<Utc>> {
    let next = day.succ_opt()?.and_hms_opt(0, 0, 0)?;
    next.and_local_timezone(zone)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_at_the_next_local_midnight() {
        let day: NaiveDate = "2026-11-30".parse().unwrap();
        let end = end_of_day(day, chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        // Berlin moves to summer time on 2026-03-29: the 28th still ends at 23:00 UTC.
        let end = end_of_day("2026-03-28".parse().unwrap(), chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-03-28T23:00:00+00:00");
    }

    #[test]
    fn only_rows_with_freshness_move_the_gauges() {
        let registry = Registry::new();
        let f = Freshness::register(&registry);
        let run = |account: &str, through: Option<&str>| LastRun {
            account: account.into(),
            job: "daily_flow".into(),
            last_success: None,
            last_duration_seconds: None,
            data_complete_through: through.map(|d| d.parse().unwrap()),
            night_complete_at: through.map(|_| "2026-12-01T03:10:00Z".parse().unwrap()),
        };
        f.seed(
            &[run("a", Some("2026-11-30")), run("b", None)],
            chrono_tz::Asia::Shanghai,
        );
        let a = f.data_complete_through.with_label_values(&["a"]).get();
        assert_eq!(a, 1_796_054_400.0);
        assert_eq!(
            f.night_complete.with_label_values(&["a"]).get(),
            1_796_094_600.0
        );
        let families = registry.gather();
        let through = families
            .iter()
            .find(|f| f.name() == "gsl_sync_data_complete_through_timestamp_seconds")
            .unwrap();
        assert_eq!(through.get_metric().len(), 1, "b has no freshness yet");
    }
}
