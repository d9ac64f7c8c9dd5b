//! `GET /healthz`: the service is up and its database answers.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// Answers 200 when a database round trip succeeds, 503 otherwise.
pub async fn check(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    db::run(&state.pool, |conn| {
        conn.batch_execute("SELECT 1")
            .map_err(|e| ApiError::Unavailable(e.into()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"})))
}
