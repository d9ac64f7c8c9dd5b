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
        // An anonymous survey's invitations never match an external id: an answer cuts it,
        // so the invitation dropping out of the search would say who has just answered.
        query = query
            .filter(invitations::recipient_external_id.eq(id.clone()))
            .filter(
                invitations::survey_id.ne_all(super::surveys::anonymous_of(workspace.as_str())),
            );
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
    let anonymous = super::surveys::anonymous_of(workspace.as_str());
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(invitations::workspace_id.eq(workspace.as_str()))
        .filter(responses::survey_id.ne_all(anonymous))
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

/// What the page-numbered response list of one survey selects (the Delighted facade).
#[derive(Debug, Clone, Default)]
pub struct ResponsePage {
    /// Created at or after.
    pub since: Option<NaiveDateTime>,
    /// Created at or before.
    pub until: Option<NaiveDateTime>,
    /// Last changed at or after.
    pub updated_since: Option<NaiveDateTime>,
    /// Last changed at or before.
    pub updated_until: Option<NaiveDateTime>,
    /// Newest first.
    pub newest_first: bool,
    /// In id order rather than time order (`newest_first` then reverses it): an anonymous
    /// survey's answers, whose ids are random.
    pub by_id: bool,
    /// Only answers to invitations sent to this address key (one person's).
    pub recipient_key: Option<String>,
    /// In order of last change rather than creation (unless `by_id`).
    pub by_updated: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// One numbered page of `survey`'s trusted responses with their invitations.
pub fn responses_of_survey(
    conn: &mut AnyConnection,
    survey: &SurveyId,
    page: &ResponsePage,
) -> DbResult<Vec<(Response, Invitation)>> {
    let mut query = responses::table
        .inner_join(invitations::table)
        .filter(responses::survey_id.eq(survey.as_str()))
        .filter(responses::suspect.eq(false))
        .select((Response::as_select(), Invitation::as_select()))
        .offset(page.offset)
        .limit(page.limit)
        .into_boxed();
    query = match (page.by_id, page.by_updated, page.newest_first) {
        (true, _, true) => query.order(responses::id.desc()),
        (true, _, false) => query.order(responses::id.asc()),
        (false, true, true) => query.order((responses::updated_at.desc(), responses::id.desc())),
        (false, true, false) => query.order((responses::updated_at.asc(), responses::id.asc())),
        (false, false, true) => query.order((responses::created_at.desc(), responses::id.desc())),
        (false, false, false) => query.order((responses::created_at.asc(), responses::id.asc())),
    };
    if let Some(key) = &page.recipient_key {
        query = query.filter(invitations::recipient_key.eq(key.clone()));
    }
    if let Some(at) = page.since {
        query = query.filter(responses::created_at.ge(at));
    }
    if let Some(at) = page.until {
        query = query.filter(responses::created_at.le(at));
    }
    if let Some(at) = page.updated_since {
        query = query.filter(responses::updated_at.ge(at));
    }
    if let Some(at) = page.updated_until {
        query = query.filter(responses::updated_at.le(at));
    }
    Ok(query.load(conn)?)
}
