//! Request extractors: JSON bodies whose errors name the field, and the API-key workspace.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::db;
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;
use crate::domain::secret::ApiKey;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest JSON body the API reads.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Largest upload (an audience's members as CSV or JSON) the API reads.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

/// An upload body of at most [`MAX_UPLOAD_BYTES`] with its media type: `Json` for
/// `application/json`, `Csv` for `text/csv`, 415 for anything else.
#[derive(Debug)]
pub enum Upload {
    /// A JSON object (syntax checked: broken JSON is a 400).
    Json(serde_json::Value),
    /// CSV text.
    Csv(web::Bytes),
}

/// How long an upload waits for its turn (see [`AppState::uploads`]) before it answers 503.
const UPLOAD_TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long an upload that has its turn may take to arrive whole (400 after): a body that
/// stalls gives its turn back instead of holding it for as long as its connection stays open.
const UPLOAD_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An [`Upload`] and the workspace whose API key sent it. The key is checked before a byte
/// of the body is read: taken as two extractors, actix would read and parse the body while the
/// key is still being looked up, so a caller without a valid key could make the service hold
/// and parse 8 MiB. Then the upload waits for its turn: the handler holds it (in `turn`)
/// until it returns, so only `UPLOADS_AT_ONCE` uploads are in memory at once, and its body
/// must arrive within 30 s.
#[derive(Debug)]
pub struct KeyedUpload {
    /// Whose key sent it.
    pub workspace: Workspace,
    /// The body.
    pub body: Upload,
    /// This upload's turn, given back when dropped: bind it for the handler's length.
    pub turn: tokio::sync::OwnedSemaphorePermit,
}

impl FromRequest for KeyedUpload {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = Workspace::from_request(req, &mut Payload::None);
        let turns = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.uploads.clone());
        let body = Upload::read(req, payload);
        Box::pin(async move {
            let workspace = key.await?;
            let turns = turns.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let turn = tokio::time::timeout(UPLOAD_TURN_WAIT, turns.acquire_owned())
                .await
                .map_err(|_| {
                    ApiError::Unavailable(anyhow::anyhow!("other uploads are being read"))
                })?
                .map_err(ApiError::internal)?;
            let body = tokio::time::timeout(UPLOAD_READ_TIMEOUT, body)
                .await
                .map_err(|_| {
                    ApiError::BadRequest(format!(
                        "the upload did not arrive whole within {} s",
                        UPLOAD_READ_TIMEOUT.as_secs()
                    ))
                })??;
            Ok(Self {
                workspace,
                body,
                turn,
            })
        })
    }
}

impl Upload {
    /// Reads the body once awaited (and not before).
    fn read(
        req: &HttpRequest,
        payload: &mut Payload,
    ) -> impl Future<Output = Result<Self, ApiError>> + 'static {
        let kind = content_type(req).to_ascii_lowercase();
        let mut payload = payload.take();
        async move {
            use futures_util::StreamExt;
            if kind != "application/json" && kind != "text/csv" {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as application/json or text/csv",
                ));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::BadRequest(format!("could not read the request body: {e}"))
                })?;
                if body.len() + chunk.len() > MAX_UPLOAD_BYTES {
                    return Err(ApiError::PayloadTooLarge(MAX_UPLOAD_BYTES));
                }
                body.extend_from_slice(&chunk);
            }
            let body = body.freeze();
            if kind == "text/csv" {
                return Ok(Self::Csv(body));
            }
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::MalformedBody(format!("body is not valid JSON: {e}")))?;
            if !value.is_object() {
                return Err(Invalid::new("body", "must be a JSON object").into());
            }
            Ok(Self::Json(value))
        }
    }
}

/// `K`, the owner of the request's key, checked before `T`, its body, is read. Taken as two
/// extractors, actix reads and checks the body while the key is still being looked up, so a
/// caller without a valid key would get the body's 400, 413 or 422 (and learn the API's rules)
/// where it should get 401, and the service would read its body for nothing.
#[derive(Debug)]
pub struct Keyed<K, T>(pub K, pub T);

impl<K, T> FromRequest for Keyed<K, T>
where
    K: FromRequest + 'static,
    T: FromRequest + 'static,
    T::Error: Into<K::Error>,
{
    type Error = K::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, K::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = K::from_request(req, &mut Payload::None);
        let (req, mut payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let owner = key.await?;
            let body = T::from_request(&req, &mut payload)
                .await
                .map_err(Into::into)?;
            Ok(Self(owner, body))
        })
    }
}

/// A raw body of at most the configured size; a body that cannot be read is a JSON 400, one
/// too large a JSON 413 (actix's own answer is plain text).
#[derive(Debug)]
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move { body.await.map(Body).map_err(body_error) })
    }
}

/// A JSON body. Broken JSON → 400; well-formed JSON of the wrong shape → 422 naming the field.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = content_type(req).eq_ignore_ascii_case("application/json");
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as application/json",
                ));
            }
            let bytes = body.await.map_err(body_error)?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Parses a JSON object body, telling syntax errors (400) from rule errors (422, with the field path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so a broken document is 400 whatever its prefix looked like.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::MalformedBody(format!("body is not valid JSON: {e}")))?;
    from_value(value)
}

/// Maps a JSON object onto `T`, naming the field that does not fit (422).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(Invalid::new("body", "must be a JSON object").into());
    }
    crate::domain::text::check_json(&value)?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = strip_position(&err.into_inner().to_string());
        let field = match missing_field(&message) {
            Some(missing) if path == "." => missing.to_owned(),
            Some(missing) => format!("{path}.{missing}"),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        ApiError::Invalid(Invalid::new(field, message))
    })
}

/// Maps body-reading failures: too large → 413, anything else → 400.
pub fn body_error(err: actix_web::Error) -> ApiError {
    match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge(MAX_JSON_BYTES),
        _ => ApiError::BadRequest(format!("could not read the request body: {err}")),
    }
}

/// serde reports a missing field at its parent's path; recover the field's own name.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The request's media type, without parameters (`""` when absent).
pub fn content_type(req: &HttpRequest) -> &str {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("")
}

/// Query of every list endpoint: `limit` and `cursor`, parsed with field-naming errors.
#[derive(Debug, serde::Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

impl ListQuery {
    /// Parses into a page request, naming the bad parameter.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self
            .limit
            .as_deref()
            .map(|l| {
                l.parse::<i64>()
                    .map_err(|_| Invalid::new("limit", "must be a whole number"))
            })
            .transpose()?;
        Ok(PageRequest::parse(limit, self.cursor.as_deref())?)
    }
}

/// The credentials of a `Bearer` authorization header. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
pub fn bearer_credentials(header: &str) -> Option<&str> {
    let (scheme, credentials) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

/// The workspace that the request's API key belongs to.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace's id; every query the handler makes is scoped to it.
    pub id: WorkspaceId,
    /// The id of the API key that made the call (for audit trails; never the key).
    pub key_id: String,
}

impl FromRequest for Workspace {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_credentials)
            .map(ApiKey::parse);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let key = match key {
                None => {
                    return Err(ApiError::Unauthorized(
                        "send an API key as 'Authorization: Bearer <key>'",
                    ))
                }
                Some(None) => return Err(ApiError::Unauthorized("the API key is not valid")),
                Some(Some(key)) => key,
            };
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let hash = key.hash();
            let id = db::run(&state.pool, move |conn| {
                db::workspaces::owner_of_key(conn, &hash).map_err(ApiError::from)
            })
            .await?;
            let owner = id.ok_or(ApiError::Unauthorized("the API key is not valid"))?;
            // A facade key is handed to a Delighted integration and speaks for its one survey
            // there; it opens nothing under /v1 (no other survey, webhooks or erasure).
            if owner.delighted_survey_id.is_some() {
                return Err(ApiError::Unauthorized(
                    "this key is a Delighted facade key: it works only under /delighted/v1/",
                ));
            }
            state.public_limits.check_api(&owner.key_id)?;
            Ok(Workspace {
                id: WorkspaceId::from(owner.workspace_id),
                key_id: owner.key_id,
            })
        })
    }
}

/// Deserializes an optional whole number that JSON may write as `30` or `30.0` (JSON Schema
/// counts both as integers), refusing fractions.
pub fn whole_number<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value: Option<serde_json::Number> = serde::Deserialize::deserialize(deserializer)?;
    value.map(whole::<D::Error>).transpose()
}

/// As [`whole_number`], for a field that may be absent (with `#[serde(default)]`) but not
/// `null`.
pub fn present_whole_number<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value: serde_json::Number = serde::Deserialize::deserialize(deserializer)?;
    whole(value).map(Some)
}

fn whole<E: serde::de::Error>(n: serde_json::Number) -> Result<i64, E> {
    crate::domain::score::whole(&n).ok_or_else(|| E::custom("must be a whole number"))
}

/// An optional field that may be absent (with `#[serde(default)]`) but not `null`: the
/// schema says what type it has, and `null` is not of it.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A field of a partial update (JSON Merge Patch): absent → `None` (unchanged, with
/// `#[serde(default)]`), `null` → `Some(None)` (reset), a value → `Some(Some(value))`.
pub fn patch_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// [`patch_field`] for a whole number written as `30` or `30.0`.
pub fn patch_whole_number<'de, D>(deserializer: D) -> Result<Option<Option<i64>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    whole_number(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::bearer_credentials;

    #[test]
    fn the_bearer_scheme_is_matched_case_insensitively() {
        assert_eq!(bearer_credentials("Bearer sk_x"), Some("sk_x"));
        assert_eq!(bearer_credentials("bearer sk_x"), Some("sk_x"));
        assert_eq!(bearer_credentials("BEARER  sk_x "), Some("sk_x"));
        assert_eq!(bearer_credentials("Basic c2s6"), None);
        assert_eq!(bearer_credentials("Bearer"), None);
    }
}
