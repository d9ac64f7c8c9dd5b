//! The rule checked against linear algebra: whatever the table, no withheld figure with
//! respondents behind it can be solved for from the served ones, and no sum that can be
//! worked out covers fewer than the minimum.

use proptest::prelude::*;

use super::*;

/// One figure of a table as a vector over the finest cells: group × bucket, plus a row for
/// the respondents without the property. Without buckets there is one bucket.
struct Figure {
    mass: u64,
    withheld: bool,
    vector: Vec<f64>,
}

/// Every figure the answer serves or withholds, as vectors over the finest cells: `data`
/// (group × bucket, one bucket without a trend) and `hidden` (per bucket, the respondents
/// without the property).
fn figures(t: &Table, w: &Withheld, data: &[Vec<u64>], hidden: &[u64]) -> (Vec<Figure>, Vec<u64>) {
    let buckets = hidden.len();
    let rows = data.len() + 1;
    let at = |g: usize, b: usize| g * buckets + b;
    let mut finest = vec![0u64; rows * buckets];
    for (g, row) in data.iter().enumerate() {
        for (b, &n) in row.iter().enumerate() {
            finest[at(g, b)] = n;
        }
    }
    for (b, &n) in hidden.iter().enumerate() {
        finest[at(rows - 1, b)] = n;
    }
    let vector = |pick: &dyn Fn(usize, usize) -> bool| -> Vec<f64> {
        (0..rows * buckets)
            .map(|i| f64::from(u8::from(pick(i / buckets, i % buckets))))
            .collect()
    };
    let mut out = vec![Figure {
        mass: t.total,
        withheld: w.total,
        vector: vector(&|_, _| true),
    }];
    for (b, (&n, &wb)) in t.series.iter().zip(&w.series).enumerate() {
        out.push(Figure {
            mass: n,
            withheld: wb,
            vector: vector(&|_, bb| bb == b),
        });
    }
    for (g, (&n, &wg)) in t.groups.iter().zip(&w.groups).enumerate() {
        out.push(Figure {
            mass: n,
            withheld: wg,
            vector: vector(&|gg, _| gg == g),
        });
    }
    for (g, row) in t.cells.iter().enumerate() {
        for (b, &n) in row.iter().enumerate() {
            out.push(Figure {
                mass: n,
                withheld: w.cells[g][b],
                vector: vector(&|gg, bb| gg == g && bb == b),
            });
        }
    }
    (out, finest)
}

/// The rank of `rows` (Gaussian elimination; the entries are small integers).
fn rank(mut rows: Vec<Vec<f64>>) -> usize {
    let width = rows.first().map_or(0, Vec::len);
    let mut r = 0;
    for c in 0..width {
        let Some(p) = (r..rows.len()).find(|&i| rows[i][c].abs() > 1e-9) else {
            continue;
        };
        rows.swap(r, p);
        for i in 0..rows.len() {
            if i != r && rows[i][c].abs() > 1e-9 {
                let f = rows[i][c] / rows[r][c];
                let pivot = rows[r].clone();
                for (x, p) in rows[i].iter_mut().zip(pivot) {
                    *x -= f * p;
                }
            }
        }
        r += 1;
    }
    r
}

/// Whether `v`, restricted to the finest cells that have respondents, is a combination of
/// the served figures (cells without respondents are known to be empty).
fn derivable(served: &[Vec<f64>], v: &[f64], finest: &[u64]) -> bool {
    let keep = |x: &Vec<f64>| -> Vec<f64> {
        x.iter()
            .zip(finest)
            .map(|(a, &n)| if n > 0 { *a } else { 0.0 })
            .collect()
    };
    let base: Vec<Vec<f64>> = served.iter().map(keep).collect();
    let mut with = base.clone();
    with.push(keep(&v.to_vec()));
    rank(base) == rank(with)
}

fn check(
    min: u64,
    t: &Table,
    w: &Withheld,
    data: &[Vec<u64>],
    hidden: &[u64],
) -> Result<(), TestCaseError> {
    let (figs, finest) = figures(t, w, data, hidden);
    for f in &figs {
        prop_assert!(
            f.mass >= min || f.withheld,
            "a figure over {} is served",
            f.mass
        );
    }
    let served: Vec<Vec<f64>> = figs
        .iter()
        .filter(|f| !f.withheld)
        .map(|f| f.vector.clone())
        .collect();
    // The figures under the minimum, and the respondents without the property (per bucket
    // and overall), which no call serves.
    let width = finest.len();
    let buckets = hidden.len();
    let mut secret: Vec<(u64, Vec<f64>)> = figs
        .iter()
        .filter(|f| f.withheld)
        .map(|f| (f.mass, f.vector.clone()))
        .collect();
    let hidden_row = |b: Option<usize>| -> Vec<f64> {
        (0..width)
            .map(|i| {
                let on = i >= width - buckets && b.is_none_or(|b| i == width - buckets + b);
                f64::from(u8::from(on))
            })
            .collect()
    };
    for (b, &n) in hidden.iter().enumerate() {
        secret.push((n, hidden_row(Some(b))));
    }
    secret.push((hidden.iter().sum(), hidden_row(None)));
    for (mass, vector) in secret.iter().filter(|(m, _)| *m > 0 && *m < min) {
        prop_assert!(
            !derivable(&served, vector, &finest),
            "a figure over {mass} respondents can be worked out: {t:?} {w:?}"
        );
    }
    Ok(())
}

/// A table: groups × buckets of respondents, plus those without the property per bucket.
fn table(cells: Vec<Vec<u64>>, hidden: Vec<u64>, with_groups: bool, with_series: bool) -> Table {
    let buckets = hidden.len();
    let series: Vec<u64> = (0..buckets)
        .map(|b| cells.iter().map(|r| r[b]).sum::<u64>() + hidden[b])
        .collect();
    let groups: Vec<u64> = cells.iter().map(|r| r.iter().sum()).collect();
    let total = series.iter().sum();
    Table {
        total,
        series: if with_series { series } else { Vec::new() },
        groups: if with_groups { groups } else { Vec::new() },
        cells: if with_groups && with_series {
            cells
        } else {
            Vec::new()
        },
    }
}

fn arb_table() -> impl Strategy<Value = (u64, Vec<Vec<u64>>, Vec<u64>)> {
    (1usize..6, 1usize..5, 3u64..7).prop_flat_map(|(groups, buckets, min)| {
        (
            Just(min),
            proptest::collection::vec(proptest::collection::vec(0u64..9, buckets), groups),
            proptest::collection::vec(prop_oneof![3 => Just(0u64), 1 => 0u64..4], buckets),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn no_withheld_figure_can_be_worked_out_from_one_answer((min, cells, hidden) in arb_table()) {
        for (g, s) in [(true, false), (false, true), (true, true)] {
            let t = table(cells.clone(), hidden.clone(), g, s);
            let w = withhold(min, &t, None);
            // Without buckets the finest cells are the groups: one bucket each.
            let (data, hidden_of) = if s {
                (cells.clone(), hidden.clone())
            } else {
                (cells.iter().map(|r| vec![r.iter().sum()]).collect(), vec![hidden.iter().sum()])
            };
            check(min, &t, &w, &data, &hidden_of)?;
        }
    }

    #[test]
    fn a_trend_by_group_never_serves_what_the_coarser_calls_withhold((min, cells, hidden) in arb_table()) {
        let both = withhold(min, &table(cells.clone(), hidden.clone(), true, true), None);
        let groups = withhold(min, &table(cells.clone(), hidden.clone(), true, false), None);
        let series = withhold(min, &table(cells, hidden, false, true), None);
        // The finer answer serves nothing its coarser calls withhold.
        for (fine, coarse) in both.groups.iter().zip(&groups.groups) {
            prop_assert!(*fine || !*coarse);
        }
        for (fine, coarse) in both.series.iter().zip(&series.series) {
            prop_assert!(*fine || !*coarse);
        }
        prop_assert_eq!(groups.total, series.total);
    }

    #[test]
    fn everything_the_calls_serve_together_still_hides_each_withheld_figure((min, cells, hidden) in arb_table()) {
        // The answers with groups, with buckets, with both and with neither, taken together
        // (a filter on one group answers that group's row of the same table).
        let both_t = table(cells.clone(), hidden.clone(), true, true);
        let w = withhold(min, &both_t, None);
        check(min, &both_t, &w, &cells, &hidden)?;
    }
}

#[test]
fn a_small_group_withholds_the_next_smallest_too() {
    let t = Table {
        total: 30,
        groups: vec![2, 8, 20],
        ..Table::default()
    };
    let w = withhold(5, &t, None);
    assert_eq!(w.groups, vec![true, true, false]);
    assert!(!w.total);
}

#[test]
fn respondents_without_the_property_protect_a_small_group_by_themselves() {
    let t = Table {
        total: 30,
        groups: vec![2, 8, 10],
        ..Table::default()
    };
    // 10 respondents carry no value: total − served groups covers 12 people, not 2.
    let w = withhold(5, &t, None);
    assert_eq!(w.groups, vec![true, false, false]);
}

#[test]
fn a_total_under_the_minimum_withholds_everything_under_it() {
    let t = Table {
        total: 4,
        series: vec![1, 3],
        groups: vec![4],
        cells: vec![vec![1, 3]],
    };
    let w = withhold(5, &t, None);
    assert!(w.total && w.series.iter().all(|x| *x) && w.groups[0]);
    assert!(w.cells[0].iter().all(|x| *x));
}

#[test]
fn a_group_served_whole_may_not_be_split_into_cells_that_give_away_a_withheld_one() {
    // Two buckets; group a is 6 + 1: the 1 is withheld, and so must the 6 be, or a − 6 = 1.
    let t = Table {
        total: 40,
        series: vec![20, 20],
        groups: vec![7, 33],
        cells: vec![vec![6, 1], vec![14, 19]],
    };
    let w = withhold(5, &t, None);
    assert_eq!(w.cells[0], vec![true, true]);
    let (figs, finest) = figures(&t, &w, &t.cells, &[0, 0]);
    let served: Vec<Vec<f64>> = figs
        .iter()
        .filter(|f| !f.withheld)
        .map(|f| f.vector.clone())
        .collect();
    for f in figs
        .iter()
        .filter(|f| f.withheld && f.mass > 0 && f.mass < 5)
    {
        assert!(!derivable(&served, &f.vector, &finest));
    }
}
