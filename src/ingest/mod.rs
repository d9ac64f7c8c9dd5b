//! Group commit for survey answers: answers to public links are queued to a few writer
//! lanes, and each lane records what has queued up in one transaction, so many answers
//! share one commit (one fsync) instead of paying for one each. A request is answered only
//! after its batch has committed, so an acknowledged answer is never lost.
//!
//! A request only reads its body; the lane looks up the links of a whole batch with one
//! query in its transaction, refuses what cannot be answered (an unknown or expired link, a
//! score off the scale, a comment before any score) without writing, and records the rest
//! with a few statements for the whole batch. Answers to one link always take the same lane,
//! in arrival order. If an answer fails once writing has begun, the batch's writes are undone
//! and each answer is recorded alone in its own savepoint. The rollup changes of the whole
//! batch are summed and written once, in key order, just before the commit.

mod writer;

use std::hash::{Hash, Hasher};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::db::responses::Response;
use crate::db::DbPool;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::respond::Submission;

/// How answers are batched.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// Writer lanes: each commits its own batches, one at a time.
    pub writers: usize,
    /// The most answers one transaction takes.
    pub batch_max: usize,
}

/// What a submitted answer comes back as: the stored response and whether it is new.
pub type Outcome = Result<(Response, bool), ApiError>;

/// One queued answer and where its outcome goes.
struct Job {
    submission: Box<Submission>,
    reply: oneshot::Sender<Outcome>,
}

/// How long a request waits for room in a full queue before it answers 503.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// The handle requests use to submit answers (cheap to clone).
#[derive(Debug, Clone)]
pub struct Ingest {
    lanes: Vec<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

impl Ingest {
    /// Starts the writer lanes on `pool`. They run until `stop` turns true, after
    /// committing whatever was queued by then; the returned handles finish then.
    pub fn start(
        pool: DbPool,
        settings: &IngestSettings,
        metrics: Metrics,
        stop: watch::Receiver<bool>,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let batch_max = settings.batch_max.max(1);
        let mut lanes = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..settings.writers.max(1) {
            // Room for a few batches: beyond that, callers wait (and at worst answer 503).
            let (tx, rx) = mpsc::channel(batch_max * 4);
            lanes.push(tx);
            handles.push(tokio::spawn(writer::run(
                pool.clone(),
                rx,
                batch_max,
                metrics.clone(),
                stop.clone(),
            )));
        }
        (Self { lanes }, handles)
    }

    /// Records `submission` with whatever else is queued and answers once it has committed.
    pub async fn submit(&self, submission: Submission) -> Outcome {
        let lane = &self.lanes[lane_of(submission.token.as_str(), self.lanes.len())];
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            submission: Box::new(submission),
            reply,
        };
        match tokio::time::timeout(ENQUEUE_TIMEOUT, lane.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(unavailable("the service is shutting down")),
            Err(_) => return Err(unavailable("the answer queue stayed full")),
        }
        outcome
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("answer writer stopped")))?
    }
}

/// The lane of a link (by its token): one link's answers stay in order on one lane.
fn lane_of(token: &str, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut hasher);
    (hasher.finish() % lanes.max(1) as u64) as usize
}

fn unavailable(why: &'static str) -> ApiError {
    ApiError::Unavailable(anyhow::anyhow!(why))
}

#[cfg(test)]
mod tests {
    use super::lane_of;

    #[test]
    fn one_link_always_takes_one_lane_and_lanes_are_in_range() {
        for lanes in 1..6 {
            for token in ["a", "bb", "ccc", "some-long-token-value"] {
                let lane = lane_of(token, lanes);
                assert!(lane < lanes);
                assert_eq!(lane, lane_of(token, lanes));
            }
        }
    }
}
