//! Rollup changes of one long transaction (an import) gathered on Postgres in temporary
//! tables and written into the rollups once per cell at its end.
//!
//! An import's rows come in no particular time order, and its summed changes are handed over
//! every [`super::MAX_PENDING_CELLS`] cells to bound memory. Upserted straight away, the
//! same cells were written again with every hand-over, each time an index probe and a row
//! update at a random page of the rollup tables (and, after each checkpoint, a full-page
//! image in the WAL). Appended to a temporary table instead (no WAL, no index; by a binary
//! COPY), they are summed by Postgres at the end and each cell is written once, in key order.
//!
//! Only quarter-hour cells are staged ([`Accumulator::quarters_only`]): the hours, days and
//! weeks are sums of whole quarter hours, which the merge derives from them. That stages
//! fewer than half the rows that staging every grain did.
//!
//! SQLite writes the changes straight into the rollups (its import holds the database's
//! write lock and was never limited by them), and so does a Postgres role that may not
//! create temporary tables.

use std::io::Write;

use diesel::connection::SimpleConnection;
use diesel::pg::CopyFormat;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::Bool;

use super::upsert::{add_on_conflict, count_columns, count_slots};
use super::{Accumulator, CellDelta, Grain};
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
        // Counts as int4 (a quarter hour's changes in one hand-over fit; a larger count is
        // refused, not wrapped), keys compared bytewise as live writers sort them: narrower
        // rows, cheaper sorts, and sums without `numeric`.
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
        // No key to lock or keep in order: appended as they come, by a binary COPY.
        let cells = cells.unsorted();
        diesel::copy_from(staged_rollup_quarters::table)
            .from_raw_data(staged_rollup_quarters::table, |out| {
                write_binary(out, &cells).map_err(|e| Error::SerializationError(Box::new(e)))
            })
            .with_format(CopyFormat::Binary)
            .execute(pg)?;
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

/// The statements that write the summed grains into the rollups in key order (byte order,
/// whatever the database's collation, as live batches sort names), coarsest grain first as
/// live batches lock them (so an import's finish and a live batch wait for
/// each other instead of deadlocking): plain inserts, or upserts that add to cells already
/// there.
fn insert_sums(columns: &str, upsert: bool) -> String {
    Grain::ALL
        .into_iter()
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
                 ORDER BY survey_id COLLATE \"C\", dim COLLATE \"C\", at, value COLLATE \"C\" \
                 {on_conflict};",
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

diesel::table! {
    /// The temporary table that [`Staging::begin`] creates, as COPY names its columns (in the
    /// order of [`write_binary`]'s fields).
    staged_rollup_quarters (survey_id, dim, at, value) {
        survey_id -> Text,
        dim -> Text,
        value -> Text,
        at -> Timestamp,
        issued -> Integer,
        delivered -> Integer,
        opened -> Integer,
        commented -> Integer,
        suspect -> Integer,
        s0 -> Integer,
        s1 -> Integer,
        s2 -> Integer,
        s3 -> Integer,
        s4 -> Integer,
        s5 -> Integer,
        s6 -> Integer,
        s7 -> Integer,
        s8 -> Integer,
        s9 -> Integer,
        s10 -> Integer,
    }
}

/// Microseconds from the Unix epoch to Postgres's (2000-01-01), from which a binary
/// `timestamp` counts.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Writes `cells` in COPY's binary format (a header, each row as its field count and each
/// field as its length and bytes, a trailer): survey, dimension, value, start, then the
/// counts in the order of [`count_columns`], each an int4 (one past its range is an error).
fn write_binary(out: &mut dyn Write, cells: &[CellDelta]) -> std::io::Result<()> {
    fn field(row: &mut Vec<u8>, bytes: &[u8]) {
        row.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        row.extend_from_slice(bytes);
    }
    let fields = i16::try_from(4 + count_columns().len()).expect("a few columns");
    out.write_all(b"PGCOPY\n\xff\r\n\0")?;
    // No flags, no header extension.
    out.write_all(&[0; 8])?;
    let mut row = Vec::with_capacity(256);
    for (_, survey, dim, value, at, delta) in cells {
        row.clear();
        row.extend_from_slice(&fields.to_be_bytes());
        for text in [survey, dim, value] {
            field(&mut row, text.as_bytes());
        }
        let micros = at.and_utc().timestamp_micros() - POSTGRES_EPOCH_MICROS;
        field(&mut row, &micros.to_be_bytes());
        for count in count_slots(delta) {
            let count = i32::try_from(*count).map_err(std::io::Error::other)?;
            field(&mut row, &count.to_be_bytes());
        }
        out.write_all(&row)?;
    }
    out.write_all(&(-1i16).to_be_bytes())
}

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

#[cfg(test)]
mod tests {
    use super::write_binary;
    use super::Grain;
    use crate::domain::stats::tally::Tally;

    #[test]
    fn sums_are_written_coarsest_grain_first_as_live_batches_lock_them() {
        let sql = super::insert_sums("n", true);
        let at: Vec<usize> = Grain::ALL
            .iter()
            .map(|g| sql.find(&format!("INSERT INTO {} ", g.table())).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{sql}");
    }

    #[test]
    fn the_staged_table_is_named_as_its_diesel_description_says() {
        use diesel::prelude::*;
        // COPY goes through the `table!` description; the table is created by name.
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(
            &super::staged_rollup_quarters::table.select(super::staged_rollup_quarters::at),
        )
        .to_string();
        assert!(
            sql.contains(&format!("FROM \"{}\"", super::STAGED)),
            "{sql}"
        );
    }

    #[test]
    fn cells_are_written_in_copys_binary_format() {
        let at = chrono::DateTime::from_timestamp(946_684_801, 0)
            .unwrap()
            .naive_utc();
        let delta = Tally::answer(9, false, false, 1);
        let cells = [(Grain::Quarter, "s1", "agent", "ana", at, &delta)];
        let mut out = Vec::new();
        write_binary(&mut out, &cells).unwrap();
        let (header, rest) = out.split_at(19);
        assert_eq!(header, b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
        assert_eq!(&rest[..2], &20i16.to_be_bytes());
        // Each text as its length and bytes.
        assert_eq!(&rest[2..8], b"\0\0\0\x02s1");
        assert_eq!(&rest[8..17], b"\0\0\0\x05agent");
        assert_eq!(&rest[17..24], b"\0\0\0\x03ana");
        // One second after Postgres's epoch, in microseconds.
        assert_eq!(&rest[24..28], &8i32.to_be_bytes());
        assert_eq!(&rest[28..36], &1_000_000i64.to_be_bytes());
        // Sixteen int4 counts, then the trailer.
        let counts: Vec<i32> = rest[36..36 + 16 * 8]
            .chunks(8)
            .map(|f| {
                assert_eq!(&f[..4], &4i32.to_be_bytes());
                i32::from_be_bytes(f[4..].try_into().unwrap())
            })
            .collect();
        let expected: Vec<i32> = super::count_slots(&delta).map(|c| *c as i32).collect();
        assert_eq!(counts, expected);
        assert_eq!(counts[5 + 9], 1);
        assert_eq!(&rest[36 + 16 * 8..], &(-1i16).to_be_bytes());
    }

    #[test]
    fn a_count_past_int4_is_an_error_not_a_wrapped_number() {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let delta = Tally {
            issued: i64::from(i32::MAX) + 1,
            ..Tally::default()
        };
        let cells = [(Grain::Quarter, "s1", "", "", at, &delta)];
        assert!(write_binary(&mut Vec::new(), &cells).is_err());
    }
}
