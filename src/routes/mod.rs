//! The route table: the only place a path is named.

mod answer;
mod health;
mod html;
mod invitations;
mod responses;
mod spec;
mod stats;
mod suppressions;
mod surveys;
mod unsubscribe;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};

use crate::error::ApiError;

/// Declares every route once, producing both [`configure`] and [`ROUTES`],
/// so the OpenAPI test compares the spec with exactly what is served.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every `(METHOD, path)` the service answers, in OpenAPI path syntax.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers every route, and a JSON 404 for everything else.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::method(Method::$method).to($handler)); )*
            cfg.default_service(web::to(not_found));
        }
    };
}

route_table! {
    GET  "/healthz" => health::check,
    GET  "/openapi.yaml" => spec::openapi,
    POST "/v1/surveys" => surveys::create,
    GET  "/v1/surveys" => surveys::list,
    GET  "/v1/surveys/{id}" => surveys::show,
    POST "/v1/surveys/{id}/invitations" => invitations::create,
    GET  "/v1/surveys/{id}/responses" => responses::list,
    GET  "/v1/surveys/{id}/stats" => stats::show,
    GET  "/v1/responses/{id}" => responses::show,
    GET  "/v1/stats" => stats::workspace,
    GET  "/v1/invitations/{id}" => invitations::show,
    GET  "/v1/suppressions" => suppressions::list,
    POST "/v1/suppressions" => suppressions::create,
    DELETE "/v1/suppressions/{email}" => suppressions::delete,
    POST "/v1/bounces" => suppressions::bounce,
    GET  "/r/{token}" => answer::page,
    POST "/r/{token}" => answer::submit,
    GET  "/u/{token}" => unsubscribe::page,
    POST "/u/{token}" => unsubscribe::confirm,
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
