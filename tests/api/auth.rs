//! API keys, the CLI that makes them, tenant isolation and health.

use serde_json::json;

use crate::helpers::{assert_error, sha256_hex, spawn_app};

#[tokio::test]
async fn v1_without_a_key_or_with_a_wrong_key_is_401_and_nothing_is_stored() {
    let app = spawn_app().await;
    let body = json!({"name": "n", "kind": "nps"});
    let res = app
        .client
        .post(format!("{}/v1/surveys", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert_error(res, 401, "unauthorized").await;
    let wrong = format!("sk_{}", "A".repeat(43));
    assert_error(
        app.post_as("/v1/surveys", &body, &wrong).await,
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        app.post_as("/v1/surveys", &body, "garbage").await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(app.count("surveys"), 0);
}

/// An upload is read only once its key is known good: a wrong key with a broken body is a
/// 401, never the 400 that reading the body first would give (nor a 413 for a large one).
#[tokio::test]
async fn an_upload_with_a_wrong_key_is_401_before_its_body_is_read() {
    let app = spawn_app().await;
    let wrong = format!("sk_{}", "A".repeat(43));
    for path in ["/v1/audiences", "/v1/audiences/some-id/members"] {
        for (kind, body) in [
            ("application/json", "{not json".to_owned()),
            ("text/csv", "email\n".repeat(2 * 1024 * 1024)),
        ] {
            let res = app
                .client
                .post(format!("{}{path}", app.address))
                .bearer_auth(&wrong)
                .header("Content-Type", kind)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_error(res, 401, "unauthorized").await;
        }
    }
    assert_eq!(app.count("audiences"), 0);
}

/// Every JSON call checks its key before its body: a caller without a valid key learns
/// nothing of the API's rules (no 400, 413, 415 or 422) and the body is not read.
#[tokio::test]
async fn a_json_call_with_a_wrong_key_is_401_whatever_its_body() {
    let app = spawn_app().await;
    let wrong = format!("sk_{}", "A".repeat(43));
    let survey = uuid::Uuid::new_v4();
    let paths = [
        "/v1/surveys".to_owned(),
        "/v1/webhooks".to_owned(),
        "/v1/triggers/ticket-solved".to_owned(),
        format!("/v1/surveys/{survey}/invitations"),
    ];
    let bodies = [
        ("application/json", "{not json".to_owned()),
        ("application/json", r#"{"name": 1}"#.to_owned()),
        ("text/plain", "hello".to_owned()),
        ("application/json", "x".repeat(100 * 1024)),
    ];
    for path in &paths {
        for (kind, body) in &bodies {
            let res = app
                .client
                .post(format!("{}{path}", app.address))
                .bearer_auth(&wrong)
                .header("Content-Type", *kind)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                401,
                "{path} {kind} {}",
                &body[..body.len().min(12)]
            );
        }
    }
    assert_eq!(app.count("surveys"), 0);
}

#[tokio::test]
async fn api_keys_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    use diesel::prelude::*;
    use scorekeeper::db::schema::api_keys;
    let hashes: Vec<String> = api_keys::table
        .select(api_keys::key_hash)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(hashes, vec![sha256_hex(&app.api_key)]);
}

#[tokio::test]
async fn cli_api_key_create_prints_a_working_key_on_its_last_line() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scorekeeper"))
        .args(["api-key", "create", "--workspace", "helpdesk"])
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "error")
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().expect("a line").trim().to_owned();
    assert!(key.starts_with("sk_"));
    let res = app.get_as("/v1/surveys", &key).await;
    assert_eq!(res.status(), 200);
    // The same workspace again gets a second key, not a second workspace.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_scorekeeper"))
        .args(["api-key", "create", "--workspace", "helpdesk"])
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(app.count("workspaces"), 2, "acme and helpdesk");
    assert_eq!(app.count("api_keys"), 3);
}

#[tokio::test]
async fn another_workspace_sees_none_of_our_data_and_can_write_none_to_it() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    assert_eq!(app.answer(&url, json!({"score": 9})).await.status(), 201);
    let other = app.other_workspace_key("intruder");
    let invitation = app.invite(&survey, json!({"channel": "link"})).await;
    let invitation = invitation["id"].as_str().unwrap().to_owned();
    let responses: serde_json::Value = app
        .get(&format!("/v1/surveys/{survey}/responses"))
        .await
        .json()
        .await
        .unwrap();
    let response = responses["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1/responses/{response}")).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("/v1/invitations/{invitation}"))
            .await
            .status(),
        200
    );

    for path in [
        format!("/v1/surveys/{survey}"),
        format!("/v1/surveys/{survey}/stats"),
        format!("/v1/surveys/{survey}/responses"),
        format!("/v1/invitations/{invitation}"),
        format!("/v1/responses/{response}"),
    ] {
        assert_error(app.get_as(&path, &other).await, 404, "not_found").await;
    }
    // Suppressions are per workspace: ours cannot be deleted or seen from another.
    let added = app
        .post("/v1/suppressions", &json!({"email": "ours@example.com"}))
        .await;
    assert_eq!(added.status(), 201);
    let res = app
        .client
        .delete(format!("{}/v1/suppressions/ours@example.com", app.address))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    assert_eq!(app.count("suppressions"), 1);
    let res = app
        .post_as(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"channel": "link"}),
            &other,
        )
        .await;
    assert_error(res, 404, "not_found").await;
    assert_eq!(app.count("invitations"), 2);

    let listed: serde_json::Value = app
        .get_as("/v1/surveys", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
    let ours: serde_json::Value = app.get("/v1/surveys").await.json().await.unwrap();
    assert_eq!(ours["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn healthz_checks_the_database_and_the_spec_is_served() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    let res = app
        .client
        .get(format!("{}/openapi.yaml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("openapi:"));
}

#[tokio::test]
async fn unknown_routes_answer_a_json_404() {
    let app = spawn_app().await;
    assert_error(app.get("/v1/nothing-here").await, 404, "not_found").await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let res = app
            .client
            .get(format!("{}/v1/surveys", app.address))
            .header("Authorization", format!("{scheme} {}", app.api_key))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn api_answers_are_never_cached() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let created = app
        .post(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"channel": "link", "recipient": {"email": "ana@example.com"}}),
        )
        .await;
    let missing = app
        .get("/v1/invitations/00000000-0000-7000-8000-000000000000")
        .await;
    let listed = app.get(&format!("/v1/surveys/{survey}/responses")).await;
    for res in [created, missing, listed] {
        assert_eq!(res.headers()["cache-control"], "no-store", "{}", res.url());
    }
}

#[tokio::test]
async fn the_docs_page_is_served_with_every_asset_built_in() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "docs/");
    let page = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    let external = regex::Regex::new(r#"(src|href)\s*=\s*["']?(https?:)?//"#).unwrap();
    assert!(
        !external.is_match(&html),
        "the page loads nothing from elsewhere:\n{html}"
    );
    // Every script and style the page names is served from here.
    let assets = regex::Regex::new(r#"(?:src|href)="\./?([^"]+)""#).unwrap();
    let names: Vec<String> = assets
        .captures_iter(&html)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".js")), "{names:?}");
    for name in names {
        let res = app
            .client
            .get(format!("{}/docs/{name}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
    let init = app
        .client
        .get(format!("{}/docs/swagger-initializer.js", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        init.contains("openapi.yaml"),
        "the page reads our spec: {init}"
    );
    let missing = app.get("/docs/no-such-file.js").await;
    assert_error(missing, 404, "not_found").await;
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(
            reqwest::Method::TRACE,
            format!("{}/v1/surveys", app.address),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "POST, GET");
    assert_error(res, 405, "method_not_allowed").await;
    let res = app
        .client
        .delete(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "GET");
    assert_eq!(res.status(), 405);
}
