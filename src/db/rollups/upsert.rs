//! Writing summed changes into the rollup tables: `INSERT … ON CONFLICT DO UPDATE`, built so
//! that each backend prepares its statements once and keeps them (their text never carries
//! the counts), because bulk work and every batch of answers write thousands of cells.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::CellDelta;
use crate::db::{AnyConnection, DbResult};
use crate::domain::stats::tally::{Tally, SCORE_SLOTS};

/// Applies many cell changes with few statements, in the order given. Each grain's cells
/// must be distinct (an upsert may not touch a row twice).
pub fn apply_many(conn: &mut AnyConnection, cells: &[CellDelta]) -> DbResult<()> {
    for of_grain in cells.chunk_by(|a, b| a.0 == b.0) {
        let grain = of_grain[0].0;
        match conn {
            AnyConnection::Postgresql(c) => {
                for chunk in of_grain.chunks(UNNEST_BATCH) {
                    upsert_unnest(c, grain.table(), chunk)?;
                }
            }
            AnyConnection::Sqlite(c) => {
                let mut rest = of_grain;
                while !rest.is_empty() {
                    let size = sqlite_chunk(rest.len());
                    let (chunk, after) = rest.split_at(size);
                    ValuesUpsert {
                        table: grain.table(),
                        rows: chunk,
                    }
                    .execute(c)?;
                    rest = after;
                }
            }
        }
    }
    Ok(())
}

/// Row counts of the SQLite statements: a batch is written in chunks of these sizes only,
/// largest first, so each table has at most five statement texts, all kept prepared (a
/// statement of any other length would be parsed again every time).
const SQLITE_CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// The largest chunk size that `remaining` rows fill.
fn sqlite_chunk(remaining: usize) -> usize {
    SQLITE_CHUNKS
        .into_iter()
        .find(|size| *size <= remaining)
        .unwrap_or(1)
}

/// `INSERT … VALUES (…), … ON CONFLICT DO UPDATE` of `rows` on SQLite, every value bound
/// (20 per row: 5,120 for the largest chunk, under SQLite's limit of 32,766).
struct ValuesUpsert<'a> {
    table: &'static str,
    rows: &'a [CellDelta<'a>],
}

impl diesel::query_builder::QueryId for ValuesUpsert<'_> {
    type QueryId = ();
    // No static id: cached by its SQL text, one per table and chunk size.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for ValuesUpsert<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        let columns = count_columns();
        out.push_sql(&format!(
            "INSERT INTO {} (survey_id, dim, value, at, {}) VALUES ",
            self.table,
            columns.join(", ")
        ));
        for (i, (_, survey, dim, value, at, delta)) in self.rows.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            out.push_bind_param::<Text, _>(survey)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(dim)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(value)?;
            out.push_sql(", ");
            out.push_bind_param::<Timestamp, _>(at)?;
            for count in count_slots(delta) {
                out.push_sql(", ");
                out.push_bind_param::<BigInt, _>(count)?;
            }
            out.push_sql(")");
        }
        out.push_sql(" ");
        out.push_sql(&add_on_conflict(self.table, &columns));
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for ValuesUpsert<'_> {}

/// Rows per Postgres `INSERT … SELECT FROM unnest(…)`: its text never changes, so it is
/// parsed and planned in no time whatever the batch; the bound arrays carry the rows.
const UNNEST_BATCH: usize = 10_000;

/// `INSERT … SELECT FROM unnest($1, …) ON CONFLICT DO UPDATE` of `rows` on Postgres: one
/// array per column instead of a `VALUES` list, whose parsing and planning cost more than
/// writing the rows once an import writes hundreds of thousands of cells. Its text depends
/// only on the table, so the connection prepares it once and keeps it.
fn upsert_unnest(
    conn: &mut diesel::PgConnection,
    table: &'static str,
    rows: &[CellDelta],
) -> DbResult<()> {
    let columns = count_columns();
    // One array per count column: the rows' values transposed.
    let mut counts = vec![Vec::with_capacity(rows.len()); columns.len()];
    for row in rows {
        for (column, value) in counts.iter_mut().zip(count_slots(row.5).copied()) {
            column.push(value);
        }
    }
    UnnestUpsert {
        table,
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
        out.push_sql(")");
        out.push_sql(" ");
        out.push_sql(&add_on_conflict(self.table, &self.columns));
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for UnnestUpsert<'_> {}

/// The count columns besides the score slots.
const COUNTS: [&str; 5] = ["issued", "delivered", "opened", "commented", "suspect"];

/// Every count column of a rollup table: [`COUNTS`], then the score slots `s0`, `s1`, ….
pub(super) fn count_columns() -> Vec<String> {
    COUNTS
        .iter()
        .map(|c| c.to_string())
        .chain((0..SCORE_SLOTS).map(|i| format!("s{i}")))
        .collect()
}

/// The counts of `delta` in the order of [`count_columns`] (by reference, so the SQLite
/// statement can bind them where they are).
pub(super) fn count_slots(delta: &Tally) -> impl Iterator<Item = &i64> {
    [
        &delta.issued,
        &delta.delivered,
        &delta.opened,
        &delta.commented,
        &delta.suspect,
    ]
    .into_iter()
    .chain(&delta.scores)
}

/// The `ON CONFLICT` clause that adds a new row's counts to the existing row of `table`.
pub(super) fn add_on_conflict(table: &str, columns: &[String]) -> String {
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        "ON CONFLICT (survey_id, dim, at, value) DO UPDATE SET {}",
        updates.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::{sqlite_chunk, SQLITE_CHUNKS};

    #[test]
    fn sqlite_chunks_cover_any_batch_with_the_kept_sizes_only() {
        for n in 1..2_000 {
            let (mut rest, mut statements) = (n, 0);
            while rest > 0 {
                let size = sqlite_chunk(rest);
                assert!(SQLITE_CHUNKS.contains(&size) && size <= rest);
                rest -= size;
                statements += 1;
            }
            // Largest first: at most three of each smaller size after the big ones.
            assert!(
                statements <= n / 256 + 12,
                "{n} rows took {statements} statements"
            );
        }
    }
}
