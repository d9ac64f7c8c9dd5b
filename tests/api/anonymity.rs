//! Anonymity the API enforces: figures over fewer than the workspace's `min_group_size`
//! respondents are withheld at every level (group, bucket, filter, workspace), with the
//! sibling that would give them away; an anonymous survey's answers carry no identity and no
//! time finer than the month, in lists, exports, webhooks and the Delighted facade.

use serde_json::{json, Value};

use crate::delighted::{basic, facade_key};
use crate::helpers::{assert_error, group, spawn_app, spawn_app_with, TestApp};
use crate::webhooks::{subscribe, Receiver, FAST};

/// An anonymous ESAT survey kept by `department`.
async fn pulse(app: &TestApp) -> String {
    let s = app
        .create_survey(json!({"name": "Pulse", "kind": "esat", "segment_by": ["department"]}))
        .await;
    assert_eq!(s["anonymous"], true, "ESAT is anonymous by default");
    s["id"].as_str().unwrap().to_owned()
}

/// Issues an email-less link to a named person in `department` and answers `score` (with
/// `comment`); returns the invitation.
async fn answer(app: &TestApp, survey: &str, department: &str, score: i64, comment: &str) -> Value {
    let inv = app
        .invite(
            survey,
            json!({"channel": "link",
                   "recipient": {"name": "Ana Example", "external_id": uuid::Uuid::new_v4().to_string()},
                   "properties": {"department": department}}),
        )
        .await;
    let mut body = json!({"score": score});
    if !comment.is_empty() {
        body["comment"] = json!(comment);
    }
    let res = app.answer(inv["url"].as_str().unwrap(), body).await;
    assert_eq!(res.status(), 201);
    inv
}

/// Answers `scores` in `department`.
async fn answers(app: &TestApp, survey: &str, department: &str, scores: &[i64]) {
    for &s in scores {
        answer(app, survey, department, s, "").await;
    }
}

fn assert_withheld(figure: &Value, responses: u64) {
    assert_eq!(figure["withheld"], true, "{figure}");
    assert_eq!(
        figure["responses"], responses,
        "counts still show: {figure}"
    );
    assert!(figure["invitations"].as_u64().unwrap() >= responses);
    assert!(figure["response_rate"].as_f64().is_some());
    for field in [
        "score",
        "confidence_interval",
        "margin_of_error",
        "distribution",
    ] {
        assert!(
            figure[field].is_null(),
            "{field} of a withheld figure: {figure}"
        );
    }
    assert!(figure.get("promoters").is_none() && figure.get("agree_percent").is_none());
}

fn assert_served(figure: &Value) {
    assert_eq!(figure["withheld"], false, "{figure}");
    assert!(figure["score"].as_f64().is_some(), "{figure}");
    assert!(figure["distribution"].is_object());
}

#[tokio::test]
async fn anonymity_is_a_promise_made_before_the_first_answer_and_never_taken_back() {
    let app = spawn_app().await;
    let pulse = pulse(&app).await;
    let res = app
        .patch(
            &format!("/v1/surveys/{pulse}"),
            &json!({"anonymous": false}),
        )
        .await;
    let err = assert_error(res, 409, "conflict").await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot be turned off"));

    let csat = app.survey_of("csat").await;
    let fresh = app.survey_of("csat").await;
    let s: Value = app
        .get(&format!("/v1/surveys/{csat}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        s["anonymous"], false,
        "CSAT names its respondents by default"
    );
    let url = app.link(&csat).await;
    assert_eq!(app.answer(&url, json!({"score": 4})).await.status(), 201);
    let res = app
        .patch(&format!("/v1/surveys/{csat}"), &json!({"anonymous": true}))
        .await;
    assert_error(res, 409, "conflict").await;
    let res = app
        .patch(&format!("/v1/surveys/{fresh}"), &json!({"anonymous": true}))
        .await;
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["anonymous"], true);

    // The workspace's minimum: never below 3.
    let res = app
        .patch("/v1/workspace", &json!({"min_group_size": 2}))
        .await;
    let err = assert_error(res, 422, "invalid_field").await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("min_group_size"));
    let ws: Value = app.get("/v1/workspace").await.json().await.unwrap();
    assert_eq!(
        ws["min_group_size"], 5,
        "the default, unchanged by the refused call"
    );
}

#[tokio::test]
async fn small_groups_are_withheld_with_their_next_smallest_sibling_and_filters_agree() {
    let app = spawn_app().await;
    let pulse = pulse(&app).await;
    answers(&app, &pulse, "eng", &[5, 5, 4, 4, 3, 5, 4, 2]).await;
    answers(&app, &pulse, "sales", &[1, 2, 2, 4, 5, 3]).await;
    answers(&app, &pulse, "ops", &[1, 1]).await;

    let stats = app.stats_query(&pulse, "?group_by=department").await;
    assert_served(&stats);
    assert_eq!(stats["anonymity"]["min_group_size"], 5);
    assert_withheld(group(&stats, "ops"), 2);
    // Total less eng would be ops alone if sales were served: sales is withheld too.
    assert_withheld(group(&stats, "sales"), 6);
    assert_served(group(&stats, "eng"));

    // A filter answers that group's figures of the grouped call: no pair of calls subtracts.
    for (value, n) in [("ops", 2), ("sales", 6)] {
        let one = app
            .stats_query(&pulse, &format!("?filter[department]={value}"))
            .await;
        assert_withheld(&one, n);
    }
    let eng = app.stats_query(&pulse, "?filter[department]=eng").await;
    assert_served(&eng);
    assert_eq!(eng["score"], group(&stats, "eng")["score"]);
    assert_eq!(eng["distribution"], group(&stats, "eng")["distribution"]);

    // Every score served: the total and eng. What they give by subtraction is sales and ops
    // together (8 people), never ops.
    let total = stats["distribution"].as_object().unwrap();
    let eng_d = group(&stats, "eng")["distribution"].as_object().unwrap();
    let rest: u64 = total
        .iter()
        .map(|(k, v)| v.as_u64().unwrap() - eng_d[k].as_u64().unwrap())
        .sum();
    assert_eq!(rest, 8);

    // Cross-tabulating a filter with a grouping, or two filters, is refused.
    for query in [
        "?filter[department]=eng&group_by=location",
        "?filter[department]=eng&filter[location]=paris",
    ] {
        let res = app.get(&format!("/v1/surveys/{pulse}/stats{query}")).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert!(err["error"]["message"].as_str().unwrap().contains("filter"));
    }

    // A smaller minimum serves sales again; ops (2) stays withheld, and so does its sibling.
    let res = app
        .patch("/v1/workspace", &json!({"min_group_size": 3}))
        .await;
    assert_eq!(res.status(), 200);
    let stats = app.stats_query(&pulse, "?group_by=department").await;
    assert_withheld(group(&stats, "ops"), 2);
    assert_withheld(group(&stats, "sales"), 6);
    answers(&app, &pulse, "ops", &[4]).await;
    let stats = app.stats_query(&pulse, "?group_by=department").await;
    assert_served(group(&stats, "ops"));
    assert_served(group(&stats, "sales"));
}

#[tokio::test]
async fn a_small_time_bucket_is_withheld_and_so_is_the_one_that_would_give_it_away() {
    let app = spawn_app().await;
    let pulse = pulse(&app).await;
    answers(&app, &pulse, "eng", &[5, 4, 4, 3, 5, 4, 5]).await;
    // Two answers a week earlier.
    for score in [1, 2] {
        let inv = answer(&app, &pulse, "eng", score, "").await;
        let at = chrono::Utc::now().naive_utc() - chrono::Duration::days(7);
        app.backdate(inv["id"].as_str().unwrap(), at);
    }
    let from = (chrono::Utc::now() - chrono::Duration::days(14)).format("%Y-%m-%dT00:00:00Z");
    let stats = app
        .stats_query(&pulse, &format!("?interval=week&from={from}"))
        .await;
    assert_served(&stats);
    assert_eq!(stats["responses"], 9);
    let series = stats["series"].as_array().unwrap();
    let answered: Vec<&Value> = series
        .iter()
        .filter(|b| b["responses"].as_u64().unwrap() > 0)
        .collect();
    assert_eq!(answered.len(), 2, "{series:?}");
    assert_withheld(answered[0], 2);
    // The total less the later week would be the earlier one.
    assert_withheld(answered[1], 7);
    for b in series {
        assert!(
            b["change"].is_null(),
            "no change is reported from or to a withheld bucket"
        );
    }

    // Grouped by department and by week: the group's cells follow the same rule.
    let stats = app
        .stats_query(
            &pulse,
            &format!("?interval=week&from={from}&group_by=department"),
        )
        .await;
    let eng = group(&stats, "eng");
    assert_served(eng);
    for b in eng["series"].as_array().unwrap() {
        if b["responses"].as_u64().unwrap() > 0 {
            assert_eq!(b["withheld"], true, "{b}");
        }
    }
}

#[tokio::test]
async fn a_workspace_roll_up_never_gives_away_what_one_surveys_answer_withholds() {
    let app = spawn_app().await;
    let big = pulse(&app).await;
    let small = pulse(&app).await;
    answers(&app, &big, "eng", &[5, 4, 4, 3, 5, 4]).await;
    answers(&app, &small, "eng", &[1, 1]).await;
    assert_served(&app.stats(&big).await);
    assert_withheld(&app.stats(&small).await, 2);
    // 8 answers in all, but all less the big survey is the small one.
    let res = app.get("/v1/stats?kind=esat").await;
    assert_eq!(res.status(), 200);
    let ws: Value = res.json().await.unwrap();
    assert_withheld(&ws, 8);
    // A third survey with enough answers changes nothing: all less the two surveys served is
    // still the small one alone.
    let third = pulse(&app).await;
    answers(&app, &third, "eng", &[2, 3, 4, 5, 5]).await;
    let ws: Value = app.get("/v1/stats?kind=esat").await.json().await.unwrap();
    assert_withheld(&ws, 13);
    // Once the small survey reaches the minimum itself, nothing is withheld.
    answers(&app, &small, "eng", &[3, 3, 3]).await;
    let ws: Value = app.get("/v1/stats?kind=esat").await.json().await.unwrap();
    assert_served(&ws);
}

#[tokio::test]
async fn an_anonymous_surveys_answers_carry_no_identity_and_no_time_finer_than_the_month() {
    let app = spawn_app().await;
    let pulse = pulse(&app).await;
    let first = answer(&app, &pulse, "eng", 5, "love the team").await;
    // Under the minimum, the answers are withheld whole.
    let res = app.get(&format!("/v1/surveys/{pulse}/responses")).await;
    assert_error(res, 409, "conflict").await;

    answers(&app, &pulse, "eng", &[4, 4, 3, 2]).await;
    let res = app.get(&format!("/v1/surveys/{pulse}/responses")).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    for r in data {
        assert!(
            r["invitation_id"].is_null() && r["recipient"].is_null(),
            "{r}"
        );
        assert_eq!(r["properties"], json!({}));
        // Dated to the month: where one person is invited or answers on a day, the day
        // would name them.
        for t in ["invited_at", "created_at", "updated_at"] {
            assert!(
                r[t].as_str().unwrap().ends_with("-01T00:00:00Z"),
                "{t} of {r}"
            );
        }
        // One comment among five answers: comments follow their own minimum.
        assert!(r["comment"].is_null(), "{r}");
        // Ids carry no time (random, not time-ordered).
        let id = uuid::Uuid::parse_str(r["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 4);
    }
    let one: Value = app
        .get(&format!(
            "/v1/responses/{}",
            data[0]["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert!(one["recipient"].is_null() && one["history"] == json!([]));

    // The invitation answered no longer names its person.
    let inv: Value = app
        .get(&format!(
            "/v1/invitations/{}",
            first["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert!(inv["recipient"].is_null(), "{inv}");

    // The workspace-wide search never lists them (an external id names a person).
    let res = app.get(&format!("/v1/responses?survey_id={pulse}")).await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(found["data"], json!([]));

    // The CSV export: no address, no name, no property columns, months only; no filters.
    let res = app
        .client
        .get(format!("{}/v1/surveys/{pulse}/responses.csv", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    assert!(
        !csv.contains("Ana Example") && !csv.contains("love the team"),
        "{csv}"
    );
    assert!(
        !csv.contains(",department") && csv.lines().count() == 6,
        "{csv}"
    );
    let res = app
        .get(&format!(
            "/v1/surveys/{pulse}/responses.csv?filter[department]=eng"
        ))
        .await;
    assert_error(res, 422, "invalid_field").await;
    // Nor a time window: one can be cut around a single invitation's issue time.
    for (query, field) in [
        ("from=2020-01-01T00:00:00Z", "from"),
        ("to=2100-01-01T00:00:00Z", "to"),
    ] {
        let res = app
            .get(&format!("/v1/surveys/{pulse}/responses.csv?{query}"))
            .await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{err}");
    }

    // Five comments: now they show, still without anything that narrows them.
    for c in ["more", "of", "the", "same"] {
        answer(&app, &pulse, "eng", 4, c).await;
    }
    let list: Value = app
        .get(&format!("/v1/surveys/{pulse}/responses?limit=100"))
        .await
        .json()
        .await
        .unwrap();
    let comments = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["comment"].is_string())
        .count();
    assert_eq!(comments, 5);
}

#[tokio::test]
async fn webhooks_and_the_delighted_facade_carry_no_identity_for_an_anonymous_survey() {
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    let app = spawn_app_with(&env).await;
    let receiver = Receiver::start(Vec::new());
    subscribe(&app, &receiver.url, &["response.created"]).await;
    let pulse = pulse(&app).await;
    // An event would arrive as one invitation turns `responded`, tying the answer to its
    // person: an anonymous survey's answers raise none. A named survey's answer, given
    // after them, is the only delivery.
    answer(&app, &pulse, "eng", 5, "my manager shouts").await;
    answers(&app, &pulse, "eng", &[4, 4, 3, 2]).await;
    let named = app.survey_of("csat").await;
    let url = app.link(&named).await;
    assert_eq!(app.answer(&url, json!({"score": 4})).await.status(), 201);
    // Deliveries are queued in the answer's transaction: one row, the named answer's.
    assert_eq!(app.count("webhook_deliveries"), 1);
    let hits = receiver.wait_for(1).await;
    assert_eq!(hits.len(), 1);
    let event: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!(event["data"]["survey_id"], named.as_str(), "{event}");
    assert!(!hits[0].body.contains("my manager shouts"));

    let key = facade_key(&app, &pulse);
    let res = app
        .client
        .get(format!(
            "{}/delighted/v1/survey_responses?expand[]=person",
            app.address
        ))
        .header("Authorization", basic(&key, true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 5);
    for r in list {
        assert!(r["person"].is_null(), "{r}");
        assert_eq!(r["person_properties"], json!({}));
        assert_eq!(r["created_at"].as_i64().unwrap() % 86_400, 0, "{r}");
    }
    // In id order (random ids), whichever way: never the latest answer first.
    let ids = |list: &Value| -> Vec<String> {
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        ids.dedup();
        ids
    };
    let facade = |query: &str| {
        app.client
            .get(format!(
                "{}/delighted/v1/survey_responses{query}",
                app.address
            ))
            .header("Authorization", basic(&key, true))
            .send()
    };
    let asc: Value = facade("").await.unwrap().json().await.unwrap();
    let desc: Value = facade("?order=desc").await.unwrap().json().await.unwrap();
    let mut sorted = ids(&asc);
    sorted.sort();
    assert_eq!(ids(&asc), sorted);
    sorted.reverse();
    assert_eq!(ids(&desc), sorted);
    // No window of answer times: one could hold a single person's answer; nor a person.
    for (field, value) in [
        ("since", "1700000000"),
        ("until", "1700000000"),
        ("updated_since", "1700000000"),
        ("updated_until", "1700000000"),
        ("person_email", "a%40example.com"),
        ("person_id", "someone"),
    ] {
        let res = facade(&format!("?{field}={value}")).await.unwrap();
        assert_eq!(res.status(), 422, "{field}");
        let body: Value = res.json().await.unwrap();
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }

    // Metrics withheld (too few answers) still carry every field of the kind, as null, for
    // clients that read them as attributes.
    let small = app
        .create_survey(json!({"name": "Small pulse", "kind": "esat"}))
        .await;
    let small = small["id"].as_str().unwrap().to_owned();
    for score in [4, 5] {
        let url = app.link(&small).await;
        assert_eq!(
            app.answer(&url, json!({"score": score})).await.status(),
            201
        );
    }
    let key = facade_key(&app, &small);
    let metrics: Value = app
        .client
        .get(format!("{}/delighted/v1/metrics", app.address))
        .header("Authorization", basic(&key, true))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metrics["withheld"], true, "{metrics}");
    assert_eq!(metrics["response_count"], 2, "{metrics}");
    for field in ["esat", "satisfied_count", "satisfied_percent"] {
        assert!(
            metrics.get(field).is_some_and(Value::is_null),
            "{field}: {metrics}"
        );
    }
}

/// An anonymous survey's invitations name nobody and never say whether they were answered:
/// polled now and then beside the stats, a listing that showed one invitation turn
/// `responded` (and lose its person) would say who answered, and how.
#[tokio::test]
async fn an_anonymous_surveys_invitations_never_say_who_answered() {
    let app = spawn_app().await;
    let pulse = pulse(&app).await;
    let named = app.survey_of("csat").await;
    let issue = |survey: String, key: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(format!("{}/v1/surveys/{survey}/invitations", app.address))
                .bearer_auth(&app.api_key)
                .header("Idempotency-Key", key)
                .json(&json!({"channel": "link",
                              "recipient": {"name": "Ana Example", "external_id": key}}))
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.status());
            res.json::<Value>().await.unwrap()
        }
    };
    let answered = issue(pulse.clone(), "pulse-ana").await;
    let waiting = issue(pulse.clone(), "pulse-bo").await;
    let control = issue(named.clone(), "named-cy").await;
    assert!(answered["recipient"].is_null(), "{answered}");
    for inv in [&answered, &control] {
        let url = inv["url"].as_str().unwrap();
        assert_eq!(app.answer(url, json!({"score": 4})).await.status(), 201);
    }

    let shown = |id: &Value| {
        let path = format!("/v1/invitations/{}", id.as_str().unwrap());
        let app = &app;
        async move { app.get(&path).await.json::<Value>().await.unwrap() }
    };
    for inv in [&answered, &waiting] {
        let one = shown(&inv["id"]).await;
        assert_eq!(
            (&one["status"], &one["recipient"]),
            (&json!("sent"), &Value::Null),
            "{one}"
        );
    }
    let listed: Value = app
        .get(&format!("/v1/invitations?survey_id={pulse}"))
        .await
        .json()
        .await
        .unwrap();
    for inv in listed["data"].as_array().unwrap() {
        assert_eq!(
            (&inv["status"], &inv["recipient"]),
            (&json!("sent"), &Value::Null)
        );
    }
    // Replaying the request that made it tells no more.
    let replayed = issue(pulse.clone(), "pulse-ana").await;
    assert_eq!(replayed["id"], answered["id"]);
    assert_eq!(
        (&replayed["status"], &replayed["recipient"]),
        (&json!("sent"), &Value::Null)
    );
    // A survey that is not anonymous says both, as before.
    let one = shown(&control["id"]).await;
    assert_eq!(one["status"], "responded");
    assert_eq!(one["recipient"]["name"], "Ana Example");
}

#[tokio::test]
async fn neither_the_throttle_nor_a_search_by_external_id_counts_an_anonymous_invitation() {
    // An answer cuts the invitation's address key and external id: were they counted, the
    // throttle or the search would change the moment the person answered, and say who did.
    let sink = crate::smtp::SmtpSink::start();
    let app = crate::email::email_app(&sink.url(), &[]).await;
    let pulse = pulse(&app).await;
    let support = app
        .create_survey(json!({"name": "Support", "kind": "csat", "throttle_days": 30}))
        .await;
    let support = support["id"].as_str().unwrap();
    app.invite(
        &pulse,
        json!({"channel": "link",
               "recipient": {"email": "alice@example.com", "external_id": "emp-42"},
               "properties": {"department": "eng"}}),
    )
    .await;
    let found: Value = app
        .get("/v1/invitations?external_id=emp-42")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["data"], json!([]), "{found}");
    let res = app
        .post(
            &format!("/v1/surveys/{support}/invitations"),
            &json!({"channel": "email", "recipient": {"email": "alice@example.com"}}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "not throttled by the pulse: {body}");
    // A second customer survey is throttled by the first, as ever.
    let res = app
        .post(
            &format!("/v1/surveys/{support}/invitations"),
            &json!({"channel": "email", "recipient": {"email": "alice@example.com"}}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "throttled", "{body}");
}

#[tokio::test]
async fn an_anonymous_survey_is_grouped_and_filtered_by_one_property_only() {
    // Ops is withheld (2 people) with its smallest sibling; were a grouping by site also
    // served, the total less the served department less the site made of the withheld
    // sibling would be ops. So only the survey's first segment_by property (and `cycle`)
    // may group or filter it.
    let app = spawn_app().await;
    let pulse = pulse(&app).await;
    for (department, site, scores) in [
        ("eng", "london", &[4, 5, 4, 5, 4, 3][..]),
        ("sales", "paris", &[3, 4, 5, 4, 4, 2]),
        ("ops", "paris", &[1, 2]),
    ] {
        for &score in scores {
            let inv = app
                .invite(
                    &pulse,
                    json!({"channel": "link",
                           "properties": {"department": department, "site": site}}),
                )
                .await;
            let res = app
                .answer(inv["url"].as_str().unwrap(), json!({"score": score}))
                .await;
            assert_eq!(res.status(), 201);
        }
    }
    let stats = app.stats_query(&pulse, "?group_by=department").await;
    assert_withheld(group(&stats, "ops"), 2);
    for (query, field) in [
        ("?group_by=site", "group_by"),
        ("?filter[site]=london", "filter"),
        ("?filter[site]=paris", "filter"),
    ] {
        let res = app.get(&format!("/v1/surveys/{pulse}/stats{query}")).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{query}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`department`"),
            "{err}"
        );
    }
    // The survey's own property and a campaign's cycles still answer.
    for query in ["?filter[department]=eng", "?group_by=cycle"] {
        let res = app.get(&format!("/v1/surveys/{pulse}/stats{query}")).await;
        assert_eq!(res.status(), 200, "{query}");
    }
    // `cycle` is the campaigns' own: a caller cannot give an invitation one (it could be a
    // site, and grouping by it would then subtract from grouping by department).
    let res = app
        .post(
            &format!("/v1/surveys/{pulse}/invitations"),
            &json!({"channel": "link", "properties": {"department": "eng", "cycle": "london"}}),
        )
        .await;
    let err = assert_error(res, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "properties.cycle", "{err}");
    // Nor can the property be swapped once answers are in: the old grouping less the new
    // would do the same. Adding a second property behind it is fine.
    let res = app
        .patch(
            &format!("/v1/surveys/{pulse}"),
            &json!({"segment_by": ["site", "department"]}),
        )
        .await;
    let err = assert_error(res, 409, "conflict").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`department`"),
        "{err}"
    );
    let res = app
        .patch(
            &format!("/v1/surveys/{pulse}"),
            &json!({"segment_by": ["department", "site"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .get(&format!("/v1/surveys/{pulse}/stats?group_by=site"))
        .await;
    assert_error(res, 422, "invalid_field").await;
    // A survey that is not anonymous is grouped by anything.
    let open = app.survey_of("csat").await;
    let res = app
        .get(&format!("/v1/surveys/{open}/stats?group_by=site"))
        .await;
    assert_eq!(res.status(), 200);
}
