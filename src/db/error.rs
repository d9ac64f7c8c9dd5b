//! The database layer's own errors: what went wrong in storage words, which the HTTP layer
//! maps to status codes (`ApiError: From<DbError>`).

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Every way a database call can fail, sorted by what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row does not exist (in the caller's workspace); names what was looked for.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A concurrent writer got there first (a unique key was taken in between).
    #[error("conflicting concurrent change: {0}")]
    Conflict(String),
    /// The stored state forbids the change (a limit reached, a decision already made); the
    /// message is for the caller.
    #[error("refused: {0}")]
    Refused(String),
    /// The database could not take the work now: SQLite still locked after its busy
    /// timeout, a PostgreSQL serialization failure or deadlock, or no pooled connection.
    /// Retrying shortly is safe: nothing was written.
    #[error("database busy: {0}")]
    Busy(String),
    /// A stored value that the code cannot read back (a defect or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The blocking task running the query panicked or was cancelled.
    #[error("database task did not finish: {0}")]
    Panicked(String),
    /// Anything else.
    #[error(transparent)]
    Other(DieselError),
}

/// Results of database calls.
pub type DbResult<T> = Result<T, DbError>;

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound("row"),
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_owned();
                match kind {
                    DatabaseErrorKind::UniqueViolation => Self::Conflict(message),
                    DatabaseErrorKind::SerializationFailure => Self::Busy(message),
                    // SQLite reports SQLITE_BUSY / SQLITE_LOCKED as unknown errors with these
                    // texts; Postgres reports a deadlock as unknown with SQLSTATE 40P01.
                    _ if is_busy_message(&message) => Self::Busy(message),
                    other => Self::Other(DieselError::DatabaseError(other, info)),
                }
            }
            other => Self::Other(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Self::Busy(format!("no database connection available: {err}"))
    }
}

fn is_busy_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database is locked")
        || m.contains("database table is locked")
        || m.contains("database is busy")
        || m.contains("deadlock detected")
        || m.contains("lock timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Info(&'static str);

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db_error(kind: DatabaseErrorKind, message: &'static str) -> DbError {
        DieselError::DatabaseError(kind, Box::new(Info(message))).into()
    }

    #[test]
    fn predictable_conditions_are_told_apart_from_the_unexpected() {
        assert!(matches!(
            db_error(
                DatabaseErrorKind::UniqueViolation,
                "UNIQUE constraint failed"
            ),
            DbError::Conflict(_)
        ));
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, "database is locked"),
            DbError::Busy(_)
        ));
        assert!(matches!(
            db_error(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize"
            ),
            DbError::Busy(_)
        ));
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, "deadlock detected"),
            DbError::Busy(_)
        ));
        assert!(matches!(
            db_error(
                DatabaseErrorKind::Unknown,
                "canceling statement due to lock timeout"
            ),
            DbError::Busy(_)
        ));
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, "disk I/O error"),
            DbError::Other(_)
        ));
        assert!(matches!(
            DbError::from(DieselError::NotFound),
            DbError::NotFound(_)
        ));
    }
}
