//! What every handler shares: the pool, link builder and channel availability.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::db::DbPool;
use crate::domain::secret::ServerKey;
use crate::limits::PublicLimits;
use crate::links::Links;

/// Shared application state, registered once as `web::Data<AppState>`.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Queues answers to public links for group commit.
    pub ingest: crate::ingest::Ingest,
    /// The database pool.
    pub pool: DbPool,
    /// Builds public links.
    pub links: Links,
    /// Whether `SMTP_URL` is set, so the email channel can be used.
    pub email_enabled: bool,
    /// Wakes this instance's email worker when an email is queued.
    pub outbox_wake: Arc<Notify>,
    /// Domain for Message-IDs (the `MAIL_FROM` domain).
    pub message_domain: String,
    /// Derives links that must be rebuilt later (email, idempotent replays).
    pub server_key: ServerKey,
    /// Every rate limit (widget, survey pages and answers, API keys).
    pub public_limits: Arc<PublicLimits>,
    /// This instance's metrics.
    pub metrics: crate::metrics::Metrics,
    /// The bearer token `GET /metrics` wants (`METRICS_TOKEN`); `None`: open.
    pub metrics_token: Option<String>,
    /// Turns to read and parse an audience upload (`UPLOADS_AT_ONCE`), so a few large ones
    /// at once cannot take the memory of many.
    pub uploads: Arc<tokio::sync::Semaphore>,
}
