//! Secrets: idempotency keys, the server key and its file, and that no live token is stored.

use std::time::Duration;

use diesel::prelude::*;
use scorekeeper::db::schema::{invitations, outbox};
use serde_json::{json, Value};

use super::*;
use crate::helpers::{assert_error, spawn_app_with, spawn_instance, TestApp};
use crate::smtp::{free_port, SmtpSink};

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_returns_the_first_result_and_sends_once() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    let path = format!("/v1/surveys/{survey}/invitations");
    let body = json!({"channel": "email", "recipient": {"email": "once@example.com"}, "properties": {"ticket_id": 7}});
    let send = |key: &'static str, body: Value| {
        let req = app
            .client
            .post(format!("{}{path}", app.address))
            .bearer_auth(&app.api_key)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let first = send("ticket-7-closed", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("ticket-7-closed", body.clone()).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["url"], first["url"], "the same links come back");
    assert_eq!(again["rating_urls"], first["rating_urls"]);
    let changed = send(
        "ticket-7-closed",
        json!({"channel": "email", "recipient": {"email": "other@example.com"}}),
    )
    .await;
    let err = assert_error(changed, 409, "conflict").await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
    assert_eq!((app.count("invitations"), app.count("outbox")), (1, 1));
    sink.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1);
    // Concurrent retries of a link invitation still create one.
    let link = json!({"channel": "link"});
    let (a, b) = tokio::join!(send("link-1", link.clone()), send("link-1", link.clone()));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(
        (a["id"].clone(), a["url"].clone()),
        (b["id"].clone(), b["url"].clone())
    );
    assert_eq!(app.count("invitations"), 2);
}

/// Issues an emailed and an idempotent invitation and checks that no table holds either
/// live token (nor the idempotency key), only hashes.
async fn assert_no_table_holds_a_live_token(app: &TestApp, sink: &SmtpSink) {
    let survey = app.survey_of("nps").await;
    let emailed: Value = email_invite(app, &survey, "keep@example.com")
        .await
        .json()
        .await
        .unwrap();
    let idempotent: Value = app
        .client
        .post(format!("{}/v1/surveys/{survey}/invitations", app.address))
        .bearer_auth(&app.api_key)
        .header("Idempotency-Key", "k-1")
        .json(&json!({"channel": "link"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mail = sink.wait_for(1, WAIT).await;
    let unsubscribe = crate::helpers::token_of(mail[0].list_unsubscribe.trim_matches(['<', '>']));
    let conn = &mut *app.conn();
    use scorekeeper::db::schema::{idempotency_keys, server_secrets};
    let mut stored: Vec<String> = idempotency_keys::table
        .select((idempotency_keys::key_hash, idempotency_keys::invitation_id))
        .load::<(String, String)>(conn)
        .unwrap()
        .into_iter()
        .flat_map(|(a, b)| [a, b])
        .collect();
    stored.extend(
        outbox::table
            .select((outbox::message_id, outbox::claimed_by.assume_not_null()))
            .load::<(String, String)>(conn)
            .unwrap()
            .into_iter()
            .flat_map(|(a, b)| [a, b]),
    );
    stored.extend(
        server_secrets::table
            .select(server_secrets::value)
            .load::<String>(conn)
            .unwrap(),
    );
    let hashes: Vec<(String, Option<String>)> = invitations::table
        .select((invitations::token_hash, invitations::unsubscribe_hash))
        .load(conn)
        .unwrap();
    for inv in [&emailed, &idempotent] {
        let token = crate::helpers::token_of(inv["url"].as_str().unwrap());
        assert!(
            stored.iter().all(|text| !text.contains(&token)),
            "a table holds the token"
        );
        assert!(hashes
            .iter()
            .any(|(h, _)| *h == crate::helpers::sha256_hex(&token)));
    }
    assert!(stored.iter().all(|text| !text.contains(&unsubscribe)));
    assert!(hashes
        .iter()
        .any(|(_, u)| u.as_deref() == Some(crate::helpers::sha256_hex(&unsubscribe).as_str())));
    assert!(
        !stored.iter().any(|t| t.contains("k-1")),
        "the idempotency key is stored only as an HMAC"
    );
}

#[tokio::test]
async fn with_secret_key_set_no_table_holds_a_live_token_only_its_hash() {
    let sink = SmtpSink::start();
    let key = "a-long-secret-key-for-this-test-only-0123456789";
    let app = email_app(&sink.url(), &[("SECRET_KEY", key)]).await;
    assert_no_table_holds_a_live_token(&app, &sink).await;
    assert!(!app.db.key_file().exists(), "SECRET_KEY set: no key file");
}

#[tokio::test]
async fn by_default_the_server_key_lives_in_a_private_file_and_never_in_the_database() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    assert_no_table_holds_a_live_token(&app, &sink).await;
    assert_eq!(app.count("server_secrets"), 0, "no key in the database");
    let path = app.db.key_file();
    let key = std::fs::read_to_string(&path).expect("the key file exists");
    assert!(key.trim().len() >= 32);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner can read the key file");
    // A restart reads the same key: an idempotent replay rebuilds the same, working links.
    let survey = app.survey_of("csat").await;
    let path_ = format!("/v1/surveys/{survey}/invitations");
    let send = |base: String| {
        app.client
            .post(format!("{base}{path_}"))
            .bearer_auth(&app.api_key)
            .header("Idempotency-Key", "restart-1")
            .json(&json!({"channel": "link"}))
            .send()
    };
    let first: Value = send(app.address.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.handle.stop().await;
    let again = spawn_instance(app.db.url(), &[]).await;
    let replay: Value = send(again.address.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = |inv: &Value| crate::helpers::token_of(inv["url"].as_str().unwrap());
    assert_eq!(token(&replay), token(&first));
    let page = app
        .client
        .get(replay["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    again.handle.stop().await;
}

#[tokio::test]
async fn a_key_an_earlier_version_kept_in_the_database_moves_to_the_key_file() {
    let app = spawn_app_with(&[]).await;
    app.handle.stop().await;
    let path = app.db.key_file();
    std::fs::remove_file(&path).unwrap();
    let legacy = "an-old-key-kept-in-the-database-0123456789";
    {
        use scorekeeper::db::schema::server_secrets;
        diesel::insert_into(server_secrets::table)
            .values((
                server_secrets::name.eq("link-key"),
                server_secrets::value.eq(legacy),
                server_secrets::created_at.eq(scorekeeper::db::now()),
            ))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let again = spawn_instance(app.db.url(), &[]).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), legacy);
    assert_eq!(app.count("server_secrets"), 0);
    again.handle.stop().await;
}

#[tokio::test]
async fn a_replay_after_a_key_change_answers_409_instead_of_dead_links() {
    let first_key = ("SECRET_KEY", "the-first-secret-key-0123456789-abcdef");
    let app = spawn_app_with(&[first_key]).await;
    let survey = app.survey_of("nps").await;
    let path = format!("/v1/surveys/{survey}/invitations");
    let send = |base: String| {
        app.client
            .post(format!("{base}{path}"))
            .bearer_auth(&app.api_key)
            .header("Idempotency-Key", "rotate-1")
            .json(&json!({"channel": "link"}))
            .send()
    };
    assert_eq!(send(app.address.clone()).await.unwrap().status(), 201);
    app.handle.stop().await;
    let second = spawn_instance(
        app.db.url(),
        &[("SECRET_KEY", "a-different-secret-key-0123456789-xyz")],
    )
    .await;
    let res = send(second.address.clone()).await.unwrap();
    let body = assert_error(res, 409, "conflict").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("SECRET_KEY"));
    assert_eq!(app.count("invitations"), 1, "nothing new was issued");
    second.handle.stop().await;
}

#[tokio::test]
async fn a_changed_secret_key_fails_queued_emails_instead_of_sending_dead_links() {
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let base = [
        ("SMTP_URL", smtp.as_str()),
        ("MAIL_FROM", "surveys@acme.test"),
        ("OUTBOX_POLL_MS", "50"),
        ("OUTBOX_RETRY_BASE_MS", "100"),
        ("OUTBOX_RETRY_MAX_MS", "200"),
        ("OUTBOX_MAX_ATTEMPTS", "100"),
    ];
    let mut first_env = base.to_vec();
    first_env.push(("SECRET_KEY", "the-first-secret-key-0123456789-abcdef"));
    let app = spawn_app_with(&first_env).await;
    let survey = app.survey_of("csat").await;
    let inv: Value = email_invite(&app, &survey, "rotated@example.com")
        .await
        .json()
        .await
        .unwrap();
    app.handle.stop().await;

    let sink = SmtpSink::start_on(port);
    let mut second_env = base.to_vec();
    second_env.push(("SECRET_KEY", "a-different-secret-key-0123456789-xyz"));
    let second = spawn_instance(app.db.url(), &second_env).await;
    // The first instance is stopped, so read the outcome from the database.
    let id = inv["id"].as_str().unwrap().to_owned();
    let start = std::time::Instant::now();
    let (status, error) = loop {
        let row: (String, Option<String>) = invitations::table
            .find(&id)
            .select((invitations::status, invitations::last_error))
            .first(&mut *app.conn())
            .unwrap();
        if row.0 == "failed" || start.elapsed() > WAIT {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, "failed");
    assert!(error.unwrap_or_default().contains("SECRET_KEY"));
    assert!(sink.messages().is_empty());
    second.handle.stop().await;
}

#[tokio::test]
async fn aged_idempotency_records_and_finished_outbox_rows_are_swept() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app
        .create_survey(json!({"name": "s", "kind": "nps", "throttle_days": 0}))
        .await;
    let survey = survey["id"].as_str().unwrap();
    for (i, key) in ["old", "new"].into_iter().enumerate() {
        let res = app
            .client
            .post(format!("{}/v1/surveys/{survey}/invitations", app.address))
            .bearer_auth(&app.api_key)
            .header("Idempotency-Key", key)
            .json(&json!({"channel": "email", "recipient": {"email": format!("s{i}@example.com")}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    sink.wait_for(2, WAIT).await;
    let start = std::time::Instant::now();
    while app.count("outbox") != 0 && outbox_pending(&app) > 0 && start.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    use scorekeeper::db::schema::idempotency_keys;
    let conn = &mut *app.conn();
    // Age one of each past its keep time.
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(40);
    let first_key: String = idempotency_keys::table
        .select(idempotency_keys::key_hash)
        .order(idempotency_keys::created_at)
        .first(conn)
        .unwrap();
    diesel::update(idempotency_keys::table.filter(idempotency_keys::key_hash.eq(&first_key)))
        .set(idempotency_keys::created_at.eq(long_ago))
        .execute(conn)
        .unwrap();
    let first_row: String = outbox::table
        .select(outbox::id)
        .order(outbox::created_at)
        .first(conn)
        .unwrap();
    diesel::update(outbox::table.find(&first_row))
        .set(outbox::finished_at.eq(long_ago))
        .execute(conn)
        .unwrap();

    let swept = scorekeeper::db::maintenance::sweep(conn, scorekeeper::db::now()).unwrap();
    assert_eq!(
        swept,
        scorekeeper::db::maintenance::Swept {
            idempotency_keys: 1,
            outbox: 1,
            anonymised: 0,
            webhook_events: 0,
        }
    );
    assert_eq!(
        idempotency_keys::table
            .count()
            .get_result::<i64>(conn)
            .unwrap(),
        1
    );
    assert_eq!(outbox::table.count().get_result::<i64>(conn).unwrap(), 1);
    // Invitations and their history stay.
    assert_eq!(
        invitations::table.count().get_result::<i64>(conn).unwrap(),
        2
    );
}
