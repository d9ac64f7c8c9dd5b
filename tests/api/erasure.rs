//! Erasure and retention: after `DELETE /v1/recipients/{email}` no table holds anything of
//! the person but a hash of the address on the suppression list; their answers are kept
//! anonymised or deleted (and the stats follow); the retention sweep cuts identities older
//! than the workspace keeps them.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{json, Value};

use crate::email::email_app;
use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::smtp::SmtpSink;
use crate::webhooks::{subscribe, Receiver, FAST};
use scorekeeper::db::AnyConnection;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every `(table, column)` of the database, whatever the backend.
fn columns(conn: &mut AnyConnection) -> Vec<(String, String)> {
    match conn {
        AnyConnection::Sqlite(c) => {
            let tables: Vec<Name> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .load(c)
            .unwrap();
            let mut out = Vec::new();
            for t in tables {
                let cols: Vec<Name> =
                    diesel::sql_query(format!("SELECT name FROM pragma_table_info('{}')", t.name))
                        .load(c)
                        .unwrap();
                out.extend(cols.into_iter().map(|col| (t.name.clone(), col.name)));
            }
            out
        }
        AnyConnection::Postgresql(c) => {
            let cols: Vec<Column> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
                 FROM information_schema.columns WHERE table_schema = 'public'",
            )
            .load(c)
            .unwrap();
            cols.into_iter()
                .map(|c| (c.table_name, c.column_name))
                .collect()
        }
    }
}

/// The `(table, column)`s holding `needle` anywhere in their text, case-insensitively.
fn holding(app: &TestApp, needle: &str) -> Vec<(String, String)> {
    let conn = &mut *app.conn();
    let needle = needle.to_lowercase().replace('\'', "''");
    let mut found = Vec::new();
    for (table, column) in columns(conn) {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM \"{table}\" WHERE lower(CAST(\"{column}\" AS TEXT)) LIKE '%{needle}%'"
        );
        let n = match conn {
            AnyConnection::Sqlite(c) => diesel::sql_query(sql).get_result::<Count>(c),
            AnyConnection::Postgresql(c) => diesel::sql_query(sql).get_result::<Count>(c),
        }
        .unwrap()
        .n;
        if n > 0 {
            found.push((table, column));
        }
    }
    found
}

/// Ana and Bo answer a CSAT survey by email (Ana with a comment naming herself), Ana is on an
/// audience, a Delighted person, unsubscribed, and named in webhook events.
async fn seeded(app: &TestApp, smtp: &SmtpSink) -> String {
    let receiver = Receiver::start(Vec::new());
    subscribe(app, &receiver.url, &["response.created"]).await;
    let survey = app
        .create_survey(json!({"name": "Support", "kind": "csat", "segment_by": ["agent"]}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (email, name, ext, score) in [
        ("Ana.Example@acme.test", "Ana Example", "ext-ana-77", 5),
        ("bo@acme.test", "Bo Other", "ext-bo-12", 2),
    ] {
        let inv = app
            .invite(
                &survey,
                json!({"channel": "email", "recipient": {"email": email, "name": name, "external_id": ext},
                       "properties": {"agent": "cy"}}),
            )
            .await;
        let url = inv["url"].as_str().unwrap();
        let res = app
            .answer(
                url,
                json!({"score": score, "comment": format!("thanks, {name} here")}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    smtp.wait_for(2, std::time::Duration::from_secs(10)).await;
    receiver.wait_for(2).await;
    let res = app
        .post(
            "/v1/audiences",
            &json!({"name": "Staff", "members": [{"email": "ana.example@acme.test", "name": "Ana Example"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let audience: Value = res.json().await.unwrap();
    // A pulse campaign on the audience, whose running cycle last issued Ana.
    let pulse = app.survey_of("nps").await;
    let start = (chrono::Utc::now() + chrono::Duration::days(7)).format("%Y-%m-%dT09:00");
    let res = app
        .post(
            "/v1/campaigns",
            &json!({"name": "Pulse", "survey_id": pulse, "audience_id": audience["audience"]["id"],
                    "start": start.to_string(), "tz": "UTC"}),
        )
        .await;
    let status = res.status();
    let campaign: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{campaign}");
    {
        use scorekeeper::db::schema::{campaign_cycles as cc, invitations, outbox};
        let conn = &mut *app.conn();
        let now = scorekeeper::db::now();
        diesel::insert_into(cc::table)
            .values((
                cc::id.eq(uuid::Uuid::new_v4().to_string()),
                cc::campaign_id.eq(campaign["id"].as_str().unwrap()),
                cc::number.eq(1),
                cc::scheduled_at.eq(now),
                cc::started_at.eq(now),
                cc::issued_through.eq("ana.example@acme.test"),
                cc::issuing_done.eq(false),
                cc::cut_after.eq(now),
            ))
            .execute(conn)
            .unwrap();
        // Her email once failed, and the server's answer quoted her address.
        let error = "550 5.1.1 <Ana.Example@acme.test>: mailbox unavailable";
        let ana = invitations::table
            .filter(invitations::recipient_name.eq("Ana Example"))
            .select(invitations::id);
        diesel::update(outbox::table.filter(outbox::invitation_id.eq_any(ana)))
            .set(outbox::last_error.eq(error))
            .execute(conn)
            .unwrap();
        diesel::update(invitations::table.filter(invitations::recipient_name.eq("Ana Example")))
            .set(invitations::last_error.eq(error))
            .execute(conn)
            .unwrap();
    }
    let res = app
        .post(
            "/v1/suppressions",
            &json!({"email": "ana.example@acme.test"}),
        )
        .await;
    assert!(res.status().is_success());
    {
        let conn = &mut *app.conn();
        let ws: String = scorekeeper::db::schema::workspaces::table
            .select(scorekeeper::db::schema::workspaces::id)
            .first(conn)
            .unwrap();
        let email =
            scorekeeper::domain::email::EmailAddress::parse("e", "ana.example@acme.test").unwrap();
        scorekeeper::db::people::upsert(
            conn,
            &ws.into(),
            &email,
            Some("Ana Example"),
            scorekeeper::db::now(),
        )
        .unwrap();
    }
    survey
}

async fn erased_app() -> (TestApp, SmtpSink) {
    let smtp = SmtpSink::start();
    let mut env = FAST.to_vec();
    env.push(("WEBHOOK_ALLOW_LOOPBACK", "true"));
    (email_app(&smtp.url(), &env).await, smtp)
}

#[tokio::test]
async fn erasing_a_person_leaves_nothing_of_them_but_a_hashed_suppression_and_keeps_the_stats() {
    let (app, smtp) = erased_app().await;
    let survey = seeded(&app, &smtp).await;
    let before = app.stats(&survey).await;
    for needle in ["ana.example@acme.test", "Ana Example", "ext-ana-77"] {
        assert!(!holding(&app, needle).is_empty(), "seeded {needle}");
    }

    let res = app.delete("/v1/recipients/ANA.example@acme.test").await;
    assert_eq!(res.status(), 200);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["responses"], "anonymise");
    assert_eq!(erased["invitations"], 1);
    assert_eq!(erased["memberships"], 1);
    assert_eq!(erased["people"], 1);
    assert_eq!(erased["suppression_hashed"], true);
    assert!(erased["webhook_events"].as_u64().unwrap() >= 1);

    // The address, the name and the external id are nowhere, except Ana's own words in her
    // comment, which anonymising keeps (delete removes them: see the next test).
    assert_eq!(holding(&app, "ana.example@acme.test"), vec![]);
    assert_eq!(holding(&app, "ext-ana-77"), vec![]);
    let named: Vec<_> = holding(&app, "Ana Example");
    assert!(
        named
            .iter()
            .all(|(t, c)| c == "comment" && (t == "responses" || t == "response_events")),
        "{named:?}"
    );
    // Bo is untouched, and the stats are the same.
    assert!(!holding(&app, "bo@acme.test").is_empty());
    let after = app.stats(&survey).await;
    assert_eq!(after["responses"], before["responses"]);
    assert_eq!(after["distribution"], before["distribution"]);
    // She stays unsubscribed.
    let res = app
        .post(
            &format!("/v1/surveys/{survey}/invitations"),
            &json!({"channel": "email", "recipient": {"email": "ana.example@acme.test"}}),
        )
        .await;
    let inv: Value = res.json().await.unwrap();
    assert_eq!(inv["status"], "suppressed", "{inv}");
}

#[tokio::test]
async fn erasing_with_responses_delete_removes_the_answers_from_the_stats_too() {
    let (app, smtp) = erased_app().await;
    let survey = seeded(&app, &smtp).await;
    let res = app
        .delete("/v1/recipients/ana.example@acme.test?responses=delete")
        .await;
    assert_eq!(res.status(), 200);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["responses_deleted"], 1);
    for needle in ["ana.example@acme.test", "Ana Example", "ext-ana-77"] {
        assert_eq!(holding(&app, needle), vec![], "{needle}");
    }
    // Only Bo's invitation and answer are counted, by the rollups and by the exact path.
    let stats = app.stats(&survey).await;
    assert_eq!(
        (stats["invitations"].as_u64(), stats["responses"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["distribution"]["2"], 1);
    let exact = app.stats_query(&survey, "?filter[not_a_segment]=x").await;
    assert_eq!(exact["invitations"], 0);
    let by_agent = app.stats_query(&survey, "?group_by=agent").await;
    assert_eq!(by_agent["groups"][0]["responses"], 1);
    scorekeeper::db::rollups::rebuild(&mut app.conn(), &survey.clone().into()).unwrap();
    assert_eq!(
        app.stats(&survey).await["distribution"],
        stats["distribution"]
    );

    // A bad mode is refused, and writes nothing.
    let res = app
        .delete("/v1/recipients/bo@acme.test?responses=shred")
        .await;
    assert_error(res, 422, "invalid_field").await;
    assert!(!holding(&app, "bo@acme.test").is_empty());
}

#[tokio::test]
async fn the_retention_sweep_cuts_identities_older_than_the_workspace_keeps_them() {
    let app = spawn_app().await;
    let res = app
        .patch("/v1/workspace", &json!({"retention_days": 0}))
        .await;
    assert_error(res, 422, "invalid_field").await;
    let res = app
        .patch("/v1/workspace", &json!({"retention_days": 30}))
        .await;
    let ws: Value = res.json().await.unwrap();
    assert_eq!(ws["retention_days"], 30);
    let survey = app.survey_of("csat").await;
    let mut ids = Vec::new();
    for who in ["old@acme.test", "new@acme.test"] {
        let inv = app
            .invite(
                &survey,
                json!({"channel": "link", "recipient": {"email": who, "name": who}}),
            )
            .await;
        assert_eq!(
            app.answer(inv["url"].as_str().unwrap(), json!({"score": 4}))
                .await
                .status(),
            201
        );
        ids.push(inv["id"].as_str().unwrap().to_owned());
    }
    app.backdate(
        &ids[0],
        chrono::Utc::now().naive_utc() - chrono::Duration::days(40),
    );
    let stats = app.stats(&survey).await;
    let now = scorekeeper::db::now();
    let swept = scorekeeper::db::maintenance::sweep(&mut app.conn(), now).unwrap();
    assert_eq!(swept.anonymised, 1);
    assert_eq!(holding(&app, "old@acme.test"), vec![]);
    assert!(!holding(&app, "new@acme.test").is_empty());
    assert_eq!(
        app.stats(&survey).await["distribution"],
        stats["distribution"]
    );
    // Off again: nothing more is cut.
    let res = app
        .patch("/v1/workspace", &json!({"retention_days": null}))
        .await;
    let ws: Value = res.json().await.unwrap();
    assert!(ws["retention_days"].is_null());
    app.backdate(
        &ids[1],
        chrono::Utc::now().naive_utc() - chrono::Duration::days(400),
    );
    let swept = scorekeeper::db::maintenance::sweep(&mut app.conn(), now).unwrap();
    assert_eq!(swept.anonymised, 0);
}
