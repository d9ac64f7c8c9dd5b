//! Retry timing for email delivery: exponential backoff with jitter, as a pure function.

use std::time::Duration;

/// The delay before retry number `attempt` (1 = the first retry): `base × 2^(attempt−1)`,
/// capped at `cap`, of which the upper half is scaled by `jitter` (0.0..1.0) so that
/// many failed sends do not retry in lock-step ("equal jitter").
pub fn retry_delay(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(32);
    let full = base.saturating_mul(2u32.saturating_pow(exponent)).min(cap);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delays_double_until_the_cap() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, base, cap, 1.0), Duration::from_secs(30));
        assert_eq!(retry_delay(2, base, cap, 1.0), Duration::from_secs(60));
        assert_eq!(retry_delay(3, base, cap, 0.0), Duration::from_secs(60));
        assert_eq!(retry_delay(30, base, cap, 1.0), cap);
    }

    proptest! {
        #[test]
        fn a_delay_lies_between_half_and_all_of_its_step_and_never_past_the_cap(
            attempt in 1u32..200, base_ms in 1u64..100_000, cap_ms in 1u64..10_000_000, jitter in 0.0f64..1.0
        ) {
            let (base, cap) = (Duration::from_millis(base_ms), Duration::from_millis(cap_ms));
            let d = retry_delay(attempt, base, cap, jitter);
            let step = base.saturating_mul(2u32.saturating_pow((attempt - 1).min(32))).min(cap);
            prop_assert!(d <= cap);
            prop_assert!(d >= step / 2 && d <= step);
        }

        #[test]
        fn later_attempts_never_wait_less_at_the_same_jitter(attempt in 1u32..60, jitter in 0.0f64..1.0) {
            let (base, cap) = (Duration::from_millis(250), Duration::from_secs(7200));
            prop_assert!(retry_delay(attempt + 1, base, cap, jitter) >= retry_delay(attempt, base, cap, jitter));
        }
    }
}
