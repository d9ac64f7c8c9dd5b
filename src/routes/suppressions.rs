//! `/v1/suppressions` and `/v1/bounces`: the addresses that are never emailed.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::db::{self, from_stored, suppressions};
use crate::domain::email::EmailAddress;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Keyed, ListQuery, Workspace};
use crate::state::AppState;
use crate::validation::check;
use crate::views::ListView;

/// A suppression as served.
#[derive(Debug, Serialize)]
pub struct SuppressionView {
    email: String,
    reason: String,
    detail: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<suppressions::Suppression> for SuppressionView {
    fn from(s: suppressions::Suppression) -> Self {
        Self {
            email: s.email,
            reason: s.reason,
            detail: s.detail,
            created_at: from_stored(s.created_at),
        }
    }
}

/// Body of `POST /v1/suppressions`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AddSuppression {
    email: String,
    reason: Option<String>,
    #[validate(length(max = 1000))]
    detail: Option<String>,
}

/// Body of `POST /v1/bounces`, as a mail system reports it.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Bounce {
    email: String,
    #[validate(length(max = 1000))]
    detail: Option<String>,
}

async fn add(
    ws: Workspace,
    state: &AppState,
    email: &str,
    reason: &'static str,
    detail: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let email = EmailAddress::parse("email", email)?.key();
    let (entry, created) = db::run(&state.pool, move |conn| {
        suppressions::add(conn, &ws.id, &email, reason, detail.as_deref(), db::now())
    })
    .await?;
    let view = SuppressionView::from(entry);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// `POST /v1/suppressions`: never email this address (201, or 200 if already listed).
pub async fn create(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<AddSuppression>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    let reason = match body.reason.as_deref() {
        None => suppressions::reason::MANUAL,
        Some(r) => suppressions::reason::ALL
            .into_iter()
            .find(|known| *known == r)
            .ok_or_else(|| {
                Invalid::new(
                    "reason",
                    "must be \"manual\", \"unsubscribed\" or \"bounced\"",
                )
            })?,
    };
    add(ws, &state, &body.email, reason, body.detail).await
}

/// `POST /v1/bounces`: a mail system reports that mail to an address bounced.
pub async fn bounce(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<Bounce>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    add(
        ws,
        &state,
        &body.email,
        suppressions::reason::BOUNCED,
        body.detail,
    )
    .await
}

/// `GET /v1/suppressions`: the list, by address.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let (rows, next_cursor) = db::run(&state.pool, move |conn| {
        let rows = suppressions::list(conn, &ws.id, &page)?;
        Ok::<_, ApiError>(page.finish(rows, |s| &s.email))
    })
    .await?;
    let data = rows.into_iter().map(SuppressionView::from).collect();
    Ok(HttpResponse::Ok().json(ListView { data, next_cursor }))
}

/// `DELETE /v1/suppressions/{email}`: email this address again (204, or 404 if not listed).
pub async fn delete(
    ws: Workspace,
    state: web::Data<AppState>,
    email: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let email = EmailAddress::parse("email", &email)
        .map_err(|_| ApiError::NotFound("suppression"))?
        .key();
    let removed = db::run(&state.pool, move |conn| {
        Ok::<_, ApiError>(suppressions::remove(conn, &ws.id, &email)?)
    })
    .await?;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("suppression"))
    }
}
