//! Idempotency records for invitation creation (Stripe semantics). A record keeps the
//! outcome (which invitation, issued or suppressed), not the JSON served: a replay rebuilds
//! the view from the invitation, so a change of the view cannot break it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::idempotency_keys;
use super::{AnyConnection, DbResult};
use crate::domain::ids::{InvitationId, WorkspaceId};

/// Outcome names, as stored.
pub mod outcome {
    /// The invitation was issued (201).
    pub const ISSUED: &str = "issued";
    /// The recipient was suppressed (200).
    pub const SUPPRESSED: &str = "suppressed";
}

/// The first outcome given under a key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct Record {
    /// Fingerprint of the first request's target and body.
    pub request_hash: String,
    /// The invitation the first request created.
    #[diesel(deserialize_as = String)]
    pub invitation_id: InvitationId,
    /// See [`outcome`].
    pub outcome: String,
}

/// The record for a key, if the key was used before.
pub fn find(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    key_hash: &str,
) -> DbResult<Option<Record>> {
    Ok(idempotency_keys::table
        .find((workspace_id.as_str(), key_hash))
        .select(Record::as_select())
        .first(conn)
        .optional()?)
}

/// Stores the first outcome under a key; call in the same transaction as the work it records.
pub fn insert(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    key_hash: &str,
    record: &Record,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::workspace_id.eq(workspace_id.as_str()),
            idempotency_keys::key_hash.eq(key_hash),
            idempotency_keys::request_hash.eq(&record.request_hash),
            idempotency_keys::invitation_id.eq(record.invitation_id.as_str()),
            idempotency_keys::outcome.eq(&record.outcome),
            idempotency_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
