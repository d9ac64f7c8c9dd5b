//! Rating challenges: the raw answer and score never change, the score excluding accepted
//! challenges is right overall, per group, per bucket and under filters, the audit trail is
//! complete, and a decision reaches webhooks.

use serde_json::{json, Value};

use crate::helpers::{assert_error, group, spawn_app, spawn_app_with, TestApp};
use crate::webhooks::{subscribe, verify, Receiver, FAST};

/// Issues a link invitation with `properties` and answers it with `score`; returns the
/// response's id.
async fn answered(app: &TestApp, survey: &str, score: i64, properties: Value) -> String {
    let external_id = uuid::Uuid::new_v4().to_string();
    let inv = app
        .invite(
            survey,
            json!({"channel": "link", "recipient": {"external_id": external_id},
                   "properties": properties}),
        )
        .await;
    let url = inv["url"].as_str().unwrap();
    assert_eq!(app.answer(url, json!({"score": score})).await.status(), 201);
    let res = app
        .get(&format!("/v1/responses?external_id={external_id}"))
        .await;
    let body: Value = res.json().await.unwrap();
    body["data"][0]["id"].as_str().unwrap().to_owned()
}

async fn file(app: &TestApp, response: &str, reason: &str) -> (u16, Value) {
    let res = app
        .post(
            &format!("/v1/responses/{response}/challenges"),
            &json!({"reason": reason, "challenged_by": "bo@support.example",
                    "note": "angry about the refund policy, not my handling"}),
        )
        .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn resolve(app: &TestApp, challenge: &Value, decision: &str) -> (u16, Value) {
    let id = challenge["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/challenges/{id}/resolve"),
            &json!({"decision": decision, "resolved_by": "lead@support.example",
                    "note": "checked the ticket"}),
        )
        .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

fn adjusted(figures: &Value) -> &Value {
    &figures["score_excluding_accepted_challenges"]
}

#[tokio::test]
async fn an_accepted_challenge_leaves_the_raw_score_and_answer_alone_and_only_the_adjusted_score_excludes_it(
) {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let bo = json!({"agent": "bo", "ticket_id": "1"});
    let policy = answered(&app, &survey, 1, bo.clone()).await;
    let rude = answered(&app, &survey, 2, bo.clone()).await;
    answered(&app, &survey, 5, bo).await;
    answered(&app, &survey, 4, json!({"agent": "al", "ticket_id": "2"})).await;
    let before = app.stats(&survey).await;
    let response_before: Value = app
        .get(&format!("/v1/responses/{policy}"))
        .await
        .json()
        .await
        .unwrap();

    let (status, accepted) = file(&app, &policy, "company_policy").await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["status"], "open");
    assert_eq!(accepted["score"], 1);
    // Open challenges change nothing yet.
    let open = app.stats(&survey).await;
    assert_eq!(adjusted(&open)["excluded_responses"], 0);
    assert_eq!(adjusted(&open)["score"], open["score"]);
    let (status, accepted) = resolve(&app, &accepted, "accept").await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    let (_, rejected) = file(&app, &rude, "customer_mistake").await;
    let (status, rejected) = resolve(&app, &rejected, "reject").await;
    assert_eq!((status, &rejected["status"]), (200, &json!("rejected")));

    // The answer itself and the raw figures never change.
    let response_after: Value = app
        .get(&format!("/v1/responses/{policy}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(response_after, response_before);
    let after = app.stats(&survey).await;
    for field in ["responses", "score", "confidence_interval", "distribution"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["score"], 50.0);

    // Adjusted: 2 satisfied of the 3 answers left, with the interval 3 answers give.
    let adj = adjusted(&after);
    assert_eq!(adj["responses"], 3);
    assert_eq!(adj["excluded_responses"], 1);
    let score = adj["score"].as_f64().unwrap();
    assert!((score - 200.0 / 3.0).abs() < 1e-9, "{adj}");
    assert_eq!(adj["low_sample"], true);
    // The same answers without the excluded one, in a survey of their own, score the same.
    let twin = app.survey_of("csat").await;
    for s in [2, 5, 4] {
        answered(&app, &twin, s, json!({})).await;
    }
    let twin = app.stats(&twin).await;
    assert_eq!(adj["score"], twin["score"]);
    assert_eq!(adj["confidence_interval"], twin["confidence_interval"]);
    assert_eq!(adj["margin_of_error"], twin["margin_of_error"]);
    assert!(after["rule"]["challenges"]
        .as_str()
        .unwrap()
        .contains("score_excluding_accepted_challenges"));

    // Per agent (from the rollups): only bo's group loses the answer.
    let by_agent = app.stats_query(&survey, "?group_by=agent").await;
    let (bo, al) = (group(&by_agent, "bo"), group(&by_agent, "al"));
    assert_eq!(
        (bo["responses"].as_u64(), bo["score"].as_f64()),
        (Some(3), Some(100.0 / 3.0))
    );
    assert_eq!(adjusted(bo)["responses"], 2);
    assert_eq!(adjusted(bo)["score"], 50.0);
    assert_eq!(adjusted(al)["excluded_responses"], 0);
    assert_eq!(adjusted(al)["score"], al["score"]);
    // Filtered on a segment, and on a property that is not one (the exact path).
    let bo_only = app.stats_query(&survey, "?filter[agent]=bo").await;
    assert_eq!(adjusted(&bo_only)["excluded_responses"], 1);
    let ticket = app.stats_query(&survey, "?filter[ticket_id]=2").await;
    assert_eq!(adjusted(&ticket)["excluded_responses"], 0);
    let ticket = app.stats_query(&survey, "?filter[ticket_id]=1").await;
    assert_eq!(adjusted(&ticket)["excluded_responses"], 1);
    assert_eq!(adjusted(&ticket)["responses"], 2);
    // In the trend, in the bucket the answer belongs to.
    let from = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT00:00:00Z");
    let trend = app
        .stats_query(&survey, &format!("?interval=day&from={from}"))
        .await;
    let excluded: Vec<u64> = trend["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| adjusted(b)["excluded_responses"].as_u64().unwrap())
        .collect();
    assert_eq!(excluded.iter().sum::<u64>(), 1, "{excluded:?}");
    assert_eq!(excluded.last(), Some(&1));
    // Workspace-wide stats see it too.
    let workspace: Value = app.get("/v1/stats?kind=csat").await.json().await.unwrap();
    assert_eq!(adjusted(&workspace)["excluded_responses"], 1);
}

#[tokio::test]
async fn the_audit_trail_keeps_every_filing_and_decision_and_a_decision_is_final() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let response = answered(&app, &survey, 2, json!({})).await;

    let (_, first) = file(&app, &response, "product_issue").await;
    let (status, dup) = file(&app, &response, "other").await;
    assert_eq!(status, 409, "one open challenge per response: {dup}");
    let (_, rejected) = resolve(&app, &first, "reject").await;
    let (status, again) = resolve(&app, &first, "accept").await;
    assert_eq!(status, 409, "a decision is final: {again}");
    // After a rejection, a new challenge may be filed (new facts), and accepted.
    let (status, second) = file(&app, &response, "wrong_agent").await;
    assert_eq!(status, 201, "{second}");
    let (_, accepted) = resolve(&app, &second, "accept").await;
    let (status, _) = file(&app, &response, "other").await;
    assert_eq!(status, 409, "an accepted challenge stands");

    let trail = &rejected["trail"];
    assert_eq!(trail.as_array().unwrap().len(), 2);
    assert_eq!(trail[0]["action"], "filed");
    assert_eq!(trail[0]["by"], "bo@support.example");
    assert_eq!(
        trail[0]["note"],
        "angry about the refund policy, not my handling"
    );
    assert_eq!(trail[1]["action"], "rejected");
    assert_eq!(trail[1]["by"], "lead@support.example");
    assert_eq!(trail[1]["note"], "checked the ticket");
    assert!(trail[1]["api_key_id"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
    assert!(trail[0]["at"].as_str() <= trail[1]["at"].as_str());
    assert_eq!(rejected["resolved_by"], "lead@support.example");
    assert!(rejected["resolved_at"].is_string());

    // The whole trail is readable, filtered, and nothing was lost.
    let all: Value = app.get("/v1/challenges").await.json().await.unwrap();
    let ids: Vec<&Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&first["id"], &second["id"]]);
    let only: Value = app
        .get("/v1/challenges?status=accepted")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    assert_eq!(only["data"][0], accepted);
    let paged: Value = app
        .get("/v1/challenges?limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paged["data"][0]["id"], first["id"]);
    let cursor = paged["next_cursor"].as_str().unwrap();
    let next: Value = app
        .get(&format!("/v1/challenges?limit=1&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["data"][0]["id"], second["id"]);
    assert!(next["next_cursor"].is_null());
    let one: Value = app
        .get(&format!("/v1/challenges/{}", first["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, rejected);
    assert_eq!(app.count("challenge_events"), 4);

    // Another workspace sees none of it and cannot act on it.
    let other = app.other_workspace_key("other");
    let id = second["id"].as_str().unwrap();
    let res = app.get_as(&format!("/v1/challenges/{id}"), &other).await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .post_as(
            &format!("/v1/challenges/{}/resolve", first["id"].as_str().unwrap()),
            &json!({"decision": "accept", "resolved_by": "x"}),
            &other,
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .post_as(
            &format!("/v1/responses/{response}/challenges"),
            &json!({"reason": "other", "challenged_by": "x"}),
            &other,
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let theirs: Value = app
        .get_as("/v1/challenges", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"], json!([]));
}

#[tokio::test]
async fn bad_challenges_are_refused_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let response = answered(&app, &survey, 1, json!({})).await;
    let path = format!("/v1/responses/{response}/challenges");
    for (body, field) in [
        (
            json!({"reason": "bad_luck", "challenged_by": "bo"}),
            "reason",
        ),
        (
            json!({"reason": "other", "challenged_by": "  "}),
            "challenged_by",
        ),
        (
            json!({"reason": "other", "challenged_by": "bo", "note": "x".repeat(2001)}),
            "note",
        ),
        (
            json!({"reason": "other", "challenged_by": "b\u{1}o"}),
            "challenged_by",
        ),
    ] {
        let res = app.post(&path, &body).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let res = app
        .post(
            &path,
            &json!({"reason": "other", "challenged_by": "bo", "extra": 1}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            &format!("/v1/responses/{}/challenges", uuid::Uuid::now_v7()),
            &json!({"reason": "other", "challenged_by": "bo"}),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app.get("/v1/challenges?status=closed").await;
    assert_error(res, 422, "invalid_field").await;
    assert_eq!(app.count("challenges"), 0);

    let (_, challenge) = file(&app, &response, "other").await;
    let id = challenge["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/challenges/{id}/resolve"),
            &json!({"decision": "approve", "resolved_by": "lead"}),
        )
        .await;
    let err = assert_error(res, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "decision");
    assert_eq!(app.count("challenge_events"), 1);
}

#[tokio::test]
async fn a_decision_is_sent_to_webhooks_as_challenge_resolved() {
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    let app = spawn_app_with(&env).await;
    let receiver = Receiver::start(vec![]);
    let hook = subscribe(&app, &receiver.url, &["challenge.resolved"]).await;
    let survey = app.survey_of("csat").await;
    let response = answered(&app, &survey, 1, json!({"agent": "bo"})).await;
    let (_, challenge) = file(&app, &response, "other_team").await;
    let (_, decided) = resolve(&app, &challenge, "accept").await;

    let hits = receiver.wait_for(1).await;
    assert_eq!(
        hits.len(),
        1,
        "filing sends nothing; the decision sends one event"
    );
    assert!(verify(hook["secret"].as_str().unwrap(), &hits[0]));
    let event: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!(event["type"], "challenge.resolved");
    assert_eq!(event["data"], decided);
    assert_eq!(event["data"]["trail"].as_array().unwrap().len(), 2);
}

/// A challenge names the invitation its answer came from (and so the person): an anonymous
/// survey's answers cannot be challenged, and nothing is stored.
#[tokio::test]
async fn an_anonymous_answer_cannot_be_challenged() {
    let app = spawn_app().await;
    let pulse = app.survey_of("esat").await;
    for score in [1, 2, 3, 4, 5] {
        let url = app.link(&pulse).await;
        assert_eq!(
            app.answer(&url, json!({"score": score})).await.status(),
            201
        );
    }
    let list: Value = app
        .get(&format!("/v1/surveys/{pulse}/responses"))
        .await
        .json()
        .await
        .unwrap();
    let response = list["data"][0]["id"].as_str().unwrap();
    let (status, body) = file(&app, response, "other").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anonymous"),
        "{body}"
    );
    assert!(body.get("invitation_id").is_none(), "{body}");
    assert_eq!(app.count("challenges"), 0);
}
