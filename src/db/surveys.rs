//! Survey rows and their queries, always scoped to a workspace.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::surveys;
use super::AnyConnection;
use super::{DbError, DbResult};
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::locale::Locale;
use crate::domain::page::PageRequest;
use crate::domain::segments::SegmentBy;
use crate::domain::widget::AllowedOrigins;

/// A stored survey.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = surveys)]
pub struct Survey {
    /// Its id.
    #[diesel(deserialize_as = String)]
    pub id: SurveyId,
    /// The owning workspace.
    #[diesel(deserialize_as = String)]
    pub workspace_id: WorkspaceId,
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
    /// The properties its stats are segmented by, comma-separated (`None` → the default).
    pub segment_by: Option<String>,
    /// The key the widget names it by (public, rotatable).
    pub public_key: Option<String>,
    /// Origins allowed to embed the widget, one per line.
    pub allowed_origins: String,
    /// Show the widget to one visitor at most once in this many days (0 = every time).
    pub widget_once_per_days: i32,
    /// Percent of visitors shown the widget.
    pub widget_sample_percent: i32,
    /// `#rrggbb`, or `None` for the default.
    pub brand_color: Option<String>,
    /// The respondents' language.
    pub locale: String,
    /// How long after a ticket is solved the trigger's email goes out.
    pub send_delay_seconds: i32,
    /// Whether it promises anonymity: no identity on its answers, no score over too few.
    pub anonymous: bool,
}

impl Survey {
    /// The origins allowed to embed its widget.
    pub fn origins(&self) -> AllowedOrigins {
        AllowedOrigins::from_stored(&self.allowed_origins)
    }

    /// The respondents' language.
    pub fn locale(&self) -> Locale {
        Locale::lenient(&self.locale).unwrap_or_default()
    }

    /// The properties its stats are segmented by.
    pub fn segments(&self) -> SegmentBy {
        SegmentBy::from_stored(self.segment_by.as_deref())
    }

    /// The stored kind and scale, which were validated when the survey was created.
    pub fn kind_and_scale(&self) -> DbResult<(SurveyKind, Scale)> {
        let corrupt =
            |what: &str| DbError::Corrupt(format!("survey {} has an unknown {what}", self.id));
        let kind = SurveyKind::parse(&self.kind).map_err(|_| corrupt("kind"))?;
        let scale = Scale::parse(&self.scale).ok_or_else(|| corrupt("scale"))?;
        Ok((kind, scale))
    }
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
    /// Segments, comma-separated.
    pub segment_by: Option<&'a str>,
    /// The widget's public key.
    pub public_key: &'a str,
    /// Allowed origins, one per line.
    pub allowed_origins: &'a str,
    /// Days between showings to one visitor.
    pub widget_once_per_days: i32,
    /// Percent of visitors shown the widget.
    pub widget_sample_percent: i32,
    /// Brand colour.
    pub brand_color: Option<&'a str>,
    /// Locale name.
    pub locale: &'a str,
    /// Delay of the ticket-solved trigger's email.
    pub send_delay_seconds: i32,
    /// Whether it promises anonymity.
    pub anonymous: bool,
}

/// Inserts a survey and reads it back.
pub fn insert(conn: &mut AnyConnection, new: &NewSurvey<'_>) -> DbResult<Survey> {
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

/// Changes to a survey: `None` leaves a column as it is; `Some(None)` resets an optional one
/// to its default.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = surveys)]
pub struct SurveyChanges<'a> {
    /// Display name.
    pub name: Option<&'a str>,
    /// The question.
    pub question: Option<&'a str>,
    /// The comment prompt.
    pub comment_prompt: Option<Option<&'a str>>,
    /// Email subject template.
    pub email_subject: Option<Option<&'a str>>,
    /// Email intro-line template.
    pub email_intro: Option<Option<&'a str>>,
    /// Email sender name.
    pub email_sender_name: Option<Option<&'a str>>,
    /// Throttle window in days.
    pub throttle_days: Option<Option<i32>>,
    /// Segments, comma-separated.
    pub segment_by: Option<Option<&'a str>>,
    /// A new public key (rotation).
    pub public_key: Option<&'a str>,
    /// Allowed origins, one per line.
    pub allowed_origins: Option<&'a str>,
    /// Days between showings to one visitor.
    pub widget_once_per_days: Option<i32>,
    /// Percent of visitors shown the widget.
    pub widget_sample_percent: Option<i32>,
    /// Brand colour.
    pub brand_color: Option<Option<&'a str>>,
    /// Locale name.
    pub locale: Option<&'a str>,
    /// Delay of the ticket-solved trigger's email.
    pub send_delay_seconds: Option<i32>,
    /// Turns anonymity on (see [`update`]: only before the first answer, never off).
    pub anonymous: Option<bool>,
}

/// The key that a survey's writers share and a change of its settings takes alone.
fn settings_key(id: &SurveyId) -> String {
    format!("survey-settings:{id}")
}

/// Holds the settings of surveys `ids` that writing depends on (whether answers are
/// anonymous, which properties the rollups are segmented by) until the transaction ends:
/// [`update`] waits for every writer holding them before it changes them, and holds off the
/// writers that come after until it has committed. Without this, on PostgreSQL, a writer
/// that read the old segments could commit after the rollups were rebuilt with the new ones,
/// and its answer would be missing from them for good. Read the settings after this call.
/// (SQLite's write lock already serialises writers.)
pub fn hold(conn: &mut AnyConnection, ids: &[&SurveyId]) -> DbResult<()> {
    let keys: Vec<String> = ids.iter().map(|id| settings_key(id)).collect();
    Ok(super::share_keys(conn, &keys)?)
}

/// How long a change of a survey's settings waits for the writers holding them before it
/// gives up (busy: 503). Answer batches hold them for milliseconds; an import of the survey
/// holds them to its end, and the writers that come after the change wait behind it.
const HOLD_ALONE_TIMEOUT_MS: u32 = 5_000;

/// Holds survey `id`'s settings alone until the transaction ends, to change them: waits for
/// every writer holding them (see [`hold`]), holding off new ones meanwhile, for
/// [`HOLD_ALONE_TIMEOUT_MS`] at most (then busy).
pub fn hold_alone(conn: &mut AnyConnection, id: &SurveyId) -> DbResult<()> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    pg.batch_execute(&format!("SET LOCAL lock_timeout = {HOLD_ALONE_TIMEOUT_MS}"))?;
    super::lock_key(conn, &settings_key(id))?;
    if let AnyConnection::Postgresql(pg) = conn {
        pg.batch_execute("SET LOCAL lock_timeout = 0")?;
    }
    Ok(())
}

/// Holds surveys `ids` (see [`hold`]) and reads them again, as they now stand. `None` on
/// SQLite, whose write transaction read them under its lock, so they are current already.
pub fn hold_current(
    conn: &mut AnyConnection,
    ids: &[&SurveyId],
) -> DbResult<Option<HashMap<SurveyId, Survey>>> {
    if !matches!(conn, AnyConnection::Postgresql(_)) {
        return Ok(None);
    }
    hold(conn, ids)?;
    let keys: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let found: Vec<Survey> = surveys::table
        .filter(surveys::id.eq_any(&keys))
        .select(Survey::as_select())
        .load(conn)?;
    Ok(Some(found.into_iter().map(|s| (s.id.clone(), s)).collect()))
}

/// Applies `changes` to survey `id` of `workspace_id`; when its segments change, rebuilds its
/// rollups in the same transaction (the time this takes grows with the survey's invitations:
/// minutes at a million answers, holding SQLite's write lock meanwhile). Returns the survey
/// as it now is.
///
/// Anonymity is a promise made to respondents before they answer: it can be turned on only
/// while the survey has no answer, and never off (both refused with a reason).
pub fn update(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    id: &SurveyId,
    changes: &SurveyChanges<'_>,
) -> DbResult<Survey> {
    super::write_transaction(conn, |conn| {
        if changes.anonymous.is_some() || changes.segment_by.is_some() {
            // Writers that read the settings as they were commit first; later ones wait.
            hold_alone(conn, id)?;
        }
        let before = find(conn, workspace_id, id)?;
        match changes.anonymous {
            Some(false) if before.anonymous => {
                return Err(DbError::Refused(
                    "anonymous cannot be turned off: its respondents answered on that promise"
                        .into(),
                ))
            }
            Some(true) if !before.anonymous && super::responses::any_for_survey(conn, id)? => {
                return Err(DbError::Refused(
                    "anonymous can be turned on only before the first answer: the answers \
                     already given were not made on that promise"
                        .into(),
                ))
            }
            _ => {}
        }
        let segments_change = changes
            .segment_by
            .is_some_and(|new| before.segments() != SegmentBy::from_stored(new));
        // An anonymous survey is reported by its first segment_by property only: were it
        // changed once answers are in, figures grouped by the old and the new property could
        // be subtracted from each other.
        if let (true, Some(new), Some(reported)) = (
            before.anonymous && segments_change,
            changes.segment_by,
            before.segments().keys().first(),
        ) {
            let after = SegmentBy::from_stored(new);
            if after.keys().first() != Some(reported) && super::responses::any_for_survey(conn, id)?
            {
                return Err(DbError::Refused(format!(
                    "the first property of an anonymous survey's segment_by (`{reported}`) cannot \
                     change once it has answers: figures grouped by the old and the new one could \
                     be subtracted from each other"
                )));
            }
        }
        if !changes.is_empty() {
            diesel::update(surveys::table.find(id.as_str()))
                .set(changes)
                .execute(conn)?;
        }
        if segments_change {
            super::rollups::rebuild(conn, id)?;
        }
        find(conn, workspace_id, id)
    })
}

impl SurveyChanges<'_> {
    /// Whether it changes nothing (Diesel refuses an empty `SET`).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.question.is_none()
            && self.comment_prompt.is_none()
            && self.email_subject.is_none()
            && self.email_intro.is_none()
            && self.email_sender_name.is_none()
            && self.throttle_days.is_none()
            && self.segment_by.is_none()
            && self.public_key.is_none()
            && self.allowed_origins.is_none()
            && self.widget_once_per_days.is_none()
            && self.widget_sample_percent.is_none()
            && self.brand_color.is_none()
            && self.locale.is_none()
            && self.send_delay_seconds.is_none()
            && self.anonymous.is_none()
    }
}

/// The survey `id` if it belongs to `workspace_id`.
pub fn find(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    id: &SurveyId,
) -> DbResult<Survey> {
    surveys::table
        .filter(surveys::workspace_id.eq(workspace_id.as_str()))
        .filter(surveys::id.eq(id.as_str()))
        .select(Survey::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("survey"))
}

/// The query of the ids of `workspace`'s anonymous surveys: to load, or to leave them out
/// of another query (`survey_id.ne_all(anonymous_of(…))`).
#[diesel::dsl::auto_type(no_type_alias)]
pub fn anonymous_of<'a>(workspace: &'a str) -> _ {
    surveys::table
        .filter(surveys::workspace_id.eq(workspace))
        .filter(surveys::anonymous.eq(true))
        .select(surveys::id)
}

/// The ids of the workspace's anonymous surveys.
pub fn anonymous_ids(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
) -> DbResult<std::collections::HashSet<String>> {
    Ok(anonymous_of(workspace_id.as_str())
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The survey `id` whatever its workspace (for the operator's command line).
pub fn find_any(conn: &mut AnyConnection, id: &SurveyId) -> DbResult<Survey> {
    surveys::table
        .find(id.as_str())
        .select(Survey::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("survey"))
}

/// The survey whose widget key is `public_key` (whatever its workspace: the key names it).
pub fn find_by_public_key(conn: &mut AnyConnection, public_key: &str) -> DbResult<Survey> {
    surveys::table
        .filter(surveys::public_key.eq(public_key))
        .select(Survey::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("survey"))
}

/// One page of the workspace's surveys, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    page: &PageRequest,
) -> DbResult<Vec<Survey>> {
    let mut query = surveys::table
        .filter(surveys::workspace_id.eq(workspace_id.as_str()))
        .select(Survey::as_select())
        .order(surveys::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(surveys::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

/// Most surveys one workspace-wide stats call combines.
pub const MAX_COMBINED: i64 = 1_000;

/// The workspace's surveys of `kind` on `scale` (at most [`MAX_COMBINED`]).
pub fn of_kind(
    conn: &mut AnyConnection,
    workspace_id: &WorkspaceId,
    kind: SurveyKind,
    scale: Scale,
) -> DbResult<Vec<Survey>> {
    Ok(surveys::table
        .filter(surveys::workspace_id.eq(workspace_id.as_str()))
        .filter(surveys::kind.eq(kind.as_str()))
        .filter(surveys::scale.eq(scale.as_str()))
        .order(surveys::id.asc())
        .limit(MAX_COMBINED)
        .select(Survey::as_select())
        .load(conn)?)
}
