//! The server key's old home. Versions before the key file kept a generated key in the
//! `server_secrets` table; start-up moves such a key to the key file and deletes it here,
//! so that a copy of the database alone can no longer rebuild any link.

use diesel::prelude::*;

use super::schema::server_secrets;
use super::{AnyConnection, DbResult};

const LINK_KEY: &str = "link-key";

/// The key an earlier version stored, if any.
pub fn legacy_link_key(conn: &mut AnyConnection) -> DbResult<Option<String>> {
    Ok(server_secrets::table
        .find(LINK_KEY)
        .select(server_secrets::value)
        .first::<String>(conn)
        .optional()?)
}

/// Deletes the stored key, once it is safely in the key file.
pub fn forget_legacy_link_key(conn: &mut AnyConnection) -> DbResult<()> {
    diesel::delete(server_secrets::table.find(LINK_KEY)).execute(conn)?;
    Ok(())
}
