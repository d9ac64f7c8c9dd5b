//! Which rollup grain answers which part of a window, so that no cell straddles a bucket.

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
}

/// Splits `[from, to)` (on quarter hours) into runs of one grain such that no cell straddles
/// a bucket edge: whole UTC days where no edge falls inside the day, quarter hours elsewhere
/// (every zone's local midnight is on a quarter hour). With UTC buckets that is quarter
/// hours at the ends and days between; in another zone, the days holding a local midnight
/// that starts a bucket are read by the quarter hour.
///
/// A partial day at either end is read as its whole day cell minus the quarter hours outside
/// the window when those are fewer: "the last 90 days until now" then reads the current day
/// as one cell minus the (empty) rest of today, not as every quarter hour since midnight.
pub fn cell_spans(from: NaiveDateTime, to: NaiveDateTime, edges: &[NaiveDateTime]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut push = |grain: Grain, a: NaiveDateTime, b: NaiveDateTime, minus: bool| {
        if a >= b {
            return;
        }
        match spans.last_mut() {
            Some(last) if last.grain == grain && last.minus == minus && last.to == a => last.to = b,
            _ => spans.push(Span {
                grain,
                from: a,
                to: b,
                minus,
            }),
        }
    };
    let day = Grain::Day.length();
    // Whether a bucket starts strictly inside the day starting at `d` (so it cannot be read
    // as one cell).
    let straddled = |d: NaiveDateTime| {
        let i = edges.partition_point(|e| *e <= d);
        edges.get(i).is_some_and(|e| *e < d + day)
    };
    let (d_from, d_to) = (Grain::Day.ceil(from), Grain::Day.floor(to));
    if d_from > d_to {
        // Within one day.
        push(Grain::Quarter, from, to, false);
        return spans;
    }
    // The head: [from, d_from), part of the day before d_from.
    let head_day = d_from - day;
    if from < d_from && !straddled(head_day) && from - head_day < d_from - from {
        push(Grain::Day, head_day, d_from, false);
        push(Grain::Quarter, head_day, from, true);
    } else {
        push(Grain::Quarter, from, d_from, false);
    }
    let mut d = d_from;
    while d < d_to {
        let grain = if straddled(d) {
            Grain::Quarter
        } else {
            Grain::Day
        };
        push(grain, d, d + day, false);
        d += day;
    }
    // The tail: [d_to, to), part of the day starting at d_to.
    if to > d_to && !straddled(d_to) && d_to + day - to < to - d_to {
        push(Grain::Day, d_to, d_to + day, false);
        push(Grain::Quarter, to, d_to + day, true);
    } else {
        push(Grain::Quarter, d_to, to, false);
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
    fn a_local_midnight_inside_a_utc_day_makes_that_day_quarter_hours() {
        // Berlin's midnight at 23:00 UTC on the 4th starts a bucket.
        let edges = [at(4, 23, 0)];
        let spans = cell_spans(at(1, 0, 0), at(8, 0, 0), &edges);
        assert_eq!(
            spans,
            vec![
                span(Grain::Day, at(1, 0, 0), at(4, 0, 0), false),
                span(Grain::Quarter, at(4, 0, 0), at(5, 0, 0), false),
                span(Grain::Day, at(5, 0, 0), at(8, 0, 0), false),
            ]
        );
    }

    /// Every quarter hour from a day before `from` to a day after `to` is counted exactly
    /// once inside the window and not at all outside, and no cell straddles an edge.
    fn check(from: NaiveDateTime, to: NaiveDateTime, edges: &[NaiveDateTime]) {
        let spans = cell_spans(from, to, edges);
        let quarter = Grain::Quarter.length();
        let mut q = Grain::Day.floor(from) - Grain::Day.length();
        while q < to + Grain::Day.length() * 2 {
            let count: i32 = spans
                .iter()
                .filter(|s| s.from <= q && q < s.to)
                .map(|s| if s.minus { -1 } else { 1 })
                .sum();
            assert_eq!(count, i32::from(from <= q && q < to), "{q} in {spans:?}");
            q += quarter;
        }
        for s in spans {
            let mut cell = s.from;
            while cell < s.to {
                let end = cell + s.grain.length();
                assert!(edges.iter().all(|e| !(cell < *e && *e < end)), "{cell}");
                cell = end;
            }
        }
    }

    #[test]
    fn spans_cover_the_window_exactly_and_no_cell_straddles_an_edge() {
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
