//! Rating challenges: an agent disputes a rating (a reason category and a note), a reviewer
//! accepts or rejects it once. The response is never changed; stats keep the raw score and
//! add one without accepted challenges. Each step is kept in an audit trail, and a decision
//! emits `challenge.resolved` to webhooks in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::challenges::{self, Challenge, ChallengeEvent};
use crate::db::{self, from_stored, AnyConnection};
use crate::domain::challenge::{Decision, Status};
use crate::domain::ids::{ResponseId, WorkspaceId};
use crate::error::ApiError;

/// A challenge as filed through the API, validated.
#[derive(Debug, Clone)]
pub struct Filing {
    /// The reason category.
    pub reason: &'static str,
    /// The agent's note.
    pub note: Option<String>,
    /// Who files it.
    pub by: String,
}

/// A reviewer's decision, validated.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Accept or reject.
    pub decision: Decision,
    /// Who decides.
    pub by: String,
    /// Why.
    pub note: Option<String>,
}

/// One step of the audit trail as served.
#[derive(Debug, Clone, Serialize)]
pub struct TrailEntryView {
    /// `filed`, `accepted` or `rejected`.
    pub action: String,
    /// Who, as the caller named them.
    pub by: String,
    /// The API key that made the call.
    pub api_key_id: String,
    /// The note given with it.
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A challenge as served (and as sent with `challenge.resolved`).
#[derive(Debug, Clone, Serialize)]
pub struct ChallengeView {
    /// Its id.
    pub id: String,
    /// The response challenged.
    pub response_id: String,
    /// Its invitation.
    pub invitation_id: String,
    /// Its survey.
    pub survey_id: String,
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
    pub created_at: DateTime<Utc>,
    /// Who decided.
    pub resolved_by: Option<String>,
    /// The reviewer's note.
    pub resolution_note: Option<String>,
    /// When it was decided.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Every step, oldest first.
    pub trail: Vec<TrailEntryView>,
}

impl ChallengeView {
    /// Maps a stored challenge and its trail.
    pub fn new(c: Challenge, trail: Vec<ChallengeEvent>) -> Self {
        Self {
            id: c.id,
            response_id: c.response_id,
            invitation_id: c.invitation_id,
            survey_id: c.survey_id,
            status: c.status,
            reason: c.reason,
            note: c.note,
            challenged_by: c.challenged_by,
            score: c.score,
            created_at: from_stored(c.created_at),
            resolved_by: c.resolved_by,
            resolution_note: c.resolution_note,
            resolved_at: c.resolved_at.map(from_stored),
            trail: trail
                .into_iter()
                .map(|e| TrailEntryView {
                    action: e.action,
                    by: e.actor,
                    api_key_id: e.api_key_id,
                    note: e.note,
                    at: from_stored(e.at),
                })
                .collect(),
        }
    }
}

fn event(
    challenge_id: &str,
    action: &str,
    by: &str,
    key_id: &str,
    note: Option<String>,
) -> ChallengeEvent {
    ChallengeEvent {
        id: Uuid::now_v7().to_string(),
        challenge_id: challenge_id.to_owned(),
        action: action.to_owned(),
        actor: by.to_owned(),
        api_key_id: key_id.to_owned(),
        note,
        at: db::now(),
    }
}

fn view(conn: &mut AnyConnection, challenge: Challenge) -> Result<ChallengeView, ApiError> {
    let mut trails = challenges::trails(conn, &[challenge.id.as_str()])?;
    let trail = trails.remove(&challenge.id).unwrap_or_default();
    Ok(ChallengeView::new(challenge, trail))
}

/// Files a challenge of response `response_id` in `workspace`, by the key `key_id`.
pub fn file(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    key_id: &str,
    response_id: &ResponseId,
    filing: Filing,
) -> Result<ChallengeView, ApiError> {
    db::write_transaction(conn, |conn| {
        let (response, invitation) =
            db::responses::find_in_workspace(conn, workspace, response_id)?;
        // A challenge names the invitation an answer came from, and so its person.
        if db::surveys::find(conn, workspace, &response.survey_id)?.anonymous {
            return Err(ApiError::Conflict(
                "this answer is to an anonymous survey, whose answers cannot be challenged: a \
                 challenge names the invitation the answer came from"
                    .to_owned(),
            ));
        }
        let id = Uuid::now_v7().to_string();
        let challenge = Challenge {
            id: id.clone(),
            workspace_id: workspace.to_string(),
            survey_id: response.survey_id.to_string(),
            response_id: response.id.to_string(),
            invitation_id: invitation.id.to_string(),
            status: Status::Open.as_str().to_owned(),
            reason: filing.reason.to_owned(),
            note: filing.note.clone(),
            challenged_by: filing.by.clone(),
            score: response.score,
            created_at: db::now(),
            resolved_by: None,
            resolution_note: None,
            resolved_at: None,
        };
        let filed = event(&id, "filed", &filing.by, key_id, filing.note);
        challenges::insert(conn, &challenge, &filed)?;
        view(conn, challenge)
    })
}

/// Decides challenge `id` in `workspace`, by the key `key_id`, and tells webhooks.
pub fn resolve(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    key_id: &str,
    id: &str,
    resolution: Resolution,
) -> Result<ChallengeView, ApiError> {
    db::write_transaction(conn, |conn| {
        let status = resolution.decision.status();
        let decided = event(id, status.as_str(), &resolution.by, key_id, resolution.note);
        let at = decided.at;
        let challenge = challenges::resolve(conn, workspace, id, status, &decided)?;
        let view = view(conn, challenge)?;
        let data = serde_json::to_value(&view).map_err(ApiError::internal)?;
        db::webhooks::emit(conn, workspace.as_str(), "challenge.resolved", data, at)?;
        Ok(view)
    })
}
