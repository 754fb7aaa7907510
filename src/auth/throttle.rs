//! How hard we push back on repeated failures: a per-account delay that grows with each
//! consecutive failure, a lock at the policy's limit (100 by default, PRODUCT.md
//! "Throttling"; see `crate::policy`), and a per-IP token bucket.

use chrono::Duration;

/// Failures allowed before each further attempt must wait.
pub const FREE_FAILURES: i64 = 5;

/// The longest an account makes anyone wait between attempts.
pub const MAX_DELAY: Duration = Duration::minutes(15);

/// How long after the last failure the next attempt on this account is considered:
/// nothing for the first five, then 1 s, 2 s, 4 s… up to 15 minutes.
pub fn account_delay(consecutive_failures: i64) -> Duration {
    if consecutive_failures < FREE_FAILURES {
        return Duration::zero();
    }
    let doublings = u32::try_from(consecutive_failures - FREE_FAILURES).unwrap_or(u32::MAX);
    2_i64
        .checked_pow(doublings)
        .filter(|seconds| *seconds < MAX_DELAY.num_seconds())
        .and_then(Duration::try_seconds)
        .unwrap_or(MAX_DELAY)
}

/// A per-IP bucket: `burst` attempts at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy)]
pub struct IpLimit {
    pub burst: u32,
    pub per_minute: u32,
}

impl IpLimit {
    pub fn per_milli(&self) -> f64 {
        f64::from(self.per_minute) / 60_000.0
    }

    /// Seconds until the bucket, left holding `tokens` after a refused attempt, lets the
    /// next one through (it needs a whole token to take, and refused attempts also take one,
    /// so a flood only digs its own hole deeper).
    pub fn retry_after_seconds(&self, tokens: f64) -> u64 {
        let millis = (1.0 - tokens).max(0.0) / self.per_milli();
        // Whole seconds, rounded up; at most a day, so the cast cannot overflow.
        (millis / 1000.0).ceil().clamp(1.0, 86_400.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_after_five_failures_and_is_capped() {
        assert_eq!(account_delay(0), Duration::zero());
        assert_eq!(account_delay(4), Duration::zero());
        assert_eq!(account_delay(5), Duration::seconds(1));
        assert_eq!(account_delay(6), Duration::seconds(2));
        assert_eq!(account_delay(10), Duration::seconds(32));
        assert_eq!(account_delay(15), MAX_DELAY);
        assert_eq!(account_delay(99), MAX_DELAY);
        assert_eq!(
            account_delay(1_000_000),
            MAX_DELAY,
            "no overflow however many"
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_until_a_token_is_back() {
        let limit = IpLimit {
            burst: 10,
            per_minute: 60,
        };
        assert_eq!(limit.retry_after_seconds(-1.0), 2);
        assert_eq!(limit.retry_after_seconds(-5.5), 7);
        assert_eq!(limit.retry_after_seconds(0.5), 1);
    }
}
