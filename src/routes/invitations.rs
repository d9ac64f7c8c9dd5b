//! `POST /v1/surveys/{id}/invitations`: issue a tokenised survey link.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;
use validator::Validate;

use crate::db;
use crate::domain::properties::Properties;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Workspace};
use crate::invite::{self, Channel, InvitationRequest};
use crate::state::AppState;
use crate::validation::check;
use crate::views::kind_and_scale;

/// Body of `POST /v1/surveys/{id}/invitations`.
#[derive(Debug, Deserialize, Validate)]
pub struct CreateInvitation {
    channel: Option<String>,
    #[validate(nested)]
    recipient: Option<Recipient>,
    properties: Option<BTreeMap<String, serde_json::Value>>,
    expires_at: Option<DateTime<Utc>>,
}

/// Who the invitation is for.
#[derive(Debug, Deserialize, Validate)]
pub struct Recipient {
    #[validate(email, length(max = 254))]
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
            _ => return Err(Invalid::new("channel", "must be \"link\" or \"email\"").into()),
        };
        let recipient = self.recipient.unwrap_or(Recipient {
            email: None,
            name: None,
            external_id: None,
        });
        if channel == Channel::Email {
            if !email_enabled {
                return Err(Invalid::new(
                    "channel",
                    "the email channel is disabled on this server (SMTP_URL is not set)",
                )
                .into());
            }
            if recipient.email.is_none() {
                return Err(
                    Invalid::new("recipient.email", "is required for the email channel").into(),
                );
            }
        }
        if let Some(at) = self.expires_at {
            if at <= Utc::now() {
                return Err(Invalid::new("expires_at", "must be in the future").into());
            }
        }
        let properties =
            Properties::parse(stringify_properties(self.properties.unwrap_or_default())?)?;
        Ok(InvitationRequest {
            channel,
            email: recipient.email.map(|e| e.trim().to_owned()),
            name: recipient.name,
            external_id: recipient.external_id,
            properties,
            expires_at: self.expires_at,
        })
    }
}

/// Helpdesks send ids as numbers as often as strings; both are kept as text.
fn stringify_properties(
    raw: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, Invalid> {
    raw.into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(Invalid::new(
                        format!("properties.{key}"),
                        "must be a string, number or boolean",
                    ))
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// `POST /v1/surveys/{id}/invitations`.
pub async fn create(
    ws: Workspace,
    state: web::Data<AppState>,
    survey_id: web::Path<Uuid>,
    Json(body): Json<CreateInvitation>,
) -> Result<HttpResponse, ApiError> {
    let request = body.parse(state.email_enabled)?;
    let survey_id = survey_id.into_inner().to_string();
    let properties = request.properties.clone();
    let (issued, survey) = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws.id, &survey_id)?;
        Ok((invite::issue(conn, &survey, &request)?, survey))
    })
    .await?;
    let (_, scale) = kind_and_scale(&survey)?;
    Ok(HttpResponse::Created().json(invite::view(issued, scale, properties, &state.links)))
}
