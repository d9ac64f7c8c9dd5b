//! `/unsubscribes` and `/bounces`: Delighted's lists, mapped onto the suppression list.

use serde_json::{Map, Value};

use super::body::{email, page, unix_param, unix_until};
use super::people::people_by_key;
use super::views;
use super::Project;
use crate::db::{self, suppressions, AnyConnection};
use crate::error::ApiError;

/// `POST /unsubscribes`: adds `person_email` to the suppression list as unsubscribed.
pub fn unsubscribe(
    conn: &mut AnyConnection,
    project: &Project,
    params: &Map<String, Value>,
) -> Result<(), ApiError> {
    let address = email(params, "person_email")?;
    suppressions::add(
        conn,
        &project.workspace,
        &address.key(),
        suppressions::reason::UNSUBSCRIBED,
        Some("Delighted API"),
        db::now(),
    )?;
    Ok(())
}

/// `GET /unsubscribes` and `GET /bounces`: one numbered page of suppressions for `why`,
/// with `at_field` naming their time.
pub fn list_suppressions(
    conn: &mut AnyConnection,
    project: &Project,
    params: &Map<String, Value>,
    why: &str,
    at_field: &str,
) -> Result<Vec<Value>, ApiError> {
    let (offset, limit) = page(params)?;
    let rows = suppressions::page_by_reason(
        conn,
        &project.workspace,
        why,
        unix_param(params, "since")?,
        unix_until(params, "until")?,
        offset,
        limit,
    )
    .map_err(db::DbError::from)?;
    let keys: Vec<&str> = rows.iter().map(|s| s.email.as_str()).collect();
    let people = people_by_key(conn, project, &keys)?;
    Ok(rows
        .iter()
        .map(|s| {
            let person = people.get(&s.email);
            serde_json::json!({
                "person_id": person.map(|p| p.id.clone()),
                "email": person.map(|p| p.email.clone()).unwrap_or_else(|| s.email.clone()),
                "name": person.and_then(|p| p.name.clone()),
                at_field: views::unix(s.created_at),
            })
        })
        .collect())
}
