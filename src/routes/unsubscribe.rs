//! `/u/{token}`: the unsubscribe page. Like rating links, a GET records nothing;
//! the page's button, or a mail client's RFC 8058 one-click POST, does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::html::{self, Page};
use crate::db;
use crate::error::ApiError;
use crate::mail::unsubscribe;
use crate::pages;
use crate::state::AppState;

/// `GET /u/{token}`: asks for confirmation, showing the address masked.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    if let Err(err) = state.public_limits.check_page(html::peer(&req)) {
        return html::error(&err);
    }
    let lookup = token.clone();
    match db::run(&state.pool, move |conn| unsubscribe::find(conn, &lookup)).await {
        Ok(recipient) => render(&token, &recipient.masked, false),
        Err(err) => html::error(&err),
    }
}

/// `POST /u/{token}`: adds the recipient to the workspace's suppression list.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    if let Err(err) = state.public_limits.check_page(html::peer(&req)) {
        return html::error(&err);
    }
    let lookup = token.clone();
    let result: Result<_, ApiError> =
        db::run(&state.pool, move |conn| unsubscribe::confirm(conn, &lookup)).await;
    match result {
        Ok(recipient) => render(&token, &recipient.masked, true),
        Err(err) => html::error(&err),
    }
}

fn render(token: &str, masked: &str, done: bool) -> HttpResponse {
    let html = pages::unsubscribe(token, masked, done);
    html::respond(StatusCode::OK, Page::static_html(html))
}
