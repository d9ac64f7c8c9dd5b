//! A timestamp whose SQLite text is formatted ahead of time, so that a bulk writer can format
//! its rows' times on another thread than the one that holds the write lock.

use chrono::NaiveDateTime;
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

/// How Diesel writes a `NaiveDateTime` into SQLite: a [`Stamp`] is stored exactly as the same
/// time written by any other statement, so that text comparisons and ordering agree.
const SQLITE_FORMAT: &str = "%F %T%.f";

/// A time bound as a `Timestamp` (or a nullable one): on SQLite as text formatted when the
/// stamp was made, on Postgres as the time itself.
#[derive(Debug, Clone, AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct Stamp {
    at: NaiveDateTime,
    text: String,
}

impl Stamp {
    /// Stamps `at`, formatting its SQLite text now.
    pub fn new(at: NaiveDateTime) -> Self {
        Self {
            at,
            text: at.format(SQLITE_FORMAT).to_string(),
        }
    }
}

impl ToSql<Timestamp, Sqlite> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.text.as_str());
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamp, Pg>>::to_sql(&self.at, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Stored {
        #[diesel(sql_type = Text)]
        direct: String,
        #[diesel(sql_type = Text)]
        stamped: String,
    }

    #[test]
    fn a_stamp_is_stored_as_the_same_text_as_the_time_itself() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        for at in [
            "2026-03-01T10:00:00",
            "2026-03-01T10:00:00.5",
            "2026-12-31T23:59:59.123456",
            "1999-01-02T03:04:05.000001",
        ] {
            let at: NaiveDateTime = at.parse().unwrap();
            let stored: Stored = diesel::sql_query("SELECT ? AS direct, ? AS stamped")
                .bind::<Timestamp, _>(at)
                .bind::<Timestamp, _>(Stamp::new(at))
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(stored.stamped, stored.direct, "{at}");
        }
    }
}
