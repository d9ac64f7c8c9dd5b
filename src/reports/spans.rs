//! Which rollup grain answers which part of a window, so that every cell is counted in the
//! bucket it belongs to, and where each cell read lands.

use chrono::NaiveDateTime;

use crate::db::rollups::Grain;

/// A run of cells of one grain, added to the figures or taken out of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The grain of its cells.
    pub grain: Grain,
    /// Start of the first cell.
    pub from: NaiveDateTime,
    /// End of the last cell.
    pub to: NaiveDateTime,
    /// Whether its cells are subtracted (the rest of a cell read whole).
    pub minus: bool,
    /// Count its cells in the bucket holding this instant instead of their own: a cell that
    /// straddles a bucket edge, and the finer cells that correct it, are counted in the
    /// bucket of the cell's larger side.
    pub bucket_of: Option<NaiveDateTime>,
}

/// Splits `[from, to)` (on quarter hours) into runs of cells, coarsest first, each counted
/// in the right bucket (`edges`: the bucket starts inside the window, ascending).
///
/// A whole cell with no edge inside is read as itself: weeks between a weekly trend's UTC
/// edges, days between a daily one's. A cell holding one edge (a local midnight of another
/// zone: every zone's is on a quarter hour) is read whole, counted in the bucket of its
/// larger side, less its smaller side read with finer cells, which are then added to their
/// own bucket: Berlin's 23:00 UTC midnight costs one day (or week) cell and two hour cells
/// instead of 24 hours. A cell holding more edges is read by its finer cells.
///
/// A cell partly inside the range is read whole less the part outside when that part is the
/// smaller: "the last 90 days until now" reads the current week as one cell less the rest of
/// the week (read by days, hours and quarters), not as every quarter hour since Monday.
pub fn cell_spans(from: NaiveDateTime, to: NaiveDateTime, edges: &[NaiveDateTime]) -> Vec<Span> {
    let mut spans = Spans {
        list: Vec::new(),
        edges,
    };
    spans.cover(Grain::ALL[0], from, to, false, None);
    spans.list
}

/// The spans found so far.
struct Spans<'a> {
    list: Vec<Span>,
    edges: &'a [NaiveDateTime],
}

impl Spans<'_> {
    /// Adds a span, extending the last one where it continues it.
    fn push(
        &mut self,
        grain: Grain,
        from: NaiveDateTime,
        to: NaiveDateTime,
        minus: bool,
        bucket_of: Option<NaiveDateTime>,
    ) {
        if from >= to {
            return;
        }
        match self.list.last_mut() {
            Some(last)
                if last.grain == grain
                    && last.minus == minus
                    && last.bucket_of == bucket_of
                    && last.to == from =>
            {
                last.to = to
            }
            _ => self.list.push(Span {
                grain,
                from,
                to,
                minus,
                bucket_of,
            }),
        }
    }

    /// The edges strictly inside `(from, to)`.
    fn inside(&self, from: NaiveDateTime, to: NaiveDateTime) -> &[NaiveDateTime] {
        let i = self.edges.partition_point(|e| *e <= from);
        let j = self.edges.partition_point(|e| *e < to);
        &self.edges[i..j.max(i)]
    }

    /// Covers `[from, to)` with cells of `grain` or finer, subtracted when `minus`, counted
    /// in the bucket of `forced` when set.
    fn cover(
        &mut self,
        grain: Grain,
        from: NaiveDateTime,
        to: NaiveDateTime,
        minus: bool,
        forced: Option<NaiveDateTime>,
    ) {
        if from >= to {
            return;
        }
        let Some(finer) = grain.finer() else {
            // Quarter hours: every edge is on one's boundary.
            self.push(grain, from, to, minus, forced);
            return;
        };
        let length = grain.length();
        let mut cell = grain.floor(from);
        while cell < to {
            let end = cell + length;
            let (a, b) = (from.max(cell), to.min(end));
            if a == cell && b == end {
                // A run of whole cells with no edge inside any of them: one span.
                let last = grain.floor(to);
                if self.inside(cell, last).is_empty() && last > end {
                    self.push(grain, cell, last, minus, forced);
                    cell = last;
                    continue;
                }
            }
            let inside = self.inside(cell, end);
            match (a == cell && b == end, inside) {
                (true, []) => self.push(grain, cell, end, minus, forced),
                (true, &[e]) => {
                    // The whole cell in its larger side's bucket, less its smaller side,
                    // which is added to its own.
                    let (small, larger) = if e - cell <= end - e {
                        ((cell, e), e)
                    } else {
                        ((e, end), cell)
                    };
                    let whole = forced.or(Some(larger));
                    let natural = if larger == cell { forced } else { whole };
                    self.push(grain, cell, end, minus, natural);
                    self.cover(finer, small.0, small.1, !minus, whole);
                    self.cover(finer, small.0, small.1, minus, forced);
                }
                (true, _) => self.cover(finer, cell, end, minus, forced),
                (false, []) if (end - cell) - (b - a) < b - a => {
                    // Mostly inside, and all in one bucket: the whole cell less the rest.
                    self.push(grain, cell, end, minus, forced);
                    self.cover(finer, cell, a, !minus, forced);
                    self.cover(finer, b, end, !minus, forced);
                }
                (false, _) => self.cover(finer, a, b, minus, forced),
            }
            cell = end;
        }
    }
}

/// Where the cells of one grain land: for each stretch of time, the spans that hold it.
/// Spans of one grain can overlap (a cell's smaller side is taken out of one bucket and put
/// into another), so the grain's time is cut at every span boundary.
#[derive(Debug)]
pub struct Placement {
    /// The cut points, ascending; stretch `i` is `[cuts[i], cuts[i + 1])`.
    cuts: Vec<NaiveDateTime>,
    /// Per stretch: `(minus, bucket_of)` of each span holding it.
    held: Vec<Vec<(bool, Option<NaiveDateTime>)>>,
}

impl Placement {
    /// The placement of the spans of `grain` among `spans`.
    pub fn of(spans: &[Span], grain: Grain) -> Self {
        let of_grain: Vec<&Span> = spans.iter().filter(|s| s.grain == grain).collect();
        let mut cuts: Vec<NaiveDateTime> = of_grain.iter().flat_map(|s| [s.from, s.to]).collect();
        cuts.sort();
        cuts.dedup();
        let mut held = vec![Vec::new(); cuts.len().saturating_sub(1)];
        for s in of_grain {
            let i = cuts.partition_point(|c| *c < s.from);
            let j = cuts.partition_point(|c| *c < s.to);
            for stretch in &mut held[i..j] {
                stretch.push((s.minus, s.bucket_of));
            }
        }
        Self { cuts, held }
    }

    /// The time ranges to read, adjacent stretches joined.
    pub fn ranges(&self) -> Vec<(NaiveDateTime, NaiveDateTime)> {
        let mut out: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
        for (i, held) in self.held.iter().enumerate() {
            if held.is_empty() {
                continue;
            }
            let (a, b) = (self.cuts[i], self.cuts[i + 1]);
            match out.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// The spans holding the cell starting `at`: `(minus, bucket_of)` each.
    pub fn holding(&self, at: NaiveDateTime) -> &[(bool, Option<NaiveDateTime>)] {
        let i = self.cuts.partition_point(|c| *c <= at);
        match i.checked_sub(1).and_then(|i| self.held.get(i)) {
            Some(held) => held,
            None => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// March 2026: the 2nd and the 9th are Mondays.
    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn span(grain: Grain, a: NaiveDateTime, b: NaiveDateTime, minus: bool) -> Span {
        Span {
            grain,
            from: a,
            to: b,
            minus,
            bucket_of: None,
        }
    }

    fn moved(mut s: Span, t: NaiveDateTime) -> Span {
        s.bucket_of = Some(t);
        s
    }

    #[test]
    fn utc_week_edges_read_whole_weeks_and_hours_at_the_ends() {
        let edges = [at(2, 0, 0), at(9, 0, 0)];
        let spans = cell_spans(at(1, 16, 15), at(12, 6, 30), &edges);
        assert_eq!(
            spans,
            vec![
                span(Grain::Hour, at(1, 16, 0), at(1, 17, 0), false),
                span(Grain::Quarter, at(1, 16, 0), at(1, 16, 15), true),
                span(Grain::Hour, at(1, 17, 0), at(2, 0, 0), false),
                span(Grain::Week, at(2, 0, 0), at(9, 0, 0), false),
                span(Grain::Day, at(9, 0, 0), at(12, 0, 0), false),
                span(Grain::Hour, at(12, 0, 0), at(12, 6, 0), false),
                span(Grain::Quarter, at(12, 6, 0), at(12, 6, 30), false),
            ]
        );
    }

    #[test]
    fn long_partial_cells_are_the_whole_cell_minus_the_rest() {
        let spans = cell_spans(at(1, 3, 0), at(5, 22, 45), &[at(3, 0, 0)]);
        assert_eq!(
            spans,
            vec![
                span(Grain::Day, at(1, 0, 0), at(2, 0, 0), false),
                span(Grain::Hour, at(1, 0, 0), at(1, 3, 0), true),
                span(Grain::Day, at(2, 0, 0), at(6, 0, 0), false),
                span(Grain::Quarter, at(5, 22, 45), at(5, 23, 0), true),
                span(Grain::Hour, at(5, 23, 0), at(6, 0, 0), true),
            ]
        );
    }

    #[test]
    fn a_local_midnight_inside_a_utc_day_reads_the_day_less_its_smaller_side() {
        // Berlin's midnight at 23:00 UTC on the 4th starts a bucket: the 4th counts in the
        // earlier bucket less its last hour, which is counted in the later one.
        let spans = cell_spans(at(1, 0, 0), at(8, 0, 0), &[at(4, 23, 0)]);
        assert_eq!(
            spans,
            vec![
                span(Grain::Day, at(1, 0, 0), at(5, 0, 0), false),
                moved(
                    span(Grain::Hour, at(4, 23, 0), at(5, 0, 0), true),
                    at(4, 0, 0)
                ),
                span(Grain::Hour, at(4, 23, 0), at(5, 0, 0), false),
                span(Grain::Day, at(5, 0, 0), at(8, 0, 0), false),
            ]
        );
        // New York's midnight at 05:00 UTC: the first five hours are the smaller side.
        let spans = cell_spans(at(1, 0, 0), at(8, 0, 0), &[at(4, 5, 0)]);
        assert_eq!(
            spans[1..4],
            [
                moved(
                    span(Grain::Day, at(4, 0, 0), at(5, 0, 0), false),
                    at(4, 5, 0)
                ),
                moved(
                    span(Grain::Hour, at(4, 0, 0), at(4, 5, 0), true),
                    at(4, 5, 0)
                ),
                span(Grain::Hour, at(4, 0, 0), at(4, 5, 0), false),
            ]
        );
    }

    #[test]
    fn a_local_week_reads_the_utc_week_less_its_last_hour() {
        // Berlin's weeks start on Sundays at 23:00 UTC: each UTC week is read whole.
        let edges = [at(8, 23, 0), at(15, 23, 0)];
        let spans = cell_spans(at(2, 0, 0), at(23, 0, 0), &edges);
        let weeks = spans.iter().filter(|s| s.grain == Grain::Week).count();
        assert_eq!(weeks, 3, "{spans:?}");
        assert!(spans.iter().all(|s| s.grain <= Grain::Hour), "{spans:?}");
    }

    /// Every quarter hour from a week before `from` to a week after `to` is counted exactly
    /// once inside the window, in its own bucket, and not at all outside: summed over the
    /// spans' cells that hold it, each counted in its span's `bucket_of` bucket or its own.
    /// The placement of each grain's cells agrees with the spans.
    fn check(from: NaiveDateTime, to: NaiveDateTime, edges: &[NaiveDateTime]) {
        let spans = cell_spans(from, to, edges);
        let placements: Vec<(Grain, Placement)> = Grain::ALL
            .iter()
            .map(|g| (*g, Placement::of(&spans, *g)))
            .collect();
        let bucket = |t: NaiveDateTime| edges.partition_point(|e| *e <= t);
        let quarter = Grain::Quarter.length();
        let mut q = Grain::Week.floor(from) - Grain::Week.length();
        while q < to + Grain::Week.length() * 2 {
            let mut per_bucket = std::collections::BTreeMap::<usize, i32>::new();
            for (grain, placement) in &placements {
                let cell = grain.floor(q);
                for (minus, bucket_of) in placement.holding(cell) {
                    let counted_in = bucket(bucket_of.unwrap_or(cell));
                    *per_bucket.entry(counted_in).or_default() += if *minus { -1 } else { 1 };
                }
                let read = placement
                    .ranges()
                    .iter()
                    .any(|(a, b)| *a <= cell && cell < *b);
                assert_eq!(read, !placement.holding(cell).is_empty(), "{q} {grain:?}");
            }
            per_bucket.retain(|_, n| *n != 0);
            let expected: Vec<(usize, i32)> = if from <= q && q < to {
                vec![(bucket(q), 1)]
            } else {
                vec![]
            };
            assert_eq!(
                per_bucket.into_iter().collect::<Vec<_>>(),
                expected,
                "{q} in {spans:?}"
            );
            q += quarter;
        }
    }

    #[test]
    fn spans_cover_the_window_exactly_and_count_each_cell_in_its_bucket() {
        let edges = [at(3, 5, 45), at(3, 22, 0), at(6, 0, 0), at(7, 13, 30)];
        check(at(1, 3, 0), at(9, 17, 15), &edges);
        check(at(1, 20, 0), at(9, 2, 15), &edges);
        check(at(3, 1, 0), at(3, 5, 45), &edges);
        check(at(2, 1, 0), at(3, 0, 0), &[]);
        check(at(2, 0, 0), at(4, 0, 0), &[]);
        check(at(2, 0, 0), at(2, 0, 15), &[]);
        check(
            at(1, 6, 30),
            at(29, 6, 30),
            &[at(1, 23, 0), at(8, 23, 0), at(15, 23, 0)],
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_quarter_aligned_window_is_covered_exactly(
            a in 0u32..(10 * 96),
            len in 1u32..(30 * 96),
            cuts in proptest::collection::vec(1u32..(40 * 96), 0..6),
        ) {
            let base = at(1, 0, 0);
            let q = |n: u32| base + Grain::Quarter.length() * n as i32;
            let (from, to) = (q(a), q(a + len));
            let mut edges: Vec<NaiveDateTime> =
                cuts.into_iter().map(q).filter(|e| from < *e && *e < to).collect();
            edges.sort();
            edges.dedup();
            check(from, to, &edges);
        }
    }
}
