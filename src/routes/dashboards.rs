//! `/v1/dashboards` (create, list, show, revoke a shared dashboard) and the page its secret
//! link opens, `GET /d/{token}`, with its CSV download.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::html::{self, Page};
use crate::dashboards::page::{self, PageInput};
use crate::dashboards::{link, CreateDashboard, Source, Spec, ViewQuery, Window, MAX_DASHBOARDS};
use crate::db::dashboards::{self, Dashboard};
use crate::db::{self, from_stored};
use crate::domain::ids::{SurveyId, WorkspaceId};
use crate::domain::secret::{random_text, SurveyToken};
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::extract::{Json, Keyed, ListQuery, Workspace};
use crate::reports::serve;
use crate::state::AppState;
use crate::views::ListView;

/// A dashboard as served.
#[derive(Debug, Serialize)]
pub struct DashboardView {
    id: String,
    name: String,
    /// Only in the answer to its creation: the secret link, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    survey_id: Option<String>,
    kind: String,
    scale: String,
    window_days: i32,
    interval: String,
    tz: String,
    group_by: Option<String>,
    filters: BTreeMap<String, String>,
    show_comments: bool,
    allow_csv: bool,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl DashboardView {
    fn new(d: Dashboard, url: Option<String>) -> Self {
        Self {
            filters: serde_json::from_str(&d.filters).unwrap_or_default(),
            id: d.id,
            name: d.name,
            url,
            survey_id: d.survey_id,
            kind: d.kind,
            scale: d.scale,
            window_days: d.window_days,
            interval: d.bucket,
            tz: d.tz,
            group_by: d.group_by,
            show_comments: d.show_comments,
            allow_csv: d.allow_csv,
            expires_at: d.expires_at.map(from_stored),
            created_at: from_stored(d.created_at),
        }
    }
}

/// `POST /v1/dashboards`: 201 with the dashboard and its secret `url` (shown once). The
/// dashboard's figures are computed once first, so a combination `/v1/stats` refuses (a
/// filter with `group_by` on an anonymous survey) is refused here, naming the field.
pub async fn create(
    Keyed(ws, Json(body)): Keyed<Workspace, Json<CreateDashboard>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let spec = Spec::parse(body, now)?;
    let (ws_id, source) = (ws.id.clone(), spec.source.clone());
    let surveys = db::run(&state.pool, move |conn| {
        link::surveys(conn, &ws_id, &source)
    })
    .await?;
    // A dashboard's download is of its window, which can be cut around one person; an
    // anonymous survey's answers are exported whole, through the API only.
    if spec.allow_csv && surveys.iter().any(|s| s.anonymous) {
        return Err(Invalid::new(
            "allow_csv",
            "an anonymous survey's answers cannot be downloaded from a dashboard",
        )
        .into());
    }
    let window = Window::parse(&spec, &ViewQuery::default(), now)?;
    serve::stats(&state.pool, surveys.clone(), spec.query(&window), None).await?;
    let token = SurveyToken::generate();
    let row = link::row_of(&spec, &ws.id, &surveys, token.hash(), now)?;
    let stored = row.clone();
    db::run(&state.pool, move |conn| {
        dashboards::insert(conn, &row, MAX_DASHBOARDS).map_err(ApiError::from)
    })
    .await?;
    let url = state.links.dashboard(token.as_str());
    Ok(HttpResponse::Created().json(DashboardView::new(stored, Some(url))))
}

/// `GET /v1/dashboards`: the workspace's dashboards that are not revoked, oldest first.
pub async fn list(
    ws: Workspace,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let (rows, next_cursor) = db::run(&state.pool, move |conn| {
        let rows = dashboards::list(conn, &ws.id, &page)?;
        Ok::<_, ApiError>(page.finish(rows, |d| d.id.as_str()))
    })
    .await?;
    let data = rows
        .into_iter()
        .map(|d| DashboardView::new(d, None))
        .collect();
    Ok(HttpResponse::Ok().json(ListView { data, next_cursor }))
}

/// `GET /v1/dashboards/{id}` (without its link, which only its creator saw).
pub async fn show(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner().to_string();
    let d = db::run(&state.pool, move |conn| {
        dashboards::find(conn, &ws.id, &id).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DashboardView::new(d, None)))
}

/// `DELETE /v1/dashboards/{id}`: 204; its link answers 410 from now on.
pub async fn revoke(
    ws: Workspace,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner().to_string();
    db::run(&state.pool, move |conn| {
        dashboards::revoke(conn, &ws.id, &id, db::now()).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The live dashboard of link `token` (404 unknown, 410 revoked or expired) and its spec.
async fn open(state: &AppState, token: &str) -> Result<(Dashboard, Spec), ApiError> {
    let hash = SurveyToken::parse(token)
        .ok_or(ApiError::NotFound("dashboard"))?
        .hash();
    let d = db::run(&state.pool, move |conn| {
        dashboards::by_token(conn, &hash).map_err(ApiError::from)
    })
    .await?;
    if !d.live_at(db::now()) {
        return Err(ApiError::Gone);
    }
    let spec = link::spec_of(&d)?;
    Ok((d, spec))
}

/// The viewer's query; one that does not parse is refused naming it.
fn view_query(req: &HttpRequest) -> Result<ViewQuery, ApiError> {
    web::Query::<ViewQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest(format!("query string is not valid: {e}")))
}

async fn render(state: &AppState, token: &str, req: &HttpRequest) -> Result<Page, ApiError> {
    let (d, spec) = open(state, token).await?;
    let window = Window::parse(&spec, &view_query(req)?, Utc::now())?;
    let ws = WorkspaceId::from(d.workspace_id.clone());
    let source = spec.source.clone();
    let surveys = db::run(&state.pool, move |conn| link::surveys(conn, &ws, &source)).await?;
    let survey_id = match spec.source {
        Source::Survey(id) => Some(id.to_string()),
        Source::Kind(..) => None,
    };
    let scale = surveys
        .first()
        .ok_or(ApiError::NotFound("survey"))?
        .kind_and_scale()?
        .1;
    let stats = serve::stats(&state.pool, surveys.clone(), spec.query(&window), survey_id).await?;
    let (spec_c, window_c, withheld) = (spec.clone(), window.clone(), stats.figures.withheld);
    let comments = db::run(&state.pool, move |conn| {
        link::comments(conn, &spec_c, &surveys, &window_c, withheld)
    })
    .await?;
    let nonce = random_text(16);
    let html = page::render(&PageInput {
        title: &d.name,
        token,
        stats: &stats,
        scale,
        window: &window,
        tz: spec.tz,
        comments,
        csv: spec.allow_csv,
        nonce: &nonce,
    })
    .map_err(ApiError::internal)?;
    Ok(Page {
        html,
        script_nonce: None,
        style_nonce: Some(nonce),
    })
}

/// A dashboard response: the page headers, and never kept by a shared cache.
fn respond(status: StatusCode, page: Page) -> HttpResponse {
    private(html::respond(status, page))
}

/// Marks `response` as for its viewer only: never kept by a shared cache.
fn private(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// An error as a plain page, in a dashboard's words.
fn error_page(err: &ApiError) -> HttpResponse {
    let message = |status, title: &str, text: &str| {
        respond(
            status,
            Page::static_html(crate::pages::message(title, text)),
        )
    };
    match err {
        ApiError::Gone => message(
            StatusCode::GONE,
            "Dashboard link no longer valid",
            "This dashboard link was revoked or has expired. Ask its owner for a new one.",
        ),
        ApiError::NotFound(_) => message(
            StatusCode::NOT_FOUND,
            "Dashboard not found",
            "This link is not valid. Please check that you copied the whole link.",
        ),
        ApiError::Invalid(_) | ApiError::BadRequest(_) => {
            message(err_status(err), "Please check the dates", &err.to_string())
        }
        // An anonymous survey's answers are withheld until it has enough of them.
        ApiError::Conflict(why) => message(StatusCode::CONFLICT, "Download not available", why),
        other => private(html::error(other)),
    }
}

fn err_status(err: &ApiError) -> StatusCode {
    actix_web::ResponseError::status_code(err)
}

/// `GET /d/{token}`: the dashboard page, rate-limited as every public page.
pub async fn page(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    if let Err(err) = state.public_limits.check_page(html::peer(&req)) {
        return error_page(&err);
    }
    match render(&state, &token, &req).await {
        Ok(page) => respond(StatusCode::OK, page),
        Err(err) => error_page(&err),
    }
}

/// `GET /d/{token}/responses.csv?from&to`: the answers of the window shown, when the
/// dashboard allows it — the same export as `/v1/surveys/{id}/responses.csv`.
pub async fn export(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    if let Err(err) = state.public_limits.check_page(html::peer(&req)) {
        return error_page(&err);
    }
    let result = async {
        let (d, spec) = open(&state, &token).await?;
        let Source::Survey(id) = spec.source else {
            return Err(ApiError::NotFound("download"));
        };
        if !spec.allow_csv {
            return Err(ApiError::NotFound("download"));
        }
        let window = Window::parse(&spec, &view_query(&req)?, Utc::now())?;
        let ws = WorkspaceId::from(d.workspace_id);
        let window = (Some(window.from), Some(window.to), spec.filter_pairs());
        super::responses::export_csv(&state, ws, SurveyId::from(id), window).await
    }
    .await;
    match result {
        Ok(response) => {
            let mut response = private(response);
            response.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(err) => error_page(&err),
    }
}
