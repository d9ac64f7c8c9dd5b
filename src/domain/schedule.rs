//! A campaign's schedule: the wall-clock time of its first cycle in a time zone, repeated
//! every so many days at the same local time (so 09:00 stays 09:00 across a DST change),
//! and the reminders that follow each cycle.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::Invalid;

/// Most days between cycles.
pub const MAX_EVERY_DAYS: i64 = 366;
/// Most reminders after one cycle.
pub const MAX_REMINDERS: usize = 5;
/// Latest reminder, in days after its cycle.
pub const MAX_REMINDER_DAY: i64 = 60;

/// When a campaign's cycles start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The first cycle, as a wall-clock time in `tz`.
    pub start: NaiveDateTime,
    /// The zone the wall clock is in.
    pub tz: Tz,
    /// Days between cycles; `None` for a campaign sent once.
    pub every_days: Option<u32>,
}

/// The instant of wall-clock time `local` in `tz`: the earlier one when the clock goes back,
/// and the first instant after a gap when it skips forward.
pub fn instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    // A gap is at most a few hours; look forward a quarter hour at a time, a bounded loop.
    for _ in 0..=16 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(at) => return at.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(15),
        }
    }
    local.and_utc()
}

impl Schedule {
    /// Parses `start` (`YYYY-MM-DDTHH:MM`, a wall-clock time), `tz` (IANA, default UTC) and
    /// `every_days` (1–366, or none for once), naming the field that is wrong.
    pub fn parse(start: &str, tz: Option<&str>, every_days: Option<i64>) -> Result<Self, Invalid> {
        let start = NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| {
                Invalid::new(
                    "start",
                    "must be a wall-clock time in `tz` without an offset, e.g. 2026-12-07T09:00",
                )
            })?;
        if !(1970..=9000).contains(&chrono::Datelike::year(&start)) {
            return Err(Invalid::new("start", "must be between 1970 and 9000"));
        }
        let tz = match tz.filter(|t| !t.is_empty()) {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| Invalid::new("tz", "must be an IANA time zone, e.g. Europe/Paris"))?,
        };
        let every_days = every_days
            .map(|d| {
                u32::try_from(d)
                    .ok()
                    .filter(|d| (1..=MAX_EVERY_DAYS).contains(&i64::from(*d)))
                    .ok_or_else(|| {
                        Invalid::new(
                            "every_days",
                            format!("must be a whole number of days from 1 to {MAX_EVERY_DAYS}"),
                        )
                    })
            })
            .transpose()?;
        Ok(Self {
            start,
            tz,
            every_days,
        })
    }

    /// The instant of cycle slot `index` (0 = the first), or `None` past the last.
    pub fn slot(&self, index: u32) -> Option<DateTime<Utc>> {
        let local = match (index, self.every_days) {
            (0, _) => self.start,
            (_, None) => return None,
            (i, Some(d)) => self
                .start
                .checked_add_signed(Duration::days(i64::from(i) * i64::from(d)))?,
        };
        if chrono::Datelike::year(&local) > 9000 {
            return None;
        }
        Some(instant(self.tz, local))
    }

    /// The first slot at or after `index` that is not before `now`: where a resumed campaign
    /// picks up (the cycles it missed while paused are skipped, not sent late in a burst).
    pub fn next_from(&self, index: u32, now: DateTime<Utc>) -> Option<(u32, DateTime<Utc>)> {
        let at = self.slot(index)?;
        if at >= now {
            return Some((index, at));
        }
        let days = i64::from(self.every_days?);
        // Whole periods to skip, then step over the one or two a DST change may leave.
        let behind = (now - at).num_days() / days;
        let mut i = index.saturating_add(u32::try_from(behind).ok()?.saturating_sub(1));
        for _ in 0..4 {
            let t = self.slot(i)?;
            if t >= now {
                return Some((i, t));
            }
            i = i.checked_add(1)?;
        }
        None
    }
}

/// Days after a cycle on which those who have not answered are reminded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reminders(Vec<u32>);

impl Reminders {
    /// Parses the days (each 1–60, at most 5; in any order, a day given twice counts once).
    /// Those due after the next cycle has started are not sent (see [`Reminders::cut_after`]).
    pub fn parse(days: &[i64]) -> Result<Self, Invalid> {
        if days.len() > MAX_REMINDERS {
            return Err(Invalid::new(
                "reminder_days",
                format!("at most {MAX_REMINDERS} reminders"),
            ));
        }
        let mut out: Vec<u32> = Vec::with_capacity(days.len());
        for (i, &d) in days.iter().enumerate() {
            let day = u32::try_from(d)
                .ok()
                .filter(|d| (1..=MAX_REMINDER_DAY).contains(&i64::from(*d)))
                .ok_or_else(|| {
                    Invalid::new(
                        format!("reminder_days[{i}]"),
                        format!("must be from 1 to {MAX_REMINDER_DAY} days"),
                    )
                })?;
            out.push(day);
        }
        out.sort_unstable();
        out.dedup();
        Ok(Self(out))
    }

    /// Reads the stored form (comma-separated days).
    pub fn from_stored(raw: &str) -> Self {
        Self(
            raw.split(',')
                .filter_map(|d| d.trim().parse().ok())
                .collect(),
        )
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The days.
    pub fn days(&self) -> &[u32] {
        &self.0
    }

    /// When reminder number `n` (1 = the first) of a cycle started at `start` is due.
    pub fn due(&self, start: DateTime<Utc>, n: usize) -> Option<DateTime<Utc>> {
        let day = *self.0.get(n.checked_sub(1)?)?;
        Some(start + Duration::days(i64::from(day)))
    }

    /// The reminder to send at `now`, after `sent` were sent, of a cycle started at `start`:
    /// the latest one due by then (those missed while the service was down are skipped, so
    /// that people get one reminder, not a burst of them), or `None` when none is due; and
    /// when the one after it is due.
    pub fn to_send(
        &self,
        start: DateTime<Utc>,
        sent: usize,
        now: DateTime<Utc>,
    ) -> (Option<usize>, Option<DateTime<Utc>>) {
        let due_by_now = (1..=self.0.len())
            .take_while(|&n| self.due(start, n).is_some_and(|at| at <= now))
            .count();
        let number = (due_by_now > sent).then_some(due_by_now);
        (number, self.due(start, due_by_now.max(sent) + 1))
    }

    /// When a cycle started at `start` no longer needs to know who its invitations went to:
    /// a day after its last reminder is due (a day after the start without reminders), time
    /// enough for the outbox to send it; and no later than the next cycle (`every_days`),
    /// which supersedes it, so its reminders due after that are never sent.
    pub fn cut_after(&self, start: DateTime<Utc>, every_days: Option<u32>) -> DateTime<Utc> {
        let after_reminders =
            start + Duration::days(i64::from(self.0.last().copied().unwrap_or(0)) + 1);
        match every_days {
            Some(d) => after_reminders.min(start + Duration::days(i64::from(d))),
            None => after_reminders,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn after_downtime_only_the_latest_due_reminder_is_sent() {
        let r = Reminders::parse(&[1, 2, 3]).unwrap();
        let start = at("2026-01-05T09:00:00Z");
        let day = |d: f64| start + Duration::minutes((d * 1440.0) as i64);
        // On time: each in turn, then nothing more.
        assert_eq!(r.to_send(start, 0, day(1.0)), (Some(1), Some(day(2.0))));
        assert_eq!(r.to_send(start, 1, day(2.5)), (Some(2), Some(day(3.0))));
        assert_eq!(r.to_send(start, 2, day(3.0)), (Some(3), None));
        // Down from day 0.5 to 3.5: one reminder (the third), none owed after it.
        assert_eq!(r.to_send(start, 0, day(3.5)), (Some(3), None));
        // Down from day 1.2 to 2.5 after the first: the second, then the third on its day.
        assert_eq!(r.to_send(start, 1, day(2.5)), (Some(2), Some(day(3.0))));
        // Not yet due: nothing, and the next one's time.
        assert_eq!(r.to_send(start, 0, day(0.5)), (None, Some(day(1.0))));
        assert_eq!(r.to_send(start, 3, day(9.0)), (None, None));
    }

    proptest! {
        #[test]
        fn to_send_never_repeats_never_sends_early_and_leaves_nothing_due(
            days in proptest::collection::vec(1i64..=60, 0..=5),
            sent in 0usize..=5,
            minutes in 0i64..=(61 * 1440),
        ) {
            let r = Reminders::parse(&days).unwrap();
            let sent = sent.min(r.days().len());
            let start = at("2026-01-05T09:00:00Z");
            let now = start + Duration::minutes(minutes);
            let (number, next) = r.to_send(start, sent, now);
            if let Some(n) = number {
                prop_assert!(n > sent && n <= r.days().len());
                prop_assert!(r.due(start, n).unwrap() <= now);
            }
            // Whatever is sent, nothing else is due at `now`: the next one is later, and
            // only the last reminder has none after it.
            if let Some(next) = next {
                prop_assert!(next > now);
            } else {
                prop_assert_eq!(number.unwrap_or(sent), r.days().len());
            }
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_two_weeks_at_nine_in_paris_stays_at_nine_across_the_clock_change() {
        let s = Schedule::parse("2026-10-19T09:00", Some("Europe/Paris"), Some(14)).unwrap();
        assert_eq!(s.slot(0), Some(at("2026-10-19T07:00:00Z")), "CEST, UTC+2");
        assert_eq!(s.slot(1), Some(at("2026-11-02T08:00:00Z")), "CET, UTC+1");
        assert_eq!(s.slot(2), Some(at("2026-11-16T08:00:00Z")));
    }

    #[test]
    fn a_wall_time_in_the_spring_gap_moves_to_the_first_real_instant() {
        // 02:30 does not exist in Paris on 29 March 2026.
        let s = Schedule::parse("2026-03-29T02:30", Some("Europe/Paris"), None).unwrap();
        assert_eq!(s.slot(0), Some(at("2026-03-29T01:00:00Z")));
        assert_eq!(s.slot(1), None, "sent once");
    }

    #[test]
    fn bad_schedules_name_their_field() {
        let e = Schedule::parse("next monday", None, None).unwrap_err();
        assert_eq!(e.field, "start");
        let e = Schedule::parse("2026-12-07T09:00", Some("Mars/Olympus"), None).unwrap_err();
        assert_eq!(e.field, "tz");
        let e = Schedule::parse("2026-12-07T09:00", None, Some(0)).unwrap_err();
        assert_eq!(e.field, "every_days");
        assert_eq!(Reminders::parse(&[5, 3, 3]).unwrap().days(), &[3, 5]);
        let e = Reminders::parse(&[3, 61]).unwrap_err();
        assert_eq!(e.field, "reminder_days[1]");
        let e = Reminders::parse(&[0]).unwrap_err();
        assert_eq!(e.field, "reminder_days[0]");
        assert_eq!(Reminders::parse(&[3, 5]).unwrap().days(), &[3, 5]);
    }

    #[test]
    fn a_resumed_campaign_skips_the_cycles_it_missed() {
        let s = Schedule::parse("2026-01-05T09:00", None, Some(7)).unwrap();
        let (i, t) = s.next_from(1, at("2026-02-03T12:00:00Z")).unwrap();
        assert_eq!((i, t), (5, at("2026-02-09T09:00:00Z")));
        assert_eq!(s.next_from(1, at("2026-01-01T00:00:00Z")).unwrap().0, 1);
    }

    #[test]
    fn reminders_and_the_cut_follow_the_cycle() {
        let r = Reminders::parse(&[3, 5]).unwrap();
        let start = at("2026-12-07T08:00:00Z");
        assert_eq!(r.due(start, 1), Some(at("2026-12-10T08:00:00Z")));
        assert_eq!(r.due(start, 2), Some(at("2026-12-12T08:00:00Z")));
        assert_eq!(r.due(start, 3), None);
        assert_eq!(r.cut_after(start, Some(14)), at("2026-12-13T08:00:00Z"));
        // Weekly with a reminder at +10: the next cycle supersedes it before it is due.
        let late = Reminders::parse(&[10]).unwrap();
        assert_eq!(late.cut_after(start, Some(7)), at("2026-12-14T08:00:00Z"));
        assert!(late.due(start, 1).unwrap() > late.cut_after(start, Some(7)));
        assert_eq!(Reminders::from_stored(&r.to_stored()), r);
    }

    proptest! {
        #[test]
        fn slots_keep_their_wall_time_and_next_from_is_the_first_not_before_now(
            days in 1i64..40, offset_hours in 0i64..24 * 400, zone in 0usize..4,
        ) {
            let tz = ["Europe/Paris", "America/New_York", "Australia/Sydney", "UTC"][zone];
            let s = Schedule::parse("2026-01-05T09:00", Some(tz), Some(days)).unwrap();
            let tzp: Tz = tz.parse().unwrap();
            for i in 0..5 {
                let t = s.slot(i).unwrap();
                prop_assert_eq!(t.with_timezone(&tzp).format("%H:%M").to_string(), "09:00");
            }
            let now = s.slot(0).unwrap() + Duration::hours(offset_hours);
            let (i, t) = s.next_from(0, now).unwrap();
            prop_assert!(t >= now);
            prop_assert!(i == 0 || s.slot(i - 1).unwrap() < now);
        }
    }
}
