//! The public survey page `/r/{token}`: GET shows it and records nothing; POST records the answer.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;

use super::html::{self, Page};
use crate::db;
use crate::domain::scanner::is_scanner_agent;
use crate::domain::score::Score;
use crate::domain::secret::{random_text, SurveyToken};
use crate::error::ApiError;
use crate::extract::{body_error, content_type, parse_json};
use crate::pages::{self, AnswerPage};
use crate::respond::{self, Submission};
use crate::state::AppState;

/// Query of the survey page: the score a one-click link pre-selects.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    score: Option<String>,
}

/// An answer sent as JSON by the page's script or an integration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAnswer {
    score: Option<serde_json::Value>,
    comment: Option<String>,
    /// Set by the page's script when it sent the pre-chosen score on its own.
    #[serde(default)]
    auto: bool,
}

/// An answer sent by the page's forms without script.
#[derive(Debug, Deserialize)]
struct FormAnswer {
    score: Option<String>,
    comment: Option<String>,
}

/// `GET /r/{token}`: the survey page, with a one-click score pre-selected. Records nothing.
pub async fn page(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    req: HttpRequest,
) -> HttpResponse {
    if let Err(err) = state.public_limits.check_page(html::peer(&req)) {
        return html::error(&err);
    }
    match render_page(&state, token.into_inner(), query.into_inner().score).await {
        Ok(page) => html::respond(StatusCode::OK, page),
        Err(err) => html::error(&err),
    }
}

async fn render_page(
    state: &AppState,
    token: String,
    score: Option<String>,
) -> Result<Page, ApiError> {
    let lookup = token.clone();
    let (_, survey, response) =
        db::run(&state.pool, move |conn| respond::page_state(conn, &lookup)).await?;
    let (kind, scale) = survey.kind_and_scale()?;
    let chosen = score
        .and_then(|raw| raw.parse::<i64>().ok())
        .and_then(|raw| Score::new(scale, raw).ok())
        .map(Score::value);
    let nonce = random_text(16);
    let html = pages::answer(&AnswerPage {
        token: &token,
        kind,
        scale,
        question: &survey.question,
        comment_prompt: survey.comment_prompt.as_deref(),
        chosen,
        answered: response.as_ref().map(|r| r.score),
        comment: response.as_ref().and_then(|r| r.comment.as_deref()),
        nonce: &nonce,
        locale: survey.locale(),
    })
    .map_err(ApiError::internal)?;
    Ok(Page {
        html,
        script_nonce: Some(nonce),
        style_nonce: None,
    })
}

/// `POST /r/{token}/opened`: the page's script reports that it was shown in a visible
/// browser (the funnel's "opened"). Scanners that only fetch the page never send it, and
/// known scanner agents that run scripts are ignored. 204 either way.
pub async fn opened(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    state.public_limits.check_answer(html::peer(&req), &token)?;
    let scanner = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .is_none_or(is_scanner_agent);
    db::run(&state.pool, move |conn| {
        let (invitation, _) = respond::find_live(conn, &token)?;
        if !scanner {
            respond::record_open(conn, &invitation)?;
        }
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `POST /r/{token}`: records or updates the answer. A form gets 303 back to the page;
/// JSON gets 201 (first answer) or 200 (update).
pub async fn submit(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let is_form = content_type(&req).eq_ignore_ascii_case("application/x-www-form-urlencoded");
    match record(&state, token.as_str(), &req, body, is_form).await {
        // Relative to /r/{token}: right behind any proxy or path prefix.
        Ok(_) if is_form => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, token.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Ok((view, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            HttpResponse::build(status)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(view)
        }
        Err(err) if is_form => html::error(&err),
        Err(err) => err.error_response(),
    }
}

/// What a recorded answer looks like to the page's script (and the widget).
#[derive(Debug, serde::Serialize)]
pub struct RecordedView {
    /// The score.
    pub score: i32,
    /// The comment.
    pub comment: Option<String>,
    /// When it last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

async fn record(
    state: &AppState,
    token: &str,
    req: &HttpRequest,
    payload: web::Payload,
    is_form: bool,
) -> Result<(RecordedView, bool), ApiError> {
    state.public_limits.check_answer(html::peer(req), token)?;
    let body = if is_form {
        let bytes = read_body(req, payload).await?;
        let form: FormAnswer = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ApiError::MalformedBody(format!("form body is not valid: {e}")))?;
        JsonAnswer {
            score: form
                .score
                .filter(|s| !s.is_empty())
                .map(serde_json::Value::String),
            comment: form.comment,
            auto: false,
        }
    } else if content_type(req).eq_ignore_ascii_case("application/json") {
        parse_json(&read_body(req, payload).await?)?
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send the answer as application/json or application/x-www-form-urlencoded",
        ));
    };
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let submission = Submission {
        token: SurveyToken::parse(token).ok_or(ApiError::NotFound("survey link"))?,
        survey: None,
        score: body.score,
        comment: body.comment,
        auto: body.auto,
        user_agent,
    };
    let (response, created) = state.ingest.submit(submission).await?;
    Ok((
        RecordedView {
            score: response.score,
            comment: response.comment,
            updated_at: db::from_stored(response.updated_at),
        },
        created,
    ))
}

/// Reads a request body up to the configured limit.
pub async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut payload = payload.into_inner();
    web::Bytes::from_request(req, &mut payload)
        .await
        .map_err(body_error)
}
