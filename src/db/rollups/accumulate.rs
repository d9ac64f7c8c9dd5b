//! Many changes to one survey's rollups summed in memory and written with few statements:
//! the path of bulk work (import, rebuild), where one upsert per invitation would dominate.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{apply_many, CellDelta, Grain};
use crate::db::{AnyConnection, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::stats::tally::Tally;

/// Summed deltas per cell of one survey.
#[derive(Debug)]
pub struct Accumulator {
    survey_id: SurveyId,
    cells: HashMap<(Grain, String, String, NaiveDateTime), Tally>,
}

impl Accumulator {
    /// An empty accumulator for `survey_id`.
    pub fn new(survey_id: SurveyId) -> Self {
        Self {
            survey_id,
            cells: HashMap::new(),
        }
    }

    /// Adds `delta` for an invitation created `at` carrying the segment values `dims`,
    /// overall and per value, at both grains (as [`super::apply`] does).
    pub fn add<'a>(
        &mut self,
        at: NaiveDateTime,
        dims: impl Iterator<Item = (&'a str, &'a str)>,
        delta: Tally,
    ) {
        if delta.is_zero() {
            return;
        }
        let dims: Vec<(&str, &str)> = std::iter::once(("", "")).chain(dims).collect();
        for grain in [Grain::Day, Grain::Quarter] {
            let start = grain.floor(at);
            for (dim, value) in &dims {
                let key = (grain, (*dim).to_owned(), (*value).to_owned(), start);
                *self.cells.entry(key).or_default() += delta;
            }
        }
    }

    /// Writes the summed cells once there are more than `limit` of them (bounding memory on
    /// huge surveys; a cell written twice just adds up).
    pub fn write_above(&mut self, conn: &mut AnyConnection, limit: usize) -> DbResult<()> {
        if self.cells.len() > limit {
            self.write(conn)?;
        }
        Ok(())
    }

    /// Writes every summed cell and starts again from empty. Call inside the transaction
    /// that made the changes.
    pub fn write(&mut self, conn: &mut AnyConnection) -> DbResult<()> {
        let survey_id = &self.survey_id;
        let cells: Vec<CellDelta> = self
            .cells
            .drain()
            .map(|((grain, dim, value, at), t)| (grain, survey_id.clone(), dim, value, at, t))
            .collect();
        apply_many(conn, &cells)
    }
}
