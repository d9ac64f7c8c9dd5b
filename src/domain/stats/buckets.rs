//! Time buckets for trends: days, ISO weeks (Monday) or months in an IANA time zone.
//! Bucket edges are local midnights turned into UTC instants, so a DST change makes a
//! bucket 23 or 25 hours long and never loses or doubles an hour's answers.

use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::Invalid;

/// Most buckets one call may ask for.
pub const MAX_BUCKETS: usize = 1_000;

/// The length of a trend bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Interval {
    /// Parses `day`, `week` or `month`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err(Invalid::new("interval", "must be day, week or month")),
        }
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The first day of the bucket holding `date`.
    fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => date,
            Self::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    fn next(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Day => date.checked_add_days(Days::new(1)),
            Self::Week => date.checked_add_days(Days::new(7)),
            Self::Month => date.checked_add_months(Months::new(1)),
        }
    }
}

/// Parses an IANA zone name such as `Europe/Berlin` (default UTC).
pub fn parse_tz(raw: Option<&str>) -> Result<Tz, Invalid> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(Tz::UTC),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| Invalid::new("tz", "must be an IANA time zone, e.g. Europe/Berlin")),
    }
}

/// The UTC instant of local midnight starting `date` in `tz`. Where midnight does not exist
/// (a DST gap at midnight), the day starts at the first instant that does.
fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc)
            }
            LocalResult::None => t += chrono::Duration::minutes(30),
        }
    }
    Utc.from_utc_datetime(&t)
}

/// One bucket: `[start, end)` in UTC, named by its local first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Its local first day.
    pub label: NaiveDate,
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
}

/// The buckets that cover `[from, to)`, the first and last cut to the window.
pub fn buckets(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
    tz: Tz,
) -> Result<Vec<Bucket>, Invalid> {
    let mut out = Vec::new();
    let mut day = interval.start_of(from.with_timezone(&tz).date_naive());
    loop {
        let start = local_midnight(tz, day);
        if start >= to {
            break;
        }
        let Some(next) = interval.next(day) else {
            break;
        };
        let end = local_midnight(tz, next);
        if end > from {
            out.push(Bucket {
                label: day,
                start: start.max(from),
                end: end.min(to),
            });
        }
        if out.len() > MAX_BUCKETS {
            return Err(Invalid::new(
                "interval",
                format!("the window holds more than {MAX_BUCKETS} buckets: use a longer interval or a shorter window"),
            ));
        }
        day = next;
    }
    Ok(out)
}

/// The index of the bucket holding `at`, if any (`buckets` is sorted and contiguous).
pub fn index_of(buckets: &[Bucket], at: DateTime<Utc>) -> Option<usize> {
    let i = buckets.partition_point(|b| b.end <= at);
    buckets.get(i).filter(|b| b.start <= at).map(|_| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weeks_start_on_monday_and_empty_ones_are_kept() {
        let b = buckets(
            utc("2026-03-04T00:00:00Z"),
            utc("2026-03-24T00:00:00Z"),
            Interval::Week,
            Tz::UTC,
        )
        .unwrap();
        let labels: Vec<String> = b.iter().map(|b| b.label.to_string()).collect();
        assert_eq!(
            labels,
            ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"]
        );
        assert_eq!(b[0].start, utc("2026-03-04T00:00:00Z"), "cut to the window");
        assert_eq!(b[3].end, utc("2026-03-24T00:00:00Z"));
    }

    #[test]
    fn a_dst_change_makes_a_23_or_25_hour_day_and_loses_no_hour() {
        // Europe/Berlin springs forward on 2026-03-29 and falls back on 2026-10-25.
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let b = buckets(
            utc("2026-03-27T23:00:00Z"),
            utc("2026-03-31T22:00:00Z"),
            Interval::Day,
            tz,
        )
        .unwrap();
        let hours: Vec<i64> = b.iter().map(|b| (b.end - b.start).num_hours()).collect();
        assert_eq!(hours, [24, 23, 24, 24]);
        for w in b.windows(2) {
            assert_eq!(w[0].end, w[1].start, "contiguous");
        }
        let ny: Tz = "America/New_York".parse().unwrap();
        let b = buckets(
            utc("2026-10-31T04:00:00Z"),
            utc("2026-11-03T05:00:00Z"),
            Interval::Day,
            ny,
        )
        .unwrap();
        let hours: Vec<i64> = b.iter().map(|b| (b.end - b.start).num_hours()).collect();
        assert_eq!(hours, [24, 25, 24], "New York falls back on 2026-11-01");
        // 01:30 local happens twice that night; both land in 1 November.
        let i = index_of(&b, utc("2026-11-01T05:30:00Z")).unwrap();
        let j = index_of(&b, utc("2026-11-01T06:30:00Z")).unwrap();
        assert_eq!((i, j), (1, 1));
    }

    #[test]
    fn months_and_lookups_and_limits() {
        let b = buckets(
            utc("2026-01-15T00:00:00Z"),
            utc("2026-04-01T00:00:00Z"),
            Interval::Month,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(index_of(&b, utc("2026-02-28T23:59:59Z")), Some(1));
        assert_eq!(index_of(&b, utc("2026-04-01T00:00:00Z")), None);
        assert_eq!(index_of(&b, utc("2026-01-01T00:00:00Z")), None);
        let err = buckets(
            utc("2000-01-01T00:00:00Z"),
            utc("2026-01-01T00:00:00Z"),
            Interval::Day,
            Tz::UTC,
        )
        .unwrap_err();
        assert_eq!(err.field, "interval");
        assert_eq!(parse_tz(Some("Mars/Olympus")).unwrap_err().field, "tz");
    }
}
