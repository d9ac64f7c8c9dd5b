//! Helpdesk triggers: a solved ticket schedules its survey email (once per ticket while the
//! first is open), and a reopened ticket cancels an email not yet sent.

pub mod challenges;

use chrono::{DateTime, Utc};

use crate::db::invitations::{self, status, Invitation};
use crate::db::{self, outbox, surveys, AnyConnection};
use crate::domain::email::EmailAddress;
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::properties::Properties;
use crate::error::ApiError;
use crate::invite::{self, Channel, InvitationRequest, Issuer, Outcome};

/// The property that names the ticket.
pub const TICKET_ID: &str = "ticket_id";

/// A solved ticket, validated.
#[derive(Debug, Clone)]
pub struct TicketSolved {
    /// The survey to send.
    pub survey_id: SurveyId,
    /// The helpdesk's ticket id.
    pub ticket_id: String,
    /// The requester.
    pub email: EmailAddress,
    /// Their name.
    pub name: Option<String>,
    /// Every property, `ticket_id` and the ticket's agent, team, … included.
    pub properties: Properties,
    /// When the ticket was solved (`None`: now).
    pub solved_at: Option<DateTime<Utc>>,
}

/// What a solved ticket came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Solved {
    /// A survey email is scheduled.
    Created,
    /// The ticket's earlier invitation is still open: nothing new.
    AlreadyInvited,
    /// The requester was surveyed too recently (the survey's throttle).
    Throttled,
    /// The requester unsubscribed or bounced.
    Suppressed,
}

impl Solved {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AlreadyInvited => "already_invited",
            Self::Throttled => "throttled",
            Self::Suppressed => "suppressed",
        }
    }
}

/// Whether an invitation still waits for its answer: queued or sent, not expired.
fn is_open(invitation: &Invitation) -> bool {
    matches!(invitation.status.as_str(), status::QUEUED | status::SENT)
        && invitation.expires_at.is_none_or(|at| at > db::now())
}

/// Schedules the survey of a solved ticket, `send_delay_seconds` after it was solved, unless
/// the ticket's earlier invitation is still open. Returns what happened, the invitation, and
/// whether an email was queued.
pub fn ticket_solved(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    req: &TicketSolved,
    issuer: &Issuer,
) -> Result<(Solved, Invitation, bool), ApiError> {
    db::write_transaction(conn, |conn| {
        // Two helpdesk retries of one solve must not both pass the check below.
        db::lock_key(conn, &format!("ticket:{}:{}", req.survey_id, req.ticket_id))?;
        let survey = surveys::find(conn, workspace_id, &req.survey_id)?;
        if let Some(open) =
            invitations::latest_with_property(conn, &survey.id, TICKET_ID, &req.ticket_id)?
                .filter(is_open)
        {
            return Ok((Solved::AlreadyInvited, open, false));
        }
        let solved_at = req.solved_at.unwrap_or_else(Utc::now);
        let send_at = solved_at + chrono::Duration::seconds(i64::from(survey.send_delay_seconds));
        let request = InvitationRequest {
            channel: Channel::Email,
            email: Some(req.email.clone()),
            name: req.name.clone(),
            external_id: None,
            properties: req.properties.clone(),
            expires_at: None,
            send_at: Some(send_at),
            throttled: true,
            issued_at: None,
        };
        let created = invite::create(conn, workspace_id, &survey.id, &request, None, issuer)?;
        let outcome = match created.outcome {
            Outcome::Issued => Solved::Created,
            Outcome::Suppressed
                if created.invitation.status_reason.as_deref() == Some("throttled") =>
            {
                Solved::Throttled
            }
            Outcome::Suppressed => Solved::Suppressed,
        };
        Ok((outcome, created.invitation, created.queued_email))
    })
}

/// Cancels the survey email of a reopened ticket if it has not gone out. Returns the
/// ticket's latest invitation (if any) and whether its email was cancelled.
pub fn ticket_reopened(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    survey_id: &SurveyId,
    ticket_id: &str,
) -> Result<(Option<Invitation>, bool), ApiError> {
    db::write_transaction(conn, |conn| {
        db::lock_key(conn, &format!("ticket:{survey_id}:{ticket_id}"))?;
        let survey = surveys::find(conn, workspace_id, survey_id)?;
        let Some(latest) =
            invitations::latest_with_property(conn, &survey.id, TICKET_ID, ticket_id)?
        else {
            return Ok((None, false));
        };
        let cancelled = latest.status == status::QUEUED
            && outbox::cancel_queued(conn, &latest.id, "ticket_reopened", db::now())?;
        let latest = invitations::find(conn, workspace_id, &latest.id)?;
        Ok((Some(latest), cancelled))
    })
}
