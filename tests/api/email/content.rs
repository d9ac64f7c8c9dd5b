//! What an email says: its parts, links and rating rows per kind, and refused requests.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::helpers::{assert_error, spawn_app_with};
use crate::smtp::SmtpSink;

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
        (
            json!({"channel": "link", "delay_seconds": 60}),
            "delay_seconds",
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
