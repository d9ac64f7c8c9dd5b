//! Creating, pausing and resuming campaigns.

use chrono::{DateTime, Utc};

use crate::db::campaigns::{self, state, Campaign};
use crate::db::surveys::SurveyChanges;
use crate::db::{self, audiences, to_stored, AnyConnection, DbError};
use crate::domain::audience::CYCLE_PROPERTY;
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::schedule::{Reminders, Schedule};
use crate::domain::segments::SegmentBy;
use crate::domain::Invalid;
use crate::error::ApiError;

/// A campaign to create, parsed.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// Its name.
    pub name: String,
    /// The survey it sends.
    pub survey_id: SurveyId,
    /// The audience it goes to.
    pub audience_id: String,
    /// Its schedule; `None` for the start is now.
    pub schedule: Schedule,
    /// Whether `start` was given (else the first cycle is due now).
    pub starts_now: bool,
    /// Reminder days.
    pub reminders: Reminders,
    /// Whether to make the survey anonymous (the default for campaigns).
    pub anonymous: bool,
}

/// Creates a campaign of `workspace`. A `start` already past starts at the schedule's next
/// slot (a campaign sent once: now). The survey becomes anonymous unless asked otherwise
/// (409 when it already has answers given without that promise), and its stats keep `cycle`
/// as a segment when there is room.
pub fn create(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    new: &NewCampaign,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    let (first_index, first) = if new.starts_now {
        (0, now)
    } else {
        match new.schedule.next_from(0, now) {
            Some(next) => next,
            None if new.schedule.every_days.is_none() => (0, now),
            None => {
                return Err(Invalid::new("start", "leaves no cycle before the year 9000").into())
            }
        }
    };
    db::write_transaction(conn, |conn| {
        // It may change the survey's segments and anonymity from what it reads here.
        db::surveys::hold_alone(conn, &new.survey_id)?;
        let survey = db::surveys::find(conn, workspace, &new.survey_id)?;
        audiences::find(conn, workspace, &new.audience_id)?;
        let mut segments = survey.segments().keys().to_vec();
        let add_cycle = !segments.iter().any(|k| k == CYCLE_PROPERTY);
        if add_cycle {
            segments.push(CYCLE_PROPERTY.to_owned());
        }
        let stored = SegmentBy::parse(segments).ok().map(|s| s.to_stored());
        let changes = SurveyChanges {
            anonymous: (new.anonymous && !survey.anonymous).then_some(true),
            segment_by: stored.as_deref().filter(|_| add_cycle).map(Some),
            ..SurveyChanges::default()
        };
        if !changes.is_empty() {
            db::surveys::update(conn, workspace, &survey.id, &changes)?;
        }
        let start_local = first
            .with_timezone(&new.schedule.tz)
            .naive_local()
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        let campaign = Campaign {
            id: uuid::Uuid::now_v7().to_string(),
            workspace_id: workspace.to_string(),
            survey_id: survey.id.to_string(),
            audience_id: new.audience_id.clone(),
            name: new.name.clone(),
            start_local: if new.starts_now {
                start_local
            } else {
                new.schedule.start.format("%Y-%m-%dT%H:%M").to_string()
            },
            tz: new.schedule.tz.name().to_owned(),
            every_days: new
                .schedule
                .every_days
                .map(|d| i32::try_from(d).unwrap_or(i32::MAX)),
            reminder_days: new.reminders.to_stored(),
            status: state::ACTIVE.to_owned(),
            next_index: i32::try_from(first_index).unwrap_or(i32::MAX),
            next_cycle_at: Some(to_stored(first)),
            cycles: 0,
            created_at: db::now(),
        };
        campaigns::insert(conn, &campaign)?;
        Ok(campaign)
    })
}

/// Pauses campaign `id`: no cycle starts until it is resumed (reminders of cycles already
/// started still go out).
pub fn pause(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    id: &str,
) -> Result<Campaign, ApiError> {
    db::write_transaction(conn, |conn| {
        let c = campaigns::find(conn, workspace, id)?;
        match c.status.as_str() {
            state::FINISHED => Err(DbError::Refused("the campaign is finished".into()).into()),
            _ => {
                let next = c.next_cycle_at.map(|at| (c.next_index, at));
                campaigns::set_state(conn, id, state::PAUSED, next)?;
                Ok(campaigns::find(conn, workspace, id)?)
            }
        }
    })
}

/// Resumes campaign `id` at its first slot not in the past (the cycles missed while paused
/// are skipped; a campaign sent once that missed its time is sent now).
pub fn resume(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Campaign, ApiError> {
    db::write_transaction(conn, |conn| {
        let c = campaigns::find(conn, workspace, id)?;
        if c.status != state::PAUSED {
            return Err(
                DbError::Refused(format!("the campaign is {}, not paused", c.status)).into(),
            );
        }
        let schedule = c.schedule()?;
        let index = u32::try_from(c.next_index).unwrap_or(u32::MAX);
        let next = match (schedule.next_from(index, now), schedule.every_days) {
            (Some((i, at)), _) => (i32::try_from(i).unwrap_or(i32::MAX), to_stored(at)),
            (None, None) if c.cycles == 0 => (0, to_stored(now)),
            (None, _) => {
                campaigns::set_state(conn, id, state::FINISHED, None)?;
                return Ok(campaigns::find(conn, workspace, id)?);
            }
        };
        campaigns::set_state(conn, id, state::ACTIVE, Some(next))?;
        Ok(campaigns::find(conn, workspace, id)?)
    })
}
