//! The Delighted-compatible facade under `/delighted/v1/`: Delighted's v1 API as its official
//! clients speak it (HTTP Basic with the key as user name, JSON or form bodies, `.json`
//! suffixes, Unix timestamps, its error shape), translated onto the same services as `/v1`.
//! A facade key is bound to one survey, as a Delighted key belonged to one project.

pub mod body;
pub mod people;
pub mod responses;
pub mod suppressions;
pub mod views;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;

use crate::db;
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::secret::ApiKey;
use crate::error::ApiError;
use crate::state::AppState;

/// The path prefix of the facade.
pub const PREFIX: &str = "/delighted/v1/";

/// An [`ApiError`] answered in Delighted's shape: `{"status", "message", "errors"?}`, with
/// `Retry-After` on 429 and 503, so the official clients raise the exceptions their users
/// already handle.
#[derive(Debug)]
pub struct DelightedError(pub ApiError);

impl<E: Into<ApiError>> From<E> for DelightedError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl std::fmt::Display for DelightedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for DelightedError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        // The same logging and headers as every other error, then Delighted's body.
        let ours = self.0.error_response();
        let status = ours.status();
        let mut response = HttpResponse::build(status);
        for (name, value) in ours.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                response.insert_header((name.clone(), value.clone()));
            }
        }
        if let ApiError::Unauthorized(_) = self.0 {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"Scorekeeper\""));
        }
        let message = match &self.0 {
            ApiError::Internal(_) => "Internal Server Error".to_owned(),
            other => other.to_string(),
        };
        let mut body = serde_json::json!({"status": status.as_u16(), "message": message});
        if let ApiError::Invalid(inv) = &self.0 {
            body["errors"] = serde_json::json!({ inv.field.clone(): [inv.message.clone()] });
        }
        response.json(body)
    }
}

/// A request authenticated with a facade key: its workspace and the survey it is bound to.
#[derive(Debug, Clone)]
pub struct Project {
    /// The workspace; every query is scoped to it.
    pub workspace: WorkspaceId,
    /// The survey the key is bound to.
    pub survey: SurveyId,
}

/// The key in an `Authorization: Basic` header: the user name, with or without the trailing
/// colon of an empty password (the official clients differ).
fn basic_key(header: &str) -> Option<String> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let key = text.split(':').next().unwrap_or_default().trim();
    (!key.is_empty()).then(|| key.to_owned())
}

impl FromRequest for Project {
    type Error = DelightedError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, DelightedError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(basic_key);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let invalid = || ApiError::Unauthorized("Invalid API key");
            let key = key.as_deref().and_then(ApiKey::parse).ok_or_else(invalid)?;
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let hash = key.hash();
            let owner = db::run(&state.pool, move |conn| {
                db::workspaces::owner_of_key(conn, &hash).map_err(ApiError::from)
            })
            .await?
            .ok_or_else(invalid)?;
            // Delighted answered 429 with Retry-After too; its clients raise TooManyRequests.
            state.public_limits.check_api(&owner.key_id)?;
            let survey = owner.delighted_survey_id.ok_or(ApiError::Unauthorized(
                "this key is not bound to a survey: create one with `scorekeeper api-key create \
                 --workspace W --delighted-survey SURVEY_ID`",
            ))?;
            Ok(Project {
                workspace: WorkspaceId::from(owner.workspace_id),
                survey: SurveyId::from(survey),
            })
        })
    }
}

/// Rewrites `/delighted/v1/people.json` to `/delighted/v1/people`: Delighted's docs write the
/// suffix, its clients leave it out, and both must reach the same route.
pub fn strip_json_suffix(path: &str) -> Option<String> {
    path.starts_with(PREFIX)
        .then(|| path.strip_suffix(".json"))
        .flatten()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_keys_are_read_with_and_without_the_trailing_colon() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic_key(&format!("Basic {}", b64("abc"))),
            Some("abc".into())
        );
        assert_eq!(
            basic_key(&format!("basic {}", b64("abc:"))),
            Some("abc".into())
        );
        assert_eq!(basic_key(&format!("Basic {}", b64(":"))), None);
        assert_eq!(basic_key("Bearer abc"), None);
        assert_eq!(basic_key("Basic %%%"), None);
    }

    #[test]
    fn only_facade_paths_lose_their_json_suffix() {
        assert_eq!(
            strip_json_suffix("/delighted/v1/people.json").as_deref(),
            Some("/delighted/v1/people")
        );
        assert_eq!(strip_json_suffix("/delighted/v1/people"), None);
        assert_eq!(strip_json_suffix("/openapi.json"), None);
    }
}
