//! Many rollup changes summed in memory and written with few statements: the path of bulk
//! work (import, rebuild) and of a batch of answers, where one upsert per change would
//! dominate.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::{apply_many, Cell, CellDelta, Grain};
use crate::db::{AnyConnection, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::stats::tally::Tally;

/// The key of one rollup row.
type Key = (Grain, String, String, String, NaiveDateTime);

/// Summed deltas per rollup cell, of one survey or many.
#[derive(Debug, Default)]
pub struct Accumulator {
    // Ordered, so every writer updates rows in one order: two Postgres batches that touch the
    // same cells wait for each other instead of deadlocking.
    cells: BTreeMap<Key, Tally>,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `delta` for an invitation of `survey_id` created `at` carrying the segment
    /// values `dims`, overall and per value, at every grain (as [`super::apply`] does).
    pub fn add<'a>(
        &mut self,
        survey_id: &SurveyId,
        at: NaiveDateTime,
        dims: impl Iterator<Item = (&'a str, &'a str)>,
        delta: Tally,
    ) {
        if delta.is_zero() {
            return;
        }
        let dims: Vec<(&str, &str)> = std::iter::once(("", "")).chain(dims).collect();
        for grain in Grain::ALL {
            let start = grain.floor(at);
            for (dim, value) in &dims {
                let key = (
                    grain,
                    survey_id.as_str().to_owned(),
                    (*dim).to_owned(),
                    (*value).to_owned(),
                    start,
                );
                *self.cells.entry(key).or_default() += delta;
            }
        }
    }

    /// Adds `delta` to `cell`.
    pub fn add_cell(&mut self, cell: &Cell, delta: Tally) {
        let dims = cell.dims.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        self.add(&cell.survey_id, cell.at, dims, delta);
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: Accumulator) {
        for (key, delta) in other.cells {
            *self.cells.entry(key).or_default() += delta;
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
        let cells: Vec<CellDelta> = std::mem::take(&mut self.cells)
            .into_iter()
            .filter(|(_, t)| !t.is_zero())
            .map(|((grain, survey, dim, value, at), t)| {
                (grain, SurveyId::from(survey), dim, value, at, t)
            })
            .collect();
        apply_many(conn, &cells)
    }
}
