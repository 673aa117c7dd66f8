//! Retry delays: exponential back-off with full jitter, and `Retry-After` honoured up to the cap.

use std::time::Duration;

use rand::Rng;

/// The upper bound of the jitter window before retry number `attempt` (0-based): min(cap, base·2^attempt).
pub fn ceiling(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(31));
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// The delay before retry `attempt`: uniform in [0, ceiling], or the server's `Retry-After` capped at `cap`.
pub fn delay(
    base: Duration,
    cap: Duration,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(ra) = retry_after {
        return ra.min(cap);
    }
    let top = ceiling(base, cap, attempt);
    if top.is_zero() {
        return top;
    }
    Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..=top.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(5);

    #[test]
    fn ceiling_doubles_then_caps() {
        let cases = [
            (0, 100),
            (1, 200),
            (2, 400),
            (5, 3200),
            (6, 5000),
            (40, 5000),
        ];
        for (attempt, ms) in cases {
            assert_eq!(
                ceiling(BASE, CAP, attempt),
                Duration::from_millis(ms),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn jittered_delays_stay_within_bounds() {
        for attempt in 0..10 {
            for _ in 0..200 {
                assert!(delay(BASE, CAP, attempt, None) <= ceiling(BASE, CAP, attempt));
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        assert_eq!(
            delay(BASE, CAP, 0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(delay(BASE, CAP, 0, Some(Duration::from_secs(60))), CAP);
    }
}
