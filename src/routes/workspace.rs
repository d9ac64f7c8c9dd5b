//! `GET` and `PATCH /v1/workspace`: the caller's workspace and its settings.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{self, from_stored, workspaces::Settings};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Keyed, Workspace};
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
    /// Invitations older than this many days lose their address, name and external id in an
    /// hourly sweep; `null` keeps them until erased.
    pub retention_days: Option<i32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<Settings> for WorkspaceView {
    fn from(s: Settings) -> Self {
        Self {
            id: s.id,
            name: s.name,
            min_group_size: s.min_group_size,
            retention_days: s.retention_days,
            created_at: from_stored(s.created_at),
        }
    }
}

/// Body of `PATCH /v1/workspace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    #[serde(default, deserialize_with = "crate::extract::patch_whole_number")]
    min_group_size: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::extract::patch_whole_number")]
    retention_days: Option<Option<i64>>,
}

/// The longest retention that can be set, in days (ten years).
const MAX_RETENTION_DAYS: i64 = 3650;

/// `GET /v1/workspace`.
pub async fn show(ws: Workspace, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = db::run(&state.pool, move |conn| {
        db::workspaces::settings(conn, &ws.id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(settings)))
}

/// `PATCH /v1/workspace`: `min_group_size` (3 to 100; applies to every stats call from then
/// on, past answers included) and `retention_days` (1 to 3650, or `null`).
pub async fn update(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<UpdateWorkspace>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let floor = i64::try_from(MIN_GROUP_FLOOR).unwrap_or(3);
    if matches!(body.min_group_size, Some(None)) {
        return Err(Invalid::new("min_group_size", "cannot be null").into());
    }
    let min = body
        .min_group_size
        .flatten()
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
    let retention = body
        .retention_days
        .map(|days| {
            days.map(|d| {
                i32::try_from(d)
                    .ok()
                    .filter(|d| (1..=MAX_RETENTION_DAYS).contains(&i64::from(*d)))
                    .ok_or_else(|| {
                        Invalid::new(
                            "retention_days",
                            format!(
                                "must be a whole number from 1 to {MAX_RETENTION_DAYS}, or null"
                            ),
                        )
                    })
            })
            .transpose()
        })
        .transpose()?;
    let changes = db::workspaces::SettingsChanges {
        min_group_size: min,
        retention_days: retention,
    };
    let settings = db::run(&state.pool, move |conn| {
        db::workspaces::update_settings(conn, &ws.id, &changes).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(settings)))
}
