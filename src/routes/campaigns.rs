//! `/v1/campaigns`: a survey sent to an audience once or every so many days, with reminders;
//! pausing and resuming; and each cycle's counts.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::campaigns::manage::{self, NewCampaign};
use crate::db::campaigns::{self, Campaign, CycleCounts};
use crate::db::{self, from_stored};
use crate::domain::ids::SurveyId;
use crate::domain::schedule::{Reminders, Schedule};
use crate::domain::scoring;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Keyed, ListQuery, Workspace};
use crate::state::AppState;
use crate::views::ListView;

/// A campaign as served.
#[derive(Debug, Serialize)]
pub struct CampaignView {
    id: String,
    name: String,
    survey_id: String,
    audience_id: String,
    /// The first cycle, wall-clock time in `tz`.
    start: String,
    tz: String,
    /// Days between cycles; `null` when sent once.
    every_days: Option<i32>,
    /// Days after each cycle on which those who have not answered are reminded.
    reminder_days: Vec<u32>,
    /// `active`, `paused` or `finished`.
    status: String,
    /// When the next cycle starts (`null` once finished).
    next_cycle_at: Option<DateTime<Utc>>,
    /// Cycles started so far.
    cycles: i32,
    created_at: DateTime<Utc>,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        Self {
            reminder_days: c.reminders().days().to_vec(),
            id: c.id,
            name: c.name,
            survey_id: c.survey_id,
            audience_id: c.audience_id,
            start: c.start_local,
            tz: c.tz,
            every_days: c.every_days,
            status: c.status,
            next_cycle_at: c.next_cycle_at.map(from_stored),
            cycles: c.cycles,
            created_at: from_stored(c.created_at),
        }
    }
}

/// One cycle as served.
#[derive(Debug, Serialize)]
pub struct CycleView {
    number: i32,
    scheduled_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    /// Whether every member has been issued.
    issuing_done: bool,
    /// Invitations issued (suppressed and failed ones excluded).
    issued: i64,
    /// Of those, answered.
    answered: i64,
    /// `answered / issued`.
    response_rate: f64,
    /// Reminder emails queued.
    reminders_sent: i64,
    /// When its invitations were cut from their people (anonymous surveys).
    identities_cut_at: Option<DateTime<Utc>>,
}

impl From<CycleCounts> for CycleView {
    fn from(c: CycleCounts) -> Self {
        let n = |x: i64| u64::try_from(x).unwrap_or(0);
        Self {
            number: c.cycle.number,
            scheduled_at: from_stored(c.cycle.scheduled_at),
            started_at: from_stored(c.cycle.started_at),
            issuing_done: c.cycle.issuing_done,
            issued: c.issued,
            answered: c.answered,
            response_rate: scoring::response_rate(n(c.answered), n(c.issued)),
            reminders_sent: c.reminders,
            identities_cut_at: c.cycle.cut_at.map(from_stored),
        }
    }
}

/// Body of `POST /v1/campaigns`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    name: String,
    survey_id: Uuid,
    audience_id: Uuid,
    #[serde(default, deserialize_with = "crate::extract::present")]
    start: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    tz: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::whole_number")]
    every_days: Option<i64>,
    #[serde(default, deserialize_with = "whole_numbers")]
    reminder_days: Vec<i64>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    anonymous: Option<bool>,
}

/// A list of whole numbers that JSON may write as `3` or `3.0`, refusing fractions.
fn whole_numbers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    use serde::de::Error;
    let raw: Vec<serde_json::Number> = Deserialize::deserialize(d)?;
    raw.into_iter()
        .map(|n| {
            crate::domain::score::whole(&n)
                .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number")))
        })
        .collect()
}

impl CreateCampaign {
    fn parse(self) -> Result<NewCampaign, Invalid> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new("name", "is required: 1 to 200 characters"));
        }
        crate::domain::text::check("name", &name)?;
        let starts_now = self.start.is_none();
        let start = self.start.unwrap_or_else(|| "1970-01-01T00:00".to_owned());
        let schedule = Schedule::parse(&start, self.tz.as_deref(), self.every_days)?;
        let reminders = Reminders::parse(&self.reminder_days)?;
        Ok(NewCampaign {
            name,
            survey_id: SurveyId::from(self.survey_id),
            audience_id: self.audience_id.to_string(),
            schedule,
            starts_now,
            reminders,
            anonymous: self.anonymous.unwrap_or(true),
        })
    }
}

/// `POST /v1/campaigns`: 201 with the campaign and its first cycle's time.
pub async fn create(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<CreateCampaign>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse()?;
    if !state.email_enabled {
        // Every cycle and reminder goes by email.
        return Err(Invalid::new("audience_id", crate::mail::DISABLED).into());
    }
    let campaign = db::run(&state.pool, move |conn| {
        manage::create(conn, &ws.id, &new, Utc::now())
    })
    .await?;
    Ok(HttpResponse::Created().json(CampaignView::from(campaign)))
}

/// `GET /v1/campaigns`.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let list = db::run(&state.pool, move |conn| {
        let rows = campaigns::list(conn, &ws.id, &page)?;
        let (rows, next_cursor) = page.finish(rows, |c| c.id.as_str());
        let data: Vec<CampaignView> = rows.into_iter().map(Into::into).collect();
        Ok::<_, ApiError>(ListView { data, next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /v1/campaigns/{id}`.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = db::run(&state.pool, move |conn| {
        campaigns::find(conn, &ws.id, &id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(c)))
}

/// `POST /v1/campaigns/{id}/pause`.
pub async fn pause(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = db::run(&state.pool, move |conn| manage::pause(conn, &ws.id, &id)).await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(c)))
}

/// `POST /v1/campaigns/{id}/resume`: at the first slot not in the past.
pub async fn resume(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = db::run(&state.pool, move |conn| {
        manage::resume(conn, &ws.id, &id, Utc::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(c)))
}

/// `GET /v1/campaigns/{id}/cycles?limit=…&cursor=…`: the cycles, newest first (`limit`
/// default 50, at most 500), with issued and answered counts; the cursor is the last cycle
/// number shown.
pub async fn cycles(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let before = page
        .after
        .as_deref()
        .map(|n| {
            n.parse::<i32>()
                .map_err(|_| Invalid::new("cursor", "is not a cursor this API returned"))
        })
        .transpose()?;
    let list = db::run(&state.pool, move |conn| {
        let c = campaigns::find(conn, &ws.id, &id)?;
        let rows = campaigns::cycles(conn, &c.id, before, page.fetch_limit())?;
        let (rows, next_cursor) = page.finish_keyed(rows, |r| r.cycle.number.to_string());
        let data: Vec<CycleView> = rows.into_iter().map(Into::into).collect();
        Ok::<_, ApiError>(ListView { data, next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}
