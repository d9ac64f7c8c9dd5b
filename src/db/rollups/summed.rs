//! Reading rollup cells: one segment's cells over a set of time ranges, each of one grain.
//! SQLite reads each range with its own statement, by position (no round trip, and the
//! cheapest row it hands over); Postgres reads them all with one `UNION ALL` (one round trip).
//! Either way each range is a range of the key: an `OR` of ranges would not be, and would
//! scan every cell of the segment.

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::QueryableByName;

use super::Grain;
use crate::db::{AnyConnection, DbResult};
use crate::domain::ids::SurveyId;
use crate::domain::stats::tally::{Tally, SCORE_SLOTS};

/// One cell: its grain, its value, its start, and its counts.
pub type CellCounts = (Grain, String, NaiveDateTime, Tally);

/// A time range of one grain's cells.
pub type GrainRange = (Grain, NaiveDateTime, NaiveDateTime);

/// One cell read by position: value, start, the funnel counts, and the scores.
type CellRow = (
    String,
    NaiveDateTime,
    (i64, i64, i64, i64, i64),
    (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64),
);

/// Reads the cells of one rollup table on one backend.
macro_rules! cells {
    ($table:ident, $backend:ty, $conn:expr, $surveys:expr, $dim:expr, $value:expr, $range:expr) => {{
        use crate::db::schema::$table as t;
        use diesel::prelude::*;
        let ids: Vec<&str> = $surveys.iter().map(SurveyId::as_str).collect();
        let (from, to): (NaiveDateTime, NaiveDateTime) = $range;
        let mut query = t::table
            .filter(t::survey_id.eq_any(ids))
            .filter(t::dim.eq($dim))
            .filter(t::at.ge(from))
            .filter(t::at.lt(to))
            .select((
                t::value,
                t::at,
                (t::issued, t::delivered, t::opened, t::commented, t::suspect),
                (
                    t::s0,
                    t::s1,
                    t::s2,
                    t::s3,
                    t::s4,
                    t::s5,
                    t::s6,
                    t::s7,
                    t::s8,
                    t::s9,
                    t::s10,
                ),
            ))
            .into_boxed::<$backend>();
        if let Some(value) = $value {
            query = query.filter(t::value.eq(value));
        }
        query.load::<CellRow>($conn)?
    }};
}

/// One cell read by name (Postgres).
#[derive(Debug, QueryableByName)]
struct NamedCell {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    grain: i32,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Timestamp)]
    at: NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    issued: i64,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    opened: i64,
    #[diesel(sql_type = BigInt)]
    commented: i64,
    #[diesel(sql_type = BigInt)]
    suspect: i64,
    #[diesel(sql_type = BigInt)]
    s0: i64,
    #[diesel(sql_type = BigInt)]
    s1: i64,
    #[diesel(sql_type = BigInt)]
    s2: i64,
    #[diesel(sql_type = BigInt)]
    s3: i64,
    #[diesel(sql_type = BigInt)]
    s4: i64,
    #[diesel(sql_type = BigInt)]
    s5: i64,
    #[diesel(sql_type = BigInt)]
    s6: i64,
    #[diesel(sql_type = BigInt)]
    s7: i64,
    #[diesel(sql_type = BigInt)]
    s8: i64,
    #[diesel(sql_type = BigInt)]
    s9: i64,
    #[diesel(sql_type = BigInt)]
    s10: i64,
}

impl NamedCell {
    fn into_row(self) -> (usize, CellRow) {
        let c = self;
        let row = (
            c.value,
            c.at,
            (c.issued, c.delivered, c.opened, c.commented, c.suspect),
            (
                c.s0, c.s1, c.s2, c.s3, c.s4, c.s5, c.s6, c.s7, c.s8, c.s9, c.s10,
            ),
        );
        (usize::try_from(c.grain).unwrap_or(usize::MAX), row)
    }
}

/// Bound values per Postgres statement, well under its limit of 65,535.
const MAX_BINDS: usize = 20_000;

/// Reads `ranges` on Postgres with one `UNION ALL` per chunk of ranges; each row says by
/// its `grain` which range (of the chunk) it came from.
fn read_pg(
    conn: &mut diesel::PgConnection,
    surveys: &[SurveyId],
    dim: &str,
    value: Option<&str>,
    ranges: &[GrainRange],
) -> DbResult<Vec<(Grain, CellRow)>> {
    let per_range = surveys.len() + 3 + usize::from(value.is_some());
    let mut out = Vec::new();
    for chunk in ranges.chunks((MAX_BINDS / per_range).max(1)) {
        let mut next = 0;
        let mut p = || {
            next += 1;
            format!("${next}")
        };
        let selects: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, (grain, _, _))| {
                let ids: Vec<String> = surveys.iter().map(|_| p()).collect();
                let mut sql = format!(
                    "SELECT {i} AS grain, value, at, issued, delivered, opened, commented, \
                     suspect, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10 FROM {} \
                     WHERE survey_id IN ({}) AND dim = {}",
                    grain.table(),
                    ids.join(", "),
                    p(),
                );
                if value.is_some() {
                    sql.push_str(&format!(" AND value = {}", p()));
                }
                sql.push_str(&format!(" AND at >= {} AND at < {}", p(), p()));
                sql
            })
            .collect();
        let mut query =
            diesel::sql_query(selects.join(" UNION ALL ")).into_boxed::<diesel::pg::Pg>();
        for (_, from, to) in chunk {
            for id in surveys {
                query = query.bind::<Text, _>(id.as_str().to_owned());
            }
            query = query.bind::<Text, _>(dim.to_owned());
            if let Some(value) = value {
                query = query.bind::<Text, _>(value.to_owned());
            }
            query = query.bind::<Timestamp, _>(*from).bind::<Timestamp, _>(*to);
        }
        let rows: Vec<NamedCell> = diesel::RunQueryDsl::load(query, conn)?;
        for row in rows {
            let (i, row) = row.into_row();
            if let Some((grain, _, _)) = chunk.get(i) {
                out.push((*grain, row));
            }
        }
    }
    Ok(out)
}

/// The cells of `surveys` for segment `dim` (`""` overall; one `value`, or all) starting in
/// any of `ranges` (each of one grain; disjoint within a grain).
pub fn read_cells(
    conn: &mut AnyConnection,
    surveys: &[SurveyId],
    dim: &str,
    value: Option<&str>,
    ranges: &[GrainRange],
) -> DbResult<Vec<CellCounts>> {
    let rows = match conn {
        AnyConnection::Postgresql(c) => read_pg(c, surveys, dim, value, ranges)?,
        AnyConnection::Sqlite(c) => {
            use diesel::sqlite::Sqlite;
            let mut rows = Vec::new();
            for &(grain, from, to) in ranges {
                let range = (from, to);
                let cells = match grain {
                    Grain::Week => cells!(rollup_weeks, Sqlite, c, surveys, dim, value, range),
                    Grain::Day => cells!(rollup_days, Sqlite, c, surveys, dim, value, range),
                    Grain::Hour => cells!(rollup_hours, Sqlite, c, surveys, dim, value, range),
                    Grain::Quarter => {
                        cells!(rollup_quarters, Sqlite, c, surveys, dim, value, range)
                    }
                };
                rows.extend(cells.into_iter().map(|row| (grain, row)));
            }
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|(grain, (value, at, funnel, s))| {
            let (issued, delivered, opened, commented, suspect) = funnel;
            let tally = Tally {
                issued,
                delivered,
                opened,
                commented,
                suspect,
                scores: [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7, s.8, s.9, s.10],
                excluded: [0; SCORE_SLOTS],
            };
            (grain, value, at, tally)
        })
        .collect())
}
