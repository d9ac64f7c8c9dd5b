//! The connection type that spans both backends.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

/// One connection to either backend; queries are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// A PostgreSQL connection.
    Postgresql(PgConnection),
    /// An SQLite connection.
    Sqlite(SqliteConnection),
}
