//! Workspaces and their API keys.

use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{api_keys, workspaces};
use super::{now, AnyConnection};
use super::{DbError, DbResult};
use crate::domain::ids::WorkspaceId;
use crate::domain::secret::ApiKey;

/// A stored key's owner and binding.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    /// The workspace.
    pub workspace_id: String,
    /// The key's id.
    pub key_id: String,
    /// For a Delighted facade key: its survey.
    pub delighted_survey_id: Option<String>,
}

/// The owner of the key with this hash, if any.
pub fn owner_of_key(conn: &mut AnyConnection, hash: &str) -> DbResult<Option<KeyOwner>> {
    Ok(api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .select((
            api_keys::workspace_id,
            api_keys::id,
            api_keys::delighted_survey_id,
        ))
        .first::<(String, String, Option<String>)>(conn)
        .optional()?
        .map(|(workspace_id, key_id, delighted_survey_id)| KeyOwner {
            workspace_id,
            key_id,
            delighted_survey_id,
        }))
}

/// A workspace's settings.
#[derive(Debug, Clone, Queryable)]
pub struct Settings {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// No score of an anonymous survey over fewer respondents than this.
    pub min_group_size: i32,
    /// Invitations older than this many days lose their identity (`None`: kept).
    pub retention_days: Option<i32>,
}

/// The settings of workspace `id`.
pub fn settings(conn: &mut AnyConnection, id: &WorkspaceId) -> DbResult<Settings> {
    workspaces::table
        .find(id.as_str())
        .select((
            workspaces::id,
            workspaces::name,
            workspaces::created_at,
            workspaces::min_group_size,
            workspaces::retention_days,
        ))
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("workspace"))
}

/// Changes to a workspace's settings (validated): `None` leaves one as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = workspaces)]
pub struct SettingsChanges {
    /// The anonymity minimum.
    pub min_group_size: Option<i32>,
    /// Days identities are kept; `Some(None)` keeps them until erased.
    pub retention_days: Option<Option<i32>>,
}

/// Applies `changes` and answers the workspace's settings.
pub fn update_settings(
    conn: &mut AnyConnection,
    id: &WorkspaceId,
    changes: &SettingsChanges,
) -> DbResult<Settings> {
    if changes.min_group_size.is_some() || changes.retention_days.is_some() {
        diesel::update(workspaces::table.find(id.as_str()))
            .set(changes)
            .execute(conn)?;
    }
    settings(conn, id)
}

/// Creates the workspace `name` if it does not exist and a new API key for it.
/// Returns the key, which is stored only as a hash and cannot be shown again.
pub fn create_api_key(conn: &mut AnyConnection, name: &str) -> DbResult<ApiKey> {
    create_key(conn, name, None)
}

/// Creates a key for workspace `name` (which must exist) bound to its survey `survey_id`, for
/// the Delighted-compatible facade. The key is stored only as a hash.
pub fn create_delighted_key(
    conn: &mut AnyConnection,
    name: &str,
    survey_id: &str,
) -> DbResult<ApiKey> {
    let owned: Option<String> = workspaces::table
        .inner_join(super::schema::surveys::table)
        .filter(workspaces::name.eq(name))
        .filter(super::schema::surveys::id.eq(survey_id))
        .select(workspaces::id)
        .first(conn)
        .optional()?;
    if owned.is_none() {
        return Err(DbError::NotFound("survey in that workspace"));
    }
    create_key(conn, name, Some(survey_id))
}

fn create_key(conn: &mut AnyConnection, name: &str, survey: Option<&str>) -> DbResult<ApiKey> {
    let key = ApiKey::generate();
    super::write_transaction(conn, |conn| {
        super::lock_key(conn, &format!("workspace:{name}"))?;
        let at = now();
        let fresh_id = Uuid::now_v7().to_string();
        let existing = workspaces::table
            .filter(workspaces::name.eq(name))
            .select(workspaces::id)
            .first::<String>(conn)
            .optional()?;
        let workspace_id = match existing {
            Some(id) => id,
            None => {
                diesel::insert_into(workspaces::table)
                    .values((
                        workspaces::id.eq(&fresh_id),
                        workspaces::name.eq(name),
                        workspaces::created_at.eq(at),
                    ))
                    .execute(conn)?;
                fresh_id
            }
        };
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::id.eq(Uuid::now_v7().to_string()),
                api_keys::workspace_id.eq(&workspace_id),
                api_keys::key_hash.eq(key.hash()),
                api_keys::created_at.eq(at),
                api_keys::delighted_survey_id.eq(survey),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })?;
    Ok(key)
}
