//! The helpdesk triggers: a solved ticket schedules one survey email, a reopened one cancels
//! it, and a re-solve after an answer follows the throttle. Against a real SMTP server.

use serde_json::{json, Value};

use crate::email::{email_app, WAIT};
use crate::helpers::{assert_error, TestApp};
use crate::smtp::SmtpSink;

async fn solved(app: &TestApp, body: Value) -> (u16, Value) {
    let res = app.post("/v1/triggers/ticket-solved", &body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn survey(app: &TestApp, delay: i64) -> String {
    let s = app
        .create_survey(json!({"name": "Support", "kind": "csat", "send_delay_seconds": delay}))
        .await;
    assert_eq!(s["send_delay_seconds"], delay);
    s["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn solving_twice_surveys_once_with_the_ticket_as_properties() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = survey(&app, 0).await;
    let body = json!({
        "survey_id": survey, "ticket_id": 4711,
        "requester": {"email": "ann@example.com", "name": "Ann"},
        "agent": "bo", "team": "billing", "channel": "chat",
        "properties": {"priority": "high"}
    });
    let (status, first) = solved(&app, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["outcome"], "created");
    let props = &first["invitation"]["properties"];
    assert_eq!(props["ticket_id"], "4711");
    assert_eq!(props["agent"], "bo");
    assert_eq!(props["team"], "billing");
    assert_eq!(props["priority"], "high");
    let (status, second) = solved(&app, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(second["outcome"], "already_invited");
    assert_eq!(second["invitation"]["id"], first["invitation"]["id"]);
    let mail = sink.wait_for(1, WAIT).await;
    assert_eq!(mail.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "one email for one ticket");
    assert_eq!(app.count("invitations"), 1);

    // Answered: a re-solve is a new survey, which the throttle then stops.
    let token_url = {
        // The link in the email.
        crate::email::hrefs(&mail[0].html)
            .into_iter()
            .find(|h| h.contains("/r/") && !h.contains("score="))
            .unwrap()
    };
    assert_eq!(
        app.answer(&token_url, json!({"score": 5})).await.status(),
        201
    );
    let (status, third) = solved(&app, body).await;
    assert_eq!(status, 200);
    assert_eq!(third["outcome"], "throttled");
}

#[tokio::test]
async fn a_reopened_ticket_cancels_its_queued_email_and_a_new_solve_schedules_again() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = survey(&app, 3600).await;
    let body = json!({"survey_id": survey, "ticket_id": "T-1",
                      "requester": {"email": "bo@example.com"}});
    let (_, first) = solved(&app, body.clone()).await;
    assert_eq!(first["invitation"]["status"], "queued");
    let send_at = first["invitation"]["send_at"].as_str().unwrap();
    let send_at = chrono::DateTime::parse_from_rfc3339(send_at).unwrap();
    assert!(
        send_at > chrono::Utc::now() + chrono::Duration::minutes(59),
        "the survey's send delay (an hour) applies"
    );
    let res = app
        .post(
            "/v1/triggers/ticket-reopened",
            &json!({"survey_id": survey, "ticket_id": "T-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let reopened: Value = res.json().await.unwrap();
    assert_eq!(reopened["outcome"], "cancelled");
    assert_eq!(reopened["invitation"]["status"], "suppressed");
    assert_eq!(app.stats(&survey).await["invitations"], 0);
    // Nothing left to cancel; and a new solve schedules a new email.
    let res = app
        .post(
            "/v1/triggers/ticket-reopened",
            &json!({"survey_id": survey, "ticket_id": "T-1"}),
        )
        .await;
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["outcome"], "nothing_to_cancel");
    let (status, resolved) = solved(&app, body).await;
    assert_eq!(status, 201);
    assert_ne!(resolved["invitation"]["id"], first["invitation"]["id"]);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn bad_triggers_are_refused_naming_the_field_and_other_workspaces_are_404() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = survey(&app, 0).await;
    for (body, field) in [
        (
            json!({"survey_id": survey, "ticket_id": "T", "requester": {"email": "nope"}}),
            "requester.email",
        ),
        (
            json!({"survey_id": survey, "ticket_id": " ", "requester": {"email": "a@example.com"}}),
            "ticket_id",
        ),
        (
            json!({"survey_id": survey, "ticket_id": [1], "requester": {"email": "a@example.com"}}),
            "ticket_id",
        ),
    ] {
        let res = app.post("/v1/triggers/ticket-solved", &body).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
    let other = app.other_workspace_key("other");
    let res = app
        .post_as(
            "/v1/triggers/ticket-solved",
            &json!({"survey_id": survey, "ticket_id": "T", "requester": {"email": "a@example.com"}}),
            &other,
        )
        .await;
    assert_error(res, 404, "not_found").await;
    assert_eq!(app.count("invitations"), 0);
}

#[tokio::test]
async fn a_helpdesk_reads_a_tickets_rating_back_by_property_recipient_and_time() {
    use crate::helpers::spawn_app;
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let mut urls = Vec::new();
    for (ticket, who) in [("T-1", "u-1"), ("T-2", "u-2"), ("T-3", "u-1")] {
        let inv = app
            .invite(
                &survey,
                json!({"properties": {"ticket_id": ticket}, "recipient": {"external_id": who}}),
            )
            .await;
        urls.push(inv["url"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        app.answer(&urls[0], json!({"score": 2, "comment": "slow"}))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.answer(&urls[2], json!({"score": 5})).await.status(),
        201
    );
    let get = |path: String| {
        let app = &app;
        async move {
            let res = app.get(&path).await;
            assert_eq!(res.status(), 200, "{path}");
            res.json::<Value>().await.unwrap()
        }
    };
    let by_ticket = get("/v1/responses?filter[ticket_id]=T-1".into()).await;
    let data = by_ticket["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(
        (data[0]["score"].as_i64(), data[0]["comment"].as_str()),
        (Some(2), Some("slow"))
    );
    assert_eq!(
        get("/v1/responses?filter[ticket_id]=T-2".into()).await["data"],
        json!([])
    );
    let by_person = get("/v1/invitations?external_id=u-1".into()).await;
    assert_eq!(by_person["data"].as_array().unwrap().len(), 2);
    let one = get("/v1/invitations?external_id=u-1&filter[ticket_id]=T-3".into()).await;
    assert_eq!(one["data"][0]["properties"]["ticket_id"], "T-3");
    // Pages of one, following the cursor.
    let first = get("/v1/invitations?limit=1".into()).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = get(format!("/v1/invitations?limit=1&cursor={cursor}")).await;
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    // `since` keeps only later changes.
    let future = (chrono::Utc::now() + chrono::Duration::minutes(5))
        .to_rfc3339()
        .replace('+', "%2B");
    assert_eq!(
        get(format!("/v1/responses?since={future}")).await["data"],
        json!([])
    );
    // Another workspace sees nothing; bad parameters name themselves.
    let other = app.other_workspace_key("other");
    let res = app
        .get_as("/v1/responses?filter[ticket_id]=T-1", &other)
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"], json!([]));
    let res = app.get("/v1/responses?since=yesterday").await;
    let err = assert_error(res, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "since");
}

#[tokio::test]
async fn a_widget_impression_claiming_a_ticket_and_an_address_blocks_neither_survey_email() {
    // A public key is on every page that embeds the widget, and the page says who the
    // visitor is: anyone can send an impression naming any ticket and any address.
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let host = "https://help.example.com";
    let s = app
        .create_survey(
            json!({"name": "Support", "kind": "csat", "send_delay_seconds": 0,
                              "throttle_days": 30, "allowed_origins": [host]}),
        )
        .await;
    let (survey, key) = (s["id"].as_str().unwrap(), s["public_key"].as_str().unwrap());
    let res = app
        .client
        .post(format!("{}/w/{key}/impressions", app.address))
        .header("Content-Type", "text/plain;charset=UTF-8")
        .header("Origin", host)
        .body(
            json!({"visitor": {"email": "ann@example.com"}, "properties": {"ticket_id": "4711"}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (status, solved) = solved(
        &app,
        json!({"survey_id": survey, "ticket_id": 4711, "requester": {"email": "ann@example.com"}}),
    )
    .await;
    assert_eq!(status, 201, "{solved}");
    assert_eq!(solved["outcome"], "created", "{solved}");
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
}
