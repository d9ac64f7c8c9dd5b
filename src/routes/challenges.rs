//! Rating challenges: `POST /v1/responses/{id}/challenges` (an agent disputes a rating),
//! `POST /v1/challenges/{id}/resolve` (a reviewer decides), and the audit trail at
//! `GET /v1/challenges` and `GET /v1/challenges/{id}`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::db::challenges::{self, ChallengeSearch};
use crate::db::{self};
use crate::domain::challenge::{self as rules, Decision, Status};
use crate::domain::ids::ResponseId;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Keyed, ListQuery, Workspace};
use crate::helpdesk::challenges::{self as service, ChallengeView, Filing, Resolution};
use crate::state::AppState;
use crate::views::ListView;

/// Body of `POST /v1/responses/{id}/challenges`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBody {
    reason: String,
    challenged_by: String,
    note: Option<String>,
}

impl FileBody {
    fn parse(self) -> Result<Filing, Invalid> {
        Ok(Filing {
            reason: rules::reason(&self.reason)?,
            by: rules::actor("challenged_by", &self.challenged_by)?,
            note: rules::note("note", self.note.as_deref())?,
        })
    }
}

/// `POST /v1/responses/{id}/challenges`: 201 with the open challenge.
pub async fn file(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<FileBody>>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let filing = body.parse()?;
    let response_id = ResponseId::from(id.into_inner());
    let view = db::run(&state.pool, move |conn| {
        service::file(conn, &ws.id, &ws.key_id, &response_id, filing)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Body of `POST /v1/challenges/{id}/resolve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    decision: String,
    resolved_by: String,
    note: Option<String>,
}

impl ResolveBody {
    fn parse(self) -> Result<Resolution, Invalid> {
        Ok(Resolution {
            decision: Decision::parse(&self.decision)?,
            by: rules::actor("resolved_by", &self.resolved_by)?,
            note: rules::note("note", self.note.as_deref())?,
        })
    }
}

/// `POST /v1/challenges/{id}/resolve`: 200 with the decided challenge; 409 if already decided.
pub async fn resolve(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<ResolveBody>>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let resolution = body.parse()?;
    let id = id.into_inner().to_string();
    let view = db::run(&state.pool, move |conn| {
        service::resolve(conn, &ws.id, &ws.key_id, &id, resolution)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/challenges/{id}`: one challenge with its trail.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner().to_string();
    let view = db::run(&state.pool, move |conn| {
        let challenge = challenges::find(conn, &ws.id, &id)?;
        let mut trails = challenges::trails(conn, &[challenge.id.as_str()])?;
        let trail = trails.remove(&challenge.id).unwrap_or_default();
        Ok::<_, ApiError>(ChallengeView::new(challenge, trail))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Query of `GET /v1/challenges`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    survey_id: Option<String>,
    response_id: Option<String>,
}

fn uuid_param(field: &str, raw: Option<String>) -> Result<Option<String>, Invalid> {
    raw.map(|v| {
        Uuid::parse_str(&v)
            .map(|u| u.to_string())
            .map_err(|_| Invalid::new(field, "must be a UUID"))
    })
    .transpose()
}

/// `GET /v1/challenges?status=&survey_id=&response_id=`: the audit trail, oldest first,
/// cursor-paginated; each challenge with every step.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let bad = |e: actix_web::error::QueryPayloadError| {
        ApiError::BadRequest(format!("query string is not valid: {e}"))
    };
    let page = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(bad)?
        .page()?;
    let params = web::Query::<ListParams>::from_query(req.query_string())
        .map_err(bad)?
        .into_inner();
    let search = ChallengeSearch {
        status: params
            .status
            .map(|s| Status::parse("status", &s))
            .transpose()?,
        survey_id: uuid_param("survey_id", params.survey_id)?,
        response_id: uuid_param("response_id", params.response_id)?,
    };
    let page_of = db::run(&state.pool, move |conn| {
        let rows = challenges::list(conn, &ws.id, &search, &page)?;
        let (rows, next_cursor) = page.finish(rows, |c| c.id.as_str());
        let ids: Vec<&str> = rows.iter().map(|c| c.id.as_str()).collect();
        let mut trails = challenges::trails(conn, &ids)?;
        let data = rows
            .into_iter()
            .map(|c| {
                let trail = trails.remove(&c.id).unwrap_or_default();
                ChallengeView::new(c, trail)
            })
            .collect();
        Ok::<_, ApiError>(ListView { data, next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page_of))
}
