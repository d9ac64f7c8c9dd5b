//! `GET /docs`: the API reference, rendered from `/openapi.yaml` by Swagger UI, whose assets
//! are compiled into the binary (no CDN: many self-hosted networks have no internet).

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                Config::new(["../openapi.yaml"])
                    // The public validator badge would call out to swagger.io.
                    .validator_url("none")
                    .try_it_out_enabled(false)
                    .display_operation_id(true),
            )
        })
        .clone()
}

/// `GET /docs`: redirects to `/docs/` so the page's relative asset paths resolve.
pub async fn index() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "docs/"))
        .finish()
}

/// `GET /docs/{file}`: the page (`/docs/`) and its assets.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    let tail = if file.is_empty() {
        "index.html"
    } else {
        file.as_str()
    };
    match utoipa_swagger_ui::serve(tail, config()) {
        Ok(Some(found)) => Ok(HttpResponse::Ok()
            .content_type(found.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(found.bytes.into_owned())),
        Ok(None) => Err(ApiError::NotFound("documentation file")),
        Err(err) => Err(ApiError::internal(anyhow::anyhow!("swagger ui: {err}"))),
    }
}
