//! The route table: the only place a path is named.

mod answer;
mod audiences;
mod campaigns;
mod challenges;
mod dashboards;
mod delighted;
mod docs;
mod health;
mod html;
mod invitations;
mod metrics;
mod recipients;
mod responses;
mod search;
mod spec;
pub(crate) mod stats;
mod suppressions;
mod surveys;
mod triggers;
mod unsubscribe;
mod webhooks;
mod widget;
mod workspace;

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};

use crate::error::ApiError;

/// Declares every route once, producing both [`configure`] and [`ROUTES`],
/// so the OpenAPI test compares the spec with exactly what is served.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every `(METHOD, path)` the service answers, in OpenAPI path syntax.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers every path as one resource holding its methods' routes, with a 405 and
        /// `Allow` for any other method, and a JSON 404 for everything else. One resource per
        /// path means a request's path is matched once, whichever of its methods it asks for.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            let mut routes: HashMap<&'static str, Vec<actix_web::Route>> = HashMap::new();
            $( routes.entry($path).or_default().push(web::method(Method::$method).to($handler)); )*
            for (path, allow) in allowed_methods() {
                let resource = routes
                    .remove(path)
                    .unwrap_or_default()
                    .into_iter()
                    .fold(web::resource(path), |resource, route| resource.route(route));
                cfg.service(resource.default_service(web::to(move || {
                    let allow = allow.clone();
                    async move { method_not_allowed(&allow) }
                })));
            }
            cfg.default_service(web::to(not_found));
        }
    };
}

route_table! {
    // Paths are matched in the order they first appear, and each path with a parameter costs
    // a pattern match: the survey links, which take nearly all the traffic, come first.
    GET  "/r/{token}" => answer::page,
    POST "/r/{token}" => answer::submit,
    POST "/r/{token}/opened" => answer::opened,
    GET  "/healthz" => health::check,
    GET  "/metrics" => metrics::scrape,
    GET  "/openapi.yaml" => spec::openapi,
    GET  "/docs" => docs::index,
    GET  "/docs/{file:.*}" => docs::asset,
    GET  "/v1/workspace" => workspace::show,
    PATCH "/v1/workspace" => workspace::update,
    POST "/v1/audiences" => audiences::create,
    GET  "/v1/audiences" => audiences::list,
    GET  "/v1/audiences/{id}" => audiences::show,
    DELETE "/v1/audiences/{id}" => audiences::delete,
    POST "/v1/audiences/{id}/members" => audiences::add_members,
    GET  "/v1/audiences/{id}/members" => audiences::members,
    DELETE "/v1/audiences/{id}/members/{email}" => audiences::remove_member,
    POST "/v1/campaigns" => campaigns::create,
    GET  "/v1/campaigns" => campaigns::list,
    GET  "/v1/campaigns/{id}" => campaigns::show,
    POST "/v1/campaigns/{id}/pause" => campaigns::pause,
    POST "/v1/campaigns/{id}/resume" => campaigns::resume,
    GET  "/v1/campaigns/{id}/cycles" => campaigns::cycles,
    POST "/v1/surveys" => surveys::create,
    GET  "/v1/surveys" => surveys::list,
    GET  "/v1/surveys/{id}" => surveys::show,
    PATCH "/v1/surveys/{id}" => surveys::update,
    POST "/v1/surveys/{id}/invitations" => invitations::create,
    GET  "/v1/surveys/{id}/responses" => responses::list,
    GET  "/v1/surveys/{id}/responses.csv" => responses::export,
    GET  "/v1/surveys/{id}/stats" => stats::show,
    GET  "/v1/responses" => responses::search,
    GET  "/v1/responses/{id}" => responses::show,
    POST "/v1/responses/{id}/challenges" => challenges::file,
    GET  "/v1/challenges" => challenges::list,
    GET  "/v1/challenges/{id}" => challenges::show,
    POST "/v1/challenges/{id}/resolve" => challenges::resolve,
    GET  "/v1/stats" => stats::workspace,
    POST "/v1/dashboards" => dashboards::create,
    GET  "/v1/dashboards" => dashboards::list,
    GET  "/v1/dashboards/{id}" => dashboards::show,
    DELETE "/v1/dashboards/{id}" => dashboards::revoke,
    GET  "/v1/invitations" => invitations::search,
    GET  "/v1/invitations/{id}" => invitations::show,
    DELETE "/v1/recipients/{email}" => recipients::erase,
    GET  "/v1/suppressions" => suppressions::list,
    POST "/v1/suppressions" => suppressions::create,
    DELETE "/v1/suppressions/{email}" => suppressions::delete,
    POST "/v1/triggers/ticket-solved" => triggers::ticket_solved,
    POST "/v1/triggers/ticket-reopened" => triggers::ticket_reopened,
    POST "/v1/webhooks" => webhooks::create,
    GET  "/v1/webhooks" => webhooks::list,
    DELETE "/v1/webhooks/{id}" => webhooks::delete,
    GET  "/v1/webhooks/{id}/deliveries" => webhooks::deliveries,
    POST "/v1/webhooks/{id}/deliveries/{delivery_id}/retry" => webhooks::retry,
    POST "/v1/bounces" => suppressions::bounce,
    GET  "/widget.js" => widget::script,
    GET  "/widget/{version}/widget.js" => widget::versioned_script,
    POST "/w/{key}/impressions" => widget::impression,
    OPTIONS "/w/{key}/impressions" => widget::preflight,
    POST "/w/{key}/answers/{token}" => widget::answer,
    OPTIONS "/w/{key}/answers/{token}" => widget::preflight,
    POST "/delighted/v1/people" => delighted::create_person,
    GET  "/delighted/v1/people" => delighted::list_people,
    DELETE "/delighted/v1/people/{identifier}" => delighted::delete_person,
    DELETE "/delighted/v1/people/{email}/survey_requests/pending" => delighted::delete_pending,
    GET  "/delighted/v1/survey_responses" => delighted::list_responses,
    POST "/delighted/v1/survey_responses" => delighted::create_response,
    PUT  "/delighted/v1/survey_responses" => delighted::update_response_by_body,
    GET  "/delighted/v1/survey_responses/{id}" => delighted::show_response,
    PUT  "/delighted/v1/survey_responses/{id}" => delighted::update_response,
    GET  "/delighted/v1/metrics" => delighted::metrics,
    POST "/delighted/v1/unsubscribes" => delighted::unsubscribe,
    GET  "/delighted/v1/unsubscribes" => delighted::list_unsubscribes,
    GET  "/delighted/v1/bounces" => delighted::list_bounces,
    GET  "/d/{token}" => dashboards::page,
    GET  "/d/{token}/responses.csv" => dashboards::export,
    GET  "/u/{token}" => unsubscribe::page,
    POST "/u/{token}" => unsubscribe::confirm,
}

/// Each path with the methods it answers, as an `Allow` header value.
fn allowed_methods() -> Vec<(&'static str, String)> {
    let mut paths: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for (method, path) in ROUTES {
        match paths.iter_mut().find(|(p, _)| p == path) {
            Some((_, methods)) => methods.push(method),
            None => paths.push((path, vec![method])),
        }
    }
    paths
        .into_iter()
        .map(|(path, methods)| (path, methods.join(", ")))
        .collect()
}

fn method_not_allowed(allow: &str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(allow.to_owned()))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
