//! Responses: recording an answer to a link (at most one response per invitation) and listing them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use uuid::Uuid;

use super::invitations::{status, Invitation};
use super::schema::{invitations, responses};
use super::{now, AnyConnection};
use crate::domain::page::PageRequest;
use crate::domain::scanner::{self, PreviousAnswer};
use crate::domain::score::Score;
use crate::domain::Invalid;
use crate::error::ApiError;

/// A stored response.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = responses)]
pub struct Response {
    /// Its id.
    pub id: String,
    /// The invitation answered.
    pub invitation_id: String,
    /// The survey answered.
    pub survey_id: String,
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

/// One answer as it arrives from the public page.
#[derive(Debug)]
pub struct Answer<'a> {
    /// The score, if the post carries one (a comment-only post may not).
    pub score: Option<Score>,
    /// The comment, if any; replaces the previous one.
    pub comment: Option<&'a str>,
    /// The client's user agent, for scanner detection.
    pub user_agent: Option<&'a str>,
    /// Whether the page's script sent it on its own.
    pub auto: bool,
}

/// Records `answer` for `invitation`: the first answer creates the response,
/// later ones replace the score or the comment. Returns the response and whether it is new.
pub fn record(
    conn: &mut AnyConnection,
    invitation: &Invitation,
    answer: &Answer<'_>,
) -> Result<(Response, bool), ApiError> {
    super::write_transaction(conn, |conn| {
        let at = now();
        // The first statement writes, so it takes the invitation's row lock (Postgres) or the
        // database write lock (SQLite) before anything is read: concurrent answers to one link
        // queue here instead of racing, and SQLite never has to upgrade a read lock.
        // It also re-checks, under that lock, that the link is still live: a concurrent
        // cancellation or an expiry a moment ago must win.
        let live = diesel::update(
            invitations::table
                .find(&invitation.id)
                .filter(invitations::status.ne_all(status::NOT_ISSUED))
                .filter(
                    invitations::expires_at
                        .is_null()
                        .or(invitations::expires_at.gt(at)),
                ),
        )
        .set(invitations::status.eq(status::RESPONDED))
        .execute(conn)?;
        if live == 0 {
            let expired = invitations::table
                .find(&invitation.id)
                .select(invitations::expires_at)
                .first::<Option<NaiveDateTime>>(conn)?
                .is_some_and(|e| e <= at);
            return Err(if expired {
                ApiError::Gone
            } else {
                ApiError::NotFound("survey link")
            });
        }
        let existing = responses::table
            .filter(responses::invitation_id.eq(&invitation.id))
            .select(Response::as_select())
            .first(conn)
            .optional()?;
        let ua = answer.user_agent.map(|u| truncate(u, 512));
        let id = match existing {
            None => {
                let score = answer
                    .score
                    .ok_or_else(|| Invalid::new("score", "is required for the first answer"))?
                    .value();
                let suspect = scanner::assess(ua.as_deref(), None, score, answer.auto, at);
                let id = Uuid::now_v7().to_string();
                diesel::insert_into(responses::table)
                    .values((
                        responses::id.eq(&id),
                        responses::invitation_id.eq(&invitation.id),
                        responses::survey_id.eq(&invitation.survey_id),
                        responses::score.eq(score),
                        responses::comment.eq(answer.comment),
                        responses::suspect.eq(suspect.is_some()),
                        responses::suspect_reason.eq(suspect.map(|r| r.as_str())),
                        responses::user_agent.eq(&ua),
                        responses::answer_count.eq(1),
                        responses::created_at.eq(at),
                        responses::updated_at.eq(at),
                        responses::score_changed_at.eq(at),
                        responses::auto_sent.eq(answer.auto),
                    ))
                    .execute(conn)?;
                return Ok((find(conn, &id)?, true));
            }
            Some(prev) => {
                let score = answer.score.map_or(prev.score, Score::value);
                let (suspect, reason) = match answer.score {
                    // A comment alone says nothing new about who is answering.
                    None => (prev.suspect, prev.suspect_reason.clone()),
                    Some(_) => {
                        let previous = PreviousAnswer {
                            score: prev.score,
                            score_changed_at: prev.score_changed_at,
                            suspect: prev.suspect,
                            auto: prev.auto_sent,
                        };
                        let r =
                            scanner::assess(ua.as_deref(), Some(previous), score, answer.auto, at);
                        (r.is_some(), r.map(|r| r.as_str().to_owned()))
                    }
                };
                let changed_at = if score == prev.score {
                    prev.score_changed_at
                } else {
                    at
                };
                diesel::update(responses::table.find(&prev.id))
                    .set((
                        responses::score.eq(score),
                        responses::comment.eq(answer.comment.or(prev.comment.as_deref())),
                        responses::suspect.eq(suspect),
                        responses::suspect_reason.eq(reason),
                        responses::user_agent.eq(&ua),
                        responses::answer_count.eq(prev.answer_count.saturating_add(1)),
                        responses::updated_at.eq(at),
                        responses::score_changed_at.eq(changed_at),
                        responses::auto_sent.eq(if answer.score.is_some() {
                            answer.auto
                        } else {
                            prev.auto_sent
                        }),
                    ))
                    .execute(conn)?;
                prev.id
            }
        };
        Ok((find(conn, &id)?, false))
    })
}

/// The response answering `invitation_id`, if any.
pub fn for_invitation(
    conn: &mut AnyConnection,
    invitation_id: &str,
) -> Result<Option<Response>, ApiError> {
    Ok(responses::table
        .filter(responses::invitation_id.eq(invitation_id))
        .select(Response::as_select())
        .first(conn)
        .optional()?)
}

/// A response with the invitation it answers.
pub type ResponseWithInvitation = (Response, Invitation);

/// One page of a survey's responses (the survey must already be known to be the caller's).
pub fn list(
    conn: &mut AnyConnection,
    survey_id: &str,
    page: &PageRequest,
) -> Result<Vec<ResponseWithInvitation>, ApiError> {
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(responses::survey_id.eq(survey_id))
        .select((Response::as_select(), Invitation::as_select()))
        .order(responses::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(responses::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

fn find(conn: &mut AnyConnection, id: &str) -> Result<Response, ApiError> {
    Ok(responses::table
        .find(id)
        .select(Response::as_select())
        .first(conn)?)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
