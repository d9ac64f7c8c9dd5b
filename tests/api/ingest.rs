//! Group commit: answers that arrive while a batch is being written are committed together,
//! each is answered only after its batch commits, and a refused answer in a batch is undone
//! alone (its savepoint) while the others are kept.

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

/// Holds the database's write path (SQLite's write lock; Postgres's `responses` table) so
/// answers queue up behind the first batch until it is released.
enum Blocker {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl Blocker {
    fn hold(url: &str) -> Self {
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = diesel::SqliteConnection::establish(path).unwrap();
                c.batch_execute("BEGIN IMMEDIATE").unwrap();
                Self::Sqlite(c)
            }
            None => {
                let mut c = diesel::PgConnection::establish(url).unwrap();
                c.batch_execute("BEGIN; LOCK TABLE responses IN SHARE ROW EXCLUSIVE MODE")
                    .unwrap();
                Self::Postgres(c)
            }
        }
    }

    fn release(self) {
        match self {
            Self::Sqlite(mut c) => c.batch_execute("ROLLBACK").unwrap(),
            Self::Postgres(mut c) => c.batch_execute("ROLLBACK").unwrap(),
        }
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test]
async fn answers_queued_behind_a_batch_commit_together_and_a_refused_one_is_undone_alone() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let mut good = Vec::new();
    for _ in 0..30 {
        good.push(app.link(&survey).await);
    }
    let comment_only = app.link(&survey).await;
    let bad_score = app.link(&survey).await;

    let blocker = Blocker::hold(app.db.url());
    let mut sent = Vec::new();
    for (i, url) in good.iter().enumerate() {
        let body = json!({"score": 1 + (i % 5), "comment": format!("answer {i}")});
        sent.push(app.answer(url, body));
    }
    // Refused after it has written (the link marked answered and opened): its savepoint
    // must undo that without touching the rest of the batch.
    sent.push(app.answer(&comment_only, json!({"comment": "no score yet"})));
    sent.push(app.answer(&bad_score, json!({"score": 9})));
    let all = futures_util::future::join_all(sent);
    tokio::pin!(all);
    // Let every request reach its queue behind the blocked first batch.
    tokio::select! {
        _ = &mut all => panic!("answers were acknowledged before they could commit"),
        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
    }
    blocker.release();
    let statuses: Vec<u16> = all.await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(&statuses[..30], &[201; 30][..]);
    assert_eq!(&statuses[30..], &[409, 422]);

    assert_eq!(app.count("responses"), 30);
    let stats: Value = app
        .get(&format!("/v1/surveys/{survey}/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["responses"], 30);
    assert_eq!(
        stats["funnel"]["opened"], 30,
        "the refused answer's open is undone"
    );
    assert_eq!(stats["funnel"]["commented"], 30);
    // 1..5 six times each: 4 and 5 are satisfied, 12 of 30.
    assert_eq!(stats["score"], 40.0);
    // The refused link can still be answered.
    assert_eq!(
        app.answer(&comment_only, json!({"score": 5}))
            .await
            .status(),
        201
    );

    let (_, text) = crate::metrics::scrape(&app, None).await;
    let batches = metric(&text, "scorekeeper_answer_batch_size_count");
    let answers = metric(&text, "scorekeeper_answer_batch_size_sum");
    // The bad score is refused before it is queued; the rest reached the writer.
    assert_eq!(answers, 32.0);
    assert!(
        batches <= 8.0,
        "32 answers, most queued behind a blocked batch, took {batches} commits"
    );
}
