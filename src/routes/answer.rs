//! The public survey page `/r/{token}`: GET shows it and records nothing; POST records the answer.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;

use crate::db::invitations::{status, Invitation};
use crate::db::{self, responses::Answer, surveys::Survey};
use crate::domain::score::Score;
use crate::domain::secret::SurveyToken;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{body_error, content_type, parse_json};
use crate::pages::{self, AnswerPage, MAX_COMMENT_CHARS};
use crate::state::AppState;
use crate::views::kind_and_scale;

/// Query of the survey page: the score a one-click link pre-selects.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    score: Option<String>,
}

/// An answer, from the page's form or from script as JSON.
#[derive(Debug, Deserialize)]
struct AnswerBody {
    score: Option<serde_json::Value>,
    comment: Option<String>,
    /// Set by the page's script when it sent the pre-chosen score on its own.
    #[serde(default)]
    auto: bool,
}

/// Looks up an invitation by token, expired or not: unknown → 404.
pub async fn any_invitation(
    state: &AppState,
    token: &str,
) -> Result<(Invitation, Survey), ApiError> {
    let token = SurveyToken::parse(token).ok_or(ApiError::NotFound("survey link"))?;
    let hash = token.hash();
    db::run(&state.pool, move |conn| {
        db::invitations::find_by_token_hash(conn, &hash)
    })
    .await?
    .ok_or(ApiError::NotFound("survey link"))
}

/// Looks up a live invitation by token: unknown (or never issued) → 404, expired → 410.
pub async fn live_invitation(
    state: &AppState,
    token: &str,
) -> Result<(Invitation, Survey), ApiError> {
    let (invitation, survey) = any_invitation(state, token).await?;
    if status::NOT_ISSUED.contains(&invitation.status.as_str()) {
        return Err(ApiError::NotFound("survey link"));
    }
    if invitation.expires_at.is_some_and(|at| at <= db::now()) {
        return Err(ApiError::Gone);
    }
    Ok((invitation, survey))
}

/// `GET /r/{token}`: the survey page, with a one-click score pre-selected. Records nothing.
pub async fn page(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    match render_page(&state, &token, query.score.as_deref()).await {
        Ok(html) => html_response(StatusCode::OK, html),
        Err(err) => html_error(&err),
    }
}

async fn render_page(
    state: &AppState,
    token: &str,
    score: Option<&str>,
) -> Result<String, ApiError> {
    let (invitation, survey) = live_invitation(state, token).await?;
    let (kind, scale) = kind_and_scale(&survey)?;
    let chosen = score
        .and_then(|raw| raw.parse::<i64>().ok())
        .and_then(|raw| Score::new(scale, raw).ok())
        .map(Score::value);
    let response = db::run(&state.pool, move |conn| {
        db::responses::for_invitation(conn, &invitation.id)
    })
    .await?;
    pages::answer(&AnswerPage {
        token,
        kind,
        scale,
        question: &survey.question,
        comment_prompt: survey.comment_prompt.as_deref(),
        chosen,
        answered: response.as_ref().map(|r| r.score),
        comment: response.as_ref().and_then(|r| r.comment.as_deref()),
    })
    .map_err(ApiError::internal)
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
    match record(&state, &token, &req, body, is_form).await {
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
            HttpResponse::build(status).json(view)
        }
        Err(err) if is_form => html_error(&err),
        Err(err) => err.error_response(),
    }
}

/// What a recorded answer looks like to the page's script.
#[derive(Debug, serde::Serialize)]
struct RecordedView {
    score: i32,
    comment: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

async fn record(
    state: &AppState,
    token: &str,
    req: &HttpRequest,
    payload: web::Payload,
    is_form: bool,
) -> Result<(RecordedView, bool), ApiError> {
    let body = if is_form {
        let bytes = read_body(req, payload).await?;
        let form: FormBody = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ApiError::MalformedBody(format!("form body is not valid: {e}")))?;
        AnswerBody {
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
    let (invitation, survey) = live_invitation(state, token).await?;
    let (_, scale) = kind_and_scale(&survey)?;
    let score = body.score.map(|raw| parse_score(raw, scale)).transpose()?;
    let comment = body
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(Invalid::new(
            "comment",
            format!("must be at most {MAX_COMMENT_CHARS} characters"),
        )
        .into());
    }
    if score.is_none() && comment.is_none() {
        return Err(Invalid::new("score", "send a score, a comment, or both").into());
    }
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let auto = body.auto;
    let (response, created) = db::run(&state.pool, move |conn| {
        let answer = Answer {
            score,
            comment: comment.as_deref(),
            user_agent: user_agent.as_deref(),
            auto,
        };
        db::responses::record(conn, &invitation, &answer)
    })
    .await?;
    Ok((
        RecordedView {
            score: response.score,
            comment: response.comment,
            updated_at: db::from_stored(response.updated_at),
        },
        created,
    ))
}

#[derive(Debug, Deserialize)]
struct FormBody {
    score: Option<String>,
    comment: Option<String>,
}

fn parse_score(
    raw: serde_json::Value,
    scale: crate::domain::kind::Scale,
) -> Result<Score, Invalid> {
    let number = match &raw {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let number = number.ok_or_else(|| Invalid::new("score", "must be a whole number"))?;
    Score::new(scale, number)
}

async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    use actix_web::FromRequest;
    let mut payload = payload.into_inner();
    web::Bytes::from_request(req, &mut payload)
        .await
        .map_err(body_error)
}

/// Renders an error as a page for a person.
pub fn html_error(err: &ApiError) -> HttpResponse {
    let status = err.status_code();
    if status.is_server_error() {
        // Logs the cause.
        let _ = err.error_response();
    }
    let (title, message) = match err {
        ApiError::NotFound(_) => (
            "Survey not found",
            "This survey link is not valid. Please check that you copied the whole link."
                .to_owned(),
        ),
        ApiError::Gone => (
            "Survey closed",
            "This survey link has expired. Thank you all the same.".to_owned(),
        ),
        ApiError::Invalid(_)
        | ApiError::MalformedBody(_)
        | ApiError::BadRequest(_)
        | ApiError::PayloadTooLarge(_) => ("Please check your answer", err.to_string()),
        _ => (
            "Something went wrong",
            "We could not record your answer just now. Please try again in a minute.".to_owned(),
        ),
    };
    html_response(status, pages::message(title, &message))
}

/// Wraps a page with the headers every public page carries.
pub fn html_response(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // The token is in the URL: never leak it to another site.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex, nofollow"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                 connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ))
        .body(html)
}
