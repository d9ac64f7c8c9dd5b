//! `GET /metrics`: this instance's metrics in Prometheus's text format, with the outbox's lag
//! and the pool's connections read at scrape time.

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use crate::db;
use crate::error::ApiError;
use crate::extract::bearer_credentials;
use crate::state::AppState;

/// `GET /metrics` (with `METRICS_TOKEN` set, only for `Authorization: Bearer <it>`).
pub async fn scrape(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(want) = &state.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_credentials);
        let ok = given.is_some_and(|g| {
            crate::domain::secret::sha256_hex(g) == crate::domain::secret::sha256_hex(want)
        });
        if !ok {
            return Err(ApiError::Unauthorized(
                "send METRICS_TOKEN as 'Authorization: Bearer <token>'",
            ));
        }
    }
    let pool = state.pool.state();
    let m = &state.metrics;
    m.set(
        "db_pool_in_use",
        i64::from(pool.connections - pool.idle_connections),
    );
    m.set("db_pool_idle", i64::from(pool.idle_connections));
    let now = db::now();
    let (due, oldest) = db::run(&state.pool, move |conn| {
        db::outbox::due(conn, now).map_err(ApiError::from)
    })
    .await?;
    m.set("outbox_due", due);
    m.set(
        "outbox_lag_seconds",
        oldest.map_or(0, |at| (now - at).num_seconds().max(0)),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render()))
}
