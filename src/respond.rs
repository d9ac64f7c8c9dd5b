//! Answering a survey link: resolving its token and recording an answer under the rules of
//! `domain::answer`, in one write transaction.

use crate::db::invitations::Invitation;
use crate::db::responses::{self, Liveness, Response};
use crate::db::rollups::{self, Accumulator};
use crate::db::surveys::Survey;
use crate::db::{self, AnyConnection};
use crate::domain::answer::{self, Answer};
use crate::domain::ids::SurveyId;
use crate::domain::secret::SurveyToken;
use crate::domain::stats::tally::Tally;
use crate::error::ApiError;

/// The invitation behind `token` and its survey, whether or not it can still be answered.
/// Anything that is not a known token → 404.
pub fn find_any(conn: &mut AnyConnection, token: &str) -> Result<(Invitation, Survey), ApiError> {
    let token = SurveyToken::parse(token).ok_or(ApiError::NotFound("survey link"))?;
    db::invitations::find_by_token_hash(conn, &token.hash())?
        .ok_or(ApiError::NotFound("survey link"))
}

/// The invitation behind `token` if it can be answered: unknown or never issued → 404,
/// expired → 410.
pub fn find_live(conn: &mut AnyConnection, token: &str) -> Result<(Invitation, Survey), ApiError> {
    let (invitation, survey) = find_any(conn, token)?;
    if !invitation.is_issued() {
        return Err(ApiError::NotFound("survey link"));
    }
    if invitation.expires_at.is_some_and(|at| at <= db::now()) {
        return Err(ApiError::Gone);
    }
    Ok((invitation, survey))
}

/// The live link behind `token` with its recorded answer, if any (what the page shows).
pub fn page_state(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<(Invitation, Survey, Option<Response>), ApiError> {
    let (invitation, survey) = find_live(conn, token)?;
    let response = responses::for_invitation(conn, &invitation.id)?;
    Ok((invitation, survey, response))
}

/// Records `answer` for `invitation` of `survey` in its own write transaction. Returns the
/// stored response and whether it is new.
pub fn record(
    conn: &mut AnyConnection,
    invitation: &Invitation,
    survey: &Survey,
    answer: &Answer,
) -> Result<(Response, bool), ApiError> {
    db::write_transaction(conn, |conn| {
        let mut cells = Accumulator::new();
        let recorded = record_into(conn, invitation, survey, answer, &mut cells)?;
        cells.write(conn)?;
        Ok(recorded)
    })
}

/// An answer to a survey link as it arrived, not yet checked against the link's survey.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The link's token.
    pub token: String,
    /// The survey the link must belong to (the widget's), if any.
    pub survey: Option<SurveyId>,
    /// The score as sent.
    pub score: Option<serde_json::Value>,
    /// The comment as sent.
    pub comment: Option<String>,
    /// Whether the page's script sent a pre-chosen score on its own.
    pub auto: bool,
    /// The browser's user agent.
    pub user_agent: Option<String>,
}

/// An answer resolved against its link: everything that can be checked before the write
/// lock (the link exists, belongs to the right survey, and the score lies on its scale).
/// Writing it re-checks what can change meanwhile: expiry, cancellation, erasure, and the
/// survey's settings.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The link's invitation, as read before the write.
    pub invitation: Invitation,
    /// Its survey, as read before the write.
    pub survey: Survey,
    /// The parsed answer.
    pub answer: Answer,
}

/// Resolves `submission`'s link and parses its answer: reads only, so requests do this in
/// parallel and the writer gets only the writes.
pub fn prepare(conn: &mut AnyConnection, submission: &Submission) -> Result<Prepared, ApiError> {
    let (invitation, survey) = find_live(conn, &submission.token)?;
    if submission.survey.as_ref().is_some_and(|s| *s != survey.id) {
        return Err(ApiError::NotFound("survey link"));
    }
    let (_, scale) = survey.kind_and_scale()?;
    let answer = Answer::parse(
        scale,
        submission.score.as_ref(),
        submission.comment.as_deref(),
        submission.auto,
        submission.user_agent.as_deref(),
    )?;
    Ok(Prepared {
        invitation,
        survey,
        answer,
    })
}

/// Records `answer` for `invitation` of `survey` inside the caller's write transaction, its
/// rollup changes added to `cells`. Returns the stored response and whether it is new. An
/// anonymous survey's answer gets an id that carries no time, and cuts the invitation from
/// its person (nothing is sent to someone who answered).
pub fn record_into(
    conn: &mut AnyConnection,
    invitation: &Invitation,
    survey: &Survey,
    answer: &Answer,
    cells: &mut Accumulator,
) -> Result<(Response, bool), ApiError> {
    let at = db::now();
    let invitation = &match responses::mark_responded_if_live(conn, &invitation.id, at)? {
        // Addressed as it stands now, not as it was read before the write.
        Liveness::Live(to) => Invitation {
            recipient_email: to.email,
            recipient_name: to.name,
            recipient_external_id: to.external_id,
            ..invitation.clone()
        },
        Liveness::Expired => return Err(ApiError::Gone),
        Liveness::NotIssued => return Err(ApiError::NotFound("survey link")),
    };
    // An answer means the link was opened, whatever the page saw before.
    let opened = db::funnel::open(conn, &invitation.id, at)?;
    let existing = responses::for_invitation(conn, &invitation.id)?;
    let recorded = existing.as_ref().map(Response::recorded);
    if recorded.is_none() && answer.score.is_none() {
        // Well-formed, but the link's state does not allow it yet.
        return Err(ApiError::Conflict(
            "this link has no answer yet: send a score first".into(),
        ));
    }
    let applied = answer::apply(recorded.as_ref(), answer, at)?;
    let response = responses::save(
        conn,
        invitation,
        existing.as_ref(),
        &applied.state,
        &applied.changes,
        responses::Saving {
            user_agent: answer.user_agent.as_deref(),
            anonymous: survey.anonymous,
            at,
        },
    )?;
    if survey.anonymous {
        db::invitations::cut_identity(conn, &invitation.id)?;
    }
    // The rollups move with the answer: the old score (or flag) out, the new one in.
    let mut delta = opened + answer_tally(&applied.state);
    if let Some(old) = &recorded {
        delta += -answer_tally(old);
    }
    if !delta.is_zero() {
        cells.add_cell(&rollups::cell_for(conn, invitation, survey)?, delta);
    }
    if !applied.changes.is_empty() {
        let kind = if existing.is_none() {
            "response.created"
        } else {
            "response.updated"
        };
        db::webhooks::emit(
            conn,
            invitation.workspace_id.as_str(),
            kind,
            event_data(invitation, survey, &response),
            at,
        )?;
    }
    Ok((response, existing.is_none()))
}

/// The object a response event carries: for an anonymous survey, the answer without its
/// invitation, recipient or any time finer than the day.
fn event_data(invitation: &Invitation, survey: &Survey, response: &Response) -> serde_json::Value {
    if survey.anonymous {
        return serde_json::json!({
            "id": response.id.as_str(),
            "survey_id": response.survey_id.as_str(),
            "anonymous": true,
            "score": response.score,
            "comment": response.comment,
            "suspect": response.suspect,
            "created_at": db::from_stored(db::day_of(response.created_at)),
            "updated_at": db::from_stored(db::day_of(response.updated_at)),
        });
    }
    serde_json::json!({
        "id": response.id.as_str(),
        "survey_id": response.survey_id.as_str(),
        "invitation_id": invitation.id.as_str(),
        "channel": invitation.channel,
        "score": response.score,
        "comment": response.comment,
        "suspect": response.suspect,
        "recipient": {
            "email": invitation.recipient_email,
            "name": invitation.recipient_name,
            "external_id": invitation.recipient_external_id,
        },
        "created_at": db::from_stored(response.created_at),
        "updated_at": db::from_stored(response.updated_at),
    })
}

/// What a recorded answer adds to its cell.
fn answer_tally(answer: &answer::Recorded) -> Tally {
    let commented = answer.comment.as_deref().is_some_and(|c| !c.is_empty());
    Tally::answer(answer.score, answer.suspect, commented, 1)
}

/// Records that a person opened the page of `invitation` (once; answering also does).
pub fn record_open(conn: &mut AnyConnection, invitation: &Invitation) -> Result<(), ApiError> {
    if invitation.opened_at.is_some() {
        return Ok(());
    }
    db::write_transaction(conn, |conn| {
        db::funnel::mark_opened(conn, &invitation.id, db::now())
    })?;
    Ok(())
}
