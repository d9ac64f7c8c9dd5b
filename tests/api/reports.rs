//! Reporting: trends in time zones, groups and filters, workspace-wide stats, and the
//! rollups agreeing with the raw rows whatever the window, interval, zone and changes.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scorekeeper::db::schema::invitations;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

const SCANNER_UA: &str = "Mozilla/5.0 (compatible; BingPreview/1.0b)";
const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

async fn stats(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Everything but the fields that name the grouping property, which differ on purpose.
fn comparable(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("group_by");
    if let Some(groups) = v.get_mut("groups").and_then(Value::as_array_mut) {
        groups.sort_by_key(|g| g["value"].as_str().unwrap_or_default().to_owned());
    }
    v
}

#[tokio::test]
async fn rollups_agree_with_the_raw_rows_for_random_windows_intervals_zones_and_changes() {
    let app = spawn_app().await;
    let survey = app
        .create_survey(json!({"name": "r", "kind": "nps", "segment_by": ["agent", "team"]}))
        .await;
    let survey = survey["id"].as_str().unwrap().to_owned();
    let seed = rand::random::<u64>();
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now().naive_utc();
    // Invitations with an agent and a team (each copied under a name that is not a segment,
    // so the same question is answered once from rollups and once from the raw rows).
    let mut links = Vec::new();
    for _ in 0..120 {
        let mut properties = serde_json::Map::new();
        if rng.random_bool(0.9) {
            let agent = format!("a{}", rng.random_range(0..5));
            properties.insert("agent".into(), json!(agent));
            properties.insert("agent_copy".into(), json!(agent));
        }
        let team = format!("t{}", rng.random_range(0..3));
        properties.insert("team".into(), json!(team));
        properties.insert("team_copy".into(), json!(team));
        let inv = app
            .invite(
                &survey,
                json!({"channel": "link", "properties": properties}),
            )
            .await;
        let url = inv["url"].as_str().unwrap().to_owned();
        if rng.random_bool(0.5) {
            let res = app
                .answer(&url, json!({"score": rng.random_range(0..=10)}))
                .await;
            assert_eq!(res.status(), 201);
        }
        links.push((inv["id"].as_str().unwrap().to_owned(), url));
    }
    // Spread them over four months, at any minute and second, and rebuild the rollups.
    let mut times = Vec::new();
    {
        let conn = &mut *app.conn();
        for (id, _) in &links {
            let at = now - Duration::seconds(rng.random_range(0..120 * 86_400));
            times.push(at);
            diesel::update(invitations::table.find(id))
                .set(invitations::created_at.eq(at))
                .execute(conn)
                .unwrap();
        }
        scorekeeper::db::rollups::rebuild(conn, &survey.clone().into()).unwrap();
    }
    // Live changes on those old invitations: new answers, changed scores, scanner answers.
    for (_, url) in &links {
        match rng.random_range(0..7) {
            0 => {
                app.age_answer(url);
                app.answer(url, json!({"score": rng.random_range(0..=10)}))
                    .await;
            }
            1 => {
                let res = app
                    .client
                    .post(url)
                    .header("User-Agent", SCANNER_UA)
                    .json(&json!({"score": rng.random_range(0..=10)}))
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success());
            }
            2 => {
                // A person opens the page (its script reports the funnel's "opened").
                let res = app
                    .client
                    .post(format!("{url}/opened"))
                    .header("User-Agent", BROWSER_UA)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 204);
            }
            3 => {
                // A comment, or a comment cleared (refused with 409 on an unanswered link).
                let comment = if rng.random_bool(0.7) { "fine" } else { "" };
                app.answer(url, json!({"comment": comment})).await;
            }
            _ => {}
        }
    }
    let zones = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Adelaide",
    ];
    for round in 0..10 {
        // Windows that start and end minutes from an invitation, so that the partial quarter
        // hours at their edges hold answers.
        times.sort();
        let i = rng.random_range(0..times.len() - 1);
        let j = rng.random_range(i + 1..times.len());
        let start = times[i] - Duration::seconds(rng.random_range(0..600));
        let end = times[j] + Duration::seconds(rng.random_range(1..600));
        let fmt = |t: NaiveDateTime| t.and_utc().to_rfc3339().replace('+', "%2B");
        let mut query = format!("from={}&to={}", fmt(start), fmt(end));
        if round % 3 != 0 {
            let interval = ["day", "week", "month"][rng.random_range(0..3)];
            let tz = zones[rng.random_range(0..zones.len())];
            query.push_str(&format!("&interval={interval}&tz={tz}"));
        }
        let base = format!("/v1/surveys/{survey}/stats?{query}");
        let rolled = stats(&app, &format!("{base}&group_by=agent")).await;
        let exact = stats(&app, &format!("{base}&group_by=agent_copy")).await;
        assert_eq!(
            comparable(rolled.clone()),
            comparable(exact),
            "seed {seed}, {query}: rollups and raw rows disagree"
        );
        let plain = stats(&app, &base).await;
        assert_eq!(plain["invitations"], rolled["invitations"]);
        assert_eq!(plain["funnel"], rolled["funnel"]);
        assert_eq!(plain["distribution"], rolled["distribution"]);
        let filtered = stats(&app, &format!("{base}&filter[team]=t1")).await;
        let filtered_exact = stats(&app, &format!("{base}&filter[team_copy]=t1")).await;
        assert_eq!(
            filtered, filtered_exact,
            "seed {seed}, {query}: filters disagree"
        );
    }
    // One independent count from the raw tables: invitations, opens and trusted answers.
    let (issued, opened, answered): (i64, i64, i64) = {
        use scorekeeper::db::schema::responses;
        let conn = &mut *app.conn();
        let issued = invitations::table
            .filter(invitations::survey_id.eq(&survey))
            .count()
            .get_result(conn)
            .unwrap();
        let answered = responses::table
            .filter(responses::survey_id.eq(&survey))
            .filter(responses::suspect.eq(false))
            .count()
            .get_result(conn)
            .unwrap();
        let opened = invitations::table
            .filter(invitations::survey_id.eq(&survey))
            .filter(invitations::opened_at.is_not_null())
            .count()
            .get_result(conn)
            .unwrap();
        (issued, opened, answered)
    };
    let all = stats(&app, &format!("/v1/surveys/{survey}/stats")).await;
    assert_eq!(
        (all["invitations"].as_i64(), all["responses"].as_i64()),
        (Some(issued), Some(answered))
    );
    assert_eq!(all["funnel"]["opened"].as_i64(), Some(opened));
}

#[tokio::test]
async fn daily_buckets_in_berlin_follow_local_midnight_across_the_dst_change() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    // 2026-03-29: Berlin springs forward at 02:00 local (01:00 UTC).
    let times = [
        "2026-03-28T22:59:00", // 23:59 on the 28th local
        "2026-03-28T23:00:00", // 00:00 on the 29th local
        "2026-03-29T21:59:00", // 23:59 on the 29th local (now UTC+2)
        "2026-03-29T22:00:00", // 00:00 on the 30th local
    ];
    for t in times {
        let inv = app.invite(&survey, json!({})).await;
        app.answer(inv["url"].as_str().unwrap(), json!({"score": 5}))
            .await;
        let at = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").unwrap();
        app.backdate(inv["id"].as_str().unwrap(), at);
    }
    let body = stats(
        &app,
        &format!("/v1/surveys/{survey}/stats?from=2026-03-27T23:00:00Z&to=2026-03-30T22:00:00Z&interval=day&tz=Europe/Berlin"),
    )
    .await;
    let series = body["series"].as_array().unwrap();
    let cells: Vec<(String, i64, i64)> = series
        .iter()
        .map(|b| {
            let hours = (chrono::DateTime::parse_from_rfc3339(b["end"].as_str().unwrap()).unwrap()
                - chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap())
            .num_hours();
            (
                b["label"].as_str().unwrap().to_owned(),
                hours,
                b["responses"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        vec![
            ("2026-03-28".into(), 24, 1),
            ("2026-03-29".into(), 23, 2),
            ("2026-03-30".into(), 24, 1),
        ]
    );
    assert_eq!(body["tz"], "Europe/Berlin");
    assert_eq!(body["interval"], "day");
}

#[tokio::test]
async fn weekly_trends_per_agent_say_whether_a_change_is_significant() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    // Week of 2 March: 40 of 40 satisfied; week of 9 March: 10 of 40; agent bo only.
    let monday = |d: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 3, d)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    };
    for (day, satisfied) in [(3, 40), (10, 10)] {
        for i in 0..40 {
            let inv = app
                .invite(
                    &survey,
                    json!({"properties": {"agent": "bo", "ticket_id": i}}),
                )
                .await;
            let score = if i < satisfied { 5 } else { 1 };
            app.answer(inv["url"].as_str().unwrap(), json!({"score": score}))
                .await;
            app.backdate(inv["id"].as_str().unwrap(), monday(day));
        }
    }
    let body = stats(
        &app,
        &format!("/v1/surveys/{survey}/stats?from=2026-03-02T00:00:00Z&to=2026-03-23T00:00:00Z&interval=week&group_by=agent"),
    )
    .await;
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 3, "empty weeks are present");
    assert_eq!(series[0]["label"], "2026-03-02");
    assert_eq!(series[0]["change"], Value::Null);
    assert_eq!(series[1]["score"], 25.0);
    assert_eq!(series[1]["change"], -75.0);
    assert_eq!(series[1]["significant"], true);
    assert_eq!(series[2]["responses"], 0);
    assert_eq!(series[2]["invitations"], 0);
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["value"], "bo");
    assert_eq!(groups[0]["responses"], 80);
    assert_eq!(groups[0]["series"][1]["significant"], true);
    // A property that is not a segment is still answered, exactly, within the bound.
    let by_ticket = stats(
        &app,
        &format!("/v1/surveys/{survey}/stats?group_by=ticket_id"),
    )
    .await;
    assert_eq!(by_ticket["groups"].as_array().unwrap().len(), 40);
}

#[tokio::test]
async fn more_than_fifty_groups_are_capped_with_the_rest_summed_as_other() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    for i in 0..53 {
        let inv = app
            .invite(
                &survey,
                json!({"properties": {"agent": format!("agent-{i:02}")}}),
            )
            .await;
        if i < 51 {
            app.answer(inv["url"].as_str().unwrap(), json!({"score": 9}))
                .await;
        }
    }
    let body = stats(&app, &format!("/v1/surveys/{survey}/stats?group_by=agent")).await;
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 51);
    let other = &groups[50];
    assert_eq!(
        (other["value"].clone(), other["other"].clone()),
        (json!("other"), json!(true))
    );
    assert_eq!(other["values"], 3);
    assert_eq!(other["invitations"], 3);
    assert_eq!(
        other["responses"], 1,
        "the answered group beyond 50 and two unanswered"
    );
    assert!(groups[..50].iter().all(|g| g["responses"] == 1));
}

#[tokio::test]
async fn workspace_stats_combine_every_survey_of_one_kind_and_scale() {
    let app = spawn_app().await;
    let a = app.survey_of("nps").await;
    let b = app.survey_of("nps").await;
    let csat = app.survey_of("csat").await;
    for (survey, score) in [(&a, 10), (&b, 0), (&csat, 5)] {
        let url = app.link(survey).await;
        app.answer(&url, json!({"score": score})).await;
    }
    let body = stats(&app, "/v1/stats?kind=nps").await;
    assert_eq!(body["surveys"], 2);
    assert_eq!(body["responses"], 2);
    assert_eq!(body["score"], 0.0);
    assert_eq!(body["promoters"], 1);
    assert_error(
        app.get("/v1/stats?kind=csat&scale=0-10").await,
        404,
        "not_found",
    )
    .await;
    let other = app.other_workspace_key("other");
    assert_error(
        app.get_as("/v1/stats?kind=nps", &other).await,
        404,
        "not_found",
    )
    .await;
    for (query, field) in [
        ("", "kind"),
        ("?kind=stars", "kind"),
        ("?kind=csat&scale=7-9", "scale"),
        (
            "?kind=nps&interval=hour&from=2026-01-01T00:00:00Z",
            "interval",
        ),
        (
            "?kind=nps&tz=Mars/Base&interval=day&from=2026-01-01T00:00:00Z",
            "tz",
        ),
        ("?kind=nps&group_by=bad%20key", "group_by"),
    ] {
        let res = app.get(&format!("/v1/stats{query}")).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{query}");
    }
}
