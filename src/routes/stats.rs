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

/// `GET /v1/surveys/{id}/stats?from=…&to=…`.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let from = parse_time("from", query.from.as_deref())?;
    let to = parse_time("to", query.to.as_deref())?;
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
    let (survey, counts) = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws.id, &id)?;
        let counts = db::stats::counts(conn, &survey.id, window)?;
        Ok::<_, ApiError>((survey, counts))
    })
    .await?;
    Ok(HttpResponse::Ok().json(StatsView::compute(&survey, counts, from, to)?))
}
