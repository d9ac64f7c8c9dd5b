//! `/v1/surveys/{id}/invitations` and `/v1/invitations/{id}`: issue tokenised links
//! (optionally emailed) and follow their status.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;
use validator::Validate;

use crate::db;
use crate::domain::email::EmailAddress;
use crate::domain::ids::{InvitationId, SurveyId};
use crate::domain::properties::Properties;
use crate::domain::secret::IdempotencyKey;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{from_value, Json, Keyed, Workspace};
use crate::invite::{self, Channel, Idempotency, InvitationRequest, Issuer, Outcome};
use crate::state::AppState;
use crate::validation::check;
use crate::views::InvitationView;

/// Longest delay accepted for a scheduled email.
const MAX_DELAY_DAYS: i64 = 365;

/// Body of `POST /v1/surveys/{id}/invitations`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    channel: Option<String>,
    #[validate(nested)]
    recipient: Option<Recipient>,
    properties: Option<BTreeMap<String, serde_json::Value>>,
    expires_at: Option<DateTime<Utc>>,
    send_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::extract::whole_number")]
    delay_seconds: Option<i64>,
}

/// Who the invitation is for.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    email: Option<String>,
    #[validate(length(max = 200))]
    name: Option<String>,
    #[validate(length(min = 1, max = 200))]
    external_id: Option<String>,
}

impl CreateInvitation {
    fn parse(self, email_enabled: bool) -> Result<InvitationRequest, ApiError> {
        check(&self)?;
        let channel = match self.channel.as_deref().unwrap_or("link") {
            "link" => Channel::Link,
            "email" => Channel::Email,
            "widget" => Channel::Widget,
            _ => {
                return Err(
                    Invalid::new("channel", "must be \"link\", \"email\" or \"widget\"").into(),
                )
            }
        };
        let recipient = self.recipient.unwrap_or(Recipient {
            email: None,
            name: None,
            external_id: None,
        });
        let email = recipient
            .email
            .as_deref()
            .map(|raw| EmailAddress::parse("recipient.email", raw))
            .transpose()?;
        let now = Utc::now();
        if channel == Channel::Email {
            if !email_enabled {
                return Err(Invalid::new("channel", crate::mail::DISABLED).into());
            }
            if email.is_none() {
                return Err(
                    Invalid::new("recipient.email", "is required for the email channel").into(),
                );
            }
        } else if self.send_at.is_some() || self.delay_seconds.is_some() {
            let field = if self.send_at.is_some() {
                "send_at"
            } else {
                "delay_seconds"
            };
            return Err(Invalid::new(field, "scheduling applies only to the email channel").into());
        }
        let send_at = match (self.send_at, self.delay_seconds) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    "delay_seconds",
                    "give send_at or delay_seconds, not both",
                )
                .into())
            }
            (Some(at), None) if at > now + Duration::days(MAX_DELAY_DAYS) => {
                return Err(Invalid::new(
                    "send_at",
                    format!("must be within {MAX_DELAY_DAYS} days"),
                )
                .into())
            }
            (Some(at), None) => Some(at),
            (None, Some(secs)) if !(0..=MAX_DELAY_DAYS * 86_400).contains(&secs) => {
                return Err(Invalid::new(
                    "delay_seconds",
                    format!("must be from 0 to {} seconds", MAX_DELAY_DAYS * 86_400),
                )
                .into())
            }
            (None, Some(secs)) => Some(now + Duration::seconds(secs)),
            (None, None) => None,
        };
        if let Some(at) = self.expires_at {
            if at <= now {
                return Err(Invalid::new("expires_at", "must be in the future").into());
            }
            if send_at.is_some_and(|s| s >= at) {
                return Err(
                    Invalid::new("expires_at", "must be later than the scheduled send").into(),
                );
            }
        }
        let properties = Properties::from_json(self.properties.unwrap_or_default())?;
        Ok(InvitationRequest {
            channel,
            email,
            name: recipient.name,
            external_id: recipient.external_id,
            properties,
            expires_at: self.expires_at,
            send_at,
            throttled: true,
            issued_at: None,
        })
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    match req.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(raw) => raw
            .to_str()
            .ok()
            .and_then(IdempotencyKey::parse)
            .map(Some)
            .ok_or_else(|| {
                Invalid::new(
                    "Idempotency-Key",
                    "must be 1 to 255 visible ASCII characters",
                )
                .into()
            }),
    }
}

/// `POST /v1/surveys/{id}/invitations`: 201 with the links, or 200 with
/// `"status": "suppressed"` when the recipient must not be emailed now.
pub async fn create(
    Keyed(ws, Json(raw)): Keyed<Workspace, Json<serde_json::Value>>,
    state: web::Data<AppState>,
    survey_id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let survey_id = SurveyId::from(survey_id.into_inner());
    let idem = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        request_hash: invite::fingerprint(&survey_id, &raw),
    });
    let request = from_value::<CreateInvitation>(raw)?.parse(state.email_enabled)?;
    let issuer = Issuer {
        message_domain: state.message_domain.clone(),
        server_key: state.server_key.clone(),
    };
    let created = db::run(&state.pool, move |conn| {
        invite::create(conn, &ws.id, &survey_id, &request, idem.as_ref(), &issuer)
    })
    .await?;
    if created.queued_email {
        state.outbox_wake.notify_one();
    }
    let status = match created.outcome {
        Outcome::Issued => StatusCode::CREATED,
        Outcome::Suppressed => StatusCode::OK,
    };
    let view = InvitationView::from_row(created.invitation, created.properties, created.anonymous);
    let view = match &created.token {
        Some(token) => view.with_links(token, created.scale, &state.links),
        None => view,
    };
    Ok(HttpResponse::build(status).json(view))
}

/// `GET /v1/invitations/{id}`: status and delivery details (links are shown only at creation).
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = InvitationId::from(id.into_inner());
    let view = db::run(&state.pool, move |conn| {
        let invitation = db::invitations::find(conn, &ws.id, &id)?;
        let properties = db::invitations::properties_of_one(conn, &invitation.id)?;
        let anonymous = db::surveys::find(conn, &ws.id, &invitation.survey_id)?.anonymous;
        Ok::<_, ApiError>(InvitationView::from_row(invitation, properties, anonymous))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/invitations`: the workspace's invitations by `external_id`, `filter[<property>]`
/// (e.g. `filter[ticket_id]=4711`), `survey_id` and `since` (created at or after), oldest
/// first, cursor-paginated.
pub async fn search(
    ws: Workspace,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (search, page) = super::search::parse(&req)?;
    let (rows, next_cursor, mut properties, anonymous) = db::run(&state.pool, move |conn| {
        let rows = db::search::invitations(conn, &ws.id, &search, &page)?;
        let (rows, next) = page.finish(rows, |inv| inv.id.as_str());
        let ids: Vec<_> = rows.iter().map(|inv| &inv.id).collect();
        let properties = db::invitations::properties_of(conn, &ids)?;
        let anonymous = db::surveys::anonymous_ids(conn, &ws.id)?;
        Ok::<_, ApiError>((rows, next, properties, anonymous))
    })
    .await?;
    let data = rows
        .into_iter()
        .map(|inv| {
            let props = properties.remove(&inv.id).unwrap_or_default();
            let hidden = anonymous.contains(inv.survey_id.as_str());
            InvitationView::from_row(inv, props, hidden)
        })
        .collect();
    Ok(HttpResponse::Ok().json(crate::views::ListView { data, next_cursor }))
}
