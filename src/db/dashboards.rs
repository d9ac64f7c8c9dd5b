//! Dashboards shared by a secret link, always scoped to a workspace; the link's token is found
//! by its hash only.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::dashboards;
use super::{AnyConnection, DbError, DbResult};
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;

/// A stored dashboard.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dashboards)]
pub struct Dashboard {
    /// Its id.
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// SHA-256 of the link's token.
    pub token_hash: String,
    /// What it is called on the page.
    pub name: String,
    /// The one survey shown, or `None` for every survey of `kind` on `scale`.
    pub survey_id: Option<String>,
    /// The surveys' kind.
    pub kind: String,
    /// Their scale.
    pub scale: String,
    /// The default window: this many days up to now.
    pub window_days: i32,
    /// The default trend interval (`day`, `week`, `month`).
    pub bucket: String,
    /// The zone the trend buckets are cut in.
    pub tz: String,
    /// The property whose values get a row each, if any.
    pub group_by: Option<String>,
    /// A JSON object of `property: value` filters.
    pub filters: String,
    /// Whether the page lists the latest comments.
    pub show_comments: bool,
    /// Whether the page offers a CSV download.
    pub allow_csv: bool,
    /// When the link stops working, if ever.
    pub expires_at: Option<NaiveDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<NaiveDateTime>,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

impl Dashboard {
    /// Whether the link still shows the page at `now`.
    pub fn live_at(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Stores a dashboard, refusing more than `max` live ones per workspace (409).
pub fn insert(conn: &mut AnyConnection, new: &Dashboard, max: i64) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        // Concurrent creations count one at a time, so none slips past the cap.
        super::lock_key(conn, &format!("dashboards:{}", new.workspace_id))?;
        let existing: i64 = dashboards::table
            .filter(dashboards::workspace_id.eq(&new.workspace_id))
            .filter(dashboards::revoked_at.is_null())
            .count()
            .get_result(conn)?;
        if existing >= max {
            return Err(DbError::Refused(format!(
                "a workspace has at most {max} dashboards; revoke one first"
            )));
        }
        diesel::insert_into(dashboards::table)
            .values(new)
            .execute(conn)?;
        Ok(())
    })
}

/// Dashboard `id` of `workspace`, unless revoked.
pub fn find(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<Dashboard> {
    dashboards::table
        .filter(dashboards::workspace_id.eq(workspace.as_str()))
        .filter(dashboards::id.eq(id))
        .filter(dashboards::revoked_at.is_null())
        .select(Dashboard::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("dashboard"))
}

/// The dashboard whose link token hashes to `token_hash`, revoked or not.
pub fn by_token(conn: &mut AnyConnection, token_hash: &str) -> DbResult<Dashboard> {
    dashboards::table
        .filter(dashboards::token_hash.eq(token_hash))
        .select(Dashboard::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("dashboard"))
}

/// One page of the workspace's dashboards that are not revoked, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    page: &PageRequest,
) -> DbResult<Vec<Dashboard>> {
    let mut query = dashboards::table
        .filter(dashboards::workspace_id.eq(workspace.as_str()))
        .filter(dashboards::revoked_at.is_null())
        .select(Dashboard::as_select())
        .order(dashboards::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(dashboards::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

/// Revokes dashboard `id` of `workspace`: its link answers 410 from now on.
pub fn revoke(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    id: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    let revoked = diesel::update(
        dashboards::table
            .filter(dashboards::workspace_id.eq(workspace.as_str()))
            .filter(dashboards::id.eq(id))
            .filter(dashboards::revoked_at.is_null()),
    )
    .set(dashboards::revoked_at.eq(now))
    .execute(conn)?;
    if revoked == 0 {
        return Err(DbError::NotFound("dashboard"));
    }
    Ok(())
}
