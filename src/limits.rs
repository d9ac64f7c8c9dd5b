//! Rate limits, with the `governor` crate's GCRA (a burst is allowed, then a steady rate): the
//! widget's calls per client IP and per survey key, the survey pages and answers per client IP
//! and per link, and the API per key. In memory, per instance; the key sets are pruned so
//! they stay bounded. Over a limit → 429 with `Retry-After`.

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

/// Requests a minute allowed, per limit.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Widget calls from one client address.
    pub widget_per_ip: NonZeroU32,
    /// Widget calls for one survey key, all clients together.
    pub widget_per_key: NonZeroU32,
    /// Survey page views and answers from one client address.
    pub answer_per_ip: NonZeroU32,
    /// Answers (and page-open beacons) of one link.
    pub answer_per_link: NonZeroU32,
    /// API calls with one key.
    pub api_per_key: NonZeroU32,
}

/// Every limit of one instance.
pub struct PublicLimits {
    per_ip: Keyed<IpAddr>,
    per_key: Keyed<String>,
    answer_ip: Keyed<IpAddr>,
    answer_link: Keyed<String>,
    api_key: Keyed<String>,
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
    /// The limits of `s`.
    pub fn new(s: &LimitSettings) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(s.widget_per_ip)),
            per_key: RateLimiter::keyed(quota(s.widget_per_key)),
            answer_ip: RateLimiter::keyed(quota(s.answer_per_ip)),
            answer_link: RateLimiter::keyed(quota(s.answer_per_link)),
            api_key: RateLimiter::keyed(quota(s.api_per_key)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one survey page view from `ip`. Not per link: mail scanners fetch every rating
    /// link of an email, and must not use up the person's own tries.
    pub fn check_page(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        match ip {
            Some(ip) => self.take(&self.answer_ip, &ip),
            None => Ok(()),
        }
    }

    /// Counts one answer (or page-open beacon) from `ip` for the link `token` (kept only as
    /// a hash).
    pub fn check_answer(&self, ip: Option<IpAddr>, token: &str) -> Result<(), ApiError> {
        self.check_page(ip)?;
        self.take(&self.answer_link, &crate::domain::secret::sha256_hex(token))
    }

    /// Counts one API call with the key whose id is `key_id`.
    pub fn check_api(&self, key_id: &str) -> Result<(), ApiError> {
        self.take(&self.api_key, &key_id.to_owned())
    }

    fn take<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &Keyed<K>,
        key: &K,
    ) -> Result<(), ApiError> {
        prune(limiter);
        limiter
            .check_key(key)
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Counts one request from `ip` for survey key `key`: `RateLimited` with the seconds to
    /// wait when either limit is spent.
    pub fn check(&self, ip: Option<IpAddr>, key: &str) -> Result<(), ApiError> {
        self.check_widget_ip(ip)?;
        self.check_widget_key(key)
    }

    /// Counts one widget request from `ip`.
    pub fn check_widget_ip(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        match ip {
            Some(ip) => self.take(&self.per_ip, &ip),
            None => Ok(()),
        }
    }

    /// Counts one widget request for survey key `key`, all clients together. Charge it only
    /// once the call's origin is known to be one of the survey's: otherwise any page could
    /// have its visitors' browsers spend a survey's budget.
    pub fn check_widget_key(&self, key: &str) -> Result<(), ApiError> {
        self.take(&self.per_key, &key.to_owned())
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

    fn n(x: u32) -> NonZeroU32 {
        NonZeroU32::new(x).unwrap()
    }

    fn limits(widget_per_ip: u32, widget_per_key: u32) -> PublicLimits {
        PublicLimits::new(&LimitSettings {
            widget_per_ip: n(widget_per_ip),
            widget_per_key: n(widget_per_key),
            answer_per_ip: n(8),
            answer_per_link: n(4),
            api_per_key: n(4),
        })
    }

    #[test]
    fn a_link_and_an_api_key_are_limited_on_their_own() {
        let limits = limits(1000, 1000);
        let ip = |i: u8| Some(IpAddr::from([192, 0, 2, i]));
        assert!(limits.check_answer(ip(1), "tok_a").is_ok());
        assert!(
            limits.check_answer(ip(2), "tok_a").is_err(),
            "one link across addresses"
        );
        assert!(limits.check_answer(ip(1), "tok_b").is_ok());
        assert!(limits.check_api("key-1").is_ok());
        assert!(matches!(limits.check_api("key-1"), Err(ApiError::RateLimited(s)) if s >= 1));
        assert!(limits.check_api("key-2").is_ok());
    }

    #[test]
    fn a_burst_passes_then_the_client_waits_and_other_clients_do_not() {
        let limits = limits(8, 1000);
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
        let limits = limits(1000, 4);
        let ip = |i: u8| Some(IpAddr::from([192, 0, 2, i]));
        assert!(limits.check(ip(1), "pk_x").is_ok());
        assert!(limits.check(ip(2), "pk_x").is_err());
        assert!(limits.check(ip(3), "pk_y").is_ok());
    }
}
