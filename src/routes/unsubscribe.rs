//! `/u/{token}`: the unsubscribe page. Like rating links, a GET records nothing;
//! the page's button, or a mail client's RFC 8058 one-click POST, does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::db::{self, suppressions};
use crate::error::ApiError;
use crate::pages;
use crate::routes::answer::{html_error, html_response, live_invitation};
use crate::state::AppState;

async fn recipient(state: &AppState, token: &str) -> Result<(String, String, String), ApiError> {
    // An expired survey link still lets its recipient unsubscribe.
    let (invitation, _) = match live_invitation(state, token).await {
        Ok(found) => found,
        Err(ApiError::Gone) => crate::routes::answer::any_invitation(state, token).await?,
        Err(other) => return Err(other),
    };
    match (invitation.recipient_email, invitation.recipient_key) {
        (Some(email), Some(key)) => Ok((invitation.workspace_id, email, key)),
        _ => Err(ApiError::NotFound("recipient")),
    }
}

/// `GET /u/{token}`: asks for confirmation.
pub async fn page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    match recipient(&state, &token).await {
        Ok((_, email, _)) => {
            html_response(StatusCode::OK, pages::unsubscribe(&token, &email, false))
        }
        Err(err) => html_error(&err),
    }
}

/// `POST /u/{token}`: adds the recipient to the workspace's suppression list.
pub async fn confirm(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let result = async {
        let (workspace_id, email, key) = recipient(&state, &token).await?;
        db::run(&state.pool, move |conn| {
            suppressions::add(
                conn,
                &workspace_id,
                &key,
                suppressions::reason::UNSUBSCRIBED,
                None,
                db::now(),
            )
        })
        .await?;
        Ok::<_, ApiError>(email)
    }
    .await;
    match result {
        Ok(email) => html_response(StatusCode::OK, pages::unsubscribe(&token, &email, true)),
        Err(err) => html_error(&err),
    }
}
