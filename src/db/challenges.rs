//! Rating challenges and their audit trail, scoped to a workspace. Filing and deciding each
//! append an event in the same transaction, so the trail holds every step that happened.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{challenge_events, challenges};
use super::{AnyConnection, DbError, DbResult};
use crate::domain::challenge::Status;
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::page::PageRequest;

/// A stored challenge.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = challenges)]
pub struct Challenge {
    /// Its id (UUIDv7).
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// The survey of the response.
    pub survey_id: String,
    /// The response challenged.
    pub response_id: String,
    /// Its invitation.
    pub invitation_id: String,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    /// The reason category.
    pub reason: String,
    /// The agent's note.
    pub note: Option<String>,
    /// Who filed it.
    pub challenged_by: String,
    /// The score challenged, as it was when filed.
    pub score: i32,
    /// When it was filed.
    pub created_at: NaiveDateTime,
    /// Who decided.
    pub resolved_by: Option<String>,
    /// The reviewer's note.
    pub resolution_note: Option<String>,
    /// When it was decided.
    pub resolved_at: Option<NaiveDateTime>,
}

/// One step of the audit trail.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = challenge_events)]
pub struct ChallengeEvent {
    /// Its id (UUIDv7, so the trail sorts in order).
    pub id: String,
    /// The challenge.
    pub challenge_id: String,
    /// `filed`, `accepted` or `rejected`.
    pub action: String,
    /// Who acted, as the caller named them.
    pub actor: String,
    /// The API key that made the call.
    pub api_key_id: String,
    /// The note given with it.
    pub note: Option<String>,
    /// When.
    pub at: NaiveDateTime,
}

/// Stores `challenge` and its `filed` event. A response has at most one challenge that is
/// open or accepted: another answers 409 (checked first for a clear message, and enforced by
/// a unique index against a concurrent filing). Call inside a write transaction.
pub fn insert(
    conn: &mut AnyConnection,
    challenge: &Challenge,
    filed: &ChallengeEvent,
) -> DbResult<()> {
    let live: Option<(String, String)> = challenges::table
        .filter(challenges::response_id.eq(&challenge.response_id))
        .filter(challenges::status.ne(Status::Rejected.as_str()))
        .select((challenges::id, challenges::status))
        .first(conn)
        .optional()?;
    if let Some((id, status)) = live {
        return Err(DbError::Refused(format!(
            "this response already has an {status} challenge ({id}); a new one can be filed \
             only after a rejection"
        )));
    }
    diesel::insert_into(challenges::table)
        .values(challenge)
        .execute(conn)?;
    diesel::insert_into(challenge_events::table)
        .values(filed)
        .execute(conn)?;
    Ok(())
}

/// Finds challenge `id` in `workspace`.
pub fn find(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<Challenge> {
    challenges::table
        .filter(challenges::id.eq(id))
        .filter(challenges::workspace_id.eq(workspace.as_str()))
        .select(Challenge::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("challenge"))
}

/// Records `decision` on open challenge `id` (→ `status`) and appends it to the trail. A
/// challenge is decided once: one already decided answers 409. The update is conditional
/// on `open`, so two reviewers deciding at once cannot both win. Call inside a write
/// transaction.
pub fn resolve(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    id: &str,
    status: Status,
    decision: &ChallengeEvent,
) -> DbResult<Challenge> {
    let current = find(conn, workspace, id)?;
    let changed = diesel::update(
        challenges::table
            .filter(challenges::id.eq(id))
            .filter(challenges::status.eq(Status::Open.as_str())),
    )
    .set((
        challenges::status.eq(status.as_str()),
        challenges::resolved_by.eq(&decision.actor),
        challenges::resolution_note.eq(&decision.note),
        challenges::resolved_at.eq(decision.at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(DbError::Refused(format!(
            "this challenge was already {}; a decision is final (file a new challenge after a \
             rejection)",
            current.status
        )));
    }
    diesel::insert_into(challenge_events::table)
        .values(decision)
        .execute(conn)?;
    find(conn, workspace, id)
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ChallengeSearch {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this survey.
    pub survey_id: Option<String>,
    /// Only this response.
    pub response_id: Option<String>,
}

/// One page of the workspace's challenges, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    search: &ChallengeSearch,
    page: &PageRequest,
) -> DbResult<Vec<Challenge>> {
    let mut query = challenges::table
        .filter(challenges::workspace_id.eq(workspace.as_str()))
        .select(Challenge::as_select())
        .order(challenges::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(challenges::id.gt(after.clone()));
    }
    if let Some(status) = search.status {
        query = query.filter(challenges::status.eq(status.as_str()));
    }
    if let Some(survey) = &search.survey_id {
        query = query.filter(challenges::survey_id.eq(survey.clone()));
    }
    if let Some(response) = &search.response_id {
        query = query.filter(challenges::response_id.eq(response.clone()));
    }
    Ok(query.load(conn)?)
}

/// The trails of `ids`, each oldest first. A challenge has at most two events (filed and
/// decided), so this is bounded by twice the page.
pub fn trails(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> DbResult<BTreeMap<String, Vec<ChallengeEvent>>> {
    let events: Vec<ChallengeEvent> = challenge_events::table
        .filter(challenge_events::challenge_id.eq_any(ids))
        .order(challenge_events::id.asc())
        .select(ChallengeEvent::as_select())
        .load(conn)?;
    let mut by_challenge: BTreeMap<String, Vec<ChallengeEvent>> = BTreeMap::new();
    for e in events {
        by_challenge
            .entry(e.challenge_id.clone())
            .or_default()
            .push(e);
    }
    Ok(by_challenge)
}

/// The invitations of `surveys` whose answers an accepted challenge leaves out of the
/// adjusted score: a probe of a partial index, empty (and nearly free) for most surveys.
/// At most `limit` are read: `None` when there are more.
pub fn accepted_invitations(
    conn: &mut AnyConnection,
    surveys: &[SurveyId],
    limit: i64,
) -> DbResult<Option<Vec<String>>> {
    let ids: Vec<&str> = surveys.iter().map(SurveyId::as_str).collect();
    let found: Vec<String> = challenges::table
        .filter(challenges::survey_id.eq_any(ids))
        .filter(challenges::status.eq(Status::Accepted.as_str()))
        .select(challenges::invitation_id)
        .limit(limit + 1)
        .load(conn)?;
    Ok((found.len() as i64 <= limit).then_some(found))
}
