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

#[tokio::test]
async fn responses_export_as_csv_with_properties_filters_and_no_formulas() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    for i in 0..1_300 {
        let team = if i % 2 == 0 { "billing" } else { "sales" };
        let comment = if i == 0 {
            "=HYPERLINK(\"http://evil\")"
        } else {
            "fine"
        };
        let inv = app
            .invite(
                &survey,
                json!({"properties": {"team": team, "agent": format!("a{}", i % 3)}}),
            )
            .await;
        if i % 5 != 4 {
            let res = app
                .answer(
                    inv["url"].as_str().unwrap(),
                    json!({"score": 5, "comment": comment}),
                )
                .await;
            assert_eq!(res.status(), 201);
        }
    }
    let res = app
        .get(&format!("/v1/surveys/{survey}/responses.csv"))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(&headers[..2], ["response_id", "invitation_id"]);
    assert_eq!(&headers[headers.len() - 2..], ["agent", "team"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        1_040,
        "every answered invitation, across pages of 1,000"
    );
    let comment = headers.iter().position(|h| h == "comment").unwrap();
    assert_eq!(&rows[0][comment], "'=HYPERLINK(\"http://evil\")");
    let mut ids: Vec<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "no row twice");
    // The same export through content negotiation, filtered.
    let res = app
        .client
        .get(format!(
            "{}/v1/surveys/{survey}/responses?filter[team]=billing",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    let team = headers.iter().position(|h| h == "team").unwrap();
    let billing: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(billing.len(), 520);
    assert!(billing.iter().all(|r| &r[team] == "billing"));
}
