//! Many rollup changes summed in memory and written with few statements: the path of bulk
//! work (import, rebuild) and of a batch of answers, where one upsert per change would
//! dominate.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{apply_many, Cell, CellDelta, Grain};
use crate::db::{AnyConnection, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::stats::tally::Tally;

/// The key of one rollup row: grain, survey, dimension, value (as [`Names`] numbers them)
/// and the cell's start.
type Key = (Grain, u32, u32, u32, NaiveDateTime);

/// Each distinct string (survey id, dimension, value) held once and numbered, so that a key
/// is a few integers: adding a change allocates nothing for a name seen before.
#[derive(Debug, Default, Clone)]
struct Names {
    numbers: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    /// The number of `name`, giving it the next one if it is new.
    fn number(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = u32::try_from(self.names.len()).expect("fewer than 2^32 names");
        self.names.push(name.into());
        self.numbers.insert(name.into(), n);
        n
    }

    /// Each number's rank when the names are sorted, so keys sort in string order by
    /// comparing integers.
    fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut ranks = vec![0; order.len()];
        for (rank, n) in order.into_iter().enumerate() {
            ranks[n as usize] = rank as u32;
        }
        ranks
    }
}

/// Rollup cells summed in memory by bulk work before they are written (about 100 MB at most).
pub const MAX_PENDING_CELLS: usize = 250_000;

/// Summed deltas per rollup cell, of one survey or many.
#[derive(Debug, Default)]
pub struct Accumulator {
    names: Names,
    cells: HashMap<Key, Tally>,
    /// Whether only quarter-hour cells are kept, the coarser ones to be derived from them
    /// (see [`Accumulator::quarters_only`]).
    quarters_only: bool,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty accumulator that sums changes into quarter-hour cells only: each coarser
    /// cell is made of whole quarter hours, so its counts follow from theirs (see
    /// [`Accumulator::fill_coarser`], or a merge that derives them, as an import's
    /// [`super::Staging`] does). A quarter of the work and memory per change.
    pub fn quarters_only() -> Self {
        Self {
            quarters_only: true,
            ..Self::default()
        }
    }

    /// Whether it holds quarter-hour cells only (made by [`Accumulator::quarters_only`]
    /// and not yet filled).
    pub fn is_quarters_only(&self) -> bool {
        self.quarters_only
    }

    /// Adds each quarter-hour cell's counts to the hour, day and week that hold it, so that
    /// an accumulator made by [`Accumulator::quarters_only`] holds every grain, as if each
    /// change had been added to all of them.
    pub fn fill_coarser(&mut self) {
        if self.quarters_only {
            let coarser = self.coarser();
            self.cells.extend(coarser.cells);
            self.quarters_only = false;
        }
    }

    /// The hour, day and week cells that the quarter-hour cells make up (names numbered
    /// alike).
    fn coarser(&self) -> Accumulator {
        let mut coarser = Accumulator {
            names: self.names.clone(),
            ..Self::default()
        };
        for (&(_, survey, dim, value, at), delta) in &self.cells {
            for grain in [Grain::Hour, Grain::Day, Grain::Week] {
                *coarser
                    .cells
                    .entry((grain, survey, dim, value, grain.floor(at)))
                    .or_default() += *delta;
            }
        }
        coarser
    }

    /// The grains each change is added to.
    fn grains(&self) -> &'static [Grain] {
        if self.quarters_only {
            &[Grain::Quarter]
        } else {
            &Grain::ALL
        }
    }

    /// An empty accumulator of the same kind.
    fn emptied(&self) -> Self {
        Self {
            quarters_only: self.quarters_only,
            ..Self::default()
        }
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
        let survey = self.names.number(survey_id.as_str());
        let overall = self.names.number("");
        let dims: Vec<(u32, u32)> = std::iter::once((overall, overall))
            .chain(dims.map(|(d, v)| (self.names.number(d), self.names.number(v))))
            .collect();
        for &grain in self.grains() {
            let start = grain.floor(at);
            for &(dim, value) in &dims {
                *self
                    .cells
                    .entry((grain, survey, dim, value, start))
                    .or_default() += delta;
            }
        }
    }

    /// Adds `delta` to `cell`.
    pub fn add_cell(&mut self, cell: &Cell, delta: Tally) {
        let dims = cell.dims.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        self.add(&cell.survey_id, cell.at, dims, delta);
    }

    /// Adds everything `other` holds (filling both first if only one keeps quarter hours
    /// only).
    pub fn merge(&mut self, mut other: Accumulator) {
        if self.quarters_only != other.quarters_only {
            self.fill_coarser();
            other.fill_coarser();
        }
        let renumber: Vec<u32> = other
            .names
            .names
            .iter()
            .map(|name| self.names.number(name))
            .collect();
        for ((grain, survey, dim, value, at), delta) in other.cells {
            let key = (
                grain,
                renumber[survey as usize],
                renumber[dim as usize],
                renumber[value as usize],
                at,
            );
            *self.cells.entry(key).or_default() += delta;
        }
    }

    /// Hands over the summed cells, leaving it empty, once there are more than `limit` of
    /// them (bounding memory on huge surveys; a cell written twice just adds up).
    pub fn take_above(&mut self, limit: usize) -> Option<Accumulator> {
        (self.cells.len() > limit).then(|| std::mem::replace(self, self.emptied()))
    }

    /// Writes the summed cells once there are more than `limit` of them (see
    /// [`Accumulator::take_above`]).
    pub fn write_above(&mut self, conn: &mut AnyConnection, limit: usize) -> DbResult<()> {
        match self.take_above(limit) {
            Some(mut full) => full.write(conn),
            None => Ok(()),
        }
    }

    /// Writes every summed cell, at every grain, and starts again from empty. Call inside
    /// the transaction that made the changes.
    pub fn write(&mut self, conn: &mut AnyConnection) -> DbResult<()> {
        let drained = std::mem::replace(self, self.emptied());
        if drained.quarters_only {
            // The coarser grains first, as [`Accumulator::sorted`] orders them, each kind
            // of cell held only while it is written.
            let coarser = drained.coarser();
            apply_many(conn, &coarser.sorted())?;
        }
        apply_many(conn, &drained.sorted())
    }

    /// The non-zero cells in one total order, each table's primary key order within a
    /// grain (survey, dimension, start, value): two Postgres batches that touch the same
    /// cells lock them in the same order, so they wait for each other instead of
    /// deadlocking, and SQLite writes each table's pages in order.
    pub(super) fn sorted(&self) -> Vec<CellDelta<'_>> {
        let ranks = self.names.ranks();
        let mut keys = self.non_zero();
        keys.sort_unstable_by_key(|((grain, survey, dim, value, at), _)| {
            let rank = |n: &u32| ranks[*n as usize];
            (*grain, rank(survey), rank(dim), *at, rank(value))
        });
        self.named(keys)
    }

    /// The non-zero cells in no particular order (for a table without keys to lock).
    pub(super) fn unsorted(&self) -> Vec<CellDelta<'_>> {
        self.named(self.non_zero())
    }

    fn non_zero(&self) -> Vec<(&Key, &Tally)> {
        self.cells.iter().filter(|(_, t)| !t.is_zero()).collect()
    }

    fn named<'a>(&'a self, keys: Vec<(&'a Key, &'a Tally)>) -> Vec<CellDelta<'a>> {
        let name = |n: u32| &*self.names.names[n as usize];
        keys.into_iter()
            .map(|(&(grain, survey, dim, value, at), delta)| {
                (grain, name(survey), name(dim), name(value), at, delta)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 4)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn answer(score: i32) -> Tally {
        Tally::answer(score, false, false, 1)
    }

    #[test]
    fn changes_sum_per_cell_at_every_grain_in_primary_key_order() {
        let s = SurveyId::from("s1".to_owned());
        let mut acc = Accumulator::new();
        acc.add(&s, at(10, 20), [("agent", "bo")].into_iter(), answer(9));
        acc.add(&s, at(10, 5), [("agent", "al")].into_iter(), answer(3));
        acc.add(&s, at(10, 25), [("agent", "bo")].into_iter(), answer(10));
        // A change and its undoing leave no cell to write.
        acc.add(&s, at(23, 0), std::iter::empty(), answer(5));
        acc.add(
            &s,
            at(23, 0),
            std::iter::empty(),
            Tally::answer(5, false, false, -1),
        );
        let cells = acc.sorted();
        let quarters: Vec<_> = cells
            .iter()
            .filter(|c| c.0 == Grain::Quarter)
            .map(|c| (c.2, c.3, c.4, c.5.scores.iter().sum::<i64>()))
            .collect();
        assert_eq!(
            quarters,
            vec![
                ("", "", at(10, 0), 1),
                ("", "", at(10, 15), 2),
                ("agent", "al", at(10, 0), 1),
                ("agent", "bo", at(10, 15), 2),
            ]
        );
        let hours: Vec<_> = cells.iter().filter(|c| c.0 == Grain::Hour).collect();
        assert_eq!(hours.len(), 3);
        assert_eq!(hours[0].5.scores[9] + hours[0].5.scores[10], 2);
        // Grains in declaration order, then the key order within each.
        let grains: Vec<Grain> = cells.iter().map(|c| c.0).collect();
        let mut sorted = grains.clone();
        sorted.sort();
        assert_eq!(grains, sorted);
        assert_eq!(cells.len(), 3 + 3 + 3 + 4);
    }

    #[test]
    fn quarter_hours_filled_into_coarser_cells_equal_every_grain_summed_directly() {
        let s = SurveyId::from("s1".to_owned());
        let mut full = Accumulator::new();
        let mut quarters = Accumulator::quarters_only();
        // Across quarter, hour, day and week edges (2026-03-04 is a Wednesday, the 9th a
        // Monday), an answer and its undoing among them.
        let changes = [
            (at(10, 5), "al", 1, 9),
            (at(10, 20), "bo", 1, 3),
            (at(11, 59), "al", 1, 10),
            (at(23, 59), "bo", 1, 0),
            (at(10, 20), "bo", -1, 3),
        ];
        let later = |days: i64| at(0, 7) + chrono::Duration::days(days);
        let more = [(later(1), "al", 1, 7), (later(5), "al", 1, 8)];
        for (when, agent, sign, score) in changes.into_iter().chain(more) {
            let delta = Tally::answer(score, false, false, sign);
            full.add(&s, when, [("agent", agent)].into_iter(), delta);
            quarters.add(&s, when, [("agent", agent)].into_iter(), delta);
        }
        assert!(quarters.sorted().iter().all(|c| c.0 == Grain::Quarter));
        quarters.fill_coarser();
        assert!(!quarters.is_quarters_only());
        assert_eq!(quarters.sorted(), full.sorted());
        // Two weeks overall and for al, one for bo.
        let weeks = full.sorted().iter().filter(|c| c.0 == Grain::Week).count();
        assert_eq!(weeks, 5);
    }

    #[test]
    fn a_quarters_only_accumulator_stays_so_when_it_hands_over() {
        let s = SurveyId::from("s1".to_owned());
        let mut acc = Accumulator::quarters_only();
        acc.add(&s, at(1, 0), std::iter::empty(), answer(9));
        let taken = acc.take_above(0).expect("above the limit");
        assert!(taken.is_quarters_only() && acc.is_quarters_only());
        // Merged with a full one, both are filled first: nothing counts twice or is lost.
        let mut full = Accumulator::new();
        full.add(&s, at(2, 0), std::iter::empty(), answer(3));
        full.merge(taken);
        assert_eq!(full.sorted().len(), 2 + 2 + 1 + 1);
    }

    #[test]
    fn merging_is_adding_the_same_changes_directly() {
        let (a, b) = (
            SurveyId::from("a".to_owned()),
            SurveyId::from("b".to_owned()),
        );
        let mut direct = Accumulator::new();
        let mut merged = Accumulator::new();
        let mut part = Accumulator::new();
        for (i, (survey, value)) in [(&a, "x"), (&b, "y"), (&a, "y"), (&b, "x")]
            .into_iter()
            .enumerate()
        {
            let when = at(i as u32, 0);
            let delta = answer(i as i32);
            direct.add(survey, when, [("team", value)].into_iter(), delta);
            // Names numbered in another order in the part merged in.
            let target = if i % 2 == 0 { &mut merged } else { &mut part };
            target.add(survey, when, [("team", value)].into_iter(), delta);
        }
        merged.merge(part);
        assert_eq!(direct.sorted(), merged.sorted());
    }
}
