//! `GET /openapi.yaml`: the API description, compiled into the binary.

use actix_web::HttpResponse;

/// The spec, as committed at the repository root.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Serves the spec.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(OPENAPI_YAML)
}
