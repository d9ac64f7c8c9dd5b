//! The embeddable widget's server side: its script, origin-locked CORS calls, sampling, the
//! token mode, rate limits, and the same answer rules as the survey page. (The widget itself
//! runs in real Chromium in `tests/browser/widget_test.py`.)

use std::io::Write;

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp};

const HOST: &str = "https://help.example.com";

async fn widget_survey(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({"name": "Help centre", "kind": "csat", "allowed_origins": [HOST]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_survey(body).await
}

/// A widget call as a browser on `origin` makes it (text/plain JSON, no preflight).
async fn call(app: &TestApp, path: &str, origin: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}{path}", app.address))
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(body.to_string());
    if let Some(origin) = origin {
        req = req.header("Origin", origin);
    }
    req.send().await.unwrap()
}

fn impressions(key: &str) -> String {
    format!("/w/{key}/impressions")
}

#[tokio::test]
async fn an_allowed_page_shows_the_survey_records_a_score_then_a_comment_and_reads_it_back() {
    let app = spawn_app().await;
    let survey = widget_survey(&app, json!({"brand_color": "#AA3300", "locale": "de"})).await;
    let (id, key) = (
        survey["id"].as_str().unwrap(),
        survey["public_key"].as_str().unwrap(),
    );
    assert!(key.starts_with("pk_"));
    assert_eq!(survey["allowed_origins"], json!([HOST]));
    assert_eq!(
        survey["widget"],
        json!({"once_per_days": 90, "sample_percent": 100})
    );

    let res = call(
        &app,
        &impressions(key),
        Some(HOST),
        json!({"visitor": {"id": "u-1", "email": "Ann@Example.com", "name": "Ann"},
               "properties": {"agent": "bo", "page": "/help/refunds"}}),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["access-control-allow-origin"], HOST);
    assert_eq!(res.headers()["vary"], "Origin");
    let shown: Value = res.json().await.unwrap();
    assert_eq!(shown["show"], true);
    assert_eq!(shown["locale"], "de");
    assert_eq!(shown["strings"]["send"], "Senden");
    assert_eq!(shown["survey"]["brand_color"], "#aa3300");
    assert_eq!(shown["survey"]["points"].as_array().unwrap().len(), 5);
    assert_eq!(shown["survey"]["points"][4]["label"], "Sehr zufrieden");
    assert_eq!(shown["once_per_days"], 90);
    let token = shown["token"].as_str().unwrap();
    // Shown counts as delivered and opened: the response rate is answers ÷ impressions.
    let stats = app.stats(id).await;
    assert_eq!(stats["invitations"], 1);
    assert_eq!(stats["funnel"]["opened"], 1);

    let answer = format!("/w/{key}/answers/{token}");
    let res = call(&app, &answer, Some(HOST), json!({"comment": "first?"})).await;
    assert_error(res, 409, "conflict").await;
    let res = call(&app, &answer, Some(HOST), json!({"score": 6})).await;
    assert_error(res, 422, "invalid_field").await;
    let res = call(&app, &answer, Some(HOST), json!({"score": 4})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["access-control-allow-origin"], HOST);
    let res = call(
        &app,
        &answer,
        Some(HOST),
        json!({"comment": "<b>quick</b> help"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let stats = app.stats(id).await;
    assert_eq!(
        (stats["responses"].as_i64(), stats["score"].as_f64()),
        (Some(1), Some(100.0))
    );
    assert_eq!(stats["funnel"]["commented"], 1);
    let list: Value = app
        .get(&format!("/v1/surveys/{id}/responses"))
        .await
        .json()
        .await
        .unwrap();
    let response = &list["data"][0];
    assert_eq!(response["comment"], "<b>quick</b> help", "stored as text");
    assert_eq!(response["properties"]["agent"], "bo");
    assert_eq!(response["recipient"]["email"], "Ann@Example.com");
    assert_eq!(response["recipient"]["external_id"], "u-1");

    // The same token shows the answer again when the page is reloaded.
    let res = call(&app, &impressions(key), Some(HOST), json!({"token": token})).await;
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["answer"]["score"], 4);
    assert_eq!(app.stats(id).await["invitations"], 1);
}

#[tokio::test]
async fn another_origin_or_no_origin_is_refused_with_403_and_writes_nothing() {
    let app = spawn_app().await;
    let survey = widget_survey(&app, json!({})).await;
    let key = survey["public_key"].as_str().unwrap();
    let shown: Value = call(&app, &impressions(key), Some(HOST), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let answer = format!("/w/{key}/answers/{}", shown["token"].as_str().unwrap());
    let before = (app.count("invitations"), app.count("responses"));
    for origin in [
        Some("https://evil.example.com"),
        Some("http://help.example.com"),
        Some("https://help.example.com.evil.com"),
        Some("null"),
        None,
    ] {
        for (path, body) in [
            (impressions(key), json!({})),
            (answer.clone(), json!({"score": 5})),
        ] {
            let res = call(&app, &path, origin, body).await;
            assert!(
                res.headers().get("access-control-allow-origin").is_none(),
                "{origin:?}"
            );
            assert_error(res, 403, "forbidden").await;
        }
        let res = app
            .client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}{}", app.address, impressions(key)),
            )
            .header("Origin", origin.unwrap_or(""))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    assert_eq!((app.count("invitations"), app.count("responses")), before);
    // The preflight a JSON request triggers is answered for the allowed origin.
    let res = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{}", app.address, impressions(key)),
        )
        .header("Origin", HOST)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], HOST);
    assert_eq!(res.headers()["access-control-allow-methods"], "POST");
    // Unknown and malformed keys are 404.
    for key in ["pk_unknown", "not-a-key"] {
        let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
        assert_eq!(res.status(), 404);
    }
}

#[tokio::test]
async fn a_sampled_out_visitor_sees_nothing_and_nothing_is_written() {
    let app = spawn_app().await;
    let survey = widget_survey(
        &app,
        json!({"widget": {"sample_percent": 0, "once_per_days": 30}}),
    )
    .await;
    let key = survey["public_key"].as_str().unwrap();
    for _ in 0..20 {
        let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
        assert_eq!(res.status(), 200);
        let hidden: Value = res.json().await.unwrap();
        assert_eq!(
            hidden,
            json!({"show": false, "reason": "sampled_out", "once_per_days": 30})
        );
    }
    assert_eq!(app.count("invitations"), 0);
    // Everyone once the sample is 100%.
    let path = format!("/v1/surveys/{}", survey["id"].as_str().unwrap());
    let res = app
        .patch(&path, &json!({"widget": {"sample_percent": 100}}))
        .await;
    assert_eq!(res.status(), 200);
    let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_token_from_the_api_is_answered_through_the_widget_without_a_new_invitation() {
    let app = spawn_app().await;
    let survey = widget_survey(&app, json!({})).await;
    let (id, key) = (
        survey["id"].as_str().unwrap(),
        survey["public_key"].as_str().unwrap(),
    );
    let inv = app
        .invite(
            id,
            json!({"channel": "widget", "properties": {"ticket_id": "T-9"}}),
        )
        .await;
    assert_eq!(inv["channel"], "widget");
    let token = inv["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // Not delivered until a page shows it.
    assert_eq!(app.stats(id).await["funnel"]["delivered"], 0);
    let res = call(&app, &impressions(key), Some(HOST), json!({"token": token})).await;
    assert_eq!(res.status(), 201);
    let shown: Value = res.json().await.unwrap();
    assert_eq!(shown["token"], token.as_str());
    assert_eq!(shown["answer"], Value::Null);
    let res = call(
        &app,
        &format!("/w/{key}/answers/{token}"),
        Some(HOST),
        json!({"score": 2}),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.count("invitations"), 1);
    let stats = app.stats(id).await;
    assert_eq!(
        (
            stats["funnel"]["delivered"].as_i64(),
            stats["responses"].as_i64()
        ),
        (Some(1), Some(1))
    );
    // Another survey's key cannot reach this token, even from its own allowed origin.
    let other = widget_survey(&app, json!({})).await;
    let other_key = other["public_key"].as_str().unwrap();
    let res = call(
        &app,
        &impressions(other_key),
        Some(HOST),
        json!({"token": token}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = call(
        &app,
        &format!("/w/{other_key}/answers/{token}"),
        Some(HOST),
        json!({"score": 5}),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.stats(id).await["score"], 0.0);
}

#[tokio::test]
async fn rotating_the_public_key_retires_the_old_one_and_origins_are_validated() {
    let app = spawn_app().await;
    let survey = widget_survey(&app, json!({})).await;
    let old = survey["public_key"].as_str().unwrap();
    let path = format!("/v1/surveys/{}", survey["id"].as_str().unwrap());
    let changed: Value = app
        .patch(
            &path,
            &json!({"rotate_public_key": true, "allowed_origins": ["HTTPS://Shop.Example.com/"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new = changed["public_key"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        changed["allowed_origins"],
        json!(["https://shop.example.com"])
    );
    let res = call(
        &app,
        &impressions(old),
        Some("https://shop.example.com"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = call(&app, &impressions(new), Some(HOST), json!({})).await;
    assert_eq!(res.status(), 403, "the old origin was replaced");
    let res = call(
        &app,
        &impressions(new),
        Some("https://shop.example.com"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 201);

    for (body, field) in [
        (
            json!({"allowed_origins": ["https://a.example/path"]}),
            "allowed_origins[0]",
        ),
        (json!({"allowed_origins": ["*"]}), "allowed_origins[0]"),
        (
            json!({"widget": {"sample_percent": 101}}),
            "widget.sample_percent",
        ),
        (
            json!({"widget": {"once_per_days": -1}}),
            "widget.once_per_days",
        ),
        (json!({"brand_color": "red"}), "brand_color"),
        (json!({"locale": "xx"}), "locale"),
        (json!({"widget": [null, null]}), "widget"),
    ] {
        let err = assert_error(app.patch(&path, &body).await, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn widget_calls_are_rate_limited_per_address_and_per_survey_key_with_retry_after() {
    let app = spawn_app_with(&[("PUBLIC_RATE_PER_MINUTE_IP", "8")]).await;
    let survey = widget_survey(&app, json!({})).await;
    let key = survey["public_key"].as_str().unwrap();
    // A burst of a quarter of the minute's rate, then 429.
    for _ in 0..2 {
        let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
        assert_eq!(res.status(), 201);
    }
    let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_error(res, 429, "rate_limited").await;
    assert_eq!(app.count("invitations"), 2, "a refused call writes nothing");

    let app = spawn_app_with(&[("PUBLIC_RATE_PER_MINUTE_KEY", "4")]).await;
    let survey = widget_survey(&app, json!({})).await;
    let key = survey["public_key"].as_str().unwrap();
    // Calls from another site's pages are refused before they spend the survey's budget.
    for _ in 0..3 {
        let res = call(
            &app,
            &impressions(key),
            Some("https://elsewhere.example"),
            json!({}),
        )
        .await;
        assert_eq!(res.status(), 403);
    }
    let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
    assert_eq!(res.status(), 201);
    let res = call(&app, &impressions(key), Some(HOST), json!({})).await;
    assert_eq!(res.status(), 429);
    // Another survey's key has its own budget.
    let other = widget_survey(&app, json!({})).await;
    let res = call(
        &app,
        &impressions(other["public_key"].as_str().unwrap()),
        Some(HOST),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn the_script_is_small_cacheable_and_versioned() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/widget.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let source = res.bytes().await.unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&source).unwrap();
    let gzipped = gz.finish().unwrap().len();
    println!("widget.js: {} bytes, {gzipped} gzipped", source.len());
    assert!(gzipped < 6 * 1024, "widget.js is {gzipped} bytes gzipped");
    let res = app
        .client
        .get(format!("{}/widget.js", app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let version = etag.trim_matches('"');
    let res = app
        .client
        .get(format!("{}/widget/{version}/widget.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let res = app
        .client
        .get(format!("{}/widget/0000000000000000/widget.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_survey_page_speaks_the_survey_language_with_the_same_labels_as_the_widget() {
    let app = spawn_app().await;
    let survey = widget_survey(&app, json!({"locale": "fr"})).await;
    let inv = app.invite(survey["id"].as_str().unwrap(), json!({})).await;
    let url = inv["rating_urls"][4]["url"].as_str().unwrap();
    let page = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<html lang="fr">"#), "{page}");
    assert!(page.contains("Très satisfait"));
    assert!(
        page.contains("Envoyer ma réponse : 5 (Très satisfait)"),
        "{page}"
    );
    assert!(!page.contains("Very satisfied"));
    let shown: Value = call(
        &app,
        &impressions(survey["public_key"].as_str().unwrap()),
        Some(HOST),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(shown["survey"]["points"][4]["label"], "Très satisfait");
}
