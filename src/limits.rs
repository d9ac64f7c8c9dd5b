//! Rate limits on the public endpoints (the widget's), per client IP and per survey key, with
//! the `governor` crate's GCRA: a burst is allowed, then a steady rate. In memory, per
//! instance; the key sets are pruned so they stay bounded.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Above this many tracked keys, entries whose limit has fully recovered are dropped.
const MAX_TRACKED: usize = 100_000;

/// The public endpoints' limits.
pub struct PublicLimits {
    per_ip: Keyed<IpAddr>,
    per_key: Keyed<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for PublicLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicLimits").finish_non_exhaustive()
    }
}

/// A quota of `per_minute` requests with bursts of up to `per_minute / 4` (at least 1).
fn quota(per_minute: NonZeroU32) -> Quota {
    let burst = NonZeroU32::new((per_minute.get() / 4).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl PublicLimits {
    /// Limits of `per_ip` requests a minute from one address and `per_key` for one survey.
    pub fn new(per_ip: NonZeroU32, per_key: NonZeroU32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip)),
            per_key: RateLimiter::keyed(quota(per_key)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request from `ip` for survey key `key`: `RateLimited` with the seconds to
    /// wait when either limit is spent.
    pub fn check(&self, ip: Option<IpAddr>, key: &str) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            prune(&self.per_ip);
            self.per_ip
                .check_key(&ip)
                .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))?;
        }
        prune(&self.per_key);
        self.per_key
            .check_key(&key.to_owned())
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))
    }

    fn limited(&self, wait: Duration) -> ApiError {
        ApiError::RateLimited(wait.as_secs().max(1))
    }
}

fn prune<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>) {
    if limiter.len() > MAX_TRACKED {
        limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_client_waits_and_other_clients_do_not() {
        let limits = PublicLimits::new(NonZeroU32::new(8).unwrap(), NonZeroU32::new(1000).unwrap());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limits.check(Some(a), "pk_x").is_ok());
        assert!(limits.check(Some(a), "pk_x").is_ok());
        match limits.check(Some(a), "pk_x") {
            Err(ApiError::RateLimited(secs)) => assert!((1..=8).contains(&secs)),
            other => panic!("{other:?}"),
        }
        assert!(limits.check(Some(b), "pk_x").is_ok());
    }

    #[test]
    fn one_survey_key_is_limited_across_addresses() {
        let limits = PublicLimits::new(NonZeroU32::new(1000).unwrap(), NonZeroU32::new(4).unwrap());
        let ip = |i: u8| Some(IpAddr::from([192, 0, 2, i]));
        assert!(limits.check(ip(1), "pk_x").is_ok());
        assert!(limits.check(ip(2), "pk_x").is_err());
        assert!(limits.check(ip(3), "pk_y").is_ok());
    }
}
