//! Whom not to email: throttle, suppression list, bounces and unsubscribe links.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::helpers::assert_error;
use crate::smtp::SmtpSink;

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
    let page = page.text().await.unwrap();
    assert!(page.contains("l***@example.com"), "the address is masked");
    assert!(!page.contains("leave@example.com"));
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
async fn two_waiting_emails_to_one_suppressed_address_are_both_cancelled() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    // Two surveys, due at the same moment, so that one claim takes both emails.
    let mut ids = Vec::new();
    for kind in ["nps", "csat"] {
        let survey = app
            .create_survey(json!({"name": kind, "kind": kind, "throttle_days": 0}))
            .await;
        let inv = app
            .invite(
                survey["id"].as_str().unwrap(),
                json!({"channel": "email", "recipient": {"email": "twice@example.com"}, "delay_seconds": 1}),
            )
            .await;
        ids.push(inv["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        app.post("/v1/bounces", &json!({"email": "twice@example.com"}))
            .await
            .status(),
        201
    );
    for id in &ids {
        let cancelled = wait_status(&app, id, "suppressed").await;
        assert_eq!(cancelled["reason"], "bounced");
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_survey_link_cannot_unsubscribe_anybody() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    // A link-channel invitation with an address, as a helpdesk would create one.
    let link = app
        .invite(
            &survey,
            json!({"channel": "link", "recipient": {"email": "ana@example.com"}}),
        )
        .await;
    // And an emailed one, whose survey link could be forwarded.
    email_invite(&app, &survey, "bo@example.com").await;
    let mail = sink.wait_for(1, WAIT).await;
    let emailed_token = hrefs(&mail[0].html)
        .into_iter()
        .find(|h| h.contains("/r/"))
        .map(|h| crate::helpers::token_of(&h))
        .unwrap();
    let link_token = crate::helpers::token_of(link["url"].as_str().unwrap());
    for token in [link_token, emailed_token] {
        let url = format!("{}/u/{token}", app.address);
        let page = app.client.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 404);
        let page = page.text().await.unwrap();
        assert!(!page.contains("@example.com"), "no address is shown");
        let res = app.client.post(&url).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
    assert_eq!(app.count("suppressions"), 0);
}
