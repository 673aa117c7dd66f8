//! The showcase (`SimulatorOptions::showcase`, on in `gsl-sync demo`): the last six generated cards follow
//! scripts so a first sync meets every alert gsl-sync raises with its default thresholds — two cards near
//! quota sharing a pool near its limit, one critical and one over quota (and so stopped) sharing a pool
//! over its limit, one burning fast enough for the projection, one with a spike. Other cards keep their
//! generated figures, but none of them joins the showcase pools, whose figures would otherwise drown in
//! theirs.
//!
//! A script is a function of (today, day), like every other card's usage of (seed, slot, day): each
//! simulator run has one `today`, so the history it serves is consistent within the run.

use chrono::{Datelike, NaiveDate};

use super::card::{Pool, Profile};

/// The scripted cards are the last `SCRIPTS.len()` generated ones, in this order.
pub const SCRIPTS: [Script; 6] = [
    Script::Quota(0.85),
    Script::Quota(0.85),
    Script::Quota(0.95),
    Script::Quota(1.10),
    Script::Burning,
    Script::Spike,
];
/// The forward pool (index into `FORWARD_POOLS`) only the near-quota pair belongs to in the showcase.
pub const POOL: usize = 2;
/// The backward pool (index into `BACK_POOLS`) only the critical and the over-quota card share: above its
/// limit, so the showcase has a critical pool beside the near-limit one.
pub const CRITICAL_POOL: usize = 1;
/// Burning days: more than half of the anomaly baseline (14 days), so the burn is its own median and
/// the projection alert fires without an anomaly.
const BURN_DAYS: i64 = 10;
/// Left over at the burning rate, in days: under the projection's default 3.
const BURN_LEFT_DAYS: f64 = 2.7;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Script {
    /// Uses this share of its quota by yesterday, evenly over the cycle so far.
    Quota(f64),
    /// Idle, then the last `BURN_DAYS` days at a rate that leaves `BURN_LEFT_DAYS` of flow.
    Burning,
    /// 20 MB a day, and 400 MB yesterday.
    Spike,
}

/// The position and script of `slot` in a fleet of `base` generated cards, if it has one.
pub fn script_of(base: u64, slot: u64) -> Option<(usize, Script)> {
    let stride = super::card::STRIDE;
    if base < SCRIPTS.len() as u64 * 2 || slot % stride != 0 {
        return None;
    }
    let i = (slot / stride).checked_sub(base - SCRIPTS.len() as u64)?;
    SCRIPTS.get(i as usize).map(|s| (i as usize, *s))
}

/// Rewrites a generated profile to follow `script` on `today`.
pub fn apply(p: &mut Profile, script: Script, index: usize, today: NaiveDate) {
    p.sim_status = 20;
    p.set_plan(if script == Script::Spike { 5 } else { 3 });
    // On the 1st the calendar cycle has no day yet; the Unicom cycle (27th–26th) has a few.
    p.unicom_cycle = today.day() == 1;
    p.carrier = if p.unicom_cycle { 1 } else { 0 };
    p.pool = match index {
        0 | 1 => Some(Pool::Forward(POOL)),
        2 | 3 => Some(Pool::Back(CRITICAL_POOL)),
        _ => None,
    };
    p.set_script(script, today);
}

/// MB used on `day` by a card following `script` with `quota_mb`, whose cycle started on `cycle`.
pub fn daily(
    script: Script,
    quota_mb: f64,
    cycle: NaiveDate,
    today: NaiveDate,
    day: NaiveDate,
) -> f64 {
    if day >= today {
        return 0.0;
    }
    let in_cycle = (today - cycle).num_days().max(1) as f64;
    let since = (today - day).num_days();
    let mb = match script {
        // The same rate over the anomaly baseline before the cycle, so the rate is not a spike.
        Script::Quota(share) if day >= cycle || since <= 15 => share * quota_mb / in_cycle,
        Script::Quota(share) => share * quota_mb / 30.0,
        Script::Burning if since <= BURN_DAYS => {
            let k = in_cycle.min(BURN_DAYS as f64);
            quota_mb / (k + BURN_LEFT_DAYS)
        }
        Script::Burning => 0.0,
        Script::Spike if since == 1 => 400.0,
        Script::Spike => 20.0,
    };
    (mb * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_scripted_cards_are_the_last_six() {
        let s = super::super::card::STRIDE;
        assert_eq!(script_of(100, 94 * s), Some((0, Script::Quota(0.85))));
        assert_eq!(script_of(100, 95 * s), Some((1, Script::Quota(0.85))));
        assert_eq!(script_of(100, 99 * s), Some((5, Script::Spike)));
        assert_eq!(script_of(100, 93 * s), None);
        assert_eq!(script_of(100, 94 * s + 1), None);
        assert_eq!(script_of(6, 0), None, "too small a fleet has no showcase");
    }

    #[test]
    fn every_day_of_the_year_meets_each_rule() {
        for today in d("2026-03-01").iter_days().take(400) {
            let card = |index: usize| {
                let mut p = Profile::new(1, 0);
                apply(&mut p, SCRIPTS[index], index, today);
                p
            };
            let (warning, burning) = (card(0), card(4));
            let ratio = |p: &Profile| p.flow_used(today) / p.quota_mb;
            assert!((0.8..0.9).contains(&ratio(&warning)), "{today}");
            assert!(
                ratio(&card(2)) >= 0.9 && card(3).flow_used(today) > card(3).quota_mb,
                "{today}"
            );
            // Burning: below the warning ratio, out of flow within 3 days at its 7-day rate.
            let rate = burning.flow_between(today - Duration::days(7), today) / 7.0;
            assert!(ratio(&burning) < 0.8, "{today}");
            assert!(
                burning.quota_mb * (1.0 - ratio(&burning)) / rate <= 3.0,
                "{today}"
            );
            // ... and no anomaly: yesterday is within 5 times the median of the 14 days before.
            for (p, spiky) in [(&burning, false), (&warning, false), (&card(5), true)] {
                let y = today - Duration::days(1);
                let mut base: Vec<f64> = (1..=14)
                    .map(|i| p.daily_flow(y - Duration::days(i)))
                    .collect();
                base.sort_by(f64::total_cmp);
                let spike = p.daily_flow(y) > 5.0 * (base[6] + base[7]) / 2.0;
                assert_eq!(spike, spiky, "{today}");
            }
        }
    }
}
