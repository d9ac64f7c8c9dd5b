//! Outbound webhooks against a real HTTP receiver on loopback: signatures, retries, at-least-
//! once delivery deduplicated by `event_id`, durability across a restart, redirects, and the
//! SSRF rules.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{spawn_app, spawn_app_with, spawn_instance, TestApp};

pub(crate) const FAST: [(&str, &str); 4] = [
    ("WEBHOOK_POLL_MS", "50"),
    ("WEBHOOK_RETRY_BASE_MS", "50"),
    ("WEBHOOK_RETRY_MAX_MS", "200"),
    ("WEBHOOK_TIMEOUT_SECS", "2"),
];

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    signature: String,
    event_id: String,
    pub(crate) body: String,
}

/// A real HTTP server on loopback that answers with scripted statuses (then 200).
pub(crate) struct Receiver {
    pub(crate) url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

/// A scripted answer: a status and an optional `Location`.
pub(crate) type Scripted = (u16, Option<String>);

#[derive(Clone)]
struct Script {
    statuses: Arc<Mutex<VecDeque<Scripted>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, script: web::Data<Script>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    script.hits.lock().unwrap().push(Hit {
        signature: header("scorekeeper-signature"),
        event_id: header("scorekeeper-event-id"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let next = script.statuses.lock().unwrap().pop_front();
    match next {
        Some((status, location)) => {
            let mut res =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if let Some(location) = location {
                res.insert_header(("Location", location));
            }
            res.finish()
        }
        None => HttpResponse::Ok().finish(),
    }
}

impl Receiver {
    pub(crate) fn start(statuses: Vec<Scripted>) -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let script = Script {
            statuses: Arc::new(Mutex::new(statuses.into())),
            hits: hits.clone(),
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(script.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            hits,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Hit> {
        for _ in 0..200 {
            if self.hits().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.hits()
    }
}

/// What a receiver does to check a delivery (the README's recipe, in Rust).
pub(crate) fn verify(secret: &str, hit: &Hit) -> bool {
    let mut t = "";
    let mut v1 = "";
    for part in hit.signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value,
            Some(("v1", value)) => v1 = value,
            _ => {}
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    !t.is_empty() && expected == v1
}

pub(crate) async fn subscribe(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let res = app
        .post("/v1/webhooks", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let res = app.get(&format!("/v1/webhooks/{webhook}/deliveries")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn signed_events_are_retried_after_500s_and_seen_once_after_deduplication() {
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    let app = spawn_app_with(&env).await;
    let receiver = Receiver::start(vec![(500, None), (500, None)]);
    let hook = subscribe(
        &app,
        &receiver.url,
        &["response.created", "response.updated"],
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    // The secret is shown once: never in a list.
    let list: Value = app.get("/v1/webhooks").await.json().await.unwrap();
    assert!(list["data"][0].get("secret").is_none());

    let survey = app.survey_of("csat").await;
    let inv = app
        .invite(&survey, json!({"properties": {"ticket_id": "T-1"}}))
        .await;
    let url = inv["url"].as_str().unwrap();
    assert_eq!(app.answer(url, json!({"score": 5})).await.status(), 201);
    let hits = receiver.wait_for(3).await;
    assert_eq!(hits.len(), 3, "two 500s, then the delivery");
    assert!(
        hits.iter().all(|h| verify(&secret, h)),
        "every attempt is signed"
    );
    assert!(!verify("whsec_wrong", &hits[0]));
    let event_ids: std::collections::BTreeSet<_> = hits.iter().map(|h| &h.event_id).collect();
    assert_eq!(event_ids.len(), 1, "retries carry the same event_id");
    let event: Value = serde_json::from_str(&hits[2].body).unwrap();
    assert_eq!(event["type"], "response.created");
    assert_eq!(event["event_id"], hits[2].event_id.as_str());
    assert_eq!(event["data"]["score"], 5);
    assert_eq!(event["data"]["invitation_id"], inv["id"]);

    // A comment is an update: a new event.
    assert_eq!(
        app.answer(url, json!({"comment": "quick"})).await.status(),
        200
    );
    let hits = receiver.wait_for(4).await;
    let updated: Value = serde_json::from_str(&hits[3].body).unwrap();
    assert_eq!(updated["type"], "response.updated");
    assert_eq!(updated["data"]["comment"], "quick");
    let unique: std::collections::BTreeSet<_> = hits.iter().map(|h| &h.event_id).collect();
    assert_eq!(unique.len(), 2, "two events after deduplication");

    // The log shows every attempt with its status and latency.
    let hook_id = hook["id"].as_str().unwrap();
    let log = deliveries(&app, hook_id).await;
    let first = log
        .iter()
        .find(|d| d["type"] == "response.created")
        .unwrap();
    assert_eq!(first["state"], "delivered");
    let statuses: Vec<i64> = first["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    assert!(first["attempts"][0]["latency_ms"].as_i64().unwrap() >= 0);

    // Resending one on demand delivers it again, with the same event_id.
    let res = app
        .post(
            &format!(
                "/v1/webhooks/{hook_id}/deliveries/{}/retry",
                first["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let hits = receiver.wait_for(5).await;
    assert_eq!(hits[4].event_id, hits[0].event_id);
    // One being attempted right now (a worker holds its lease) is not queued again beside
    // that attempt: 409, and the claim stands.
    {
        use diesel::prelude::*;
        use scorekeeper::db::schema::webhook_deliveries as d;
        let now = chrono::Utc::now().naive_utc();
        diesel::update(d::table.find(first["id"].as_str().unwrap()))
            .set((
                d::state.eq("pending"),
                d::claimed_by.eq("another-worker"),
                d::lease_until.eq(now + chrono::Duration::hours(1)),
                d::next_attempt_at.eq(now + chrono::Duration::hours(1)),
            ))
            .execute(&mut *app.conn())
            .unwrap();
        let retry = format!(
            "/v1/webhooks/{hook_id}/deliveries/{}/retry",
            first["id"].as_str().unwrap()
        );
        crate::helpers::assert_error(app.post(&retry, &json!({})).await, 409, "conflict").await;
        let claimed: Option<String> = d::table
            .find(first["id"].as_str().unwrap())
            .select(d::claimed_by)
            .first(&mut *app.conn())
            .unwrap();
        assert_eq!(claimed.as_deref(), Some("another-worker"));
    }
    // Another workspace sees none of it.
    let other = app.other_workspace_key("other");
    let res = app
        .get_as(&format!("/v1/webhooks/{hook_id}/deliveries"), &other)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_queued_event_is_delivered_by_the_next_instance_after_a_restart() {
    let receiver = Receiver::start(vec![]);
    // The first instance never polls again after starting: the event stays queued.
    let first = spawn_app_with(&[
        ("WEBHOOK_POLL_MS", "60000"),
        ("WEBHOOK_ALLOW_LOOPBACK", "true"),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    subscribe(&first, &receiver.url, &["response.created"]).await;
    let survey = first.survey_of("nps").await;
    let url = first.link(&survey).await;
    assert_eq!(first.answer(&url, json!({"score": 9})).await.status(), 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.hits().is_empty());
    first.handle.stop().await;
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    let _second = spawn_instance(first.db.url(), &env).await;
    let hits = receiver.wait_for(1).await;
    assert_eq!(hits.len(), 1);
    let event: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!(event["data"]["score"], 9);
}

#[tokio::test]
async fn loopback_targets_are_refused_unless_allowed_and_redirects_are_not_followed() {
    // Default policy: loopback is refused at delivery time, nothing reaches the receiver.
    let app = spawn_app_with(&FAST).await;
    let receiver = Receiver::start(vec![]);
    let hook = subscribe(&app, &receiver.url, &["response.created"]).await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    app.answer(&url, json!({"score": 4})).await;
    let hook_id = hook["id"].as_str().unwrap();
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&app, hook_id).await;
        if log[0]["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempt = &log[0]["attempts"][0];
    assert_eq!(attempt["status"], Value::Null);
    assert!(
        attempt["error"].as_str().unwrap().contains("loopback"),
        "{attempt}"
    );
    assert!(receiver.hits().is_empty());

    // Allowed loopback: a redirect to another host is recorded, not followed.
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    env.push(("WEBHOOK_MAX_AGE_SECS", "1"));
    let app = spawn_app_with(&env).await;
    let elsewhere = Receiver::start(vec![]);
    let redirecting = Receiver::start(vec![(
        307,
        Some(elsewhere.url.replace("127.0.0.1", "localhost")),
    )]);
    let hook = subscribe(&app, &redirecting.url, &["response.created"]).await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    app.answer(&url, json!({"score": 4})).await;
    redirecting.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(elsewhere.hits().is_empty(), "the redirect was followed");
    let log = deliveries(&app, hook["id"].as_str().unwrap()).await;
    let attempt = &log[0]["attempts"][0];
    assert_eq!(attempt["status"], 307);
    assert!(attempt["error"].as_str().unwrap().contains("redirect"));
}

#[tokio::test]
async fn bad_subscriptions_are_refused_naming_the_field() {
    let app = spawn_app_with(&[]).await;
    for (body, field) in [
        (
            json!({"url": "ftp://x.example", "events": ["response.created"]}),
            "url",
        ),
        (
            json!({"url": "https://u:p@x.example", "events": ["response.created"]}),
            "url",
        ),
        (json!({"url": "https://x.example", "events": []}), "events"),
        (
            json!({"url": "https://x.example", "events": ["nope"]}),
            "events[0]",
        ),
    ] {
        let res = app.post("/v1/webhooks", &body).await;
        let err = crate::helpers::assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
    let res = app.get("/v1/webhooks").await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["data"], json!([]));
}

/// Creations that race still stop at the cap: each counts the workspace's webhooks only
/// after the one before it has stored its own (on PostgreSQL two could count 19 at once).
#[tokio::test]
async fn racing_creations_stop_at_the_cap() {
    const MAX: usize = scorekeeper::domain::webhook::MAX_WEBHOOKS as usize;
    let app = spawn_app().await;
    let body = json!({"url": "https://x.example/hook", "events": ["response.created"]});
    let posts = (0..2 * MAX).map(|_| app.post("/v1/webhooks", &body));
    let statuses: Vec<u16> = futures_util::future::join_all(posts)
        .await
        .iter()
        .map(|res| res.status().as_u16())
        .collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(created, MAX, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [201, 409].contains(s)),
        "{statuses:?}"
    );
    let list: Value = app.get("/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), MAX);
}

/// Finished webhook events age out with their deliveries and attempts after 30 days; an
/// event with a delivery still pending stays, however old.
#[tokio::test]
async fn finished_webhook_events_age_out_and_pending_ones_stay() {
    use diesel::prelude::*;
    use scorekeeper::db::schema::{webhook_attempts, webhook_deliveries, webhook_events};
    let receiver = Receiver::start(vec![]);
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    let app = spawn_app_with(&env).await;
    subscribe(&app, &receiver.url, &["response.created"]).await;
    let survey = app.survey_of("nps").await;
    for score in [9, 3] {
        let url = app.link(&survey).await;
        assert_eq!(
            app.answer(&url, json!({"score": score})).await.status(),
            201
        );
    }
    assert_eq!(receiver.wait_for(2).await.len(), 2);
    let conn = &mut *app.conn();
    // Wait for both deliveries' outcomes to be recorded.
    let mut delivered = 0;
    for _ in 0..200 {
        delivered = webhook_deliveries::table
            .filter(webhook_deliveries::state.eq("delivered"))
            .count()
            .get_result::<i64>(conn)
            .unwrap();
        if delivered == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(delivered, 2);
    // Both 40 days old; one of them still being retried.
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(40);
    diesel::update(webhook_events::table)
        .set(webhook_events::created_at.eq(long_ago))
        .execute(conn)
        .unwrap();
    let retried: String = webhook_deliveries::table
        .select(webhook_deliveries::id)
        .first(conn)
        .unwrap();
    diesel::update(webhook_deliveries::table.find(&retried))
        .set((
            webhook_deliveries::state.eq("pending"),
            webhook_deliveries::next_attempt_at.eq(long_ago + chrono::Duration::days(400)),
        ))
        .execute(conn)
        .unwrap();
    let swept = scorekeeper::db::maintenance::sweep(conn, scorekeeper::db::now()).unwrap();
    assert_eq!(swept.webhook_events, 1);
    let left: Vec<String> = webhook_deliveries::table
        .select(webhook_deliveries::id)
        .load(conn)
        .unwrap();
    assert_eq!(left, vec![retried.clone()]);
    let attempts: Vec<String> = webhook_attempts::table
        .select(webhook_attempts::delivery_id)
        .load(conn)
        .unwrap();
    assert_eq!(attempts, vec![retried], "the other's attempts went with it");
    assert_eq!(
        webhook_events::table
            .count()
            .get_result::<i64>(conn)
            .unwrap(),
        1
    );
}
