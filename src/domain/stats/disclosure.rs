//! Which figures of an anonymous survey's stats answer are withheld, so that no figure, and
//! no sum or difference of the figures served, scores fewer than the minimum of respondents.
//!
//! An answer is a table: the total, the trend buckets (`series`), the groups, and each
//! group's buckets (`cells`). Its figures are tied by equations: the total is the sum of the
//! groups (plus the respondents without the property, never served), and of the buckets; a
//! group is the sum of its cells; a bucket the sum of its groups' cells (plus, again, those
//! without the property). Each figure appears in at most two equations, so the withheld
//! figures form a graph whose nodes are equations: a withheld figure can be solved for exactly
//! when it is a bridge of that graph (on no cycle), and an equation whose sum is served reveals
//! the sum of its withheld members.
//!
//! The rule: a figure over fewer than `min` respondents is withheld (primary); then, until
//! none is left, a figure over fewer than `min` respondents that can be solved for, or an
//! equation whose withheld members sum to fewer than `min` respondents, withholds its
//! smallest served sibling (secondary). What it guarantees: from the figures of one answer,
//! no figure over fewer than `min` respondents can be worked out, and no equation gives the
//! sum of fewer than `min`. A figure withheld only to protect another may sometimes be worked
//! out; it counts at least `min` respondents. Figures decided by a coarser answer (the groups, the buckets) are decided
//! first and kept when the finer one (each group's buckets) is decided, so an answer with
//! `interval` serves the groups and buckets that the same calls without it serve, unless
//! its cells cannot protect a small figure by themselves: then it withholds more (never less).

/// The respondents behind each figure of one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Over the whole window.
    pub total: u64,
    /// Per trend bucket (empty without `interval`).
    pub series: Vec<u64>,
    /// Per group (empty without `group_by`).
    pub groups: Vec<u64>,
    /// Per group, per bucket (empty unless both).
    pub cells: Vec<Vec<u64>>,
}

/// Which figures of a [`Table`] are withheld.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withheld {
    /// The total.
    pub total: bool,
    /// Each bucket.
    pub series: Vec<bool>,
    /// Each group.
    pub groups: Vec<bool>,
    /// Each group's buckets.
    pub cells: Vec<Vec<bool>>,
}

impl Withheld {
    /// Nothing withheld, shaped like `t`.
    pub fn none(t: &Table) -> Self {
        Self {
            total: false,
            series: vec![false; t.series.len()],
            groups: vec![false; t.groups.len()],
            cells: t.cells.iter().map(|row| vec![false; row.len()]).collect(),
        }
    }

    /// Everything withheld, shaped like `t`.
    pub fn all(t: &Table) -> Self {
        Self {
            total: true,
            series: vec![true; t.series.len()],
            groups: vec![true; t.groups.len()],
            cells: t.cells.iter().map(|row| vec![true; row.len()]).collect(),
        }
    }

    /// Whether any figure is withheld.
    pub fn any(&self) -> bool {
        self.total
            || self.series.iter().any(|w| *w)
            || self.groups.iter().any(|w| *w)
            || self.cells.iter().flatten().any(|w| *w)
    }
}

/// One figure of the system: its respondents, whether it is withheld, and whether this stage
/// may still withhold it.
#[derive(Debug, Clone, Copy)]
struct Var {
    mass: u64,
    withheld: bool,
    candidate: bool,
}

/// `margin = Σ members`.
#[derive(Debug, Clone)]
struct Equation {
    margin: usize,
    members: Vec<usize>,
}

/// The figures and equations of one stage.
#[derive(Debug, Default)]
struct System {
    vars: Vec<Var>,
    equations: Vec<Equation>,
}

impl System {
    fn var(&mut self, mass: u64, withheld: bool, candidate: bool) -> usize {
        self.vars.push(Var {
            mass,
            withheld,
            candidate,
        });
        self.vars.len() - 1
    }

    /// A figure never served (the respondents without the property): always unknown.
    fn hidden(&mut self, mass: u64) -> usize {
        self.var(mass, true, false)
    }

    /// Unknown and worth protecting: withheld with respondents behind it (the respondent
    /// count is served even when withheld, so a withheld empty figure hides nothing).
    fn unknown(&self, v: usize) -> bool {
        self.vars[v].withheld && self.vars[v].mass > 0
    }

    /// Withholds secondary figures until no withheld figure can be solved for and no
    /// equation reveals a sum over fewer than `min` respondents. Each round withholds one
    /// more figure, so it ends within `vars.len()` rounds. When no served candidate is left
    /// to withhold, every candidate is withheld and it answers `false`.
    fn settle(&mut self, min: u64) -> bool {
        for _ in 0..=self.vars.len() {
            let Some(equation) = self.violated(min) else {
                return true;
            };
            let pick = equation
                .iter()
                .filter_map(|&i| self.equations.get(i))
                .flat_map(|e| e.members.iter().chain(std::iter::once(&e.margin)))
                .copied()
                .filter(|&v| !self.vars[v].withheld && self.vars[v].candidate)
                .min_by_key(|&v| (self.vars[v].mass == 0, self.vars[v].mass));
            match pick {
                Some(v) => self.vars[v].withheld = true,
                None => {
                    // Nothing left to withhold in that equation: withhold every candidate.
                    for v in self.vars.iter_mut().filter(|v| v.candidate) {
                        v.withheld = true;
                    }
                    return self.violated(min).is_none();
                }
            }
        }
        self.violated(min).is_none()
    }

    /// The equations where something is disclosed: one that reveals the sum of its withheld
    /// members over fewer than `min` respondents, or the ends of a figure over fewer than
    /// `min` respondents that can be solved for (a bridge).
    fn violated(&self, min: u64) -> Option<Vec<usize>> {
        for (i, e) in self.equations.iter().enumerate() {
            if self.unknown(e.margin) {
                continue;
            }
            let mass: u64 = e
                .members
                .iter()
                .filter(|&&v| self.unknown(v))
                .map(|&v| self.vars[v].mass)
                .sum();
            if mass > 0 && mass < min {
                return Some(vec![i]);
            }
        }
        self.bridge_end(min)
    }

    /// The equations at the ends of a withheld figure over fewer than `min` respondents that
    /// lies on no cycle of the graph whose nodes are the equations (plus one free node for
    /// figures in fewer than two) and whose edges are the unknown figures.
    fn bridge_end(&self, min: u64) -> Option<Vec<usize>> {
        let free = self.equations.len();
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); self.vars.len()];
        for (i, e) in self.equations.iter().enumerate() {
            for &v in e.members.iter().chain(std::iter::once(&e.margin)) {
                ends[v].push(i);
            }
        }
        let mut adjacency: Vec<Vec<(usize, usize)>> = vec![Vec::new(); free + 1];
        for (v, at) in ends.iter().enumerate() {
            if !self.unknown(v) || at.is_empty() {
                continue;
            }
            let (a, b) = (at[0], at.get(1).copied().unwrap_or(free));
            adjacency[a].push((b, v));
            adjacency[b].push((a, v));
        }
        let small = bridges(&adjacency)
            .into_iter()
            .find(|&v| self.vars[v].mass < min)?;
        ends.get(small).cloned()
    }
}

/// The bridges of the multigraph `adjacency` (`(neighbour, edge)` lists): Tarjan's low-link,
/// iterative so a large table cannot exhaust the stack.
fn bridges(adjacency: &[Vec<(usize, usize)>]) -> Vec<usize> {
    let n = adjacency.len();
    let (mut order, mut low) = (vec![usize::MAX; n], vec![0; n]);
    let (mut clock, mut found) = (0, Vec::new());
    for root in 0..n {
        if order[root] != usize::MAX {
            continue;
        }
        order[root] = clock;
        low[root] = clock;
        clock += 1;
        // (node, the edge it was reached by, next neighbour to look at)
        let mut stack = vec![(root, usize::MAX, 0)];
        while let Some(&mut (node, via, ref mut next)) = stack.last_mut() {
            if let Some(&(to, edge)) = adjacency[node].get(*next) {
                *next += 1;
                if edge == via {
                    continue;
                }
                if order[to] == usize::MAX {
                    order[to] = clock;
                    low[to] = clock;
                    clock += 1;
                    stack.push((to, edge, 0));
                } else {
                    low[node] = low[node].min(order[to]);
                }
            } else {
                stack.pop();
                if let Some(&(parent, _, _)) = stack.last() {
                    low[parent] = low[parent].min(low[node]);
                    if low[node] > order[parent] {
                        found.push(via);
                    }
                }
            }
        }
    }
    found
}

/// What an anonymous survey's list of answers may show, given how many answers and how many
/// comments it holds: `None` (refused) under `min` answers, else whether the comments are
/// shown (only with at least `min` of them, so none is the one comment of a small team).
pub fn answer_list(min: u64, answers: u64, comments: u64) -> Option<bool> {
    (answers >= min).then_some(comments >= min)
}

/// Decides which figures of `t` are withheld, given the figures some other answer forces
/// withheld (`forced`, shaped like `t`, or `None`), with `min` respondents per figure.
pub fn withhold(min: u64, t: &Table, forced: Option<&Withheld>) -> Withheld {
    let mut out = forced.cloned().unwrap_or_else(|| Withheld::none(t));
    out.total |= t.total < min;
    // Stage 1: the groups against the total, and the buckets against the total.
    out.groups = settle_1d(min, t.total, out.total, &t.groups, &out.groups);
    out.series = settle_1d(min, t.total, out.total, &t.series, &out.series);
    // Stage 2: each group's buckets, the margins kept as decided if the cells alone can
    // protect them; if not, the margins too.
    if !t.cells.is_empty() {
        out = settle_cells(min, t, &out, false).unwrap_or_else(|| {
            settle_cells(min, t, &out, true).unwrap_or_else(|| Withheld::all(t))
        });
    }
    out
}

/// Decides the members of `margin = Σ members + (those without the property)`.
fn settle_1d(min: u64, margin: u64, margin_out: bool, members: &[u64], pre: &[bool]) -> Vec<bool> {
    let mut s = System::default();
    let m = s.var(margin, margin_out, false);
    let vars: Vec<usize> = members
        .iter()
        .zip(pre)
        .map(|(&n, &w)| s.var(n, w || n < min, true))
        .collect();
    let rest = s.hidden(margin.saturating_sub(members.iter().sum()));
    let mut all = vars.clone();
    all.push(rest);
    s.equations.push(Equation {
        margin: m,
        members: all,
    });
    // A single equation always settles: withholding every member leaves none alone.
    s.settle(min);
    vars.iter().map(|&v| s.vars[v].withheld).collect()
}

/// Decides each group's buckets, with the margins as decided (and, when `margins_too`, free
/// to be withheld as well). `None` when that cannot protect every small figure.
fn settle_cells(min: u64, t: &Table, out: &Withheld, margins_too: bool) -> Option<Withheld> {
    let mut s = System::default();
    let total = s.var(t.total, out.total, margins_too);
    let series: Vec<usize> = t
        .series
        .iter()
        .zip(&out.series)
        .map(|(&n, &w)| s.var(n, w, margins_too))
        .collect();
    let groups: Vec<usize> = t
        .groups
        .iter()
        .zip(&out.groups)
        .map(|(&n, &w)| s.var(n, w, margins_too))
        .collect();
    let cells: Vec<Vec<usize>> = t
        .cells
        .iter()
        .enumerate()
        .map(|(g, row)| {
            row.iter()
                .enumerate()
                .map(|(b, &n)| {
                    let pre = out.cells.get(g).and_then(|r| r.get(b)).copied();
                    s.var(n, pre.unwrap_or(false) || n < min, true)
                })
                .collect()
        })
        .collect();
    // Those without the property: their total, and their part of each bucket.
    let rest = s.hidden(t.total.saturating_sub(t.groups.iter().sum()));
    let rest_cells: Vec<usize> = (0..t.series.len())
        .map(|b| {
            let grouped: u64 = t.cells.iter().filter_map(|row| row.get(b)).sum();
            s.hidden(t.series[b].saturating_sub(grouped))
        })
        .collect();
    let mut groups_eq: Vec<usize> = groups.clone();
    groups_eq.push(rest);
    s.equations.push(Equation {
        margin: total,
        members: groups_eq,
    });
    s.equations.push(Equation {
        margin: total,
        members: series.clone(),
    });
    for (g, row) in cells.iter().enumerate() {
        s.equations.push(Equation {
            margin: groups[g],
            members: row.clone(),
        });
    }
    for (b, &bucket) in series.iter().enumerate() {
        let mut members: Vec<usize> = cells.iter().filter_map(|row| row.get(b)).copied().collect();
        members.push(rest_cells[b]);
        s.equations.push(Equation {
            margin: bucket,
            members,
        });
    }
    s.equations.push(Equation {
        margin: rest,
        members: rest_cells,
    });
    if !s.settle(min) {
        return None;
    }
    let of = |v: &usize| s.vars[*v].withheld;
    Some(Withheld {
        total: of(&total),
        series: series.iter().map(of).collect(),
        groups: groups.iter().map(of).collect(),
        cells: cells
            .iter()
            .map(|row| row.iter().map(of).collect())
            .collect(),
    })
}

#[cfg(test)]
mod tests;
