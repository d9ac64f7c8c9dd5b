//! Rollup changes of one long transaction (an import) gathered on Postgres in temporary
//! tables and written into the rollups once per cell at its end.
//!
//! An import's rows come in no particular time order, and its summed changes are handed over
//! every [`super::MAX_PENDING_CELLS`] cells to bound memory. Upserted straight away, the
//! same cells were written again with every hand-over, each time an index probe and a row
//! update at a random page of the rollup tables (and, after each checkpoint, a full-page
//! image in the WAL). Appended to a temporary table instead (no WAL, no index), they are
//! summed by Postgres at the end and each cell is written once, in key order.
//!
//! Only quarter-hour cells are staged ([`Accumulator::quarters_only`]): the hours, days and
//! weeks are sums of whole quarter hours, which the merge derives from them. That stages
//! fewer than half the rows that staging every grain did.
//!
//! SQLite writes the changes straight into the rollups (its import holds the database's
//! write lock and was never limited by them), and so does a Postgres role that may not
//! create temporary tables.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::Bool;

use super::upsert::{add_on_conflict, count_columns, upsert_unnest, UNNEST_BATCH};
use super::{Accumulator, Grain};
use crate::db::{AnyConnection, DbResult};

/// Where an import's rollup changes go until [`Staging::finish`].
#[derive(Debug)]
pub struct Staging {
    /// Whether the temporary table exists (Postgres).
    staged: bool,
}

impl Staging {
    /// Creates the temporary table on Postgres, dropped when the transaction ends. Call
    /// inside the transaction. A role that may not create temporary tables (`TEMPORARY`
    /// revoked on the database) writes its changes straight into the rollups instead.
    pub fn begin(conn: &mut AnyConnection) -> DbResult<Self> {
        if !matches!(conn, AnyConnection::Postgresql(_)) {
            return Ok(Self { staged: false });
        }
        // Counts as int4 (a quarter hour's changes in one hand-over fit: a larger one fails
        // the cast rather than wrap), keys compared bytewise as live writers sort them:
        // narrower rows, cheaper sorts, and sums without `numeric`.
        let counts: Vec<String> = count_columns()
            .iter()
            .map(|c| format!("{c} int4"))
            .collect();
        let create = format!(
            "CREATE TEMPORARY TABLE {STAGED} (survey_id text COLLATE \"C\", \
             dim text COLLATE \"C\", value text COLLATE \"C\", at timestamp, {}) \
             ON COMMIT DROP",
            counts.join(", ")
        );
        let created = crate::db::savepoint(conn, |conn| conn.batch_execute(&create));
        if let Err(e) = &created {
            tracing::info!(error = %e, "no temporary tables: rollup changes written as they come");
        }
        Ok(Self {
            staged: created.is_ok(),
        })
    }

    /// Takes summed changes: quarter hours only ([`Accumulator::quarters_only`]) are
    /// appended to the temporary table; anything else is written into the rollups.
    pub fn add(&mut self, conn: &mut AnyConnection, mut cells: Accumulator) -> DbResult<()> {
        let (true, true, AnyConnection::Postgresql(pg)) =
            (self.staged, cells.is_quarters_only(), &mut *conn)
        else {
            return cells.write(conn);
        };
        // No key to lock or keep in order: appended as they come.
        for chunk in cells.unsorted().chunks(UNNEST_BATCH) {
            upsert_unnest(pg, STAGED, chunk, false)?;
        }
        Ok(())
    }

    /// Adds the staged changes into the rollups, summed per cell, in each table's key order
    /// (as live writers lock cells). Call before the transaction commits.
    ///
    /// The quarter hours are summed into a temporary table, and each coarser grain from the
    /// sums of the next finer one (hours of quarters, days of hours, weeks of days), so each
    /// step sorts fewer rows than the one before. Into a survey that has no rollup rows yet
    /// (an import into a new survey), the sums are plain inserts, at about half the cost of
    /// an upsert each; should a live answer have written a cell meanwhile, they are rolled
    /// back and upserted.
    pub fn finish(self, conn: &mut AnyConnection) -> DbResult<()> {
        let (true, AnyConnection::Postgresql(pg)) = (self.staged, conn) else {
            return Ok(());
        };
        let columns = count_columns().join(", ");
        pg.batch_execute(&sum_grains())?;
        let fresh: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!(
            "NOT EXISTS (SELECT 1 FROM {} WHERE survey_id IN (SELECT survey_id FROM {}))",
            Grain::Week.table(),
            summed(Grain::Week)
        )))
        .get_result(pg)?;
        if fresh {
            match pg.transaction(|pg| pg.batch_execute(&insert_sums(&columns, false))) {
                Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                    tracing::info!(
                        error = info.message(),
                        "a cell was written meanwhile: upserting"
                    );
                }
                done => return Ok(done?),
            }
        }
        pg.batch_execute(&insert_sums(&columns, true))?;
        Ok(())
    }
}

/// The statements that sum the staged quarter hours into one temporary table per grain,
/// finest first, each from the one before (sums of int4 counts are int8; stored as int4
/// again, they fail rather than wrap past 2^31 answers in one cell).
fn sum_grains() -> String {
    let sums: Vec<String> = count_columns()
        .iter()
        .map(|c| format!("sum({c})::int4 AS {c}"))
        .collect();
    let mut source = STAGED.to_owned();
    let mut statements = String::new();
    for grain in Grain::ALL.into_iter().rev() {
        let into = summed(grain);
        statements.push_str(&format!(
            "CREATE TEMPORARY TABLE {into} ON COMMIT DROP AS \
             SELECT survey_id, dim, value, {floor} AS at, {sums} \
             FROM {source} GROUP BY 1, 2, 4, 3;",
            floor = floor_sql(grain),
            sums = sums.join(", "),
        ));
        source = into;
    }
    statements
}

/// The statements that write the summed grains into the rollups in key order: plain
/// inserts, or upserts that add to cells already there.
fn insert_sums(columns: &str, upsert: bool) -> String {
    Grain::ALL
        .into_iter()
        .rev()
        .map(|grain| {
            let table = grain.table();
            let on_conflict = if upsert {
                add_on_conflict(table, &count_columns())
            } else {
                String::new()
            };
            format!(
                "INSERT INTO {table} (survey_id, dim, value, at, {columns}) \
                 SELECT survey_id, dim, value, at, {columns} FROM {summed} \
                 ORDER BY survey_id, dim, at, value {on_conflict};",
                summed = summed(grain),
            )
        })
        .collect()
}

/// The temporary table of `grain`'s summed changes.
fn summed(grain: Grain) -> String {
    format!("summed_{}", grain.table())
}

/// The temporary table that stages the quarter-hour changes.
const STAGED: &str = "staged_rollup_quarters";

/// The start of the `grain` cell holding `at`, in SQL, as [`Grain::floor`] computes it
/// (`date_trunc('week', …)` starts ISO weeks on Mondays; a quarter is already floored).
fn floor_sql(grain: Grain) -> &'static str {
    match grain {
        Grain::Week => "date_trunc('week', at)",
        Grain::Day => "date_trunc('day', at)",
        Grain::Hour => "date_trunc('hour', at)",
        Grain::Quarter => "at",
    }
}
