//! Stats rollups: the counts behind scores by survey, property value and time cell, kept in
//! the same transaction as each invitation and answer (see the migration for the layout),
//! the bounded exact query over raw rows that answers what rollups cannot (`raw`), and
//! building them from the raw rows (`backfill`).

mod accumulate;
mod backfill;
mod raw;
mod summed;

pub use accumulate::{Accumulator, MAX_PENDING_CELLS};
pub use backfill::{backfill_once, rebuild};
pub use raw::{raw, RawQuery, RawRow};
pub use summed::{read_cells, CellCounts, GrainRange};

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use super::invitations::{properties_of, properties_of_one, Invitation};
use super::schema::{invitations, surveys};
use super::surveys::Survey;
use super::{AnyConnection, DbResult};
use crate::domain::ids::{InvitationId, SurveyId};
use crate::domain::segments::SegmentBy;
use crate::domain::stats::tally::{Tally, SCORE_SLOTS};

/// The cell sizes kept, each made of whole cells of the next: weeks of days, days of hours,
/// hours of quarter hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    /// ISO weeks in UTC (from Monday 00:00).
    Week,
    /// Whole UTC days.
    Day,
    /// Whole UTC hours.
    Hour,
    /// Quarter hours (every time zone's midnight falls on one's edge).
    Quarter,
}

/// The Unix epoch (a Thursday) to the first Monday after it, in seconds.
const FIRST_MONDAY: i64 = 4 * 86_400;

impl Grain {
    /// Every grain, coarsest first, in declaration order (`ALL[g as usize] == g`).
    pub const ALL: [Grain; 4] = [Grain::Week, Grain::Day, Grain::Hour, Grain::Quarter];

    /// The length of one cell.
    pub fn length(self) -> Duration {
        match self {
            Self::Week => Duration::weeks(1),
            Self::Day => Duration::days(1),
            Self::Hour => Duration::hours(1),
            Self::Quarter => Duration::minutes(15),
        }
    }

    /// The next finer grain (none after quarter hours).
    pub fn finer(self) -> Option<Grain> {
        match self {
            Self::Week => Some(Self::Day),
            Self::Day => Some(Self::Hour),
            Self::Hour => Some(Self::Quarter),
            Self::Quarter => None,
        }
    }

    /// The start of the cell holding `at` (any year: whole seconds, no nanosecond range).
    pub fn floor(self, at: NaiveDateTime) -> NaiveDateTime {
        let step = self.length().num_seconds();
        // Weeks start on Mondays, the others on the epoch.
        let offset = if self == Self::Week { FIRST_MONDAY } else { 0 };
        let secs = at.and_utc().timestamp() - offset;
        DateTime::from_timestamp(secs.div_euclid(step) * step + offset, 0)
            .map(|t| t.naive_utc())
            .unwrap_or(at)
    }

    /// The first cell start at or after `at`.
    pub fn ceil(self, at: NaiveDateTime) -> NaiveDateTime {
        let floor = self.floor(at);
        if floor == at {
            at
        } else {
            floor + self.length()
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Week => "rollup_weeks",
            Self::Day => "rollup_days",
            Self::Hour => "rollup_hours",
            Self::Quarter => "rollup_quarters",
        }
    }
}

/// Where a change counts: the survey, the invitation's creation time, and the values of the
/// survey's segment properties that the invitation carries.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The survey.
    pub survey_id: SurveyId,
    /// The invitation's creation time.
    pub at: NaiveDateTime,
    /// `(property, value)` for each segment the invitation carries.
    pub dims: Vec<(String, String)>,
}

/// The cell of invitation `id`, reading its survey's segments and its properties.
pub fn cell_of(conn: &mut AnyConnection, id: &InvitationId) -> DbResult<Cell> {
    let (survey_id, at, segment_by): (String, NaiveDateTime, Option<String>) = invitations::table
        .inner_join(surveys::table)
        .filter(invitations::id.eq(id.as_str()))
        .select((
            invitations::survey_id,
            invitations::created_at,
            surveys::segment_by,
        ))
        .first(conn)?;
    let segments = SegmentBy::from_stored(segment_by.as_deref());
    Ok(Cell {
        survey_id: SurveyId::from(survey_id),
        at,
        dims: segment_values(conn, id, &segments)?,
    })
}

/// The cells of `answered` (invitations with their surveys), their properties read with
/// one query since the caller holds the rows.
pub fn cells_for(
    conn: &mut AnyConnection,
    answered: &[(&Invitation, &Survey)],
) -> DbResult<Vec<Cell>> {
    let segmented: Vec<&InvitationId> = answered
        .iter()
        .filter(|(_, survey)| !survey.segments().keys().is_empty())
        .map(|(invitation, _)| &invitation.id)
        .collect();
    let mut properties = if segmented.is_empty() {
        HashMap::new()
    } else {
        properties_of(conn, &segmented)?
    };
    Ok(answered
        .iter()
        .map(|(invitation, survey)| {
            let segments = survey.segments();
            let dims = properties
                .remove(&invitation.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| segments.contains(k))
                .collect();
            Cell {
                survey_id: invitation.survey_id.clone(),
                at: invitation.created_at,
                dims,
            }
        })
        .collect())
}

/// The `(property, value)` pairs of invitation `id` that are among `segments`.
fn segment_values(
    conn: &mut AnyConnection,
    id: &InvitationId,
    segments: &SegmentBy,
) -> DbResult<Vec<(String, String)>> {
    let properties = properties_of_one(conn, id)?;
    Ok(properties
        .into_iter()
        .filter(|(k, _)| segments.contains(k))
        .collect())
}

/// Adds `delta` to the survey's cells at every grain, overall and per segment value.
/// Call inside the transaction that makes the change.
pub fn apply(conn: &mut AnyConnection, cell: &Cell, delta: &Tally) -> DbResult<()> {
    if delta.is_zero() {
        return Ok(());
    }
    let overall = (String::new(), String::new());
    for grain in Grain::ALL {
        let at = grain.floor(cell.at);
        for (dim, value) in std::iter::once(&overall).chain(&cell.dims) {
            upsert(conn, grain, &cell.survey_id, dim, value, at, delta)?;
        }
    }
    Ok(())
}

/// One cell's change: `(grain, survey, dim, value, cell start, delta)`.
pub type CellDelta<'a> = (Grain, &'a str, &'a str, &'a str, NaiveDateTime, Tally);

/// Rows per `INSERT … ON CONFLICT` statement (4 bound values each, well under both
/// backends' limits).
const UPSERT_BATCH: usize = 500;

/// Applies many cell changes with few statements (the import's path; `apply` is one cell),
/// in the order given. Each grain's cells must be distinct (an upsert may not touch a row
/// twice).
pub fn apply_many(conn: &mut AnyConnection, cells: &[CellDelta]) -> DbResult<()> {
    for of_grain in cells.chunk_by(|a, b| a.0 == b.0) {
        match conn {
            AnyConnection::Postgresql(c) => {
                for chunk in of_grain.chunks(UNNEST_BATCH) {
                    upsert_unnest(c, chunk[0].0, chunk)?;
                }
            }
            AnyConnection::Sqlite(_) => {
                for chunk in of_grain.chunks(UPSERT_BATCH) {
                    upsert_rows(conn, chunk[0].0, chunk)?;
                }
            }
        }
    }
    Ok(())
}

/// Rows per Postgres `INSERT … SELECT FROM unnest(…)`: its text never changes, so it is
/// parsed and planned in no time whatever the batch; the bound arrays carry the rows.
const UNNEST_BATCH: usize = 10_000;

/// `INSERT … SELECT FROM unnest($1, …) ON CONFLICT DO UPDATE` of `rows` on Postgres: one
/// array per column instead of a `VALUES` list, whose parsing and planning cost more than
/// writing the rows once an import writes hundreds of thousands of cells. Its text depends
/// only on the table, so the connection prepares it once and keeps it.
fn upsert_unnest(
    conn: &mut diesel::PgConnection,
    grain: Grain,
    rows: &[CellDelta],
) -> DbResult<()> {
    let columns = count_columns();
    // One array per count column: the rows' values transposed.
    let mut counts = vec![Vec::with_capacity(rows.len()); columns.len()];
    for row in rows {
        for (column, value) in counts.iter_mut().zip(count_values(&row.5)) {
            column.push(value);
        }
    }
    UnnestUpsert {
        table: grain.table(),
        columns,
        survey_ids: rows.iter().map(|r| r.1).collect(),
        dims: rows.iter().map(|r| r.2).collect(),
        values: rows.iter().map(|r| r.3).collect(),
        ats: rows.iter().map(|r| r.4).collect(),
        counts,
    }
    .execute(conn)?;
    Ok(())
}

/// The statement of [`upsert_unnest`], built with bound arrays so that Diesel caches it as
/// a prepared statement (its `sql_query` never is).
struct UnnestUpsert<'a> {
    table: &'static str,
    columns: Vec<String>,
    survey_ids: Vec<&'a str>,
    dims: Vec<&'a str>,
    values: Vec<&'a str>,
    ats: Vec<NaiveDateTime>,
    counts: Vec<Vec<i64>>,
}

impl diesel::query_builder::QueryId for UnnestUpsert<'_> {
    type QueryId = ();
    // No static id: cached by its SQL text, which differs per table.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for UnnestUpsert<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt};
        out.push_sql(&format!(
            "INSERT INTO {} (survey_id, dim, value, at, {}) SELECT * FROM unnest(",
            self.table,
            self.columns.join(", ")
        ));
        out.push_bind_param::<Array<Text>, _>(&self.survey_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.dims)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.values)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.ats)?;
        out.push_sql("::timestamp[]");
        for column in &self.counts {
            out.push_sql(", ");
            out.push_bind_param::<Array<BigInt>, _>(column)?;
            out.push_sql("::int8[]");
        }
        out.push_sql(") ");
        out.push_sql(&add_on_conflict(self.table, &self.columns));
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for UnnestUpsert<'_> {}

fn upsert(
    conn: &mut AnyConnection,
    grain: Grain,
    survey_id: &SurveyId,
    dim: &str,
    value: &str,
    at: NaiveDateTime,
    delta: &Tally,
) -> DbResult<()> {
    upsert_rows(
        conn,
        grain,
        &[(grain, survey_id.as_str(), dim, value, at, *delta)],
    )
}

/// The count columns besides the score slots.
const COUNTS: [&str; 5] = ["issued", "delivered", "opened", "commented", "suspect"];

/// Every count column of a rollup table: [`COUNTS`], then the score slots `s0`, `s1`, ….
fn count_columns() -> Vec<String> {
    COUNTS
        .iter()
        .map(|c| c.to_string())
        .chain((0..SCORE_SLOTS).map(|i| format!("s{i}")))
        .collect()
}

/// The values of `delta` for the columns of [`count_columns`], in their order.
fn count_values(delta: &Tally) -> impl Iterator<Item = i64> + '_ {
    [
        delta.issued,
        delta.delivered,
        delta.opened,
        delta.commented,
        delta.suspect,
    ]
    .into_iter()
    .chain(delta.scores)
}

/// The `ON CONFLICT` clause that adds a new row's counts to the existing row of `table`.
fn add_on_conflict(table: &str, columns: &[String]) -> String {
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        "ON CONFLICT (survey_id, dim, at, value) DO UPDATE SET {}",
        updates.join(", ")
    )
}

/// `INSERT … ON CONFLICT DO UPDATE` of `rows`, the same statement on both backends but for
/// its placeholders. The counts are integers written into the statement; text is bound.
fn upsert_rows(conn: &mut AnyConnection, grain: Grain, rows: &[CellDelta]) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let table = grain.table();
    let columns = count_columns();
    let postgres = matches!(conn, AnyConnection::Postgresql(_));
    let values: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, _, _, _, _, delta))| {
            let p: Vec<String> = (1..=4)
                .map(|k| {
                    if postgres {
                        format!("${}", i * 4 + k)
                    } else {
                        "?".to_owned()
                    }
                })
                .collect();
            let counts: Vec<String> = count_values(delta).map(|v| v.to_string()).collect();
            format!("({}, {})", p.join(", "), counts.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} (survey_id, dim, value, at, {}) VALUES {} {}",
        columns.join(", "),
        values.join(", "),
        add_on_conflict(table, &columns),
    );
    macro_rules! bound {
        ($backend:ty, $c:expr) => {{
            let mut query = diesel::sql_query(sql).into_boxed::<$backend>();
            for (_, survey, dim, value, at, _) in rows {
                query = query
                    .bind::<Text, _>(*survey)
                    .bind::<Text, _>(*dim)
                    .bind::<Text, _>(*value)
                    .bind::<Timestamp, _>(*at);
            }
            query.execute($c)?
        }};
    }
    match conn {
        AnyConnection::Sqlite(c) => bound!(diesel::sqlite::Sqlite, c),
        AnyConnection::Postgresql(c) => bound!(diesel::pg::Pg, c),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Grain;
    use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn weeks_start_on_monday_at_midnight_utc_in_any_year() {
        // 2026-03-02 and 2026-03-09 are Mondays.
        assert_eq!(
            Grain::Week.floor(at(2026, 3, 4, 12, 0)),
            at(2026, 3, 2, 0, 0)
        );
        assert_eq!(
            Grain::Week.floor(at(2026, 3, 2, 0, 0)),
            at(2026, 3, 2, 0, 0)
        );
        assert_eq!(
            Grain::Week.floor(at(2026, 3, 8, 23, 59)),
            at(2026, 3, 2, 0, 0)
        );
        assert_eq!(
            Grain::Week.ceil(at(2026, 3, 8, 23, 59)),
            at(2026, 3, 9, 0, 0)
        );
        for t in [
            at(1, 1, 1, 0, 0),
            at(1969, 12, 31, 5, 0),
            at(2400, 2, 29, 7, 0),
        ] {
            let monday = Grain::Week.floor(t);
            assert_eq!(monday.weekday(), Weekday::Mon, "{t}");
            assert!(monday <= t && t - monday < Grain::Week.length(), "{t}");
        }
    }

    #[test]
    fn each_grain_is_made_of_whole_cells_of_the_next() {
        for pair in Grain::ALL.windows(2) {
            let (coarse, fine) = (pair[0], pair[1]);
            assert_eq!(coarse.finer(), Some(fine));
            let t = at(2026, 11, 24, 13, 37);
            assert_eq!(fine.floor(coarse.floor(t)), coarse.floor(t));
            assert_eq!(
                coarse.length().num_seconds() % fine.length().num_seconds(),
                0
            );
        }
        assert_eq!(Grain::Quarter.finer(), None);
        for (i, grain) in Grain::ALL.iter().enumerate() {
            assert_eq!(*grain as usize, i);
        }
    }
}
