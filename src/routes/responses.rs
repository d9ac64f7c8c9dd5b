//! `GET /v1/surveys/{id}/responses` (the answers, oldest first, cursor-paginated) and
//! `GET /v1/responses/{id}` (one answer with its history of changes).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::db;
use crate::domain::ids::{ResponseId, SurveyId, WorkspaceId};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{ListQuery, Workspace};
use crate::reports::{anonymity, export};
use crate::state::AppState;
use crate::views::{ListView, ResponseDetailView, ResponseView};

/// `GET /v1/surveys/{id}/responses?limit=…&cursor=…` (with `Accept: text/csv`, the export).
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let wants_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    if wants_csv {
        return export(ws, state, id, req).await;
    }
    let query = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query string is not valid: {e}")))?;
    let page = query.page()?;
    let id = SurveyId::from(id.into_inner());
    let page_of = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws.id, &id)?;
        let shown = anonymity::answers_shown(conn, &survey)?;
        let rows = db::responses::list(conn, &survey.id, &page)?;
        match shown {
            None => with_properties(conn, &page, rows),
            Some(comments) => {
                let (rows, next_cursor) = page.finish(rows, |(r, _)| r.id.as_str());
                let data = rows
                    .into_iter()
                    .map(|(r, inv)| ResponseView::anonymous(r, &inv, comments))
                    .collect();
                Ok(ListView { data, next_cursor })
            }
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(page_of))
}

/// A page of responses as served, with their invitations' properties.
fn with_properties(
    conn: &mut db::AnyConnection,
    page: &crate::domain::page::PageRequest,
    rows: Vec<(db::responses::Response, db::invitations::Invitation)>,
) -> Result<ListView<ResponseView>, ApiError> {
    let (rows, next_cursor) = page.finish(rows, |(r, _)| r.id.as_str());
    let ids: Vec<_> = rows.iter().map(|(_, inv)| &inv.id).collect();
    let mut properties = db::invitations::properties_of(conn, &ids)?;
    let data = rows
        .into_iter()
        .map(|(r, inv)| {
            let props = properties.remove(&inv.id).unwrap_or_default();
            ResponseView::from_row(r, &inv, props)
        })
        .collect();
    Ok(ListView { data, next_cursor })
}

/// `GET /v1/surveys/{id}/responses.csv?from&to&filter[p]=v`: every response as CSV, one
/// column per property, streamed page by page (constant memory, whatever the size). An
/// anonymous survey's export takes neither a window nor a filter (422).
pub async fn export(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let window = crate::routes::stats::window_and_filters(&req)?;
    export_csv(&state, ws.id, SurveyId::from(id.into_inner()), window).await
}

/// The CSV export of survey `id` of workspace `ws` over `window`: the answer of
/// `GET /v1/surveys/{id}/responses.csv` and of a dashboard's download link.
pub(super) async fn export_csv(
    state: &AppState,
    ws: WorkspaceId,
    id: SurveyId,
    window: crate::routes::stats::WindowAndFilters,
) -> Result<HttpResponse, ApiError> {
    let filtered = !window.2.is_empty();
    let windowed = match (window.0, window.1) {
        (Some(_), _) => Some("from"),
        (None, Some(_)) => Some("to"),
        (None, None) => None,
    };
    let (survey_id, properties, anonymous) = db::run(&state.pool, move |conn| {
        let survey = db::surveys::find(conn, &ws, &id)?;
        let shown = anonymity::answers_shown(conn, &survey)?;
        if shown.is_some() && filtered {
            return Err(Invalid::new(
                "filter",
                "an anonymous survey's answers cannot be filtered by property",
            )
            .into());
        }
        // A window can be cut around one invitation (or two windows a person apart), and
        // the answers in it are that person's: an anonymous survey is exported whole.
        if let (Some(_), Some(field)) = (shown, windowed) {
            return Err(Invalid::new(
                field,
                "an anonymous survey's answers are exported whole, not by time window",
            )
            .into());
        }
        let keys = match shown {
            None => db::responses::property_keys(conn, &survey.id, export::MAX_PROPERTY_COLUMNS)?,
            Some(_) => Vec::new(),
        };
        Ok::<_, ApiError>((survey.id, keys, shown))
    })
    .await?;
    let export = export::Export {
        survey_id,
        from: window.0,
        to: window.1,
        filters: window.2,
        properties,
        anonymous,
    };
    let header = web::Bytes::from(export::header(&export.properties));
    let pool = state.pool.clone();
    // Each step reads one page after the last id written; the stream holds one page at most.
    let pages = futures_util::stream::unfold(Some(None::<String>), move |cursor| {
        let (pool, export) = (pool.clone(), export.clone());
        async move {
            let after = cursor?;
            let page = db::run(&pool, move |conn| {
                export::page(conn, &export, after.as_deref()).map_err(ApiError::from)
            })
            .await;
            match page {
                Ok(Some((bytes, last))) => Some((Ok(web::Bytes::from(bytes)), Some(Some(last)))),
                Ok(None) => None,
                Err(err) => {
                    // The status is already sent: log, and end the body early.
                    tracing::error!(error = ?err, "CSV export failed mid-stream");
                    Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        None,
                    ))
                }
            }
        }
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(header) }).chain(pages);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"responses.csv\"",
        ))
        .streaming(body))
}

/// `GET /v1/responses/{id}`: the response and every change of its score or comment.
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ResponseId::from(id.into_inner());
    let view = db::run(&state.pool, move |conn| {
        let (response, invitation) = db::responses::find_in_workspace(conn, &ws.id, &id)?;
        let survey = db::surveys::find(conn, &ws.id, &response.survey_id)?;
        if let Some(comments) = anonymity::answers_shown(conn, &survey)? {
            // Each change is dated finer than the day: an anonymous answer has no history.
            return Ok::<_, ApiError>(ResponseDetailView {
                response: ResponseView::anonymous(response, &invitation, comments),
                history: Vec::new(),
            });
        }
        let properties = db::invitations::properties_of_one(conn, &invitation.id)?;
        let history = db::responses::history(conn, &response.id)?;
        Ok(ResponseDetailView {
            response: ResponseView::from_row(response, &invitation, properties),
            history: history.into_iter().map(Into::into).collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/responses`: the workspace's responses by `filter[<property>]` (e.g.
/// `filter[ticket_id]=4711`), `external_id`, `survey_id` and `since` (changed at or after),
/// oldest first, cursor-paginated: what a helpdesk app shows on a ticket. Anonymous surveys'
/// answers are never among them (each of these narrows answers down to a person or a
/// moment); their own list serves them.
pub async fn search(
    ws: Workspace,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (search, page) = super::search::parse(&req)?;
    let page_of = db::run(&state.pool, move |conn| {
        let rows = db::search::responses(conn, &ws.id, &search, &page)?;
        with_properties(conn, &page, rows)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page_of))
}
