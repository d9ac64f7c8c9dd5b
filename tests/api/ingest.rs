//! Group commit: answers that arrive while a batch is being written are committed together,
//! each is answered only after its batch commits, a refused answer is refused alone, and an
//! answer whose write fails is undone alone (its savepoint) while the others are kept.

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

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

/// Makes the database refuse to store a response to invitation `id`, as a failing write would.
fn refuse_responses_to(url: &str, id: &str) {
    match url.strip_prefix("sqlite://") {
        Some(path) => diesel::SqliteConnection::establish(path)
            .unwrap()
            .batch_execute(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON responses WHEN NEW.invitation_id = '{id}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
            ))
            .unwrap(),
        None => diesel::PgConnection::establish(url)
            .unwrap()
            .batch_execute(&format!(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.invitation_id = '{id}' THEN RAISE EXCEPTION 'refused by the test'; \
                 END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON responses \
                 FOR EACH ROW EXECUTE FUNCTION refuse();"
            ))
            .unwrap(),
    }
}

/// Sends `answers` one after another while the database's write path is held, so they reach
/// their writer lane in this order: the first is taken (and blocked) alone, and the rest queue
/// behind it. Releases the hold and returns their statuses, in order.
async fn send_in_turn_behind_a_blocked_batch<const N: usize>(
    app: &crate::helpers::TestApp,
    answers: [(&String, Value); N],
) -> Vec<u16> {
    let blocker = Blocker::hold(app.db.url());
    let mut sent = Vec::new();
    for (url, body) in answers {
        sent.push(tokio::spawn(app.answer_owned(url.clone(), body)));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    blocker.release();
    let mut statuses = Vec::new();
    for s in sent {
        statuses.push(s.await.unwrap());
    }
    statuses
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test]
async fn answers_queued_behind_a_batch_commit_together_and_a_refused_one_fails_alone() {
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
    // Refused before anything is written (no answer to comment on yet), so the rest of the
    // batch is still written together.
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
    // Every answer reached the writer, which refused the bad score before writing: 32
    // sent together, then the late answer.
    assert_eq!(answers, 33.0);
    assert!(
        batches <= 8.0,
        "32 answers, most queued behind a blocked batch, took {batches} commits"
    );
}

#[tokio::test]
async fn one_links_answers_in_one_batch_are_recorded_in_arrival_order() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;

    // The first is taken (and blocked) alone; the next two then share one batch.
    let statuses = send_in_turn_behind_a_blocked_batch(
        &app,
        [
            (&url, json!({"score": 4})),
            (&url, json!({"comment": "first"})),
            (&url, json!({"comment": "second"})),
        ],
    )
    .await;
    assert_eq!(statuses, [201, 200, 200]);

    let (_, text) = crate::metrics::scrape(&app, None).await;
    assert_eq!(metric(&text, "scorekeeper_answer_batch_size_sum"), 3.0);
    assert_eq!(
        metric(&text, "scorekeeper_answer_batch_size_count"),
        2.0,
        "the link's last two answers were committed together"
    );
    let listed: Value = app
        .get(&format!("/v1/surveys/{survey}/responses"))
        .await
        .json()
        .await
        .unwrap();
    let mine = listed["data"][0].clone();
    assert_eq!(mine["score"], 4);
    assert_eq!(mine["comment"], "second");
    let detail: Value = app
        .get(&format!("/v1/responses/{}", mine["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<(&str, &Value)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["change"].as_str().unwrap(), &e["comment"]))
        .collect();
    assert_eq!(
        history,
        [
            ("created", &Value::Null),
            ("comment", &json!("first")),
            ("comment", &json!("second")),
        ]
    );
    let stats = app.stats(&survey).await;
    assert_eq!(stats["responses"], 1);
    assert_eq!(stats["funnel"]["commented"], 1);
    assert_eq!(stats["score"], 100.0);
}

#[tokio::test]
async fn an_answer_whose_write_fails_is_undone_alone_and_the_batch_is_kept() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let mut good = Vec::new();
    for _ in 0..12 {
        good.push(app.link(&survey).await);
    }
    let failing = app.invite(&survey, json!({"channel": "link"})).await;
    refuse_responses_to(app.db.url(), failing["id"].as_str().unwrap());

    let blocker = Blocker::hold(app.db.url());
    let mut sent = Vec::new();
    for url in &good {
        sent.push(app.answer_owned(url.clone(), json!({"score": 5})));
    }
    let failing_url = failing["url"].as_str().unwrap().to_owned();
    sent.push(app.answer_owned(failing_url, json!({"score": 5})));
    let sent: Vec<_> = sent.into_iter().map(tokio::spawn).collect();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    blocker.release();
    let mut statuses = Vec::new();
    for s in sent {
        statuses.push(s.await.unwrap());
    }
    assert_eq!(&statuses[..12], &[201; 12][..]);
    assert_eq!(statuses[12], 500, "the failed write is opaque");

    let stats = app.stats(&survey).await;
    assert_eq!(stats["responses"], 12);
    assert_eq!(
        stats["funnel"]["opened"], 12,
        "the failed answer's open is undone with it"
    );
    let (_, text) = crate::metrics::scrape(&app, None).await;
    assert!(
        metric(&text, "scorekeeper_answer_batch_size_count") <= 6.0,
        "13 answers queued behind a blocked batch were written in a few commits"
    );
}

#[tokio::test]
async fn a_link_never_opened_and_answered_twice_in_one_batch_counts_one_opening() {
    // One lane, so the answer that holds the lane and the two that queue behind it share it.
    let app = spawn_app_with(&[("ANSWER_WRITERS", "1")]).await;
    let survey = app.survey_of("csat").await;
    let other = app.link(&survey).await;
    let url = app.link(&survey).await;

    let statuses = send_in_turn_behind_a_blocked_batch(
        &app,
        [
            (&other, json!({"score": 3})),
            (&url, json!({"score": 5})),
            (&url, json!({"comment": "quick"})),
        ],
    )
    .await;
    assert_eq!(statuses, [201, 201, 200]);
    let (_, text) = crate::metrics::scrape(&app, None).await;
    assert_eq!(
        metric(&text, "scorekeeper_answer_batch_size_count"),
        2.0,
        "the link's score and comment were committed together"
    );

    // Its score opened it; its comment, in the same transaction, found it opened.
    let funnel = |stats: &Value| {
        ["opened", "answered", "commented"].map(|k| stats["funnel"][k].as_u64().unwrap())
    };
    let stats = app.stats(&survey).await;
    assert_eq!(funnel(&stats), [2, 2, 1]);
    scorekeeper::db::rollups::rebuild(&mut app.conn(), &survey.clone().into()).unwrap();
    assert_eq!(funnel(&app.stats(&survey).await), [2, 2, 1]);
}
