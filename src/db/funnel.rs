//! The funnel's steps after issue (delivered, opened), each recorded once on the invitation
//! and moved into the rollups in the same transaction, as the difference of
//! [`Tally::of`] before and after the step.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::invitations::status;
use super::schema::invitations;
use super::{rollups, AnyConnection, DbResult};
use crate::domain::ids::InvitationId;
use crate::domain::stats::tally::{Facts, Tally};

/// Whether a channel's link is delivered on issue: handed to the caller (`link`) or an
/// imported past answer. An email is delivered when sent; a widget invitation when shown.
fn handed_over(channel: &str) -> bool {
    matches!(channel, "link" | "import")
}

/// The facts of an invitation from its stored columns (its answer left out: the steps here
/// never change it, so it cancels from every difference).
pub fn facts(
    channel: &str,
    status: &str,
    sent_at: Option<NaiveDateTime>,
    opened_at: Option<NaiveDateTime>,
) -> Facts {
    Facts {
        issued: !status::NOT_ISSUED.contains(&status),
        handed_over: handed_over(channel),
        sent: sent_at.is_some(),
        opened: opened_at.is_some(),
        answer: None,
    }
}

/// Records the first opening of invitation `id` at `at` (later ones change nothing).
/// Call inside a write transaction.
pub fn mark_opened(conn: &mut AnyConnection, id: &InvitationId, at: NaiveDateTime) -> DbResult<()> {
    match open(conn, &[id], at)?.remove(id) {
        Some(delta) => apply(conn, id, &delta),
        None => Ok(()),
    }
}

/// Marks invitations `ids` opened at `at` where they were not, and returns what that adds
/// to the rollup cell of each one that changed. Call inside a write transaction. (An answer
/// opens its link in the same UPDATE that marks it answered: see
/// [`super::responses::mark_responded_if_live`].)
fn open(
    conn: &mut AnyConnection,
    ids: &[&InvitationId],
    at: NaiveDateTime,
) -> DbResult<HashMap<InvitationId, Tally>> {
    // Conditional on `opened_at IS NULL`, so two concurrent openings count once: the second
    // waits for the first's row lock (Postgres) or write lock (SQLite) and then matches nothing.
    let keys: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let before: Vec<(String, String, String, Option<NaiveDateTime>)> = diesel::update(
        invitations::table
            .filter(invitations::id.eq_any(keys))
            .filter(invitations::opened_at.is_null()),
    )
    .set(invitations::opened_at.eq(at))
    .returning((
        invitations::id,
        invitations::channel,
        invitations::status,
        invitations::sent_at,
    ))
    .get_results(conn)?;
    Ok(before
        .into_iter()
        .map(|(id, channel, status, sent_at)| {
            (InvitationId::from(id), opening(&channel, &status, sent_at))
        })
        .collect())
}

/// What a first opening adds to the rollup cell of an invitation that was not opened, from
/// its stored columns as they stand with the opening.
pub fn opening(channel: &str, status: &str, sent_at: Option<NaiveDateTime>) -> Tally {
    let was = facts(channel, status, sent_at, None);
    change(
        &was,
        &Facts {
            opened: true,
            ..was
        },
    )
}

/// Records that invitation `id`'s email was accepted at `at` (only the first time counts),
/// and returns what that adds to its rollup cell, for a caller that writes the cells of many
/// changes at once (see [`rollups::Accumulator`]). Call inside a write transaction.
pub fn sent(conn: &mut AnyConnection, id: &InvitationId, at: NaiveDateTime) -> DbResult<Tally> {
    let before: Option<(String, String, Option<NaiveDateTime>)> = diesel::update(
        invitations::table
            .find(id.as_str())
            .filter(invitations::sent_at.is_null()),
    )
    .set(invitations::sent_at.eq(at))
    .returning((
        invitations::channel,
        invitations::status,
        invitations::opened_at,
    ))
    .get_result(conn)
    .optional()?;
    Ok(match before {
        Some((channel, status, opened_at)) => {
            let was = facts(&channel, &status, None, opened_at);
            change(&was, &Facts { sent: true, ..was })
        }
        None => Tally::default(),
    })
}

/// Takes invitation `id`, which just stopped counting as issued (its email failed or was
/// cancelled while queued), out of the rollups with every step it had reached.
pub fn unissue(conn: &mut AnyConnection, id: &InvitationId) -> DbResult<()> {
    let (channel, sent_at, opened_at): (String, Option<NaiveDateTime>, Option<NaiveDateTime>) =
        invitations::table
            .find(id.as_str())
            .select((
                invitations::channel,
                invitations::sent_at,
                invitations::opened_at,
            ))
            .first(conn)?;
    let was = facts(&channel, status::QUEUED, sent_at, opened_at);
    step(
        conn,
        id,
        &was,
        &Facts {
            issued: false,
            ..was
        },
    )
}

fn step(conn: &mut AnyConnection, id: &InvitationId, was: &Facts, is: &Facts) -> DbResult<()> {
    apply(conn, id, &change(was, is))
}

/// What moving from `was` to `is` adds to an invitation's rollup cell.
fn change(was: &Facts, is: &Facts) -> Tally {
    Tally::of(is) + -Tally::of(was)
}

/// Adds `delta` to the rollup cell of invitation `id` (nothing to do for a zero change).
fn apply(conn: &mut AnyConnection, id: &InvitationId, delta: &Tally) -> DbResult<()> {
    if delta.is_zero() {
        return Ok(());
    }
    let cell = rollups::cell_of(conn, id)?;
    rollups::apply(conn, &cell, delta)
}
