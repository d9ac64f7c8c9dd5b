//! Stats: headline scores per kind against independent computations, rates and windows.

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

/// Answers a fresh link of `survey` with each score, and leaves `unanswered` links unanswered.
async fn answer_all(app: &TestApp, survey: &str, scores: &[i64], unanswered: usize) {
    for &s in scores {
        let url = app.link(survey).await;
        assert_eq!(app.answer(&url, json!({"score": s})).await.status(), 201);
    }
    for _ in 0..unanswered {
        app.link(survey).await;
    }
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-9
}

#[tokio::test]
async fn nps_of_a_random_mix_matches_an_independent_computation() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(rand::random());
    let scores: Vec<i64> = (0..60).map(|_| rng.random_range(0..=10)).collect();
    let unanswered = rng.random_range(0..10);
    answer_all(&app, &survey, &scores, unanswered).await;

    let promoters = scores.iter().filter(|&&s| s >= 9).count() as f64;
    let detractors = scores.iter().filter(|&&s| s <= 6).count() as f64;
    let n = scores.len() as f64;
    let expected = 100.0 * (promoters - detractors) / n;

    let stats = app.stats(&survey).await;
    assert!(
        close(&stats["score"], expected),
        "{} vs {expected} for {scores:?}",
        stats["score"]
    );
    assert_eq!(stats["responses"], scores.len());
    assert_eq!(stats["invitations"], scores.len() + unanswered);
    assert!(close(&stats["response_rate"], n / (n + unanswered as f64)));
    assert_eq!(stats["promoters"], promoters as u64);
    assert_eq!(stats["detractors"], detractors as u64);
    assert_eq!(
        stats["passives"],
        scores.len() as u64 - promoters as u64 - detractors as u64
    );
    for point in 0..=10 {
        let count = scores.iter().filter(|&&s| s == point).count();
        assert_eq!(
            stats["distribution"][point.to_string()],
            count,
            "distribution at {point}"
        );
    }
    // The adjusted-Wald interval: ¾ of a pseudo-answer on each side, 3 on n.
    let n_adj = n + 3.0;
    let (p, d) = ((promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj);
    let half = 1.959_963_984_540_054 * ((p + d - (p - d).powi(2)) / n_adj).sqrt();
    let (lo, hi) = (100.0 * (p - d - half), 100.0 * (p - d + half));
    let interval = &stats["confidence_interval"];
    assert!(close(&interval[0], lo.max(-100.0)), "{interval} vs {lo}");
    assert!(close(&interval[1], hi.min(100.0)), "{interval} vs {hi}");
    let moe = stats["margin_of_error"].as_f64().unwrap();
    assert!((moe - (hi.min(100.0) - lo.max(-100.0)) / 2.0).abs() < 1e-6);
    assert_eq!(stats["low_sample"], false);
    assert_eq!(
        stats["rule"],
        json!({"metric": "nps", "score": "net_percent", "promoters": "9-10", "passives": "7-8",
               "detractors": "0-6", "interval": "adjusted-wald", "higher_is_better": true,
               "challenges": scorekeeper::reports::adjusted::RULE})
    );
}

#[tokio::test]
async fn one_answer_gives_a_wide_interval_and_a_low_sample_flag() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    answer_all(&app, &survey, &[9], 0).await;
    let stats = app.stats(&survey).await;
    assert_eq!(stats["score"], 100.0);
    assert_eq!(stats["low_sample"], true);
    assert!(stats["margin_of_error"].as_f64().unwrap() > 70.0, "{stats}");
    let csat = app.survey_of("csat").await;
    answer_all(&app, &csat, &[5, 4, 4, 5, 4, 5, 4], 0).await;
    let stats = app.stats(&csat).await;
    assert_eq!(stats["score"], 100.0);
    assert_eq!(stats["rule"]["interval"], "wilson");
    assert!(
        stats["confidence_interval"][0].as_f64().unwrap() < 70.0,
        "{stats}"
    );
    assert_eq!(stats["confidence_interval"][1], 100.0);
}

#[tokio::test]
async fn csat_esat_thumbs_and_ces_follow_the_contract_formulas() {
    let app = spawn_app().await;
    let csat = app.survey_of("csat").await;
    answer_all(&app, &csat, &[5, 4, 4, 3, 1], 0).await;
    assert!(close(&app.stats(&csat).await["score"], 60.0));

    // Not anonymous, as ESAT is by default: four answers would be withheld (see `anonymity`).
    let esat = app
        .create_survey(json!({"name": "esat", "kind": "esat", "anonymous": false}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    answer_all(&app, &esat, &[5, 2, 2, 2], 0).await;
    assert!(close(&app.stats(&esat).await["score"], 25.0));

    let thumbs = app
        .create_survey(json!({"name": "t", "kind": "csat", "scale": "thumbs"}))
        .await;
    let thumbs = thumbs["id"].as_str().unwrap();
    answer_all(&app, thumbs, &[1, 1, 0], 1).await;
    let stats = app.stats(thumbs).await;
    assert!(close(&stats["score"], 200.0 / 3.0));
    assert_eq!(stats["distribution"], json!({"0": 1, "1": 2}));
    assert!(close(&stats["response_rate"], 0.75));

    let ces = app.survey_of("ces").await;
    answer_all(&app, &ces, &[7, 6, 5, 2], 0).await;
    let stats = app.stats(&ces).await;
    assert!(close(&stats["score"], 5.0));
    assert!(close(&stats["agree_percent"], 75.0));
    assert!(stats.get("promoters").is_none());

    let ces5 = app
        .create_survey(json!({"name": "c", "kind": "ces", "scale": "1-5"}))
        .await;
    let ces5 = ces5["id"].as_str().unwrap();
    answer_all(&app, ces5, &[4, 3], 0).await;
    assert!(close(&app.stats(ces5).await["agree_percent"], 50.0));
}

#[tokio::test]
async fn a_survey_without_answers_has_no_score_a_zero_rate_and_a_full_zero_distribution() {
    let app = spawn_app().await;
    let survey = app.survey_of("ces").await;
    let stats = app.stats(&survey).await;
    assert_eq!(stats["score"], Value::Null);
    assert_eq!(stats["invitations"], 0);
    assert_eq!(stats["response_rate"], 0.0);
    assert_eq!(
        stats["distribution"],
        json!({"1": 0, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0})
    );
}

#[tokio::test]
async fn the_window_selects_invitations_by_creation_time() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    answer_all(&app, &survey, &[10, 10], 0).await;
    // Backdate two invitations to January (one answered 0, one unanswered).
    let old = app.invite(&survey, json!({})).await;
    assert_eq!(
        app.answer(old["url"].as_str().unwrap(), json!({"score": 0}))
            .await
            .status(),
        201
    );
    let old_unanswered = app.invite(&survey, json!({})).await;
    let january = chrono::NaiveDate::from_ymd_opt(2026, 1, 15)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    for inv in [&old, &old_unanswered] {
        app.backdate(inv["id"].as_str().unwrap(), january);
    }
    let all = app.stats(&survey).await;
    assert_eq!(
        (all["invitations"].clone(), all["responses"].clone()),
        (json!(4), json!(3))
    );

    let jan = app
        .stats_query(
            &survey,
            "?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
        )
        .await;
    assert_eq!(
        (
            jan["invitations"].clone(),
            jan["responses"].clone(),
            jan["score"].clone()
        ),
        (json!(2), json!(1), json!(-100.0))
    );
    assert_eq!(jan["from"], "2026-01-01T00:00:00Z");

    let since = app
        .stats_query(&survey, "?from=2026-02-01T00:00:00%2B00:00")
        .await;
    assert_eq!(
        (since["invitations"].clone(), since["score"].clone()),
        (json!(2), json!(100.0))
    );
    // `to` is exclusive.
    let until = app.stats_query(&survey, "?to=2026-01-15T12:00:00Z").await;
    assert_eq!(until["invitations"], 0);
}

#[tokio::test]
async fn bad_windows_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    for (query, field) in [
        ("?from=yesterday", "from"),
        ("?to=2026-13-01T00:00:00Z", "to"),
        ("?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("?from=2026-02-01T00:00:00Z&compare=last_year", "compare"),
    ] {
        let res = app.get(&format!("/v1/surveys/{survey}/stats{query}")).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field);
    }
}

#[tokio::test]
async fn a_window_compared_with_the_one_before_says_whether_the_change_is_real() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    // January: 40 of 50 satisfied (80%). February: 15 of 50 (30%): a real drop.
    let month = |m: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, m, 10)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
    };
    for (m, satisfied) in [(1, 40), (2, 15)] {
        for i in 0..50 {
            let inv = app.invite(&survey, json!({})).await;
            let score = if i < satisfied { 5 } else { 2 };
            let res = app
                .answer(inv["url"].as_str().unwrap(), json!({"score": score}))
                .await;
            assert_eq!(res.status(), 201);
            app.backdate(inv["id"].as_str().unwrap(), month(m));
        }
    }
    let feb = app
        .stats_query(
            &survey,
            "?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z&compare=previous_period",
        )
        .await;
    let cmp = &feb["comparison"];
    assert_eq!(cmp["from"], "2026-01-04T00:00:00Z", "the 28 days before");
    assert_eq!(cmp["to"], "2026-02-01T00:00:00Z");
    assert_eq!(cmp["responses"], 50);
    assert!(close(&cmp["score"], 80.0));
    assert!(close(&cmp["change"], -50.0));
    assert_eq!(cmp["significant"], true);
    // The same window against an empty one before it: nothing to compare with.
    let jan = app
        .stats_query(
            &survey,
            "?from=2025-12-01T00:00:00Z&to=2026-01-01T00:00:00Z&compare=previous_period",
        )
        .await;
    assert_eq!(jan["comparison"]["change"], Value::Null);
    assert_eq!(jan["comparison"]["significant"], Value::Null);
}

#[tokio::test]
async fn ces_on_the_effort_scale_asks_about_effort_and_says_lower_is_better() {
    let app = spawn_app().await;
    let survey = app
        .create_survey(json!({"name": "Effort", "kind": "ces", "scale": "effort-1-5"}))
        .await;
    assert_eq!(
        survey["scale"],
        json!({"name": "effort-1-5", "min": 1, "max": 5})
    );
    assert!(survey["question"].as_str().unwrap().contains("effort"));
    let id = survey["id"].as_str().unwrap();
    let inv = app.invite(id, json!({})).await;
    let page = app
        .client
        .get(inv["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Very low effort") && page.contains("Very high effort"));
    answer_all(&app, id, &[1, 2, 2, 5], 0).await;
    app.answer(inv["url"].as_str().unwrap(), json!({"score": 4}))
        .await;
    let stats = app.stats(id).await;
    assert!(close(&stats["score"], 14.0 / 5.0));
    assert!(close(&stats["low_effort_percent"], 60.0));
    assert_eq!(stats["agree_percent"], Value::Null);
    assert_eq!(stats["rule"]["higher_is_better"], false);
    assert_eq!(stats["rule"]["low_effort"], "1-2");
    let res = app
        .post(
            "/v1/surveys",
            &json!({"name": "x", "kind": "csat", "scale": "effort-1-5"}),
        )
        .await;
    assert_eq!(
        assert_error(res, 422, "invalid_field").await["error"]["field"],
        "scale"
    );
}

/// One setting read back as text.
#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[tokio::test]
async fn every_pooled_connection_is_set_up_for_the_service() {
    use diesel::RunQueryDsl;
    use scorekeeper::db::AnyConnection;
    let app = spawn_app().await;
    // Several at once, so more than the one connection the start-up used.
    let mut conns: Vec<_> = (0..3).map(|_| app.conn()).collect();
    for conn in &mut conns {
        match &mut **conn {
            // Durable commits and enforced foreign keys (FULL is 2).
            AnyConnection::Sqlite(c) => {
                let read = |c: &mut diesel::SqliteConnection, pragma: &str| {
                    diesel::sql_query(format!(
                        "SELECT CAST({pragma} AS TEXT) AS value FROM pragma_{pragma}"
                    ))
                    .get_result::<Setting>(c)
                    .unwrap()
                    .value
                };
                assert_eq!(read(c, "synchronous"), "2");
                assert_eq!(read(c, "foreign_keys"), "1");
            }
            // No parallel plans: a worker's start-up costs more than the bounded index reads
            // the service makes (a 90-day trend by agent: 17 ms with workers, 2 ms without).
            AnyConnection::Postgresql(c) => {
                let setting = diesel::sql_query(
                    "SELECT current_setting('max_parallel_workers_per_gather') AS value",
                )
                .get_result::<Setting>(c)
                .unwrap();
                assert_eq!(setting.value, "0");
            }
        }
    }
}
