//! Rollup changes of one long transaction (an import) gathered on Postgres in temporary
//! tables and written into the rollups once per cell at its end.
//!
//! An import's rows come in no particular time order, and its summed changes are handed over
//! every [`super::MAX_PENDING_CELLS`] cells to bound memory. Upserted straight away, the
//! same cells were written again with every hand-over, each time an index probe and a row
//! update at a random page of the rollup tables (and, after each checkpoint, a full-page
//! image in the WAL). Appended to temporary tables instead (no WAL, no index), they are
//! summed by Postgres at the end and each cell is written once, in key order.
//!
//! SQLite writes the changes straight into the rollups (its import holds the database's
//! write lock and was never limited by them), and so does a Postgres role that may not
//! create temporary tables.

use diesel::connection::SimpleConnection;

use super::upsert::{add_on_conflict, count_columns, upsert_unnest, UNNEST_BATCH};
use super::{Accumulator, Grain};
use crate::db::{AnyConnection, DbResult};

/// Where an import's rollup changes go until [`Staging::finish`].
#[derive(Debug)]
pub struct Staging {
    /// Whether the temporary tables exist (Postgres).
    staged: bool,
}

impl Staging {
    /// Creates the temporary tables on Postgres, dropped when the transaction ends. Call
    /// inside the transaction. A role that may not create temporary tables (`TEMPORARY`
    /// revoked on the database) writes its changes straight into the rollups instead.
    pub fn begin(conn: &mut AnyConnection) -> DbResult<Self> {
        if !matches!(conn, AnyConnection::Postgresql(_)) {
            return Ok(Self { staged: false });
        }
        let create: String = Grain::ALL
            .iter()
            .map(|g| {
                format!(
                    "CREATE TEMPORARY TABLE {} (LIKE {}) ON COMMIT DROP;",
                    staged(*g),
                    g.table()
                )
            })
            .collect();
        let created = crate::db::savepoint(conn, |conn| conn.batch_execute(&create));
        if let Err(e) = &created {
            tracing::info!(error = %e, "no temporary tables: rollup changes written as they come");
        }
        Ok(Self {
            staged: created.is_ok(),
        })
    }

    /// Takes summed changes: appended to the temporary tables, or written into the rollups.
    pub fn add(&mut self, conn: &mut AnyConnection, mut cells: Accumulator) -> DbResult<()> {
        let (true, AnyConnection::Postgresql(pg)) = (self.staged, &mut *conn) else {
            return cells.write(conn);
        };
        let sorted = cells.sorted();
        for of_grain in sorted.chunk_by(|a, b| a.0 == b.0) {
            for chunk in of_grain.chunks(UNNEST_BATCH) {
                upsert_unnest(pg, staged(of_grain[0].0), chunk, false)?;
            }
        }
        Ok(())
    }

    /// Adds the staged changes into the rollups, summed per cell, in each table's key order
    /// (as live writers lock cells). Call before the transaction commits.
    pub fn finish(self, conn: &mut AnyConnection) -> DbResult<()> {
        let (true, AnyConnection::Postgresql(pg)) = (self.staged, conn) else {
            return Ok(());
        };
        let columns = count_columns();
        let sums: Vec<String> = columns.iter().map(|c| format!("sum({c})::int8")).collect();
        let merge: String = Grain::ALL
            .iter()
            .map(|g| {
                // Grouped and ordered by the same keys, compared bytewise (as live writers
                // sort them), so that one sort serves both.
                format!(
                    "INSERT INTO {table} (survey_id, dim, value, at, {columns}) \
                     SELECT survey_id COLLATE \"C\", dim COLLATE \"C\", value COLLATE \"C\", \
                     at, {sums} FROM {staged} GROUP BY 1, 2, 4, 3 ORDER BY 1, 2, 4, 3 \
                     {on_conflict};",
                    table = g.table(),
                    columns = columns.join(", "),
                    sums = sums.join(", "),
                    staged = staged(*g),
                    on_conflict = add_on_conflict(g.table(), &columns),
                )
            })
            .collect();
        pg.batch_execute(&merge)?;
        Ok(())
    }
}

/// The temporary table that stages `grain`'s changes.
fn staged(grain: Grain) -> &'static str {
    match grain {
        Grain::Week => "staged_rollup_weeks",
        Grain::Day => "staged_rollup_days",
        Grain::Hour => "staged_rollup_hours",
        Grain::Quarter => "staged_rollup_quarters",
    }
}
