//! The durable outbox: retries, restarts, several instances, schedules and deadlines.

use std::time::Duration;

use diesel::prelude::*;
use scorekeeper::db::schema::{invitations, outbox};
use serde_json::{json, Value};

use super::*;
use crate::helpers::{spawn_app_with, spawn_instance};
use crate::smtp::{free_port, Received, SmtpSink};

#[tokio::test]
async fn an_email_queued_while_smtp_is_down_arrives_exactly_once_when_it_comes_up() {
    let port = free_port();
    let app = email_app(
        &format!("smtp://127.0.0.1:{port}"),
        &[("OUTBOX_MAX_ATTEMPTS", "100")],
    )
    .await;
    let survey = app.survey_of("nps").await;
    let res = email_invite(&app, &survey, "late@example.com").await;
    assert_eq!(res.status(), 201, "accepted at once although SMTP is down");
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Wait for a failed attempt to be recorded; the email stays queued.
    let start = std::time::Instant::now();
    let inv = loop {
        let inv = invitation(&app, &id).await;
        if inv["last_error"].is_string() || start.elapsed() > WAIT {
            break inv;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(inv["status"], "queued");
    assert!(
        inv["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("SMTP")),
        "{inv}"
    );

    let sink = SmtpSink::start_on(port);
    wait_status(&app, &id, "sent").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_restart_loses_nothing_and_resends_nothing_already_accepted() {
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let env = [
        ("SMTP_URL", smtp.as_str()),
        ("MAIL_FROM", "surveys@acme.test"),
        ("OUTBOX_POLL_MS", "50"),
        ("OUTBOX_RETRY_BASE_MS", "100"),
        ("OUTBOX_RETRY_MAX_MS", "300"),
        ("OUTBOX_MAX_ATTEMPTS", "100"),
    ];
    let app = spawn_app_with(&env).await;
    let survey = app.survey_of("csat").await;
    for i in 0..3 {
        assert_eq!(
            email_invite(&app, &survey, &format!("r{i}@example.com"))
                .await
                .status(),
            201
        );
    }
    app.handle.stop().await;
    assert_eq!(app.count("outbox"), 3);

    // The server comes back with SMTP up: everything queued is delivered once.
    let sink = SmtpSink::start_on(port);
    let second = spawn_instance(app.db.url(), &env).await;
    assert_eq!(sink.wait_for(3, WAIT).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.handle.stop().await;

    // A third start finds nothing left to send.
    let third = spawn_instance(app.db.url(), &env).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mail = sink.messages();
    assert_eq!(mail.len(), 3);
    let mut to: Vec<String> = mail.iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec!["r0@example.com", "r1@example.com", "r2@example.com"]
    );
    // The links were rebuilt by another instance from the server key, and they work.
    let link = hrefs(&mail[0].html)
        .into_iter()
        .find(|h| h.contains("?score=4"))
        .unwrap();
    let token = crate::helpers::token_of(&link);
    let res = app
        .client
        .post(format!("{}/r/{token}", third.address))
        .json(&json!({"score": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    third.handle.stop().await;
}

#[tokio::test]
async fn retries_give_up_after_the_limit_and_the_invitation_leaves_the_denominator() {
    let port = free_port();
    let app = email_app(
        &format!("smtp://127.0.0.1:{port}"),
        &[("OUTBOX_MAX_ATTEMPTS", "3"), ("OUTBOX_RETRY_BASE_MS", "20")],
    )
    .await;
    let survey = app.survey_of("nps").await;
    let id = email_invite(&app, &survey, "nobody@example.com")
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.link(&survey).await;
    let failed = wait_status(&app, &id, "failed").await;
    assert!(
        failed["last_error"].as_str().unwrap().contains("SMTP"),
        "{failed}"
    );
    let attempts: i32 = outbox::table
        .select(outbox::attempts)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(attempts, 3);
    assert_eq!(
        app.stats(&survey).await["invitations"],
        1,
        "only the link invitation counts"
    );
}

#[tokio::test]
async fn a_permanent_smtp_refusal_fails_at_once_and_a_transient_one_is_retried() {
    let sink = SmtpSink::start();
    let app = email_app(
        &sink.url(),
        &[("OUTBOX_MAX_ATTEMPTS", "4"), ("OUTBOX_RETRY_BASE_MS", "30")],
    )
    .await;
    let survey = app.survey_of("nps").await;
    let rejected = email_invite(&app, &survey, "reject-me@example.com")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let failed = wait_status(&app, rejected["id"].as_str().unwrap(), "failed").await;
    assert!(
        failed["last_error"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    let temp = email_invite(&app, &survey, "tempfail@example.com")
        .await
        .json::<Value>()
        .await
        .unwrap();
    wait_status(&app, temp["id"].as_str().unwrap(), "failed").await;
    let attempts: Vec<i32> = outbox::table
        .select(outbox::attempts)
        .order(outbox::created_at)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(
        attempts,
        vec![1, 4],
        "permanent: one attempt; transient: every attempt"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_200_emails_exactly_once() {
    let sink = SmtpSink::start();
    let env = [
        ("SMTP_URL", sink.url()),
        ("MAIL_FROM", "surveys@acme.test".into()),
        ("OUTBOX_POLL_MS", "20".into()),
        ("OUTBOX_BATCH", "8".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&env).await;
    let other = spawn_instance(app.db.url(), &env).await;
    let survey = app.survey_of("nps").await;
    for i in 0..200 {
        // Alternate instances so both take requests and both workers are woken.
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            other.address.clone()
        };
        let res = app
            .client
            .post(format!("{base}/v1/surveys/{survey}/invitations"))
            .bearer_auth(&app.api_key)
            .json(&json!({"channel": "email", "recipient": {"email": format!("p{i}@example.com")}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    sink.wait_for(200, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mail: Vec<Received> = sink.messages();
    let mut ids: Vec<&str> = mail.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (mail.len(), ids.len()),
        (200, 200),
        "each email exactly once"
    );
    let claimed_by: Vec<Option<String>> = outbox::table
        .select(outbox::claimed_by)
        .load(&mut *app.conn())
        .unwrap();
    let mut workers: Vec<String> = claimed_by.into_iter().flatten().collect();
    workers.sort();
    workers.dedup();
    assert_eq!(workers.len(), 2, "both instances sent mail");
    let sent: i64 = invitations::table
        .filter(invitations::status.eq("sent"))
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(sent, 200);
    other.handle.stop().await;
}

#[tokio::test]
async fn a_round_of_emails_shares_the_pools_few_connections() {
    let sink = SmtpSink::start();
    let app = email_app(
        &sink.url(),
        &[("SMTP_POOL_SIZE", "2"), ("OUTBOX_BATCH", "30")],
    )
    .await;
    let survey = app.survey_of("csat").await;
    // All due at one instant, so one round claims them all and sends them at once.
    let send_at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for i in 0..30 {
        let res = app
            .post(
                &format!("/v1/surveys/{survey}/invitations"),
                &json!({"channel": "email", "recipient": {"email": format!("c{i}@example.com")},
                        "send_at": send_at}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let mail = sink.wait_for(30, WAIT).await;
    assert_eq!(mail.len(), 30);
    let connections = sink.connections();
    assert!(
        (1..=2).contains(&connections),
        "30 emails came on {connections} connections; the pool keeps 2"
    );
}

#[tokio::test]
async fn a_delayed_email_waits_for_its_time() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("csat").await;
    let before = chrono::Utc::now();
    let res = app
        .post(&format!("/v1/surveys/{survey}/invitations"),
              &json!({"channel": "email", "recipient": {"email": "later@example.com"}, "delay_seconds": 2}))
        .await;
    assert_eq!(res.status(), 201);
    let inv: Value = res.json().await.unwrap();
    let send_at = chrono::DateTime::parse_from_rfc3339(inv["send_at"].as_str().unwrap()).unwrap();
    assert!(send_at >= before + chrono::Duration::seconds(2));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(sink.messages().is_empty(), "sent too early");
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
    // A send_at in the past means now.
    let res = app
        .post(&format!("/v1/surveys/{survey}/invitations"),
              &json!({"channel": "email", "recipient": {"email": "now@example.com"}, "send_at": "2020-01-01T00:00:00Z"}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(sink.wait_for(2, WAIT).await.len(), 2);
}

#[tokio::test]
async fn an_answer_given_before_a_failed_send_is_kept() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    // The helpdesk showed the link from the API response; the customer answers before the
    // scheduled email goes out, and then the mail server refuses the address.
    let inv: Value = app
        .post(&format!("/v1/surveys/{survey}/invitations"),
              &json!({"channel": "email", "recipient": {"email": "reject-late@example.com"}, "delay_seconds": 1}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.answer(inv["url"].as_str().unwrap(), json!({"score": 10}))
            .await
            .status(),
        201
    );
    let start = std::time::Instant::now();
    loop {
        let state: String = outbox::table
            .select(outbox::state)
            .first(&mut *app.conn())
            .unwrap();
        if state == "failed" || start.elapsed() > WAIT {
            assert_eq!(state, "failed");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = invitation(&app, inv["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "responded", "{after}");
    assert!(after["last_error"].as_str().unwrap().contains("550"));
    let stats = app.stats(&survey).await;
    assert_eq!(
        (stats["invitations"].clone(), stats["responses"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn an_email_whose_link_expired_while_it_waited_is_not_sent() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("csat").await;
    let inv: Value = app
        .post(&format!("/v1/surveys/{survey}/invitations"),
              &json!({"channel": "email", "recipient": {"email": "slow@example.com"}, "delay_seconds": 1}))
        .await
        .json()
        .await
        .unwrap();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    diesel::update(invitations::table)
        .set(invitations::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    let cancelled = wait_status(&app, inv["id"].as_str().unwrap(), "suppressed").await;
    assert_eq!(cancelled["reason"], "expired");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_send_slower_than_the_lease_is_abandoned_in_time_and_the_email_arrives_once() {
    // Each of MAIL, RCPT and DATA takes 0.8 s on the first transaction: every command is
    // within the 1 s SMTP timeout, but the whole send (2.4 s and more) outlasts the 2 s lease,
    // after which the second instance may claim the email. The first attempt must give up
    // within its deadline (half the lease) so that only one send ever completes.
    let sink = SmtpSink::start_slow(1, Duration::from_millis(800));
    let smtp = sink.url();
    let env = [
        ("SMTP_URL", smtp.as_str()),
        ("MAIL_FROM", "surveys@acme.test"),
        ("OUTBOX_POLL_MS", "20"),
        ("OUTBOX_RETRY_BASE_MS", "100"),
        ("OUTBOX_RETRY_MAX_MS", "200"),
        ("OUTBOX_LEASE_SECS", "2"),
        ("SMTP_TIMEOUT_SECS", "1"),
    ];
    let app = spawn_app_with(&env).await;
    let other = spawn_instance(app.db.url(), &env).await;
    let survey = app.survey_of("nps").await;
    let inv: Value = email_invite(&app, &survey, "slow@example.com")
        .await
        .json()
        .await
        .unwrap();
    sink.wait_for(1, WAIT).await;
    // Long enough for a stale first attempt to finish and for a takeover to send again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "sent exactly once");
    let status = invitation(&app, inv["id"].as_str().unwrap()).await;
    assert_eq!(status["status"], "sent");
    let attempts: i32 = outbox::table
        .select(outbox::attempts)
        .first(&mut *app.conn())
        .unwrap();
    assert!(attempts >= 2, "the slow attempt was abandoned and retried");
    other.handle.stop().await;
}

/// An email whose outcome cannot be recorded (SQLite's write lock held by another process
/// past the busy timeout, and past the email's lease) is recorded once the lock is free, and
/// the worker claims nothing meanwhile: the email that went out is not sent again when its
/// lease lapses. (PostgreSQL waits for a lock rather than failing, so this runs on SQLite.)
#[tokio::test]
async fn an_email_sent_while_the_database_is_locked_is_recorded_later_and_sent_once() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return;
    }
    // MAIL, RCPT and DATA each take 0.4 s: the lock is taken while the send is under way.
    let sink = SmtpSink::start_slow(1, Duration::from_millis(400));
    let smtp = sink.url();
    let env = [
        ("SMTP_URL", smtp.as_str()),
        ("OUTBOX_POLL_MS", "20"),
        ("OUTBOX_LEASE_SECS", "4"),
        ("SMTP_TIMEOUT_SECS", "1"),
        ("SQLITE_BUSY_TIMEOUT_MS", "200"),
    ];
    let app = spawn_app_with(&env).await;
    let survey = app.survey_of("nps").await;
    let inv: Value = email_invite(&app, &survey, "locked@example.com")
        .await
        .json()
        .await
        .unwrap();
    let start = std::time::Instant::now();
    while outbox::table
        .select(outbox::attempts)
        .first::<i32>(&mut *app.conn())
        .unwrap()
        == 0
    {
        assert!(start.elapsed() < WAIT, "the email was never claimed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another process takes the write lock for longer than the lease.
    let path = app.db.url().trim_start_matches("sqlite://").to_owned();
    let holder = std::thread::spawn(move || {
        let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
        diesel::connection::SimpleConnection::batch_execute(&mut conn, "BEGIN IMMEDIATE").unwrap();
        std::thread::sleep(Duration::from_secs(6));
        diesel::connection::SimpleConnection::batch_execute(&mut conn, "COMMIT").unwrap();
    });
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
    tokio::task::spawn_blocking(move || holder.join().unwrap())
        .await
        .unwrap();
    let id = inv["id"].as_str().unwrap();
    let sent = wait_status(&app, id, "sent").await;
    assert_eq!(sent["status"], "sent", "{sent}");
    // Past another lease: a second claim would have sent it again by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.messages().len(), 1, "sent exactly once");
    let attempts: i32 = outbox::table
        .select(outbox::attempts)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(attempts, 1, "claimed once");
}
