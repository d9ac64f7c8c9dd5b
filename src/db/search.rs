//! Workspace-wide look-ups a helpdesk uses to show ratings on tickets: invitations and
//! responses by recipient id, property (`ticket_id`) and time, cursor-paginated.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::invitations::Invitation;
use super::responses::Response;
use super::schema::{invitation_properties, invitations, responses};
use super::{AnyConnection, DbResult};
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::page::PageRequest;

/// What to look for; every part given must match.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// One survey only.
    pub survey_id: Option<SurveyId>,
    /// The caller's id for the recipient.
    pub external_id: Option<String>,
    /// `(property, value)` pairs the invitation carries.
    pub filters: Vec<(String, String)>,
    /// Changed at or after this (responses: last change; invitations: creation).
    pub since: Option<NaiveDateTime>,
}

/// A filter on invitation ids by one property value.
macro_rules! with_property {
    ($query:expr, $k:expr, $v:expr) => {
        $query.filter(
            invitations::id.eq_any(
                invitation_properties::table
                    .filter(invitation_properties::key.eq($k.clone()))
                    .filter(invitation_properties::value.eq($v.clone()))
                    .select(invitation_properties::invitation_id),
            ),
        )
    };
}

/// One page of the workspace's invitations matching `search`, oldest first.
pub fn invitations(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    search: &Search,
    page: &PageRequest,
) -> DbResult<Vec<Invitation>> {
    let mut query = invitations::table
        .filter(invitations::workspace_id.eq(workspace.as_str()))
        .select(Invitation::as_select())
        .order(invitations::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(invitations::id.gt(after.clone()));
    }
    if let Some(survey) = &search.survey_id {
        query = query.filter(invitations::survey_id.eq(survey.as_str()));
    }
    if let Some(id) = &search.external_id {
        query = query.filter(invitations::recipient_external_id.eq(id.clone()));
    }
    if let Some(since) = search.since {
        query = query.filter(invitations::created_at.ge(since));
    }
    for (k, v) in &search.filters {
        query = with_property!(query, k, v);
    }
    Ok(query.load(conn)?)
}

/// One page of the workspace's responses matching `search` with their invitations, oldest
/// first.
pub fn responses(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    search: &Search,
    page: &PageRequest,
) -> DbResult<Vec<(Response, Invitation)>> {
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(invitations::workspace_id.eq(workspace.as_str()))
        .select((Response::as_select(), Invitation::as_select()))
        .order(responses::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(responses::id.gt(after.clone()));
    }
    if let Some(survey) = &search.survey_id {
        query = query.filter(responses::survey_id.eq(survey.as_str()));
    }
    if let Some(id) = &search.external_id {
        query = query.filter(invitations::recipient_external_id.eq(id.clone()));
    }
    if let Some(since) = search.since {
        query = query.filter(responses::updated_at.ge(since));
    }
    for (k, v) in &search.filters {
        query = with_property!(query, k, v);
    }
    Ok(query.load(conn)?)
}
