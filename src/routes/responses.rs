//! `GET /v1/surveys/{id}/responses`: the answers, newest last, cursor-paginated.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use crate::db;
use crate::error::ApiError;
use crate::extract::{ListQuery, Workspace};
use crate::state::AppState;
use crate::views::{ListView, ResponseView};

/// `GET /v1/surveys/{id}/responses?limit=…&cursor=…`.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let id = id.into_inner().to_string();
    let (rows, next_cursor, mut properties) = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws.id, &id)?;
        let rows = db::responses::list(conn, &survey.id, &page)?;
        let (rows, next) = page.finish(rows, |(r, _)| &r.id);
        let ids: Vec<String> = rows.iter().map(|(_, inv)| inv.id.clone()).collect();
        let properties = db::invitations::properties_of(conn, &ids)?;
        Ok((rows, next, properties))
    })
    .await?;
    let data = rows
        .into_iter()
        .map(|(r, inv)| {
            let props = properties.remove(&inv.id).unwrap_or_default();
            ResponseView::from_row(r, &inv, props)
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListView { data, next_cursor }))
}
