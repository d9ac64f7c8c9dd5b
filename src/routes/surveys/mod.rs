//! `/v1/surveys`: create, list, show and change surveys.

mod create;
mod update;

pub use create::create;
pub use update::update;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::db;
use crate::domain::ids::SurveyId;
use crate::domain::locale::Locale;
use crate::domain::widget::{self, AllowedOrigins};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{ListQuery, Workspace};
use crate::state::AppState;
use crate::views::{ListView, SurveyView};

/// The widget's display rules as a request gives them: a JSON object only (serde would
/// otherwise take an array of values for a struct).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct WidgetRulesBody {
    once_per_days: Option<Option<i64>>,
    sample_percent: Option<Option<i64>>,
}

/// The fields of [`WidgetRulesBody`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WidgetRulesFields {
    #[serde(default, deserialize_with = "crate::extract::patch_whole_number")]
    once_per_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::extract::patch_whole_number")]
    sample_percent: Option<Option<i64>>,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for WidgetRulesBody {
    type Error = serde_json::Error;

    fn try_from(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, Self::Error> {
        let fields: WidgetRulesFields = serde_json::from_value(serde_json::Value::Object(map))?;
        Ok(Self {
            once_per_days: fields.once_per_days,
            sample_percent: fields.sample_percent,
        })
    }
}

/// The widget settings of a survey, validated (`None`: not given).
#[derive(Debug, Default)]
pub struct WidgetSettings {
    /// Allowed origins, stored form.
    pub allowed_origins: Option<String>,
    /// Days between showings.
    pub once_per_days: Option<i32>,
    /// Percent of visitors.
    pub sample_percent: Option<i32>,
    /// Brand colour.
    pub brand_color: Option<String>,
    /// Locale name.
    pub locale: Option<&'static str>,
}

impl WidgetSettings {
    /// Validates the widget fields of a create or update body. `null` (`Some(None)`) stands
    /// for the default: no origins, once per 90 days, everyone, `en`.
    pub fn parse(
        allowed_origins: Option<Option<&[String]>>,
        rules: Option<Option<&WidgetRulesBody>>,
        brand_color: Option<&str>,
        locale: Option<Option<&str>>,
    ) -> Result<Self, Invalid> {
        let (once, sample) = match rules {
            None => (None, None),
            Some(None) => (Some(None), Some(None)),
            Some(Some(r)) => (r.once_per_days, r.sample_percent),
        };
        Ok(Self {
            allowed_origins: allowed_origins
                .map(|list| AllowedOrigins::parse(list.unwrap_or_default()).map(|o| o.to_stored()))
                .transpose()?,
            once_per_days: once
                .map(|d| match d {
                    None => Ok(widget::DEFAULT_ONCE_PER_DAYS),
                    Some(d) => widget::once_per_days("widget.once_per_days", d),
                })
                .transpose()?,
            sample_percent: sample
                .map(|p| match p {
                    None => Ok(100),
                    Some(p) => widget::sample_percent("widget.sample_percent", p),
                })
                .transpose()?,
            brand_color: brand_color.map(widget::brand_color).transpose()?,
            locale: locale
                .map(|l| match l {
                    None => Ok(Locale::default().as_str()),
                    Some(l) => Locale::parse("locale", l).map(Locale::as_str),
                })
                .transpose()?,
        })
    }
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
