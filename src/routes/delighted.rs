//! `/delighted/v1/…`: the Delighted-compatible facade's handlers. Each parses Delighted's
//! parameters (JSON, form or query), calls the facade's modules in [`crate::delighted`], and answers in
//! Delighted's shape; errors too ([`DelightedError`]).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::db::{self, suppressions};
use crate::delighted::{
    body, people, responses, suppressions as lists, DelightedError, Project, PREFIX,
};
use crate::domain::ids::ResponseId;
use crate::error::ApiError;
use crate::extract::{content_type, Body, Keyed};
use crate::invite::Issuer;
use crate::state::AppState;

type Answer = Result<HttpResponse, DelightedError>;

fn params(req: &HttpRequest, bytes: &[u8]) -> Result<Map<String, Value>, DelightedError> {
    Ok(body::params(
        req.method(),
        content_type(req),
        req.query_string(),
        bytes,
    )?)
}

fn issuer(state: &AppState) -> Issuer {
    Issuer {
        message_domain: state.message_domain.clone(),
        server_key: state.server_key.clone(),
    }
}

/// A response id from the path: anything but a UUID names no response.
fn response_id(raw: &str) -> Result<ResponseId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(ResponseId::from)
        .map_err(|_| ApiError::NotFound("survey response"))
}

fn ok() -> Value {
    json!({"ok": true})
}

/// `POST /people`: the person, and what became of their survey.
pub async fn create_person(
    Keyed(project, Body(bytes)): Keyed<Project, Body>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    let params = params(&req, &bytes)?;
    let (issuer, email_enabled) = (issuer(&state), state.email_enabled);
    let (view, queued) = db::run(&state.pool, move |conn| {
        people::create_person(conn, &project, &issuer, email_enabled, &params)
    })
    .await?;
    if queued {
        state.outbox_wake.notify_one();
    }
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /people`: a page of people, and `Link: <…>; rel="next"` while more follow.
pub async fn list_people(project: Project, state: web::Data<AppState>, req: HttpRequest) -> Answer {
    let params = params(&req, &[])?;
    let (people, next) = db::run(&state.pool, move |conn| {
        people::list_people(conn, &project, &params)
    })
    .await?;
    let mut res = HttpResponse::Ok();
    if let Some(cursor) = next {
        // Absolute, as the clients request it verbatim: the host they called. It keeps every
        // parameter of this request (the filters: `since`, `until`, `email`; `per_page`) but
        // the cursor, so that following it pages through the same list.
        let info = req.connection_info();
        let mut query: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        query.retain(|(name, _)| name != "page_info");
        query.push(("page_info".to_owned(), cursor));
        let query = serde_urlencoded::to_string(query).unwrap_or_default();
        let url = format!("{}://{}{PREFIX}people?{query}", info.scheme(), info.host());
        res.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
    }
    Ok(res.json(people))
}

/// `DELETE /people/{identifier}` (an id, `email:…`): erases the person; 202 `{"ok": true}`.
pub async fn delete_person(
    project: Project,
    state: web::Data<AppState>,
    identifier: web::Path<String>,
) -> Answer {
    let identifier = identifier.into_inner();
    db::run(&state.pool, move |conn| {
        people::delete_person(conn, &project, &identifier)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(ok()))
}

/// `DELETE /people/{email}/survey_requests/pending`: cancels the person's unsent surveys.
pub async fn delete_pending(
    project: Project,
    state: web::Data<AppState>,
    email: web::Path<String>,
) -> Answer {
    let email = email.into_inner();
    db::run(&state.pool, move |conn| {
        people::delete_pending(conn, &project, &email)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ok()))
}

/// `GET /survey_responses`: a numbered page of the survey's answers.
pub async fn list_responses(
    project: Project,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    let params = params(&req, &[])?;
    let base = state.links.base().to_owned();
    let views = db::run(&state.pool, move |conn| {
        responses::list_responses(conn, &project, &params, &base)
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// `GET /survey_responses/{id}`.
pub async fn show_response(
    project: Project,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Answer {
    let id = response_id(&id)?;
    let params = params(&req, &[])?;
    let base = state.links.base().to_owned();
    let view = db::run(&state.pool, move |conn| {
        responses::show_response(conn, &project, &id, &params, &base)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PUT /survey_responses/{id}`: replaces the response's tags and notes.
pub async fn update_response(
    Keyed(project, Body(bytes)): Keyed<Project, Body>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Answer {
    let id = response_id(&id)?;
    let params = params(&req, &bytes)?;
    update(project, &state, id, params).await
}

/// `PUT /survey_responses` with the response's `id` in the body: what the official Node
/// client's `save()` sends (it leaves the id out of the path); otherwise as
/// [`update_response`].
pub async fn update_response_by_body(
    Keyed(project, Body(bytes)): Keyed<Project, Body>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    let params = params(&req, &bytes)?;
    let id = crate::delighted::body::text(&params, "id")?.ok_or_else(|| {
        ApiError::Invalid(crate::domain::Invalid::new(
            "id",
            "is required: the survey response to update (or put it in the path)",
        ))
    })?;
    update(project, &state, response_id(&id)?, params).await
}

/// Replaces the tags and notes of response `id` from `params`.
async fn update(
    project: Project,
    state: &AppState,
    id: ResponseId,
    params: serde_json::Map<String, Value>,
) -> Answer {
    let base = state.links.base().to_owned();
    let view = db::run(&state.pool, move |conn| {
        responses::update_response(conn, &project, &id, &params, &base)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /survey_responses`: records a score for a person; 201 with the response.
pub async fn create_response(
    Keyed(project, Body(bytes)): Keyed<Project, Body>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    let params = params(&req, &bytes)?;
    let (issuer, base) = (issuer(&state), state.links.base().to_owned());
    let view = db::run(&state.pool, move |conn| {
        responses::create_response(conn, &project, &issuer, &params, &base)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /metrics`.
pub async fn metrics(project: Project, state: web::Data<AppState>, req: HttpRequest) -> Answer {
    let params = params(&req, &[])?;
    let figures = db::run(&state.pool, move |conn| {
        // One snapshot for every read, as for `/v1/stats`.
        db::read_snapshot(conn, |conn| responses::metrics(conn, &project, &params))
    })
    .await?;
    Ok(HttpResponse::Ok().json(figures))
}

/// `POST /unsubscribes`: `{"ok": true}`.
pub async fn unsubscribe(
    Keyed(project, Body(bytes)): Keyed<Project, Body>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    let params = params(&req, &bytes)?;
    db::run(&state.pool, move |conn| {
        lists::unsubscribe(conn, &project, &params)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ok()))
}

async fn suppressed(
    project: Project,
    state: web::Data<AppState>,
    req: HttpRequest,
    why: &'static str,
    at_field: &'static str,
) -> Answer {
    let params = params(&req, &[])?;
    let rows = db::run(&state.pool, move |conn| {
        lists::list_suppressions(conn, &project, &params, why, at_field)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// `GET /unsubscribes`: a numbered page of unsubscribed people.
pub async fn list_unsubscribes(
    project: Project,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    suppressed(
        project,
        state,
        req,
        suppressions::reason::UNSUBSCRIBED,
        "unsubscribed_at",
    )
    .await
}

/// `GET /bounces`: a numbered page of bounced addresses.
pub async fn list_bounces(
    project: Project,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    suppressed(
        project,
        state,
        req,
        suppressions::reason::BOUNCED,
        "bounced_at",
    )
    .await
}
