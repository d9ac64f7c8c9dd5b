//! The one API error type and its JSON shape: `{"error": {"code": "…", "message": "…"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::domain::Invalid;

/// Every way a request can fail, each with its status and stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON (or not a valid form).
    #[error("{0}")]
    MalformedBody(String),
    /// The request is malformed in a way that is not about one field's value.
    #[error("{0}")]
    BadRequest(String),
    /// Valid syntax that breaks a rule; names the field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No API key, or not a valid one.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The caller may not do this (e.g. a page on an origin the survey does not allow).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The resource does not exist in the caller's workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// The path exists but not with this method; holds the `Allow` header value.
    #[error("this path answers only {0}")]
    MethodNotAllowed(String),
    /// The survey link has expired.
    #[error("this survey link has expired")]
    Gone,
    /// The body is larger than allowed.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body's content type is not one the endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// Too many requests from one client or for one key; holds the seconds to wait.
    #[error("too many requests; try again in {0} s")]
    RateLimited(u64),
    /// A dependency (the database pool) could not serve the request in time.
    #[error("the service is busy; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    /// Anything unexpected: logged in full, answered opaquely.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The JSON body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// The contents of [`ErrorBody`].
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// A stable snake_case code.
    pub code: &'static str,
    /// A sentence for a person.
    pub message: String,
    /// For validation errors: the offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::BadRequest(_) => "bad_request",
            Self::Invalid(_) => "invalid_field",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Gone => "expired",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Wraps any unexpected failure.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// The error as its JSON body.
    pub fn body(&self) -> ErrorBody {
        let field = match self {
            Self::Invalid(inv) => Some(inv.field.clone()),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                field,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Gone => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) | Self::Unavailable(cause) => {
                tracing::error!(error = ?cause, code = self.code(), "request failed");
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthorized(_) => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            Self::RateLimited(secs) => {
                response.insert_header(("Retry-After", secs.to_string()));
            }
            Self::Unavailable(_) => {
                response.insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()));
            }
            Self::MethodNotAllowed(allow) => {
                response.insert_header(("Allow", allow.clone()));
            }
            _ => {}
        }
        response.json(self.body())
    }
}

/// Seconds a client is asked to wait after a 503: the busy conditions clear in moments.
pub const RETRY_AFTER_SECS: u32 = 1;

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound(what) => Self::NotFound(what),
            DbError::Conflict(cause) => {
                tracing::warn!(%cause, "a concurrent change won a unique key");
                Self::Conflict(
                    "a concurrent request changed the same resource; retry this request".into(),
                )
            }
            DbError::Refused(message) => Self::Conflict(message),
            DbError::Busy(cause) => Self::Unavailable(anyhow::anyhow!(cause)),
            other @ (DbError::Corrupt(_) | DbError::Panicked(_) | DbError::Other(_)) => {
                Self::Internal(other.into())
            }
        }
    }
}

/// Transactions report Diesel's own errors; they are sorted like every other database error.
impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        DbError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_conditions_map_to_their_statuses_and_503_says_when_to_retry() {
        let busy = ApiError::from(DbError::Busy("database is locked".into()));
        let response = busy.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").unwrap(), "1");
        let conflict = ApiError::from(DbError::Conflict("UNIQUE constraint failed".into()));
        assert_eq!(conflict.status_code(), StatusCode::CONFLICT);
        assert!(
            !conflict.to_string().contains("UNIQUE"),
            "no SQL in the message"
        );
        let missing = ApiError::from(DbError::NotFound("survey"));
        assert_eq!(missing.status_code(), StatusCode::NOT_FOUND);
        let corrupt = ApiError::from(DbError::Corrupt("survey x has an unknown kind".into()));
        assert_eq!(corrupt.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(corrupt.body().error.message, "internal error");
    }
}
