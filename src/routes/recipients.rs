//! `DELETE /v1/recipients/{email}`: erase a person from the workspace (a data-protection
//! request), keeping only a hash of the address when it is suppressed.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::db;
use crate::db::erasure::{self, Answers, Erased};
use crate::domain::email::{EmailAddress, MAX_EMAIL_CHARS};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::Workspace;
use crate::state::AppState;

/// What an erasure did.
#[derive(Debug, Serialize)]
pub struct ErasedView {
    /// `anonymise` or `delete`: what happened to the answers.
    responses: &'static str,
    /// Invitations cut from the person, or deleted.
    invitations: usize,
    /// Answers deleted (`delete` only).
    responses_deleted: usize,
    /// Audience memberships removed.
    memberships: usize,
    /// Delighted-facade person records removed.
    people: usize,
    /// Whether the address stays suppressed, now as a hash.
    suppression_hashed: bool,
    /// Webhook events that named the address, removed with their pending deliveries.
    webhook_events: usize,
}

fn view(mode: Answers, e: Erased) -> ErasedView {
    ErasedView {
        responses: match mode {
            Answers::Anonymise => "anonymise",
            Answers::Delete => "delete",
        },
        invitations: e.invitations,
        responses_deleted: e.responses_deleted,
        memberships: e.memberships,
        people: e.people,
        suppression_hashed: e.suppression_hashed,
        webhook_events: e.webhook_events,
    }
}

/// `?responses=anonymise` (the default: answers stay, linked to no one) or `delete`.
fn mode(req: &HttpRequest) -> Result<Answers, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query string is not valid: {e}")))?;
    match pairs
        .iter()
        .find(|(k, _)| k == "responses")
        .map(|(_, v)| v.as_str())
    {
        None | Some("anonymise") => Ok(Answers::Anonymise),
        Some("delete") => Ok(Answers::Delete),
        Some(_) => Err(Invalid::new("responses", "must be anonymise or delete").into()),
    }
}

/// `DELETE /v1/recipients/{email}`: 200 with what was erased (zeros for an address the
/// workspace never knew, or for something that is not an address: the call is idempotent).
pub async fn erase(
    ws: Workspace,
    state: web::Data<AppState>,
    email: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mode = mode(&req)?;
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(Invalid::new(
            "email",
            format!("is longer than {MAX_EMAIL_CHARS} characters"),
        )
        .into());
    }
    // Something that is not an address was never stored as one: nothing to erase.
    let Ok(email) = EmailAddress::parse("email", &email) else {
        return Ok(HttpResponse::Ok().json(view(mode, Erased::default())));
    };
    let erased = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| erasure::erase(conn, &ws.id, &email, mode))
            .map_err(ApiError::from)
    })
    .await?;
    tracing::info!(?erased, "erased a recipient");
    Ok(HttpResponse::Ok().json(view(mode, erased)))
}
