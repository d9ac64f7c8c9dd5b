//! One writer lane: takes every answer queued by the time it is free, records them in one
//! transaction (each in a savepoint), commits, then answers each request.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, watch};

use super::{Job, Outcome};
use crate::db::invitations::Invitation;
use crate::db::responses::Response;
use crate::db::rollups::Accumulator;
use crate::db::surveys::Survey;
use crate::db::{self, AnyConnection, DbError, DbPool};
use crate::domain::ids::{InvitationId, SurveyId};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::respond::{self, Prepared, Submission};

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
        let (answers, replies): (Vec<Submission>, Vec<_>) =
            jobs.into_iter().map(|j| (*j.submission, j.reply)).unzip();
        let size = answers.len();
        let pool = pool.clone();
        let outcomes = tokio::task::spawn_blocking(move || write_batch(&pool, &answers))
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

/// Records `answers` in one transaction and returns each one's outcome, in order. If the
/// transaction cannot commit, every one of them fails: none was acknowledged.
fn write_batch(pool: &DbPool, answers: &[Submission]) -> Vec<Outcome> {
    let err = match commit_batch(pool, answers) {
        Ok(outcomes) => return outcomes,
        Err(err) => err,
    };
    // Busy: the client may retry shortly (503); anything else is opaque (500).
    let busy = matches!(err, DbError::Busy(_));
    let cause = err.to_string();
    tracing::error!(%cause, answers = answers.len(), "answer batch did not commit");
    answers
        .iter()
        .map(|_| {
            let cause = anyhow::anyhow!(cause.clone());
            Err(if busy {
                ApiError::Unavailable(cause)
            } else {
                ApiError::internal(cause)
            })
        })
        .collect()
}

/// Commits `answers` as one batch, trying again while the database is busy. No free
/// connection within the pool's timeout is busy too, but not worth waiting for again.
fn commit_batch(pool: &DbPool, answers: &[Submission]) -> Result<Vec<Outcome>, DbError> {
    let mut conn = pool.get()?;
    let mut attempt = 1;
    loop {
        match try_batch(&mut conn, answers) {
            Err(DbError::Busy(_)) if attempt < ATTEMPTS => attempt += 1,
            done => return done,
        }
    }
}

fn try_batch(conn: &mut AnyConnection, answers: &[Submission]) -> Result<Vec<Outcome>, DbError> {
    db::write_transaction(conn, |conn| {
        db::plan_for_parameters(conn)?;
        // Every link of the batch read once, in the batch's transaction (on SQLite, under its
        // write lock): the link and its survey's settings (anonymity, segments) as they stand
        // when the answers are written; writing re-checks that each link is still live.
        let hashes: Vec<String> = answers.iter().map(|a| a.token.hash()).collect();
        let keys: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let mut links = db::invitations::find_by_token_hashes(conn, &keys)?;
        hold_surveys(conn, &mut links)?;
        let mut resolved: Vec<Result<Prepared, ApiError>> = answers
            .iter()
            .zip(&hashes)
            .map(|(answer, hash)| respond::resolve(links.get(hash).cloned(), answer))
            .collect();
        refuse_early_comments(conn, &mut resolved)?;
        let ready: Vec<&Prepared> = resolved.iter().filter_map(|r| r.as_ref().ok()).collect();
        let mut cells = Accumulator::new();
        // The whole batch at once, in a savepoint; if any answer is refused, that is undone
        // and each answer is recorded alone in its own savepoint, so only the refused ones fail.
        let together = db::savepoint(conn, |conn| {
            let mut mine = Accumulator::new();
            let recorded = record_together(conn, &ready, &mut mine)?;
            Ok::<_, ApiError>((recorded, mine))
        });
        let mut recorded: Vec<Outcome> = match together {
            Ok((recorded, mine)) => {
                cells.merge(mine);
                recorded.into_iter().map(Ok).collect()
            }
            Err(refused) => {
                tracing::debug!(%refused, answers = ready.len(), "batch recorded answer by answer");
                record_apart(conn, &ready, &mut cells)
            }
        };
        cells.write(conn)?;
        // Back in the order of the batch: the refused ones where they were.
        recorded.reverse();
        Ok(resolved
            .into_iter()
            .map(|r| match r {
                Ok(_) => recorded.pop().unwrap_or_else(|| Err(left_out())),
                Err(refused) => Err(refused),
            })
            .collect())
    })
}

/// Holds the surveys of the batch's links until the commit, all at once, before anything is
/// written (so no savepoint's rollback lets them go), and puts them in the links as they now
/// stand: their settings may have changed since the links were read (see
/// [`db::surveys::hold_current`]).
fn hold_surveys(
    conn: &mut AnyConnection,
    links: &mut HashMap<String, (Invitation, Survey)>,
) -> Result<(), DbError> {
    let mut ids: Vec<SurveyId> = links.values().map(|(_, s)| s.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let ids: Vec<&SurveyId> = ids.iter().collect();
    if let Some(current) = db::surveys::hold_current(conn, &ids)? {
        for (_, survey) in links.values_mut() {
            if let Some(now) = current.get(&survey.id) {
                *survey = now.clone();
            }
        }
    }
    Ok(())
}

/// Refuses, before anything is written, each answer without a score to a link that has no
/// answer stored and none with a score earlier in this batch (409), so that a stream of such
/// answers does not send every batch down the answer-by-answer path. Writing checks the same
/// again.
fn refuse_early_comments(
    conn: &mut AnyConnection,
    resolved: &mut [Result<Prepared, ApiError>],
) -> Result<(), DbError> {
    let waiting: Vec<InvitationId> = resolved
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|p| p.answer.score.is_none())
        .map(|p| p.invitation.id.clone())
        .collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let ids: Vec<&InvitationId> = waiting.iter().collect();
    let answered = db::responses::for_invitations(conn, &ids)?;
    let mut scored: HashSet<InvitationId> = HashSet::new();
    for outcome in resolved.iter_mut() {
        let Ok(prepared) = outcome else { continue };
        let id = &prepared.invitation.id;
        if prepared.answer.score.is_some() {
            scored.insert(id.clone());
        } else if !answered.contains_key(id) && !scored.contains(id) {
            *outcome = Err(respond::no_answer_yet());
        }
    }
    Ok(())
}

/// The answer of `prepared` as the rest of the batch writes it.
fn answering(prepared: &Prepared) -> respond::Answering<'_> {
    (&prepared.invitation, &prepared.survey, &prepared.answer)
}

/// Records every answer of the batch with a few statements per round: a round takes each
/// link at most once (its first answer not yet recorded), so one link's answers stay in order.
fn record_together(
    conn: &mut AnyConnection,
    answers: &[&Prepared],
    cells: &mut Accumulator,
) -> Result<Vec<(Response, bool)>, ApiError> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, prepared) in answers.iter().enumerate() {
        let round = seen.entry(prepared.invitation.id.as_str()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(i);
        *round += 1;
    }
    let mut recorded: Vec<Option<(Response, bool)>> = answers.iter().map(|_| None).collect();
    for round in rounds {
        let batch: Vec<respond::Answering<'_>> =
            round.iter().map(|&i| answering(answers[i])).collect();
        for (i, outcome) in round.iter().zip(respond::record_all(conn, &batch, cells)?) {
            recorded[*i] = Some(outcome);
        }
    }
    recorded
        .into_iter()
        .map(|r| r.ok_or_else(left_out))
        .collect()
}

/// An answer the batch lost track of (a bug, not a refusal).
fn left_out() -> ApiError {
    ApiError::internal(anyhow::anyhow!("answer left out of its batch"))
}

/// Records each answer in its own savepoint: one refused answer (an expired link, a bad
/// score) is undone alone. Only the rollup changes of those recorded join `cells`.
fn record_apart(
    conn: &mut AnyConnection,
    answers: &[&Prepared],
    cells: &mut Accumulator,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(answers.len());
    for prepared in answers {
        let mut mine = Accumulator::new();
        let outcome = db::savepoint(conn, |conn| {
            respond::record_one(conn, answering(prepared), &mut mine)
        });
        if outcome.is_ok() {
            cells.merge(mine);
        }
        outcomes.push(outcome);
    }
    outcomes
}
