//! The counts behind survey stats; the maths on them lives in `domain::scoring`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::invitations::status;
use super::schema::{invitations, responses};
use super::AnyConnection;
use super::DbResult;
use crate::domain::ids::SurveyId;
use crate::domain::kind::Scale;
use crate::domain::scoring::Distribution;

/// Invitations created in `[from, to)`; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    /// Inclusive start.
    pub from: Option<NaiveDateTime>,
    /// Exclusive end.
    pub to: Option<NaiveDateTime>,
}

impl Window {
    fn bounds(self) -> (NaiveDateTime, NaiveDateTime) {
        // Both backends store these; they stand in for "unbounded".
        let min = NaiveDate::from_ymd_opt(1, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        let max = NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_opt(23, 59, 59));
        (
            self.from.or(min).unwrap_or_default(),
            self.to.or(max).unwrap_or_default(),
        )
    }
}

/// Raw counts for one survey and window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Invitations issued (not failed or suppressed).
    pub invitations: u64,
    /// Responses flagged as automated, left out of `by_score`.
    pub suspect: u64,
    /// Trusted responses per score.
    pub by_score: Vec<(i32, u64)>,
}

impl Counts {
    /// The trusted answers as a distribution over `scale`.
    pub fn distribution(&self, scale: Scale) -> Distribution {
        let mut d = Distribution::new(scale);
        for &(score, n) in &self.by_score {
            d.add(score, n);
        }
        d
    }
}

/// Counts invitations and trusted answers for `survey_id` in `window`, from one snapshot.
pub fn counts(conn: &mut AnyConnection, survey_id: &SurveyId, window: Window) -> DbResult<Counts> {
    let (from, to) = window.bounds();
    conn.transaction(|conn| {
        super::snapshot_reads(conn)?;
        let invitations: i64 = invitations::table
            .filter(invitations::survey_id.eq(survey_id.as_str()))
            .filter(invitations::status.ne_all(status::NOT_ISSUED))
            .filter(invitations::created_at.ge(from))
            .filter(invitations::created_at.lt(to))
            .count()
            .get_result(conn)?;
        let answered = responses::table
            .inner_join(invitations::table)
            .filter(invitations::survey_id.eq(survey_id.as_str()))
            .filter(invitations::status.ne_all(status::NOT_ISSUED))
            .filter(invitations::created_at.ge(from))
            .filter(invitations::created_at.lt(to));
        let suspect: i64 = answered
            .clone()
            .filter(responses::suspect.eq(true))
            .count()
            .get_result(conn)?;
        let by_score: Vec<(i32, i64)> = answered
            .filter(responses::suspect.eq(false))
            .group_by(responses::score)
            .select((responses::score, count_star()))
            .load(conn)?;
        Ok(Counts {
            invitations: invitations as u64,
            suspect: suspect as u64,
            by_score: by_score.into_iter().map(|(s, n)| (s, n as u64)).collect(),
        })
    })
}
