//! Issuing tokenised links: URLs, token strength, hashing, properties, expiry and bad input.

use diesel::prelude::*;
use scorekeeper::db::schema::{invitation_properties, invitations};
use serde_json::{json, Value};

use crate::helpers::{assert_error, sha256_hex, spawn_app, spawn_app_with, token_of};

#[tokio::test]
async fn an_invitation_has_a_page_url_and_one_rating_url_per_scale_point_in_order() {
    let app = spawn_app().await;
    for (kind, scale, points) in [
        ("nps", None, (0..=10).collect::<Vec<i64>>()),
        ("csat", Some("thumbs"), vec![0, 1]),
        ("ces", None, (1..=7).collect()),
    ] {
        let mut body = json!({"name": "S", "kind": kind});
        if let Some(scale) = scale {
            body["scale"] = json!(scale);
        }
        let survey = app.create_survey(body).await;
        let inv = app
            .invite(survey["id"].as_str().unwrap(), json!({"channel": "link"}))
            .await;
        let url = inv["url"].as_str().unwrap();
        let token = token_of(url);
        assert_eq!(url, format!("{}/r/{token}", app.address));
        let ratings = inv["rating_urls"].as_array().unwrap();
        let scores: Vec<i64> = ratings
            .iter()
            .map(|r| r["score"].as_i64().unwrap())
            .collect();
        assert_eq!(scores, points);
        for r in ratings {
            assert_eq!(r["url"], format!("{url}?score={}", r["score"]));
        }
        assert_eq!(inv["status"], "sent");
        assert_eq!(inv["channel"], "link");
    }
}

#[tokio::test]
async fn tokens_are_long_url_safe_random_and_stored_only_as_hashes() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(token_of(&app.link(&survey).await));
    }
    for t in &tokens {
        assert!(t.len() * 6 >= 128, "{t} carries fewer than 128 bits");
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{t}"
        );
    }
    let mut unique = tokens.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tokens.len());
    let stored: Vec<String> = invitations::table
        .select(invitations::token_hash)
        .load(&mut *app.conn())
        .unwrap();
    for t in &tokens {
        assert!(!stored.contains(t), "raw token stored");
        assert!(stored.contains(&sha256_hex(t)));
    }
}

#[tokio::test]
async fn public_url_sets_the_base_of_every_link() {
    let app = spawn_app_with(&[("PUBLIC_URL", "https://surveys.example.com/")]).await;
    let survey = app.survey_of("csat").await;
    let inv = app.invite(&survey, json!({})).await;
    let url = inv["url"].as_str().unwrap();
    assert!(url.starts_with("https://surveys.example.com/r/"), "{url}");
    assert!(inv["rating_urls"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://surveys.example.com/r/"));
}

#[tokio::test]
async fn recipient_and_properties_are_kept_and_queryable() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let inv = app
        .invite(
            &survey,
            json!({"channel": "link",
                   "recipient": {"email": "ana@example.com", "name": "Ana", "external_id": "cust-7"},
                   "properties": {"ticket_id": 4211, "agent": "bo", "team": "billing", "vip": true}}),
        )
        .await;
    assert_eq!(
        inv["recipient"],
        json!({"email": "ana@example.com", "name": "Ana", "external_id": "cust-7"})
    );
    assert_eq!(
        inv["properties"],
        json!({"agent": "bo", "team": "billing", "ticket_id": "4211", "vip": "true"})
    );
    // Properties are rows, so later segment queries can filter on them.
    let agents: Vec<String> = invitation_properties::table
        .filter(invitation_properties::key.eq("agent"))
        .select(invitation_properties::value)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(agents, vec!["bo".to_owned()]);
}

#[tokio::test]
async fn bad_invitations_are_rejected_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"channel": "sms"}), "channel"),
        (
            json!({"channel": "email", "recipient": {"email": "a@example.com"}}),
            "channel",
        ),
        (
            json!({"recipient": {"email": "not-an-address"}}),
            "recipient.email",
        ),
        (
            json!({"recipient": {"name": "n".repeat(201)}}),
            "recipient.name",
        ),
        (
            json!({"properties": {"bad key": "x"}}),
            "properties.bad key",
        ),
        (json!({"properties": {"k": {"nested": 1}}}), "properties.k"),
        (
            json!({"properties": {"k": "v".repeat(501)}}),
            "properties.k",
        ),
        (json!({"properties": many}), "properties"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"expires_at": "tomorrow"}), "expires_at"),
        (json!({"properties": "flat"}), "properties"),
    ];
    for (body, field) in cases {
        let res = app
            .post(&format!("/v1/surveys/{survey}/invitations"), &body)
            .await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
    }
    assert_eq!(app.count("invitations"), 0);
    assert_eq!(app.count("invitation_properties"), 0);
}

#[tokio::test]
async fn an_invitation_for_an_unknown_survey_is_404() {
    let app = spawn_app().await;
    let res = app
        .post(
            &format!("/v1/surveys/{}/invitations", uuid::Uuid::new_v4()),
            &json!({}),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    assert_eq!(app.count("invitations"), 0);
}

#[tokio::test]
async fn expired_links_answer_410_to_get_and_post_and_store_nothing() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let inv = app.invite(&survey, json!({"expires_at": expires})).await;
    assert!(inv["expires_at"].is_string());
    let url = inv["url"].as_str().unwrap().to_owned();
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    // Let an hour pass.
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    diesel::update(invitations::table)
        .set(invitations::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    assert_error(app.answer(&url, json!({"score": 9})).await, 410, "expired").await;
    assert_eq!(app.count("responses"), 0);
}
