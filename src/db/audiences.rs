//! Audiences and their members, always scoped to a workspace. Members are written in bulk:
//! existing addresses updated, new ones inserted many rows per statement.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audience_members, audiences, campaigns};
use super::{AnyConnection, DbError, DbResult};
use crate::domain::audience::Member;
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;

/// Members written per statement (7 columns each: well under either backend's limit).
const CHUNK: usize = 500;

/// A stored audience.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audiences)]
pub struct Audience {
    /// Its id.
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: NaiveDateTime,
}

/// A stored member.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audience_members)]
pub struct MemberRow {
    /// The audience.
    pub audience_id: String,
    /// The address as compared (lower case).
    pub email_key: String,
    /// The address as given.
    pub email: String,
    /// The name.
    pub name: Option<String>,
    /// Attributes, a JSON object of strings.
    pub attributes: String,
    /// When added.
    pub created_at: NaiveDateTime,
    /// When last changed.
    pub updated_at: NaiveDateTime,
}

impl MemberRow {
    /// The attributes as a map (stored as JSON by this module).
    pub fn attributes(&self) -> std::collections::BTreeMap<String, String> {
        serde_json::from_str(&self.attributes).unwrap_or_default()
    }
}

/// Creates an audience.
pub fn insert(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    name: &str,
    now: NaiveDateTime,
) -> DbResult<Audience> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(audiences::table)
        .values((
            audiences::id.eq(&id),
            audiences::workspace_id.eq(workspace.as_str()),
            audiences::name.eq(name),
            audiences::created_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, workspace, &id)
}

/// The audience `id` if it belongs to `workspace`.
pub fn find(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<Audience> {
    audiences::table
        .filter(audiences::workspace_id.eq(workspace.as_str()))
        .filter(audiences::id.eq(id))
        .select(Audience::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("audience"))
}

/// One page of the workspace's audiences, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    page: &PageRequest,
) -> DbResult<Vec<Audience>> {
    let mut query = audiences::table
        .filter(audiences::workspace_id.eq(workspace.as_str()))
        .select(Audience::as_select())
        .order(audiences::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(audiences::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

/// How many members `audience` has.
pub fn member_count(conn: &mut AnyConnection, audience: &str) -> DbResult<i64> {
    Ok(audience_members::table
        .filter(audience_members::audience_id.eq(audience))
        .count()
        .get_result(conn)?)
}

/// Deletes an audience no campaign uses (409 otherwise) with its members.
pub fn delete(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        let audience = find(conn, workspace, id)?;
        let used: i64 = campaigns::table
            .filter(campaigns::audience_id.eq(&audience.id))
            .count()
            .get_result(conn)?;
        if used > 0 {
            return Err(DbError::Refused(
                "a campaign sends to this audience: delete or change the campaign first".into(),
            ));
        }
        diesel::delete(audience_members::table.filter(audience_members::audience_id.eq(id)))
            .execute(conn)?;
        diesel::delete(audiences::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Adds `members` to `audience`, updating the name and attributes of addresses already in it.
/// Returns `(added, updated)`. Call inside a write transaction.
pub fn upsert_members(
    conn: &mut AnyConnection,
    audience: &str,
    members: &[Member],
    now: NaiveDateTime,
) -> DbResult<(usize, usize)> {
    let (mut added, mut updated) = (0, 0);
    for chunk in members.chunks(CHUNK) {
        let keys: Vec<String> = chunk.iter().map(|m| m.email.key()).collect();
        let existing: std::collections::HashSet<String> = audience_members::table
            .filter(audience_members::audience_id.eq(audience))
            .filter(audience_members::email_key.eq_any(&keys))
            .select(audience_members::email_key)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let mut fresh = Vec::with_capacity(chunk.len());
        for (m, key) in chunk.iter().zip(keys) {
            let attributes = serde_json::to_string(&m.attributes.clone().into_map())
                .map_err(|e| DbError::Corrupt(e.to_string()))?;
            if existing.contains(&key) {
                diesel::update(audience_members::table.find((audience, &key)))
                    .set((
                        audience_members::email.eq(m.email.as_str()),
                        audience_members::name.eq(m.name.as_deref()),
                        audience_members::attributes.eq(&attributes),
                        audience_members::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                updated += 1;
            } else {
                fresh.push(MemberRow {
                    audience_id: audience.to_owned(),
                    email_key: key,
                    email: m.email.as_str().to_owned(),
                    name: m.name.clone(),
                    attributes,
                    created_at: now,
                    updated_at: now,
                });
            }
        }
        added += fresh.len();
        if fresh.is_empty() {
            continue;
        }
        // Many rows per statement: one of the few places that must name the backend.
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_into(audience_members::table)
                .values(&fresh)
                .execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(audience_members::table)
                .values(&fresh)
                .execute(c)?,
        };
    }
    Ok((added, updated))
}

/// One page of `audience`'s members in address order, after the key `after`.
pub fn members(
    conn: &mut AnyConnection,
    audience: &str,
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<MemberRow>> {
    let mut query = audience_members::table
        .filter(audience_members::audience_id.eq(audience))
        .select(MemberRow::as_select())
        .order(audience_members::email_key.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(audience_members::email_key.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Removes the member with address key `key` from `audience`; whether there was one.
pub fn remove_member(conn: &mut AnyConnection, audience: &str, key: &str) -> DbResult<bool> {
    Ok(diesel::delete(audience_members::table.find((audience, key))).execute(conn)? > 0)
}

/// Holds audience `id` against erasure until the surrounding transaction ends: a campaign
/// issues its members under it, so a member erased meanwhile is not read, then invited
/// again after the erasure. Postgres takes an advisory lock; SQLite's write lock already
/// serialises writers.
pub fn hold(conn: &mut AnyConnection, id: &str) -> DbResult<()> {
    Ok(super::lock_key(conn, &format!("audience:{id}"))?)
}

/// Holds every audience of the workspace that `key` is a member of (see [`hold`]), in id
/// order so that two erasures wait for each other instead of deadlocking.
pub fn hold_of_member(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    key: &str,
) -> DbResult<()> {
    let ids: Vec<String> = audience_members::table
        .inner_join(audiences::table)
        .filter(audiences::workspace_id.eq(workspace.as_str()))
        .filter(audience_members::email_key.eq(key))
        .select(audiences::id)
        .order(audiences::id.asc())
        .load(conn)?;
    for id in &ids {
        hold(conn, id)?;
    }
    Ok(())
}

/// Removes the address key `key` from every audience of `workspace`; how many memberships.
pub fn remove_everywhere(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    key: &str,
) -> DbResult<usize> {
    let of_workspace = audiences::table
        .filter(audiences::workspace_id.eq(workspace.as_str()))
        .select(audiences::id);
    Ok(diesel::delete(
        audience_members::table
            .filter(audience_members::email_key.eq(key))
            .filter(audience_members::audience_id.eq_any(of_workspace)),
    )
    .execute(conn)?)
}
