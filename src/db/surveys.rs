//! Survey rows and their queries, always scoped to a workspace.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::surveys;
use super::AnyConnection;
use crate::domain::page::PageRequest;
use crate::error::ApiError;

/// A stored survey.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = surveys)]
pub struct Survey {
    /// Its id.
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// Display name.
    pub name: String,
    /// `csat`, `nps`, `ces` or `esat`.
    pub kind: String,
    /// The scale's name, e.g. `0-10`.
    pub scale: String,
    /// The question shown to respondents.
    pub question: String,
    /// The follow-up prompt above the comment box, if any.
    pub comment_prompt: Option<String>,
    /// When it was created (UTC).
    pub created_at: NaiveDateTime,
    /// Email subject template.
    pub email_subject: Option<String>,
    /// Email intro-line template.
    pub email_intro: Option<String>,
    /// Display name of the email sender.
    pub email_sender_name: Option<String>,
    /// Do not email one recipient more than once in this many days (`None` → default).
    pub throttle_days: Option<i32>,
}

/// A survey to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = surveys)]
pub struct NewSurvey<'a> {
    /// Its id.
    pub id: &'a str,
    /// The owning workspace.
    pub workspace_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Kind name.
    pub kind: &'a str,
    /// Scale name.
    pub scale: &'a str,
    /// The question.
    pub question: &'a str,
    /// The comment prompt.
    pub comment_prompt: Option<&'a str>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Email subject template.
    pub email_subject: Option<&'a str>,
    /// Email intro-line template.
    pub email_intro: Option<&'a str>,
    /// Email sender name.
    pub email_sender_name: Option<&'a str>,
    /// Throttle window in days.
    pub throttle_days: Option<i32>,
}

/// Inserts a survey and reads it back.
pub fn insert(conn: &mut AnyConnection, new: &NewSurvey<'_>) -> Result<Survey, ApiError> {
    super::write_transaction(conn, |conn| {
        diesel::insert_into(surveys::table)
            .values(new)
            .execute(conn)?;
        Ok(surveys::table
            .find(new.id)
            .select(Survey::as_select())
            .first(conn)?)
    })
}

/// The survey `id` if it belongs to `workspace_id`.
pub fn find(conn: &mut AnyConnection, workspace_id: &str, id: &str) -> Result<Survey, ApiError> {
    surveys::table
        .filter(surveys::workspace_id.eq(workspace_id))
        .filter(surveys::id.eq(id))
        .select(Survey::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("survey"))
}

/// One page of the workspace's surveys, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: &str,
    page: &PageRequest,
) -> Result<Vec<Survey>, ApiError> {
    let mut query = surveys::table
        .filter(surveys::workspace_id.eq(workspace_id))
        .select(Survey::as_select())
        .order(surveys::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(surveys::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}
