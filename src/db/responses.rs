//! Responses (at most one per invitation) and their history of changes.
//! The rules for applying an answer live in `domain::answer`; this module only stores.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::invitations::{status, Invitation};
use super::schema::{invitations, response_events, responses};
use super::{funnel, AnyConnection, DbError, DbResult};
use crate::domain::answer::{Change, Recorded};
use crate::domain::ids::{InvitationId, ResponseId, SurveyId, WorkspaceId};
use crate::domain::page::PageRequest;
use crate::domain::stats::tally::Tally;

/// A stored response.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = responses)]
pub struct Response {
    /// Its id.
    #[diesel(deserialize_as = String)]
    pub id: ResponseId,
    /// The invitation answered.
    #[diesel(deserialize_as = String)]
    pub invitation_id: InvitationId,
    /// The survey answered.
    #[diesel(deserialize_as = String)]
    pub survey_id: SurveyId,
    /// The latest score.
    pub score: i32,
    /// The latest comment.
    pub comment: Option<String>,
    /// Whether the answer looks automated; suspect answers are left out of scores.
    pub suspect: bool,
    /// Why it is suspect.
    pub suspect_reason: Option<String>,
    /// The user agent of the latest answer.
    pub user_agent: Option<String>,
    /// How many times the link was answered.
    pub answer_count: i32,
    /// First answer.
    pub created_at: NaiveDateTime,
    /// Latest answer or comment.
    pub updated_at: NaiveDateTime,
    /// Latest change of score.
    pub score_changed_at: NaiveDateTime,
    /// Whether the latest score was sent by the page's script on its own.
    pub auto_sent: bool,
}

impl Response {
    /// The state that the answer rules work on.
    pub fn recorded(&self) -> Recorded {
        Recorded {
            score: self.score,
            comment: self.comment.clone(),
            suspect: self.suspect,
            suspect_reason: self.suspect_reason.clone(),
            auto_sent: self.auto_sent,
            score_changed_at: self.score_changed_at,
        }
    }
}

/// One entry of a response's history: its state right after a change.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = response_events)]
pub struct Event {
    /// `created`, `score` or `comment` (see [`Change`]).
    pub change: String,
    /// The score after the change.
    pub score: i32,
    /// The comment after the change.
    pub comment: Option<String>,
    /// Whether the answer looked automated after the change.
    pub suspect: bool,
    /// When.
    pub at: NaiveDateTime,
}

/// Whether a link can take an answer right now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per answer of a batch, for the batch's length: boxing would allocate for each"
)]
pub enum Liveness {
    /// Issued, not expired: the invitation is now marked responded (and opened, if it was
    /// not) and its row is locked. Holds whom it is addressed to as it stands now (an erasure
    /// may have cut it), and what its opening adds to its rollup cell (nothing if it had
    /// been opened before).
    Live(Addressee, Tally),
    /// Its `expires_at` has passed.
    Expired,
    /// Failed, suppressed, or gone.
    NotIssued,
}

/// Whom an invitation is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Addressee {
    /// The recipient's email.
    pub email: Option<String>,
    /// The recipient's name.
    pub name: Option<String>,
    /// The recipient's id in the caller's system.
    pub external_id: Option<String>,
}

diesel::define_sql_function! {
    /// SQL `coalesce` of an optional time and a time, the same on both backends.
    fn coalesce(
        x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
        y: diesel::sql_types::Timestamp,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Timestamp>;
}

/// Marks `ids` responded, and opened where they were not, where they can still be answered
/// at `at`, and says of each whether it could. Call first in the answers' write transaction:
/// it takes the invitations' row locks (Postgres) or the database's write lock (SQLite)
/// before anything else is read, so concurrent answers to one link queue here instead of
/// racing, a concurrent cancellation, expiry or erasure wins, and an opening (a page view's,
/// or an earlier answer's in the same transaction) counts once. `ids` are distinct.
///
/// One UPDATE sets both columns: a second one would write each row again, and on Postgres a
/// row written twice in one transaction no longer fits its page, so every index of
/// `invitations` takes a new entry.
pub fn mark_responded_if_live(
    conn: &mut AnyConnection,
    ids: &[&InvitationId],
    at: NaiveDateTime,
) -> DbResult<HashMap<InvitationId, Liveness>> {
    let keys: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    // Which were opened already, read under the rows' locks (Postgres) or the write lock
    // (SQLite), so nothing opens them between this read and the write below.
    let seen = invitations::table
        .filter(invitations::id.eq_any(&keys))
        .select((invitations::id, invitations::opened_at.is_not_null()));
    let opened: HashMap<String, bool> = match conn {
        AnyConnection::Postgresql(pg) => seen.for_no_key_update().load(pg)?,
        AnyConnection::Sqlite(lite) => seen.load(lite)?,
    }
    .into_iter()
    .collect();
    let live: Vec<(String, Addressee, String, Option<NaiveDateTime>)> = diesel::update(
        invitations::table
            .filter(invitations::id.eq_any(&keys))
            .filter(invitations::status.ne_all(status::NOT_ISSUED))
            .filter(
                invitations::expires_at
                    .is_null()
                    .or(invitations::expires_at.gt(at)),
            ),
    )
    .set((
        invitations::status.eq(status::RESPONDED),
        invitations::opened_at.eq(coalesce(invitations::opened_at, at)),
    ))
    .returning((
        invitations::id,
        (
            invitations::recipient_email,
            invitations::recipient_name,
            invitations::recipient_external_id,
        ),
        invitations::channel,
        invitations::sent_at,
    ))
    .get_results(conn)?;
    let mut found: HashMap<InvitationId, Liveness> = live
        .into_iter()
        .map(|(id, to, channel, sent_at)| {
            let opening = if opened.get(&id).copied().unwrap_or(true) {
                Tally::default()
            } else {
                funnel::opening(&channel, status::RESPONDED, sent_at)
            };
            (InvitationId::from(id), Liveness::Live(to, opening))
        })
        .collect();
    let refused: Vec<&str> = keys
        .into_iter()
        .filter(|k| !found.contains_key(*k))
        .collect();
    if !refused.is_empty() {
        let expired: Vec<(String, Option<NaiveDateTime>)> = invitations::table
            .filter(invitations::id.eq_any(&refused))
            .select((invitations::id, invitations::expires_at))
            .load(conn)?;
        let expired: HashMap<String, bool> = expired
            .into_iter()
            .map(|(id, e)| (id, e.is_some_and(|e| e <= at)))
            .collect();
        for id in refused {
            let liveness = if expired.get(id).copied().unwrap_or(false) {
                Liveness::Expired
            } else {
                Liveness::NotIssued
            };
            found.insert(InvitationId::from(id.to_string()), liveness);
        }
    }
    Ok(found)
}

/// Rows per multi-row INSERT: 13 columns each stays far under SQLite's 32,766 binds.
const ROWS_PER_STATEMENT: usize = 1_000;

/// One answer to store.
#[derive(Debug, Clone, Copy)]
pub struct Saving<'a> {
    /// The invitation answered.
    pub invitation: &'a Invitation,
    /// The response already recorded for it, if any.
    pub existing: Option<&'a Response>,
    /// The answer's new state.
    pub state: &'a Recorded,
    /// What changed (one history entry each).
    pub changes: &'a [Change],
    /// The browser's user agent, if any.
    pub user_agent: Option<&'a str>,
    /// Whether its survey is anonymous (its id then carries no time).
    pub anonymous: bool,
}

impl Saving<'_> {
    /// The response as it is stored at `at`.
    fn stored(&self, at: NaiveDateTime) -> Response {
        let state = self.state;
        let (id, answer_count, created_at) = match self.existing {
            None if self.anonymous => (ResponseId::random(), 1, at),
            None => (ResponseId::generate(), 1, at),
            Some(prev) => (
                prev.id.clone(),
                prev.answer_count.saturating_add(1),
                prev.created_at,
            ),
        };
        Response {
            id,
            invitation_id: self.invitation.id.clone(),
            survey_id: self.invitation.survey_id.clone(),
            score: state.score,
            comment: state.comment.clone(),
            suspect: state.suspect,
            suspect_reason: state.suspect_reason.clone(),
            user_agent: self.user_agent.map(str::to_owned),
            answer_count,
            created_at,
            updated_at: at,
            score_changed_at: state.score_changed_at,
            auto_sent: state.auto_sent,
        }
    }
}

/// Stores the new state of each answer of `answers` at `at` (new responses in one
/// statement) and one history entry per change. Returns the stored responses, in order.
pub fn save(
    conn: &mut AnyConnection,
    answers: &[Saving<'_>],
    at: NaiveDateTime,
) -> DbResult<Vec<Response>> {
    let stored: Vec<Response> = answers.iter().map(|a| a.stored(at)).collect();
    let mut created = Vec::new();
    for (answer, r) in answers.iter().zip(&stored) {
        if answer.existing.is_some() {
            diesel::update(responses::table.find(r.id.as_str()))
                .set((
                    responses::score.eq(r.score),
                    responses::comment.eq(&r.comment),
                    responses::suspect.eq(r.suspect),
                    responses::suspect_reason.eq(&r.suspect_reason),
                    responses::user_agent.eq(&r.user_agent),
                    responses::answer_count.eq(r.answer_count),
                    responses::updated_at.eq(r.updated_at),
                    responses::score_changed_at.eq(r.score_changed_at),
                    responses::auto_sent.eq(r.auto_sent),
                ))
                .execute(conn)?;
            continue;
        }
        created.push((
            responses::id.eq(r.id.as_str()),
            responses::invitation_id.eq(r.invitation_id.as_str()),
            responses::survey_id.eq(r.survey_id.as_str()),
            responses::score.eq(r.score),
            responses::comment.eq(r.comment.as_deref()),
            responses::suspect.eq(r.suspect),
            responses::suspect_reason.eq(r.suspect_reason.as_deref()),
            responses::user_agent.eq(r.user_agent.as_deref()),
            responses::answer_count.eq(r.answer_count),
            responses::created_at.eq(r.created_at),
            responses::updated_at.eq(r.updated_at),
            responses::score_changed_at.eq(r.score_changed_at),
            responses::auto_sent.eq(r.auto_sent),
        ));
    }
    // Time-ordered ids, so the history reads back in the order it happened.
    let event_ids: Vec<Vec<ResponseId>> = answers
        .iter()
        .map(|a| a.changes.iter().map(|_| ResponseId::generate()).collect())
        .collect();
    let events: Vec<_> = answers
        .iter()
        .zip(&stored)
        .zip(&event_ids)
        .flat_map(|((answer, r), ids)| {
            answer.changes.iter().zip(ids).map(move |(change, id)| {
                (
                    response_events::id.eq(id.as_str()),
                    response_events::response_id.eq(r.id.as_str()),
                    response_events::change.eq(change.as_str()),
                    response_events::score.eq(r.score),
                    response_events::comment.eq(r.comment.as_deref()),
                    response_events::suspect.eq(r.suspect),
                    response_events::at.eq(at),
                )
            })
        })
        .collect();
    // Multi-row statements run on the backend's own connection (`MultiConnection` cannot
    // batch), in chunks that stay under SQLite's bind limit.
    for chunk in created.chunks(ROWS_PER_STATEMENT) {
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_into(responses::table)
                .values(chunk)
                .execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(responses::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_into(response_events::table)
                .values(chunk)
                .execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(response_events::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(stored)
}

/// The responses answering `ids`, by invitation.
pub fn for_invitations(
    conn: &mut AnyConnection,
    ids: &[&InvitationId],
) -> DbResult<HashMap<InvitationId, Response>> {
    let keys: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let found: Vec<Response> = responses::table
        .filter(responses::invitation_id.eq_any(keys))
        .select(Response::as_select())
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|r| (r.invitation_id.clone(), r))
        .collect())
}

/// The response answering `invitation`, if any.
pub fn for_invitation(
    conn: &mut AnyConnection,
    invitation: &InvitationId,
) -> DbResult<Option<Response>> {
    Ok(responses::table
        .filter(responses::invitation_id.eq(invitation.as_str()))
        .select(Response::as_select())
        .first(conn)
        .optional()?)
}

/// How many responses survey `id` has, and how many of them carry a comment.
pub fn counts(conn: &mut AnyConnection, id: &SurveyId) -> DbResult<(i64, i64)> {
    let all = responses::table
        .filter(responses::survey_id.eq(id.as_str()))
        .count()
        .get_result(conn)?;
    let commented = responses::table
        .filter(responses::survey_id.eq(id.as_str()))
        .filter(responses::comment.is_not_null())
        .filter(responses::comment.ne(""))
        .count()
        .get_result(conn)?;
    Ok((all, commented))
}

/// Whether survey `id` has any response.
pub fn any_for_survey(conn: &mut AnyConnection, id: &SurveyId) -> DbResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        responses::table.filter(responses::survey_id.eq(id.as_str())),
    ))
    .get_result(conn)?)
}

/// A response with the invitation it answers.
pub type ResponseWithInvitation = (Response, Invitation);

/// One page of a survey's responses (the survey must already be known to be the caller's).
pub fn list(
    conn: &mut AnyConnection,
    survey_id: &SurveyId,
    page: &PageRequest,
) -> DbResult<Vec<ResponseWithInvitation>> {
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(responses::survey_id.eq(survey_id.as_str()))
        .select((Response::as_select(), Invitation::as_select()))
        .order(responses::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(responses::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

/// The response `id` with its invitation, if it belongs to `workspace_id`.
pub fn find_in_workspace(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    id: &ResponseId,
) -> DbResult<ResponseWithInvitation> {
    responses::table
        .inner_join(invitations::table)
        .filter(responses::id.eq(id.as_str()))
        .filter(invitations::workspace_id.eq(workspace_id.as_str()))
        .select((Response::as_select(), Invitation::as_select()))
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("response"))
}

/// Most history entries served for one response; an answer changed more often than this
/// is shown with its latest entries.
pub const MAX_HISTORY: i64 = 200;

/// The history of response `id`, oldest first (at most [`MAX_HISTORY`] latest entries).
pub fn history(conn: &mut AnyConnection, id: &ResponseId) -> DbResult<Vec<Event>> {
    let mut latest: Vec<Event> = response_events::table
        .filter(response_events::response_id.eq(id.as_str()))
        .order(response_events::id.desc())
        .limit(MAX_HISTORY)
        .select(Event::as_select())
        .load(conn)?;
    latest.reverse();
    Ok(latest)
}

/// One page of a survey's responses for an export: invitations created in `[from, to)`
/// carrying every `(key, value)` of `filters`, after response id `after`, by id.
pub fn export_page(
    conn: &mut AnyConnection,
    survey_id: &SurveyId,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    filters: &[(String, String)],
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<ResponseWithInvitation>> {
    use super::schema::invitation_properties;
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(responses::survey_id.eq(survey_id.as_str()))
        .select((Response::as_select(), Invitation::as_select()))
        .order(responses::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(from) = from {
        query = query.filter(invitations::created_at.ge(from));
    }
    if let Some(to) = to {
        query = query.filter(invitations::created_at.lt(to));
    }
    if let Some(after) = after {
        query = query.filter(responses::id.gt(after.to_owned()));
    }
    for (k, v) in filters {
        query = query.filter(
            invitations::id.eq_any(
                invitation_properties::table
                    .filter(invitation_properties::key.eq(k.clone()))
                    .filter(invitation_properties::value.eq(v.clone()))
                    .select(invitation_properties::invitation_id),
            ),
        );
    }
    Ok(query.load(conn)?)
}

/// The property keys used by a survey's invitations, sorted (at most `limit`).
pub fn property_keys(
    conn: &mut AnyConnection,
    survey_id: &SurveyId,
    limit: i64,
) -> DbResult<Vec<String>> {
    use super::schema::invitation_properties;
    Ok(invitation_properties::table
        .inner_join(invitations::table)
        .filter(invitations::survey_id.eq(survey_id.as_str()))
        .select(invitation_properties::key)
        .distinct()
        .order(invitation_properties::key.asc())
        .limit(limit)
        .load(conn)?)
}

/// The latest trusted comments on `surveys`, newest first (in id order, which is random,
/// when `by_id`: the newest comment of an anonymous survey is its latest respondent's):
/// `(score, comment, written at)` of answers to invitations created in `[from, to)` carrying
/// every `(key, value)` of `filters`.
pub fn latest_comments(
    conn: &mut AnyConnection,
    surveys: &[SurveyId],
    (from, to): (NaiveDateTime, NaiveDateTime),
    filters: &[(String, String)],
    by_id: bool,
    limit: i64,
) -> DbResult<Vec<(i32, String, NaiveDateTime)>> {
    use super::schema::invitation_properties;
    let ids: Vec<&str> = surveys.iter().map(SurveyId::as_str).collect();
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(responses::survey_id.eq_any(ids))
        .filter(responses::suspect.eq(false))
        .filter(invitations::created_at.ge(from))
        .filter(invitations::created_at.lt(to))
        .filter(responses::comment.is_not_null())
        .select((
            responses::score,
            responses::comment.assume_not_null(),
            responses::updated_at,
        ))
        .limit(limit)
        .into_boxed();
    query = if by_id {
        query.order(responses::id.asc())
    } else {
        query.order((responses::updated_at.desc(), responses::id.desc()))
    };
    for (k, v) in filters {
        query = query.filter(
            invitations::id.eq_any(
                invitation_properties::table
                    .filter(invitation_properties::key.eq(k.clone()))
                    .filter(invitation_properties::value.eq(v.clone()))
                    .select(invitation_properties::invitation_id),
            ),
        );
    }
    Ok(query.load(conn)?)
}
