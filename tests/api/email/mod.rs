//! Email delivery against a real SMTP server on loopback, by topic, and the helpers they share.

mod content;
mod delivery;
mod recipients;
mod secrets;

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

pub const WAIT: Duration = Duration::from_secs(15);

/// An app that emails through `smtp_url`, polling and retrying quickly.
pub async fn email_app(smtp_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("SMTP_URL", smtp_url),
        ("MAIL_FROM", "surveys@acme.test"),
        ("OUTBOX_POLL_MS", "50"),
        ("OUTBOX_RETRY_BASE_MS", "100"),
        ("OUTBOX_RETRY_MAX_MS", "400"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(&env).await
}

pub async fn email_invite(app: &TestApp, survey: &str, email: &str) -> reqwest::Response {
    app.post(
        &format!("/v1/surveys/{survey}/invitations"),
        &json!({"channel": "email", "recipient": {"email": email}}),
    )
    .await
}

pub async fn invitation(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/v1/invitations/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Polls an invitation until its status is `want`.
pub async fn wait_status(app: &TestApp, id: &str, want: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let inv = invitation(app, id).await;
        if inv["status"] == want || start.elapsed() > WAIT {
            assert_eq!(inv["status"], want, "{inv}");
            return inv;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The links in an HTML part, with the entities a browser would decode.
pub fn hrefs(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"href="([^"]+)""#).unwrap();
    re.captures_iter(html)
        .map(|c| {
            c[1].replace("&#x2f;", "/")
                .replace("&#x27;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

pub fn outbox_pending(app: &TestApp) -> i64 {
    scorekeeper::db::outbox::pending_count(&mut app.conn()).unwrap()
}
