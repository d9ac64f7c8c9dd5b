//! The Delighted-compatible facade over HTTP, on both backends: Basic auth with and without
//! the colon, `.json` paths, form bodies, Delighted's error shape, and metrics that agree
//! with `/v1/stats`. (The official Python client drives it in `scripts/delighted-test`.)

use base64::Engine;
use serde_json::{json, Value};

use crate::email::email_app;
use crate::helpers::TestApp;
use crate::smtp::SmtpSink;

/// A facade key bound to `survey`, made as the CLI makes it.
pub(crate) fn facade_key(app: &TestApp, survey: &str) -> String {
    let conn = &mut *app.conn();
    let workspace: String = {
        use diesel::prelude::*;
        use scorekeeper::db::schema::{surveys, workspaces};
        workspaces::table
            .inner_join(surveys::table)
            .filter(surveys::id.eq(survey))
            .select(workspaces::name)
            .first(conn)
            .unwrap()
    };
    scorekeeper::db::workspaces::create_delighted_key(conn, &workspace, survey)
        .unwrap()
        .expose()
        .to_owned()
}

pub(crate) fn basic(key: &str, colon: bool) -> String {
    let user = if colon {
        format!("{key}:")
    } else {
        key.to_owned()
    };
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user)
    )
}

struct Facade<'a> {
    app: &'a TestApp,
    key: String,
}

impl Facade<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/delighted/v1/{path}", self.app.address);
        let mut req = self
            .app
            .client
            .request(method.parse().unwrap(), url)
            .header("Authorization", basic(&self.key, true));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}/delighted/v1/{path}", self.app.address);
        let res = self
            .app
            .client
            .post(url)
            .header("Authorization", basic(&self.key, false))
            .form(fields)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }
}

#[tokio::test]
async fn people_answers_and_metrics_agree_with_v1_stats() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    let d = Facade {
        key: facade_key(&app, &survey),
        app: &app,
    };
    // A form body, as Delighted's curl examples send, with the `.json` suffix.
    let (status, stored) = d
        .form(
            "people.json",
            &[
                ("email", "ann@example.com"),
                ("name", "Ann"),
                ("send", "false"),
                ("properties[agent]", "bo"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["scorekeeper"]["outcome"], "stored");
    assert!(stored["survey_scheduled_at"].is_null());
    assert_eq!(
        app.count("invitations"),
        0,
        "send=false stores the person only"
    );
    let (_, queued) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "bo@example.com", "delay": 3600})),
        )
        .await;
    assert_eq!(queued["scorekeeper"]["outcome"], "queued");
    let scheduled = queued["survey_scheduled_at"].as_i64().unwrap();
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;
    assert!(
        (scheduled - in_an_hour).abs() < 30,
        "{scheduled} vs {in_an_hour}"
    );
    // Within the survey's throttle, a second survey is not sent, and the answer says so.
    let (_, again) = d
        .call("POST", "people", Some(json!({"email": "BO@example.com"})))
        .await;
    assert_eq!(again["scorekeeper"]["outcome"], "throttled", "{again}");
    assert!(again["scorekeeper"]["eligible_at"].is_i64());
    assert_eq!(again["id"], queued["id"], "one person per address");

    // Answers recorded for people (a kiosk), then read back and scored.
    let person = stored["id"].as_str().unwrap();
    for (score, comment) in [(10, "great"), (9, ""), (3, "slow"), (7, "")] {
        let (status, r) = d
            .call(
                "POST",
                "survey_responses",
                Some(json!({"person": person, "score": score, "comment": comment})),
            )
            .await;
        assert_eq!(status, 201, "{r}");
        assert_eq!(r["person"], person);
        assert_eq!(r["survey_type"], "nps");
    }
    let (_, page) = d
        .call("GET", "survey_responses?per_page=2&page=2", None)
        .await;
    let scores: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, vec![3, 7]);
    let (_, newest) = d
        .call(
            "GET",
            "survey_responses.json?order=desc&expand[]=person&per_page=1",
            None,
        )
        .await;
    assert_eq!(newest[0]["score"], 7);
    assert_eq!(newest[0]["person"]["email"], "ann@example.com");
    assert!(newest[0]["created_at"].is_i64());

    // Tags and notes go beside the answer, which does not change; a client's `save()` sends
    // the whole object back, read-only fields included. A changed score, comment or person
    // property is refused, naming it, rather than quietly kept as it was.
    let mut whole = newest[0].clone();
    let id = whole["id"].as_str().unwrap().to_owned();
    whole["tags"] = json!(["refund", "refund", "vip"]);
    whole["notes"] = json!(["called back"]);
    for (field, changed) in [
        ("score", json!(0)),
        ("comment", json!("edited")),
        ("person_properties", json!({"agent": "someone else"})),
    ] {
        let mut edited = whole.clone();
        edited[field] = changed;
        let (status, body) = d
            .call("PUT", &format!("survey_responses/{id}"), Some(edited))
            .await;
        assert_eq!(status, 422, "{field}: {body}");
        assert!(body["errors"][field].is_array(), "{body}");
    }
    let (status, put) = d
        .call("PUT", &format!("survey_responses/{id}"), Some(whole))
        .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["tags"], json!(["refund", "vip"]));
    assert_eq!(put["notes"][0]["text"], "called back");
    assert_eq!(put["score"], 7);
    let note = put["notes"][0].clone();
    let (_, again) = d
        .call(
            "PUT",
            &format!("survey_responses/{id}.json"),
            Some(json!({"notes": [note, {"text": "closed"}]})),
        )
        .await;
    assert_eq!(
        again["notes"][0], note,
        "a note sent back keeps its id and time"
    );
    assert_eq!(again["notes"][1]["text"], "closed");
    assert_eq!(again["tags"], json!(["refund", "vip"]), "absent tags stay");
    let (status, _) = d
        .call(
            "PUT",
            &format!("survey_responses/{id}"),
            Some(json!({"tags": [""]})),
        )
        .await;
    assert_eq!(status, 422);

    let (_, metrics) = d.call("GET", "metrics", None).await;
    let stats = app.stats(&survey).await;
    assert_eq!(metrics["response_count"], stats["responses"]);
    assert_eq!(metrics["promoter_count"], stats["promoters"]);
    assert_eq!(metrics["passive_count"], stats["passives"]);
    assert_eq!(metrics["detractor_count"], stats["detractors"]);
    assert_eq!(
        metrics["nps"].as_i64(),
        stats["score"].as_f64().map(|s| s.round() as i64)
    );
    assert_eq!(
        (
            metrics["nps"].as_i64(),
            metrics["promoter_percent"].as_i64()
        ),
        (Some(25), Some(50))
    );
}

/// A facade key goes to an outside integration and speaks for its one survey there: under
/// /v1 it reads nothing (no other survey) and does nothing (no webhook, no erasure).
#[tokio::test]
async fn a_facade_key_opens_nothing_under_v1() {
    let app = crate::helpers::spawn_app().await;
    let survey = app.survey_of("csat").await;
    let key = facade_key(&app, &survey);
    for res in [
        app.get_as("/v1/surveys", &key).await,
        app.get_as(&format!("/v1/surveys/{survey}/stats"), &key)
            .await,
        app.post_as(
            "/v1/webhooks",
            &json!({"url": "https://example.com/hook", "events": ["response.created"]}),
            &key,
        )
        .await,
    ] {
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/delighted/v1/"),
            "{body}"
        );
    }
    let hooks: Value = app.get("/v1/webhooks").await.json().await.unwrap();
    assert_eq!(hooks["data"], json!([]), "the refused call stored nothing");
    // The same key still works where it belongs.
    assert_eq!(metrics_as(&app, &key).await.status(), 200);
}

/// `GET /delighted/v1/metrics` with `key` (Basic, with the colon).
async fn metrics_as(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/delighted/v1/metrics", app.address))
        .header("Authorization", basic(key, true))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn errors_come_in_delighted_shape_and_keys_are_bound_to_their_survey() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("csat").await;
    let d = Facade {
        key: facade_key(&app, &survey),
        app: &app,
    };
    let (status, body) = d
        .call(
            "POST",
            "people",
            Some(json!({"phone_number": "+14155551212"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["status"], 422);
    assert!(body["errors"]["phone_number"][0]
        .as_str()
        .unwrap()
        .contains("SMS"));
    let (status, body) = d
        .call("POST", "people", Some(json!({"email": "not an address"})))
        .await;
    assert_eq!((status, body["errors"]["email"].is_array()), (422, true));
    let (status, body) = d
        .call(
            "GET",
            &format!("survey_responses/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!((status, &body["status"]), (404, &json!(404)));
    for bad in [
        "survey_responses?per_page=101",
        "metrics?until=253402300800",
        "people?since=-1",
    ] {
        let (status, body) = d.call("GET", bad, None).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, body) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "x@example.com", "name": "a\u{f}b"})),
        )
        .await;
    assert_eq!(
        (status, body["errors"]["name"].is_array()),
        (422, true),
        "{body}"
    );
    // A NUL in a property (Postgres would refuse it) is a 422 naming it, not a 500.
    let (status, body) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "x@example.com", "properties": {"agent": "b\u{0}o"}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["errors"]["properties.agent"].is_array(), "{body}");

    // A body too large, or sent with a wrong key, still answers in Delighted's shape; the key
    // is checked first.
    let big = json!({"email": "x@example.com", "name": "x".repeat(100 * 1024)});
    let (status, body) = d.call("POST", "people", Some(big.clone())).await;
    assert_eq!((status, &body["status"]), (413, &json!(413)), "{body}");
    let wrong = Facade {
        key: format!("sk_{}", "A".repeat(43)),
        app: &app,
    };
    for body in [big, json!({"email": 1})] {
        let (status, body) = wrong.call("POST", "people", Some(body)).await;
        assert_eq!((status, &body["status"]), (401, &json!(401)), "{body}");
    }

    // A wrong key, and a plain API key that is not bound to a survey: 401, Basic challenge.
    for key in ["sk_wrong".to_owned(), app.api_key.clone()] {
        let res = metrics_as(&app, &key).await;
        assert_eq!(res.status(), 401);
        assert!(res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 401);
    }
    assert_eq!(
        app.count("people"),
        0,
        "nothing was stored by refused calls"
    );

    // CSAT metrics use the same rules as the stats.
    let (_, p) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "a@example.com", "send": false})),
        )
        .await;
    for score in [5, 4, 2] {
        d.call(
            "POST",
            "survey_responses",
            Some(json!({"person": p["id"], "score": score})),
        )
        .await;
    }
    let (_, metrics) = d.call("GET", "metrics", None).await;
    assert_eq!(metrics["response_count"], 3);
    assert_eq!(metrics["satisfied_count"], 2);
    assert_eq!(metrics["csat"], 67);

    // Unsubscribing suppresses the person's next survey.
    let (status, ok) = d
        .call(
            "POST",
            "unsubscribes",
            Some(json!({"person_email": "a@example.com"})),
        )
        .await;
    assert_eq!((status, ok), (200, json!({"ok": true})));
    let (_, list) = d.call("GET", "unsubscribes", None).await;
    assert_eq!(list[0]["email"], "a@example.com");
    assert_eq!(list[0]["person_id"], p["id"]);
    let (_, again) = d
        .call("POST", "people", Some(json!({"email": "a@example.com"})))
        .await;
    assert_eq!(again["scorekeeper"]["outcome"], "suppressed");
    assert_eq!(again["scorekeeper"]["reason"], "unsubscribed");

    // Erasure: the person is gone and their answers keep no address.
    let (status, _) = d
        .call("DELETE", "people/email%3Aa%40example.com", None)
        .await;
    assert_eq!(status, 202);
    let (_, answers) = d.call("GET", "survey_responses", None).await;
    assert_eq!(answers.as_array().unwrap().len(), 3);
    assert!(answers
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["person"].is_null()));
    let (status, _) = d
        .call("DELETE", "people/email%3Aa%40example.com", None)
        .await;
    assert_eq!(status, 404);
}

/// A page's `next` link keeps the list's filters (clients follow it verbatim), and `until`
/// takes in the whole second it names, as Delighted's "on or before" does.
#[tokio::test]
async fn people_pages_keep_their_filters_and_until_takes_its_whole_second() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    let d = Facade {
        key: facade_key(&app, &survey),
        app: &app,
    };
    for name in ["a1", "a2", "a3"] {
        let email = format!("{name}@example.com");
        let (status, person) = d
            .form("people", &[("email", email.as_str()), ("send", "false")])
            .await;
        assert_eq!(status, 200, "{person}");
    }
    // The second the last of them was stored in (or a later one).
    let until = chrono::Utc::now().timestamp();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for name in ["b1", "b2"] {
        let email = format!("{name}@example.com");
        d.form("people", &[("email", email.as_str()), ("send", "false")])
            .await;
    }
    let get = |url: String| {
        let key = d.key.clone();
        let client = app.client.clone();
        async move {
            let res = client
                .get(url)
                .header("Authorization", basic(&key, true))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let next = res
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            let people: Value = res.json().await.unwrap();
            let emails: Vec<String> = people
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["email"].as_str().unwrap().to_owned())
                .collect();
            (emails, next)
        }
    };
    let first = format!(
        "{}/delighted/v1/people?until={until}&per_page=2",
        app.address
    );
    let (page1, link) = get(first).await;
    assert_eq!(page1, ["a1@example.com", "a2@example.com"]);
    let link = link.expect("a next link");
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .unwrap()
        .0
        .to_owned();
    assert!(next.contains(&format!("until={until}")), "{next}");
    let (page2, link) = get(next).await;
    assert_eq!(page2, ["a3@example.com"], "the filter holds on page 2");
    assert!(link.is_none());
    // Delighted took any property name (its docs send `Purchase Experience`): such a name is
    // kept under the key the history import gives that column; two that would share one are
    // refused.
    let (status, body) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "pe@example.com",
                        "properties": {"Purchase Experience": "Mobile App", "agent": "bo"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["properties"]["purchase_experience"], "Mobile App");
    assert_eq!(body["properties"]["agent"], "bo");
    let (status, body) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "pe@example.com",
                        "properties": {"Purchase Experience": "a", "purchase experience": "b"}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"]["properties.purchase experience"].is_array(),
        "{body}"
    );
    for name in ["a\u{1}b", "?!"] {
        let (status, body) = d
            .call(
                "POST",
                "people",
                Some(json!({"email": "pe@example.com", "properties": {name: "x"}})),
            )
            .await;
        assert_eq!(status, 422, "{name:?}: {body}");
    }
}

/// `person_email` and `person_id` narrow the answers to one person's; `trend`, which is not
/// supported, is refused rather than ignored (the whole list would come back); a phone
/// number names nobody here.
#[tokio::test]
async fn answers_list_by_person_and_unsupported_filters_are_refused() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    let d = Facade {
        key: facade_key(&app, &survey),
        app: &app,
    };
    let mut ids = Vec::new();
    for (email, score) in [("p1@example.com", 9), ("p2@example.com", 3)] {
        let (_, person) = d
            .form("people", &[("email", email), ("send", "false")])
            .await;
        let id = person["id"].as_str().unwrap().to_owned();
        let (status, r) = d
            .call(
                "POST",
                "survey_responses",
                Some(json!({"person": id, "score": score})),
            )
            .await;
        assert_eq!(status, 201, "{r}");
        ids.push(id);
    }
    let scores = |list: &Value| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["score"].as_i64().unwrap())
            .collect()
    };
    let (status, all) = d.call("GET", "survey_responses", None).await;
    assert_eq!((status, scores(&all)), (200, vec![9, 3]));
    let (_, mine) = d
        .call(
            "GET",
            "survey_responses?person_email=P1%40example.com",
            None,
        )
        .await;
    assert_eq!(scores(&mine), [9]);
    let (_, theirs) = d
        .call(
            "GET",
            &format!("survey_responses?person_id={}", ids[1]),
            None,
        )
        .await;
    assert_eq!(scores(&theirs), [3]);
    let (_, both) = d
        .call(
            "GET",
            &format!(
                "survey_responses?person_id={}&person_email=p1%40example.com",
                ids[1]
            ),
            None,
        )
        .await;
    assert_eq!(scores(&both), Vec::<i64>::new(), "two people: nobody");
    let unknown = uuid::Uuid::now_v7();
    let (status, none) = d
        .call(
            "GET",
            &format!("survey_responses?person_id={unknown}"),
            None,
        )
        .await;
    assert_eq!((status, scores(&none)), (200, vec![]));
    // The first answer changed last (as a later comment would change it): last by creation,
    // first by change.
    {
        use diesel::prelude::*;
        use scorekeeper::db::schema::responses;
        let later = chrono::Utc::now().naive_utc() + chrono::Duration::hours(1);
        diesel::update(responses::table.filter(responses::score.eq(9)))
            .set(responses::updated_at.eq(later))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let (_, newest) = d.call("GET", "survey_responses?order=desc", None).await;
    assert_eq!(scores(&newest), [3, 9]);
    let (_, changed) = d
        .call("GET", "survey_responses?order=desc:updated_at", None)
        .await;
    assert_eq!(scores(&changed), [9, 3]);
    let (_, changed) = d
        .call("GET", "survey_responses?order=asc:updated_at", None)
        .await;
    assert_eq!(scores(&changed), [3, 9]);
    for path in ["survey_responses?trend=42", "metrics?trend=42"] {
        let (status, body) = d.call("GET", path, None).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body["errors"]["trend"].is_array(), "{body}");
    }
    let (status, people) = d
        .call("GET", "people?phone_number=%2B14155551212", None)
        .await;
    assert_eq!((status, people), (200, json!([])));

    // People carry Delighted's activity times: last answered, and the next survey queued.
    let (_, p3) = d
        .call(
            "POST",
            "people",
            Some(json!({"email": "p3@example.com", "delay": 3600})),
        )
        .await;
    let (_, people) = d.call("GET", "people", None).await;
    let person = |email: &str| {
        people
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["email"] == email)
            .unwrap()
            .clone()
    };
    let now = chrono::Utc::now().timestamp();
    let answered = person("p1@example.com");
    assert!(
        (answered["last_responded_at"].as_i64().unwrap() - now).abs() < 60,
        "{answered}"
    );
    assert!(answered["next_survey_scheduled_at"].is_null(), "{answered}");
    let queued = person("p3@example.com");
    assert_eq!(
        queued["next_survey_scheduled_at"], p3["survey_scheduled_at"],
        "{queued}"
    );
    assert!(queued["last_responded_at"].is_null() && queued["last_sent_at"].is_null());

    // An anonymous survey's invitations count in no one's activity (an answered one loses its
    // person, so a time that moved back would tell); a named survey's do.
    for email in ["p4@example.com", "p5@example.com"] {
        d.form("people", &[("email", email), ("send", "false")])
            .await;
    }
    let pulse = app
        .create_survey(json!({"name": "Pulse", "kind": "esat", "anonymous": true}))
        .await;
    let pulse = pulse["id"].as_str().unwrap().to_owned();
    // One address each: the throttle is the workspace's.
    for (target, email) in [(pulse.as_str(), "p4"), (survey.as_str(), "p5")] {
        let res = app
            .post(
                &format!("/v1/surveys/{target}/invitations"),
                &json!({"channel": "email", "recipient": {"email": format!("{email}@example.com")}}),
            )
            .await;
        let status = res.status();
        let inv: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{inv}");
        let id = inv["id"].as_str().unwrap().to_owned();
        crate::email::wait_status(&app, &id, "sent").await;
        let (_, people) = d
            .call("GET", &format!("people?email={email}%40example.com"), None)
            .await;
        let sent = &people[0]["last_sent_at"];
        if target == pulse {
            assert!(sent.is_null(), "anonymous: {people}");
        } else {
            assert!(sent.is_i64(), "named: {people}");
        }
    }
}
