//! The webhook worker: claims due deliveries with a lease, delivers them concurrently, and
//! records each attempt. Every instance runs one.

use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDateTime;
use rand::Rng;
use tokio::sync::watch;

use super::deliver;
use crate::config::WebhookSettings;
use crate::db::webhook_deliveries::{self, Outgoing};
use crate::db::{self, DbPool};
use crate::domain::backoff::retry_delay;
use crate::domain::secret::ServerKey;
use crate::domain::webhook::TargetPolicy;

/// Deliveries claimed per round.
const BATCH: i64 = 16;

/// Times an attempt's record is tried (pausing 0.25, 0.5, 1 and 2 s between) before the
/// attempt is given up as unrecorded.
const RECORD_TRIES: u32 = 5;

/// The first pause between tries of a record; it doubles.
const RECORD_PAUSE: Duration = Duration::from_millis(250);

/// The longest one try of a record is expected to take (waiting for a pooled connection, then
/// for SQLite's lock, at their default timeouts of 5 and 10 s, and the write).
const RECORD_TRY_TAKES: Duration = Duration::from_secs(20);

/// One instance's webhook worker.
pub struct Worker {
    pool: DbPool,
    settings: WebhookSettings,
    server_key: ServerKey,
    id: String,
    metrics: crate::metrics::Metrics,
}

impl Worker {
    /// A worker delivering with `settings`, signing with secrets derived from `server_key`.
    pub fn new(
        pool: DbPool,
        settings: WebhookSettings,
        server_key: ServerKey,
        metrics: crate::metrics::Metrics,
    ) -> Self {
        Self {
            pool,
            settings,
            server_key,
            id: uuid::Uuid::new_v4().to_string(),
            metrics,
        }
    }

    /// Delivers due events until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            // The claim's lease runs from before it was taken: every record is tried only
            // while it still holds.
            let held_until = tokio::time::Instant::now() + self.lease();
            let claimed = match self.claim().await {
                Ok(rows) => rows,
                Err(err) if is_busy(&err) => {
                    tracing::warn!("database busy; webhook deliveries wait for the next round");
                    Vec::new()
                }
                Err(err) => {
                    tracing::error!(error = ?err, "could not claim webhook deliveries");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            futures_util::future::join_all(
                claimed.into_iter().map(|out| self.send(out, held_until)),
            )
            .await;
        }
    }

    /// A claim outlasts every attempt of the round (resolving and the request, a timeout
    /// each) and the records after it: waiting for a connection and for a busy database
    /// (see [`RECORD_TRIES`]).
    fn lease(&self) -> Duration {
        self.settings.timeout * 3 + Duration::from_secs(60)
    }

    async fn claim(&self) -> anyhow::Result<Vec<Outgoing>> {
        let (pool, id) = (self.pool.clone(), self.id.clone());
        let lease = chrono::Duration::from_std(self.lease()).context("lease too long")?;
        blocking(move || {
            let mut conn = pool.get()?;
            let now = db::now();
            Ok(webhook_deliveries::claim(
                &mut conn,
                &id,
                now,
                now + lease,
                BATCH,
            )?)
        })
        .await
    }

    async fn send(&self, out: Outgoing, held_until: tokio::time::Instant) {
        let policy = TargetPolicy {
            allow_loopback: self.settings.allow_loopback,
            block_private: self.settings.block_private,
        };
        let secret = self
            .server_key
            .derive_webhook_secret(&out.claimed.webhook_id);
        let attempt = deliver(
            &out,
            &secret,
            policy,
            self.settings.timeout,
            chrono::Utc::now().timestamp(),
        )
        .await;
        let retry_at = self.retry_at(&out, attempt.status);
        let outcome = match (&attempt.error, retry_at) {
            (None, _) => "delivered",
            (Some(_), Some(_)) => "retried",
            (Some(_), None) => "failed",
        };
        self.metrics.webhook(outcome);
        match (&attempt.error, retry_at) {
            (None, _) => {
                tracing::info!(delivery = %out.claimed.id, event = %out.claimed.event_id, "webhook delivered")
            }
            (Some(e), Some(_)) => {
                tracing::warn!(delivery = %out.claimed.id, error = %e, "webhook will be retried")
            }
            (Some(e), None) => {
                tracing::error!(delivery = %out.claimed.id, error = %e, "webhook failed")
            }
        }
        // A delivery made but not recorded would be made again once its lease lapses: a
        // database busy or briefly down is waited out, a few times, before giving up.
        let attempt = std::sync::Arc::new(attempt);
        for tries in 1..=RECORD_TRIES {
            let (pool, claimed, attempt) =
                (self.pool.clone(), out.claimed.clone(), attempt.clone());
            let recorded = blocking(move || {
                let mut conn = pool.get()?;
                Ok(webhook_deliveries::record(
                    &mut conn,
                    &claimed,
                    &attempt,
                    db::now(),
                    retry_at,
                )?)
            })
            .await;
            // Doubling from RECORD_PAUSE: the delivery backoff without jitter or cap.
            let pause = retry_delay(tries, RECORD_PAUSE, Duration::MAX, 1.0);
            // Another try must end while the claim holds: past it another instance may have
            // taken the delivery, and a record then would be refused anyway.
            let room = tokio::time::Instant::now() + pause + RECORD_TRY_TAKES < held_until;
            match recorded {
                Ok(_) => return,
                Err(err) if tries < RECORD_TRIES && room => {
                    tracing::warn!(error = ?err, delivery = %out.claimed.id, tries, "could not record a webhook attempt; will try again");
                    tokio::time::sleep(pause).await;
                }
                Err(err) => {
                    tracing::error!(error = ?err, delivery = %out.claimed.id, "could not record a webhook attempt; it will be delivered again")
                }
            }
        }
    }

    /// When to try again after a failed attempt: `None` once the event is older than the
    /// maximum age (or the attempt succeeded).
    fn retry_at(&self, out: &Outgoing, status: Option<i32>) -> Option<NaiveDateTime> {
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return None;
        }
        let attempts = u32::try_from(out.claimed.attempts).unwrap_or(u32::MAX);
        let delay = retry_delay(
            attempts,
            self.settings.retry_base,
            self.settings.retry_max,
            rand::rng().random::<f64>(),
        );
        let next = db::now() + chrono::Duration::from_std(delay).ok()?;
        let max_age = chrono::Duration::from_std(self.settings.max_age).ok()?;
        (next <= out.claimed.created_at + max_age).then_some(next)
    }
}

/// Whether `err` is the database being busy (a long write elsewhere), not a fault.
fn is_busy(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<db::DbError>(),
        Some(db::DbError::Busy(_))
    )
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("blocking task panicked")?
}
