//! `/survey_responses` and `/metrics`: the survey's answers in Delighted's shape, a score
//! recorded for a person, and the figures from the same reports as `/v1/stats`.

use chrono::{Duration, Utc};
use serde_json::{Map, Value};

use super::body::{integer, list, page, properties, text, unix_param, unix_until};
use super::people::people_by_key;
use super::views::{self, PersonListView, PersonRef, ResponseView};
use super::Project;
use crate::db::people;
use crate::db::search::{self, ResponsePage};
use crate::db::surveys::Survey;
use crate::db::{self, AnyConnection};
use crate::domain::answer::Answer;
use crate::domain::email::EmailAddress;
use crate::domain::ids::ResponseId;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::invite::{self, Channel, InvitationRequest, Issuer};
use crate::reports;

/// Maps stored responses to Delighted's shape, with their people (expanded or by id). An
/// anonymous survey's answers come without person or properties, dated to the month, under the
/// same minimum as its own list (`own`: the one answer the caller has just recorded, which
/// tells them nothing new).
fn response_views(
    conn: &mut AnyConnection,
    project: &Project,
    survey: &Survey,
    rows: Vec<(db::responses::Response, db::invitations::Invitation)>,
    expand: bool,
    public_url: &str,
    own: bool,
) -> Result<Vec<ResponseView>, ApiError> {
    let kind = survey.kind_and_scale()?.0;
    let shown = if own {
        survey.anonymous.then_some(true)
    } else {
        reports::anonymity::answers_shown(conn, survey)?
    };
    if let Some(comments) = shown {
        return Ok(rows
            .into_iter()
            .map(|(r, _)| ResponseView::anonymous(kind, r, comments, public_url))
            .collect());
    }
    let keys: Vec<&str> = rows
        .iter()
        .filter_map(|(_, inv)| inv.recipient_key.as_deref())
        .collect();
    let people = people_by_key(conn, project, &keys)?;
    let activity = if expand {
        people::activity_of(conn, &project.workspace, &keys)?
    } else {
        Default::default()
    };
    let ids: Vec<_> = rows.iter().map(|(_, inv)| &inv.id).collect();
    let mut properties = db::invitations::properties_of(conn, &ids)?;
    let response_ids: Vec<String> = rows.iter().map(|(r, _)| r.id.to_string()).collect();
    let response_ids: Vec<&str> = response_ids.iter().map(String::as_str).collect();
    let mut annotations = people::annotations_of(conn, &response_ids)?;
    Ok(rows
        .into_iter()
        .map(|(r, inv)| {
            let person = inv
                .recipient_key
                .as_ref()
                .and_then(|k| people.get(k))
                .map(|p| {
                    if expand {
                        PersonRef::Expanded(PersonListView::new(p, activity.get(&p.email_key)))
                    } else {
                        PersonRef::Id(p.id.clone())
                    }
                });
            let props = properties.remove(&inv.id).unwrap_or_default();
            let (tags, notes) = annotations.remove(r.id.as_str()).unwrap_or_default();
            let mut view = ResponseView::new(kind, r, props, person, public_url);
            view.tags = serde_json::from_str(&tags).unwrap_or_default();
            view.notes = serde_json::from_str(&notes).unwrap_or_default();
            view
        })
        .collect())
}

/// Whether `expand` asks for the person (at most 10 values of at most 100 characters).
fn expands_person(params: &Map<String, Value>) -> Result<bool, Invalid> {
    let expand = list(params, "expand");
    if expand.len() > 10 || expand.iter().any(|e| e.chars().count() > 100) {
        return Err(Invalid::new(
            "expand",
            "at most 10 values of at most 100 characters",
        ));
    }
    Ok(expand.iter().any(|e| e == "person"))
}

/// `GET /survey_responses`: one numbered page of the survey's answers.
pub fn list_responses(
    conn: &mut AnyConnection,
    project: &Project,
    params: &Map<String, Value>,
    public_url: &str,
) -> Result<Vec<ResponseView>, ApiError> {
    let (offset, limit) = page(params)?;
    let (newest_first, by_updated) = match text(params, "order")?.as_deref() {
        None | Some("asc") | Some("asc:created_at") => (false, false),
        Some("desc") | Some("desc:created_at") => (true, false),
        Some("asc:updated_at") => (false, true),
        Some("desc:updated_at") => (true, true),
        Some(_) => {
            return Err(Invalid::new(
                "order",
                "must be asc or desc, optionally :created_at or :updated_at",
            )
            .into())
        }
    };
    if text(params, "trend")?.is_some() {
        // Returning the whole list instead would hand a trend's caller everyone's answers.
        return Err(Invalid::new(
            "trend",
            "trends are not supported: a key lists its survey's answers",
        )
        .into());
    }
    let survey = db::surveys::find(conn, &project.workspace, &project.survey)?;
    let anonymous = survey.anonymous;
    if anonymous {
        if let Some(field) = ["person_id", "person_email"]
            .into_iter()
            .find(|f| params.contains_key(*f))
        {
            return Err(Invalid::new(
                field,
                "an anonymous survey's answers are not listed by person",
            )
            .into());
        }
    }
    // Every parameter is checked before a person filter that names nobody answers `[]`.
    let (since, until) = (unix_param(params, "since")?, unix_until(params, "until")?);
    let updated_since = unix_param(params, "updated_since")?;
    let updated_until = unix_until(params, "updated_until")?;
    let expand = expands_person(params)?;
    let Some(recipient_key) = person_filter(conn, project, params)? else {
        return Ok(Vec::new());
    };
    let query = ResponsePage {
        since,
        until,
        updated_since,
        updated_until,
        newest_first,
        by_id: anonymous,
        recipient_key,
        by_updated,
        offset,
        limit,
    };
    if anonymous {
        // A window of answer times can hold one person's answer, and so can the first or
        // last place in time order: an anonymous survey's answers come whole, in id order.
        let windows = [
            ("since", query.since),
            ("until", query.until),
            ("updated_since", query.updated_since),
            ("updated_until", query.updated_until),
        ];
        if let Some((field, _)) = windows.iter().find(|(_, at)| at.is_some()) {
            return Err(Invalid::new(
                *field,
                "an anonymous survey's answers are listed whole, in no time order",
            )
            .into());
        }
    }
    let rows = search::responses_of_survey(conn, &project.survey, &query)?;
    response_views(conn, project, &survey, rows, expand, public_url, false)
}

/// The address key a list is narrowed to by `person_id` and `person_email`: `Some(None)` for
/// no narrowing, `None` when they name nobody (an unknown person, or two different people),
/// whose list is empty.
fn person_filter(
    conn: &mut AnyConnection,
    project: &Project,
    params: &Map<String, Value>,
) -> Result<Option<Option<String>>, ApiError> {
    let by_email = match text(params, "person_email")? {
        Some(raw) => Some(EmailAddress::parse("person_email", raw.trim())?.key()),
        None => None,
    };
    let by_id = match text(params, "person_id")? {
        Some(id) if id.is_empty() || id.chars().count() > 100 => {
            return Err(Invalid::new("person_id", "1 to 100 characters").into())
        }
        Some(id) => match db::people::find(conn, &project.workspace, id.trim()) {
            Ok(person) => Some(person.email_key),
            Err(db::DbError::NotFound(_)) => return Ok(None),
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    Ok(match (by_email, by_id) {
        (Some(a), Some(b)) if a != b => None,
        (a, b) => Some(a.or(b)),
    })
}

/// `GET /survey_responses/{id}`.
pub fn show_response(
    conn: &mut AnyConnection,
    project: &Project,
    id: &ResponseId,
    params: &Map<String, Value>,
    public_url: &str,
) -> Result<ResponseView, ApiError> {
    let (r, inv) = db::responses::find_in_workspace(conn, &project.workspace, id)?;
    if r.survey_id != project.survey {
        return Err(ApiError::NotFound("survey response"));
    }
    let survey = db::surveys::find(conn, &project.workspace, &project.survey)?;
    let mut views = response_views(
        conn,
        project,
        &survey,
        vec![(r, inv)],
        expands_person(params)?,
        public_url,
        false,
    )?;
    views.pop().ok_or(ApiError::NotFound("survey response"))
}

/// `POST /survey_responses`: records a score for a stored person (a kiosk, a phone call) as
/// an answered link invitation, through the same answer path as the survey page.
pub fn create_response(
    conn: &mut AnyConnection,
    project: &Project,
    issuer: &Issuer,
    params: &Map<String, Value>,
    public_url: &str,
) -> Result<ResponseView, ApiError> {
    let person_id = match params.get("person") {
        Some(Value::Object(p)) => text(p, "id")?,
        _ => text(params, "person")?,
    }
    .ok_or_else(|| Invalid::new("person", "can't be blank"))?;
    if params.get("score").is_none() {
        return Err(Invalid::new("score", "can't be blank").into());
    }
    let props = properties(params, "person_properties")?;
    let comment = text(params, "comment")?;
    db::write_transaction(conn, |conn| {
        let person = people::find(conn, &project.workspace, &person_id).map_err(|e| match e {
            db::DbError::NotFound(_) => {
                ApiError::from(Invalid::new("person", "is not a person of this project"))
            }
            // Busy or broken is not the caller's mistake: 503 or an opaque 500.
            other => ApiError::from(other),
        })?;
        // Its settings held until the commit, then read (its anonymity shapes the view).
        db::surveys::hold(conn, &[&project.survey])?;
        let survey = db::surveys::find(conn, &project.workspace, &project.survey)?;
        let (_, scale) = survey.kind_and_scale()?;
        let answer = Answer::parse(scale, params.get("score"), comment.as_deref(), false, None)?;
        let request = InvitationRequest {
            channel: Channel::Link,
            email: Some(EmailAddress::parse("person", &person.email)?),
            name: person.name.clone(),
            external_id: None,
            properties: props.clone(),
            expires_at: None,
            send_at: None,
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
        let (response, _) = crate::respond::record(conn, &created.invitation, &survey, &answer)?;
        let rows = vec![(response, created.invitation)];
        let mut views = response_views(conn, project, &survey, rows, false, public_url, true)?;
        views.pop().ok_or(ApiError::NotFound("survey response"))
    })
}

/// `GET /metrics`: the survey's figures over `[since, until]` (all time by default), from the
/// same reports as `/v1/stats`.
pub fn metrics(
    conn: &mut AnyConnection,
    project: &Project,
    params: &Map<String, Value>,
) -> Result<Value, ApiError> {
    if text(params, "trend")?.is_some() {
        return Err(Invalid::new(
            "trend",
            "trends are not supported: metrics are the key's survey's",
        )
        .into());
    }
    let since = unix_param(params, "since")?;
    let until = unix_param(params, "until")?;
    let survey = db::surveys::find(conn, &project.workspace, &project.survey)?;
    let (kind, scale) = survey.kind_and_scale()?;
    let req = reports::Request {
        surveys: vec![survey.id.clone()],
        segments: survey.segments(),
        from: since.map(db::from_stored),
        // Delighted's `until` is inclusive; ours ends before.
        to: until.map(|u| db::from_stored(u) + Duration::seconds(1)),
        interval: None,
        group_by: None,
        filters: Vec::new(),
    };
    let Some(protection) = reports::anonymity::protection(conn, std::slice::from_ref(&survey))?
    else {
        let report = reports::run(conn, &req, Utc::now())?;
        return Ok(views::metrics(kind, &report.total.distribution(scale)));
    };
    let (report, withheld) = reports::anonymity::run(conn, &req, Utc::now(), &protection)?;
    let distribution = report.total.distribution(scale);
    if withheld.total {
        // Too few respondents in the window: how many, and nothing of what they said. Every
        // field of the kind is there, `null`, for clients that read them as attributes.
        let mut shown = views::metrics(kind, &distribution);
        if let Some(fields) = shown.as_object_mut() {
            for (name, value) in fields.iter_mut() {
                if name != "response_count" {
                    *value = Value::Null;
                }
            }
            fields.insert("withheld".to_owned(), Value::Bool(true));
        }
        return Ok(shown);
    }
    Ok(views::metrics(kind, &distribution))
}

/// Refuses a change to what the respondent said (422, naming the field): a `PUT` may send
/// the answer back, as shown, but not change it.
fn unchanged_answer(params: &Map<String, Value>, current: &ResponseView) -> Result<(), Invalid> {
    let fixed = |field: &str| {
        Invalid::new(
            field,
            "is the respondent's answer and does not change; only tags and notes do",
        )
    };
    if params.contains_key("score") {
        let sent = match params.get("score") {
            Some(Value::Number(n)) => crate::domain::score::whole(n),
            _ => integer(params, "score")?,
        };
        if sent != Some(i64::from(current.score)) {
            return Err(fixed("score"));
        }
    }
    if params.contains_key("comment") {
        let sent = text(params, "comment")?.filter(|c| !c.is_empty());
        if sent.as_deref() != current.comment.as_deref().filter(|c| !c.is_empty()) {
            return Err(fixed("comment"));
        }
    }
    if params.contains_key("person_properties") {
        let sent = properties(params, "person_properties")?;
        if sent.into_map() != current.person_properties {
            return Err(fixed("person_properties"));
        }
    }
    Ok(())
}

/// Most tags on one response.
const MAX_TAGS: usize = 50;
/// Most notes on one response.
const MAX_NOTES: usize = 100;

fn tags(params: &Map<String, Value>) -> Result<Option<Vec<String>>, Invalid> {
    if params.get("tags").is_none_or(Value::is_null) {
        return Ok(None);
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in list(params, "tags").into_iter().enumerate() {
        let field = format!("tags[{i}]");
        let tag = tag.trim().to_owned();
        if tag.is_empty() || tag.chars().count() > 100 {
            return Err(Invalid::new(field, "must be 1 to 100 characters"));
        }
        crate::domain::text::check(&field, &tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Invalid::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(Some(out))
}

/// The notes of a PUT: strings or objects with `text` (an `id` already on the response keeps
/// its time), replacing the list.
fn notes(params: &Map<String, Value>, existing: &[Value]) -> Result<Option<Vec<Value>>, Invalid> {
    let items = match params.get("notes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        Some(_) => return Err(Invalid::new("notes", "must be a list of notes")),
    };
    if items.len() > MAX_NOTES {
        return Err(Invalid::new("notes", format!("at most {MAX_NOTES} notes")));
    }
    let now = Utc::now().timestamp();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("notes[{i}]");
        let (text, id) = match item {
            Value::String(s) => (s.clone(), None),
            Value::Object(o) => (
                o.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                o.get("id").and_then(Value::as_str).map(str::to_owned),
            ),
            _ => return Err(Invalid::new(field, "must be a note")),
        };
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 2_000 {
            return Err(Invalid::new(
                field,
                "must have a text of 1 to 2000 characters",
            ));
        }
        crate::domain::text::check(&field, &text)?;
        let kept = id
            .as_deref()
            .and_then(|id| existing.iter().find(|n| n["id"] == id));
        out.push(match kept {
            Some(note) => serde_json::json!({"id": note["id"], "text": text,
                "user_email": note["user_email"], "created_at": note["created_at"]}),
            None => serde_json::json!({"id": uuid::Uuid::now_v7().to_string(), "text": text,
                "user_email": null, "created_at": now}),
        });
    }
    Ok(Some(out))
}

/// `PUT /survey_responses/{id}`: replaces the response's tags and notes. The answer itself
/// (score, comment, person properties) is never changed here: sent back as it was shown (the
/// whole object, as `save()` does) it is fine, and changed it is a 422 naming the field, not
/// a 200 that quietly keeps the old value. Other fields sent back are ignored.
pub fn update_response(
    conn: &mut AnyConnection,
    project: &Project,
    id: &ResponseId,
    params: &Map<String, Value>,
    public_url: &str,
) -> Result<ResponseView, ApiError> {
    let new_tags = tags(params)?;
    db::write_transaction(conn, |conn| {
        let current = show_response(conn, project, id, &Map::new(), public_url)?;
        unchanged_answer(params, &current)?;
        let new_notes = notes(params, &current.notes)?;
        let tags = new_tags.unwrap_or(current.tags);
        let notes = new_notes.unwrap_or(current.notes);
        let tags = serde_json::to_string(&tags).map_err(ApiError::internal)?;
        let notes = serde_json::to_string(&notes).map_err(ApiError::internal)?;
        people::annotate(conn, &current.id, &tags, &notes, db::now())?;
        show_response(conn, project, id, params, public_url)
    })
}
