//! The durable email outbox: rows written with their invitation, claimed by workers under
//! a lease, and finished as sent, failed or cancelled. The claim is the one statement whose
//! SQL differs by backend (Postgres adds `FOR UPDATE SKIP LOCKED`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
use uuid::Uuid;

use super::invitations::status;
use super::rollups::{self, Cell};
use super::schema::{invitations, outbox};
use super::{AnyConnection, DbResult};
use crate::domain::ids::InvitationId;
use crate::domain::stats::tally::Tally;

/// Outbox row states.
pub mod state {
    /// Waiting to be sent (possibly claimed by a worker right now).
    pub const PENDING: &str = "pending";
    /// Accepted by the SMTP server.
    pub const SENT: &str = "sent";
    /// Given up after the last attempt or a permanent error.
    pub const FAILED: &str = "failed";
    /// Not sent because the address was suppressed before its turn came.
    pub const CANCELLED: &str = "cancelled";
}

/// Queues the email for `invitation_id`; call inside the invitation's transaction.
pub fn enqueue(
    conn: &mut AnyConnection,
    invitation_id: &InvitationId,
    due: NaiveDateTime,
    now: NaiveDateTime,
    message_domain: &str,
) -> QueryResult<()> {
    enqueue_reminder(conn, invitation_id, 0, due, now, message_domain)
}

/// Queues reminder `reminder` of `invitation_id` (0: the first email): the same link again,
/// sent by the same worker with the same retries.
pub fn enqueue_reminder(
    conn: &mut AnyConnection,
    invitation_id: &InvitationId,
    reminder: i32,
    due: NaiveDateTime,
    now: NaiveDateTime,
    message_domain: &str,
) -> QueryResult<()> {
    let id = Uuid::now_v7().to_string();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(&id),
            outbox::invitation_id.eq(invitation_id.as_str()),
            outbox::state.eq(state::PENDING),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(due),
            // Stable across retries, so a receiver can drop a duplicate after a crash.
            outbox::message_id.eq(format!("<{id}@{message_domain}>")),
            outbox::created_at.eq(now),
            outbox::reminder.eq(reminder),
        ))
        .execute(conn)?;
    Ok(())
}

/// Emails due at `now` and not yet sent, and when the oldest of them fell due (the outbox's
/// lag).
pub fn due(conn: &mut AnyConnection, now: NaiveDateTime) -> DbResult<(i64, Option<NaiveDateTime>)> {
    let pending = || {
        outbox::table
            .filter(outbox::state.eq(state::PENDING))
            .filter(outbox::next_attempt_at.le(now))
    };
    let count = pending().count().get_result(conn)?;
    let oldest = pending()
        .select(diesel::dsl::min(outbox::next_attempt_at))
        .first(conn)?;
    Ok((count, oldest))
}

/// A row a worker has claimed.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    /// Outbox row id.
    #[diesel(sql_type = Text)]
    pub id: String,
    /// The invitation to email.
    #[diesel(sql_type = Text, deserialize_as = String)]
    pub invitation_id: InvitationId,
    /// Attempts so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The Message-ID header.
    #[diesel(sql_type = Text)]
    pub message_id: String,
    /// The worker holding the claim; outcomes are recorded only while it still does.
    #[diesel(sql_type = Text)]
    pub claimed_by: String,
    /// 0 for the first email, N for reminder N.
    #[diesel(sql_type = Integer)]
    pub reminder: i32,
}

/// Claims up to `limit` due rows for `worker` until `lease_until`, counting the attempt now so
/// that a crash mid-send still uses one up. Rows claimed by another live worker are skipped.
pub fn claim(
    conn: &mut AnyConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    const RETURNING: &str =
        "RETURNING id, invitation_id, attempts, message_id, claimed_by, reminder";
    match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(format!(
            "UPDATE outbox SET lease_until = ?, claimed_by = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? \
               AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?) {RETURNING}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c),
        AnyConnection::Postgresql(c) => diesel::sql_query(format!(
            "UPDATE outbox SET lease_until = $1, claimed_by = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at LIMIT $4 \
               FOR UPDATE SKIP LOCKED) {RETURNING}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c),
    }
}

/// Records that the SMTP server accepted the message, and returns the change it makes to
/// the invitation's rollup cell (none if the claim was lost or it was sent before), for the
/// caller to write with the rest of its round (see [`rollups::Accumulator`]).
pub fn mark_sent(
    conn: &mut AnyConnection,
    row: &Claimed,
    now: NaiveDateTime,
) -> DbResult<Option<(Cell, Tally)>> {
    super::write_transaction(conn, |conn| {
        if !finish(conn, row, state::SENT, None, now)? {
            return Ok(None);
        }
        diesel::update(invitations::table.find(row.invitation_id.as_str()))
            .set(invitations::last_error.eq(None::<String>))
            .execute(conn)?;
        let delta = super::funnel::sent(conn, &row.invitation_id, now)?;
        // An answer may already have arrived; never move a status backwards.
        diesel::update(
            invitations::table
                .find(row.invitation_id.as_str())
                .filter(invitations::status.eq(status::QUEUED)),
        )
        .set(invitations::status.eq(status::SENT))
        .execute(conn)?;
        if delta.is_zero() {
            return Ok(None);
        }
        Ok(Some((rollups::cell_of(conn, &row.invitation_id)?, delta)))
    })
}

/// Releases the row for another attempt at `next_at`, keeping the error.
pub fn retry_later(
    conn: &mut AnyConnection,
    row: &Claimed,
    error: &str,
    next_at: NaiveDateTime,
) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        let owned = diesel::update(still_claimed(row))
            .set((
                outbox::next_attempt_at.eq(next_at),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::claimed_by.eq(None::<String>),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?;
        if owned == 0 {
            return Ok(());
        }
        diesel::update(invitations::table.find(row.invitation_id.as_str()))
            .set(invitations::last_error.eq(error))
            .execute(conn)?;
        Ok(())
    })
}

/// Gives up: the invitation becomes `failed` and leaves the response-rate denominator.
pub fn give_up(
    conn: &mut AnyConnection,
    row: &Claimed,
    error: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        if !finish(conn, row, state::FAILED, Some(error), now)? {
            return Ok(());
        }
        diesel::update(invitations::table.find(row.invitation_id.as_str()))
            .set(invitations::last_error.eq(error))
            .execute(conn)?;
        // Someone may have answered through the link the API returned; keep that answer.
        let unissued = diesel::update(
            invitations::table
                .find(row.invitation_id.as_str())
                .filter(invitations::status.eq(status::QUEUED)),
        )
        .set(invitations::status.eq(status::FAILED))
        .execute(conn)?;
        leave_the_denominator(conn, row, unissued)?;
        if unissued > 0 {
            let (workspace, survey, email): (String, String, Option<String>) = invitations::table
                .find(row.invitation_id.as_str())
                .select((
                    invitations::workspace_id,
                    invitations::survey_id,
                    invitations::recipient_email,
                ))
                .first(conn)?;
            super::webhooks::emit(
                conn,
                &workspace,
                "invitation.failed",
                serde_json::json!({
                    "id": row.invitation_id.as_str(),
                    "survey_id": survey,
                    "recipient": {"email": email},
                    "error": error,
                }),
                now,
            )?;
        }
        Ok(())
    })
}

/// Cancels a send because the address was suppressed while the email waited.
pub fn cancel(
    conn: &mut AnyConnection,
    row: &Claimed,
    reason: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        if !finish(conn, row, state::CANCELLED, None, now)? {
            return Ok(());
        }
        let unissued = diesel::update(
            invitations::table
                .find(row.invitation_id.as_str())
                .filter(invitations::status.eq(status::QUEUED)),
        )
        .set((
            invitations::status.eq(status::SUPPRESSED),
            invitations::status_reason.eq(reason),
        ))
        .execute(conn)?;
        leave_the_denominator(conn, row, unissued)
    })
}

/// Cancels the queued email of `invitation_id` if no worker is sending it right now: the
/// invitation becomes `suppressed` with `reason` and leaves the stats. Returns whether it
/// was cancelled. Call inside a write transaction.
pub fn cancel_queued(
    conn: &mut AnyConnection,
    invitation_id: &InvitationId,
    reason: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let cancelled = diesel::update(
        outbox::table
            .filter(outbox::invitation_id.eq(invitation_id.as_str()))
            .filter(outbox::state.eq(state::PENDING))
            .filter(
                outbox::lease_until
                    .is_null()
                    .or(outbox::lease_until.lt(now)),
            ),
    )
    .set((
        outbox::state.eq(state::CANCELLED),
        outbox::finished_at.eq(now),
    ))
    .execute(conn)?;
    if cancelled == 0 {
        return Ok(false);
    }
    let unissued = diesel::update(
        invitations::table
            .find(invitation_id.as_str())
            .filter(invitations::status.eq(status::QUEUED)),
    )
    .set((
        invitations::status.eq(status::SUPPRESSED),
        invitations::status_reason.eq(reason),
    ))
    .execute(conn)?;
    if unissued > 0 {
        super::funnel::unissue(conn, invitation_id)?;
    }
    Ok(true)
}

/// A failed or cancelled email's invitation no longer counts as issued: take it out of the
/// rollups in the same transaction (`changed` is how many invitations changed status).
fn leave_the_denominator(conn: &mut AnyConnection, row: &Claimed, changed: usize) -> DbResult<()> {
    if changed > 0 {
        super::funnel::unissue(conn, &row.invitation_id)?;
    }
    Ok(())
}

/// The query for one outbox row, narrowed to the worker that claimed it.
type StillClaimed<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<outbox::table, &'a str>,
        diesel::dsl::Eq<outbox::claimed_by, &'a str>,
    >,
    diesel::dsl::Eq<outbox::state, &'static str>,
>;

/// The row, only while `row`'s worker still holds it: a worker whose lease lapsed (and whose
/// email another worker may have taken over) must not overwrite the newer outcome.
fn still_claimed(row: &Claimed) -> StillClaimed<'_> {
    outbox::table
        .find(row.id.as_str())
        .filter(outbox::claimed_by.eq(row.claimed_by.as_str()))
        .filter(outbox::state.eq(state::PENDING))
}

/// Ends a row's life.
/// Returns false (and changes nothing) when the claim was lost.
fn finish(
    conn: &mut AnyConnection,
    row: &Claimed,
    to: &str,
    error: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let owned = diesel::update(still_claimed(row))
        .set((
            outbox::state.eq(to),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::finished_at.eq(now),
        ))
        .execute(conn)?;
    if owned == 0 {
        tracing::warn!(outbox = %row.id, "claim lost before the outcome was recorded; leaving it to the new owner");
        return Ok(false);
    }
    if let Some(error) = error {
        diesel::update(outbox::table.find(&row.id))
            .set(outbox::last_error.eq(error))
            .execute(conn)?;
    }
    Ok(true)
}

/// Pending rows (for tests and metrics).
pub fn pending_count(conn: &mut AnyConnection) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::state.eq(state::PENDING))
        .count()
        .get_result(conn)
}
