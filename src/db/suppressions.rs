//! The workspace suppression list: addresses that must never be emailed.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::suppressions;
use super::AnyConnection;
use super::{DbError, DbResult};
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;

/// Why an address is suppressed.
pub mod reason {
    /// The recipient unsubscribed.
    pub const UNSUBSCRIBED: &str = "unsubscribed";
    /// Mail to the address bounced.
    pub const BOUNCED: &str = "bounced";
    /// Added through the API.
    pub const MANUAL: &str = "manual";
    /// Every reason, for validation.
    pub const ALL: [&str; 3] = [UNSUBSCRIBED, BOUNCED, MANUAL];
}

/// A stored suppression.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = suppressions)]
pub struct Suppression {
    /// The workspace.
    #[diesel(deserialize_as = String)]
    pub workspace_id: WorkspaceId,
    /// The lower-cased address.
    pub email: String,
    /// See [`reason`].
    pub reason: String,
    /// Free text, e.g. the bounce message.
    pub detail: Option<String>,
    /// When it was added.
    pub created_at: NaiveDateTime,
}

/// The suppression of `email` (lower-cased) in the workspace, if any: listed as it is, or
/// as the hash an erasure left (see [`super::erasure::hashed_key`]).
pub fn find(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    email: &str,
) -> QueryResult<Option<Suppression>> {
    suppressions::table
        .filter(suppressions::workspace_id.eq(workspace_id.as_str()))
        .filter(suppressions::email.eq_any(listed_forms(workspace_id, email)))
        .order(suppressions::email.asc())
        .select(Suppression::as_select())
        .first(conn)
        .optional()
}

/// The two ways `email` may be listed: as it is, and as the hash an erasure left (see
/// [`super::erasure::hashed_key`]).
fn listed_forms(workspace_id: &WorkspaceId, email: &str) -> [String; 2] {
    [
        email.to_owned(),
        super::erasure::hashed_key(workspace_id, email),
    ]
}

/// Why each of `emails` (lower-cased, of one workspace) is suppressed, by address: for
/// each, what [`find`] would answer, with one query for them all (at most one outbox claim).
pub fn reasons(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    emails: &[&str],
) -> QueryResult<HashMap<String, String>> {
    let mut listed_as: HashMap<String, &str> = HashMap::new();
    for &email in emails {
        for form in listed_forms(workspace_id, email) {
            listed_as.insert(form, email);
        }
    }
    let rows: Vec<(String, String)> = suppressions::table
        .filter(suppressions::workspace_id.eq(workspace_id.as_str()))
        .filter(
            suppressions::email.eq_any(listed_as.keys().map(String::as_str).collect::<Vec<_>>()),
        )
        .order(suppressions::email.asc())
        .select((suppressions::email, suppressions::reason))
        .load(conn)?;
    let mut reasons = HashMap::new();
    for (listed, reason) in rows {
        if let Some(&email) = listed_as.get(&listed) {
            // Ordered as `find` orders them: the first entry of an address wins.
            reasons.entry(email.to_owned()).or_insert(reason);
        }
    }
    Ok(reasons)
}

/// Adds `email` unless it is already listed; returns the entry and whether it is new.
pub fn add(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    email: &str,
    why: &str,
    detail: Option<&str>,
    now: NaiveDateTime,
) -> DbResult<(Suppression, bool)> {
    super::write_transaction(conn, |conn| {
        super::lock_key(conn, &format!("recipient:{workspace_id}:{email}"))?;
        if let Some(existing) = find(conn, workspace_id, email)? {
            return Ok((existing, false));
        }
        diesel::insert_into(suppressions::table)
            .values((
                suppressions::workspace_id.eq(workspace_id.as_str()),
                suppressions::email.eq(email),
                suppressions::reason.eq(why),
                suppressions::detail.eq(detail),
                suppressions::created_at.eq(now),
            ))
            .execute(conn)?;
        let created = find(conn, workspace_id, email)?.ok_or(DbError::NotFound("suppression"))?;
        Ok((created, true))
    })
}

/// Removes `email`; returns whether it was listed.
pub fn remove(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    email: &str,
) -> QueryResult<bool> {
    let n =
        diesel::delete(suppressions::table.find((workspace_id.as_str(), email))).execute(conn)?;
    Ok(n > 0)
}

/// One page of the list, by address.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    page: &PageRequest,
) -> QueryResult<Vec<Suppression>> {
    let mut query = suppressions::table
        .filter(suppressions::workspace_id.eq(workspace_id.as_str()))
        .select(Suppression::as_select())
        .order(suppressions::email.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(suppressions::email.gt(after.clone()));
    }
    query.load(conn)
}

/// One numbered page of the workspace's suppressions for `why`, oldest first, added in
/// `[since, until]` (the Delighted facade's unsubscribe and bounce lists).
pub fn page_by_reason(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    why: &str,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Suppression>> {
    let mut query = suppressions::table
        .filter(suppressions::workspace_id.eq(workspace_id.as_str()))
        .filter(suppressions::reason.eq(why))
        .select(Suppression::as_select())
        .order((suppressions::created_at.asc(), suppressions::email.asc()))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(at) = since {
        query = query.filter(suppressions::created_at.ge(at));
    }
    if let Some(at) = until {
        query = query.filter(suppressions::created_at.le(at));
    }
    query.load(conn)
}

#[cfg(test)]
mod tests {
    use super::{add, find, reasons};
    use crate::config::DatabaseUrl;
    use crate::db::{self, erasure::hashed_key, workspaces, PoolOptions};
    use crate::domain::ids::WorkspaceId;

    #[test]
    fn reasons_for_many_addresses_agree_with_find_for_each() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse(&format!("sqlite://{}/t.db", dir.path().display())).unwrap();
        let options = PoolOptions {
            size: 1,
            sqlite_busy_timeout_ms: 1_000,
            checkout_timeout: std::time::Duration::from_secs(5),
        };
        let pool = db::connect(&url, options).unwrap();
        db::run_migrations(&pool).unwrap();
        let mut conn = pool.get().unwrap();
        let key = workspaces::create_api_key(&mut conn, "w").unwrap();
        let owner = workspaces::owner_of_key(&mut conn, &key.hash())
            .unwrap()
            .unwrap();
        let workspace = WorkspaceId::from(owner.workspace_id);
        let now = db::now();
        // Listed as it is, as an erasure's hash, both ways (with different reasons), or not.
        add(&mut conn, &workspace, "plain@x.test", "manual", None, now).unwrap();
        let hashed = hashed_key(&workspace, "erased@x.test");
        add(&mut conn, &workspace, &hashed, "unsubscribed", None, now).unwrap();
        add(&mut conn, &workspace, "both@x.test", "bounced", None, now).unwrap();
        let hashed = hashed_key(&workspace, "both@x.test");
        add(&mut conn, &workspace, &hashed, "unsubscribed", None, now).unwrap();

        let emails = [
            "plain@x.test",
            "erased@x.test",
            "both@x.test",
            "free@x.test",
        ];
        let found = reasons(&mut conn, &workspace, &emails).unwrap();
        for email in emails {
            let one = find(&mut conn, &workspace, email)
                .unwrap()
                .map(|s| s.reason);
            assert_eq!(found.get(email), one.as_ref(), "{email}");
        }
        assert_eq!(found.len(), 3, "{found:?}");
    }
}
