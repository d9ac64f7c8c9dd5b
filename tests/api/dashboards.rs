//! Dashboards shared by a secret link: created, listed and revoked through the API; the page
//! shows the same numbers as `/v1/stats`, withholds what an anonymous survey withholds, never
//! names a respondent, links nowhere outside, and answers 410 once revoked or expired.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{assert_error, group, sha256_hex, spawn_app, TestApp};
use scorekeeper::db::schema;

/// Creates a dashboard and returns its JSON (with `url`).
async fn create(app: &TestApp, body: Value) -> Value {
    let res = app.post("/v1/dashboards", &body).await;
    assert_eq!(res.status(), 201, "create dashboard {body}");
    res.json().await.unwrap()
}

/// `GET url` without an API key: status, headers and body.
async fn open(app: &TestApp, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let res = app.client.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// An NPS survey kept by `agent`, with answers by two agents (one with a comment naming
/// nobody); returns the survey id.
async fn support_nps(app: &TestApp) -> String {
    let survey = app
        .create_survey(json!({"name": "Support NPS", "kind": "nps", "segment_by": ["agent"]}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (agent, score, comment) in [
        ("bo", 10, "Quick and kind"),
        ("bo", 9, ""),
        ("bo", 3, ""),
        ("ann", 8, ""),
        ("ann", 10, "Solved at once"),
    ] {
        let inv = app
            .invite(
                &survey,
                json!({"channel": "link",
                       "recipient": {"email": format!("{agent}-{score}@example.com"), "name": "Pat Customer"},
                       "properties": {"agent": agent}}),
            )
            .await;
        let mut body = json!({"score": score});
        if !comment.is_empty() {
            body["comment"] = json!(comment);
        }
        let res = app.answer(inv["url"].as_str().unwrap(), body).await;
        assert_eq!(res.status(), 201);
    }
    survey
}

/// The text inside the element with `id` (the first tag that carries it).
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let open_end = start + html[start..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find('<').unwrap();
    html[open_end..close].trim().to_owned()
}

/// The table row of group `value`.
fn group_row<'a>(html: &'a str, value: &str) -> &'a str {
    let start = html
        .find(&format!("data-group=\"{value}\""))
        .unwrap_or_else(|| panic!("no row for {value}"));
    let end = start + html[start..].find("</tr>").unwrap();
    &html[start..end]
}

#[tokio::test]
async fn a_dashboard_page_shows_the_numbers_of_the_stats_api_safely() {
    let app = spawn_app().await;
    let survey = support_nps(&app).await;
    let d = create(
        &app,
        json!({"survey_id": survey, "window_days": 30, "interval": "day", "group_by": "agent",
               "show_comments": true, "name": "Support <team>"}),
    )
    .await;
    let url = d["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/d/", app.address)), "{url}");
    let token = url.rsplit('/').next().unwrap();
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    // Only the token's hash is stored.
    let stored: String = schema::dashboards::table
        .select(schema::dashboards::token_hash)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(stored, sha256_hex(token));

    let (status, headers, html) = open(&app, url).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["x-robots-tag"]
        .to_str()
        .unwrap()
        .contains("noindex"));
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("private"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline"),
        "styles by nonce only: {csp}"
    );

    // The same figures as the stats API over the same window.
    let stats = app
        .stats_query(
            &survey,
            "?group_by=agent&interval=day&compare=previous_period",
        )
        .await;
    let score = stats["score"].as_f64().unwrap();
    assert_eq!(text_of(&html, "headline-score"), format!("{score:.0}"));
    assert_eq!(text_of(&html, "headline-n"), stats["responses"].to_string());
    let bo = group_row(&html, "bo");
    let bo_score = group(&stats, "bo")["score"].as_f64().unwrap();
    assert!(
        bo.contains(&format!("<td class=\"group-score\">{bo_score:.0}</td>")),
        "{bo}"
    );
    assert!(bo.contains("<td class=\"group-n\">3</td>"), "{bo}");
    // A chart per interval and the distribution, as inline SVG with a title, and their tables.
    assert!(
        html.matches("<svg").count() >= 3,
        "trend, distribution and sparklines"
    );
    assert!(html.contains("role=\"img\"") && html.contains("<title id="));
    assert!(html.contains("Table of the plotted values"));
    // Comments without anyone's name or address; the title is escaped.
    assert!(html.contains("Quick and kind") && html.contains("Solved at once"));
    assert!(!html.contains("Pat Customer") && !html.contains("@example.com"));
    assert!(html.contains("Support &lt;team&gt;") && !html.contains("Support <team>"));
    // Nothing on the page points outside it: no absolute URL, no script, no external asset.
    assert!(
        !html.contains("http:") && !html.contains("https:") && !html.contains("//"),
        "external URL"
    );
    assert!(!html.contains("<script") && !html.contains(" src="));
    // Comments are opt-in.
    let quiet = create(&app, json!({"survey_id": survey})).await;
    let (_, _, html) = open(&app, quiet["url"].as_str().unwrap()).await;
    assert!(!html.contains("Quick and kind") && !html.contains("Latest comments"));
}

#[tokio::test]
async fn dashboards_are_listed_revoked_and_scoped_to_their_workspace() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let d = create(&app, json!({"survey_id": survey})).await;
    let id = d["id"].as_str().unwrap();
    let url = d["url"].as_str().unwrap().to_owned();
    assert_eq!(d["name"], "csat survey");
    assert_eq!(d["window_days"], 90);
    assert_eq!(d["interval"], "week");

    let list: Value = app.get("/v1/dashboards").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(
        list["data"][0].get("url").is_none(),
        "the link is shown once"
    );
    let other = app.other_workspace_key("other");
    let theirs = app.get_as(&format!("/v1/dashboards/{id}"), &other).await;
    assert_error(theirs, 404, "not_found").await;
    let res = app
        .post_as("/v1/dashboards", &json!({"survey_id": survey}), &other)
        .await;
    assert_error(res, 404, "not_found").await;

    assert_eq!(open(&app, &url).await.0, 200);
    assert_eq!(
        app.delete(&format!("/v1/dashboards/{id}")).await.status(),
        204
    );
    let (status, headers, html) = open(&app, &url).await;
    assert_eq!(status, 410);
    assert!(html.contains("revoked or has expired"), "{html}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(app.get(&format!("/v1/dashboards/{id}")).await.status(), 404);
    assert_eq!(
        app.delete(&format!("/v1/dashboards/{id}")).await.status(),
        404
    );
    let list: Value = app.get("/v1/dashboards").await.json().await.unwrap();
    assert!(list["data"].as_array().unwrap().is_empty());
    // A made-up or malformed link is 404, never 500.
    let fake = format!("{}/d/{}", app.address, "A".repeat(32));
    assert_eq!(open(&app, &fake).await.0, 404);
    assert_eq!(open(&app, &format!("{}/d/short", app.address)).await.0, 404);
}

#[tokio::test]
async fn an_expired_link_answers_410() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let d = create(&app, json!({"survey_id": survey, "expires_at": soon})).await;
    let url = d["url"].as_str().unwrap();
    assert_eq!(open(&app, url).await.0, 200);
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    diesel::update(schema::dashboards::table)
        .set(schema::dashboards::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    let (status, _, html) = open(&app, url).await;
    assert_eq!(status, 410);
    assert!(!html.contains("headline-score"));
}

#[tokio::test]
async fn bad_dashboards_are_422_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    let anon = app
        .create_survey(json!({"name": "Pulse", "kind": "esat", "segment_by": ["team"]}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, field) in [
        (json!({}), "survey_id"),
        (json!({"survey_id": survey, "kind": "nps"}), "kind"),
        (
            json!({"survey_id": survey, "window_days": 0}),
            "window_days",
        ),
        (json!({"survey_id": survey, "interval": "hour"}), "interval"),
        (json!({"survey_id": survey, "tz": "Nowhere/City"}), "tz"),
        (json!({"kind": "nps", "allow_csv": true}), "allow_csv"),
        (
            json!({"survey_id": survey, "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
        // What the stats API refuses for an anonymous survey, the dashboard refuses too.
        (
            json!({"survey_id": anon, "group_by": "team", "filters": {"team": "a"}}),
            "filter",
        ),
        // Its answers are exported whole through the API, never by a dashboard's window.
        (json!({"survey_id": anon, "allow_csv": true}), "allow_csv"),
    ] {
        let res = app.post("/v1/dashboards", &body).await;
        let err = assert_error(res, 422, "invalid_field").await;
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {err}"
        );
    }
    let unknown = json!({"survey_id": uuid::Uuid::new_v4()});
    assert_error(app.post("/v1/dashboards", &unknown).await, 404, "not_found").await;
    let res = app.post("/v1/dashboards", &json!({"kind": "ces"})).await;
    assert_error(res, 404, "not_found").await;
    let count: i64 = schema::dashboards::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn an_anonymous_survey_dashboard_withholds_small_groups_and_names_nobody() {
    let app = spawn_app().await;
    let survey = app
        .create_survey(json!({"name": "Pulse", "kind": "esat", "segment_by": ["team"]}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut n = 0;
    for (team, scores) in [
        ("big", &[5, 4, 4, 5, 3, 4][..]),
        ("mid", &[4, 5, 5, 4, 4]),
        ("tiny", &[1, 2]),
    ] {
        for &score in scores {
            n += 1;
            let inv = app
                .invite(
                    &survey,
                    json!({"channel": "link",
                           "recipient": {"name": "Ana Employee", "email": format!("ana{n}@example.com")},
                           "properties": {"team": team}}),
                )
                .await;
            let body = json!({"score": score, "comment": format!("Note {n} from {team}")});
            assert_eq!(
                app.answer(inv["url"].as_str().unwrap(), body)
                    .await
                    .status(),
                201
            );
        }
    }
    let d = create(
        &app,
        json!({"survey_id": survey, "group_by": "team", "show_comments": true, "interval": "month"}),
    )
    .await;
    let (status, _, html) = open(&app, d["url"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{html}");
    let stats = app
        .stats_query(&survey, "?group_by=team&interval=month")
        .await;
    for team in ["big", "mid", "tiny"] {
        let g = group(&stats, team);
        let row = group_row(&html, team);
        if g["withheld"] == true {
            assert!(
                row.contains("<td class=\"group-score\">withheld</td><td>–</td>"),
                "{team}: {row}"
            );
            assert!(!row.contains("<svg"), "no sparkline for a withheld group");
        } else {
            let score = g["score"].as_f64().unwrap();
            assert!(row.contains(&format!("{score:.1}%")), "{team}: {row}");
        }
    }
    assert_eq!(
        group(&stats, "tiny")["withheld"],
        true,
        "two people are under the minimum"
    );
    // Comments, but never who wrote them or when: ten of them, in the order of their random
    // ids (the newest would be the latest respondent's), dated to the month.
    let shown = regex::Regex::new(r"Note (\d+) from").unwrap();
    let notes: Vec<u32> = shown
        .captures_iter(&html)
        .map(|c| c[1].parse().unwrap())
        .collect();
    assert_eq!(notes.len(), 10, "{html}");
    let mut latest_first = notes.clone();
    latest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_ne!(notes, latest_first, "not in time order");
    assert!(!html.contains("Ana Employee") && !html.contains("@example.com"));
    assert!(
        !regex::Regex::new(r"\d\d:\d\d").unwrap().is_match(&html),
        "no time of day"
    );
    let dated = regex::Regex::new(r"(\d{4}-\d\d(-\d\d)?) · score").unwrap();
    let dates: Vec<_> = dated.captures_iter(&html).collect();
    assert_eq!(dates.len(), 10, "{html}");
    assert!(
        dates.iter().all(|c| c.get(2).is_none()),
        "month precision only"
    );
    // Under the minimum the comments are withheld too.
    let few = app
        .create_survey(json!({"name": "Small pulse", "kind": "esat"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inv = app.invite(&few, json!({"channel": "link"})).await;
    let body = json!({"score": 2, "comment": "Only me here"});
    assert_eq!(
        app.answer(inv["url"].as_str().unwrap(), body)
            .await
            .status(),
        201
    );
    let d = create(&app, json!({"survey_id": few, "show_comments": true})).await;
    let (_, _, html) = open(&app, d["url"].as_str().unwrap()).await;
    assert!(!html.contains("Only me here"));
    assert_eq!(text_of(&html, "headline-score"), "withheld");
}

#[tokio::test]
async fn a_viewer_picks_the_window_and_downloads_it_when_allowed() {
    let app = spawn_app().await;
    let survey = support_nps(&app).await;
    let d = create(
        &app,
        json!({"survey_id": survey, "allow_csv": true, "tz": "Europe/Paris"}),
    )
    .await;
    let url = d["url"].as_str().unwrap();
    let (_, _, html) = open(&app, url).await;
    // The default window is the last 90 days to the instant: it starts on the local day of
    // now less 90 days (a day later than today's date less 90 when summer time lies between).
    let now = chrono::Utc::now();
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let first = (now - chrono::Duration::days(90))
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let csv_link = format!("{url}/responses.csv?from={first}&to={today}");
    // Links relative to the page, so a PUBLIC_URL with a path prefix keeps working.
    let token = url.rsplit('/').next().unwrap();
    let relative = format!("href=\"{token}/responses.csv?from={first}&amp;to={today}\"");
    assert!(
        html.contains(&relative),
        "the page links its download: {relative}"
    );
    let res = app.client.get(&csv_link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 6, "a header and five answers: {csv}");
    // A window before any answer: empty.
    let (status, _, html) = open(
        &app,
        &format!("{url}?from=2025-01-01&to=2025-01-31&interval=month"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(text_of(&html, "headline-score"), "–");
    assert!(html.contains("Back to the default window"));
    let (status, _, html) = open(&app, &format!("{url}?from=yesterday")).await;
    assert_eq!(status, 422);
    assert!(html.contains("from"), "{html}");
    // Without allow_csv there is no download.
    let plain = create(&app, json!({"survey_id": survey})).await;
    let plain_url = plain["url"].as_str().unwrap();
    let (_, _, html) = open(&app, plain_url).await;
    assert!(!html.contains("responses.csv"));
    assert_eq!(
        open(&app, &format!("{plain_url}/responses.csv")).await.0,
        404
    );
}

#[tokio::test]
async fn the_page_compares_the_window_with_the_one_before_as_the_api_does() {
    let app = spawn_app().await;
    let survey = app.survey_of("csat").await;
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(40);
    for (score, earlier) in [
        (5, false),
        (5, false),
        (4, false),
        (2, false),
        (1, true),
        (2, true),
        (4, true),
    ] {
        let inv = app.invite(&survey, json!({"channel": "link"})).await;
        assert_eq!(
            app.answer(inv["url"].as_str().unwrap(), json!({"score": score}))
                .await
                .status(),
            201
        );
        if earlier {
            app.backdate(inv["id"].as_str().unwrap(), long_ago);
        }
    }
    let d = create(&app, json!({"survey_id": survey, "window_days": 30})).await;
    let (_, _, html) = open(&app, d["url"].as_str().unwrap()).await;
    let from = (chrono::Utc::now() - chrono::Duration::days(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let stats = app
        .stats_query(&survey, &format!("?from={from}&compare=previous_period"))
        .await;
    let change = stats["comparison"]["change"].as_f64().unwrap();
    assert!(change > 0.0, "{stats}");
    let text = text_of(&html, "headline-change");
    assert!(
        text.starts_with(&format!("▲ {change:+.1} points (better)")),
        "{text}"
    );
    let previous = stats["comparison"]["score"].as_f64().unwrap();
    assert!(text.contains(&format!("({previous:.1}%, n = 3)")), "{text}");
    let verdict = if stats["comparison"]["significant"] == true {
        "<strong>significant"
    } else {
        "not significant"
    };
    let start = html.find("id=\"headline-change\"").unwrap();
    assert!(
        html[start..start + 400].contains(verdict),
        "{}",
        &html[start..start + 400]
    );
}

#[tokio::test]
async fn the_page_dates_are_days_in_the_dashboards_zone() {
    let app = spawn_app().await;
    let survey = app.survey_of("nps").await;
    // At any hour, one of these zones is on another date than UTC.
    for zone in [
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Pago_Pago,
    ] {
        let d = create(&app, json!({"survey_id": survey, "tz": zone.name()})).await;
        let (_, _, html) = open(&app, d["url"].as_str().unwrap()).await;
        let today = chrono::Utc::now().with_timezone(&zone).date_naive();
        let field = format!("name=\"to\" value=\"{today}\"");
        assert!(html.contains(&field), "{zone}: {field} in the form");
        let from = today - chrono::Days::new(90);
        assert!(
            html.contains(&format!("name=\"from\" value=\"{from}\"")),
            "{zone}"
        );
    }
}

#[tokio::test]
async fn a_kind_dashboard_shows_every_survey_of_that_kind_as_the_workspace_stats_do() {
    let app = spawn_app().await;
    for (name, scores) in [("Email NPS", [10, 9, 3]), ("Chat NPS", [8, 10, 10])] {
        let survey = app
            .create_survey(json!({"name": name, "kind": "nps"}))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for score in scores {
            let url = app.link(&survey).await;
            assert_eq!(
                app.answer(&url, json!({"score": score})).await.status(),
                201
            );
        }
    }
    let d = create(&app, json!({"kind": "nps"})).await;
    assert_eq!(d["name"], "NPS across the workspace");
    assert_eq!(d["survey_id"], Value::Null);
    let (_, _, html) = open(&app, d["url"].as_str().unwrap()).await;
    let res = app.get("/v1/stats?kind=nps").await;
    let stats: Value = res.json().await.unwrap();
    assert_eq!(stats["responses"], 6);
    let score = stats["score"].as_f64().unwrap();
    assert_eq!(text_of(&html, "headline-score"), format!("{score:.0}"));
    assert!(
        html.contains("NPS across 2 surveys"),
        "the page says how many"
    );
}
