//! Stats of anonymous surveys: a report with the figures the disclosure rule withholds. A
//! filter is answered as its group of the call grouped by that property, so the two calls
//! agree; a workspace-wide answer also withholds what would give away a figure that one
//! anonymous survey's own answer withholds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Report, Request};
use crate::db::AnyConnection;
use crate::domain::ids::SurveyId;
use crate::domain::stats::disclosure::{self, Table, Withheld};
use crate::domain::stats::tally::Tally;
use crate::domain::Invalid;
use crate::error::ApiError;

/// The smallest `min_group_size` a workspace may set.
pub const MIN_GROUP_FLOOR: u64 = 3;

/// The default `min_group_size`.
pub const DEFAULT_MIN_GROUP: u64 = 5;

/// For an anonymous survey's answers (list, export, one answer): `None` when the survey is
/// not anonymous; `Some(comments)` when they may be shown, comments only if `comments`;
/// refused (409) while the survey holds fewer than the workspace's minimum of answers.
pub fn answers_shown(
    conn: &mut AnyConnection,
    survey: &crate::db::surveys::Survey,
) -> Result<Option<bool>, ApiError> {
    if !survey.anonymous {
        return Ok(None);
    }
    let min = crate::db::workspaces::settings(conn, &survey.workspace_id)?.min_group_size;
    let min = u64::try_from(min).unwrap_or(DEFAULT_MIN_GROUP);
    let (answers, comments) = crate::db::responses::counts(conn, &survey.id)?;
    let n = |x: i64| u64::try_from(x).unwrap_or(0);
    disclosure::answer_list(min, n(answers), n(comments))
        .map(Some)
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "this survey is anonymous and has fewer than {min} answers (the workspace's \
                 min_group_size): its answers are withheld until it has more"
            ))
        })
}

/// How a request is protected.
#[derive(Debug, Clone)]
pub struct Protection {
    /// No score over fewer respondents than this.
    pub min: u64,
    /// The anonymous surveys among the request's.
    pub anonymous: Vec<SurveyId>,
}

/// The protection a report over `surveys` (of one workspace) needs: `None` when none of them
/// is anonymous.
pub fn protection(
    conn: &mut AnyConnection,
    surveys: &[crate::db::surveys::Survey],
) -> Result<Option<Protection>, ApiError> {
    let anonymous: Vec<SurveyId> = surveys
        .iter()
        .filter(|s| s.anonymous)
        .map(|s| s.id.clone())
        .collect();
    let Some(first) = surveys.first().filter(|_| !anonymous.is_empty()) else {
        return Ok(None);
    };
    let min = crate::db::workspaces::settings(conn, &first.workspace_id)?.min_group_size;
    Ok(Some(Protection {
        min: u64::try_from(min).unwrap_or(DEFAULT_MIN_GROUP),
        anonymous,
    }))
}

/// Refuses what an anonymous survey's stats cannot answer safely: more than one filter, or a
/// filter with `group_by` (a cross-tabulation whose cells other calls could subtract).
pub fn check(req: &Request) -> Result<(), Invalid> {
    match (req.filters.len(), &req.group_by) {
        (0, _) | (1, None) => Ok(()),
        (1, Some(_)) => Err(Invalid::new(
            "filter",
            "an anonymous survey cannot combine a filter with group_by: group by one property, \
             or filter on one value",
        )),
        _ => Err(Invalid::new(
            "filter",
            "an anonymous survey takes one filter at a time",
        )),
    }
}

/// The property a campaign numbers its cycles by, which an anonymous survey may always be
/// grouped and filtered by: a cycle is a window (everyone of it issued at once), and no
/// caller can set it (see [`crate::domain::properties::Properties::given`]).
pub const CYCLE: &str = crate::domain::audience::CYCLE_PROPERTY;

/// Refuses grouping or filtering anonymous `surveys` by any property but `cycle` and each
/// one's first `segment_by` property. Each answer withholds what its own figures would give
/// away; figures grouped by two different properties could be subtracted from each other (the
/// total less one department less one site may be one person), so one property it is.
pub fn check_property(
    req: &Request,
    surveys: &[crate::db::surveys::Survey],
) -> Result<(), Invalid> {
    let asked = req
        .group_by
        .as_deref()
        .map(|p| ("group_by", p))
        .into_iter()
        .chain(req.filters.iter().map(|(k, _)| ("filter", k.as_str())));
    for (field, property) in asked {
        if property == CYCLE {
            continue;
        }
        for survey in surveys.iter().filter(|s| s.anonymous) {
            let segments = survey.segments();
            match segments.keys().first() {
                Some(first) if first == property => {}
                Some(first) => {
                    return Err(Invalid::new(
                        field,
                        format!(
                            "an anonymous survey is grouped and filtered only by `cycle` and by \
                             the first property of its segment_by (`{first}`, here): figures grouped by \
                             two properties could be subtracted from each other to single out \
                             one person"
                        ),
                    ))
                }
                None => {
                    return Err(Invalid::new(
                        field,
                        "an anonymous survey is grouped and filtered only by `cycle` and by the \
                         first property of its segment_by, and this one has none: set segment_by to the one \
                         property to report it by",
                    ))
                }
            }
        }
    }
    Ok(())
}

fn responses(t: &Tally) -> u64 {
    u64::try_from(t.responses()).unwrap_or(0)
}

/// The respondents behind each figure of `report`.
pub fn table(report: &Report) -> Table {
    let with_cells = !report.buckets.is_empty() && !report.groups.is_empty();
    Table {
        total: responses(&report.total),
        series: report.series.iter().map(responses).collect(),
        groups: report.groups.iter().map(|g| responses(&g.total)).collect(),
        cells: if with_cells {
            report
                .groups
                .iter()
                .map(|g| g.series.iter().map(responses).collect())
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Runs `req` (checked by [`check`]) and decides what its answer withholds.
pub fn run(
    conn: &mut AnyConnection,
    req: &Request,
    now: DateTime<Utc>,
    p: &Protection,
) -> Result<(Report, Withheld), ApiError> {
    check(req)?;
    if let Some((key, value)) = req.filters.first() {
        return filtered(conn, req, now, p, key, value);
    }
    let report = super::run(conn, req, now)?;
    let forced = if req.surveys.len() > 1 && !p.anonymous.is_empty() {
        Some(across_surveys(conn, req, now, p, &report)?)
    } else {
        None
    };
    let withheld = disclosure::withhold(p.min, &table(&report), forced.as_ref());
    Ok((report, withheld))
}

/// The answer to `filter[key]=value`: that group's row of the call grouped by `key`.
fn filtered(
    conn: &mut AnyConnection,
    req: &Request,
    now: DateTime<Utc>,
    p: &Protection,
    key: &str,
    value: &str,
) -> Result<(Report, Withheld), ApiError> {
    let grouped = Request {
        group_by: Some(key.to_owned()),
        filters: Vec::new(),
        ..req.clone()
    };
    let (all, w) = run(conn, &grouped, now, p)?;
    let found = all
        .groups
        .iter()
        .position(|g| g.value.as_deref() == Some(value));
    let Some(i) = found else {
        // No respondent with that value, or one of the values summed as `other`: its counts,
        // and nothing more.
        let report = super::run(conn, req, now)?;
        let t = table(&report);
        return Ok((report, Withheld::all(&t)));
    };
    let group = &all.groups[i];
    let report = Report {
        total: group.total,
        series: group.series.clone(),
        groups: Vec::new(),
        ..all.clone()
    };
    let withheld = Withheld {
        total: w.groups[i],
        series: if report.buckets.is_empty() {
            Vec::new()
        } else {
            w.cells.get(i).cloned().unwrap_or_default()
        },
        groups: Vec::new(),
        cells: Vec::new(),
    };
    Ok((report, withheld))
}

/// One anonymous survey's figures, keyed like a workspace answer's.
struct Own {
    table: Table,
    withheld: Withheld,
    groups: HashMap<String, usize>,
    has_other: bool,
}

/// The figures of the workspace answer `report` that, served, would give away a figure that
/// one anonymous survey's own answer withholds: where the workspace figure, less the figures
/// the surveys' own answers serve, leaves one withheld figure alone or fewer than `min`
/// respondents.
fn across_surveys(
    conn: &mut AnyConnection,
    req: &Request,
    now: DateTime<Utc>,
    p: &Protection,
    report: &Report,
) -> Result<Withheld, ApiError> {
    let alone = Protection {
        min: p.min,
        anonymous: Vec::new(),
    };
    let mut own = Vec::with_capacity(p.anonymous.len());
    for survey in &p.anonymous {
        let single = Request {
            surveys: vec![survey.clone()],
            ..req.clone()
        };
        let (r, w) = run(conn, &single, now, &alone)?;
        own.push(Own {
            table: table(&r),
            withheld: w,
            groups: r
                .groups
                .iter()
                .enumerate()
                .filter_map(|(i, g)| g.value.clone().map(|v| (v, i)))
                .collect(),
            has_other: r.groups.iter().any(|g| g.value.is_none()),
        });
    }
    let unsafe_sum = |parts: &[Option<(u64, bool)>]| -> bool {
        // `None`: a part that cannot be told apart (summed as `other`).
        if parts.iter().any(Option::is_none) {
            return true;
        }
        let hidden: Vec<u64> = parts
            .iter()
            .flatten()
            .filter(|(n, withheld)| *withheld && *n > 0)
            .map(|(n, _)| *n)
            .collect();
        let mass: u64 = hidden.iter().sum();
        hidden.len() == 1 || (mass > 0 && mass < p.min)
    };
    let t = table(report);
    let mut forced = Withheld::none(&t);
    forced.total = unsafe_sum(
        &own.iter()
            .map(|o| Some((o.table.total, o.withheld.total)))
            .collect::<Vec<_>>(),
    );
    for b in 0..t.series.len() {
        forced.series[b] = unsafe_sum(
            &own.iter()
                .map(|o| Some((o.table.series[b], o.withheld.series[b])))
                .collect::<Vec<_>>(),
        );
    }
    for (i, group) in report.groups.iter().enumerate() {
        let part = |o: &Own, b: Option<usize>| -> Option<(u64, bool)> {
            let Some(value) = &group.value else {
                return None;
            };
            match o.groups.get(value) {
                Some(&j) => Some(match b {
                    None => (o.table.groups[j], o.withheld.groups[j]),
                    Some(b) => (o.table.cells[j][b], o.withheld.cells[j][b]),
                }),
                None if o.has_other => None,
                None => Some((0, false)),
            }
        };
        forced.groups[i] = unsafe_sum(&own.iter().map(|o| part(o, None)).collect::<Vec<_>>());
        if let Some(row) = forced.cells.get_mut(i) {
            for (b, cell) in row.iter_mut().enumerate() {
                *cell = unsafe_sum(&own.iter().map(|o| part(o, Some(b))).collect::<Vec<_>>());
            }
        }
    }
    Ok(forced)
}
