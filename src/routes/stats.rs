//! `GET /v1/surveys/{id}/stats` and `GET /v1/stats`: headline scores with intervals, trends,
//! groups and filters, answered by `reports`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db;
use crate::domain::ids::SurveyId;
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::properties::check_key;
use crate::domain::stats::buckets::Interval;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::Workspace;
use crate::reports::serve::{self, epoch, Query};
use crate::state::AppState;

/// The window of a trend or comparison without `from`, in days before `to`.
const DEFAULT_DAYS: i64 = 90;

/// Most `filter[…]` parameters one call may carry.
const MAX_FILTERS: usize = 5;

/// The parsed query of a stats call: the report's parameters, and for workspace stats the
/// kind and scale.
#[derive(Debug, Default)]
struct StatsQuery {
    query: Query,
    kind: Option<String>,
    scale: Option<String>,
}

/// Parses an RFC 3339 time between 1970 and 9999, naming `field` when it is not one.
fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, Invalid> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            Invalid::new(
                field,
                "must be an RFC 3339 timestamp, e.g. 2026-01-31T00:00:00Z",
            )
        })?;
    let last = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").map(|t| t.with_timezone(&Utc));
    if at < epoch() || last.is_ok_and(|last| at > last) {
        return Err(Invalid::new(field, "must be between 1970 and 9999"));
    }
    Ok(at)
}

impl StatsQuery {
    /// Parses `from`, `to`, `compare`, `interval`, `tz`, `group_by`, `filter[<property>]`
    /// (and for workspace stats `kind`, `scale`), naming the parameter that is wrong.
    fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| ApiError::BadRequest(format!("query string is not valid: {e}")))?;
        let mut q = Self::default();
        for (key, value) in pairs {
            crate::domain::text::check(&key, &value)?;
            match key.as_str() {
                "from" => q.query.from = Some(parse_time("from", &value)?),
                "to" => q.query.to = Some(parse_time("to", &value)?),
                "compare" if value == "previous_period" => q.query.compare = true,
                "compare" => return Err(Invalid::new("compare", "must be previous_period").into()),
                "interval" => q.query.interval = Some(Interval::parse(&value)?),
                "tz" => q.query.tz = Some(value).filter(|v| !v.is_empty()),
                "group_by" => {
                    check_key("group_by", &value)?;
                    q.query.group_by = Some(value);
                }
                "kind" => q.kind = Some(value),
                // A campaign's cycle: the same as `filter[cycle]=N`.
                "cycle" => {
                    if q.query.filters.len() == MAX_FILTERS {
                        return Err(Invalid::new(
                            "cycle",
                            format!("at most {MAX_FILTERS} filters"),
                        )
                        .into());
                    }
                    q.query.filters.push(("cycle".to_owned(), value));
                }
                "scale" => q.scale = Some(value),
                other => {
                    let Some(property) = other
                        .strip_prefix("filter[")
                        .and_then(|k| k.strip_suffix(']'))
                    else {
                        continue;
                    };
                    // A key no property can have simply matches nothing.
                    if q.query.filters.len() == MAX_FILTERS {
                        return Err(
                            Invalid::new(other, format!("at most {MAX_FILTERS} filters")).into(),
                        );
                    }
                    q.query.filters.push((property.to_owned(), value));
                }
            }
        }
        if let (Some(f), Some(t)) = (q.query.from, q.query.to) {
            if f >= t {
                return Err(Invalid::new("to", "must be later than from").into());
            }
        }
        // A trend or a comparison needs a start: by default, the 90 days before `to`.
        if (q.query.compare || q.query.interval.is_some()) && q.query.from.is_none() {
            q.query.from =
                Some(q.query.to.unwrap_or_else(Utc::now) - chrono::Duration::days(DEFAULT_DAYS));
        }
        Ok(q)
    }
}

/// `GET /v1/surveys/{id}/stats`.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = StatsQuery::parse(&req)?;
    let id = SurveyId::from(id.into_inner());
    let survey = db::run(&state.pool, move |conn| {
        db::surveys::find(conn, &ws.id, &id).map_err(ApiError::from)
    })
    .await?;
    let survey_id = Some(survey.id.to_string());
    let view = serve::stats(&state.pool, vec![survey], query.query, survey_id).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/stats?kind=…[&scale=…]`: every survey of one kind and scale in the workspace.
pub async fn workspace(
    ws: Workspace,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = StatsQuery::parse(&req)?;
    let kind = SurveyKind::parse(
        query
            .kind
            .as_deref()
            .ok_or_else(|| Invalid::new("kind", "is required: csat, nps, ces or esat"))?,
    )?;
    let scale = match query.scale.as_deref() {
        Some(name) if Scale::parse(name).is_none() => {
            return Err(Invalid::new("scale", "is not a scale: 1-5, thumbs, 0-10 or 1-7").into())
        }
        // A scale the kind never has: no survey can match.
        other => kind
            .scale(other)
            .map_err(|_| ApiError::NotFound("survey of that kind and scale"))?,
    };
    let surveys = db::run(&state.pool, move |conn| {
        db::surveys::of_kind(conn, &ws.id, kind, scale).map_err(ApiError::from)
    })
    .await?;
    if surveys.is_empty() {
        return Err(ApiError::NotFound("survey of that kind and scale"));
    }
    let view = serve::stats(&state.pool, surveys, query.query, None).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A window `(from, to)` and `(property, value)` filters.
pub type WindowAndFilters = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Vec<(String, String)>,
);

/// The window and filters of a request (`from`, `to`, `filter[…]`), as the CSV export reads
/// them: the same rules as stats.
pub fn window_and_filters(req: &HttpRequest) -> Result<WindowAndFilters, ApiError> {
    let q = StatsQuery::parse(req)?;
    Ok((q.query.from, q.query.to, q.query.filters))
}
