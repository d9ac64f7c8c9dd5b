//! The outbox worker: claims due emails, sends them, and records the outcome.
//! Every instance runs one; claims with a lease (and `SKIP LOCKED` on Postgres)
//! keep two instances from sending the same email.

use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDateTime;
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use tokio::sync::{watch, Notify};

use super::context::{self, EmailContext};
use super::{compose, Mailer};
use crate::config::OutboxSettings;
use crate::db::outbox::{self, Claimed};
use crate::db::{self, invitations, rollups, DbPool};
use crate::domain::backoff::retry_delay;
use crate::domain::ids::InvitationId;
use crate::domain::secret::ServerKey;
use crate::links::Links;

/// Claimed emails, each with what sending it needs (none if its invitation is gone), and the
/// deadline their sends must finish by.
type Claim = anyhow::Result<(Vec<(Claimed, Option<EmailContext>)>, tokio::time::Instant)>;

/// Emails tried and their outcomes (with when to try again), waiting to be recorded.
type Done = Vec<(Claimed, Outcome, NaiveDateTime)>;

/// Longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 500;

/// The longest a worker waits before trying again to record outcomes that did not commit.
const RECORD_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Times a stopping worker tries to record outcomes before it exits without them.
const RECORD_TRIES_AT_STOP: u32 = 3;

/// One instance's email worker.
pub struct Worker {
    pool: DbPool,
    mailer: Mailer,
    links: Links,
    settings: OutboxSettings,
    id: String,
    wake: Arc<Notify>,
    server_key: ServerKey,
    metrics: crate::metrics::Metrics,
}

/// What to do with a claimed email after trying it.
#[derive(Debug)]
enum Outcome {
    Sent,
    Retry(String),
    Fail(String),
    Cancel(String),
}

impl Worker {
    /// A worker that is woken early through `wake` when new email is queued.
    pub fn new(
        pool: DbPool,
        mailer: Mailer,
        links: Links,
        settings: OutboxSettings,
        wake: Arc<Notify>,
        server_key: ServerKey,
        metrics: crate::metrics::Metrics,
    ) -> Self {
        Self {
            pool,
            mailer,
            links,
            settings,
            id: uuid::Uuid::new_v4().to_string(),
            wake,
            server_key,
            metrics,
        }
    }

    /// Sends due email until `stop` turns true, then finishes the sends under way, records
    /// their outcomes and returns.
    ///
    /// Claiming, sending and recording overlap while the queue is long: up to `OUTBOX_BATCH`
    /// emails are in flight (each waits for one of the SMTP pool's connections), more are
    /// claimed as soon as half of them are done, and outcomes are recorded in one transaction
    /// per half batch while the next emails go out, so the SMTP connections never wait for the
    /// database. Once a claim comes back short (the queue is drained), the next waits until
    /// the emails in flight are done, and their outcomes are recorded together: a trickle of
    /// new emails costs a claim and a record per round, not per email.
    ///
    /// Outcomes that cannot be recorded (the database busy or down) are kept and recorded
    /// again, with a growing pause, and no new email is claimed meanwhile: an email that went
    /// out must not lose its `sent` and be sent again once its lease lapses.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "email worker started");
        let batch = self.settings.batch.max(1) as usize;
        let mut in_flight = FuturesUnordered::new();
        let mut done: Done = Vec::new();
        let mut claiming: Option<tokio::task::JoinHandle<Claim>> = None;
        let mut recording: Option<tokio::task::JoinHandle<Done>> = None;
        // Records in a row that did not commit, and when to try the next.
        let mut unrecorded = 0u32;
        let mut record_at = tokio::time::Instant::now();
        // Nothing was due at the last look: wait for the poll interval or a wake-up.
        let mut idle = false;
        // How many emails the last claim asked for, and whether it found fewer.
        let mut asked = 0;
        let mut drained = false;
        let mut stopping = *stop.borrow();
        loop {
            let room = batch.saturating_sub(in_flight.len());
            if !stopping
                && !idle
                && unrecorded == 0
                && claiming.is_none()
                && room >= batch - batch / 2
                && (!drained || in_flight.is_empty())
            {
                claiming = Some(tokio::spawn(self.claim(room)));
                asked = room;
                drained = false;
            }
            let retry_due = tokio::time::Instant::now() >= record_at;
            if recording.is_none()
                && !done.is_empty()
                && retry_due
                && (done.len() >= batch / 2 || in_flight.is_empty() || stopping || unrecorded > 0)
            {
                recording = Some(tokio::spawn(self.record(std::mem::take(&mut done))));
            }
            if stopping
                && in_flight.is_empty()
                && claiming.is_none()
                && recording.is_none()
                && (done.is_empty() || unrecorded >= RECORD_TRIES_AT_STOP)
            {
                if !done.is_empty() {
                    tracing::error!(emails = done.len(), "stopping with email outcomes not recorded: these emails will be sent again once their leases lapse");
                }
                break;
            }
            tokio::select! {
                Some(outcome) = in_flight.next(), if !in_flight.is_empty() => done.push(outcome),
                claimed = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                    claiming = None;
                    let (rows, deadline) = match claimed {
                        Ok(Ok(claimed)) => claimed,
                        Ok(Err(err)) => {
                            tracing::error!(error = ?err, "could not claim outbox rows");
                            idle = true;
                            continue;
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "outbox claim task failed");
                            idle = true;
                            continue;
                        }
                    };
                    idle = rows.is_empty();
                    drained = rows.len() < asked;
                    for (row, context) in rows {
                        in_flight.push(self.deliver(row, context, deadline));
                    }
                }
                finished = async { recording.as_mut().expect("guarded").await }, if recording.is_some() => {
                    recording = None;
                    match finished {
                        Ok(back) if back.is_empty() => unrecorded = 0,
                        Ok(back) => {
                            unrecorded += 1;
                            record_at = tokio::time::Instant::now() + record_pause(unrecorded);
                            done.extend(back);
                        }
                        Err(err) => {
                            // Its outcomes are gone with it (their leases lapse and they are
                            // tried again): nothing is left to record, so claiming goes on.
                            unrecorded = 0;
                            tracing::error!(error = %err, "outbox record task failed")
                        }
                    }
                }
                _ = tokio::time::sleep_until(record_at), if recording.is_none() && !done.is_empty() && !retry_due => {}
                _ = tokio::time::sleep(self.settings.poll_interval), if idle && !stopping => idle = false,
                _ = self.wake.notified(), if idle && !stopping => idle = false,
                _ = stop.changed(), if !stopping => stopping = true,
            }
        }
        tracing::info!(worker = %self.id, "email worker stopped");
    }

    /// Claims up to `limit` due emails, with the deadline their sends must finish by: half
    /// the lease, counted from before the claim, so that every send of them ends well inside
    /// the lease (look-ups, waiting for a connection, connect, TLS, DATA) and no other worker
    /// can take one over and send it too.
    ///
    /// What the sends need (invitations, surveys, properties, suppressions) is read for the
    /// whole claim right after it, with a few queries rather than a few per email. A send
    /// therefore acts on what stood at its claim, a moment before it goes out; a recipient
    /// who unsubscribes in that moment is still sent this one email, as one who unsubscribes
    /// while it is on the wire would be.
    fn claim(&self, limit: usize) -> impl std::future::Future<Output = Claim> + Send + 'static {
        let (pool, id, lease) = (self.pool.clone(), self.id.clone(), self.settings.lease);
        async move {
            let deadline = tokio::time::Instant::now() + lease / 2;
            let lease = chrono::Duration::from_std(lease).context("lease too long")?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = blocking(move || {
                let mut conn = pool.get()?;
                let now = db::now();
                let rows = outbox::claim(&mut conn, &id, now, now + lease, limit)?;
                let ids: Vec<&InvitationId> = rows.iter().map(|r| &r.invitation_id).collect();
                let contexts = context::load(&mut conn, &ids)?;
                Ok(rows
                    .into_iter()
                    .map(|row| {
                        let context = contexts.get(&row.invitation_id).cloned();
                        (row, context)
                    })
                    .collect())
            })
            .await?;
            Ok((rows, deadline))
        }
    }

    /// Sends one claimed email; its outcome and when to try again, to be recorded with the
    /// rest of the round.
    async fn deliver(
        &self,
        row: Claimed,
        context: Option<EmailContext>,
        deadline: tokio::time::Instant,
    ) -> (Claimed, Outcome, NaiveDateTime) {
        let attempt = self.attempt(&row, context);
        let outcome = match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(err)) => Outcome::Retry(format!("{err:#}")),
            // Dropping the attempt closes its SMTP connection before the end of DATA, so the
            // server discards the message; the next attempt sends it whole.
            Err(_) => Outcome::Retry(format!(
                "the send did not finish within {} s (half the outbox lease)",
                (self.settings.lease / 2).as_secs_f64()
            )),
        };
        let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let outcome = match outcome {
            Outcome::Retry(error) if attempts >= self.settings.max_attempts => Outcome::Fail(error),
            other => other,
        };
        self.metrics.email(match &outcome {
            Outcome::Sent => "sent",
            Outcome::Retry(_) => "retried",
            Outcome::Fail(_) => "failed",
            Outcome::Cancel(_) => "cancelled",
        });
        match &outcome {
            Outcome::Sent => tracing::info!(invitation = %row.invitation_id, "email sent"),
            Outcome::Retry(e) => {
                tracing::warn!(invitation = %row.invitation_id, attempts, error = %e, "email will be retried")
            }
            Outcome::Fail(e) => {
                tracing::error!(invitation = %row.invitation_id, attempts, error = %e, "email failed")
            }
            Outcome::Cancel(r) => {
                tracing::info!(invitation = %row.invitation_id, reason = %r, "email cancelled")
            }
        }
        let next_at = self.next_attempt_at(attempts);
        (row, outcome, next_at)
    }

    /// Records the outcomes that came in, in one transaction (one commit for them all, each
    /// outcome in its own savepoint, the rollup changes of the sends summed per cell and
    /// written together), and gives back those not recorded: all of them if it cannot
    /// commit, for the caller to try again.
    fn record(&self, outcomes: Done) -> impl std::future::Future<Output = Done> + Send + 'static {
        let pool = self.pool.clone();
        async move {
            let recorded = tokio::task::spawn_blocking(move || {
                let result = record_outcomes(&pool, &outcomes);
                (result, outcomes)
            })
            .await;
            match recorded {
                Ok((Ok(again), outcomes)) => outcomes
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| again.contains(i))
                    .map(|(_, outcome)| outcome)
                    .collect(),
                Ok((Err(err), outcomes)) => {
                    tracing::error!(error = ?err, emails = outcomes.len(), "could not record a round of email outcomes; will try again");
                    outcomes
                }
                Err(err) => {
                    tracing::error!(error = %err, "email record task panicked");
                    Vec::new()
                }
            }
        }
    }

    async fn attempt(
        &self,
        row: &Claimed,
        context: Option<EmailContext>,
    ) -> anyhow::Result<Outcome> {
        let Some(EmailContext {
            invitation,
            survey,
            properties,
            suppressed,
        }) = context
        else {
            anyhow::bail!("invitation {} was not found", row.invitation_id);
        };
        if let Some(reason) = suppressed {
            return Ok(Outcome::Cancel(reason));
        }
        if invitation.expires_at.is_some_and(|at| at <= db::now()) {
            return Ok(Outcome::Cancel("expired".to_owned()));
        }
        if row.reminder > 0 && invitation.status == invitations::status::RESPONDED {
            // Answered since the reminder was queued: nothing to remind of.
            return Ok(Outcome::Cancel("answered".to_owned()));
        }
        let Some(to) = invitation.recipient_email.as_deref() else {
            if row.reminder > 0 {
                // Cut from its person since it was queued (an anonymous cycle closed).
                return Ok(Outcome::Cancel("no longer addressed".to_owned()));
            }
            return Ok(Outcome::Fail(
                "the invitation has no recipient address".to_owned(),
            ));
        };
        let token = self.server_key.derive_token(invitation.id.as_str());
        if token.hash() != invitation.token_hash {
            return Ok(Outcome::Fail(
                "SECRET_KEY changed since this email was queued, so its links cannot be rebuilt"
                    .to_owned(),
            ));
        }
        let unsubscribe = self
            .server_key
            .derive_unsubscribe_token(invitation.id.as_str());
        let message = compose::render(
            &survey,
            &invitation,
            &properties,
            token.as_str(),
            unsubscribe.as_str(),
            &self.links,
        )
        .map(|mut rendered| {
            if row.reminder > 0 {
                rendered.subject = format!("Reminder: {}", rendered.subject);
            }
            rendered
        })
        .and_then(|rendered| {
            compose::message(
                rendered,
                self.mailer.from(),
                survey.email_sender_name.as_deref(),
                to,
                invitation.recipient_name.as_deref(),
                &row.message_id,
            )
        });
        let message = match message {
            Ok(m) => m,
            Err(err) => return Ok(Outcome::Fail(format!("could not build the email: {err:#}"))),
        };
        Ok(match self.mailer.send(message).await {
            Ok(()) => Outcome::Sent,
            Err(err) if err.is_permanent() => {
                Outcome::Fail(format!("SMTP server refused the email: {err}"))
            }
            Err(err) => Outcome::Retry(format!("SMTP delivery failed: {err}")),
        })
    }

    fn next_attempt_at(&self, attempts: u32) -> NaiveDateTime {
        let jitter = rand::rng().random::<f64>();
        let delay = retry_delay(
            attempts,
            self.settings.retry_base,
            self.settings.retry_max,
            jitter,
        );
        db::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// Writes `outcomes` in one transaction (see [`Worker::record`]); the indexes of those whose
/// own write failed for a passing reason (a PostgreSQL deadlock or serialization failure),
/// to be written again.
fn record_outcomes(pool: &DbPool, outcomes: &Done) -> anyhow::Result<Vec<usize>> {
    let mut conn = pool.get()?;
    let now = db::now();
    let mut again = Vec::new();
    db::write_transaction(&mut conn, |conn| {
        // The sends' rollup changes, summed per cell and written once at the end.
        let mut cells = rollups::Accumulator::new();
        for (i, (row, outcome, next_at)) in outcomes.iter().enumerate() {
            let one = db::savepoint(conn, |conn| match outcome {
                Outcome::Sent => outbox::mark_sent(conn, row, now),
                Outcome::Retry(e) => {
                    outbox::retry_later(conn, row, &truncate(e), *next_at).map(|()| None)
                }
                Outcome::Fail(e) => outbox::give_up(conn, row, &truncate(e), now).map(|()| None),
                Outcome::Cancel(reason) => outbox::cancel(conn, row, reason, now).map(|()| None),
            });
            match one {
                Ok(Some((cell, delta))) => cells.add_cell(&cell, delta),
                Ok(None) => {}
                Err(db::DbError::Busy(cause)) => {
                    tracing::warn!(invitation = %row.invitation_id, %cause, "email outcome not recorded; will try again");
                    again.push(i);
                }
                Err(err) => {
                    tracing::error!(invitation = %row.invitation_id, error = ?err, "could not record an email outcome")
                }
            }
        }
        cells.write(conn)
    })?;
    Ok(again)
}

/// The pause before recording again after `failures` records in a row did not commit:
/// 250 ms, doubling, at most [`RECORD_RETRY_MAX`] (the delivery backoff without jitter).
fn record_pause(failures: u32) -> std::time::Duration {
    retry_delay(
        failures,
        std::time::Duration::from_millis(250),
        RECORD_RETRY_MAX,
        1.0,
    )
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("blocking task panicked")?
}
