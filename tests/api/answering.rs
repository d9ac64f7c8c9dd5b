//! The public survey page: GETs record nothing, POSTs record one response per link,
//! scanners are flagged, and bad answers store nothing.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

async fn responses(app: &TestApp, survey: &str) -> Vec<Value> {
    let body: Value = app
        .get(&format!("/v1/surveys/{survey}/responses"))
        .await
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn following_every_rating_link_records_nothing() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let inv = app.invite(&survey, json!({})).await;
    let before = app.stats(&survey).await;
    let scanners = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
        "Mozilla/5.0 (compatible; Mimecast)",
    ];
    for r in inv["rating_urls"].as_array().unwrap() {
        for ua in scanners {
            let res = app
                .client
                .get(r["url"].as_str().unwrap())
                .header("user-agent", ua)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
    }
    assert_eq!(app.stats(&survey).await, before);
    assert_eq!(app.count("responses"), 0);
    assert!(responses(&app, &survey).await.is_empty());
}

#[tokio::test]
async fn a_rating_link_shows_an_accessible_self_contained_page_with_its_score_chosen() {
    let app = spawn_app().await;
    let survey = app
        .create_survey(
            json!({"name": "S", "kind": "nps", "question": "Would you recommend <Acme>?"}),
        )
        .await;
    let inv = app.invite(survey["id"].as_str().unwrap(), json!({})).await;
    let res = app
        .client
        .get(inv["rating_urls"][7]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let csp = res.headers()["content-security-policy"].clone();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(
        html.contains("Would you recommend &lt;Acme&gt;?"),
        "question is escaped"
    );
    assert!(
        html.contains(r#"value="7" aria-pressed="true""#),
        "score 7 is chosen"
    );
    assert_eq!(html.matches(r#"aria-pressed="true""#).count(), 1);
    assert_eq!(
        html.matches(r#"name="score" value="#).count(),
        11 + 1,
        "eleven choices and a send button"
    );
    assert!(html.contains("<noscript>"), "works without script");
    // Only the page's own script may run: its nonce, not 'unsafe-inline'.
    let csp = csp.to_str().unwrap().to_owned();
    let nonce = regex::Regex::new(r"script-src 'nonce-([A-Za-z0-9_-]{16,})'")
        .unwrap()
        .captures(&csp)
        .unwrap_or_else(|| panic!("no script nonce in {csp}"))[1]
        .to_owned();
    assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
    assert!(html.contains(&format!(r#"<script nonce="{nonce}">"#)));
    for external in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(
            !html.contains(external),
            "page loads an external asset: {external}"
        );
    }
}

#[tokio::test]
async fn posting_json_records_the_answer_and_the_stats_change() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    let res = app.answer(&url, json!({"score": 10})).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["score"], 10);
    let stats = app.stats(&survey).await;
    assert_eq!(stats["responses"], 1);
    assert_eq!(stats["score"], 100.0);
    assert_eq!(stats["distribution"]["10"], 1);
    let listed = responses(&app, &survey).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["suspect"], false);
    // The invitation is now answered.
    use diesel::prelude::*;
    use scorekeeper::db::schema::invitations;
    let status: String = invitations::table
        .select(invitations::status)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(status, "responded");
}

#[tokio::test]
async fn a_form_post_redirects_to_the_page_which_then_offers_the_comment_box() {
    let app = spawn_app().await;
    let survey = app
        .create_survey(
            json!({"name": "S", "kind": "csat", "comment_prompt": "What made the difference?"}),
        )
        .await;
    let survey = survey["id"].as_str().unwrap().to_owned();
    let url = app.link(&survey).await;
    let res = app.answer_form(&url, &[("score", "4")]).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let next = reqwest::Url::parse(&url).unwrap().join(&location).unwrap();
    assert_eq!(next.as_str(), url);
    let html = app
        .client
        .get(next)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Thank you"));
    assert!(html.contains("What made the difference?"));
    assert!(html.contains("<textarea"));

    app.age_answer(&url);
    let res = app
        .answer_form(&url, &[("score", "4"), ("comment", "Quick & kind")])
        .await;
    assert_eq!(res.status(), 303);
    let listed = responses(&app, &survey).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["score"], 4);
    assert_eq!(listed[0]["comment"], "Quick & kind");
    let html = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Quick &amp; kind"));
}

#[tokio::test]
async fn one_response_per_link_a_later_post_replaces_the_score_or_adds_a_comment() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    assert_eq!(app.answer(&url, json!({"score": 3})).await.status(), 201);
    app.age_answer(&url);
    assert_eq!(app.answer(&url, json!({"score": 9})).await.status(), 200);
    app.age_answer(&url);
    assert_eq!(
        app.answer(&url, json!({"comment": "Fixed fast"}))
            .await
            .status(),
        200
    );
    assert_eq!(app.count("responses"), 1);
    let listed = responses(&app, &survey).await;
    assert_eq!(
        (listed[0]["score"].clone(), listed[0]["comment"].clone()),
        (json!(9), json!("Fixed fast"))
    );
    assert_eq!(listed[0]["suspect"], false);
    let stats = app.stats(&survey).await;
    assert_eq!(
        (
            stats["responses"].clone(),
            stats["promoters"].clone(),
            stats["detractors"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
}

#[tokio::test]
async fn a_scanner_user_agent_is_kept_but_flagged_and_left_out_of_scores() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    let res = app
        .client
        .post(&url)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0",
        )
        .json(&json!({"score": 0}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let stats = app.stats(&survey).await;
    assert_eq!(
        (
            stats["responses"].clone(),
            stats["suspect_responses"].clone(),
            stats["score"].clone()
        ),
        (json!(0), json!(1), Value::Null)
    );
    let listed = responses(&app, &survey).await;
    assert_eq!(listed[0]["suspect"], true);
    assert_eq!(listed[0]["suspect_reason"], "scanner_user_agent");
}

#[tokio::test]
async fn several_scores_in_quick_succession_are_flagged_until_a_person_answers_later() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    for score in 0..=10 {
        assert!(app
            .answer(&url, json!({"score": score}))
            .await
            .status()
            .is_success());
    }
    let stats = app.stats(&survey).await;
    assert_eq!(
        (
            stats["responses"].clone(),
            stats["suspect_responses"].clone()
        ),
        (json!(0), json!(1))
    );
    assert_eq!(
        responses(&app, &survey).await[0]["suspect_reason"],
        "rapid_score_changes"
    );

    // Minutes later the recipient opens the email and answers.
    app.age_answer(&url);
    assert_eq!(app.answer(&url, json!({"score": 8})).await.status(), 200);
    let stats = app.stats(&survey).await;
    assert_eq!(
        (
            stats["responses"].clone(),
            stats["suspect_responses"].clone(),
            stats["passives"].clone()
        ),
        (json!(1), json!(0), json!(1))
    );
}

#[tokio::test]
async fn out_of_scale_and_malformed_answers_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nps = app.link(&app.survey_of("nps").await).await;
    let csat = app.link(&app.survey_of("csat").await).await;
    let thumbs_survey = app
        .create_survey(json!({"name": "t", "kind": "csat", "scale": "thumbs"}))
        .await;
    let thumbs = app.link(thumbs_survey["id"].as_str().unwrap()).await;
    for (url, body) in [
        (&nps, json!({"score": 11})),
        (&nps, json!({"score": -1})),
        (&nps, json!({"score": 9.5})),
        (&nps, json!({"score": "nine"})),
        (&nps, json!({})),
        (&nps, json!({"score": 9, "comment": "x".repeat(5001)})),
        (&csat, json!({"score": 0})),
        (&csat, json!({"score": 6})),
        (&thumbs, json!({"score": 2})),
    ] {
        let res = app.answer(url, body.clone()).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert!(
            ["score", "comment"].contains(&err["error"]["field"].as_str().unwrap()),
            "{body} → {err}"
        );
    }
    let res = app.answer_form(&nps, &[("score", "11")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("0 to 10"));
    let res = app
        .client
        .post(&nps)
        .header("content-type", "application/json")
        .body("{\"score\":")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "malformed_body").await;
    let res = app
        .client
        .post(&nps)
        .header("content-type", "text/plain")
        .body("9")
        .send()
        .await
        .unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
    assert_eq!(app.count("responses"), 0);
    use diesel::prelude::*;
    use scorekeeper::db::schema::invitations;
    let statuses: Vec<String> = invitations::table
        .select(invitations::status)
        .load(&mut *app.conn())
        .unwrap();
    assert!(
        statuses.iter().all(|s| s == "sent"),
        "a refused answer changed an invitation: {statuses:?}"
    );
}

#[tokio::test]
async fn unknown_tokens_are_404_as_a_page_and_as_json() {
    let app = spawn_app().await;
    let fake = format!("{}/r/{}", app.address, "A".repeat(32));
    let res = app.client.get(&fake).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("not valid"));
    assert_error(
        app.answer(&fake, json!({"score": 1})).await,
        404,
        "not_found",
    )
    .await;
    let junk = format!("{}/r/short", app.address);
    assert_eq!(app.client.get(&junk).send().await.unwrap().status(), 404);
    assert_eq!(app.count("responses"), 0);
}

#[tokio::test]
async fn concurrent_answers_neither_fail_nor_duplicate() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let mut urls = Vec::new();
    for _ in 0..24 {
        urls.push(app.link(&survey).await);
    }
    // Many links at once: none fails with "database is locked".
    let posts = urls.iter().map(|u| app.answer(u, json!({"score": 5})));
    for res in futures_util::future::join_all(posts).await {
        assert_eq!(res.status(), 201);
    }
    // One link many times at once: still exactly one response.
    let same = (0..12).map(|_| app.answer(&urls[0], json!({"score": 5})));
    for res in futures_util::future::join_all(same).await {
        assert_eq!(res.status(), 200);
    }
    assert_eq!(app.count("responses"), 24);
    assert_eq!(app.stats(&survey).await["responses"], 24);
}

#[tokio::test]
async fn a_click_that_corrects_the_pages_automatic_answer_counts_as_a_person() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    // The page's script sent the pre-chosen 9 on its own; the person then clicks 3.
    assert_eq!(
        app.answer(&url, json!({"score": 9, "auto": true}))
            .await
            .status(),
        201
    );
    assert_eq!(app.answer_form(&url, &[("score", "3")]).await.status(), 303);
    let listed = responses(&app, &survey).await;
    assert_eq!(
        (listed[0]["score"].clone(), listed[0]["suspect"].clone()),
        (json!(3), json!(false))
    );
    assert_eq!(app.stats(&survey).await["detractors"], 1);
}

#[tokio::test]
async fn reopening_another_rating_link_after_answering_only_offers_to_change_it() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let inv = app.invite(&survey, json!({})).await;
    let url = inv["url"].as_str().unwrap();
    assert_eq!(app.answer(url, json!({"score": 2})).await.status(), 201);
    let html = app
        .client
        .get(inv["rating_urls"][4]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your current answer is"), "{html}");
    assert!(html.contains("Change my answer to: 5"));
    assert!(!html.contains("data-auto-score"), "no automatic re-answer");
    assert_eq!(responses(&app, &survey).await[0]["score"], 2);
}

#[tokio::test]
async fn an_integration_posting_from_an_http_library_is_counted() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    let res = app
        .client
        .post(&url)
        .header("user-agent", "python-requests/2.32.3")
        .json(&json!({"score": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let stats = app.stats(&survey).await;
    assert_eq!(
        (
            stats["responses"].clone(),
            stats["suspect_responses"].clone()
        ),
        (json!(1), json!(0))
    );
}

#[tokio::test]
async fn every_change_of_an_answer_is_kept_in_its_history_and_an_empty_comment_clears_it() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    let post = |body: Value| app.answer(&url, body);
    assert_eq!(
        post(json!({"score": 9, "comment": "Quick"})).await.status(),
        201
    );
    app.age_answer(&url);
    assert_eq!(post(json!({"score": 3})).await.status(), 200);
    app.age_answer(&url);
    assert_eq!(
        post(json!({"comment": "Slow after all"})).await.status(),
        200
    );
    assert_eq!(post(json!({"score": 3})).await.status(), 200, "a repeat");
    let cleared = post(json!({"comment": ""})).await;
    assert_eq!(cleared.status(), 200);
    assert_eq!(
        cleared.json::<Value>().await.unwrap()["comment"],
        Value::Null
    );
    let listed = responses(&app, &survey).await;
    assert_eq!(listed[0]["comment"], Value::Null);
    let id = listed[0]["id"].as_str().unwrap();
    let detail: Value = app
        .get(&format!("/v1/responses/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["id"], listed[0]["id"]);
    let history: Vec<(String, i64, Value)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["at"].as_str().is_some());
            (
                e["change"].as_str().unwrap().to_owned(),
                e["score"].as_i64().unwrap(),
                e["comment"].clone(),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("created".into(), 9, json!("Quick")),
            ("score".into(), 3, json!("Quick")),
            ("comment".into(), 3, json!("Slow after all")),
            ("comment".into(), 3, Value::Null),
        ],
        "oldest first; the repeat changed nothing"
    );
    assert_eq!(app.count("response_events"), 4);
}

#[tokio::test]
async fn control_characters_are_refused_naming_the_field_on_either_backend() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    let res = app
        .answer(&url, json!({"score": 5, "comment": "nul \u{0} here"}))
        .await;
    assert_eq!(
        assert_error(res, 422, "invalid_field").await["error"]["field"],
        "comment"
    );
    let res = app
        .answer_form(&url, &[("score", "5"), ("comment", "bell \u{7}")])
        .await;
    assert_eq!(
        res.status(),
        422,
        "the form gets a page saying what is wrong"
    );
    assert_eq!(app.count("responses"), 0, "nothing is stored");
    for (body, field) in [
        (json!({"name": "a\u{0}b", "kind": "nps"}), "name"),
        (
            json!({"name": "ok", "kind": "nps", "question": "q\u{1b}?"}),
            "question",
        ),
        (
            json!({"name": "ok", "kind": "nps", "email_subject": "#{{ x }}\u{0}"}),
            "email_subject",
        ),
    ] {
        let res = app.post("/v1/surveys", &body).await;
        assert_eq!(
            assert_error(res, 422, "invalid_field").await["error"]["field"],
            field
        );
    }
    for (body, field) in [
        (
            json!({"properties": {"agent": "b\u{0}o"}}),
            "properties.agent",
        ),
        (json!({"recipient": {"name": "\u{0}"}}), "recipient.name"),
    ] {
        let res = app
            .post(&format!("/v1/surveys/{survey}/invitations"), &body)
            .await;
        assert_eq!(
            assert_error(res, 422, "invalid_field").await["error"]["field"],
            field
        );
    }
    assert_eq!((app.count("surveys"), app.count("invitations")), (1, 1));
    // Tabs and line breaks are fine.
    let res = app
        .answer(
            &url,
            json!({"score": 5, "comment": "line one\nline two\ttabbed"}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn an_sqlite_database_still_locked_after_the_busy_timeout_answers_503_with_retry_after() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = crate::helpers::spawn_app_with(&[("SQLITE_BUSY_TIMEOUT_MS", "200")]).await;
    let Some(path) = app.db.url().strip_prefix("sqlite://") else {
        // PostgreSQL has no busy timeout: writers wait on row locks instead.
        return;
    };
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    let mut holder = diesel::SqliteConnection::establish(path).unwrap();
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let res = app.answer(&url, json!({"score": 9})).await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(res, 503, "unavailable").await;
    let form = app.answer_form(&url, &[("score", "9")]).await;
    assert_eq!(form.status(), 503);
    assert_eq!(form.headers()["retry-after"], "1");
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(app.answer(&url, json!({"score": 9})).await.status(), 201);
}
