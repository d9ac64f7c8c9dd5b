//! `POST /v1/surveys`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use validator::Validate;

use super::{WidgetRulesBody, WidgetSettings};
use crate::db::surveys::NewSurvey;
use crate::db::{self, now};
use crate::domain::ids::SurveyId;
use crate::domain::kind::SurveyKind;
use crate::domain::segments::SegmentBy;
use crate::domain::throttle::Throttle;
use crate::domain::{trigger, widget};
use crate::error::ApiError;
use crate::extract::{patch_field, Json, Keyed, Workspace};
use crate::mail::compose;
use crate::state::AppState;
use crate::validation::{check, not_blank};
use crate::views::SurveyView;

/// Body of `POST /v1/surveys`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateSurvey {
    #[validate(length(min = 1, max = 200), custom(function = "not_blank"))]
    name: String,
    kind: String,
    #[validate(length(min = 1, max = 500), custom(function = "not_blank"))]
    question: Option<String>,
    scale: Option<String>,
    #[validate(length(min = 1, max = 500), custom(function = "not_blank"))]
    comment_prompt: Option<String>,
    #[validate(length(min = 1, max = 200), custom(function = "not_blank"))]
    email_subject: Option<String>,
    #[validate(length(min = 1, max = 1000), custom(function = "not_blank"))]
    email_intro: Option<String>,
    #[validate(length(min = 1, max = 100), custom(function = "not_blank"))]
    email_sender_name: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::whole_number")]
    throttle_days: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::whole_number")]
    send_delay_seconds: Option<i64>,
    segment_by: Option<Vec<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    allowed_origins: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "patch_field")]
    widget: Option<Option<WidgetRulesBody>>,
    brand_color: Option<String>,
    locale: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    anonymous: Option<Option<bool>>,
}

/// `POST /v1/surveys`.
pub async fn create(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<CreateSurvey>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    if matches!(body.anonymous, Some(None)) {
        return Err(crate::domain::Invalid::new("anonymous", "cannot be null").into());
    }
    let kind = SurveyKind::parse(&body.kind)?;
    let scale = kind.scale(body.scale.as_deref())?;
    if let Some(subject) = &body.email_subject {
        compose::check_template("email_subject", subject)?;
    }
    if let Some(intro) = &body.email_intro {
        compose::check_template("email_intro", intro)?;
    }
    let throttle = body.throttle_days.map(Throttle::parse).transpose()?;
    let send_delay = body
        .send_delay_seconds
        .map(trigger::send_delay)
        .transpose()?
        .unwrap_or(trigger::DEFAULT_SEND_DELAY_SECONDS);
    let segments = body
        .segment_by
        .clone()
        .map(SegmentBy::parse)
        .transpose()?
        .map(|s| s.to_stored());
    let settings = WidgetSettings::parse(
        body.allowed_origins.as_ref().map(|o| o.as_deref()),
        body.widget.as_ref().map(Option::as_ref),
        body.brand_color.as_deref(),
        body.locale.as_deref().map(Some),
    )?;
    let survey = db::run(&state.pool, move |conn| {
        let id = SurveyId::generate();
        let public_key = widget::new_public_key();
        db::surveys::insert(
            conn,
            &NewSurvey {
                id: id.as_str(),
                workspace_id: ws.id.as_str(),
                name: body.name.trim(),
                kind: kind.as_str(),
                scale: scale.as_str(),
                question: body
                    .question
                    .as_deref()
                    .map_or(kind.default_question_for(scale), str::trim),
                comment_prompt: body.comment_prompt.as_deref().map(str::trim),
                created_at: now(),
                email_subject: body.email_subject.as_deref().map(str::trim),
                email_intro: body.email_intro.as_deref().map(str::trim),
                email_sender_name: body.email_sender_name.as_deref().map(str::trim),
                throttle_days: throttle.map(Throttle::days),
                segment_by: segments.as_deref(),
                public_key: &public_key,
                allowed_origins: settings.allowed_origins.as_deref().unwrap_or(""),
                widget_once_per_days: settings
                    .once_per_days
                    .unwrap_or(widget::DEFAULT_ONCE_PER_DAYS),
                widget_sample_percent: settings.sample_percent.unwrap_or(100),
                brand_color: settings.brand_color.as_deref(),
                locale: settings.locale.unwrap_or("en"),
                send_delay_seconds: send_delay,
                // Employees answer ESAT about their employer: anonymous unless asked otherwise.
                anonymous: body.anonymous.flatten().unwrap_or(kind == SurveyKind::Esat),
            },
        )
        .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Created().json(SurveyView::from_row(survey)?))
}
