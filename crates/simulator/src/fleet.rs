//! Which cards exist, in `cid` order: a count of generated cards plus small sets of added and removed ones,
//! so that paging a million-card fleet never materialises it.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime};

use gsl_domain::{SimCardId, YearMonth};

use super::card::{
    id_of, next_month, slot_of_iccid, slot_of_id, Burn, Pool, Profile, SimCard, STRIDE,
};
use super::orders::CardState;
use super::showcase;

/// The live set of card slots.
#[derive(Debug, Clone, Default)]
pub struct FleetState {
    /// Generated cards sit at slots `0, STRIDE, 2*STRIDE, …` below `base * STRIDE`.
    base: u64,
    /// Cards added later (appended, or inserted between others by drift).
    extras: BTreeSet<u64>,
    /// Generated cards removed later.
    removed: BTreeSet<u64>,
    next_index: u64,
}

impl FleetState {
    pub fn new(cards: u64) -> FleetState {
        FleetState {
            base: cards,
            next_index: cards,
            ..Default::default()
        }
    }

    pub fn count(&self) -> u64 {
        self.base - self.removed.len() as u64 + self.extras.len() as u64
    }

    /// How many cards were generated (before drift added or removed any).
    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn is_live(&self, slot: u64) -> bool {
        if self.extras.contains(&slot) {
            return true;
        }
        slot % STRIDE == 0 && slot / STRIDE < self.base && !self.removed.contains(&slot)
    }

    /// Live cards with a slot below `s`.
    fn count_below(&self, s: u64) -> u64 {
        let base = s.div_ceil(STRIDE).min(self.base);
        base - self.removed.range(..s).count() as u64 + self.extras.range(..s).count() as u64
    }

    fn end(&self) -> u64 {
        let last_extra = self.extras.last().map_or(0, |s| s + 1);
        (self.base * STRIDE).max(last_extra)
    }

    /// The slot of the card at 0-based rank `k` in `cid` order.
    pub fn nth(&self, k: u64) -> Option<u64> {
        if k >= self.count() {
            return None;
        }
        let (mut lo, mut hi) = (0u64, self.end());
        // Smallest s with count_below(s + 1) > k.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.count_below(mid + 1) > k {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    /// Live slots from `start` upwards, in order.
    pub fn iter_from(&self, start: u64) -> impl Iterator<Item = u64> + '_ {
        let mut extras = self.extras.range(start..).copied().peekable();
        let mut b = start.div_ceil(STRIDE);
        std::iter::from_fn(move || loop {
            let next_base = (b < self.base).then(|| b * STRIDE);
            match (next_base, extras.peek().copied()) {
                (Some(nb), Some(e)) if e < nb => return extras.next(),
                (Some(nb), _) => {
                    b += 1;
                    if !self.removed.contains(&nb) {
                        return Some(nb);
                    }
                }
                (None, Some(_)) => return extras.next(),
                (None, None) => return None,
            }
        })
    }

    /// `limit` slots from 0-based rank `k`, ascending or descending by `cid`.
    pub fn page(&self, k: u64, limit: u64, descending: bool) -> Vec<u64> {
        let count = self.count();
        if k >= count {
            return Vec::new();
        }
        let (first, n) = if descending {
            let hi = count - k;
            let lo = hi.saturating_sub(limit);
            (lo, hi - lo)
        } else {
            (k, limit.min(count - k))
        };
        let Some(start) = self.nth(first) else {
            return Vec::new();
        };
        let mut out: Vec<u64> = self.iter_from(start).take(n as usize).collect();
        if descending {
            out.reverse();
        }
        out
    }

    /// Appends `n` new cards after every existing one.
    pub fn append(&mut self, n: u64) -> Vec<u64> {
        let slots: Vec<u64> = (self.next_index..self.next_index + n)
            .map(|i| i * STRIDE)
            .collect();
        self.next_index += n;
        self.extras.extend(&slots);
        slots
    }

    /// Inserts a card just before the card at rank `k` (and after rank `k - 1`), if there is room.
    pub fn insert_before_rank(&mut self, k: u64) -> Option<u64> {
        let upper = self.nth(k)?;
        let lower = if k == 0 { None } else { self.nth(k - 1) };
        let mut s = upper.checked_sub(1)?;
        while lower.is_none_or(|l| s > l) {
            if !self.is_live(s) && !self.removed.contains(&s) && s % STRIDE != 0 {
                self.extras.insert(s);
                return Some(s);
            }
            s = s.checked_sub(1)?;
        }
        None
    }

    pub fn remove(&mut self, slot: u64) {
        if !self.extras.remove(&slot) && self.is_live(slot) {
            self.removed.insert(slot);
        }
    }
}

/// Ground truth for tests: the fleet exactly as the simulator serves it on its current `today`.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub(crate) seed: u64,
    pub(crate) today: NaiveDate,
    pub(crate) state: FleetState,
    pub(crate) overrides: HashMap<u64, CardState>,
    /// `SimulatorOptions::showcase`: the last generated cards follow `showcase` scripts.
    pub(crate) showcase: bool,
    /// The simulated local time (Asia/Shanghai); its date is `today`.
    pub(crate) now: NaiveDateTime,
    /// Cards burning extra flow (`SimulatorHandle::set_burn`), by slot.
    pub(crate) burns: HashMap<u64, Burn>,
}

impl FleetView {
    /// The profile of the card at `slot`, scripted when the showcase is on.
    pub fn profile_at(&self, slot: u64) -> Profile {
        let mut p = Profile::new(self.seed, slot);
        p.burn = self.burns.get(&slot).copied();
        if !self.showcase {
            return p;
        }
        match showcase::script_of(self.state.base(), slot) {
            Some((index, script)) => showcase::apply(&mut p, script, index, self.today),
            None if matches!(
                p.pool,
                Some(Pool::Forward(i)) if i == showcase::POOL || i == showcase::CRITICAL_POOL
            ) =>
            {
                p.pool = Some(Pool::Forward(showcase::OTHERS_POOL));
            }
            None => {}
        }
        p
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }
    /// The simulated local time the real-time answers are "as of".
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }
    pub fn count(&self) -> u64 {
        self.state.count()
    }
    /// Every live card id in `cid` order.
    pub fn card_ids(&self) -> impl Iterator<Item = SimCardId> + '_ {
        self.state.iter_from(0).map(id_of)
    }
    fn profile(&self, id: SimCardId) -> Option<Profile> {
        let slot = slot_of_id(id).filter(|s| self.state.is_live(*s))?;
        Some(self.profile_at(slot))
    }
    /// The card as `GET /v1/sim-cards` lists it today.
    pub fn card(&self, id: SimCardId) -> Option<SimCard> {
        let p = self.profile(id)?;
        Some(p.card(self.today, self.overrides.get(&p.slot)))
    }
    /// The card with this ICCID, issuer digits included.
    pub fn card_by_iccid(&self, iccid: &str) -> Option<SimCard> {
        self.card(id_of(slot_of_iccid(iccid)?))
            .filter(|c| c.iccid == iccid)
    }
    /// The profile of a live card, by id.
    pub fn profile_of(&self, id: SimCardId) -> Option<Profile> {
        self.profile(id)
    }
    /// MB the card used on `day`.
    pub fn daily_flow(&self, id: SimCardId, day: NaiveDate) -> Option<f64> {
        Some(self.profile(id)?.daily_flow(day))
    }
    /// MB the card used in its current cycle up to the simulated `now`, today so far included: what
    /// `GET /v1/sim-price-plans?real_time=true` reports.
    pub fn realtime_used(&self, id: SimCardId) -> Option<f64> {
        Some(self.profile(id)?.flow_used_at(self.now))
    }
    /// MB the card used in calendar month `ym`, up to yesterday.
    pub fn month_usage(&self, id: SimCardId, ym: YearMonth) -> Option<f64> {
        let p = self.profile(id)?;
        let first = ym.first_day();
        Some(month_flow(&p, first, self.today))
    }
}

/// MB used in the calendar month starting `first`, counting only days before `today`.
pub fn month_flow(p: &Profile, first: NaiveDate, today: NaiveDate) -> f64 {
    p.flow_between(first, next_month(first).min(today).max(first))
}

/// Yesterday relative to `today`.
pub fn yesterday(today: NaiveDate) -> NaiveDate {
    today - Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn view(cards: u64, seed: u64, today: &str) -> FleetView {
        FleetView {
            seed,
            today: day(today),
            state: FleetState::new(cards),
            overrides: HashMap::new(),
            showcase: false,
            now: day(today).and_time(chrono::NaiveTime::MIN),
            burns: HashMap::new(),
        }
    }

    #[test]
    fn flow_used_is_the_cycle_sum_and_left_completes_the_quota() {
        let v = view(3000, 7, "2026-11-28");
        for id in v.card_ids() {
            let Some(c) = v.card(id) else { continue };
            let p = Profile::new(7, slot_of_id(id).unwrap_or_default());
            let start = p.cycle_start(v.today);
            let sum: f64 = start
                .iter_days()
                .take_while(|d| *d < v.today)
                .map(|d| p.daily_flow(d))
                .sum();
            assert!(
                (c.flow_used - sum).abs() < 1e-6,
                "{id}: {} vs {sum}",
                c.flow_used
            );
            if c.flow_used < p.quota_mb {
                assert!(
                    (c.flow_used + c.flow_left - p.quota_mb).abs() < 1e-6,
                    "{id}"
                );
            } else {
                assert_eq!(c.flow_left, 0.0);
                assert!(matches!(c.operator_status, 1 | 2), "{id}");
            }
        }
    }

    #[test]
    fn every_status_code_is_present() {
        let v = view(5000, 1, "2026-11-28");
        let cards: Vec<SimCard> = v.card_ids().filter_map(|id| v.card(id)).collect();
        let sim: BTreeSet<i32> = cards.iter().map(|c| c.sim_status).collect();
        let op: BTreeSet<i32> = cards.iter().map(|c| c.operator_status).collect();
        let types: BTreeSet<i32> = cards.iter().map(|c| c.sim_type).collect();
        assert_eq!(sim, BTreeSet::from([10, 11, 13, 14, 20, 30]));
        assert_eq!(op, BTreeSet::from([-1, 1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(types, BTreeSet::from([1, 2, 3]));
        assert!(cards.iter().any(|c| c.sim_pool_id.is_some()));
        assert!(cards
            .iter()
            .all(|c| c.sim_type != 3 || c.device_model.is_none()));
        assert!(cards
            .iter()
            .all(|c| c.sim_card_id.get() < (1i64 << 53) && (19..=20).contains(&c.iccid.len())));
        assert!(cards
            .iter()
            .any(|c| c.price_plan_name.contains("物联网卡流量包-10GB")));
        // Idle, heavy and spiking cards all occur.
        let profiles: Vec<Profile> = (0..5000).map(|i| Profile::new(1, i * STRIDE)).collect();
        let month = |p: &Profile| p.flow_between(day("2026-10-01"), day("2026-11-01"));
        assert!(profiles
            .iter()
            .any(|p| p.sim_status == 20 && month(p) == 0.0));
        assert!(profiles.iter().any(|p| month(p) > p.quota_mb));
        let spiky = profiles.iter().any(|p| {
            let flows: Vec<f64> = day("2026-10-01")
                .iter_days()
                .take(31)
                .map(|d| p.daily_flow(d))
                .collect();
            let median = {
                let mut f = flows.clone();
                f.sort_by(f64::total_cmp);
                f[15]
            };
            median > 0.0 && flows.iter().any(|f| *f > 10.0 * median)
        });
        assert!(spiky);
    }

    #[test]
    fn same_seed_same_fleet_other_seed_other_fleet() {
        let a = view(200, 42, "2026-11-10");
        let b = view(200, 42, "2026-11-10");
        let c = view(200, 43, "2026-11-10");
        let cards = |v: &FleetView| v.card_ids().filter_map(|id| v.card(id)).collect::<Vec<_>>();
        assert_eq!(cards(&a), cards(&b));
        assert_ne!(cards(&a), cards(&c));
    }

    #[test]
    fn unicom_cycles_start_on_the_27th() {
        let p = (0..1000)
            .map(|i| Profile::new(1, i * STRIDE))
            .find(|p| p.unicom_cycle);
        let Some(p) = p else {
            panic!("no Unicom 27th-cycle card")
        };
        for (today, start) in [
            ("2026-11-28", "2026-11-27"),
            ("2026-11-26", "2026-10-27"),
            ("2026-01-05", "2025-12-27"),
        ] {
            assert_eq!(p.cycle_start(day(today)), day(start));
        }
    }

    #[test]
    fn paging_matches_iteration_through_adds_inserts_and_removes() {
        let mut s = FleetState::new(50);
        s.append(3);
        s.remove(7 * STRIDE);
        let inserted = s.insert_before_rank(10);
        assert!(inserted.is_some());
        let all: Vec<u64> = s.iter_from(0).collect();
        assert_eq!(all.len() as u64, s.count());
        assert!(all.windows(2).all(|w| w[0] < w[1]), "cid order");
        assert_eq!(inserted, all.get(10).copied());
        for k in 0..s.count() {
            assert_eq!(s.nth(k), Some(all[k as usize]));
        }
        let paged: Vec<u64> = (0..6).flat_map(|p| s.page(p * 10, 10, false)).collect();
        assert_eq!(paged, all);
        let mut desc: Vec<u64> = (0..6).flat_map(|p| s.page(p * 10, 10, true)).collect();
        desc.reverse();
        assert_eq!(desc, all);
        assert!(s.page(s.count(), 10, false).is_empty());
    }

    #[test]
    fn ids_and_iccids_round_trip() {
        for slot in [0, STRIDE, 999_999 * STRIDE + 5] {
            assert_eq!(slot_of_id(id_of(slot)), Some(slot));
            for carrier in 0..3 {
                let iccid = super::super::card::iccid_of(slot, carrier);
                assert_eq!(iccid.len(), 20);
                assert_eq!(slot_of_iccid(&iccid), Some(slot));
            }
        }
        assert_eq!(slot_of_iccid("8986000000000000000x"), None);
        assert_eq!(
            slot_of_iccid("89869900000000000001"),
            None,
            "unknown issuer"
        );
    }
}
