//! `/v1/surveys`: create, list, show and change surveys.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;
use validator::Validate;

use crate::db::surveys::{NewSurvey, SurveyChanges};
use crate::db::{self, now};
use crate::domain::ids::SurveyId;
use crate::domain::kind::SurveyKind;
use crate::domain::segments::SegmentBy;
use crate::domain::throttle::Throttle;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{patch_field, patch_whole_number, Json, ListQuery, Workspace};
use crate::mail::compose;
use crate::state::AppState;
use crate::validation::{check, not_blank};
use crate::views::{ListView, SurveyView};

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
    segment_by: Option<Vec<String>>,
}

/// `POST /v1/surveys`.
pub async fn create(
    ws: Workspace,
    state: web::Data<AppState>,
    Json(body): Json<CreateSurvey>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    let kind = SurveyKind::parse(&body.kind)?;
    let scale = kind.scale(body.scale.as_deref())?;
    if let Some(subject) = &body.email_subject {
        compose::check_template("email_subject", subject)?;
    }
    if let Some(intro) = &body.email_intro {
        compose::check_template("email_intro", intro)?;
    }
    let throttle = body.throttle_days.map(Throttle::parse).transpose()?;
    let segments = body
        .segment_by
        .clone()
        .map(SegmentBy::parse)
        .transpose()?
        .map(|s| s.to_stored());
    let survey = db::run(&state.pool, move |conn| {
        let id = SurveyId::generate();
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
            },
        )
        .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Created().json(SurveyView::from_row(survey)?))
}

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
    #[serde(default, deserialize_with = "patch_field")]
    segment_by: Option<Option<Vec<String>>>,
}

/// The trimmed text of a patched field.
fn trimmed(field: &Option<Option<String>>) -> Option<Option<&str>> {
    field.as_ref().map(|v| v.as_deref().map(str::trim))
}

/// `PATCH /v1/surveys/{id}`: changes the given fields. A new `segment_by` rebuilds the
/// survey's rollups from its answers in the same transaction.
pub async fn update(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    Json(body): Json<UpdateSurvey>,
) -> Result<HttpResponse, ApiError> {
    check(&body)?;
    for (field, value) in [("name", &body.name), ("question", &body.question)] {
        if matches!(value, Some(None)) {
            return Err(Invalid::new(field, "cannot be null").into());
        }
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
        };
        db::surveys::update(conn, &ws.id, &id, &changes).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SurveyView::from_row(survey)?))
}

/// `GET /v1/surveys`.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let (rows, next_cursor) = db::run(&state.pool, move |conn| {
        let rows = db::surveys::list(conn, &ws.id, &page)?;
        Ok::<_, ApiError>(page.finish(rows, |s| s.id.as_str()))
    })
    .await?;
    let data = rows
        .into_iter()
        .map(SurveyView::from_row)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(ListView { data, next_cursor }))
}

/// `GET /v1/surveys/{id}`.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = SurveyId::from(id.into_inner());
    let survey = db::run(&state.pool, move |conn| {
        db::surveys::find(conn, &ws.id, &id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SurveyView::from_row(survey)?))
}
