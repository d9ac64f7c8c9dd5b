//! `/v1/audiences`: the people a campaign goes to, uploaded as JSON or CSV and checked row by
//! row (a bad row is named, and nothing is imported unless `skip_invalid=true`).

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::audiences::{self, Audience, MemberRow};
use crate::db::{self, from_stored};
use crate::domain::audience::{self, Parsed, RowError, MAX_REPORTED};
use crate::domain::email::EmailAddress;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{KeyedUpload, ListQuery, Upload, Workspace};
use crate::state::AppState;
use crate::views::ListView;

/// An audience as served.
#[derive(Debug, Serialize)]
pub struct AudienceView {
    id: String,
    name: String,
    /// How many members it has.
    members: i64,
    created_at: DateTime<Utc>,
}

impl AudienceView {
    fn new(a: Audience, members: i64) -> Self {
        Self {
            id: a.id,
            name: a.name,
            members,
            created_at: from_stored(a.created_at),
        }
    }
}

/// What an upload did.
#[derive(Debug, Serialize)]
pub struct ImportView {
    /// The audience after it.
    audience: AudienceView,
    /// Members added.
    added: usize,
    /// Members already there, updated.
    updated: usize,
    /// With `skip_invalid=true`: how many bad rows were left out, and the first of them.
    skipped: usize,
    skipped_rows: Vec<SkippedView>,
}

/// A row left out.
#[derive(Debug, Serialize)]
pub struct SkippedView {
    row: String,
    field: String,
    message: String,
}

impl From<RowError> for SkippedView {
    fn from(e: RowError) -> Self {
        Self {
            row: e.row,
            field: e.field,
            message: e.message,
        }
    }
}

/// A member as served.
#[derive(Debug, Serialize)]
pub struct MemberView {
    email: String,
    name: Option<String>,
    attributes: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<MemberRow> for MemberView {
    fn from(m: MemberRow) -> Self {
        Self {
            attributes: m.attributes(),
            email: m.email,
            name: m.name,
            created_at: from_stored(m.created_at),
            updated_at: from_stored(m.updated_at),
        }
    }
}

/// `skip_invalid` and `name` from the query string.
fn query(req: &HttpRequest) -> Result<(bool, Option<String>), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query string is not valid: {e}")))?;
    let (mut skip, mut name) = (false, None);
    for (k, v) in pairs {
        match k.as_str() {
            "skip_invalid" => {
                skip = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Invalid::new("skip_invalid", "must be true or false").into()),
                }
            }
            "name" => name = Some(v),
            _ => {}
        }
    }
    Ok((skip, name))
}

/// Whether bad rows are skipped: for a CSV file when asked. A JSON body is a typed document
/// (its schema says what a member is), accepted or refused whole.
fn skip_rows(body: &Upload, skip_invalid: bool) -> bool {
    skip_invalid && matches!(body, Upload::Csv(_))
}

/// The members of an upload, parsed row by row (`required`: a JSON body must have them).
fn parse_members(body: &Upload, required: bool) -> Result<Parsed, ApiError> {
    Ok(match body {
        Upload::Csv(bytes) => audience::from_csv(bytes)?,
        Upload::Json(value) => {
            if let Some(k) = value.as_object().and_then(|o| {
                o.keys().find(|k| {
                    !matches!(k.as_str(), "name" | "members") || (required && *k == "name")
                })
            }) {
                return Err(Invalid::new(k.clone(), "is not a field of this request").into());
            }
            if required && value.get("members").is_none() {
                return Err(Invalid::new("members", "is required").into());
            }
            audience::from_json(value.get("members"))?
        }
    })
}

/// Checks a name (1 to 200 characters, no control characters).
fn checked_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Invalid::new("name", "must be 1 to 200 characters"));
    }
    crate::domain::text::check("name", &name)?;
    Ok(name)
}

/// The audience's name: from the JSON body, else `?name=`, else one made from the date.
fn audience_name(body: &Upload, from_query: Option<String>) -> Result<String, Invalid> {
    let from_query = from_query.as_deref().map(checked_name).transpose()?;
    let name = match body {
        Upload::Json(value) => match value.get("name") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            None => None,
            Some(_) => return Err(Invalid::new("name", "must be a string")),
        },
        Upload::Csv(_) => None,
    };
    match name.or(from_query) {
        Some(name) => checked_name(&name),
        None => Ok(format!(
            "Audience of {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        )),
    }
}

/// `POST /v1/audiences`: `{"name", "members": [...]}` as JSON, or a CSV upload with `?name=`.
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    upload: KeyedUpload,
) -> Result<HttpResponse, ApiError> {
    // `_turn` (not `_`) keeps the upload's turn until the handler returns.
    let KeyedUpload {
        workspace: ws,
        body,
        turn: _turn,
    } = upload;
    let (skip, name) = query(&req)?;
    let name = audience_name(&body, name)?;
    let (members, skipped) = parse_members(&body, false)?.accept(skip_rows(&body, skip))?;
    let view = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            let now = db::now();
            let a = audiences::insert(conn, &ws.id, &name, now)?;
            let (added, updated) = audiences::upsert_members(conn, &a.id, &members, now)?;
            Ok::<_, ApiError>(import_view(a, added, updated, skipped))
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

fn import_view(a: Audience, added: usize, updated: usize, skipped: Vec<RowError>) -> ImportView {
    let members = i64::try_from(added).unwrap_or(i64::MAX);
    ImportView {
        audience: AudienceView::new(a, members),
        added,
        updated,
        skipped: skipped.len(),
        skipped_rows: skipped
            .into_iter()
            .take(MAX_REPORTED)
            .map(Into::into)
            .collect(),
    }
}

/// `POST /v1/audiences/{id}/members`: adds members (JSON `{"members": [...]}` or CSV),
/// updating those already in it.
pub async fn add_members(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
    upload: KeyedUpload,
) -> Result<HttpResponse, ApiError> {
    // `_turn` (not `_`) keeps the upload's turn until the handler returns.
    let KeyedUpload {
        workspace: ws,
        body,
        turn: _turn,
    } = upload;
    let (skip, _) = query(&req)?;
    let (members, skipped) = parse_members(&body, true)?.accept(skip_rows(&body, skip))?;
    let view = db::run(&state.pool, move |conn| {
        db::write_transaction(conn, |conn| {
            let a = audiences::find(conn, &ws.id, &id)?;
            let (added, updated) = audiences::upsert_members(conn, &a.id, &members, db::now())?;
            let count = audiences::member_count(conn, &a.id)?;
            let mut view = import_view(a, added, updated, skipped);
            view.audience.members = count;
            Ok::<_, ApiError>(view)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/audiences`.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let list = db::run(&state.pool, move |conn| {
        let rows = audiences::list(conn, &ws.id, &page)?;
        let (rows, next_cursor) = page.finish(rows, |a| a.id.as_str());
        let mut data = Vec::with_capacity(rows.len());
        for a in rows {
            let n = audiences::member_count(conn, &a.id)?;
            data.push(AudienceView::new(a, n));
        }
        Ok::<_, ApiError>(ListView { data, next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /v1/audiences/{id}`.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = db::run(&state.pool, move |conn| {
        let a = audiences::find(conn, &ws.id, &id)?;
        let n = audiences::member_count(conn, &a.id)?;
        Ok::<_, ApiError>(AudienceView::new(a, n))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /v1/audiences/{id}`: 409 while a campaign sends to it.
pub async fn delete(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    db::run(&state.pool, move |conn| {
        audiences::delete(conn, &ws.id, &id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/audiences/{id}/members`, in address order.
pub async fn members(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let list = db::run(&state.pool, move |conn| {
        let a = audiences::find(conn, &ws.id, &id)?;
        let rows = audiences::members(conn, &a.id, page.after.as_deref(), page.fetch_limit())?;
        let (rows, next_cursor) = page.finish(rows, |m| m.email_key.as_str());
        let data: Vec<MemberView> = rows.into_iter().map(Into::into).collect();
        Ok::<_, ApiError>(ListView { data, next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `DELETE /v1/audiences/{id}/members/{email}`: 204, or 404 when not a member.
pub async fn remove_member(
    ws: Workspace,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, email) = path.into_inner();
    // Something that is not an address is no member (404), like an address that is not one.
    let key = EmailAddress::parse("email", &email).ok().map(|e| e.key());
    db::run(&state.pool, move |conn| {
        let a = audiences::find(conn, &ws.id, &id)?;
        let Some(key) = key else {
            return Err(ApiError::NotFound("member"));
        };
        if audiences::remove_member(conn, &a.id, &key)? {
            Ok(())
        } else {
            Err(ApiError::NotFound("member"))
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
