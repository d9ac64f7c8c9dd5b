//! `GET /v1/surveys/{id}/responses` (the answers, oldest first, cursor-paginated) and
//! `GET /v1/responses/{id}` (one answer with its history of changes).

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use crate::db;
use crate::domain::ids::{ResponseId, SurveyId};
use crate::error::ApiError;
use crate::extract::{ListQuery, Workspace};
use crate::state::AppState;
use crate::views::{ListView, ResponseDetailView, ResponseView};

/// `GET /v1/surveys/{id}/responses?limit=…&cursor=…`.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let id = SurveyId::from(id.into_inner());
    let (rows, next_cursor, mut properties) = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws.id, &id)?;
        let rows = db::responses::list(conn, &survey.id, &page)?;
        let (rows, next) = page.finish(rows, |(r, _)| r.id.as_str());
        let ids: Vec<_> = rows.iter().map(|(_, inv)| &inv.id).collect();
        let properties = db::invitations::properties_of(conn, &ids)?;
        Ok::<_, ApiError>((rows, next, properties))
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

/// `GET /v1/responses/{id}`: the response and every change of its score or comment.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ResponseId::from(id.into_inner());
    let (response, invitation, properties, history) = db::run(&state.pool, move |conn| {
        let (response, invitation) = db::responses::find_in_workspace(conn, &ws.id, &id)?;
        let properties = db::invitations::properties_of_one(conn, &invitation.id)?;
        let history = db::responses::history(conn, &response.id)?;
        Ok::<_, ApiError>((response, invitation, properties, history))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ResponseDetailView {
        response: ResponseView::from_row(response, &invitation, properties),
        history: history.into_iter().map(Into::into).collect(),
    }))
}
