//! `scorekeeper import responses`: the real binary against the test's database.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn import(app: &TestApp, survey: &str, csv: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    std::fs::write(&path, csv).unwrap();
    Command::new(env!("CARGO_BIN_EXE_scorekeeper"))
        .args(["import", "responses", "--survey", survey])
        .args(extra)
        .arg(&path)
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "error")
        .output()
        .expect("run scorekeeper import")
}

#[tokio::test]
async fn a_bad_row_is_reported_by_line_and_nothing_is_imported() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let csv = "score,created_at,comment,agent\n9,2026-01-05T10:00:00Z,Great,bo\n11,2026-01-06,,ana\n7,not a date,,bo\n";
    let out = import(&app, &survey, csv, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: score"), "{stderr}");
    assert!(stderr.contains("line 4: created_at"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!((app.count("invitations"), app.count("responses")), (0, 0));
    // With --skip-invalid the good row goes in.
    let out = import(&app, &survey, csv, &["--skip-invalid"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 rows, skipped 2 invalid"));
    assert_eq!(app.count("responses"), 1);
}

#[tokio::test]
async fn imported_answers_feed_trends_groups_and_the_responses_list() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let mut csv = String::from("score,created_at,comment,email,agent,ticket_id\n");
    for day in 1..=14 {
        for (i, score) in [10, 9, 3].iter().enumerate() {
            let agent = if i == 2 { "ana" } else { "bo" };
            csv.push_str(&format!(
                "{score},2026-02-{day:02}T09:{i:02}:00Z,,p{day}-{i}@example.com,{agent},T{day}{i}\n"
            ));
        }
    }
    let out = import(&app, &survey, &csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.count("responses"), 42);
    let body: Value = app
        .get(&format!("/v1/surveys/{survey}/stats?from=2026-02-01T00:00:00Z&to=2026-02-15T00:00:00Z&interval=week&group_by=agent"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["responses"], 42);
    assert_eq!(body["invitations"], 42);
    let series = body["series"].as_array().unwrap();
    // ISO weeks: 26 Jan–1 Feb holds the 1st, 2–8 Feb seven days, 9–15 Feb six.
    let per_week: Vec<i64> = series
        .iter()
        .map(|b| b["responses"].as_i64().unwrap())
        .collect();
    assert_eq!(per_week, vec![3, 21, 18]);
    let groups: Vec<(String, i64)> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_owned(),
                g["responses"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(groups, vec![("bo".to_owned(), 28), ("ana".to_owned(), 14)]);
    assert!((body["score"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-9);
    let listed: Value = app
        .get(&format!("/v1/surveys/{survey}/responses?limit=1"))
        .await
        .json()
        .await
        .unwrap();
    let first = &listed["data"][0];
    assert_eq!(first["recipient"]["email"], json!("p1-0@example.com"));
    assert_eq!(first["properties"]["ticket_id"], "T10");
}
