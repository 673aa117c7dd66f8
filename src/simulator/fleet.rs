//! Which cards exist, in `cid` order: a count of generated cards plus small sets of added and removed ones,
//! so that paging a million-card fleet never materialises it.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate};

use super::card::{id_of, next_month, slot_of_iccid, slot_of_id, Profile, SimCard, STRIDE};

/// A calendar month, e.g. the billing cycle `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    pub fn of(day: NaiveDate) -> YearMonth {
        YearMonth {
            year: day.year(),
            month: day.month(),
        }
    }
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }
    /// The month `n` months before this one.
    pub fn minus(self, n: u32) -> YearMonth {
        let idx = self.year * 12 + self.month as i32 - 1 - n as i32;
        YearMonth {
            year: idx.div_euclid(12),
            month: idx.rem_euclid(12) as u32 + 1,
        }
    }
}

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
        while lower.map_or(true, |l| s > l) {
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
    pub(crate) overrides: HashMap<u64, i32>,
}

impl FleetView {
    pub fn today(&self) -> NaiveDate {
        self.today
    }
    pub fn count(&self) -> u64 {
        self.state.count()
    }
    /// Every live card id in `cid` order.
    pub fn card_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.state.iter_from(0).map(id_of)
    }
    fn profile(&self, id: i64) -> Option<Profile> {
        let slot = slot_of_id(id).filter(|s| self.state.is_live(*s))?;
        Some(Profile::new(self.seed, slot))
    }
    /// The card as `GET /v1/sim-cards` lists it today.
    pub fn card(&self, id: i64) -> Option<SimCard> {
        let p = self.profile(id)?;
        Some(p.card(self.today, self.overrides.get(&p.slot).copied()))
    }
    pub fn card_by_iccid(&self, iccid: &str) -> Option<SimCard> {
        self.card(id_of(slot_of_iccid(iccid)?))
    }
    /// MB the card used on `day`.
    pub fn daily_flow(&self, id: i64, day: NaiveDate) -> Option<f64> {
        Some(self.profile(id)?.daily_flow(day))
    }
    /// MB the card used in calendar month `ym`, up to yesterday.
    pub fn month_usage(&self, id: i64, ym: YearMonth) -> Option<f64> {
        let p = self.profile(id)?;
        let first = ym.first_day()?;
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
