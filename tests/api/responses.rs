//! The responses list: contents and cursor pagination.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn responses_carry_score_comment_recipient_properties_and_timestamps() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let inv = app
        .invite(&survey, json!({"recipient": {"email": "c@example.com"}, "properties": {"agent": "ana", "ticket_id": "T-9"}}))
        .await;
    let url = inv["url"].as_str().unwrap();
    assert_eq!(
        app.answer(url, json!({"score": 5, "comment": "Lovely"}))
            .await
            .status(),
        201
    );
    let body: Value = app
        .get(&format!("/v1/surveys/{survey}/responses"))
        .await
        .json()
        .await
        .unwrap();
    let r = &body["data"][0];
    assert_eq!(r["score"], 5);
    assert_eq!(r["comment"], "Lovely");
    assert_eq!(r["invitation_id"], inv["id"]);
    assert_eq!(r["recipient"]["email"], "c@example.com");
    assert_eq!(r["properties"], json!({"agent": "ana", "ticket_id": "T-9"}));
    for field in ["created_at", "updated_at", "invited_at"] {
        let at = r[field].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
            "{field}: {at}"
        );
    }
    assert_eq!(body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn responses_page_through_every_answer_exactly_once() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    for s in 0..7 {
        let url = app.link(&survey).await;
        app.answer(&url, json!({"score": s})).await;
    }
    let mut seen = Vec::new();
    let mut path = format!("/v1/surveys/{survey}/responses?limit=3");
    loop {
        let page: Value = app.get(&path).await.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|r| r["score"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/surveys/{survey}/responses?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
    let err = assert_error(
        app.get(&format!("/v1/surveys/{survey}/responses?limit=100000"))
            .await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(err["error"]["field"], "limit");
}
