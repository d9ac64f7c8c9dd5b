//! People as the Delighted-compatible facade knows them: one per address and workspace, with
//! a stable id, always scoped to a workspace.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitations, people, responses, surveys};
use super::{AnyConnection, DbError, DbResult};
use crate::domain::email::EmailAddress;
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;

/// A stored person.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = people)]
pub struct Person {
    /// Its id (UUIDv7).
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// The lower-cased address, to match invitations and suppressions.
    pub email_key: String,
    /// The address as given.
    pub email: String,
    /// The name.
    pub name: Option<String>,
    /// When first stored.
    pub created_at: NaiveDateTime,
}

/// Stores `email` in `workspace`, or updates the name of the person already stored for it.
/// Call inside a write transaction.
pub fn upsert(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    email: &EmailAddress,
    name: Option<&str>,
    now: NaiveDateTime,
) -> DbResult<Person> {
    if let Some(existing) = find_by_email(conn, workspace, email)? {
        if name.is_some() && name != existing.name.as_deref() {
            diesel::update(people::table.find(&existing.id))
                .set(people::name.eq(name))
                .execute(conn)?;
        }
        return find(conn, workspace, &existing.id);
    }
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(people::table)
        .values((
            people::id.eq(&id),
            people::workspace_id.eq(workspace.as_str()),
            people::email_key.eq(email.key()),
            people::email.eq(email.as_str()),
            people::name.eq(name),
            people::created_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, workspace, &id)
}

/// Person `id` in `workspace`.
pub fn find(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<Person> {
    people::table
        .filter(people::id.eq(id))
        .filter(people::workspace_id.eq(workspace.as_str()))
        .select(Person::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("person"))
}

/// The person stored for `email` in `workspace`, if any.
pub fn find_by_email(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    email: &EmailAddress,
) -> DbResult<Option<Person>> {
    Ok(people::table
        .filter(people::workspace_id.eq(workspace.as_str()))
        .filter(people::email_key.eq(email.key()))
        .select(Person::as_select())
        .first(conn)
        .optional()?)
}

/// The people of `workspace` for the given recipient keys.
pub fn by_keys(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    keys: &[&str],
) -> DbResult<Vec<Person>> {
    Ok(people::table
        .filter(people::workspace_id.eq(workspace.as_str()))
        .filter(people::email_key.eq_any(keys))
        .select(Person::as_select())
        .load(conn)?)
}

/// When a person was last sent a survey, last answered one, and is next to be sent one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// The latest email accepted by SMTP (or link handed out).
    pub last_sent_at: Option<NaiveDateTime>,
    /// The latest answer.
    pub last_responded_at: Option<NaiveDateTime>,
    /// The earliest email still queued.
    pub next_scheduled_at: Option<NaiveDateTime>,
}

/// The [`Activity`] of each of `keys` (people's address keys) in `workspace`, in three
/// grouped queries whatever the number of people (a page's at most). Anonymous surveys'
/// invitations are left out: an answered one loses its person, so a "last sent" that moved
/// back would tell that they answered.
pub fn activity_of(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    keys: &[&str],
) -> DbResult<std::collections::HashMap<String, Activity>> {
    use diesel::dsl::{max, min};
    let mut out: std::collections::HashMap<String, Activity> = std::collections::HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let of_person = invitations::table
        .inner_join(surveys::table)
        .filter(invitations::workspace_id.eq(workspace.as_str()))
        .filter(invitations::recipient_key.eq_any(keys))
        .filter(surveys::anonymous.eq(false));
    let sent: Vec<(Option<String>, Option<NaiveDateTime>)> = of_person
        .clone()
        .group_by(invitations::recipient_key)
        .select((invitations::recipient_key, max(invitations::sent_at)))
        .load(conn)?;
    let queued: Vec<(Option<String>, Option<NaiveDateTime>)> = of_person
        .clone()
        .filter(invitations::status.eq(super::invitations::status::QUEUED))
        .group_by(invitations::recipient_key)
        .select((invitations::recipient_key, min(invitations::send_at)))
        .load(conn)?;
    let answered: Vec<(Option<String>, Option<NaiveDateTime>)> = of_person
        .inner_join(responses::table)
        .group_by(invitations::recipient_key)
        .select((invitations::recipient_key, max(responses::created_at)))
        .load(conn)?;
    for (key, at) in sent {
        out.entry(key.unwrap_or_default()).or_default().last_sent_at = at;
    }
    for (key, at) in queued {
        out.entry(key.unwrap_or_default())
            .or_default()
            .next_scheduled_at = at;
    }
    for (key, at) in answered {
        out.entry(key.unwrap_or_default())
            .or_default()
            .last_responded_at = at;
    }
    Ok(out)
}

/// One page of the workspace's people, oldest first, created in `[since, until]`.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    email: Option<&EmailAddress>,
    page: &PageRequest,
) -> DbResult<Vec<Person>> {
    let mut query = people::table
        .filter(people::workspace_id.eq(workspace.as_str()))
        .select(Person::as_select())
        .order(people::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(people::id.gt(after.clone()));
    }
    if let Some(since) = since {
        query = query.filter(people::created_at.ge(since));
    }
    if let Some(until) = until {
        query = query.filter(people::created_at.le(until));
    }
    if let Some(email) = email {
        query = query.filter(people::email_key.eq(email.key()));
    }
    Ok(query.load(conn)?)
}

/// Erases `person`'s identity: the stored person, and their address and name on every
/// invitation of the workspace (answers and scores stay, anonymous). Call inside a write
/// transaction.
pub fn erase(conn: &mut AnyConnection, person: &Person) -> DbResult<()> {
    diesel::update(
        invitations::table
            .filter(invitations::workspace_id.eq(&person.workspace_id))
            .filter(invitations::recipient_key.eq(&person.email_key)),
    )
    .set((
        invitations::recipient_email.eq(None::<String>),
        invitations::recipient_name.eq(None::<String>),
        invitations::recipient_key.eq(None::<String>),
    ))
    .execute(conn)?;
    diesel::delete(people::table.find(&person.id)).execute(conn)?;
    Ok(())
}

/// The tags and notes (JSON arrays) of `responses`, by response id.
pub fn annotations_of(
    conn: &mut AnyConnection,
    responses: &[&str],
) -> DbResult<std::collections::BTreeMap<String, (String, String)>> {
    use super::schema::response_annotations as a;
    Ok(a::table
        .filter(a::response_id.eq_any(responses))
        .select((a::response_id, a::tags, a::notes))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, tags, notes)| (id, (tags, notes)))
        .collect())
}

/// Replaces the tags and notes (JSON arrays) of `response`. Call inside a write transaction.
pub fn annotate(
    conn: &mut AnyConnection,
    response: &str,
    tags: &str,
    notes: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    use super::schema::response_annotations as a;
    let changed = diesel::update(a::table.find(response))
        .set((a::tags.eq(tags), a::notes.eq(notes), a::updated_at.eq(now)))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(a::table)
            .values((
                a::response_id.eq(response),
                a::tags.eq(tags),
                a::notes.eq(notes),
                a::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
