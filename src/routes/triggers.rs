//! `/v1/triggers`: what a helpdesk calls when a ticket is solved or reopened.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;
use validator::Validate;

use crate::db;
use crate::domain::email::EmailAddress;
use crate::domain::ids::SurveyId;
use crate::domain::properties::Properties;
use crate::domain::trigger;
use crate::error::ApiError;
use crate::extract::{Json, Keyed, Workspace};
use crate::helpdesk::{self, Solved, TicketSolved, TICKET_ID};
use crate::invite::Issuer;
use crate::state::AppState;
use crate::validation::check;
use crate::views::InvitationView;

/// The requester of a ticket.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    email: String,
    #[validate(length(max = 200))]
    name: Option<String>,
}

/// Body of `POST /v1/triggers/ticket-solved`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TicketSolvedBody {
    survey_id: Uuid,
    ticket_id: serde_json::Value,
    #[validate(nested)]
    requester: Requester,
    #[validate(length(min = 1, max = 200))]
    agent: Option<String>,
    #[validate(length(min = 1, max = 200))]
    group: Option<String>,
    #[validate(length(min = 1, max = 200))]
    team: Option<String>,
    #[validate(length(min = 1, max = 100))]
    channel: Option<String>,
    solved_at: Option<DateTime<Utc>>,
    properties: Option<BTreeMap<String, serde_json::Value>>,
}

/// A ticket id as helpdesks send it: a string or a number.
fn ticket_id(raw: &serde_json::Value) -> Result<String, ApiError> {
    let text = match raw {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        serde_json::Value::Number(n) if crate::domain::score::whole(n).is_some() => {
            crate::domain::score::whole(n)
                .unwrap_or_default()
                .to_string()
        }
        _ => {
            return Err(crate::domain::Invalid::new(
                "ticket_id",
                "must be a string or a whole number",
            )
            .into())
        }
    };
    Ok(trigger::ticket_id(&text)?)
}

/// `POST /v1/triggers/ticket-solved`: 201 `created`, or 200 `already_invited`, `throttled` or
/// `suppressed`, with the invitation.
pub async fn ticket_solved(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<TicketSolvedBody>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    let ticket = ticket_id(&body.ticket_id)?;
    let email = EmailAddress::parse("requester.email", &body.requester.email)?;
    if !state.email_enabled {
        // A solved ticket's survey goes by email.
        return Err(crate::domain::Invalid::new("requester.email", crate::mail::DISABLED).into());
    }
    let mut properties = body.properties.unwrap_or_default();
    for (key, value) in [
        ("agent", body.agent),
        ("group", body.group),
        ("team", body.team),
        ("channel", body.channel),
        (TICKET_ID, Some(ticket.clone())),
        ("solved_at", body.solved_at.map(|t| t.to_rfc3339())),
    ] {
        if let Some(value) = value {
            properties.insert(key.to_owned(), serde_json::Value::String(value));
        }
    }
    let req = TicketSolved {
        survey_id: SurveyId::from(body.survey_id),
        ticket_id: ticket,
        email,
        name: body.requester.name.filter(|n| !n.trim().is_empty()),
        properties: Properties::from_json(properties)?,
        solved_at: body.solved_at,
    };
    let issuer = Issuer {
        message_domain: state.message_domain.clone(),
        server_key: state.server_key.clone(),
    };
    let (outcome, invitation) = db::run(&state.pool, move |conn| {
        let (outcome, invitation, queued) = helpdesk::ticket_solved(conn, &ws.id, &req, &issuer)?;
        let properties = db::invitations::properties_of_one(conn, &invitation.id)?;
        let anonymous = db::surveys::find(conn, &ws.id, &invitation.survey_id)?.anonymous;
        let view = InvitationView::from_row(invitation, properties, anonymous);
        Ok::<_, ApiError>(((outcome, queued), view))
    })
    .await?;
    let (outcome, queued) = outcome;
    if queued {
        state.outbox_wake.notify_one();
    }
    let mut res = if outcome == Solved::Created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(res.json(serde_json::json!({
        "outcome": outcome.as_str(),
        "invitation": invitation,
    })))
}

/// Body of `POST /v1/triggers/ticket-reopened`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketReopenedBody {
    survey_id: Uuid,
    ticket_id: serde_json::Value,
}

/// `POST /v1/triggers/ticket-reopened`: cancels the ticket's survey email if it has not gone
/// out (`cancelled`), else `nothing_to_cancel`.
pub async fn ticket_reopened(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<TicketReopenedBody>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ticket = ticket_id(&body.ticket_id)?;
    let survey_id = SurveyId::from(body.survey_id);
    let (latest, cancelled) = db::run(&state.pool, move |conn| {
        let (latest, cancelled) = helpdesk::ticket_reopened(conn, &ws.id, &survey_id, &ticket)?;
        let latest = match latest {
            Some(inv) => {
                let properties = db::invitations::properties_of_one(conn, &inv.id)?;
                let anonymous = db::surveys::find(conn, &ws.id, &inv.survey_id)?.anonymous;
                Some(InvitationView::from_row(inv, properties, anonymous))
            }
            None => None,
        };
        Ok::<_, ApiError>((latest, cancelled))
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "outcome": if cancelled { "cancelled" } else { "nothing_to_cancel" },
        "invitation": latest,
    })))
}
