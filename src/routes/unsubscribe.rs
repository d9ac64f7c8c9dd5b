//! `/u/{token}`: the unsubscribe page. Like rating links, a GET records nothing;
//! the page's button, or a mail client's RFC 8058 one-click POST, does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::html::{self, Page};
use crate::db::{self, AnyConnection};
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
    answer(&state, &req, token.into_inner(), unsubscribe::find, false).await
}

/// `POST /u/{token}`: adds the recipient to the workspace's suppression list.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    answer(&state, &req, token.into_inner(), unsubscribe::confirm, true).await
}

/// Counts the view against the client's page limit, runs `step` for `token` and renders the
/// page (`done` once the address is on the suppression list).
async fn answer(
    state: &AppState,
    req: &HttpRequest,
    token: String,
    step: fn(&mut AnyConnection, &str) -> Result<unsubscribe::Recipient, ApiError>,
    done: bool,
) -> HttpResponse {
    if let Err(err) = state.public_limits.check_page(html::peer(req)) {
        return html::error(&err);
    }
    let lookup = token.clone();
    match db::run(&state.pool, move |conn| step(conn, &lookup)).await {
        Ok(recipient) => {
            let html = pages::unsubscribe(&token, &recipient.masked, done);
            html::respond(StatusCode::OK, Page::static_html(html))
        }
        Err(err) => html::error(&err),
    }
}
