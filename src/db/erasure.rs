//! Erasing a person from a workspace (a data-protection request), and the retention sweep
//! that anonymises what is older than a workspace keeps identities for.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitations, people, responses, suppressions, webhook_events, workspaces};
use super::{audiences, rollups, AnyConnection, DbResult};
use crate::domain::email::EmailAddress;
use crate::domain::ids::{InvitationId, WorkspaceId};
use crate::domain::stats::tally::{Facts, Tally};

diesel::define_sql_function! {
    /// SQL `lower`, the same on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// What happens to an erased person's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Kept, no longer linked to anyone: the stats do not change.
    Anonymise,
    /// Deleted with their invitations: the stats lose them.
    Delete,
}

/// What an erasure removed or changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Invitations cut from the person (anonymise) or deleted (delete).
    pub invitations: usize,
    /// Answers deleted.
    pub responses_deleted: usize,
    /// Audience memberships removed.
    pub memberships: usize,
    /// Delighted-facade person records removed.
    pub people: usize,
    /// Whether a suppression was kept, as a hash of the address.
    pub suppression_hashed: bool,
    /// Webhook events that named the address, removed with their deliveries.
    pub webhook_events: usize,
}

/// How an erased address stays suppressed: a SHA-256 of the workspace and the address key,
/// which the email path checks beside the plain key.
pub fn hashed_key(workspace: &WorkspaceId, key: &str) -> String {
    format!(
        "sha256:{}",
        crate::domain::secret::sha256_hex(&format!("{workspace}:{key}"))
    )
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Erases `email` from `workspace`: its invitations lose the address, name and external id
/// (or are deleted, with their answers, taken out of the stats), its audience memberships and
/// person record go, a suppression is kept only as a hash, and webhook events that carried
/// the address are dropped. Call inside a write transaction.
pub fn erase(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    email: &EmailAddress,
    answers: Answers,
) -> DbResult<Erased> {
    let key = email.key();
    // First, before any other lock (a campaign issuing takes the same, also first): no
    // campaign reads them as a member now and invites them after this commits.
    audiences::hold_of_member(conn, workspace, &key)?;
    let mut out = Erased::default();
    let ids: Vec<String> = invitations::table
        .filter(invitations::workspace_id.eq(workspace.as_str()))
        .filter(invitations::recipient_key.eq(&key))
        .select(invitations::id)
        .load(conn)?;
    out.invitations = ids.len();
    match answers {
        Answers::Anonymise => {
            for chunk in ids.chunks(1_000) {
                super::invitations::cut_identities(conn, chunk)?;
            }
        }
        Answers::Delete => {
            for id in &ids {
                out.responses_deleted += delete_invitation(conn, &InvitationId::from(id.clone()))?;
            }
        }
    }
    // Before the memberships go: a campaign cycle that last issued them keeps its place by
    // another member's key.
    super::campaigns::forget_position(conn, workspace, &key)?;
    out.memberships = audiences::remove_everywhere(conn, workspace, &key)?;
    out.people = diesel::delete(
        people::table
            .filter(people::workspace_id.eq(workspace.as_str()))
            .filter(people::email_key.eq(&key)),
    )
    .execute(conn)?;
    if let Some(s) = super::suppressions::find(conn, workspace, &key)? {
        diesel::delete(suppressions::table.find((workspace.as_str(), &s.email))).execute(conn)?;
        diesel::insert_into(suppressions::table)
            .values((
                suppressions::workspace_id.eq(workspace.as_str()),
                suppressions::email.eq(hashed_key(workspace, &key)),
                suppressions::reason.eq(&s.reason),
                // A bounce's detail may quote the address.
                suppressions::detail.eq(None::<String>),
                suppressions::created_at.eq(s.created_at),
            ))
            .execute(conn)?;
        out.suppression_hashed = true;
    }
    let pattern = format!("%{}%", like_escaped(&key));
    out.webhook_events = diesel::delete(
        webhook_events::table
            .filter(webhook_events::workspace_id.eq(workspace.as_str()))
            .filter(lower(webhook_events::body).like(pattern).escape('\\')),
    )
    .execute(conn)?;
    Ok(out)
}

/// Deletes invitation `id` with everything hanging off it, after taking its whole
/// contribution out of the rollups. Returns 1 if it had an answer.
fn delete_invitation(conn: &mut AnyConnection, id: &InvitationId) -> DbResult<usize> {
    // Lock the row before reading it (an update that changes nothing takes the same lock as
    // an answer's write): an answer being written commits first and is read here, so its
    // whole contribution is taken out, not the one before it. SQLite has one writer anyway.
    diesel::update(invitations::table.find(id.as_str()))
        .set(invitations::status.eq(invitations::status))
        .execute(conn)?;
    let (channel, status, sent_at, opened_at): (
        String,
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    ) = invitations::table
        .find(id.as_str())
        .select((
            invitations::channel,
            invitations::status,
            invitations::sent_at,
            invitations::opened_at,
        ))
        .first(conn)?;
    let answer: Option<(i32, bool, Option<String>)> = responses::table
        .filter(responses::invitation_id.eq(id.as_str()))
        .select((responses::score, responses::suspect, responses::comment))
        .first(conn)
        .optional()?;
    let facts = Facts {
        answer: answer.as_ref().map(|(score, suspect, comment)| {
            (
                *score,
                *suspect,
                comment.as_deref().is_some_and(|c| !c.is_empty()),
            )
        }),
        ..super::funnel::facts(&channel, &status, sent_at, opened_at)
    };
    let tally = Tally::of(&facts);
    if !tally.is_zero() {
        let cell = rollups::cell_of(conn, id)?;
        rollups::apply(conn, &cell, &-tally)?;
    }
    // Responses, their history, notes and challenges, properties, outbox rows and campaign
    // links go with it (ON DELETE CASCADE).
    diesel::delete(invitations::table.find(id.as_str())).execute(conn)?;
    Ok(usize::from(answer.is_some()))
}

/// Retention: cuts the identity of every invitation created before `now` less the
/// workspace's `retention_days`, in workspaces that set it; at most `limit` per call.
/// Returns how many were cut.
pub fn sweep_retention(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<usize> {
    let kept: Vec<(String, i32)> = workspaces::table
        .filter(workspaces::retention_days.is_not_null())
        .select((workspaces::id, workspaces::retention_days.assume_not_null()))
        .load(conn)?;
    let mut cut_total = 0;
    for (workspace, days) in kept {
        let before = now - chrono::Duration::days(i64::from(days));
        let ids: Vec<String> = invitations::table
            .filter(invitations::workspace_id.eq(&workspace))
            .filter(invitations::created_at.lt(before))
            .filter(
                invitations::recipient_email
                    .is_not_null()
                    .or(invitations::recipient_name.is_not_null())
                    .or(invitations::recipient_external_id.is_not_null())
                    .or(invitations::recipient_key.is_not_null()),
            )
            .select(invitations::id)
            .limit(limit)
            .load(conn)?;
        cut_total +=
            super::write_transaction(conn, |conn| super::invitations::cut_identities(conn, &ids))?;
        // People on record that long who have no invitation still naming them.
        let named = invitations::table
            .filter(invitations::workspace_id.eq(&workspace))
            .filter(invitations::recipient_key.is_not_null())
            .select(invitations::recipient_key.assume_not_null());
        diesel::delete(
            people::table
                .filter(people::workspace_id.eq(&workspace))
                .filter(people::created_at.lt(before))
                .filter(people::email_key.ne_all(named)),
        )
        .execute(conn)?;
    }
    Ok(cut_total)
}
