//! Which rollup grain answers which part of a window, so that every cell is counted in the
//! bucket it belongs to.

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
    /// Whether its cells are subtracted (the rest of a whole day read as a day cell).
    pub minus: bool,
    /// Count its cells in the bucket holding this instant instead of their own: a day cell
    /// that straddles a bucket edge, and the quarter hours that correct it, are counted in
    /// the bucket of the day's larger side.
    pub bucket_of: Option<NaiveDateTime>,
}

/// Splits `[from, to)` (on quarter hours) into runs of one grain, each counted in the right
/// bucket: whole UTC days where no edge falls inside the day, quarter hours at the ends. A
/// day holding one bucket edge (a local midnight of another zone: every zone's is on a
/// quarter hour) is read as its day cell, counted in the bucket of its larger side, minus
/// the quarter hours of its smaller side, which are then added to their own bucket: 1 + 2×4
/// cells for Berlin's 23:00 UTC midnight instead of 96 quarter hours. A day holding two
/// edges (a DST change near midnight UTC) is read by the quarter hour.
///
/// A partial day at either end is read as its whole day cell minus the quarter hours outside
/// the window when those are fewer: "the last 90 days until now" then reads the current day
/// as one cell minus the (empty) rest of today, not as every quarter hour since midnight.
pub fn cell_spans(from: NaiveDateTime, to: NaiveDateTime, edges: &[NaiveDateTime]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut push = |grain: Grain,
                    a: NaiveDateTime,
                    b: NaiveDateTime,
                    minus: bool,
                    bucket_of: Option<NaiveDateTime>| {
        if a >= b {
            return;
        }
        match spans.last_mut() {
            Some(last)
                if last.grain == grain
                    && last.minus == minus
                    && last.bucket_of == bucket_of
                    && last.to == a =>
            {
                last.to = b
            }
            _ => spans.push(Span {
                grain,
                from: a,
                to: b,
                minus,
                bucket_of,
            }),
        }
    };
    let day = Grain::Day.length();
    // The bucket edges strictly inside the day starting at `d`.
    let inside = |d: NaiveDateTime| {
        let i = edges.partition_point(|e| *e <= d);
        let j = edges.partition_point(|e| *e < d + day);
        &edges[i..j.max(i)]
    };
    let straddled = |d: NaiveDateTime| !inside(d).is_empty();
    let (d_from, d_to) = (Grain::Day.ceil(from), Grain::Day.floor(to));
    if d_from > d_to {
        // Within one day.
        push(Grain::Quarter, from, to, false, None);
        return spans;
    }
    // The head: [from, d_from), part of the day before d_from.
    let head_day = d_from - day;
    if from < d_from && !straddled(head_day) && from - head_day < d_from - from {
        push(Grain::Day, head_day, d_from, false, None);
        push(Grain::Quarter, head_day, from, true, None);
    } else {
        push(Grain::Quarter, from, d_from, false, None);
    }
    let mut d = d_from;
    while d < d_to {
        match *inside(d) {
            [] => push(Grain::Day, d, d + day, false, None),
            [e] if e - d <= d + day - e => {
                // The smaller side first: [d, e) as itself; the day in e's bucket, less it.
                push(Grain::Quarter, d, e, false, None);
                push(Grain::Day, d, d + day, false, Some(e));
                push(Grain::Quarter, d, e, true, Some(e));
            }
            [e] => {
                push(Grain::Day, d, d + day, false, None);
                push(Grain::Quarter, e, d + day, true, Some(d));
                push(Grain::Quarter, e, d + day, false, None);
            }
            _ => push(Grain::Quarter, d, d + day, false, None),
        }
        d += day;
    }
    // The tail: [d_to, to), part of the day starting at d_to.
    if to > d_to && !straddled(d_to) && d_to + day - to < to - d_to {
        push(Grain::Day, d_to, d_to + day, false, None);
        push(Grain::Quarter, to, d_to + day, true, None);
    } else {
        push(Grain::Quarter, d_to, to, false, None);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

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

    #[test]
    fn utc_edges_give_quarters_at_short_ends_and_days_between() {
        let edges = [at(2, 0, 0), at(9, 0, 0)];
        let spans = cell_spans(at(1, 16, 15), at(12, 6, 30), &edges);
        assert_eq!(
            spans,
            vec![
                span(Grain::Quarter, at(1, 16, 15), at(2, 0, 0), false),
                span(Grain::Day, at(2, 0, 0), at(12, 0, 0), false),
                span(Grain::Quarter, at(12, 0, 0), at(12, 6, 30), false),
            ]
        );
    }

    #[test]
    fn long_partial_days_are_their_day_cell_minus_the_rest() {
        let spans = cell_spans(at(1, 3, 0), at(5, 22, 45), &[at(3, 0, 0)]);
        assert_eq!(
            spans,
            vec![
                span(Grain::Day, at(1, 0, 0), at(2, 0, 0), false),
                span(Grain::Quarter, at(1, 0, 0), at(1, 3, 0), true),
                span(Grain::Day, at(2, 0, 0), at(6, 0, 0), false),
                span(Grain::Quarter, at(5, 22, 45), at(6, 0, 0), true),
            ]
        );
    }

    #[test]
    fn a_local_midnight_inside_a_utc_day_reads_the_day_less_its_smaller_side() {
        // Berlin's midnight at 23:00 UTC on the 4th starts a bucket: the 4th counts in the
        // earlier bucket less its last hour, which is counted in the later one.
        let edges = [at(4, 23, 0)];
        let spans = cell_spans(at(1, 0, 0), at(8, 0, 0), &edges);
        let moved = |mut s: Span, t| {
            s.bucket_of = Some(t);
            s
        };
        assert_eq!(
            spans,
            vec![
                span(Grain::Day, at(1, 0, 0), at(5, 0, 0), false),
                moved(
                    span(Grain::Quarter, at(4, 23, 0), at(5, 0, 0), true),
                    at(4, 0, 0)
                ),
                span(Grain::Quarter, at(4, 23, 0), at(5, 0, 0), false),
                span(Grain::Day, at(5, 0, 0), at(8, 0, 0), false),
            ]
        );
        // New York's midnight at 05:00 UTC: the first five hours are the smaller side.
        let spans = cell_spans(at(1, 0, 0), at(8, 0, 0), &[at(4, 5, 0)]);
        assert_eq!(
            spans[1..4],
            [
                span(Grain::Quarter, at(4, 0, 0), at(4, 5, 0), false),
                moved(
                    span(Grain::Day, at(4, 0, 0), at(5, 0, 0), false),
                    at(4, 5, 0)
                ),
                moved(
                    span(Grain::Quarter, at(4, 0, 0), at(4, 5, 0), true),
                    at(4, 5, 0)
                ),
            ]
        );
    }

    /// Every quarter hour from a day before `from` to a day after `to` is counted exactly
    /// once inside the window, in its own bucket, and not at all outside: summed over the
    /// spans' cells that hold it, each counted in its span's `bucket_of` bucket or its own.
    fn check(from: NaiveDateTime, to: NaiveDateTime, edges: &[NaiveDateTime]) {
        let spans = cell_spans(from, to, edges);
        let bucket = |t: NaiveDateTime| edges.partition_point(|e| *e <= t);
        let quarter = Grain::Quarter.length();
        let mut q = Grain::Day.floor(from) - Grain::Day.length();
        while q < to + Grain::Day.length() * 2 {
            let mut per_bucket = std::collections::BTreeMap::<usize, i32>::new();
            for s in spans.iter().filter(|s| s.from <= q && q < s.to) {
                // The cell of the span that holds q starts at the span's start plus whole cells.
                let cells = (q - s.from).num_minutes() / s.grain.length().num_minutes();
                let cell = s.from + s.grain.length() * i32::try_from(cells).unwrap();
                let counted_in = bucket(s.bucket_of.unwrap_or(cell));
                *per_bucket.entry(counted_in).or_default() += if s.minus { -1 } else { 1 };
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
    }

    proptest::proptest! {
        #[test]
        fn any_quarter_aligned_window_is_covered_exactly(
            a in 0u32..(8 * 96), len in 1u32..(6 * 96), cuts in proptest::collection::vec(1u32..(14 * 96), 0..4)
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
