//! Fleet families (always on): card counts, fleet and pool flow, open quota episodes, data freshness.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::text::{mb_to_bytes, push_header, push_sample};
use gsl_store::gauges::{GaugeCard, GaugePool, OpenAlertCount};

/// The alert kinds `gsl_sims_over_threshold` counts, with their `severity` label.
pub const QUOTA_KINDS: [(&str, &str); 2] = [
    ("GslSimQuotaWarning", "warning"),
    ("GslSimQuotaCritical", "critical"),
];

/// What the fleet families need beyond the cards themselves.
#[derive(Debug, Clone, Default)]
pub struct FleetExtras {
    pub pools: Vec<GaugePool>,
    pub open_alerts: Vec<OpenAlertCount>,
}

#[derive(Default)]
struct AccountTotals {
    used_bytes: f64,
    left_bytes: f64,
    latest_data_date: Option<NaiveDate>,
}

/// Sums over every current card, whatever the per-SIM filters and shards say.
#[derive(Default)]
pub struct FleetTotals {
    counts: BTreeMap<(String, Option<i32>, Option<i32>), u64>,
    accounts: BTreeMap<String, AccountTotals>,
}

impl FleetTotals {
    pub fn add(&mut self, card: &GaugeCard) {
        let key = (card.account.clone(), card.sim_status, card.operator_status);
        *self.counts.entry(key).or_default() += 1;
        let totals = match self.accounts.get_mut(card.account.as_str()) {
            Some(t) => t,
            None => self.accounts.entry(card.account.clone()).or_default(),
        };
        totals.used_bytes += mb_to_bytes(card.flow_used_mb.unwrap_or(0.0));
        totals.left_bytes += mb_to_bytes(card.flow_left_mb.unwrap_or(0.0));
        totals.latest_data_date = totals.latest_data_date.max(card.data_date);
    }

    /// Renders every fleet family, HELP and TYPE included even when a family has no samples.
    pub fn render(&self, extras: &FleetExtras, tz: Tz, out: &mut Vec<u8>) {
        self.render_counts(out);
        self.render_flow(out);
        self.render_over_threshold(extras, out);
        render_pools(&extras.pools, out);
        self.render_as_of(tz, out);
    }

    fn render_counts(&self, out: &mut Vec<u8>) {
        push_header(
            out,
            "gsl_sims",
            "gauge",
            "Current SIM cards by account, sim_status and operator_status.",
        );
        for ((account, sim_status, operator_status), n) in &self.counts {
            let (s, o) = (code(*sim_status), code(*operator_status));
            let labels = [
                ("account", account.as_str()),
                ("sim_status", &s),
                ("operator_status", &o),
            ];
            push_sample(out, "gsl_sims", &labels, *n as f64);
        }
    }

    fn render_flow(&self, out: &mut Vec<u8>) {
        for (name, help, pick) in [
            (
                "gsl_fleet_flow_used_bytes",
                "Flow used by all current cards, as of the data day.",
                true,
            ),
            (
                "gsl_fleet_flow_left_bytes",
                "Flow left on all current cards, as of the data day.",
                false,
            ),
        ] {
            push_header(out, name, "gauge", help);
            for (account, t) in &self.accounts {
                let v = if pick { t.used_bytes } else { t.left_bytes };
                push_sample(out, name, &[("account", account)], v);
            }
        }
    }

    fn render_over_threshold(&self, extras: &FleetExtras, out: &mut Vec<u8>) {
        let name = "gsl_sims_over_threshold";
        push_header(
            out,
            name,
            "gauge",
            "Cards with an open quota alert episode, by severity.",
        );
        let mut counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        // Zeros for every known account, so alert rules and dashboards see the series before the first episode.
        for account in self.accounts.keys() {
            for (_, severity) in QUOTA_KINDS {
                counts.insert((account, severity), 0);
            }
        }
        for row in &extras.open_alerts {
            if let Some((_, severity)) = QUOTA_KINDS.iter().find(|(k, _)| *k == row.kind) {
                *counts.entry((&row.account, severity)).or_default() += row.open;
            }
        }
        for ((account, severity), n) in counts {
            push_sample(
                out,
                name,
                &[("account", account), ("severity", severity)],
                n as f64,
            );
        }
    }

    fn render_as_of(&self, tz: Tz, out: &mut Vec<u8>) {
        let name = "gsl_usage_data_as_of_timestamp_seconds";
        push_header(
            out,
            name,
            "gauge",
            "Unix time the flow figures are valid at: the end of the latest data day.",
        );
        for (account, t) in &self.accounts {
            if let Some(ts) = t.latest_data_date.and_then(|d| as_of_seconds(d, tz)) {
                push_sample(out, name, &[("account", account)], ts as f64);
            }
        }
    }
}

fn render_pools(pools: &[GaugePool], out: &mut Vec<u8>) {
    type Pick = fn(&GaugePool) -> Option<f64>;
    let families: [(&str, &str, Pick); 3] = [
        (
            "gsl_pool_flow_used_bytes",
            "Flow used in the pool's current billing cycle.",
            |p| p.flow_used_mb,
        ),
        (
            "gsl_pool_flow_left_bytes",
            "Flow left in the pool's current billing cycle.",
            |p| p.flow_left_mb,
        ),
        (
            "gsl_pool_flow_total_bytes",
            "The pool's total flow in its current billing cycle.",
            |p| p.flow_total_mb,
        ),
    ];
    for (name, help, pick) in families {
        push_header(out, name, "gauge", help);
        for pool in pools {
            if let Some(mb) = pick(pool) {
                let id = itoa::Buffer::new()
                    .format(pool.sim_pool_id.get())
                    .to_owned();
                let labels = [("account", pool.account.as_str()), ("sim_pool_id", &id)];
                push_sample(out, name, &labels, mb_to_bytes(mb));
            }
        }
    }
}

/// The cutoff of a data day: the next day at 00:00 in `tz`, as Unix seconds.
pub fn as_of_seconds(data_date: NaiveDate, tz: Tz) -> Option<i64> {
    let next = data_date.succ_opt()?.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&next)
        .earliest()
        .map(|t| t.timestamp())
}

/// The first day of the month `today` falls in: the current billing cycle.
pub fn billing_cycle(today: NaiveDate) -> NaiveDate {
    today.with_day(1).unwrap_or(today)
}

fn code(v: Option<i32>) -> String {
    v.map(|c| c.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_is_the_next_midnight_in_the_sync_zone() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        // 2026-03-10T00:00+08:00 = 2026-03-09T16:00Z
        assert_eq!(
            as_of_seconds(day, chrono_tz::Asia::Shanghai),
            Some(1_773_072_000)
        );
        assert_eq!(as_of_seconds(day, chrono_tz::UTC), Some(1_773_100_800));
    }
}
