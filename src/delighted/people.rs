//! `/people`: storing people, scheduling their surveys through the normal invitation path,
//! listing them by cursor, cancelling their pending surveys, and erasing them.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{Map, Value};

use super::body::{
    boolean, email, integer, per_page, properties, text, unix_param, unix_until, MAX_DELAY_SECONDS,
};
use super::views::{self, Outcome, PersonListView, PersonView};
use super::Project;
use crate::db::invitations::status;
use crate::db::people::{self, Person};
use crate::db::{self, outbox, AnyConnection};
use crate::domain::email::EmailAddress;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::invite::{self, Channel, InvitationRequest, Issuer};

/// `POST /people`: stores the person and, unless `send=false`, schedules their survey email
/// through the normal invitation path. Returns the view and whether an email was queued.
pub fn create_person(
    conn: &mut AnyConnection,
    project: &Project,
    issuer: &Issuer,
    email_enabled: bool,
    params: &Map<String, Value>,
) -> Result<(PersonView, bool), ApiError> {
    let channel = text(params, "channel")?;
    if channel.as_deref().is_some_and(|c| c != "email") {
        return Err(Invalid::new("channel", "only email is supported (SMS is not)").into());
    }
    if params.get("email").is_none() && params.get("phone_number").is_some() {
        return Err(Invalid::new(
            "phone_number",
            "SMS is not supported by Scorekeeper: send an email address",
        )
        .into());
    }
    let address = email(params, "email")?;
    let name = text(params, "name")?
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(name) = &name {
        if name.chars().count() > 200 {
            return Err(Invalid::new("name", "must be at most 200 characters").into());
        }
        crate::domain::text::check("name", name)?;
    }
    let delay = integer(params, "delay")?.unwrap_or(0);
    if !(0..=MAX_DELAY_SECONDS).contains(&delay) {
        return Err(Invalid::new("delay", "must be 0 to 31536000 seconds").into());
    }
    let send = boolean(params, "send")?.unwrap_or(true);
    let props = properties(params, "properties")?;
    if send && !email_enabled {
        return Err(Invalid::new("email", crate::mail::DISABLED).into());
    }
    db::write_transaction(conn, |conn| {
        let now = db::now();
        let person = people::upsert(conn, &project.workspace, &address, name.as_deref(), now)?;
        let mut view = PersonView {
            id: person.id.clone(),
            email: person.email.clone(),
            name: person.name.clone(),
            survey_scheduled_at: None,
            properties: props.clone().into_map(),
            scorekeeper: Outcome {
                outcome: "stored",
                invitation_id: None,
                eligible_at: None,
                reason: None,
            },
        };
        if !send {
            return Ok((view, false));
        }
        let request = InvitationRequest {
            channel: Channel::Email,
            email: Some(address.clone()),
            name: person.name.clone(),
            external_id: None,
            properties: props.clone(),
            expires_at: None,
            send_at: Some(Utc::now() + Duration::seconds(delay)),
            throttled: true,
            issued_at: None,
        };
        let created = invite::create(
            conn,
            &project.workspace,
            &project.survey,
            &request,
            None,
            issuer,
        )?;
        let inv = &created.invitation;
        view.scorekeeper.invitation_id = Some(inv.id.to_string());
        view.scorekeeper.outcome = match (inv.status.as_str(), inv.status_reason.as_deref()) {
            (status::SUPPRESSED, Some("throttled")) => "throttled",
            (status::SUPPRESSED, _) => "suppressed",
            _ => "queued",
        };
        if view.scorekeeper.outcome == "queued" {
            view.survey_scheduled_at = inv.send_at.map(views::unix);
        } else if view.scorekeeper.outcome == "suppressed" {
            view.scorekeeper.reason = inv.status_reason.clone();
        }
        view.scorekeeper.eligible_at = inv.eligible_at.map(views::unix);
        Ok((view, created.queued_email))
    })
}

/// `GET /people`: one page of people (cursor `page_info`), and the cursor of the next.
pub fn list_people(
    conn: &mut AnyConnection,
    project: &Project,
    params: &Map<String, Value>,
) -> Result<(Vec<PersonListView>, Option<String>), ApiError> {
    let per_page = per_page(params)?;
    let cursor = text(params, "page_info")?;
    let page = crate::domain::page::PageRequest::parse(Some(per_page), cursor.as_deref())?;
    let email = match text(params, "email")? {
        Some(raw) => Some(EmailAddress::parse("email", raw.trim())?),
        None => None,
    };
    let (since, until) = (unix_param(params, "since")?, unix_until(params, "until")?);
    if let Some(phone) = text(params, "phone_number")? {
        if phone.chars().count() > 100 {
            return Err(Invalid::new("phone_number", "at most 100 characters").into());
        }
        // No person has a phone number here (no SMS): nobody matches.
        return Ok((Vec::new(), None));
    }
    let rows = people::list(
        conn,
        &project.workspace,
        since,
        until,
        email.as_ref(),
        &page,
    )?;
    let (rows, next) = page.finish(rows, |p| p.id.as_str());
    let keys: Vec<&str> = rows.iter().map(|p| p.email_key.as_str()).collect();
    let activity = people::activity_of(conn, &project.workspace, &keys)?;
    let views = rows
        .iter()
        .map(|p| PersonListView::new(p, activity.get(&p.email_key)))
        .collect();
    Ok((views, next))
}

/// The people of `keys` in `project`'s workspace, by key.
pub(super) fn people_by_key(
    conn: &mut AnyConnection,
    project: &Project,
    keys: &[&str],
) -> Result<BTreeMap<String, Person>, ApiError> {
    Ok(people::by_keys(conn, &project.workspace, keys)?
        .into_iter()
        .map(|p| (p.email_key.clone(), p))
        .collect())
}

/// The person a `DELETE /people/{identifier}` names: an id, `email:…`, or `phone_number:…`.
fn identified(
    conn: &mut AnyConnection,
    project: &Project,
    identifier: &str,
) -> Result<Person, ApiError> {
    if let Some(raw) = identifier.strip_prefix("email:") {
        let address = EmailAddress::parse("email", raw)?;
        return people::find_by_email(conn, &project.workspace, &address)?
            .ok_or(ApiError::NotFound("person"));
    }
    if identifier.starts_with("phone_number:") {
        return Err(ApiError::NotFound("person"));
    }
    Ok(people::find(conn, &project.workspace, identifier)?)
}

/// Cancels the queued survey emails of `email` in the project's survey (or in every survey of
/// the workspace); returns how many.
fn cancel_pending(
    conn: &mut AnyConnection,
    project: &Project,
    email: &EmailAddress,
    every_survey: bool,
    reason: &str,
) -> Result<usize, ApiError> {
    let survey = (!every_survey).then_some(&project.survey);
    let queued = db::invitations::queued_for(conn, &project.workspace, survey, &email.key())?;
    let mut cancelled = 0;
    for id in queued {
        if outbox::cancel_queued(conn, &id, reason, db::now())? {
            cancelled += 1;
        }
    }
    Ok(cancelled)
}

/// `DELETE /people/{identifier}`: erases the person's identity (their queued emails are
/// cancelled; their answers stay, without name or address).
pub fn delete_person(
    conn: &mut AnyConnection,
    project: &Project,
    identifier: &str,
) -> Result<(), ApiError> {
    db::write_transaction(conn, |conn| {
        let person = identified(conn, project, identifier)?;
        let address = EmailAddress::parse("email", &person.email)?;
        cancel_pending(conn, project, &address, true, "person_deleted")?;
        people::erase(conn, &person)?;
        Ok(())
    })
}

/// `DELETE /people/{email}/survey_requests/pending`: cancels the person's survey emails not
/// yet sent.
pub fn delete_pending(
    conn: &mut AnyConnection,
    project: &Project,
    email_raw: &str,
) -> Result<usize, ApiError> {
    let address = EmailAddress::parse("email", email_raw.trim())?;
    db::write_transaction(conn, |conn| {
        cancel_pending(conn, project, &address, false, "pending_deleted")
    })
}
