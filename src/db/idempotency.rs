//! Idempotency records for invitation creation (Stripe semantics).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::idempotency_keys;
use super::AnyConnection;

/// The first answer given under a key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct Record {
    /// Fingerprint of the first request's target and body.
    pub request_hash: String,
    /// Its HTTP status.
    pub status_code: i32,
    /// Its JSON body, without links (a replay re-derives them).
    pub response_body: String,
}

/// The record for a key, if the key was used before.
pub fn find(
    conn: &mut AnyConnection,
    workspace_id: &str,
    key_hash: &str,
) -> QueryResult<Option<Record>> {
    idempotency_keys::table
        .find((workspace_id, key_hash))
        .select(Record::as_select())
        .first(conn)
        .optional()
}

/// Stores the first answer under a key; call in the same transaction as the work it records.
pub fn insert(
    conn: &mut AnyConnection,
    workspace_id: &str,
    key_hash: &str,
    record: &Record,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::workspace_id.eq(workspace_id),
            idempotency_keys::key_hash.eq(key_hash),
            idempotency_keys::request_hash.eq(&record.request_hash),
            idempotency_keys::status_code.eq(record.status_code),
            idempotency_keys::response_body.eq(&record.response_body),
            idempotency_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
