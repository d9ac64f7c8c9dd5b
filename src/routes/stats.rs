//! `GET /v1/surveys/{id}/stats`: headline score, response rate and distribution.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::db::{self, stats::Window, to_stored};
use crate::domain::ids::SurveyId;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::Workspace;
use crate::state::AppState;
use crate::views::StatsView;

/// Query of the stats endpoint; both ends optional.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    compare: Option<String>,
}

fn parse_time(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, Invalid> {
    raw.filter(|r| !r.is_empty())
        .map(|r| {
            DateTime::parse_from_rfc3339(r)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Invalid::new(
                        field,
                        "must be an RFC 3339 timestamp, e.g. 2026-01-31T00:00:00Z",
                    )
                })
        })
        .transpose()
}

/// `GET /v1/surveys/{id}/stats?from=…&to=…[&compare=previous_period]`.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let from = parse_time("from", query.from.as_deref())?;
    let mut to = parse_time("to", query.to.as_deref())?;
    let previous = match query.compare.as_deref() {
        None | Some("") => None,
        Some("previous_period") => {
            let from = from.ok_or_else(|| {
                Invalid::new(
                    "compare",
                    "previous_period needs a window: give from (and to)",
                )
            })?;
            let end = *to.get_or_insert_with(Utc::now);
            Some((from - (end - from), from))
        }
        Some(_) => return Err(Invalid::new("compare", "must be previous_period").into()),
    };
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(Invalid::new("to", "must be later than from").into());
        }
    }
    let window = Window {
        from: from.map(to_stored),
        to: to.map(to_stored),
    };
    let id = SurveyId::from(id.into_inner());
    let (survey, counts, before) = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws.id, &id)?;
        let counts = db::stats::counts(conn, &survey.id, window)?;
        let before = previous
            .map(|(from, to)| {
                let window = Window {
                    from: Some(to_stored(from)),
                    to: Some(to_stored(to)),
                };
                db::stats::counts(conn, &survey.id, window)
            })
            .transpose()?;
        Ok::<_, ApiError>((survey, counts, before))
    })
    .await?;
    let view = StatsView::compute(&survey, counts.clone(), from, to)?;
    let view = match (before, previous) {
        (Some(before), Some((prev_from, prev_to))) => {
            view.with_comparison(&survey, &counts, before, prev_from, prev_to)?
        }
        _ => view,
    };
    Ok(HttpResponse::Ok().json(view))
}
