//! The server key's fallback home: when `SECRET_KEY` is not set, one random key is generated
//! on first start and kept here, so every instance and restart derives the same links.

use diesel::prelude::*;

use super::schema::server_secrets;
use super::{now, AnyConnection};
use crate::error::ApiError;

const LINK_KEY: &str = "link-key";

/// The stored server key, created on first use.
pub fn link_key(
    conn: &mut AnyConnection,
    fresh: impl FnOnce() -> String,
) -> Result<String, ApiError> {
    super::write_transaction(conn, |conn| {
        super::lock_key(conn, "server-secret")?;
        let existing = server_secrets::table
            .find(LINK_KEY)
            .select(server_secrets::value)
            .first::<String>(conn)
            .optional()?;
        if let Some(value) = existing {
            return Ok(value);
        }
        let value = fresh();
        diesel::insert_into(server_secrets::table)
            .values((
                server_secrets::name.eq(LINK_KEY),
                server_secrets::value.eq(&value),
                server_secrets::created_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(value)
    })
}
