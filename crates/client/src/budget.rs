//! One call budget per account, shared by every job of that account.
//!
//! GSL's flow control is per user: 5 calls/s in all, of which the card list may take 1/s. Each call waits
//! here for a permit. Permits are evenly spaced (no burst: the gateway's bucket is shared with anyone else
//! using the same IAM user), a list call also needs its own lane to be free, and when several calls wait,
//! the most urgent gets the next permit. Nothing is reserved ahead of time, so a list call waiting for its
//! lane never holds back the other calls (their permits are handed out meanwhile), and a caller that gives
//! up (its job was cancelled) leaves no hole behind.
//!
//! A waiter is a future, and a future runs only while its owner polls it: a call queued in a stream whose
//! consumer is busy (a merge waiting for Postgres) may be the next in turn and not be there to take it. A
//! turn not taken within `CLAIM_GRACE` of its time passes to the others, and so does the turn of a waiter
//! that did not look again within `CLAIM_GRACE` of the last change; a waiter that comes back competes as
//! before. Without this, one job's parked call held every other job of the account (the night stood still).
//!
//! `Priority::Background` (the real-time watch) only takes slots nobody else needs: it is served when no
//! scheduled or user call waits for the slot and taking it postpones none of those waiting, so it never
//! ages ahead of them and never delays a call that is already waiting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Spacing 5 % wider than the rate: a call that reaches a gateway bucket of capacity 1 a few milliseconds
/// early (network or scheduling jitter) is refused with 429, and the margin costs less than the retry.
const JITTER_MARGIN: f64 = 1.05;

/// How long a waiter may take to come for its turn before the others go: longer than a wake-up takes on a
/// busy runtime, short beside a call.
const CLAIM_GRACE: Duration = Duration::from_millis(25);

/// How much waiting makes up for one level of priority, so no job starves behind a busier one.
const AGING_PER_LEVEL: Duration = Duration::from_secs(10);

/// Who is asking, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// A person waiting for an answer (a CLI command, an API request).
    User,
    /// The night's daily flow: what every dashboard and alert waits on.
    DailyFlow,
    Inventory,
    MonthUsages,
    Pools,
    /// Work that only uses what the others leave (real-time checks): see the module's note.
    #[default]
    Background,
}

impl Priority {
    fn level(self) -> u32 {
        self as u32
    }

    fn is_spare(self) -> bool {
        self == Priority::Background
    }
}

/// The sub-limits a call may need besides the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Only the total applies.
    Any,
    /// ListSimCards: 1 call/s.
    CardList,
    /// ListSimPricePlans (real-time usage): 1 call/s, its own limit besides the card list's.
    PricePlans,
}

/// Rates of one account's budget; `<= 0` or not finite means unlimited.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub total_per_second: f64,
    pub card_list_per_second: f64,
    pub price_plans_per_second: f64,
}

fn interval(rate_per_second: f64) -> Option<Duration> {
    (rate_per_second.is_finite() && rate_per_second > 0.0)
        .then(|| Duration::from_secs_f64(JITTER_MARGIN / rate_per_second))
}

/// The slot after a grant made at `now` for the slot `due` (`None`: the first grant). A grant the timer woke
/// a moment late keeps the grid: spacing each permit from the moment it was handed out loses the wake-up's
/// delay every time (a millisecond in 42 at GSL's limits ×5, 3 % of the night). Half the jitter margin may be
/// caught up so, and no more: consecutive permits stay at least 1 + margin/2 times the limit's own interval
/// apart. A grant later than that (an idle budget, a turn nobody came for) starts the grid again from `now`.
fn slot_after(due: Option<Instant>, now: Instant, interval: Duration) -> Instant {
    let catch_up = interval.mul_f64((JITTER_MARGIN - 1.0) / 2.0 / JITTER_MARGIN);
    match due {
        Some(due) if now.saturating_duration_since(due) <= catch_up => due + interval,
        _ => now + interval,
    }
}

/// The shared budget; cheap to clone.
#[derive(Clone)]
pub struct Budget {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("total", &self.shared.total)
            .field("card_list", &self.shared.card_list)
            .field("price_plans", &self.shared.price_plans)
            .finish()
    }
}

struct Shared {
    total: Option<Duration>,
    card_list: Option<Duration>,
    price_plans: Option<Duration>,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Default)]
struct State {
    /// When the next permit of each kind may be handed out.
    next_total: Option<Instant>,
    next_card_list: Option<Instant>,
    next_price_plans: Option<Instant>,
    waiting: BTreeMap<u64, Waiter>,
    /// When the waiters were last told the state changed (a grant, an arrival, a departure).
    last_change: Option<Instant>,
    seq: u64,
    granted: u64,
    granted_spare: u64,
}

#[derive(Debug, Clone, Copy)]
struct Waiter {
    priority: Priority,
    lane: Lane,
    since: Instant,
    /// When it last looked at the state.
    looked: Instant,
    /// The time of the turn it was last told is its own.
    turn_at: Option<Instant>,
}

impl State {
    /// Whether `w` is not there to take a turn: it missed its own by `CLAIM_GRACE`, or did not look again
    /// within `CLAIM_GRACE` of the last change.
    fn absent(&self, w: &Waiter, now: Instant) -> bool {
        let missed_turn = w.turn_at.is_some_and(|t| now >= t + CLAIM_GRACE);
        let missed_change = self
            .last_change
            .is_some_and(|c| w.looked < c && now >= c + CLAIM_GRACE);
        missed_turn || missed_change
    }

    fn eligible_at(&self, lane: Lane, now: Instant) -> Instant {
        let total = self.next_total.map_or(now, |t| t.max(now));
        match lane {
            Lane::Any => total,
            Lane::CardList => total.max(self.next_card_list.unwrap_or(now)),
            Lane::PricePlans => total.max(self.next_price_plans.unwrap_or(now)),
        }
    }

    /// The next grant: the scheduled and user calls' best, unless a spare (background) waiter can go
    /// earlier without postponing any of them.
    /// `me` (the waiter asking) always counts as present.
    fn next_grant(&self, now: Instant, spacing: &Spacing, me: u64) -> Option<(u64, Instant)> {
        let urgent = self.best(now, false, me);
        let Some((spare, at)) = self.best(now, true, me) else {
            return urgent;
        };
        let lane = self.waiting.get(&spare).map_or(Lane::Any, |w| w.lane);
        let harmless = self
            .present(now, me)
            .filter(|(_, w)| !w.priority.is_spare())
            .all(|(_, w)| {
                let eligible = self.eligible_at(w.lane, now);
                let after_total = spacing.total.is_none_or(|i| eligible >= at + i);
                let after_lane = w.lane != lane
                    || lane == Lane::Any
                    || spacing.lane(lane).is_none_or(|i| eligible >= at + i);
                after_total && after_lane
            });
        match urgent {
            Some((_, u)) if harmless && at < u => Some((spare, at)),
            None if harmless => Some((spare, at)),
            other => other,
        }
    }

    /// The waiter that gets the next permit, and when: the earliest moment any waiter may go, and among
    /// those that may go then a person's request first, then a card-list call (its 1/s lane is the scarce
    /// part of the budget: a lane slot left unused is lost for the night, while the call it displaces only
    /// waits 200 ms), then the most urgent (priority lowered by time waited; first come on a tie).
    fn best(&self, now: Instant, spare: bool, me: u64) -> Option<(u64, Instant)> {
        let mine = |w: &Waiter| w.priority.is_spare() == spare;
        let at = self
            .present(now, me)
            .filter(|(_, w)| mine(w))
            .map(|(_, w)| self.eligible_at(w.lane, now))
            .min()?;
        self.present(now, me)
            .filter(|(_, w)| mine(w) && self.eligible_at(w.lane, now) <= at)
            .min_by_key(|(id, w)| {
                (
                    w.priority != Priority::User,
                    w.lane != Lane::CardList,
                    rank(w, at),
                    **id,
                )
            })
            .map(|(id, _)| (*id, at))
    }
}

impl State {
    fn present(&self, now: Instant, me: u64) -> impl Iterator<Item = (&u64, &Waiter)> {
        self.waiting
            .iter()
            .filter(move |(id, w)| **id == me || !self.absent(w, now))
    }

    fn changed(&mut self, now: Instant) {
        self.last_change = Some(now);
    }
}

/// The spacing of each kind of permit; `None` is unlimited.
struct Spacing {
    total: Option<Duration>,
    card_list: Option<Duration>,
    price_plans: Option<Duration>,
}

impl Spacing {
    fn lane(&self, lane: Lane) -> Option<Duration> {
        match lane {
            Lane::Any => None,
            Lane::CardList => self.card_list,
            Lane::PricePlans => self.price_plans,
        }
    }
}

/// Lower goes first: `AGING_PER_LEVEL` of waiting is worth one priority level.
fn rank(w: &Waiter, at: Instant) -> Duration {
    let base = AGING_PER_LEVEL * (w.priority.level() + 1);
    base.saturating_sub(at.saturating_duration_since(w.since))
}

/// Removes a waiter that stops waiting before its permit (a cancelled job), so its turn passes on.
struct Leave<'a> {
    shared: &'a Shared,
    id: u64,
    armed: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
            state.waiting.remove(&self.id);
            state.changed(Instant::now());
            drop(state);
            self.shared.changed.notify_waiters();
        }
    }
}

impl Budget {
    pub fn new(rates: Rates) -> Self {
        Self {
            shared: Arc::new(Shared {
                total: interval(rates.total_per_second),
                card_list: interval(rates.card_list_per_second),
                price_plans: interval(rates.price_plans_per_second),
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// Waits for a permit; dropping the future gives the turn to the next waiter.
    pub async fn acquire(&self, priority: Priority, lane: Lane) {
        let shared = &*self.shared;
        let needs_lane = self.spacing().lane(lane).is_some();
        if shared.total.is_none() && !needs_lane {
            return;
        }
        let lane = if needs_lane { lane } else { Lane::Any };
        let id = {
            let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            state.seq += 1;
            let id = state.seq;
            let now = Instant::now();
            state.waiting.insert(
                id,
                Waiter {
                    priority,
                    lane,
                    since: now,
                    looked: now,
                    turn_at: None,
                },
            );
            state.changed(now);
            id
        };
        shared.changed.notify_waiters();
        let mut leave = Leave {
            shared,
            id,
            armed: true,
        };
        loop {
            let changed = shared.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read, so a change made right after cannot be missed.
            changed.as_mut().enable();
            let now = Instant::now();
            let turn = {
                let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                let next = state.next_grant(now, &self.spacing(), id);
                let mine = next.is_some_and(|(next, _)| next == id);
                if let Some(me) = state.waiting.get_mut(&id) {
                    me.looked = now;
                    me.turn_at = next.filter(|_| mine).map(|(_, at)| at);
                }
                match next {
                    Some((_, at)) if mine && at <= now => {
                        self.grant(&mut state, lane, priority, now);
                        state.waiting.remove(&id);
                        state.changed(now);
                        None
                    }
                    Some((_, at)) if mine => Some(at),
                    // Look again if the one whose turn it is has not taken it by then.
                    Some((_, at)) => Some(at.max(state.last_change.unwrap_or(at)) + CLAIM_GRACE),
                    None => Some(now + Duration::from_secs(3600)),
                }
            };
            let Some(at) = turn else {
                leave.armed = false;
                shared.changed.notify_waiters();
                return;
            };
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(at) => {}
            }
        }
    }

    fn spacing(&self) -> Spacing {
        Spacing {
            total: self.shared.total,
            card_list: self.shared.card_list,
            price_plans: self.shared.price_plans,
        }
    }

    fn grant(&self, state: &mut State, lane: Lane, priority: Priority, now: Instant) {
        state.granted += 1;
        state.granted_spare += u64::from(priority.is_spare());
        if let Some(i) = self.shared.total {
            state.next_total = Some(slot_after(state.next_total, now, i));
        }
        let next_lane = match lane {
            Lane::Any => None,
            Lane::CardList => Some(&mut state.next_card_list),
            Lane::PricePlans => Some(&mut state.next_price_plans),
        };
        if let (Some(next), Some(i)) = (next_lane, self.spacing().lane(lane)) {
            *next = Some(slot_after(*next, now, i));
        }
    }

    /// Permits handed out so far at `Priority::Background` (spare slots).
    pub fn granted_spare(&self) -> u64 {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .granted_spare
    }

    /// The total calls per second permits are spaced for (the jitter margin included); `None` when the
    /// total is unlimited.
    pub fn total_per_second(&self) -> Option<f64> {
        self.shared.total.map(|i| 1.0 / i.as_secs_f64())
    }

    /// Permits handed out so far.
    pub fn granted(&self) -> u64 {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GSL: Rates = Rates {
        total_per_second: 5.0,
        card_list_per_second: 1.0,
        price_plans_per_second: 1.0,
    };

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Starts a task per call, in order, and returns when each was granted (relative to the start).
    async fn grants(budget: &Budget, calls: &[(Priority, Lane)]) -> Vec<Duration> {
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for &(p, lane) in calls {
            let b = budget.clone();
            tasks.push(tokio::spawn(async move {
                b.acquire(p, lane).await;
                Instant::now() - t0
            }));
            // Registration order is the arrival order.
            tokio::task::yield_now().await;
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn permits_are_evenly_spaced_without_burst() {
        let b = Budget::new(GSL);
        let got = grants(&b, &[(Priority::DailyFlow, Lane::Any); 6]).await;
        assert_eq!(got, (0..6).map(|i| ms(210 * i)).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_grant_woken_a_little_late_keeps_the_grid() {
        let b = Budget::new(GSL);
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        // Late by 4 ms, within half the margin (5 ms of 210): the next slot stays at 420 ms.
        tokio::time::sleep(ms(214)).await;
        let t0 = Instant::now();
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        assert_eq!(Instant::now() - t0, ms(420 - 214));
        // Late by 6 ms: no closer than 205 ms to it, the grid starts again from the late grant.
        tokio::time::sleep(ms(216)).await;
        let t1 = Instant::now();
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        assert_eq!(Instant::now() - t1, ms(210));
    }

    #[test]
    fn caught_up_permits_stay_half_the_margin_apart() {
        let (i, t0) = (ms(210), Instant::now());
        // Beyond the catch-up, from the late grant; within it, on the grid; the first grant and a due slot
        // still ahead (a lane's) are one interval on.
        assert_eq!(slot_after(Some(t0), t0 + ms(6), i), t0 + ms(216));
        assert_eq!(slot_after(Some(t0), t0 + ms(4), i), t0 + ms(210));
        assert_eq!(slot_after(None, t0, i), t0 + ms(210));
        assert_eq!(slot_after(Some(t0 + ms(3)), t0, i), t0 + ms(213));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_does_not_build_a_burst() {
        let b = Budget::new(GSL);
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let got = grants(&b, &[(Priority::DailyFlow, Lane::Any); 2]).await;
        assert_eq!(got, vec![ms(0), ms(210)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_list_call_waiting_for_its_lane_leaves_the_rest_of_the_budget_to_others() {
        let b = Budget::new(GSL);
        let mut calls = vec![(Priority::Inventory, Lane::CardList); 3];
        calls.extend([(Priority::MonthUsages, Lane::Any); 12]);
        let got = grants(&b, &calls).await;
        // List calls at 0, 1.05 s, 2.1 s; the other calls fill the total's slots in between.
        assert_eq!(&got[..3], &[ms(0), ms(1050), ms(2100)]);
        let mut all = got.clone();
        all.sort();
        assert_eq!(all, (0..15).map(|i| ms(210 * i)).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_list_call_takes_its_lane_slot_before_more_urgent_calls() {
        let b = Budget::new(GSL);
        let mut calls = vec![(Priority::DailyFlow, Lane::Any); 10];
        calls.extend([(Priority::Inventory, Lane::CardList); 2]);
        let got = grants(&b, &calls).await;
        // The first daily-flow call had the budget to itself; after it the list lane never idles: its calls
        // take the next slot and the first one after 1.05 s, ahead of the daily-flow calls waiting longer.
        assert_eq!(&got[10..], &[ms(210), ms(1260)]);
        let mut all = got.clone();
        all.sort();
        assert_eq!(all, (0..12).map(|i| ms(210 * i)).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn the_most_urgent_waiter_goes_first() {
        let b = Budget::new(GSL);
        b.acquire(Priority::User, Lane::Any).await;
        // All three wait for the next slot; they arrived least urgent first.
        let got = grants(
            &b,
            &[
                (Priority::Pools, Lane::Any),
                (Priority::DailyFlow, Lane::Any),
                (Priority::User, Lane::Any),
            ],
        )
        .await;
        assert_eq!(got, vec![ms(630), ms(420), ms(210)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_low_priority_waiter_is_not_starved_by_a_steady_stream() {
        let b = Budget::new(GSL);
        let stream = {
            let b = b.clone();
            tokio::spawn(async move {
                // Always one daily-flow call waiting, for a minute.
                let t0 = Instant::now();
                while Instant::now() - t0 < Duration::from_secs(60) {
                    b.acquire(Priority::DailyFlow, Lane::Any).await;
                }
            })
        };
        tokio::task::yield_now().await;
        let t0 = Instant::now();
        b.acquire(Priority::Pools, Lane::Any).await;
        let waited = Instant::now() - t0;
        // Three levels below daily flow: about 30 s of waiting lifts it level.
        assert!(waited <= Duration::from_secs(32), "{waited:?}");
        assert!(waited >= Duration::from_secs(29), "{waited:?}");
        stream.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn background_takes_no_slot_while_a_scheduled_call_waits() {
        let b = Budget::new(GSL);
        let stream = {
            let b = b.clone();
            tokio::spawn(async move {
                // Always one daily-flow call waiting, for ten seconds.
                let t0 = Instant::now();
                let mut n = 0u64;
                while Instant::now() - t0 < Duration::from_secs(10) {
                    b.acquire(Priority::DailyFlow, Lane::Any).await;
                    n += 1;
                }
                (n, Instant::now() - t0)
            })
        };
        tokio::task::yield_now().await;
        let t0 = Instant::now();
        b.acquire(Priority::Background, Lane::PricePlans).await;
        let waited = Instant::now() - t0;
        let (n, ended) = stream.await.unwrap();
        // No aging for background: it waits out the stream, whose permits stay evenly spaced.
        assert!(waited >= Duration::from_secs(10), "{waited:?}");
        assert_eq!(ended, ms(210 * (n - 1)));
        assert_eq!(waited, ended + ms(210));
        assert_eq!((b.granted(), b.granted_spare()), (n + 1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn background_fills_an_idle_gap_without_postponing_a_waiting_call() {
        let b = Budget::new(GSL);
        b.acquire(Priority::Inventory, Lane::CardList).await;
        // The next list call waits for its lane (1.05 s); real-time checks may use the total meanwhile.
        let got = grants(
            &b,
            &[
                (Priority::Inventory, Lane::CardList),
                (Priority::Background, Lane::PricePlans),
                (Priority::Background, Lane::PricePlans),
            ],
        )
        .await;
        // The first check takes the next slot of the total (no one else can use it), the second waits for
        // its own 1/s lane, and the list call keeps its slot at 1.05 s.
        assert_eq!(got, vec![ms(1050), ms(210), ms(1260)]);
        assert_eq!(b.granted_spare(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn background_does_not_take_a_slot_a_waiting_call_needs_soon() {
        let b = Budget::new(GSL);
        b.acquire(Priority::Inventory, Lane::CardList).await;
        tokio::time::sleep(ms(900)).await;
        // The list call may go at 1.05 s: a check at 0.9 s would push it to 1.11 s, so it waits.
        let got = grants(
            &b,
            &[
                (Priority::Inventory, Lane::CardList),
                (Priority::Background, Lane::PricePlans),
            ],
        )
        .await;
        assert_eq!(got, vec![ms(150), ms(150 + 210)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_leaves_no_hole() {
        let b = Budget::new(GSL);
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        let t0 = Instant::now();
        // The urgent waiter would get the 210 ms slot; it gives up at 100 ms.
        let urgent = {
            let b = b.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(ms(100), b.acquire(Priority::User, Lane::Any)).await;
            })
        };
        tokio::task::yield_now().await;
        b.acquire(Priority::Pools, Lane::Any).await;
        assert_eq!(Instant::now() - t0, ms(210));
        urgent.await.unwrap();
        assert_eq!(b.granted(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_nobody_polls_does_not_hold_the_others() {
        let b = Budget::new(GSL);
        b.acquire(Priority::DailyFlow, Lane::Any).await;
        let t0 = Instant::now();
        // The most urgent waiter gets in line and is then parked: its owner stops polling it (a stream whose
        // consumer waits on a merge), as a queued daily-flow call does.
        let mut parked = Box::pin(b.acquire(Priority::User, Lane::Any));
        let polled = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(parked.as_mut(), cx).is_pending())
        });
        assert!(polled.await);
        b.acquire(Priority::Pools, Lane::Any).await;
        // Its turn at 210 ms passed to the next waiter once it had not come for it within the grace.
        assert_eq!(Instant::now() - t0, ms(210) + CLAIM_GRACE);
        // Polled again, it competes as before and gets the next slot.
        parked.await;
        assert_eq!(Instant::now() - t0, ms(420) + CLAIM_GRACE);
        assert_eq!(b.granted(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_rates_grant_at_once() {
        let b = Budget::new(Rates {
            total_per_second: 0.0,
            card_list_per_second: f64::INFINITY,
            price_plans_per_second: 0.0,
        });
        let got = grants(&b, &[(Priority::Inventory, Lane::CardList); 5]).await;
        assert!(got.iter().all(|d| *d == Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_card_list_limited_still_spaces_list_calls() {
        let b = Budget::new(Rates {
            total_per_second: 0.0,
            card_list_per_second: 1.0,
            price_plans_per_second: 0.0,
        });
        let got = grants(
            &b,
            &[
                (Priority::Inventory, Lane::CardList),
                (Priority::Inventory, Lane::CardList),
                (Priority::DailyFlow, Lane::Any),
            ],
        )
        .await;
        assert_eq!(got, vec![ms(0), ms(1050), ms(0)]);
    }
}
