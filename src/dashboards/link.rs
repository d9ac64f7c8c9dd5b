//! A dashboard from its row: the surveys it shows, its stored [`Spec`] read back, and the
//! latest comments as far as the anonymity rules allow.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::page::{Comment, Comments};
use super::{Source, Spec, Window, COMMENTS_SHOWN};
use crate::db::dashboards::Dashboard;
use crate::db::surveys::Survey;
use crate::db::{self, AnyConnection, DbError};
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::stats::buckets::{self, Interval};
use crate::error::ApiError;
use crate::reports::anonymity;

/// The surveys `source` names in workspace `ws` (404 for another workspace's survey, or when
/// the workspace has no survey of that kind).
pub fn surveys(
    conn: &mut AnyConnection,
    ws: &WorkspaceId,
    source: &Source,
) -> Result<Vec<Survey>, ApiError> {
    let surveys = match source {
        Source::Survey(id) => vec![db::surveys::find(conn, ws, &SurveyId::from(*id))?],
        Source::Kind(kind, scale) => db::surveys::of_kind(conn, ws, *kind, *scale)?,
    };
    if surveys.is_empty() {
        return Err(ApiError::NotFound("survey of that kind and scale"));
    }
    Ok(surveys)
}

fn corrupt(what: &str) -> ApiError {
    DbError::Corrupt(format!("dashboard {what}")).into()
}

/// The spec a stored dashboard was made from.
pub fn spec_of(d: &Dashboard) -> Result<Spec, ApiError> {
    let source = match &d.survey_id {
        Some(id) => Source::Survey(id.parse().map_err(|_| corrupt("survey_id"))?),
        None => {
            let kind = SurveyKind::parse(&d.kind).map_err(|_| corrupt("kind"))?;
            let scale = Scale::parse(&d.scale).ok_or_else(|| corrupt("scale"))?;
            Source::Kind(kind, scale)
        }
    };
    let filters: BTreeMap<String, String> =
        serde_json::from_str(&d.filters).map_err(|_| corrupt("filters"))?;
    let tz: Tz = buckets::parse_tz(Some(&d.tz)).map_err(|_| corrupt("tz"))?;
    Ok(Spec {
        name: Some(d.name.clone()),
        source,
        window_days: i64::from(d.window_days),
        interval: Interval::parse(&d.bucket).map_err(|_| corrupt("interval"))?,
        tz,
        group_by: d.group_by.clone(),
        filters,
        show_comments: d.show_comments,
        allow_csv: d.allow_csv,
        expires_at: d.expires_at.map(db::from_stored),
    })
}

/// The row of a new dashboard of `spec` over `surveys`, whose link token hashes to
/// `token_hash`.
pub fn row_of(
    spec: &Spec,
    ws: &WorkspaceId,
    surveys: &[Survey],
    token_hash: String,
    now: DateTime<Utc>,
) -> Result<Dashboard, ApiError> {
    let (kind, scale) = match &spec.source {
        Source::Kind(kind, scale) => (*kind, *scale),
        Source::Survey(_) => surveys
            .first()
            .ok_or(ApiError::NotFound("survey"))?
            .kind_and_scale()?,
    };
    let name = match (&spec.name, &spec.source, surveys.first()) {
        (Some(name), _, _) => name.clone(),
        (None, Source::Survey(_), Some(survey)) => survey.name.clone(),
        _ => format!("{} across the workspace", kind.as_str().to_uppercase()),
    };
    Ok(Dashboard {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: ws.to_string(),
        token_hash,
        name,
        survey_id: match &spec.source {
            Source::Survey(id) => Some(id.to_string()),
            Source::Kind(..) => None,
        },
        kind: kind.as_str().to_owned(),
        scale: scale.as_str().to_owned(),
        window_days: i32::try_from(spec.window_days).unwrap_or(i32::MAX),
        bucket: spec.interval.as_str().to_owned(),
        tz: spec.tz.name().to_owned(),
        group_by: spec.group_by.clone(),
        filters: serde_json::to_string(&spec.filters).map_err(|e| ApiError::Internal(e.into()))?,
        show_comments: spec.show_comments,
        allow_csv: spec.allow_csv,
        expires_at: spec.expires_at.map(db::to_stored),
        revoked_at: None,
        created_at: db::to_stored(now),
    })
}

/// Why an anonymous survey's comments are not shown.
const TOO_FEW: &str =
    "Comments of this anonymous survey are shown once enough people have written one.";

/// The latest comments of `window` on `surveys`. Where a survey is anonymous they are shown
/// only as its answer list would show them (enough answers and comments in the survey), and
/// only when the window itself holds at least the minimum of comments and the dashboard is
/// not filtered: no comment is ever tied to fewer people than a score may be.
pub fn comments(
    conn: &mut AnyConnection,
    spec: &Spec,
    surveys: &[Survey],
    window: &Window,
    total_withheld: bool,
) -> Result<Comments, ApiError> {
    if !spec.show_comments {
        return Ok(Comments::Off);
    }
    let anonymous: Vec<&Survey> = surveys.iter().filter(|s| s.anonymous).collect();
    let min = match anonymous.first() {
        None => 0,
        Some(_) if !spec.filters.is_empty() => {
            return Ok(Comments::Withheld(
                "Comments of an anonymous survey are not shown on a filtered dashboard.",
            ))
        }
        Some(_) if total_withheld => return Ok(Comments::Withheld(TOO_FEW)),
        // The surveys are of one workspace: one minimum.
        Some(first) => db::workspaces::settings(conn, &first.workspace_id)?.min_group_size,
    };
    for survey in &anonymous {
        match anonymity::answers_shown(conn, survey) {
            Ok(Some(true)) => {}
            // Comments withheld, or (409) every answer while the survey has too few.
            Ok(_) | Err(ApiError::Conflict(_)) => return Ok(Comments::Withheld(TOO_FEW)),
            Err(unexpected) => return Err(unexpected),
        }
    }
    let window_range = (db::to_stored(window.from), db::to_stored(window.to));
    let filters = spec.filter_pairs();
    let anonymous_ids: Vec<SurveyId> = anonymous.iter().map(|s| s.id.clone()).collect();
    // Only an anonymous survey's own comments count towards its minimum.
    if !anonymous_ids.is_empty()
        && db::responses::latest_comments(
            conn,
            &anonymous_ids,
            window_range,
            &filters,
            true,
            i64::from(min),
        )?
        .len()
            < usize::try_from(min).unwrap_or(usize::MAX)
    {
        return Ok(Comments::Withheld(TOO_FEW));
    }
    let ids: Vec<SurveyId> = surveys.iter().map(|s| s.id.clone()).collect();
    let rows = db::responses::latest_comments(
        conn,
        &ids,
        window_range,
        &filters,
        !anonymous_ids.is_empty(),
        COMMENTS_SHOWN,
    )?;
    let tz = spec.tz;
    // An anonymous survey's comments are dated to the month, as its answers are.
    let format = if anonymous_ids.is_empty() {
        "%Y-%m-%d"
    } else {
        "%Y-%m"
    };
    Ok(Comments::Shown(
        rows.into_iter()
            .map(|(score, text, at)| Comment {
                day: db::from_stored(at)
                    .with_timezone(&tz)
                    .format(format)
                    .to_string(),
                score,
                text,
            })
            .collect(),
    ))
}
