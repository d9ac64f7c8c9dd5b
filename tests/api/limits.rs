//! Rate limits: an API key, a survey link and the Delighted facade over their rate answer 429
//! with `Retry-After`, write nothing, and leave other keys and links alone. An exhausted
//! database pool answers 503 with `Retry-After` after its timeout, never hangs.

use serde_json::{json, Value};

use crate::delighted::{basic, facade_key};
use crate::helpers::{assert_error, spawn_app_with};

#[tokio::test]
async fn an_api_key_over_its_rate_is_refused_with_retry_after_and_writes_nothing() {
    // 4 a minute: a burst of one, then one every 15 s.
    let app = spawn_app_with(&[("API_RATE_PER_MINUTE_KEY", "4")]).await;
    assert_eq!(app.get("/v1/surveys").await.status(), 200);
    let res = app
        .post("/v1/surveys", &json!({"name": "Too fast", "kind": "nps"}))
        .await;
    let retry: u64 = res.headers()["Retry-After"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15).contains(&retry), "{retry}");
    assert_error(res, 429, "rate_limited").await;
    assert_eq!(app.count("surveys"), 0, "a refused request writes nothing");
    // Another key of the same workspace has its own allowance.
    let other = crate::helpers::create_key(&app.pool, "acme");
    assert_eq!(app.get_as("/v1/surveys", &other).await.status(), 200);
}

#[tokio::test]
async fn a_link_asked_too_often_is_refused_and_the_refused_answer_is_not_stored() {
    let app = spawn_app_with(&[("ANSWER_RATE_PER_MINUTE_LINK", "8")]).await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    let other = app.link(&survey).await;
    // Page views do not count against the link (scanners fetch every rating link).
    for _ in 0..5 {
        assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    }
    // A burst of two answers.
    assert_eq!(app.answer(&url, json!({"score": 5})).await.status(), 201);
    assert_eq!(app.answer(&url, json!({"score": 5})).await.status(), 200);
    let res = app.answer(&url, json!({"score": 1})).await;
    assert!(res.headers().contains_key("Retry-After"));
    assert_error(res, 429, "rate_limited").await;
    let stats = app.stats(&survey).await;
    assert_eq!(
        (
            stats["distribution"]["5"].as_u64(),
            stats["distribution"]["1"].as_u64()
        ),
        (Some(1), Some(0))
    );
    // Another link is not held back by this one.
    assert_eq!(app.answer(&other, json!({"score": 4})).await.status(), 201);
}

#[tokio::test]
async fn too_many_page_views_from_one_address_get_a_page_saying_so() {
    let app = spawn_app_with(&[("ANSWER_RATE_PER_MINUTE_IP", "8")]).await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    for _ in 0..2 {
        assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    }
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("Retry-After"));
    assert!(page.text().await.unwrap().contains("Too many tries"));
}

#[tokio::test]
async fn the_delighted_facade_answers_429_as_delighted_did() {
    let app = spawn_app_with(&[("API_RATE_PER_MINUTE_KEY", "4")]).await;
    let survey = app.survey_of("nps").await;
    let key = facade_key(&app, &survey);
    let get = || {
        app.client
            .get(format!("{}/delighted/v1/metrics", app.address))
            .header("Authorization", basic(&key, true))
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let res = get().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("Retry-After"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 429, "{body}");
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_with_retry_after_within_its_timeout_then_recovers() {
    let app = spawn_app_with(&[("DATABASE_POOL_TIMEOUT_MS", "300")]).await;
    let survey = app.survey_of("csat").await;
    let url = app.link(&survey).await;
    // Every pooled connection (the test pool has 4) held elsewhere.
    let pool = app.pool.clone();
    let held = tokio::task::spawn_blocking(move || {
        (0..4).map(|_| pool.get().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let res = app.get("/v1/surveys").await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(res, 503, "unavailable").await;
    let res = app.answer(&url, json!({"score": 5})).await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(res, 503, "unavailable").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    drop(held);
    assert_eq!(
        app.count("responses"),
        0,
        "the refused answer wrote nothing"
    );
    assert_eq!(app.answer(&url, json!({"score": 5})).await.status(), 201);
    assert_eq!(app.get("/v1/surveys").await.status(), 200);
}

/// A CSV audience upload (`?name=`) over a raw connection that announces `length` bytes of
/// body and sends only its first line, `email\n`: the rest is the caller's to send, or not.
async fn half_sent_upload(
    app: &crate::helpers::TestApp,
    name: &str,
    length: usize,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let port = app.address.rsplit(':').next().unwrap();
    let mut conn = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/audiences?name={name} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {}\r\nContent-Type: text/csv\r\nContent-Length: {length}\r\n\r\nemail\n",
        app.api_key
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn
}

/// Audience uploads take turns (`UPLOADS_AT_ONCE`): while one is being read, another waits
/// for its turn and, after 5 s without one, answers 503 with Retry-After, having stored
/// nothing; once the first is done, the next one goes through.
#[tokio::test]
async fn uploads_take_turns_and_one_kept_waiting_answers_503() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(&[("UPLOADS_AT_ONCE", "1")]).await;
    let csv = "email\nana@acme.test\n";
    // The first upload sends its headers and half its body, then holds its turn.
    let mut slow = half_sent_upload(&app, "slow", csv.len()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let upload = || {
        app.client
            .post(format!("{}/v1/audiences?name=next", app.address))
            .bearer_auth(&app.api_key)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
    };
    let res = upload().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 503, "unavailable").await;
    assert_eq!(app.count("audiences"), 0);
    // The first upload finishes, and gives its turn back.
    slow.write_all(&csv.as_bytes()["email\n".len()..])
        .await
        .unwrap();
    let mut answer = vec![0; 512];
    let n = tokio::io::AsyncReadExt::read(&mut slow, &mut answer)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    assert_eq!(upload().await.unwrap().status(), 201);
    assert_eq!(app.count("audiences"), 2);
}

/// An upload whose body stalls gives its turn back after 30 s (400), so one stuck client
/// cannot keep every other upload waiting for as long as its connection stays open.
#[tokio::test]
async fn a_stalled_upload_gives_its_turn_back() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app_with(&[("UPLOADS_AT_ONCE", "1")]).await;
    let mut stalled = half_sent_upload(&app, "stalled", 100).await;
    let started = std::time::Instant::now();
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(45),
        stalled.read(&mut answer),
    )
    .await
    .expect("the stalled upload was answered within 45 s")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("did not arrive whole"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(29));
    let res = app
        .client
        .post(format!("{}/v1/audiences?name=next", app.address))
        .bearer_auth(&app.api_key)
        .header("Content-Type", "text/csv")
        .body("email\nana@acme.test\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(app.count("audiences"), 1);
}
