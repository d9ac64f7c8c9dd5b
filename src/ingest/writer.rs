//! One writer lane: takes every answer queued by the time it is free, records them in one
//! transaction (each in a savepoint), commits, then answers each request.

use std::collections::HashMap;

use tokio::sync::{mpsc, watch};

use super::{Job, Outcome};
use crate::db::rollups::Accumulator;
use crate::db::surveys::Survey;
use crate::db::{self, AnyConnection, DbError, DbPool};
use crate::domain::ids::SurveyId;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::respond::{self, Prepared};

/// Times a batch is tried when the database is busy (an SQLite lock held past its busy
/// timeout, a Postgres deadlock) before its requests answer 503.
const ATTEMPTS: usize = 3;

/// Runs one lane until `stop`, then commits what is still queued and returns.
pub(super) async fn run(
    pool: DbPool,
    mut rx: mpsc::Receiver<Job>,
    batch_max: usize,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            _ = async { drop(stop.wait_for(|s| *s).await) } => {
                // No new jobs; those already queued are still recorded and answered.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { return };
        let mut jobs = vec![first];
        while jobs.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (submissions, replies): (Vec<Prepared>, Vec<_>) =
            jobs.into_iter().map(|j| (*j.prepared, j.reply)).unzip();
        let size = submissions.len();
        let pool = pool.clone();
        let outcomes = tokio::task::spawn_blocking(move || write_batch(&pool, &submissions))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "answer batch task failed");
                (0..size)
                    .map(|_| Err(ApiError::internal(anyhow::anyhow!("answer batch failed"))))
                    .collect()
            });
        metrics.answer_batch(size);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            if let Ok((_, created)) = &outcome {
                metrics.answer(*created);
            }
            // The request may have gone (client hung up); its answer is stored regardless.
            let _ = reply.send(outcome);
        }
    }
}

/// Records `submissions` in one transaction and returns each one's outcome, in order. If the
/// transaction cannot commit, every one of them fails: none was acknowledged.
fn write_batch(pool: &DbPool, submissions: &[Prepared]) -> Vec<Outcome> {
    // No free connection within the pool's timeout: busy now, no point in waiting again.
    let mut last_error = None;
    let conn = pool.get().map_err(DbError::from);
    let mut conn = match conn {
        Ok(conn) => Some(conn),
        Err(err) => {
            last_error = Some(err);
            None
        }
    };
    for _ in 0..ATTEMPTS {
        let Some(conn) = conn.as_mut() else { break };
        match try_batch(conn, submissions) {
            Ok(outcomes) => return outcomes,
            Err(DbError::Busy(cause)) => last_error = Some(DbError::Busy(cause)),
            Err(other) => {
                last_error = Some(other);
                break;
            }
        }
    }
    let busy = matches!(last_error, Some(DbError::Busy(_)));
    let cause = last_error.map_or_else(|| "no attempt".to_owned(), |e| e.to_string());
    tracing::error!(%cause, answers = submissions.len(), "answer batch did not commit");
    submissions
        .iter()
        .map(|_| {
            let cause = anyhow::anyhow!(cause.clone());
            // Busy: the client may retry shortly (503); anything else is opaque (500).
            Err(if busy {
                ApiError::Unavailable(cause)
            } else {
                ApiError::internal(cause)
            })
        })
        .collect()
}

fn try_batch(conn: &mut AnyConnection, answers: &[Prepared]) -> Result<Vec<Outcome>, DbError> {
    db::write_transaction(conn, |conn| {
        let mut cells = Accumulator::new();
        // Each survey read once per batch, under the write lock: its settings (anonymity,
        // segments) as they stand when the answers are written.
        let mut surveys: HashMap<SurveyId, Survey> = HashMap::new();
        let mut outcomes = Vec::with_capacity(answers.len());
        for prepared in answers {
            let mut mine = Accumulator::new();
            let outcome = db::savepoint(conn, |conn| {
                let id = &prepared.survey.id;
                if !surveys.contains_key(id) {
                    let fresh = db::surveys::find(conn, &prepared.survey.workspace_id, id)?;
                    surveys.insert(id.clone(), fresh);
                }
                let survey = &surveys[id];
                respond::record_into(
                    conn,
                    &prepared.invitation,
                    survey,
                    &prepared.answer,
                    &mut mine,
                )
            });
            if outcome.is_ok() {
                cells.merge(mine);
            }
            outcomes.push(outcome);
        }
        cells.write(conn)?;
        Ok(outcomes)
    })
}
