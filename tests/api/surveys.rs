//! Creating, listing and showing surveys, and every kind of bad input.

use serde_json::{json, Value};

use crate::helpers::{assert_error, group, spawn_app};

#[tokio::test]
async fn each_kind_gets_its_default_scale_and_question() {
    let app = spawn_app().await;
    let cases = [
        (
            "csat",
            1,
            5,
            "How satisfied were you with the support you received?",
        ),
        (
            "nps",
            0,
            10,
            "How likely are you to recommend us to a friend or colleague?",
        ),
        (
            "ces",
            1,
            7,
            "The company made it easy for me to handle my issue.",
        ),
        ("esat", 1, 5, "How satisfied are you with your work here?"),
    ];
    for (kind, min, max, question) in cases {
        let s = app.create_survey(json!({"name": "S", "kind": kind})).await;
        assert_eq!(s["kind"], kind);
        assert_eq!(s["scale"]["min"], min);
        assert_eq!(s["scale"]["max"], max);
        assert_eq!(s["question"], question);
        assert!(s["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
        assert!(s["created_at"].as_str().unwrap().ends_with('Z'));
        let fetched: Value = app
            .get(&format!("/v1/surveys/{}", s["id"].as_str().unwrap()))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(fetched, s);
    }
}

#[tokio::test]
async fn alternative_scales_custom_questions_and_comment_prompts_are_kept() {
    let app = spawn_app().await;
    let s = app
        .create_survey(json!({"name": "Thumbs", "kind": "csat", "scale": "thumbs",
            "question": "Was this helpful?", "comment_prompt": "What could we do better?"}))
        .await;
    assert_eq!(s["scale"], json!({"name": "thumbs", "min": 0, "max": 1}));
    assert_eq!(s["question"], "Was this helpful?");
    assert_eq!(s["comment_prompt"], "What could we do better?");
    let s = app
        .create_survey(json!({"name": "Effort", "kind": "ces", "scale": "1-5"}))
        .await;
    assert_eq!(s["scale"], json!({"name": "1-5", "min": 1, "max": 5}));
}

#[tokio::test]
async fn each_kind_of_bad_survey_is_rejected_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let long = "x".repeat(201);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "n", "kind": "stars"}), "kind"),
        (json!({"name": "n", "kind": "nps", "scale": "1-5"}), "scale"),
        (
            json!({"name": "n", "kind": "csat", "scale": "0-10"}),
            "scale",
        ),
        (json!({"name": "", "kind": "nps"}), "name"),
        (json!({"name": "   ", "kind": "nps"}), "name"),
        (json!({"name": long, "kind": "nps"}), "name"),
        (json!({"name": 5, "kind": "nps"}), "name"),
        (json!({"kind": "nps"}), "name"),
        (json!([1, 2]), "body"),
        (
            json!({"name": "n", "kind": "nps", "question": ""}),
            "question",
        ),
        (
            json!({"name": "n", "kind": "nps", "comment_prompt": "y".repeat(501)}),
            "comment_prompt",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/v1/surveys", &body).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    assert_eq!(app.count("surveys"), 0);
}

#[tokio::test]
async fn broken_json_wrong_content_type_and_huge_bodies_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    assert_error(
        app.post_raw("/v1/surveys", "application/json", "{\"name\": ")
            .await,
        400,
        "malformed_body",
    )
    .await;
    assert_error(
        app.post_raw("/v1/surveys", "application/json", "{} trailing")
            .await,
        400,
        "malformed_body",
    )
    .await;
    assert_error(
        app.post_raw("/v1/surveys", "text/plain", "{}").await,
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        "{{\"name\": \"{}\", \"kind\": \"nps\"}}",
        "x".repeat(70_000)
    );
    assert_error(
        app.post_raw("/v1/surveys", "application/json", huge).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(app.count("surveys"), 0);
}

#[tokio::test]
async fn surveys_are_listed_in_pages_with_a_cursor() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.create_survey(json!({"name": format!("S{i}"), "kind": "nps"}))
                .await["id"]
                .clone(),
        );
    }
    let page: Value = app.get("/v1/surveys?limit=2").await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let mut seen: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    let mut cursor = page["next_cursor"].as_str().unwrap().to_owned();
    loop {
        let page: Value = app
            .get(&format!("/v1/surveys?limit=2&cursor={cursor}"))
            .await
            .json()
            .await
            .unwrap();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every survey once, in creation order");
    let all: Value = app.get("/v1/surveys").await.json().await.unwrap();
    assert_eq!(all["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_parameters_are_bounded() {
    let app = spawn_app().await;
    for (query, field) in [
        ("limit=501", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        // Not base64url at all, and longer than any cursor this API returns.
        ("cursor=n%21pe", "cursor"),
    ] {
        let err = assert_error(
            app.get(&format!("/v1/surveys?{query}")).await,
            422,
            "invalid_field",
        )
        .await;
        assert_eq!(err["error"]["field"], field);
    }
    let long = "a".repeat(1_004);
    let err = assert_error(
        app.get(&format!("/v1/surveys?cursor={long}")).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(err["error"]["field"], "cursor");
    assert_eq!(app.get("/v1/surveys?limit=500").await.status(), 200);
    // Any other base64url text is a key to list after: an empty page, not an error.
    assert_eq!(app.get("/v1/surveys?cursor=zzzz").await.status(), 200);
}

#[tokio::test]
async fn unknown_and_malformed_survey_ids_are_404() {
    let app = spawn_app().await;
    assert_error(
        app.get(&format!("/v1/surveys/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.get("/v1/surveys/not-a-uuid").await, 404, "not_found").await;
}

#[tokio::test]
async fn a_survey_can_be_changed_and_a_new_segment_is_rolled_up_from_past_answers() {
    use diesel::prelude::*;
    use scorekeeper::db::schema::rollup_days;

    let app = spawn_app().await;
    let survey = app
        .create_survey(json!({"name": "S", "kind": "csat", "segment_by": ["agent"]}))
        .await;
    let id = survey["id"].as_str().unwrap().to_owned();
    for (region, score) in [("emea", 5), ("emea", 2), ("apac", 4)] {
        let inv = app
            .invite(
                &id,
                json!({"properties": {"agent": "bo", "region": region}}),
            )
            .await;
        app.answer(inv["url"].as_str().unwrap(), json!({"score": score}))
            .await;
    }
    let region_cells = |app: &crate::helpers::TestApp| -> i64 {
        rollup_days::table
            .filter(rollup_days::survey_id.eq(&id))
            .filter(rollup_days::dim.eq("region"))
            .count()
            .get_result(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(region_cells(&app), 0);
    // Before: answered exactly from the raw rows.
    let before = app.stats_query(&id, "?group_by=region").await;

    let path = format!("/v1/surveys/{id}");
    let res = app
        .patch(
            &path,
            &json!({"name": "  Renamed  ", "segment_by": ["agent", "region"], "throttle_days": 7}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["name"], "Renamed");
    assert_eq!(changed["segment_by"], json!(["agent", "region"]));
    assert_eq!(changed["throttle_days"], 7);
    assert_eq!(changed["kind"], "csat");
    assert_eq!(changed["question"], survey["question"]);
    // After: the new segment is in the rollups, and answers the same.
    assert_eq!(region_cells(&app), 2);
    let after = app.stats_query(&id, "?group_by=region").await;
    assert_eq!(after["groups"], before["groups"]);
    assert_eq!(after["groups"][0]["value"], "emea");
    assert_eq!(after["groups"][0]["responses"], 2);

    // Kind and scale never change; bad values and other workspaces' surveys change nothing.
    let res = app.patch(&path, &json!({"kind": "nps"})).await;
    assert_error(res, 422, "invalid_field").await;
    let res = app.patch(&path, &json!({"name": " "})).await;
    assert_error(res, 422, "invalid_field").await;
    let res = app
        .patch(&path, &json!({"segment_by": ["bad key!"], "name": "X"}))
        .await;
    assert_error(res, 422, "invalid_field").await;
    let other = app.other_workspace_key("other");
    let res = app.patch_as(&path, &json!({"name": "Mine"}), &other).await;
    assert_error(res, 404, "not_found").await;
    let unchanged: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged["name"], "Renamed");
    assert_eq!(unchanged["segment_by"], json!(["agent", "region"]));
}

/// Answers `url` (invitation `invitation`) with a 5 and, while the answer's writer is held
/// mid-way (another transaction holds the invitation's row, so the writer stops there with
/// the survey already read), sends `PATCH /v1/surveys/{survey}` with `change`; lets the
/// writer go once the change has finished or waits for it. Returns both statuses.
/// PostgreSQL only: on SQLite the writer holds the one write lock throughout.
async fn change_while_an_answer_is_written(
    app: &crate::helpers::TestApp,
    survey: &str,
    url: &str,
    invitation: &str,
    change: Value,
) -> (u16, u16) {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    let mut holder = diesel::PgConnection::establish(app.db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("SELECT id FROM invitations WHERE id = $1 FOR UPDATE")
        .bind::<Text, _>(invitation)
        .execute(&mut holder)
        .unwrap();
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut watcher = diesel::PgConnection::establish(app.db.url()).unwrap();
    let mut waiting_on = |lock: &str| -> i64 {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE a.datname = current_database() AND NOT l.granted AND l.locktype = $1",
        )
        .bind::<Text, _>(lock)
        .get_result::<Waiting>(&mut watcher)
        .unwrap()
        .n
    };
    let answer_waits = AtomicBool::new(false);
    let changed = AtomicBool::new(false);
    let (answered, patched, ()) = tokio::join!(
        app.answer_owned(url.to_owned(), json!({"score": 5})),
        async {
            while !answer_waits.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let res = app.patch(&format!("/v1/surveys/{survey}"), &change).await;
            changed.store(true, Ordering::SeqCst);
            res.status().as_u16()
        },
        async {
            // 10 s at most for each: the writer must stop at the row, the change must end or
            // stop at the survey's lock.
            let mut stopped = false;
            for _ in 0..1000 {
                stopped = waiting_on("transactionid") > 0;
                if stopped {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(stopped, "the answer's writer never waited for the held row");
            answer_waits.store(true, Ordering::SeqCst);
            let mut settled = false;
            for _ in 0..1000 {
                settled = changed.load(Ordering::SeqCst) || waiting_on("advisory") > 0;
                if settled {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
            assert!(settled, "the change neither finished nor waited");
        },
    );
    (answered, patched)
}

/// On PostgreSQL, the app and a CSAT survey segmented by `agent`; `None` on SQLite, where
/// the write lock serialises every writer and these races cannot happen.
async fn segmented_survey_on_postgres() -> Option<(crate::helpers::TestApp, String)> {
    let app = spawn_app().await;
    if !app.db.url().starts_with("postgres") {
        return None;
    }
    let survey = app
        .create_survey(json!({"name": "S", "kind": "csat", "segment_by": ["agent"]}))
        .await;
    let id = survey["id"].as_str().unwrap().to_owned();
    Some((app, id))
}

#[tokio::test]
async fn a_segment_change_waits_for_an_answer_being_written_and_rolls_it_up() {
    // On PostgreSQL the answer's writer reads the survey's segments, then writes its rollup
    // cells. A change of segment_by that committed in between rebuilt the rollups without the
    // answer, which then went to the old segments' cells only: missing from the new segment
    // for good. The change waits for writers holding the survey.
    let Some((app, id)) = segmented_survey_on_postgres().await else {
        return;
    };
    let inv = app
        .invite(
            &id,
            json!({"properties": {"agent": "bo", "region": "emea"}}),
        )
        .await;
    let change = json!({"segment_by": ["agent", "region"]});
    let statuses = change_while_an_answer_is_written(
        &app,
        &id,
        inv["url"].as_str().unwrap(),
        inv["id"].as_str().unwrap(),
        change,
    )
    .await;
    assert_eq!(statuses, (201, 200));
    let stats = app.stats_query(&id, "?group_by=region").await;
    assert_eq!(stats["responses"], 1);
    assert_eq!(group(&stats, "emea")["responses"], 1, "{stats}");
}

#[tokio::test]
async fn anonymity_cannot_be_turned_on_under_an_answer_being_written() {
    // Anonymity can be turned on only before the first answer. On PostgreSQL an answer being
    // written, its survey read as not anonymous, was not seen by the check: the survey turned
    // anonymous and then got an answer stored with its person. The change waits for it, sees
    // it, and refuses.
    let app = spawn_app().await;
    if !app.db.url().starts_with("postgres") {
        return;
    }
    let id = app.survey_of("csat").await;
    let inv = app
        .invite(
            &id,
            json!({"channel": "link", "properties": {"agent": "bo"}}),
        )
        .await;
    let statuses = change_while_an_answer_is_written(
        &app,
        &id,
        inv["url"].as_str().unwrap(),
        inv["id"].as_str().unwrap(),
        json!({"anonymous": true}),
    )
    .await;
    assert_eq!(statuses, (201, 409));
    let survey: Value = app
        .get(&format!("/v1/surveys/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(survey["anonymous"], false);
}

#[tokio::test]
async fn a_segment_change_held_off_by_a_long_writer_answers_503_and_changes_nothing() {
    // An import holds its survey's settings to its end. A change of them waits 5 s at most
    // for it (holding off the survey's new answers meanwhile), then answers busy.
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    let Some((app, id)) = segmented_survey_on_postgres().await else {
        return;
    };
    let mut writer = diesel::PgConnection::establish(app.db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut writer).unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))")
        .bind::<Text, _>(format!("survey-settings:{id}"))
        .execute(&mut writer)
        .unwrap();
    let path = format!("/v1/surveys/{id}");
    let started = std::time::Instant::now();
    let res = app
        .patch(&path, &json!({"segment_by": ["agent", "region"]}))
        .await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(4));
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 503, "unavailable").await;
    let unchanged: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged["segment_by"], json!(["agent"]));
    // Once the writer is done, the change goes through.
    diesel::sql_query("COMMIT").execute(&mut writer).unwrap();
    let res = app
        .patch(&path, &json!({"segment_by": ["agent", "region"]}))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn patching_with_null_resets_optional_fields_and_refuses_required_ones() {
    let app = spawn_app().await;
    let survey = app
        .create_survey(json!({"name": "S", "kind": "nps", "comment_prompt": "Why?",
                              "throttle_days": 3, "segment_by": ["agent"]}))
        .await;
    let path = format!("/v1/surveys/{}", survey["id"].as_str().unwrap());
    let res = app
        .patch(
            &path,
            &json!({"comment_prompt": null, "throttle_days": null, "segment_by": null}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let reset: Value = res.json().await.unwrap();
    let fresh = app.create_survey(json!({"name": "S", "kind": "nps"})).await;
    for field in ["comment_prompt", "throttle_days", "segment_by"] {
        assert_eq!(reset[field], fresh[field], "{field}");
    }
    for field in ["name", "question"] {
        let res = app.patch(&path, &json!({ field: null })).await;
        let body = assert_error(res, 422, "invalid_field").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(field));
    }
    let res = app.patch(&path, &json!({})).await;
    assert_eq!(res.status(), 200);
}
