//! Workspaces and their API keys.

use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{api_keys, workspaces};
use super::{now, AnyConnection};
use super::{DbError, DbResult};
use crate::domain::secret::ApiKey;

/// The workspace id that owns the key with this hash, and the key's id, if any.
pub fn find_by_key_hash(
    conn: &mut AnyConnection,
    hash: &str,
) -> DbResult<Option<(String, String)>> {
    Ok(api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .select((api_keys::workspace_id, api_keys::id))
        .first::<(String, String)>(conn)
        .optional()?)
}

/// Creates the workspace `name` if it does not exist and a new API key for it.
/// Returns the key, which is stored only as a hash and cannot be shown again.
pub fn create_api_key(conn: &mut AnyConnection, name: &str) -> DbResult<ApiKey> {
    let key = ApiKey::generate();
    super::write_transaction(conn, |conn| {
        super::lock_key(conn, &format!("workspace:{name}"))?;
        let at = now();
        let fresh_id = Uuid::now_v7().to_string();
        let existing = workspaces::table
            .filter(workspaces::name.eq(name))
            .select(workspaces::id)
            .first::<String>(conn)
            .optional()?;
        let workspace_id = match existing {
            Some(id) => id,
            None => {
                diesel::insert_into(workspaces::table)
                    .values((
                        workspaces::id.eq(&fresh_id),
                        workspaces::name.eq(name),
                        workspaces::created_at.eq(at),
                    ))
                    .execute(conn)?;
                fresh_id
            }
        };
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::id.eq(Uuid::now_v7().to_string()),
                api_keys::workspace_id.eq(&workspace_id),
                api_keys::key_hash.eq(key.hash()),
                api_keys::created_at.eq(at),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })?;
    Ok(key)
}
