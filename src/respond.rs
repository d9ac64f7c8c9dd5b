//! Answering a survey link: resolving its token and recording an answer under the rules of
//! `domain::answer`, in one write transaction.

use std::collections::HashMap;

use crate::db::invitations::Invitation;
use crate::db::responses::{self, Liveness, Response};
use crate::db::rollups::{self, Accumulator};
use crate::db::surveys::Survey;
use crate::db::webhooks::Webhook;
use crate::db::{self, AnyConnection};
use crate::domain::answer::{self, Answer};
use crate::domain::ids::{InvitationId, SurveyId};
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
    check_live(&invitation)?;
    Ok((invitation, survey))
}

/// Whether `invitation` can be answered now: never issued → 404, expired → 410.
fn check_live(invitation: &Invitation) -> Result<(), ApiError> {
    if !invitation.is_issued() {
        return Err(ApiError::NotFound("survey link"));
    }
    if invitation.expires_at.is_some_and(|at| at <= db::now()) {
        return Err(ApiError::Gone);
    }
    Ok(())
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
        // The survey as it stands now, held until the commit.
        let current = db::surveys::hold_current(conn, &[&survey.id])?;
        let survey = current
            .as_ref()
            .and_then(|now| now.get(&survey.id))
            .unwrap_or(survey);
        let mut cells = Accumulator::new();
        let recorded = record_one(conn, (invitation, survey, answer), &mut cells)?;
        cells.write(conn)?;
        Ok(recorded)
    })
}

/// [`record_all`] of one answer.
pub fn record_one(
    conn: &mut AnyConnection,
    answering: Answering<'_>,
    cells: &mut Accumulator,
) -> Result<(Response, bool), ApiError> {
    record_all(conn, &[answering], cells)?
        .pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no answer recorded")))
}

/// An answer to a survey link as it arrived, not yet checked against the link's survey.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The link's token.
    pub token: SurveyToken,
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

/// An answer resolved against its link: the link exists, can be answered, belongs to the
/// right survey, and the score lies on its scale. Writing it re-checks what can change
/// until the write: expiry, cancellation, erasure.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The link's invitation.
    pub invitation: Invitation,
    /// Its survey.
    pub survey: Survey,
    /// The parsed answer.
    pub answer: Answer,
}

/// Resolves `submission` against its link `found` (looked up by the token's hash; `None`
/// if unknown) and parses its answer on the survey's scale.
pub fn resolve(
    found: Option<(Invitation, Survey)>,
    submission: &Submission,
) -> Result<Prepared, ApiError> {
    let (invitation, survey) = found.ok_or(ApiError::NotFound("survey link"))?;
    check_live(&invitation)?;
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

/// A comment (or anything without a score) to a link with no answer yet: well-formed, but
/// the link's state does not allow it yet.
pub fn no_answer_yet() -> ApiError {
    ApiError::Conflict("this link has no answer yet: send a score first".into())
}

/// One answer to record: its link's invitation and survey, as read before the write, and
/// the answer.
pub type Answering<'a> = (&'a Invitation, &'a Survey, &'a Answer);

/// Records each answer of `batch` (each to a different link) inside the caller's write
/// transaction, with a few statements for the whole batch, their rollup changes added to
/// `cells`. Returns each stored response and whether it is new, in order. If any answer is
/// refused, returns its error, and the caller must roll back: part of the batch is written.
/// An anonymous survey's answer gets an id that carries no time, and cuts the invitation
/// from its person (nothing is sent to someone who answered).
///
/// The caller holds the batch's surveys (see [`db::surveys::hold_current`]) and passes them
/// as they stand since: their anonymity and segments decide what is written.
pub fn record_all(
    conn: &mut AnyConnection,
    batch: &[Answering<'_>],
    cells: &mut Accumulator,
) -> Result<Vec<(Response, bool)>, ApiError> {
    let at = db::now();
    let ids: Vec<&InvitationId> = batch.iter().map(|(i, _, _)| &i.id).collect();
    // An answer means the link was opened, whatever the page saw before.
    let mut liveness = responses::mark_responded_if_live(conn, &ids, at)?;
    let mut opened = HashMap::with_capacity(batch.len());
    let invitations = batch
        .iter()
        .map(|(invitation, _, _)| match liveness.remove(&invitation.id) {
            // Addressed as it stands now, not as it was read before the write.
            Some(Liveness::Live(to, opening)) => {
                opened.insert(invitation.id.clone(), opening);
                Ok(Invitation {
                    recipient_email: to.email,
                    recipient_name: to.name,
                    recipient_external_id: to.external_id,
                    ..(*invitation).clone()
                })
            }
            Some(Liveness::Expired) => Err(ApiError::Gone),
            _ => Err(ApiError::NotFound("survey link")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut existing = responses::for_invitations(conn, &ids)?;
    let mut prior = Vec::with_capacity(batch.len());
    let mut applied = Vec::with_capacity(batch.len());
    for ((_, _, answer), invitation) in batch.iter().zip(&invitations) {
        let before = existing.remove(&invitation.id);
        let recorded = before.as_ref().map(Response::recorded);
        if recorded.is_none() && answer.score.is_none() {
            return Err(no_answer_yet());
        }
        applied.push(answer::apply(recorded.as_ref(), answer, at)?);
        prior.push(before);
    }
    let saving: Vec<responses::Saving<'_>> = batch
        .iter()
        .zip(&invitations)
        .zip(prior.iter().zip(&applied))
        .map(
            |(((_, survey, answer), invitation), (before, applied))| responses::Saving {
                invitation,
                existing: before.as_ref(),
                state: &applied.state,
                changes: &applied.changes,
                user_agent: answer.user_agent.as_deref(),
                anonymous: survey.anonymous,
            },
        )
        .collect();
    let stored = responses::save(conn, &saving, at)?;
    let anonymous: Vec<&str> = batch
        .iter()
        .filter(|(_, survey, _)| survey.anonymous)
        .map(|(invitation, _, _)| invitation.id.as_str())
        .collect();
    if !anonymous.is_empty() {
        db::invitations::cut_identities(conn, &anonymous)?;
    }
    // The rollups move with the answers: each old score (or flag) out, the new one in.
    let mut moved = Vec::new();
    for (((_, survey, _), invitation), (before, applied)) in batch
        .iter()
        .zip(&invitations)
        .zip(prior.iter().zip(&applied))
    {
        let mut delta =
            opened.remove(&invitation.id).unwrap_or_default() + answer_tally(&applied.state);
        if let Some(old) = before {
            delta += -answer_tally(&old.recorded());
        }
        if !delta.is_zero() {
            moved.push(((invitation, *survey), delta));
        }
    }
    let (answered, deltas): (Vec<_>, Vec<_>) = moved.into_iter().unzip();
    for (cell, delta) in rollups::cells_for(conn, &answered)?.iter().zip(deltas) {
        cells.add_cell(cell, delta);
    }
    // Each workspace's subscriptions read once for the batch.
    let mut subscriptions: HashMap<&str, Vec<Webhook>> = HashMap::new();
    for (((_, survey, _), invitation), (response, (before, applied))) in batch
        .iter()
        .zip(&invitations)
        .zip(stored.iter().zip(prior.iter().zip(&applied)))
    {
        // An anonymous survey's answers raise no event: it would arrive the moment one
        // invitation turns `responded`, which ties the answer to that invitation's person.
        if applied.changes.is_empty() || survey.anonymous {
            continue;
        }
        let workspace = invitation.workspace_id.as_str();
        if !subscriptions.contains_key(workspace) {
            let found = db::webhooks::subscriptions(conn, workspace)?;
            subscriptions.insert(workspace, found);
        }
        let kind = if before.is_none() {
            "response.created"
        } else {
            "response.updated"
        };
        db::webhooks::emit_to(
            conn,
            &subscriptions[workspace],
            workspace,
            kind,
            event_data(invitation, response),
            at,
        )?;
    }
    Ok(stored
        .into_iter()
        .zip(prior)
        .map(|(response, before)| (response, before.is_none()))
        .collect())
}

/// The object a response event carries (never for an anonymous survey, which raises none).
fn event_data(invitation: &Invitation, response: &Response) -> serde_json::Value {
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
