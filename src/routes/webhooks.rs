//! `/v1/webhooks`: subscriptions, their deliveries, and resending one.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

use crate::db::webhooks::{self, Webhook};
use crate::db::{self, from_stored, webhook_deliveries};
use crate::domain::webhook::{parse_events, parse_url, MAX_WEBHOOKS};
use crate::error::ApiError;
use crate::extract::{Json, Keyed, ListQuery, Workspace};
use crate::state::AppState;
use crate::validation::{check, not_blank};
use crate::views::ListView;

/// A subscription as served.
#[derive(Debug, Serialize)]
pub struct WebhookView {
    id: String,
    url: String,
    events: Vec<String>,
    description: Option<String>,
    created_at: DateTime<Utc>,
    /// Only in the answer to its creation: the signing secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookView {
    fn new(w: Webhook, secret: Option<String>) -> Self {
        Self {
            events: w.event_list(),
            id: w.id,
            url: w.url,
            description: w.description,
            created_at: from_stored(w.created_at),
            secret,
        }
    }
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    #[validate(length(max = 10))]
    events: Vec<String>,
    #[validate(length(min = 1, max = 500), custom(function = "not_blank"))]
    description: Option<String>,
}

/// `POST /v1/webhooks`: 201 with the subscription and its signing secret (shown once).
pub async fn create(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<CreateWebhook>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    let url = parse_url(&body.url)?;
    let events = parse_events(&body.events)?;
    let webhook = Webhook {
        id: Uuid::now_v7().to_string(),
        workspace_id: ws.id.to_string(),
        url: url.to_string(),
        events: events.join(","),
        description: body.description.map(|d| d.trim().to_owned()),
        created_at: db::now(),
    };
    let stored = db::run(&state.pool, move |conn| {
        webhooks::insert(conn, &webhook, MAX_WEBHOOKS).map_err(ApiError::from)
    })
    .await?;
    let secret = state.server_key.derive_webhook_secret(&stored.id);
    Ok(HttpResponse::Created().json(WebhookView::new(stored, Some(secret))))
}

/// `GET /v1/webhooks`.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let (rows, next_cursor) = db::run(&state.pool, move |conn| {
        let rows = webhooks::list(conn, &ws.id, &page)?;
        Ok::<_, ApiError>(page.finish(rows, |w| w.id.as_str()))
    })
    .await?;
    let data = rows
        .into_iter()
        .map(|w| WebhookView::new(w, None))
        .collect();
    Ok(HttpResponse::Ok().json(ListView { data, next_cursor }))
}

/// `DELETE /v1/webhooks/{id}`: 204; its pending deliveries are dropped.
pub async fn delete(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner().to_string();
    db::run(&state.pool, move |conn| {
        webhooks::delete(conn, &ws.id, &id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One attempt as served.
#[derive(Debug, Serialize)]
struct AttemptView {
    attempt: i32,
    at: DateTime<Utc>,
    status: Option<i32>,
    latency_ms: i32,
    error: Option<String>,
}

/// A delivery as served.
#[derive(Debug, Serialize)]
struct DeliveryView {
    id: String,
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    state: String,
    created_at: DateTime<Utc>,
    next_attempt_at: Option<DateTime<Utc>>,
    attempts: Vec<AttemptView>,
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first, each with every attempt.
pub async fn deliveries(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let id = id.into_inner().to_string();
    let (rows, next_cursor) = db::run(&state.pool, move |conn| {
        let rows = webhook_deliveries::list(conn, &ws.id, &id, &page)?;
        Ok::<_, ApiError>(page.finish(rows, |d| d.id.as_str()))
    })
    .await?;
    let data: Vec<DeliveryView> = rows
        .into_iter()
        .map(|d| DeliveryView {
            next_attempt_at: (d.state == webhook_deliveries::state::PENDING)
                .then(|| from_stored(d.next_attempt_at)),
            id: d.id,
            event_id: d.event_id,
            kind: d.kind,
            state: d.state,
            created_at: from_stored(d.created_at),
            attempts: d
                .attempts
                .into_iter()
                .map(|(attempt, at, status, latency_ms, error)| AttemptView {
                    attempt,
                    at: from_stored(at),
                    status,
                    latency_ms,
                    error,
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListView { data, next_cursor }))
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`: 202; sent again shortly.
pub async fn retry(
    ws: Workspace,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    db::run(&state.pool, move |conn| {
        webhook_deliveries::retry(
            conn,
            &ws.id,
            &id.to_string(),
            &delivery.to_string(),
            db::now(),
        )
        .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"queued": true})))
}
