//! `scorekeeper import responses`: the real binary against the test's database.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn import(app: &TestApp, survey: &str, csv: &str, extra: &[&str]) -> std::process::Output {
    import_through(app.db.url(), survey, csv, extra)
}

/// Runs the import against the database at `url` (as the role the URL names).
fn import_through(url: &str, survey: &str, csv: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    std::fs::write(&path, csv).unwrap();
    Command::new(env!("CARGO_BIN_EXE_scorekeeper"))
        .args(["import", "responses", "--survey", survey])
        .args(extra)
        .arg(&path)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .output()
        .expect("run scorekeeper import")
}

/// Each group's value and responses, in the order the stats list them.
fn responses_per_group(stats: &Value) -> Vec<(String, i64)> {
    stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_owned(),
                g["responses"].as_i64().unwrap(),
            )
        })
        .collect()
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
async fn a_bad_row_after_batches_were_written_undoes_them_all() {
    // The file is read once: 2,500 good rows are written in batches (and their rollups
    // summed) before row 2,501 turns out bad; the whole import is rolled back.
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let mut csv = String::from("score,created_at,agent\n");
    for i in 0..2_500 {
        csv.push_str(&format!("{},2026-03-01T10:{:02}:00Z,bo\n", i % 11, i % 60));
    }
    csv.push_str("12,2026-03-02,bo\n9,2026-03-02,bo\n");
    let out = import(&app, &survey, &csv, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2502: score"), "{stderr}");
    assert!(stderr.contains("1 invalid rows"), "{stderr}");
    for table in [
        "invitations",
        "responses",
        "response_events",
        "invitation_properties",
        "rollup_days",
    ] {
        assert_eq!(app.count(table), 0, "{table}");
    }
    let stats = app.stats(&survey).await;
    assert_eq!(stats["responses"], 0, "{stats}");
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
    let groups: Vec<(String, i64)> = responses_per_group(&body);
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

#[tokio::test]
async fn an_import_of_several_batches_writes_every_row_once() {
    // 12,503 rows: two full batches of 5,000 (on Postgres a COPY per table each) and a
    // partial one; on SQLite each batch goes in by statements of 1,000 rows (a full one
    // prepared once and kept) and a shorter last one. Each row has two properties, so the
    // property rows of the partial batch end in a short statement too.
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let rows = 12_503;
    let mut csv = String::from("score,created_at,comment,agent,ticket_id\n");
    for i in 0..rows {
        let agent = ["ana", "bo", "cy"][i % 3];
        let comment = if i % 10 == 0 { "Slow reply" } else { "" };
        csv.push_str(&format!(
            "{},2026-03-{:02}T{:02}:{:02}:00Z,{comment},{agent},T{i}\n",
            i % 11,
            1 + i % 28,
            i % 24,
            i % 60
        ));
    }
    let out = import(&app, &survey, &csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 12503 rows"));
    assert_eq!(app.count("invitations"), rows as i64);
    assert_eq!(app.count("responses"), rows as i64);
    assert_eq!(app.count("response_events"), rows as i64);
    assert_eq!(app.count("invitation_properties"), 2 * rows as i64);
    // Written without foreign key checks: every row still names a parent that exists.
    assert_eq!(app.orphan_rows(), 0);
    let body: Value = app
        .get(&format!("/v1/surveys/{survey}/stats?group_by=agent"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["responses"], rows);
    let promoters = (0..rows).filter(|i| i % 11 >= 9).count() as f64;
    let detractors = (0..rows).filter(|i| i % 11 <= 6).count() as f64;
    let nps = 100.0 * (promoters - detractors) / rows as f64;
    assert!(
        (body["score"].as_f64().unwrap() - nps).abs() < 1e-9,
        "{body}"
    );
    let mut groups: Vec<(String, i64)> = responses_per_group(&body);
    groups.sort();
    assert_eq!(
        groups,
        vec![
            ("ana".into(), 4168),
            ("bo".into(), 4168),
            ("cy".into(), 4167)
        ]
    );
    // Into a survey without rollups (on Postgres: summed, then inserted), every cell at
    // every grain as a rebuild from the raw rows writes it.
    let cells = rollup_rows(&app, &survey);
    assert!(cells.len() > 1_000, "{} cells", cells.len());
    scorekeeper::db::rollups::rebuild(&mut app.conn(), &survey.clone().into()).unwrap();
    assert!(rollup_rows(&app, &survey) == cells);
}

#[tokio::test]
async fn a_delighted_export_is_mapped_checked_dry_run_then_imported() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    // Shaped like a Delighted export: its own column names, ids, tags and notes (dropped),
    // properties with spaces, its `YYYY-MM-DD HH:MM:SS -hhmm` times, and one bad row.
    let csv = "Response ID,Email,Name,Score,Comment,Response Timestamp,Tags,Notes,Purchase Experience,Delighted Source\n\
               1001,ann@example.com,Ann,10,Loved it,2025-03-04 12:34:56 -0800,vip,,Mobile App,Email\n\
               1002,bo@example.com,,6,\"Slow, but fine\",2025-03-05 08:00:00 +0000,,called back,Retail Store,Link\n\
               1003,cy@example.com,Cy,12,,2025-03-06 09:00:00 +0000,,,Web,Email\n";
    let out = import(&app, &survey, csv, &["--format", "delighted"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 4: score"), "{stderr}");
    assert_eq!(app.count("responses"), 0);

    let out = import(
        &app,
        &survey,
        csv,
        &["--format", "delighted", "--dry-run", "--skip-invalid"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 valid rows would be imported"),
        "{stdout}"
    );
    assert_eq!(app.count("responses"), 0, "a dry run writes nothing");

    let out = import(
        &app,
        &survey,
        csv,
        &["--format", "delighted", "--skip-invalid"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = app
        .get(&format!("/v1/surveys/{survey}/responses"))
        .await
        .json()
        .await
        .unwrap();
    let first = &body["data"][0];
    assert_eq!(first["score"], 10);
    assert_eq!(first["comment"], "Loved it");
    assert_eq!(first["recipient"]["email"], "ann@example.com");
    assert_eq!(first["created_at"], "2025-03-04T20:34:56Z");
    assert_eq!(
        first["properties"],
        json!({"purchase_experience": "Mobile App", "delighted_source": "Email"})
    );
    assert_eq!(body["data"][1]["comment"], "Slow, but fine");
    let stats = app.stats(&survey).await;
    assert_eq!(
        (stats["responses"].as_u64(), stats["score"].as_f64()),
        (Some(2), Some(0.0))
    );
}

#[tokio::test]
async fn a_postgres_role_that_may_not_skip_foreign_key_checks_nor_create_temporary_tables_imports_all_the_same(
) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = spawn_app().await;
    if !app.db.url().starts_with("postgres") {
        return; // SQLite's import connection turns its own checks off: nothing to fall back from.
    }
    let role = "sk_plain_importer";
    app.conn()
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             GRANT USAGE, CREATE ON SCHEMA public TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; \
             REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC",
            database = app.db.url().rsplit('/').next().unwrap()
        ))
        .expect("a plain role");
    let mut url = url::Url::parse(app.db.url()).unwrap();
    url.set_username(role).unwrap();
    // The path under test: this role cannot turn the checks off.
    let mut plain = diesel::PgConnection::establish(url.as_str()).expect("connect as the role");
    assert!(plain
        .batch_execute("SET session_replication_role = replica")
        .is_err());
    // Nor stage its rollup changes in temporary tables.
    assert!(plain
        .batch_execute("CREATE TEMPORARY TABLE t (x int)")
        .is_err());

    let survey = app.survey_of("nps").await;
    let mut csv = String::from("score,created_at,agent\n");
    for i in 0..2_500 {
        csv.push_str(&format!(
            "{},2026-03-{:02}T10:00:00Z,a{}\n",
            i % 11,
            1 + i % 28,
            i % 4
        ));
    }
    let out = import_through(url.as_str(), &survey, &csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.count("responses"), 2_500);
    assert_eq!(app.count("invitation_properties"), 2_500);
    assert_eq!(app.orphan_rows(), 0);
    assert_eq!(app.stats(&survey).await["responses"], 2_500);
}

#[tokio::test]
async fn an_import_adds_to_the_cells_that_live_answers_already_hold() {
    // Live answers by ana and bo at 10:05 on 2 March; the import lands in the same quarter
    // hour, hour, day and week, for the same agents and a new one. On Postgres its changes
    // are staged and added into the existing rows at the end (ON CONFLICT), on SQLite
    // upserted as they come: either way the rollups must equal a rebuild from the raw rows.
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let at = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
        .unwrap()
        .and_hms_opt(10, 5, 0)
        .unwrap();
    for (agent, score) in [("ana", 10), ("bo", 2)] {
        let inv = app
            .invite(&survey, json!({"properties": {"agent": agent}}))
            .await;
        app.answer(inv["url"].as_str().unwrap(), json!({"score": score}))
            .await;
        app.backdate(inv["id"].as_str().unwrap(), at);
    }
    let mut csv = String::from("score,created_at,agent\n");
    for (i, agent) in ["ana", "bo", "cy", "ana", "cy"].iter().enumerate() {
        csv.push_str(&format!(
            "{},2026-03-02T10:{:02}:00Z,{agent}\n",
            6 + i,
            6 + i
        ));
    }
    let out = import(&app, &survey, &csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let query = "?from=2026-03-02T10:00:00Z&to=2026-03-02T10:15:00Z&group_by=agent";
    let imported = app.stats_query(&survey, query).await;
    assert_eq!(imported["responses"], 7, "{imported}");
    let mut groups = responses_per_group(&imported);
    groups.sort();
    assert_eq!(
        groups,
        vec![("ana".into(), 3), ("bo".into(), 2), ("cy".into(), 2)]
    );
    // Every grain, as a rebuild from the raw rows writes it.
    let queries = [
        query,
        "?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z&interval=day&group_by=agent",
        "?from=2026-02-23T00:00:00Z&to=2026-03-09T00:00:00Z&interval=week&group_by=agent",
        "?from=2026-03-02T09:00:00Z&to=2026-03-02T12:00:00Z&group_by=agent&tz=Asia/Kathmandu&interval=day",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push(app.stats_query(&survey, q).await);
    }
    let rows = rollup_rows(&app, &survey);
    assert_eq!(rows.iter().filter(|r| r.0 == "week").count(), 4, "{rows:?}");
    scorekeeper::db::rollups::rebuild(&mut app.conn(), &survey.clone().into()).unwrap();
    for (q, was) in queries.iter().zip(before) {
        assert_eq!(app.stats_query(&survey, q).await, was, "{q}");
    }
    // Row for row: the same cells, each starting where its grain starts.
    assert_eq!(rollup_rows(&app, &survey), rows);
}

/// Every rollup row of `survey`: grain, dimension, value, start, and its counts.
fn rollup_rows(
    app: &TestApp,
    survey: &str,
) -> Vec<(&'static str, String, String, String, Vec<i64>)> {
    use diesel::prelude::*;
    use scorekeeper::db::schema::{rollup_days, rollup_hours, rollup_quarters, rollup_weeks};
    let conn = &mut *app.conn();
    let mut rows = Vec::new();
    macro_rules! read {
        ($grain:literal, $t:ident) => {
            let found: Vec<(
                String,
                String,
                chrono::NaiveDateTime,
                (i64, i64, i64, i64, i64),
                (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64),
            )> = $t::table
                .filter($t::survey_id.eq(survey))
                .order(($t::dim, $t::at, $t::value))
                .select((
                    $t::dim,
                    $t::value,
                    $t::at,
                    (
                        $t::issued,
                        $t::delivered,
                        $t::opened,
                        $t::commented,
                        $t::suspect,
                    ),
                    (
                        $t::s0,
                        $t::s1,
                        $t::s2,
                        $t::s3,
                        $t::s4,
                        $t::s5,
                        $t::s6,
                        $t::s7,
                        $t::s8,
                        $t::s9,
                        $t::s10,
                    ),
                ))
                .load(conn)
                .unwrap();
            for (dim, value, at, f, s) in found {
                let counts = vec![
                    f.0, f.1, f.2, f.3, f.4, s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7, s.8, s.9, s.10,
                ];
                rows.push(($grain, dim, value, at.to_string(), counts));
            }
        };
    }
    read!("week", rollup_weeks);
    read!("day", rollup_days);
    read!("hour", rollup_hours);
    read!("quarter", rollup_quarters);
    rows
}

/// The rollup changes of NPS answers `(minute of 2026-05-04 08:00, agent, score)` to
/// survey `id` as an import hands them over: quarter-hour cells only, the rest derived. An
/// empty agent is no segment.
fn handed_over(
    id: &scorekeeper::domain::ids::SurveyId,
    answers: &[(u32, &str, i32)],
) -> scorekeeper::db::rollups::Accumulator {
    let mut cells = scorekeeper::db::rollups::Accumulator::quarters_only();
    for &(minute, agent, score) in answers {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 4)
            .unwrap()
            .and_hms_opt(8, minute, 0)
            .unwrap();
        let answer = scorekeeper::domain::stats::tally::Tally::answer(score, false, false, 1);
        let agent = (!agent.is_empty()).then_some(("agent", agent));
        cells.add(id, at, agent.into_iter(), answer);
    }
    cells
}

#[tokio::test]
async fn staged_rollup_changes_are_summed_per_cell_before_they_are_written() {
    // Changes handed over in several parts (an import flushes every MAX_PENDING_CELLS
    // cells) that touch the same cells: each cell's row must hold their sum, once.
    use scorekeeper::db::rollups::Staging;
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let id: scorekeeper::domain::ids::SurveyId = survey.clone().into();
    let parts = [
        vec![(1, "ana", 9), (2, "bo", 0)],
        vec![(3, "ana", 3), (50, "ana", 10)],
        vec![(4, "ana", 9)],
    ];
    scorekeeper::db::write_transaction(&mut app.conn(), |conn| {
        let mut staging = Staging::begin(conn)?;
        for part in &parts {
            staging.add(conn, handed_over(&id, part))?;
        }
        staging.finish(conn)
    })
    .unwrap();
    let quarter = app
        .stats_query(
            &survey,
            "?from=2026-05-04T08:00:00Z&to=2026-05-04T08:15:00Z&group_by=agent",
        )
        .await;
    let ana = crate::helpers::group(&quarter, "ana");
    assert_eq!(ana["responses"], 3, "{quarter}");
    assert_eq!(ana["distribution"]["9"], 2, "{quarter}");
    assert_eq!(ana["distribution"]["3"], 1, "{quarter}");
    let hour = app
        .stats_query(
            &survey,
            "?from=2026-05-04T08:00:00Z&to=2026-05-04T09:00:00Z&group_by=agent",
        )
        .await;
    assert_eq!(hour["responses"], 5, "{hour}");
    assert_eq!(crate::helpers::group(&hour, "ana")["responses"], 4);
    // The day and its ISO week (2026-05-04 is a Monday), read from their own cells.
    for window in [
        "from=2026-05-04T00:00:00Z&to=2026-05-05T00:00:00Z",
        "from=2026-05-04T00:00:00Z&to=2026-05-11T00:00:00Z",
    ] {
        let stats = app
            .stats_query(&survey, &format!("?{window}&group_by=agent"))
            .await;
        assert_eq!(stats["responses"], 5, "{window}: {stats}");
        let ana = crate::helpers::group(&stats, "ana");
        assert_eq!(ana["distribution"]["9"], 2, "{window}: {stats}");
        assert_eq!(ana["distribution"]["10"], 1, "{window}: {stats}");
        assert_eq!(crate::helpers::group(&stats, "bo")["responses"], 1);
    }
}

#[tokio::test]
async fn a_cell_written_while_an_import_stages_its_changes_is_added_to_not_lost() {
    // On Postgres, an import into a survey without rollup rows inserts its summed cells; a
    // cell that a live answer writes meanwhile (here: one quarter hour, before the sums go
    // in) makes that insert conflict, and the sums are then added to the cell instead.
    // (SQLite writes each hand-over as it comes, and the cell adds up all the same.)
    use diesel::connection::SimpleConnection;
    use scorekeeper::db::rollups::Staging;
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let id: scorekeeper::domain::ids::SurveyId = survey.clone().into();
    scorekeeper::db::write_transaction(&mut app.conn(), |conn| {
        let mut staging = Staging::begin(conn)?;
        staging.add(
            conn,
            handed_over(&id, &[(1, "", 9), (2, "", 0), (20, "", 10)]),
        )?;
        conn.batch_execute(&format!(
            "INSERT INTO rollup_quarters (survey_id, dim, value, at, s9) \
             VALUES ('{survey}', '', '', '2026-05-04 08:00:00', 1) \
             ON CONFLICT (survey_id, dim, at, value) DO UPDATE SET s9 = rollup_quarters.s9 + 1"
        ))?;
        staging.finish(conn)
    })
    .unwrap();
    let quarter = app
        .stats_query(
            &survey,
            "?from=2026-05-04T08:00:00Z&to=2026-05-04T08:15:00Z",
        )
        .await;
    assert_eq!(quarter["responses"], 3, "{quarter}");
    assert_eq!(quarter["distribution"]["9"], 2, "{quarter}");
    assert_eq!(quarter["distribution"]["0"], 1, "{quarter}");
    // The hour was written from the staged changes alone.
    let hour = app
        .stats_query(
            &survey,
            "?from=2026-05-04T08:00:00Z&to=2026-05-04T09:00:00Z",
        )
        .await;
    assert_eq!(hour["responses"], 3, "{hour}");
    assert_eq!(hour["distribution"]["10"], 1, "{hour}");
}

#[tokio::test]
async fn answers_imported_into_an_anonymous_survey_keep_no_person_and_no_order() {
    // As a live answer to an anonymous survey is stored once given: no address, no name, and
    // an id that carries no time (in the file's order, time-ordered ids would rank them).
    use diesel::prelude::*;
    use scorekeeper::db::schema::{invitations, responses};
    let app = spawn_app().await;
    let survey = app
        .create_survey(json!({"name": "Pulse", "kind": "esat", "anonymous": true,
                              "segment_by": ["team"]}))
        .await;
    let id = survey["id"].as_str().unwrap().to_owned();
    let mut csv = String::from("score,created_at,email,name,team\n");
    for i in 0..6 {
        csv += &format!(
            "4,2026-01-0{}T10:00:00Z,p{i}@example.com,Person {i},red\n",
            i + 1
        );
    }
    let out = import(&app, &id, &csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = &mut *app.conn();
    let people: Vec<(Option<String>, Option<String>, Option<String>)> = invitations::table
        .filter(invitations::survey_id.eq(&id))
        .select((
            invitations::recipient_email,
            invitations::recipient_name,
            invitations::recipient_key,
        ))
        .load(conn)
        .unwrap();
    assert_eq!(people.len(), 6);
    assert!(
        people.iter().all(|p| *p == (None, None, None)),
        "{people:?}"
    );
    let ids: Vec<String> = responses::table
        .filter(responses::survey_id.eq(&id))
        .select(responses::id)
        .load(conn)
        .unwrap();
    assert_eq!(ids.len(), 6);
    for response in &ids {
        let version = uuid::Uuid::parse_str(response).unwrap().get_version_num();
        assert_eq!(version, 4, "{response} carries a time");
    }
}
