//! Survey fatigue: how often one recipient may be emailed.

use chrono::{Duration, NaiveDateTime};

use super::Invalid;

/// Days between surveys of one recipient when the survey sets nothing.
pub const DEFAULT_THROTTLE_DAYS: i32 = 30;
/// Longest throttle window accepted.
pub const MAX_THROTTLE_DAYS: i32 = 3650;

/// A validated throttle window; zero turns throttling off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    days: i32,
}

impl Throttle {
    /// Parses a survey's `throttle_days` (0 to [`MAX_THROTTLE_DAYS`]).
    pub fn parse(days: i64) -> Result<Self, Invalid> {
        if !(0..=i64::from(MAX_THROTTLE_DAYS)).contains(&days) {
            return Err(Invalid::new(
                "throttle_days",
                format!("must be a whole number of days from 0 (off) to {MAX_THROTTLE_DAYS}"),
            ));
        }
        Ok(Self { days: days as i32 })
    }

    /// The window stored on a survey, or the default.
    pub fn from_stored(days: Option<i32>) -> Self {
        Self {
            days: days
                .unwrap_or(DEFAULT_THROTTLE_DAYS)
                .clamp(0, MAX_THROTTLE_DAYS),
        }
    }

    /// The number of days.
    pub fn days(self) -> i32 {
        self.days
    }

    /// Invitations created at or after this moment count against a new one; `None` when off.
    pub fn lookback_start(self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        (self.days > 0).then(|| now - Duration::days(i64::from(self.days)))
    }

    /// When a recipient last invited at `last` may be surveyed again.
    pub fn eligible_at(self, last: NaiveDateTime) -> NaiveDateTime {
        last + Duration::days(i64::from(self.days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn the_default_is_thirty_days_and_zero_turns_it_off() {
        let now = DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let t = Throttle::from_stored(None);
        assert_eq!(t.days(), 30);
        assert_eq!(t.eligible_at(now) - now, Duration::days(30));
        assert_eq!(t.lookback_start(now), Some(now - Duration::days(30)));
        assert_eq!(Throttle::parse(0).unwrap().lookback_start(now), None);
        assert_eq!(Throttle::parse(-1).unwrap_err().field, "throttle_days");
        assert!(Throttle::parse(3651).is_err());
    }
}
