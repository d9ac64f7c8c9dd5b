//! The widget's public endpoints: its script, and the impression and answer calls it makes
//! from other sites. Those calls are rate-limited, then refused with 403 (writing nothing)
//! unless the page's `Origin` is one the survey allows, and answered with CORS headers for
//! that origin only. The widget sends `text/plain` JSON (a CORS "simple" request, so no
//! preflight); JSON with a preflight works too.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use validator::Validate;

use super::answer::{read_body, RecordedView};
use crate::db::{self, surveys::Survey};
use crate::domain::email::EmailAddress;
use crate::domain::locale::Locale;
use crate::domain::properties::Properties;
use crate::domain::secret::SurveyToken;
use crate::domain::widget::looks_like_public_key;
use crate::error::ApiError;
use crate::extract::{content_type, parse_json};
use crate::invite::Issuer;
use crate::respond::Submission;
use crate::state::AppState;
use crate::validation::check;
use crate::widget::view::{HiddenView, ShownView};
use crate::widget::{self, script, Impression, ImpressionRequest, Visitor};

/// `GET /widget.js`: short-lived cache, revalidated by `ETag`.
pub async fn script(req: HttpRequest) -> HttpResponse {
    serve_script(&req, "public, max-age=300")
}

/// `GET /widget/{version}/widget.js`: this build's script under its own URL, cached for a
/// year. Another version answers 404 (pin the unversioned URL to follow upgrades).
pub async fn versioned_script(req: HttpRequest, version: web::Path<String>) -> HttpResponse {
    if version.as_str() != script::version() {
        return ApiError::NotFound("widget version").error_response();
    }
    serve_script(&req, "public, max-age=31536000, immutable")
}

fn serve_script(req: &HttpRequest, cache: &str) -> HttpResponse {
    let etag = script::etag();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache.to_owned()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        return res.finish();
    }
    res.content_type("text/javascript; charset=utf-8")
        .body(script::SOURCE)
}

/// The visitor, as the host page describes them (a JSON object only).
#[derive(Debug, Deserialize, Validate)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
struct VisitorBody {
    #[validate(length(min = 1, max = 200))]
    id: Option<String>,
    email: Option<String>,
    #[validate(length(max = 200))]
    name: Option<String>,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for VisitorBody {
    type Error = serde_json::Error;

    fn try_from(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, Self::Error> {
        let v: VisitorFields = serde_json::from_value(serde_json::Value::Object(map))?;
        Ok(Self {
            id: v.id,
            email: v.email,
            name: v.name,
        })
    }
}

/// The fields of [`VisitorBody`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitorFields {
    id: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

/// Body of an impression.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct ImpressionBody {
    #[validate(length(min = 1, max = 200))]
    token: Option<String>,
    #[validate(nested)]
    visitor: Option<VisitorBody>,
    properties: Option<BTreeMap<String, serde_json::Value>>,
    #[validate(length(max = 35))]
    locale: Option<String>,
}

impl ImpressionBody {
    fn parse(self) -> Result<ImpressionRequest, ApiError> {
        check(&self)?;
        let visitor = self.visitor.map_or_else(
            || Ok(Visitor::default()),
            |v| {
                Ok::<_, ApiError>(Visitor {
                    id: v.id,
                    email: v
                        .email
                        .as_deref()
                        .map(|raw| EmailAddress::parse("visitor.email", raw))
                        .transpose()?,
                    name: v.name.filter(|n| !n.trim().is_empty()),
                })
            },
        )?;
        Ok(ImpressionRequest {
            token: self.token,
            visitor,
            properties: Properties::from_json(self.properties.unwrap_or_default())?,
            locale: self.locale.as_deref().and_then(Locale::lenient),
        })
    }
}

/// Body of an answer: a score, a comment, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    score: Option<serde_json::Value>,
    comment: Option<String>,
}

/// `POST /w/{key}/impressions`: show the survey to this visitor (201), or not (200,
/// `show: false`, when sampled out).
pub async fn impression(
    state: web::Data<AppState>,
    key: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let (survey, origin) = match admit(&state, &key, &req).await {
        Ok(admitted) => admitted,
        Err(err) => return err.error_response(),
    };
    let result = async {
        let parsed: ImpressionBody = parse_json(&read_widget_body(&req, body).await?)?;
        let request = parsed.parse()?;
        let issuer = Issuer {
            message_domain: state.message_domain.clone(),
            server_key: state.server_key.clone(),
        };
        let shown_survey = survey.clone();
        let outcome = db::run(&state.pool, move |conn| {
            widget::impression(conn, &shown_survey, &request, &issuer)
                .map(|outcome| (outcome, request.locale))
        })
        .await?;
        Ok::<_, ApiError>(match outcome {
            (Impression::Shown { token, answer }, locale) => {
                HttpResponse::Created().json(ShownView::new(&survey, locale, token, answer)?)
            }
            (Impression::SampledOut, _) => HttpResponse::Ok().json(HiddenView {
                show: false,
                reason: "sampled_out",
                once_per_days: survey.widget_once_per_days,
            }),
        })
    }
    .await;
    with_cors(result.unwrap_or_else(|err| err.error_response()), &origin)
}

/// `POST /w/{key}/answers/{token}`: records or changes the answer (201 first, 200 after).
pub async fn answer(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let (key, token) = path.into_inner();
    let (survey, origin) = match admit(&state, &key, &req).await {
        Ok(admitted) => admitted,
        Err(err) => return err.error_response(),
    };
    let result = async {
        let parsed: AnswerBody = parse_json(&read_widget_body(&req, body).await?)?;
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let submission = Submission {
            token: SurveyToken::parse(&token).ok_or(ApiError::NotFound("survey link"))?,
            survey: Some(survey.id.clone()),
            score: parsed.score,
            comment: parsed.comment,
            auto: false,
            user_agent,
        };
        let (response, created) = state.ingest.submit(submission).await?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok::<_, ApiError>(HttpResponse::build(status).json(RecordedView {
            score: response.score,
            comment: response.comment,
            updated_at: db::from_stored(response.updated_at),
        }))
    }
    .await;
    with_cors(result.unwrap_or_else(|err| err.error_response()), &origin)
}

/// `OPTIONS` on the widget's calls: the CORS preflight a JSON request triggers.
pub async fn preflight(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let key = req.match_info().get("key").unwrap_or("").to_owned();
    match admit(&state, &key, &req).await {
        Ok((_, origin)) => {
            let mut res = HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .finish();
            res = with_cors(res, &origin);
            res
        }
        Err(err) => err.error_response(),
    }
}

/// Rate limit, survey, origin: the checks before a widget call may touch anything. Returns
/// the survey and the allowed origin.
async fn admit(
    state: &AppState,
    key: &str,
    req: &HttpRequest,
) -> Result<(Survey, String), ApiError> {
    if !looks_like_public_key(key) {
        return Err(ApiError::NotFound("survey"));
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if origin.is_empty() {
        return Err(ApiError::Forbidden(
            "widget calls come from a page: the Origin header is required",
        ));
    }
    state
        .public_limits
        .check_widget_ip(super::html::peer(req))?;
    let lookup = key.to_owned();
    let survey = db::run(&state.pool, move |conn| {
        db::surveys::find_by_public_key(conn, &lookup).map_err(ApiError::from)
    })
    .await?;
    if !survey.origins().allows(origin) {
        return Err(ApiError::Forbidden(
            "this page's origin may not show this survey: add it to the survey's allowed_origins",
        ));
    }
    state.public_limits.check_widget_key(key)?;
    Ok((survey, origin.to_owned()))
}

async fn read_widget_body(req: &HttpRequest, body: web::Payload) -> Result<web::Bytes, ApiError> {
    let kind = content_type(req);
    if !kind.eq_ignore_ascii_case("text/plain") && !kind.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType(
            "send JSON as text/plain (what the widget does) or application/json",
        ));
    }
    read_body(req, body).await
}

/// Lets `origin` (already checked) read the answer.
fn with_cors(mut res: HttpResponse, origin: &str) -> HttpResponse {
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
