//! Evenly spaced permits with no burst (GCRA with zero tolerance): GSL's flow control is a token bucket
//! we share with others, so we never spend more than our steady rate.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const JITTER_MARGIN: f64 = 1.05;

/// Hands out one permit every `interval`; shared by all clones and tasks of one client.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// `rate_per_second <= 0` or not finite means unpaced. Permits are spaced 5 % wider than the rate: a call
    /// that reaches a gateway bucket of capacity 1 a few milliseconds early (network or scheduling jitter) is
    /// refused with 429, and the margin costs less time than the retry would.
    pub fn new(rate_per_second: f64) -> Self {
        let interval = (rate_per_second.is_finite() && rate_per_second > 0.0)
            .then(|| Duration::from_secs_f64(JITTER_MARGIN / rate_per_second));
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Reserves the next slot and returns when it is due.
    pub fn reserve(&self) -> Option<Instant> {
        self.reserve_at(Instant::now())
    }

    /// `reserve` with the clock passed in, so the spacing logic is testable without time passing.
    fn reserve_at(&self, now: Instant) -> Option<Instant> {
        let interval = self.interval?;
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + interval);
        Some(slot)
    }

    /// Waits for the next permit.
    pub async fn acquire(&self) {
        if let Some(slot) = self.reserve() {
            tokio::time::sleep_until(slot).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn permits_are_evenly_spaced_without_burst() {
        let pacer = Pacer::new(5.0);
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..10)
            .map(|_| pacer.reserve_at(t0).expect("paced") - t0)
            .collect();
        let want: Vec<Duration> = (0..10).map(|i| ms(210 * i)).collect();
        assert_eq!(slots, want);
    }

    #[test]
    fn idle_time_does_not_accumulate_a_burst() {
        let pacer = Pacer::new(1.0);
        let t0 = Instant::now();
        pacer.reserve_at(t0);
        let later = t0 + Duration::from_secs(10);
        let a = pacer.reserve_at(later).expect("paced");
        let b = pacer.reserve_at(later).expect("paced");
        assert_eq!((a - later, b - later), (ms(0), ms(1050)));
    }

    #[test]
    fn callers_arriving_mid_interval_wait_for_the_slot() {
        let pacer = Pacer::new(2.0);
        let t0 = Instant::now();
        pacer.reserve_at(t0);
        let slot = pacer.reserve_at(t0 + ms(100)).expect("paced");
        assert_eq!(slot - t0, ms(525));
    }

    #[test]
    fn shared_across_threads_every_slot_is_distinct() {
        let pacer = std::sync::Arc::new(Pacer::new(1000.0));
        let t0 = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = pacer.clone();
                std::thread::spawn(move || {
                    (0..50).filter_map(|_| p.reserve_at(t0)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Instant> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        all.sort();
        let gaps: Vec<Duration> = all.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|g| *g == Duration::from_micros(1050)),
            "{gaps:?}"
        );
    }

    #[test]
    fn zero_rate_is_unpaced() {
        assert!(Pacer::new(0.0).reserve().is_none());
        assert!(Pacer::new(f64::INFINITY).reserve().is_none());
    }
}
