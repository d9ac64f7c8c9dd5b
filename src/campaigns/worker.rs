//! The campaign worker: runs [`super::tick`] with the wall clock every poll interval. Every
//! instance runs one; the tick's claims keep them from doing anything twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::db::DbPool;
use crate::invite::Issuer;

/// One instance's campaign worker.
pub struct Worker {
    pool: DbPool,
    issuer: Issuer,
    poll_interval: Duration,
    outbox_wake: Arc<Notify>,
}

impl Worker {
    /// A worker that ticks every `poll_interval` and wakes the email worker when it queued mail.
    pub fn new(
        pool: DbPool,
        issuer: Issuer,
        poll_interval: Duration,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            pool,
            issuer,
            poll_interval,
            outbox_wake,
        }
    }

    /// Ticks until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let (pool, issuer) = (self.pool.clone(), self.issuer.clone());
            let ticked = tokio::task::spawn_blocking(move || -> anyhow::Result<super::Ticked> {
                let mut conn = pool.get()?;
                Ok(super::tick(&mut conn, &issuer, chrono::Utc::now())?)
            })
            .await;
            match ticked {
                Ok(Ok(t)) => {
                    if t.issued > 0 || t.reminders > 0 {
                        tracing::info!(
                            cycles = t.cycles,
                            issued = t.issued,
                            reminders = t.reminders,
                            cut = t.cut,
                            "campaigns ticked"
                        );
                        self.outbox_wake.notify_one();
                    }
                }
                Ok(Err(err)) => tracing::error!(error = ?err, "campaign tick failed"),
                Err(err) => tracing::error!(error = ?err, "campaign tick panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
