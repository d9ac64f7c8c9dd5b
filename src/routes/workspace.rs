//! `GET` and `PATCH /v1/workspace`: the caller's workspace and its settings.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{self, from_stored, workspaces::Settings};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Workspace};
use crate::reports::anonymity::MIN_GROUP_FLOOR;
use crate::state::AppState;

/// The largest `min_group_size` (a team larger than this is a department).
const MIN_GROUP_CEILING: i64 = 100;

/// A workspace as served.
#[derive(Debug, Serialize)]
pub struct WorkspaceView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// No score of an anonymous survey is served over fewer respondents than this.
    pub min_group_size: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<Settings> for WorkspaceView {
    fn from(s: Settings) -> Self {
        Self {
            id: s.id,
            name: s.name,
            min_group_size: s.min_group_size,
            created_at: from_stored(s.created_at),
        }
    }
}

/// Body of `PATCH /v1/workspace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    #[serde(default, deserialize_with = "crate::extract::whole_number")]
    min_group_size: Option<i64>,
}

/// `GET /v1/workspace`.
pub async fn show(ws: Workspace, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = db::run(&state.pool, move |conn| {
        db::workspaces::settings(conn, &ws.id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(settings)))
}

/// `PATCH /v1/workspace`: `min_group_size` (3 to 100; applies to every stats call from then
/// on, past answers included).
pub async fn update(
    ws: Workspace,
    state: web::Data<AppState>,
    Json(body): Json<UpdateWorkspace>,
) -> Result<HttpResponse, ApiError> {
    let floor = i64::try_from(MIN_GROUP_FLOOR).unwrap_or(3);
    let min = body
        .min_group_size
        .map(|n| {
            if (floor..=MIN_GROUP_CEILING).contains(&n) {
                i32::try_from(n).map_err(|_| ())
            } else {
                Err(())
            }
            .map_err(|()| {
                Invalid::new(
                    "min_group_size",
                    format!("must be a whole number from {floor} to {MIN_GROUP_CEILING}"),
                )
            })
        })
        .transpose()?;
    let settings = db::run(&state.pool, move |conn| {
        match min {
            Some(min) => db::workspaces::set_min_group_size(conn, &ws.id, min),
            None => db::workspaces::settings(conn, &ws.id),
        }
        .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(settings)))
}
