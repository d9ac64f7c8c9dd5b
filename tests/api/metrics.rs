//! `GET /metrics`: Prometheus text with requests by route template (never a token), answers,
//! emails by outcome, and the outbox's and pool's state; behind `METRICS_TOKEN` when set. And the
//! `scorekeeper healthcheck` probe the container image uses.

use std::time::Duration;

use serde_json::json;

use crate::email::email_app;
use crate::helpers::{spawn_app, token_of, TestApp};
use crate::smtp::SmtpSink;

/// `GET /metrics`, with `token` as its bearer if given: the status and the text.
pub async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(format!("{}/metrics", app.address));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn requests_answers_and_state_are_counted_by_route_template_without_tokens() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let url = app.link(&survey).await;
    assert_eq!(app.answer(&url, json!({"score": 9})).await.status(), 201);
    assert_eq!(app.answer(&url, json!({"score": 10})).await.status(), 200);
    let (status, text) = scrape(&app, None).await;
    assert_eq!(status, 200);
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has("scorekeeper_http_requests_total{method=\"POST\",route=\"/r/{token}\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(has(
        "scorekeeper_answers_recorded_total{change=\"created\"} 1"
    ));
    assert!(has(
        "scorekeeper_answers_recorded_total{change=\"updated\"} 1"
    ));
    assert!(text.contains(
        "scorekeeper_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/surveys\""
    ));
    // Two answers sent one after the other: two batches of one, summing to two.
    assert!(has("scorekeeper_answer_batch_size_count 2"), "{text}");
    assert!(has("scorekeeper_answer_batch_size_sum 2"));
    assert!(has("scorekeeper_state{of=\"outbox_lag_seconds\"} 0"));
    assert!(text.contains("scorekeeper_state{of=\"db_pool_in_use\"}"));
    assert!(!text.contains(&token_of(&url)), "no token in a label");
}

#[tokio::test]
async fn emails_are_counted_by_outcome_and_a_token_guards_the_page_when_set() {
    let smtp = SmtpSink::start();
    let app = email_app(&smtp.url(), &[("METRICS_TOKEN", "scrape-me")]).await;
    let survey = app.survey_of("csat").await;
    let res = app
        .post(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"channel": "email", "recipient": {"email": "ana@acme.test"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("wrong")).await.0, 401);
    // The outcome is recorded right after the SMTP server accepts the message.
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(&app, Some("scrape-me")).await.1;
        if text.contains("scorekeeper_emails_total{outcome=\"sent\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        text.contains("scorekeeper_emails_total{outcome=\"sent\"} 1"),
        "{text}"
    );
}

#[test]
fn with_log_format_json_every_log_line_is_a_json_object() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scorekeeper"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/logs.db", dir.path().display()),
        )
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the binary");
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let listening = line.contains("scorekeeper listening");
        lines.push(line);
        if listening || lines.len() > 50 {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l.contains("scorekeeper listening")),
        "{lines:?}"
    );
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("{line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

#[tokio::test]
async fn the_healthcheck_command_probe_passes_against_a_live_server_and_fails_without_one() {
    let app = spawn_app().await;
    let addr: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let probe = tokio::task::spawn_blocking(move || scorekeeper::healthcheck::probe(addr));
    probe.await.unwrap().expect("a live server is healthy");
    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = tokio::task::spawn_blocking(move || scorekeeper::healthcheck::probe(free))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("nothing answers"), "{err}");
}
