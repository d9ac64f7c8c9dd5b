//! Stats rollups: the counts behind scores by survey, property value and time cell, kept in
//! the same transaction as each invitation and answer (see the migration for the layout),
//! the bounded exact query over raw rows that answers what rollups cannot (`raw`), and
//! building them from the raw rows (`backfill`).

mod accumulate;
mod backfill;
mod raw;
mod stage;
mod summed;
mod upsert;

pub use accumulate::{Accumulator, MAX_PENDING_CELLS};
pub use backfill::{backfill_once, rebuild};
pub use raw::{raw, RawQuery, RawRow};
pub use stage::Staging;
pub use summed::{read_cells, CellCounts, GrainRange};
pub use upsert::apply_many;

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime};
use diesel::prelude::*;

use super::invitations::{properties_of, properties_of_one, Invitation};
use super::schema::{invitations, surveys};
use super::surveys::Survey;
use super::{AnyConnection, DbResult};
use crate::domain::ids::{InvitationId, SurveyId};
use crate::domain::segments::SegmentBy;
use crate::domain::stats::tally::Tally;

/// The cell sizes kept, each made of whole cells of the next: weeks of days, days of hours,
/// hours of quarter hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    /// ISO weeks in UTC (from Monday 00:00).
    Week,
    /// Whole UTC days.
    Day,
    /// Whole UTC hours.
    Hour,
    /// Quarter hours (every time zone's midnight falls on one's edge).
    Quarter,
}

/// The Unix epoch (a Thursday) to the first Monday after it, in seconds.
const FIRST_MONDAY: i64 = 4 * 86_400;

impl Grain {
    /// Every grain, coarsest first, in declaration order (`ALL[g as usize] == g`).
    pub const ALL: [Grain; 4] = [Grain::Week, Grain::Day, Grain::Hour, Grain::Quarter];

    /// The length of one cell.
    pub fn length(self) -> Duration {
        match self {
            Self::Week => Duration::weeks(1),
            Self::Day => Duration::days(1),
            Self::Hour => Duration::hours(1),
            Self::Quarter => Duration::minutes(15),
        }
    }

    /// The next finer grain (none after quarter hours).
    pub fn finer(self) -> Option<Grain> {
        match self {
            Self::Week => Some(Self::Day),
            Self::Day => Some(Self::Hour),
            Self::Hour => Some(Self::Quarter),
            Self::Quarter => None,
        }
    }

    /// The start of the cell holding `at` (any year: whole seconds, no nanosecond range).
    pub fn floor(self, at: NaiveDateTime) -> NaiveDateTime {
        let step = self.length().num_seconds();
        // Weeks start on Mondays, the others on the epoch.
        let offset = if self == Self::Week { FIRST_MONDAY } else { 0 };
        let secs = at.and_utc().timestamp() - offset;
        DateTime::from_timestamp(secs.div_euclid(step) * step + offset, 0)
            .map(|t| t.naive_utc())
            .unwrap_or(at)
    }

    /// The first cell start at or after `at`.
    pub fn ceil(self, at: NaiveDateTime) -> NaiveDateTime {
        let floor = self.floor(at);
        if floor == at {
            at
        } else {
            floor + self.length()
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Week => "rollup_weeks",
            Self::Day => "rollup_days",
            Self::Hour => "rollup_hours",
            Self::Quarter => "rollup_quarters",
        }
    }
}

/// Where a change counts: the survey, the invitation's creation time, and the values of the
/// survey's segment properties that the invitation carries.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The survey.
    pub survey_id: SurveyId,
    /// The invitation's creation time.
    pub at: NaiveDateTime,
    /// `(property, value)` for each segment the invitation carries.
    pub dims: Vec<(String, String)>,
}

/// The cell of invitation `id`, reading its survey's segments and its properties.
pub fn cell_of(conn: &mut AnyConnection, id: &InvitationId) -> DbResult<Cell> {
    let (survey_id, at, segment_by): (String, NaiveDateTime, Option<String>) = invitations::table
        .inner_join(surveys::table)
        .filter(invitations::id.eq(id.as_str()))
        .select((
            invitations::survey_id,
            invitations::created_at,
            surveys::segment_by,
        ))
        .first(conn)?;
    let survey_id = SurveyId::from(survey_id);
    // As they stand now, held until the commit (read before the hold, they may have changed).
    let segment_by = match crate::db::surveys::hold_current(conn, &[&survey_id])? {
        Some(mut now) => now.remove(&survey_id).and_then(|s| s.segment_by),
        None => segment_by,
    };
    let segments = SegmentBy::from_stored(segment_by.as_deref());
    Ok(Cell {
        survey_id,
        at,
        dims: segment_values(conn, id, &segments)?,
    })
}

/// The cells of `answered` (invitations with their surveys), their properties read with
/// one query since the caller holds the rows.
pub fn cells_for(
    conn: &mut AnyConnection,
    answered: &[(&Invitation, &Survey)],
) -> DbResult<Vec<Cell>> {
    let segmented: Vec<&InvitationId> = answered
        .iter()
        .filter(|(_, survey)| !survey.segments().keys().is_empty())
        .map(|(invitation, _)| &invitation.id)
        .collect();
    let mut properties = if segmented.is_empty() {
        HashMap::new()
    } else {
        properties_of(conn, &segmented)?
    };
    Ok(answered
        .iter()
        .map(|(invitation, survey)| {
            let segments = survey.segments();
            let dims = properties
                .remove(&invitation.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| segments.contains(k))
                .collect();
            Cell {
                survey_id: invitation.survey_id.clone(),
                at: invitation.created_at,
                dims,
            }
        })
        .collect())
}

/// The `(property, value)` pairs of invitation `id` that are among `segments`.
fn segment_values(
    conn: &mut AnyConnection,
    id: &InvitationId,
    segments: &SegmentBy,
) -> DbResult<Vec<(String, String)>> {
    let properties = properties_of_one(conn, id)?;
    Ok(properties
        .into_iter()
        .filter(|(k, _)| segments.contains(k))
        .collect())
}

/// Adds `delta` to the survey's cells at every grain, overall and per segment value.
/// Call inside the transaction that makes the change.
pub fn apply(conn: &mut AnyConnection, cell: &Cell, delta: &Tally) -> DbResult<()> {
    if delta.is_zero() {
        return Ok(());
    }
    let overall = ("", "");
    let dims: Vec<(&str, &str)> = std::iter::once(overall)
        .chain(cell.dims.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .collect();
    let cells: Vec<CellDelta> = Grain::ALL
        .iter()
        .flat_map(|&grain| {
            let at = grain.floor(cell.at);
            dims.iter()
                .map(move |&(dim, value)| (grain, cell.survey_id.as_str(), dim, value, at, delta))
        })
        .collect();
    apply_many(conn, &cells)
}

/// One cell's change: `(grain, survey, dim, value, cell start, delta)`.
pub type CellDelta<'a> = (Grain, &'a str, &'a str, &'a str, NaiveDateTime, &'a Tally);

#[cfg(test)]
mod tests {
    use super::Grain;
    use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn weeks_start_on_monday_at_midnight_utc_in_any_year() {
        // 2026-03-02 and 2026-03-09 are Mondays.
        assert_eq!(
            Grain::Week.floor(at(2026, 3, 4, 12, 0)),
            at(2026, 3, 2, 0, 0)
        );
        assert_eq!(
            Grain::Week.floor(at(2026, 3, 2, 0, 0)),
            at(2026, 3, 2, 0, 0)
        );
        assert_eq!(
            Grain::Week.floor(at(2026, 3, 8, 23, 59)),
            at(2026, 3, 2, 0, 0)
        );
        assert_eq!(
            Grain::Week.ceil(at(2026, 3, 8, 23, 59)),
            at(2026, 3, 9, 0, 0)
        );
        for t in [
            at(1, 1, 1, 0, 0),
            at(1969, 12, 31, 5, 0),
            at(2400, 2, 29, 7, 0),
        ] {
            let monday = Grain::Week.floor(t);
            assert_eq!(monday.weekday(), Weekday::Mon, "{t}");
            assert!(monday <= t && t - monday < Grain::Week.length(), "{t}");
        }
    }

    #[test]
    fn each_grain_is_made_of_whole_cells_of_the_next() {
        for pair in Grain::ALL.windows(2) {
            let (coarse, fine) = (pair[0], pair[1]);
            assert_eq!(coarse.finer(), Some(fine));
            let t = at(2026, 11, 24, 13, 37);
            assert_eq!(fine.floor(coarse.floor(t)), coarse.floor(t));
            assert_eq!(
                coarse.length().num_seconds() % fine.length().num_seconds(),
                0
            );
        }
        assert_eq!(Grain::Quarter.finer(), None);
        for (i, grain) in Grain::ALL.iter().enumerate() {
            assert_eq!(*grain as usize, i);
        }
    }
}
