//! `GET /v1/surveys/{id}/stats` and `GET /v1/stats`: headline scores with intervals, trends,
//! groups and filters, answered by `reports`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{self, surveys::Survey};
use crate::domain::ids::SurveyId;
use crate::domain::kind::{Scale, SurveyKind};
use crate::domain::properties::check_key;
use crate::domain::segments::SegmentBy;
use crate::domain::stats::buckets::{self, Interval};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::Workspace;
use crate::reports::anonymity;
use crate::reports::view::{AnonymityView, Context, StatsView, ANONYMITY_RULE};
use crate::reports::{self, Request};
use crate::state::AppState;

/// The window of a trend or comparison without `from`, in days before `to`.
const DEFAULT_DAYS: i64 = 90;

/// Most `filter[…]` parameters one call may carry.
const MAX_FILTERS: usize = 5;

/// The parsed query of a stats call.
#[derive(Debug, Default)]
struct StatsQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    compare: bool,
    interval: Option<Interval>,
    tz: Option<String>,
    group_by: Option<String>,
    filters: Vec<(String, String)>,
    kind: Option<String>,
    scale: Option<String>,
}

/// The earliest instant a window may start at (stats before it are all empty anyway).
fn epoch() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

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
                "from" => q.from = Some(parse_time("from", &value)?),
                "to" => q.to = Some(parse_time("to", &value)?),
                "compare" if value == "previous_period" => q.compare = true,
                "compare" => return Err(Invalid::new("compare", "must be previous_period").into()),
                "interval" => q.interval = Some(Interval::parse(&value)?),
                "tz" => q.tz = Some(value).filter(|v| !v.is_empty()),
                "group_by" => {
                    check_key("group_by", &value)?;
                    q.group_by = Some(value);
                }
                "kind" => q.kind = Some(value),
                // A campaign's cycle: the same as `filter[cycle]=N`.
                "cycle" => {
                    if q.filters.len() == MAX_FILTERS {
                        return Err(Invalid::new(
                            "cycle",
                            format!("at most {MAX_FILTERS} filters"),
                        )
                        .into());
                    }
                    q.filters.push(("cycle".to_owned(), value));
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
                    if q.filters.len() == MAX_FILTERS {
                        return Err(
                            Invalid::new(other, format!("at most {MAX_FILTERS} filters")).into(),
                        );
                    }
                    q.filters.push((property.to_owned(), value));
                }
            }
        }
        if let (Some(f), Some(t)) = (q.from, q.to) {
            if f >= t {
                return Err(Invalid::new("to", "must be later than from").into());
            }
        }
        // A trend or a comparison needs a start: by default, the 90 days before `to`.
        if (q.compare || q.interval.is_some()) && q.from.is_none() {
            q.from = Some(q.to.unwrap_or_else(Utc::now) - chrono::Duration::days(DEFAULT_DAYS));
        }
        Ok(q)
    }
}

/// Runs the query over `surveys` (all of `kind` on one scale) and maps it to the view.
async fn answer(
    state: &AppState,
    surveys: Vec<Survey>,
    query: StatsQuery,
    survey_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let combined = survey_id.is_none().then_some(surveys.len());
    let first = surveys.first().ok_or(ApiError::NotFound("survey"))?;
    let (kind, scale) = first.kind_and_scale()?;
    // Rollups answer a segment only if every combined survey keeps it.
    let common: Vec<String> = first
        .segments()
        .keys()
        .iter()
        .filter(|k| surveys.iter().all(|s| s.segments().contains(k)))
        .cloned()
        .collect();
    let tz = buckets::parse_tz(query.tz.as_deref())?;
    let request = Request {
        segments: SegmentBy::parse(common).unwrap_or_else(|_| SegmentBy::from_stored(Some(""))),
        surveys: surveys.iter().map(|s| s.id.clone()).collect(),
        from: query.from,
        to: query.to,
        interval: query.interval.map(|i| (i, tz)),
        group_by: query.group_by.clone(),
        filters: query.filters.clone(),
    };
    if surveys.iter().any(|s| s.anonymous) {
        anonymity::check(&request)?;
    }
    let now = Utc::now();
    let previous = query.compare.then(|| {
        let from = query.from.unwrap_or(now);
        let to = query.to.unwrap_or(now);
        Request {
            // No earlier than 1970: the window before a very long one is cut there.
            from: Some((from - (to - from)).max(epoch())),
            to: Some(from),
            interval: None,
            group_by: None,
            ..request.clone()
        }
    });
    let ids: Vec<SurveyId> = surveys.iter().map(|s| s.id.clone()).collect();
    let (report, withheld, before, min, employees) = db::run(&state.pool, move |conn| {
        // NPS sent to an audience is eNPS: every survey combined is sent by a campaign.
        let employees = kind == SurveyKind::Nps && db::campaigns::send_all(conn, &ids)?;
        let Some(protection) = anonymity::protection(conn, &surveys)? else {
            let report = reports::run(conn, &request, now)?;
            let before = previous.map(|p| reports::run(conn, &p, now)).transpose()?;
            return Ok::<_, ApiError>((report, None, before.map(|b| (b, false)), None, employees));
        };
        let (report, withheld) = anonymity::run(conn, &request, now, &protection)?;
        let before = previous
            .map(|p| anonymity::run(conn, &p, now, &protection))
            .transpose()?
            .map(|(b, w)| (b, w.total || withheld.total));
        Ok((
            report,
            Some(withheld),
            before,
            Some(protection.min),
            employees,
        ))
    })
    .await?;
    let ctx = Context {
        survey_id,
        surveys: combined,
        kind,
        scale,
        interval: query.interval.map(|i| (i, tz.name().to_owned())),
        group_by: query.group_by,
        anonymity: min.map(|min_group_size| AnonymityView {
            min_group_size,
            rule: ANONYMITY_RULE,
        }),
    };
    let mut view = StatsView::new(&ctx, &report, withheld.as_ref());
    if employees {
        view.rule.0 = crate::domain::scoring::employee_rule(view.rule.0.clone());
    }
    if let Some((before, withheld)) = before {
        view = view.with_comparison(&ctx, &report, &before, withheld);
    }
    Ok(HttpResponse::Ok().json(view))
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
    answer(&state, vec![survey], query, survey_id).await
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
    answer(&state, surveys, query, None).await
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
    Ok((q.from, q.to, q.filters))
}
