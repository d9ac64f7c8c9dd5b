//! Reporting: the tallies behind a stats call (overall, per time bucket, per group), read from
//! the rollups wherever they answer exactly, and from a bounded query of the raw rows where
//! they cannot (the few minutes at the window's edges, and properties that are not segments).

pub mod adjusted;
pub mod anonymity;
pub mod export;
pub mod funnel;
pub mod serve;
mod spans;
pub mod view;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::db::challenges;
use crate::db::rollups::{self, Grain};
use crate::db::{to_stored, AnyConnection};
use crate::domain::ids::SurveyId;
use crate::domain::segments::SegmentBy;
use crate::domain::stats::buckets::{self, Bucket, Interval};
use crate::domain::stats::tally::Tally;
use crate::domain::Invalid;
use crate::error::ApiError;

/// Most groups returned; the rest are summed into one `other` group.
pub const MAX_GROUPS: usize = 50;

/// Most invitations the exact path reads for one call. Above it, the call answers 422 and
/// says how to make the property a segment.
pub const MAX_RAW_ROWS: i64 = 100_000;

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    /// The surveys (one, or every survey of one kind and scale in a workspace).
    pub surveys: Vec<SurveyId>,
    /// The segments every one of those surveys keeps.
    pub segments: SegmentBy,
    /// Window start (inclusive); `None` = unbounded.
    pub from: Option<DateTime<Utc>>,
    /// Window end (exclusive); `None` = now.
    pub to: Option<DateTime<Utc>>,
    /// Trend buckets, and the zone they are cut in.
    pub interval: Option<(Interval, Tz)>,
    /// The property to group by.
    pub group_by: Option<String>,
    /// `(property, value)` pairs an invitation must all carry.
    pub filters: Vec<(String, String)>,
}

/// One group's tallies.
#[derive(Debug, Clone)]
pub struct Group {
    /// The property value; `None` for the sum of the groups beyond [`MAX_GROUPS`].
    pub value: Option<String>,
    /// How many values the `other` group sums (1 for a real group).
    pub values: usize,
    /// Over the whole window.
    pub total: Tally,
    /// Per bucket (empty without an interval).
    pub series: Vec<Tally>,
}

/// The tallies of one stats call.
#[derive(Debug, Clone)]
pub struct Report {
    /// The window's start, as asked.
    pub from: Option<DateTime<Utc>>,
    /// Its end (now when not asked).
    pub to: DateTime<Utc>,
    /// Its end, as asked.
    pub to_given: Option<DateTime<Utc>>,
    /// Trend buckets.
    pub buckets: Vec<Bucket>,
    /// Over the whole window.
    pub total: Tally,
    /// Per bucket.
    pub series: Vec<Tally>,
    /// Per group, largest first (with `group_by`).
    pub groups: Vec<Group>,
    /// Whether the answer came from the rollups (`false`: the bounded exact path).
    pub from_rollups: bool,
}

/// Where tallies land: the totals and each group, overall and per bucket.
struct Sink {
    buckets: Vec<Bucket>,
    total: Tally,
    series: Vec<Tally>,
    groups: std::collections::BTreeMap<String, (Tally, Vec<Tally>)>,
}

impl Sink {
    /// The bucket of `at`: `Some(None)` without buckets, `None` when outside every bucket.
    fn bucket(&self, at: DateTime<Utc>) -> Option<Option<usize>> {
        if self.buckets.is_empty() {
            Some(None)
        } else {
            buckets::index_of(&self.buckets, at).map(Some)
        }
    }

    /// Adds `tally` for raw `row`: to the totals, and to its group when grouping by a
    /// property it carries.
    fn add(&mut self, req: &Request, row: &rollups::RawRow, tally: Tally) {
        let Some(bucket) = self.bucket(row.at) else {
            return;
        };
        self.add_total_in(bucket, tally);
        if let (Some(_), Some(group)) = (&req.group_by, row.group.as_deref()) {
            self.add_group_in(group, bucket, tally);
        }
    }

    fn add_total_in(&mut self, bucket: Option<usize>, tally: Tally) {
        self.total += tally;
        if let Some(i) = bucket {
            self.series[i] += tally;
        }
    }

    fn add_group_in(&mut self, group: &str, bucket: Option<usize>, tally: Tally) {
        let n = self.buckets.len();
        // Looked up before inserting: most cells add to a group already seen.
        if !self.groups.contains_key(group) {
            let empty = (Tally::default(), vec![Tally::default(); n]);
            self.groups.insert(group.to_owned(), empty);
        }
        let Some(entry) = self.groups.get_mut(group) else {
            return;
        };
        entry.0 += tally;
        if let Some(i) = bucket {
            entry.1[i] += tally;
        }
    }
}

/// The earliest instant both backends store: stands in for an open window start.
fn dawn() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Runs `req`.
pub fn run(
    conn: &mut AnyConnection,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Report, ApiError> {
    let to = req.to.unwrap_or(now);
    let stored_from = req.from.map(to_stored).unwrap_or_else(dawn);
    // An open end covers everything created so far: the end of the current quarter hour.
    let stored_to = match req.to {
        Some(to) => to_stored(to),
        None => Grain::Quarter.floor(to_stored(now)) + Grain::Quarter.length(),
    };
    let buckets = match &req.interval {
        None => Vec::new(),
        Some((interval, tz)) => {
            let from = req.from.ok_or_else(|| {
                Invalid::new("from", "is required with interval (the trend's first day)")
            })?;
            buckets::buckets(from, to, *interval, *tz)?
        }
    };
    let mut sink = Sink {
        series: vec![Tally::default(); buckets.len()],
        buckets,
        total: Tally::default(),
        groups: Default::default(),
    };
    let window = (stored_from, stored_to);
    let from_rollups = match plan(req) {
        Plan::Raw => {
            read_raw(conn, req, &mut sink, window)?;
            false
        }
        Plan::Rollups { totals, groups } => {
            let (dim, value) = &totals;
            read_rollups(conn, req, &mut sink, window, dim, value.as_deref(), false)?;
            if let Some(dim) = groups {
                read_rollups(conn, req, &mut sink, window, &dim, None, true)?;
            }
            true
        }
    };
    read_excluded(conn, req, &mut sink, window)?;
    Ok(Report {
        from: req.from,
        to,
        to_given: req.to,
        groups: cap_groups(std::mem::take(&mut sink.groups)),
        buckets: sink.buckets,
        total: sink.total,
        series: sink.series,
        from_rollups,
    })
}

/// How a request is answered.
enum Plan {
    /// From the rollups: the totals' `(dim, value)` and the grouping dim, if any.
    Rollups {
        totals: (String, Option<String>),
        groups: Option<String>,
    },
    /// From the bounded exact query.
    Raw,
}

/// Rollups answer a request with no filter (grouped by a segment or not), or with one filter
/// on a segment and no grouping. Anything else takes the exact path.
fn plan(req: &Request) -> Plan {
    let segment = |key: &str| req.segments.contains(key);
    match (req.group_by.as_deref(), req.filters.as_slice()) {
        (None, []) => Plan::Rollups {
            totals: (String::new(), None),
            groups: None,
        },
        (Some(g), []) if segment(g) => Plan::Rollups {
            totals: (String::new(), None),
            groups: Some(g.to_owned()),
        },
        (None, [(k, v)]) if segment(k) => Plan::Rollups {
            totals: (k.clone(), Some(v.clone())),
            groups: None,
        },
        _ => Plan::Raw,
    }
}

/// Reads `dim` (one `value`, or all) into the totals, or into the groups when `grouping`.
/// The minutes before the window's first whole quarter hour and after its last are read
/// exactly from the raw rows (only when filling the totals: the groups' edges come with them).
/// Each grain's cells are read by range and summed here, each in its bucket.
fn read_rollups(
    conn: &mut AnyConnection,
    req: &Request,
    sink: &mut Sink,
    (from, to): (NaiveDateTime, NaiveDateTime),
    dim: &str,
    value: Option<&str>,
    grouping: bool,
) -> Result<(), ApiError> {
    let (q_from, q_to) = (Grain::Quarter.ceil(from), Grain::Quarter.floor(to));
    if q_from >= q_to {
        return if grouping {
            Ok(())
        } else {
            read_raw(conn, req, sink, (from, to))
        };
    }
    if !grouping {
        read_raw(conn, req, sink, (from, q_from))?;
        read_raw(conn, req, sink, (q_to, to))?;
    }
    let edges: Vec<NaiveDateTime> = sink
        .buckets
        .iter()
        .skip(1)
        .map(|b| b.start.naive_utc())
        .collect();
    let bucketed = !sink.buckets.is_empty();
    let bucket_of = |t: NaiveDateTime| edges.partition_point(|e| *e <= t);
    let spans = spans::cell_spans(q_from, q_to, &edges);
    let placements = Grain::ALL.map(|grain| spans::Placement::of(&spans, grain));
    let ranges: Vec<rollups::GrainRange> = Grain::ALL
        .iter()
        .zip(&placements)
        .flat_map(|(grain, p)| p.ranges().into_iter().map(|(a, b)| (*grain, a, b)))
        .collect();
    for (grain, v, at, tally) in rollups::read_cells(conn, &req.surveys, dim, value, &ranges)? {
        // `Grain::ALL` lists the grains in declaration order.
        let placement = &placements[grain as usize];
        // A cell may be held by two spans: taken out of one bucket and put into another.
        for (minus, moved) in placement.holding(at) {
            let tally = if *minus { -tally } else { tally };
            let bucket = bucketed.then(|| bucket_of(moved.unwrap_or(at)));
            if grouping {
                sink.add_group_in(&v, bucket, tally);
            } else {
                sink.add_total_in(bucket, tally);
            }
        }
    }
    Ok(())
}

fn read_raw(
    conn: &mut AnyConnection,
    req: &Request,
    sink: &mut Sink,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> Result<(), ApiError> {
    if from >= to {
        return Ok(());
    }
    for row in raw_rows(conn, req, (from, to), None)?.ok_or_else(|| too_many(req))? {
        sink.add(req, &row, row.tally);
    }
    Ok(())
}

/// Adds the answers that accepted challenges exclude from the adjusted score. Read from the
/// raw rows of just those invitations (accepted challenges are few: none for most surveys);
/// their answers stay in every other figure.
fn read_excluded(
    conn: &mut AnyConnection,
    req: &Request,
    sink: &mut Sink,
    window: (NaiveDateTime, NaiveDateTime),
) -> Result<(), ApiError> {
    let ids =
        challenges::accepted_invitations(conn, &req.surveys, MAX_RAW_ROWS)?.ok_or_else(|| {
            ApiError::from(Invalid::new(
                "survey_id",
                format!("more than {MAX_RAW_ROWS} accepted challenges: report on fewer surveys"),
            ))
        })?;
    // Bounded statements: well under either backend's limit on bound parameters.
    for chunk in ids.chunks(5_000) {
        let rows = raw_rows(conn, req, window, Some(chunk))?.ok_or_else(|| too_many(req))?;
        for row in rows {
            let excluded = row.tally.as_excluded();
            if !excluded.is_zero() {
                sink.add(req, &row, excluded);
            }
        }
    }
    Ok(())
}

fn raw_rows(
    conn: &mut AnyConnection,
    req: &Request,
    (from, to): (NaiveDateTime, NaiveDateTime),
    only: Option<&[String]>,
) -> Result<Option<Vec<rollups::RawRow>>, ApiError> {
    let query = rollups::RawQuery {
        surveys: &req.surveys,
        from,
        to,
        group_by: req.group_by.as_deref(),
        filters: &req.filters,
        only,
    };
    Ok(rollups::raw(conn, &query, MAX_RAW_ROWS)?)
}

fn too_many(req: &Request) -> ApiError {
    let key = req
        .group_by
        .clone()
        .or_else(|| req.filters.first().map(|(k, _)| k.clone()))
        .unwrap_or_default();
    let field = if req.group_by.is_some() {
        "group_by"
    } else {
        "filter"
    };
    Invalid::new(
        field,
        format!(
            "`{key}` is not one of the survey's segment_by properties and the window holds more \
             than {MAX_RAW_ROWS} invitations: add `{key}` to segment_by, or narrow the window"
        ),
    )
    .into()
}

/// The largest groups by trusted answers (then by value), and the rest summed as `other`.
/// A value that counts nothing in the window (only failed invitations, or read from a day
/// cell and taken out again with the hours outside the window) is no group.
fn cap_groups(groups: std::collections::BTreeMap<String, (Tally, Vec<Tally>)>) -> Vec<Group> {
    let mut all: Vec<Group> = groups
        .into_iter()
        .filter(|(_, (total, _))| !total.is_zero())
        .map(|(value, (total, series))| Group {
            value: Some(value),
            values: 1,
            total,
            series,
        })
        .collect();
    all.sort_by(|a, b| {
        b.total
            .responses()
            .cmp(&a.total.responses())
            .then_with(|| b.total.issued.cmp(&a.total.issued))
            .then_with(|| a.value.cmp(&b.value))
    });
    if all.len() <= MAX_GROUPS {
        return all;
    }
    let rest = all.split_off(MAX_GROUPS);
    let mut other = Group {
        value: None,
        values: rest.len(),
        total: Tally::default(),
        series: vec![Tally::default(); rest[0].series.len()],
    };
    for g in rest {
        other.total += g.total;
        for (a, b) in other.series.iter_mut().zip(g.series) {
            *a += b;
        }
    }
    all.push(other);
    all
}
