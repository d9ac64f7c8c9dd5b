//! `PATCH /v1/surveys/{id}`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;
use validator::Validate;

use super::{WidgetRulesBody, WidgetSettings};
use crate::db;
use crate::db::surveys::SurveyChanges;
use crate::domain::ids::SurveyId;
use crate::domain::segments::SegmentBy;
use crate::domain::throttle::Throttle;
use crate::domain::Invalid;
use crate::domain::{trigger, widget};
use crate::error::ApiError;
use crate::extract::{patch_field, patch_whole_number, Json, Keyed, Workspace};
use crate::mail::compose;
use crate::state::AppState;
use crate::validation::{check, not_blank};
use crate::views::SurveyView;

/// Body of `PATCH /v1/surveys/{id}` (JSON Merge Patch): an absent field stays, `null`
/// resets an optional one to its default. The kind and scale never change (they define what
/// the stored answers mean), and the name and question cannot be null.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateSurvey {
    #[validate(length(min = 1, max = 200), custom(function = "not_blank"))]
    #[serde(default, deserialize_with = "patch_field")]
    name: Option<Option<String>>,
    #[validate(length(min = 1, max = 500), custom(function = "not_blank"))]
    #[serde(default, deserialize_with = "patch_field")]
    question: Option<Option<String>>,
    #[validate(length(min = 1, max = 500), custom(function = "not_blank"))]
    #[serde(default, deserialize_with = "patch_field")]
    comment_prompt: Option<Option<String>>,
    #[validate(length(min = 1, max = 200), custom(function = "not_blank"))]
    #[serde(default, deserialize_with = "patch_field")]
    email_subject: Option<Option<String>>,
    #[validate(length(min = 1, max = 1000), custom(function = "not_blank"))]
    #[serde(default, deserialize_with = "patch_field")]
    email_intro: Option<Option<String>>,
    #[validate(length(min = 1, max = 100), custom(function = "not_blank"))]
    #[serde(default, deserialize_with = "patch_field")]
    email_sender_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_whole_number")]
    throttle_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "patch_whole_number")]
    send_delay_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "patch_field")]
    segment_by: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "patch_field")]
    allowed_origins: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "patch_field")]
    widget: Option<Option<WidgetRulesBody>>,
    #[serde(default, deserialize_with = "patch_field")]
    brand_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    locale: Option<Option<String>>,
    /// `true` turns anonymity on (before the first answer only); it never turns off.
    #[serde(default, deserialize_with = "patch_field")]
    anonymous: Option<Option<bool>>,
    /// `true` replaces the public key: pages still using the old one stop showing the widget.
    #[serde(default)]
    rotate_public_key: bool,
}

/// The trimmed text of a patched field.
fn trimmed(field: &Option<Option<String>>) -> Option<Option<&str>> {
    field.as_ref().map(|v| v.as_deref().map(str::trim))
}

/// `PATCH /v1/surveys/{id}`: changes the given fields. A new `segment_by` rebuilds the
/// survey's rollups from its answers in the same transaction.
pub async fn update(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<UpdateSurvey>>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    for (field, value) in [("name", &body.name), ("question", &body.question)] {
        if matches!(value, Some(None)) {
            return Err(Invalid::new(field, "cannot be null").into());
        }
    }
    if matches!(body.anonymous, Some(None)) {
        return Err(Invalid::new("anonymous", "cannot be null").into());
    }
    if let Some(Some(subject)) = &body.email_subject {
        compose::check_template("email_subject", subject)?;
    }
    if let Some(Some(intro)) = &body.email_intro {
        compose::check_template("email_intro", intro)?;
    }
    let throttle = body
        .throttle_days
        .map(|days| days.map(Throttle::parse).transpose())
        .transpose()?;
    let segments = body
        .segment_by
        .clone()
        .map(|list| list.map(SegmentBy::parse).transpose())
        .transpose()?
        .map(|list| list.map(|s| s.to_stored()));
    let settings = WidgetSettings::parse(
        body.allowed_origins.as_ref().map(|o| o.as_deref()),
        body.widget.as_ref().map(Option::as_ref),
        body.brand_color.clone().flatten().as_deref(),
        body.locale.as_ref().map(|l| l.as_deref()),
    )?;
    let public_key = body.rotate_public_key.then(widget::new_public_key);
    let send_delay = body
        .send_delay_seconds
        .map(|d| d.map_or(Ok(trigger::DEFAULT_SEND_DELAY_SECONDS), trigger::send_delay))
        .transpose()?;
    let id = SurveyId::from(id.into_inner());
    let survey = db::run(&state.pool, move |conn| {
        let changes = SurveyChanges {
            name: trimmed(&body.name).flatten(),
            question: trimmed(&body.question).flatten(),
            comment_prompt: trimmed(&body.comment_prompt),
            email_subject: trimmed(&body.email_subject),
            email_intro: trimmed(&body.email_intro),
            email_sender_name: trimmed(&body.email_sender_name),
            throttle_days: throttle.map(|t| t.map(Throttle::days)),
            segment_by: segments.as_ref().map(|s| s.as_deref()),
            public_key: public_key.as_deref(),
            allowed_origins: settings.allowed_origins.as_deref(),
            widget_once_per_days: settings.once_per_days,
            widget_sample_percent: settings.sample_percent,
            brand_color: match &body.brand_color {
                None => None,
                Some(None) => Some(None),
                Some(Some(_)) => Some(settings.brand_color.as_deref()),
            },
            locale: settings.locale,
            send_delay_seconds: send_delay,
            anonymous: body.anonymous.flatten(),
        };
        db::surveys::update(conn, &ws.id, &id, &changes).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SurveyView::from_row(survey)?))
}
