//! Email delivery against a real SMTP server on loopback: content, the durable outbox,
//! retries, restarts, several instances, throttle, suppression, unsubscribe and idempotency.

use std::time::Duration;

use diesel::prelude::*;
use scorekeeper::db::schema::{invitations, outbox};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app_with, spawn_instance, TestApp};
use crate::smtp::{free_port, Received, SmtpSink};

const WAIT: Duration = Duration::from_secs(15);

/// An app that emails through `smtp_url`, polling and retrying quickly.
async fn email_app(smtp_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("SMTP_URL", smtp_url),
        ("MAIL_FROM", "surveys@acme.test"),
        ("OUTBOX_POLL_MS", "50"),
        ("OUTBOX_RETRY_BASE_MS", "100"),
        ("OUTBOX_RETRY_MAX_MS", "400"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(&env).await
}

async fn email_invite(app: &TestApp, survey: &str, email: &str) -> reqwest::Response {
    app.post(
        &format!("/v1/surveys/{survey}/invitations"),
        &json!({"channel": "email", "recipient": {"email": email}}),
    )
    .await
}

async fn invitation(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/v1/invitations/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Polls an invitation until its status is `want`.
async fn wait_status(app: &TestApp, id: &str, want: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let inv = invitation(app, id).await;
        if inv["status"] == want || start.elapsed() > WAIT {
            assert_eq!(inv["status"], want, "{inv}");
            return inv;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The links in an HTML part, with the entities a browser would decode.
fn hrefs(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"href="([^"]+)""#).unwrap();
    re.captures_iter(html)
        .map(|c| {
            c[1].replace("&#x2f;", "/")
                .replace("&#x27;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

#[tokio::test]
async fn an_email_invitation_is_queued_at_once_and_arrives_as_multipart_with_one_click_links() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app
        .create_survey(json!({"name": "Support", "kind": "nps", "email_subject": "About your ticket #{{ ticket_id }}",
            "email_intro": "Hi {{ recipient.name }}, you talked to {{ properties.agent }}.", "email_sender_name": "Acme Support"}))
        .await;
    let survey = survey["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"channel": "email", "recipient": {"email": "ana@example.com", "name": "Ana"},
                    "properties": {"ticket_id": 4211, "agent": "Bo <b>"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let inv: Value = res.json().await.unwrap();
    assert_eq!(inv["status"], "queued");
    let rating_urls: Vec<String> = inv["rating_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap().to_owned())
        .collect();

    let mail = sink.wait_for(1, WAIT).await;
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m.subject, "About your ticket #4211");
    assert_eq!(m.from, "Acme Support <surveys@acme.test>");
    assert_eq!(m.to, "Ana <ana@example.com>");
    assert!(
        m.content_type.starts_with("multipart/alternative"),
        "{}",
        m.content_type
    );
    assert!(
        m.html.contains("Hi Ana, you talked to Bo &lt;b&gt;."),
        "intro is rendered and escaped"
    );
    assert!(m.text.contains("Hi Ana, you talked to Bo <b>."));
    assert!(
        !m.html.contains("<style"),
        "mail clients strip <style>: inline styles only"
    );
    assert!(m.html.contains("style=\""));
    assert!(m.html.contains("max-width:600px"));
    assert!(
        m.html.contains("<!--[if mso]>"),
        "Outlook gets a fixed-width wrapper"
    );
    let links = hrefs(&m.html);
    for url in &rating_urls {
        assert!(
            m.html.contains(&format!("href=\"{url}\"")),
            "HTML lacks a plain href for {url}"
        );
        assert!(m.text.contains(url.as_str()), "text lacks {url}");
    }
    let unsubscribe = links
        .iter()
        .find(|l| l.contains("/u/"))
        .expect("a visible unsubscribe link");
    assert_eq!(m.list_unsubscribe, format!("<{unsubscribe}>"));
    assert_eq!(m.list_unsubscribe_post, "List-Unsubscribe=One-Click");
    assert!(m.message_id.ends_with("@acme.test"));

    let sent = wait_status(&app, inv["id"].as_str().unwrap(), "sent").await;
    assert!(sent["sent_at"].is_string());

    // Follow a rating link from the email as a person would: the GET records nothing, the POST does.
    let nine = links.iter().find(|l| l.ends_with("?score=9")).unwrap();
    assert_eq!(app.client.get(nine).send().await.unwrap().status(), 200);
    assert_eq!(app.stats(survey).await["responses"], 0);
    assert_eq!(
        app.answer_form(nine.split('?').next().unwrap(), &[("score", "9")])
            .await
            .status(),
        303
    );
    let stats = app.stats(survey).await;
    assert_eq!(
        (stats["responses"].clone(), stats["promoters"].clone()),
        (json!(1), json!(1))
    );
    wait_status(&app, inv["id"].as_str().unwrap(), "responded").await;
}

#[tokio::test]
async fn each_kind_gets_its_own_rating_row_with_text_alternatives() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let cases = [
        (
            json!({"name": "c", "kind": "csat"}),
            5,
            vec![
                "Very dissatisfied",
                "Very satisfied",
                "\u{1F604}",
                "role=\"img\"",
            ],
        ),
        (
            json!({"name": "t", "kind": "csat", "scale": "thumbs"}),
            2,
            vec!["Thumbs up", "\u{1F44D}"],
        ),
        (
            json!({"name": "e", "kind": "ces"}),
            7,
            vec!["Strongly disagree", "Strongly agree", "Somewhat agree"],
        ),
        (
            json!({"name": "s", "kind": "esat"}),
            5,
            vec!["Very satisfied"],
        ),
        (
            json!({"name": "n", "kind": "nps"}),
            11,
            vec!["Not at all likely", "Extremely likely"],
        ),
    ];
    for (i, (survey, points, needles)) in cases.into_iter().enumerate() {
        let survey = app.create_survey(survey).await;
        let res = email_invite(
            &app,
            survey["id"].as_str().unwrap(),
            &format!("kind{i}@example.com"),
        )
        .await;
        assert_eq!(res.status(), 201);
        let mail = sink.wait_for(i + 1, WAIT).await;
        let m = mail
            .iter()
            .find(|m| m.to == format!("kind{i}@example.com"))
            .expect("its email");
        let ratings = hrefs(&m.html)
            .into_iter()
            .filter(|h| h.contains("?score="))
            .count();
        assert_eq!(ratings, points, "{}", survey["kind"]);
        for needle in needles {
            assert!(m.html.contains(needle), "{} lacks {needle}", survey["kind"]);
        }
    }
}

#[tokio::test]
async fn bad_addresses_and_missing_recipients_are_422_and_nothing_is_queued() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("csat").await;
    for (body, field) in [
        (
            json!({"channel": "email", "recipient": {"email": "not an address"}}),
            "recipient.email",
        ),
        (
            json!({"channel": "email", "recipient": {"email": "a@b@c"}}),
            "recipient.email",
        ),
        (json!({"channel": "email"}), "recipient.email"),
        (
            json!({"channel": "email", "recipient": {"email": "a@example.com"}, "delay_seconds": -1}),
            "delay_seconds",
        ),
        (
            json!({"channel": "email", "recipient": {"email": "a@example.com"}, "delay_seconds": 5, "send_at": "2030-01-01T00:00:00Z"}),
            "delay_seconds",
        ),
        (
            json!({"channel": "link", "send_at": "2030-01-01T00:00:00Z"}),
            "send_at",
        ),
    ] {
        let err = assert_error(
            app.post(&format!("/v1/surveys/{survey}/invitations"), &body)
                .await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
    assert_eq!((app.count("invitations"), app.count("outbox")), (0, 0));
    let bad_template = app
        .post(
            "/v1/surveys",
            &json!({"name": "x", "kind": "nps", "email_subject": "{{ oops"}),
        )
        .await;
    assert_eq!(
        assert_error(bad_template, 422, "invalid_field").await["error"]["field"],
        "email_subject"
    );
}

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
    assert!(!workers.is_empty());
    let sent: i64 = invitations::table
        .filter(invitations::status.eq("sent"))
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(sent, 200);
    other.handle.stop().await;
}

#[tokio::test]
async fn a_recipient_surveyed_recently_is_suppressed_with_the_reason_and_when_they_are_eligible() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("csat").await;
    let first = email_invite(&app, &survey, "Ana@Example.com").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let other_survey = app.survey_of("nps").await;
    let res = email_invite(&app, &other_survey, "ana@example.COM").await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    assert_eq!(
        (second["status"].clone(), second["reason"].clone()),
        (json!("suppressed"), json!("throttled"))
    );
    assert!(second.get("url").is_none() && second.get("rating_urls").is_none());
    let eligible =
        chrono::DateTime::parse_from_rfc3339(second["eligible_at"].as_str().unwrap()).unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(first["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(eligible - created, chrono::Duration::days(30));
    // A survey with the throttle off, and link invitations, are not throttled.
    let unthrottled = app
        .create_survey(json!({"name": "u", "kind": "csat", "throttle_days": 0}))
        .await;
    assert_eq!(unthrottled["throttle_days"], 0);
    assert_eq!(
        email_invite(&app, unthrottled["id"].as_str().unwrap(), "ana@example.com")
            .await
            .status(),
        201
    );
    let link = app
        .post(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"recipient": {"email": "ana@example.com"}}),
        )
        .await;
    assert_eq!(link.status(), 201);
    assert_eq!(sink.wait_for(2, WAIT).await.len(), 2);
    assert_eq!(
        app.count("outbox"),
        2,
        "nothing queued for the throttled invitation"
    );
    assert_eq!(
        app.stats(&other_survey).await["invitations"],
        0,
        "suppressed invitations are not issued"
    );
    let bad = app
        .post(
            "/v1/surveys",
            &json!({"name": "x", "kind": "nps", "throttle_days": -3}),
        )
        .await;
    assert_eq!(
        assert_error(bad, 422, "invalid_field").await["error"]["field"],
        "throttle_days"
    );
}

#[tokio::test]
async fn unsubscribing_records_nothing_on_get_and_suppresses_on_one_click_post() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app
        .create_survey(json!({"name": "u", "kind": "nps", "throttle_days": 0}))
        .await;
    let survey = survey["id"].as_str().unwrap();
    assert_eq!(
        email_invite(&app, survey, "leave@example.com")
            .await
            .status(),
        201
    );
    let mail = sink.wait_for(1, WAIT).await;
    let url = mail[0]
        .list_unsubscribe
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();

    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("leave@example.com"));
    assert_eq!(app.count("suppressions"), 0, "a GET records nothing");

    let res = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = app.get("/v1/suppressions").await.json().await.unwrap();
    assert_eq!(list["data"][0]["email"], "leave@example.com");
    assert_eq!(list["data"][0]["reason"], "unsubscribed");

    let res = email_invite(&app, survey, "Leave@example.com").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["status"].clone(), body["reason"].clone()),
        (json!("suppressed"), json!("unsubscribed"))
    );

    assert_eq!(
        app.client
            .delete(format!("{}/v1/suppressions/leave@example.com", app.address))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        email_invite(&app, survey, "leave@example.com")
            .await
            .status(),
        201
    );
    assert_eq!(sink.wait_for(2, WAIT).await.len(), 2);
}

#[tokio::test]
async fn suppressions_are_managed_through_the_api_and_bounces_are_reported() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("ces").await;
    let res = app
        .post("/v1/suppressions", &json!({"email": "Manual@Example.com"}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap()["email"],
        "manual@example.com"
    );
    assert_eq!(
        app.post("/v1/suppressions", &json!({"email": "manual@example.com"}))
            .await
            .status(),
        200
    );
    let res = app
        .post(
            "/v1/bounces",
            &json!({"email": "gone@example.com", "detail": "550 mailbox unavailable"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["reason"], "bounced");
    for (email, reason) in [
        ("manual@example.com", "manual"),
        ("gone@example.com", "bounced"),
    ] {
        let body: Value = email_invite(&app, &survey, email)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (body["status"].clone(), body["reason"].clone()),
            (json!("suppressed"), json!(reason))
        );
    }
    for (body, field) in [
        (json!({"email": "nope"}), "email"),
        (
            json!({"email": "a@example.com", "reason": "spite"}),
            "reason",
        ),
    ] {
        let err = assert_error(
            app.post("/v1/suppressions", &body).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(err["error"]["field"], field);
    }
    let missing = app
        .client
        .delete(format!("{}/v1/suppressions/none@example.com", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_error(missing, 404, "not_found").await;
    // Another workspace sees none of it.
    let other = app.other_workspace_key("other");
    let theirs: Value = app
        .get_as("/v1/suppressions", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"], json!([]));
    let page: Value = app
        .get("/v1/suppressions?limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let next: Value = app
        .get(&format!(
            "/v1/suppressions?limit=1&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["data"][0]["email"], "manual@example.com");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn an_address_suppressed_while_its_email_waits_is_never_emailed() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    let res = app
        .post(&format!("/v1/surveys/{survey}/invitations"),
              &json!({"channel": "email", "recipient": {"email": "wait@example.com"}, "delay_seconds": 1}))
        .await;
    let inv: Value = res.json().await.unwrap();
    assert_eq!(
        app.post("/v1/bounces", &json!({"email": "wait@example.com"}))
            .await
            .status(),
        201
    );
    let cancelled = wait_status(&app, inv["id"].as_str().unwrap(), "suppressed").await;
    assert_eq!(cancelled["reason"], "bounced");
    assert!(sink.messages().is_empty());
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
    assert_eq!(
        assert_error(changed, 422, "invalid_field").await["error"]["field"],
        "Idempotency-Key"
    );
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
async fn a_template_written_to_stall_the_service_is_refused_quickly() {
    let app = spawn_app_with(&[]).await;
    let bomb = "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}";
    let started = std::time::Instant::now();
    let res = app
        .post(
            "/v1/surveys",
            &json!({"name": "b", "kind": "nps", "email_subject": bomb}),
        )
        .await;
    assert_eq!(
        assert_error(res, 422, "invalid_field").await["error"]["field"],
        "email_subject"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.count("surveys"), 0);
}

#[tokio::test]
async fn no_table_holds_a_live_token_only_its_hash() {
    let sink = SmtpSink::start();
    let key = "a-long-secret-key-for-this-test-only-0123456789";
    let app = email_app(&sink.url(), &[("SECRET_KEY", key)]).await;
    let survey = app.survey_of("nps").await;
    let emailed: Value = email_invite(&app, &survey, "keep@example.com")
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
    sink.wait_for(1, WAIT).await;
    let conn = &mut *app.conn();
    let mut stored: Vec<String> = scorekeeper::db::schema::idempotency_keys::table
        .select((
            scorekeeper::db::schema::idempotency_keys::key_hash,
            scorekeeper::db::schema::idempotency_keys::response_body,
        ))
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
    let hashes: Vec<String> = invitations::table
        .select(invitations::token_hash)
        .load(conn)
        .unwrap();
    for inv in [&emailed, &idempotent] {
        let token = crate::helpers::token_of(inv["url"].as_str().unwrap());
        assert!(
            stored.iter().all(|text| !text.contains(&token)),
            "a table holds the token"
        );
        assert!(hashes.contains(&crate::helpers::sha256_hex(&token)));
    }
    assert!(
        !stored.iter().any(|t| t.contains("k-1")),
        "the idempotency key is stored only as an HMAC"
    );
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
            outbox: 1
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

fn outbox_pending(app: &TestApp) -> i64 {
    scorekeeper::db::outbox::pending_count(&mut app.conn()).unwrap()
}
