//! Database access: the two-backend connection type, the pool, migrations and per-resource queries.
//!
//! Backend-specific SQL lives only in this module's `match`es on [`AnyConnection`]
//! (migrations, connection set-up, and the few statements Diesel cannot express portably).

pub mod idempotency;
pub mod invitations;
pub mod maintenance;
pub mod outbox;
pub mod responses;
pub mod schema;
pub mod secrets;
pub mod stats;
pub mod suppressions;
pub mod surveys;
pub mod workspaces;

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;
use crate::error::ApiError;

/// One connection to either backend; queries are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// A PostgreSQL connection.
    Postgresql(PgConnection),
    /// An SQLite connection.
    Sqlite(SqliteConnection),
}

/// The shared r2d2 pool of [`AnyConnection`]s.
pub type DbPool = Pool<ConnectionManager<AnyConnection>>;

/// A connection checked out of [`DbPool`].
pub type DbConn = PooledConnection<ConnectionManager<AnyConnection>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a writer waits for SQLite's lock before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Arbitrary constant naming the Postgres advisory lock that serialises migrations
/// when several instances start at once.
const MIGRATION_LOCK_KEY: i64 = 0x5c0e_4ee9;

/// Sets up every new SQLite connection: WAL so readers never block the writer,
/// a busy timeout so concurrent writers queue instead of failing, and enforced foreign keys.
#[derive(Debug)]
struct SqliteSetup;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqliteSetup {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(conn) = conn {
            // WAL itself is set once in `connect`: it is a property of the file.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                 PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Opens a pool for `url`, reporting the real cause when the database cannot be reached.
pub fn connect(url: &DatabaseUrl, pool_size: u32) -> anyhow::Result<DbPool> {
    let raw = url.connection_string();
    match url {
        DatabaseUrl::Postgres(_) => {
            // MultiConnection hides the cause of a failed connect; a direct attempt reports it.
            PgConnection::establish(raw)
                .with_context(|| format!("cannot connect to PostgreSQL at {}", url.redacted()))?;
        }
        DatabaseUrl::Sqlite(_) => {
            // Switch the file to WAL once, on one connection, before the pool opens several
            // at the same time: the switch needs an exclusive lock that they would race for.
            let mut conn = SqliteConnection::establish(raw)
                .with_context(|| format!("cannot open SQLite database {}", url.redacted()))?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"
            ))
            .with_context(|| format!("cannot switch {} to WAL mode", url.redacted()))?;
        }
    }
    Pool::builder()
        .max_size(pool_size)
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqliteSetup))
        .build(ConnectionManager::<AnyConnection>::new(raw))
        .with_context(|| format!("cannot open database {}", url.redacted()))
}

/// Brings the schema up to date; a current database is left alone.
pub fn run_migrations(pool: &DbPool) -> anyhow::Result<()> {
    let mut conn = pool
        .get()
        .context("cannot check out a connection to migrate")?;
    let result = match &mut *conn {
        AnyConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(drop),
        AnyConnection::Postgresql(conn) => {
            conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .context("cannot take the migration lock")?;
            let result = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop);
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .context("cannot release the migration lock")?;
            result
        }
    };
    result
        .map_err(|e| anyhow::anyhow!(e))
        .context("migrations failed")
}

/// Runs `work` in a transaction that holds the write lock from its first statement:
/// `BEGIN IMMEDIATE` on SQLite, so a read followed by a write can never fail with
/// `SQLITE_BUSY` (the busy timeout applies to taking the lock), and a plain `BEGIN` on Postgres.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    let result = work(conn);
    let end = match (&result, &mut *conn) {
        (Ok(_), AnyConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (Ok(_), AnyConnection::Postgresql(c)) => AnsiTransactionManager::commit_transaction(c),
        (Err(_), AnyConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (Err(_), AnyConnection::Postgresql(c)) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(commit_failed)) => {
            let _ = match conn {
                AnyConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
                AnyConnection::Postgresql(c) => AnsiTransactionManager::rollback_transaction(c),
            };
            Err(commit_failed.into())
        }
        (Err(e), _) => Err(e),
    }
}

/// Serialises writers that share `key` until the surrounding transaction ends.
/// Postgres takes a transaction-scoped advisory lock; SQLite needs nothing, because
/// [`write_transaction`] already holds its single write lock.
pub fn lock_key(conn: &mut AnyConnection, key: &str) -> Result<(), diesel::result::Error> {
    use diesel::RunQueryDsl;
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(c)?;
    }
    Ok(())
}

/// Makes the rest of the current transaction read one snapshot. SQLite's transactions
/// already do; Postgres needs REPEATABLE READ (the statement must come first).
pub fn snapshot_reads(conn: &mut AnyConnection) -> Result<(), diesel::result::Error> {
    if let AnyConnection::Postgresql(c) = conn {
        c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    }
    Ok(())
}

/// Runs blocking database work on actix's blocking thread pool and maps its errors.
pub async fn run<T, F>(pool: &DbPool, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// The current time as stored: UTC, truncated to microseconds so both backends keep it exactly.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Converts an API timestamp to the stored form (see [`now`]).
pub fn to_stored(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc().trunc_subsecs(6)
}

/// Converts a stored timestamp back to UTC.
pub fn from_stored(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}
