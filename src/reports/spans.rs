//! Which rollup grain answers which part of a window, so that no cell straddles a bucket.

use chrono::NaiveDateTime;

use crate::db::rollups::Grain;

/// Splits `[from, to)` (on quarter hours) into runs of one grain such that no cell straddles
/// a bucket edge: whole UTC days where no edge falls inside the day, quarter hours elsewhere
/// (every zone's local midnight is on a quarter hour). With UTC buckets that is quarter
/// hours at the ends and days between; in another zone, the days holding a local midnight
/// that starts a bucket are read by the quarter hour.
pub fn cell_spans(
    from: NaiveDateTime,
    to: NaiveDateTime,
    edges: &[NaiveDateTime],
) -> Vec<(Grain, NaiveDateTime, NaiveDateTime)> {
    let mut spans: Vec<(Grain, NaiveDateTime, NaiveDateTime)> = Vec::new();
    let mut push = |grain: Grain, a: NaiveDateTime, b: NaiveDateTime| {
        if a >= b {
            return;
        }
        match spans.last_mut() {
            Some((g, _, end)) if *g == grain && *end == a => *end = b,
            _ => spans.push((grain, a, b)),
        }
    };
    let (d_from, d_to) = (Grain::Day.ceil(from), Grain::Day.floor(to));
    if d_from >= d_to {
        push(Grain::Quarter, from, to);
        return spans;
    }
    push(Grain::Quarter, from, d_from);
    let mut day = d_from;
    while day < d_to {
        let next = day + Grain::Day.length();
        let i = edges.partition_point(|e| *e <= day);
        let straddled = edges.get(i).is_some_and(|e| *e < next);
        let grain = if straddled {
            Grain::Quarter
        } else {
            Grain::Day
        };
        push(grain, day, next);
        day = next;
    }
    push(Grain::Quarter, d_to, to);
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

    #[test]
    fn utc_edges_give_quarters_at_the_ends_and_days_between() {
        let edges = [at(2, 0, 0), at(9, 0, 0)];
        let spans = cell_spans(at(1, 10, 15), at(12, 6, 30), &edges);
        assert_eq!(
            spans,
            vec![
                (Grain::Quarter, at(1, 10, 15), at(2, 0, 0)),
                (Grain::Day, at(2, 0, 0), at(12, 0, 0)),
                (Grain::Quarter, at(12, 0, 0), at(12, 6, 30)),
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
                (Grain::Day, at(1, 0, 0), at(4, 0, 0)),
                (Grain::Quarter, at(4, 0, 0), at(5, 0, 0)),
                (Grain::Day, at(5, 0, 0), at(8, 0, 0)),
            ]
        );
    }

    #[test]
    fn spans_cover_the_window_exactly_and_no_cell_straddles_an_edge() {
        let edges = [at(3, 5, 45), at(3, 22, 0), at(6, 0, 0), at(7, 13, 30)];
        let (from, to) = (at(1, 3, 0), at(9, 17, 15));
        let spans = cell_spans(from, to, &edges);
        assert_eq!(spans.first().unwrap().1, from);
        assert_eq!(spans.last().unwrap().2, to);
        for w in spans.windows(2) {
            assert_eq!(w[0].2, w[1].1);
        }
        for (grain, a, b) in spans {
            let mut cell = a;
            while cell < b {
                let end = cell + grain.length();
                assert!(edges.iter().all(|e| !(cell < *e && *e < end)), "{cell}");
                cell = end;
            }
        }
    }
}
