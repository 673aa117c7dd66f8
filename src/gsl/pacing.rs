//! Evenly spaced permits with no burst (GCRA with zero tolerance): GSL's flow control is a token bucket
//! we share with others, so we never spend more than our steady rate.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Hands out one permit every `interval`; shared by all clones and tasks of one client.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// `rate_per_second <= 0` or not finite means unpaced.
    pub fn new(rate_per_second: f64) -> Self {
        let interval = (rate_per_second.is_finite() && rate_per_second > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / rate_per_second));
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Reserves the next slot and returns when it is due.
    pub fn reserve(&self) -> Option<Instant> {
        let interval = self.interval?;
        let now = Instant::now();
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

    #[tokio::test(start_paused = true)]
    async fn permits_are_evenly_spaced_without_burst() {
        let pacer = std::sync::Arc::new(Pacer::new(5.0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let p = pacer.clone();
            tasks.push(tokio::spawn(async move {
                p.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.expect("task").duration_since(start));
        }
        times.sort();
        let want: Vec<Duration> = (0..10).map(|i| Duration::from_millis(200 * i)).collect();
        assert_eq!(times, want);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_does_not_accumulate_a_burst() {
        let pacer = Pacer::new(1.0);
        pacer.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        pacer.acquire().await;
        pacer.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[test]
    fn zero_rate_is_unpaced() {
        assert!(Pacer::new(0.0).reserve().is_none());
        assert!(Pacer::new(f64::INFINITY).reserve().is_none());
    }
}
