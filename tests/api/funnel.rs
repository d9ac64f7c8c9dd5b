//! The funnel: issued → delivered → opened → answered → commented, with scanners apart,
//! from real emails through a real SMTP server and real page views.

use serde_json::{json, Value};

use crate::email::{email_app, email_invite, wait_status};
use crate::smtp::SmtpSink;

const BROWSER_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0 Safari/537.36";
const SCANNER_UA: &str = "Mozilla/5.0 (compatible; BingPreview/1.0b)";

async fn view_page(app: &crate::helpers::TestApp, url: &str, agent: &str) {
    let res = app
        .client
        .get(url)
        .header("User-Agent", agent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// What the page's script sends once the page is visible.
async fn report_opened(app: &crate::helpers::TestApp, url: &str, agent: &str) {
    let res = app
        .client
        .post(format!("{url}/opened"))
        .header("User-Agent", agent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

fn funnel(stats: &Value) -> [u64; 6] {
    let f = &stats["funnel"];
    [
        "issued",
        "delivered",
        "opened",
        "answered",
        "commented",
        "suspect",
    ]
    .map(|k| {
        f[k].as_u64()
            .unwrap_or_else(|| panic!("funnel.{k} in {stats}"))
    })
}

#[tokio::test]
async fn each_step_of_the_funnel_counts_people_once_and_scanners_never() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("csat").await;
    let mut urls = Vec::new();
    for who in ["ann", "bo", "cy", "di"] {
        let inv: Value = email_invite(&app, &survey, &format!("{who}@example.com"))
            .await
            .json()
            .await
            .unwrap();
        wait_status(&app, inv["id"].as_str().unwrap(), "sent").await;
        urls.push(inv["url"].as_str().unwrap().to_owned());
    }
    // A link handed to the caller is delivered on issue.
    let link = app.link(&survey).await;
    let stats = app.stats(&survey).await;
    assert_eq!(funnel(&stats), [5, 5, 0, 0, 0, 0]);

    // Fetching the page opens nothing (scanners fetch every link, whatever they claim to be);
    // the page's script in a browser opens it once, however often; a scanner running the
    // script does not.
    view_page(&app, &urls[0], SCANNER_UA).await;
    view_page(&app, &urls[1], BROWSER_UA).await;
    report_opened(&app, &urls[1], SCANNER_UA).await;
    assert_eq!(funnel(&app.stats(&survey).await), [5, 5, 0, 0, 0, 0]);
    report_opened(&app, &urls[0], BROWSER_UA).await;
    report_opened(&app, &urls[0], BROWSER_UA).await;
    assert_eq!(funnel(&app.stats(&survey).await), [5, 5, 1, 0, 0, 0]);

    // Answering opens too (a one-click answer may never have shown the page to a browser);
    // a comment moves one step further; a scanner's answer stays apart.
    assert_eq!(
        app.answer(&urls[0], json!({"score": 5})).await.status(),
        201
    );
    assert_eq!(
        app.answer(&urls[1], json!({"score": 2})).await.status(),
        201
    );
    assert_eq!(
        app.answer(&urls[1], json!({"comment": "slow"}))
            .await
            .status(),
        200
    );
    let res = app
        .client
        .post(&link)
        .header("User-Agent", SCANNER_UA)
        .json(&json!({"score": 1, "comment": "bot"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let stats = app.stats(&survey).await;
    assert_eq!(funnel(&stats), [5, 5, 3, 2, 1, 1]);
    assert_eq!(stats["responses"], 2);
    assert_eq!(stats["suspect_responses"], 1);
    // Clearing the comment takes the answer back a step.
    assert_eq!(
        app.answer(&urls[1], json!({"comment": ""})).await.status(),
        200
    );
    assert_eq!(funnel(&app.stats(&survey).await), [5, 5, 3, 2, 0, 1]);

    // The same figures in each bucket and from the raw rows the rollups were built from.
    let weekly = app.stats_query(&survey, "?interval=week").await;
    let last = weekly["series"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(funnel(&last), [5, 5, 3, 2, 0, 1]);
    scorekeeper::db::rollups::rebuild(&mut app.conn(), &survey.clone().into()).unwrap();
    assert_eq!(funnel(&app.stats(&survey).await), [5, 5, 3, 2, 0, 1]);
}

#[tokio::test]
async fn an_email_that_fails_leaves_every_step_of_the_funnel_even_after_it_was_opened() {
    let sink = SmtpSink::start();
    let app = email_app(&sink.url(), &[]).await;
    let survey = app.survey_of("nps").await;
    // Scheduled, so the page can be opened before the mail server refuses the address.
    let inv: Value = app
        .post(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"channel": "email", "recipient": {"email": "reject-me@example.com"},
                    "delay_seconds": 1}),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = inv["url"].as_str().unwrap();
    assert_eq!(funnel(&app.stats(&survey).await), [1, 0, 0, 0, 0, 0]);
    report_opened(&app, url, BROWSER_UA).await;
    // Opened means it reached the person, whether or not the email has gone yet.
    assert_eq!(funnel(&app.stats(&survey).await), [1, 1, 1, 0, 0, 0]);
    wait_status(&app, inv["id"].as_str().unwrap(), "failed").await;
    let stats = app.stats(&survey).await;
    assert_eq!(funnel(&stats), [0, 0, 0, 0, 0, 0]);
    assert_eq!(stats["invitations"], 0);
    // A failed invitation's link is dead: its script cannot report an opening either.
    let res = app
        .client
        .post(format!("{url}/opened"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
