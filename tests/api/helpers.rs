//! The test harness: each test gets the real server on a random port and its own database,
//! a temp SQLite file by default or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

use diesel::prelude::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::header::CONTENT_TYPE;
use scorekeeper::config::Settings;
use scorekeeper::db::{schema, AnyConnection, DbPool};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A user agent like a person's browser, so answers are not flagged as scanners.
pub const BROWSER_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// A database that exists for one test and is removed afterwards.
pub enum TestDb {
    /// A temp dir holding the SQLite file.
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    /// A fresh Postgres database, dropped on drop.
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    /// Creates the database this test run is configured for.
    pub fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) if admin_url.starts_with("postgres") => {
                let name = format!("sk_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                TestDb::Postgres {
                    admin_url,
                    name,
                    url: url.to_string(),
                }
            }
            Some(other) => panic!("TEST_DATABASE_URL must be a postgres:// URL, got {other}"),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb::Sqlite { _dir: dir, url }
            }
        }
    }

    /// The `DATABASE_URL` for this database.
    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// The server key file instances on this database use unless told otherwise.
    pub fn key_file(&self) -> std::path::PathBuf {
        key_file_for(self.url())
    }
}

/// The key file of the database at `url`: the service's own default beside an SQLite file;
/// for Postgres, one file per test database, so that its instances share a key as production
/// instances must (the service's default, `./scorekeeper.key`, would be shared by every test).
pub fn key_file_for(url: &str) -> std::path::PathBuf {
    match url.strip_prefix("sqlite://") {
        Some(path) => format!("{path}.key").into(),
        None => {
            let name = url.rsplit('/').next().unwrap_or("db");
            std::env::temp_dir().join(format!("{name}.key"))
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            let _ = std::fs::remove_file(key_file_for(&format!("postgres:///{name}")));
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// One running instance of the service.
pub struct Instance {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Stops it.
    pub handle: scorekeeper::startup::AppHandle,
    /// Its pool.
    pub pool: DbPool,
}

/// Starts one instance on an existing database with the given extra environment.
pub async fn spawn_instance(database_url: &str, extra: &[(&str, &str)]) -> Instance {
    scorekeeper::telemetry::init_with_default("error");
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url.to_owned()),
        ("LISTEN_ADDR".into(), "127.0.0.1:0".into()),
        ("DATABASE_POOL_SIZE".into(), "4".into()),
    ];
    let sets_key = extra
        .iter()
        .any(|(k, _)| *k == "SECRET_KEY" || *k == "SECRET_KEY_FILE");
    if database_url.starts_with("postgres") && !sets_key {
        let file = key_file_for(database_url);
        vars.push(("SECRET_KEY_FILE".into(), file.display().to_string()));
    }
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::from_lookup(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("settings");
    let app = scorekeeper::Application::build(settings)
        .await
        .expect("app builds");
    let instance = Instance {
        address: format!("http://127.0.0.1:{}", app.port()),
        handle: app.handle(),
        pool: app.pool().clone(),
    };
    tokio::spawn(app.run_until_stopped());
    instance
}

/// A running server and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// A key for the workspace "acme".
    pub api_key: String,
    /// The server's pool, for checking what was stored.
    pub pool: DbPool,
    /// Stops the server.
    pub handle: scorekeeper::startup::AppHandle,
    /// Keeps the database alive; declared last so the server's pool is dropped first.
    pub db: TestDb,
}

/// Starts the app with the given extra environment.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::create();
    let instance = spawn_instance(db.url(), extra).await;
    let api_key = create_key(&instance.pool, "acme");
    TestApp {
        address: instance.address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(BROWSER_UA)
            // Below the server's keep-alive (5 s), so that a connection idle while a test
            // waits is never reused just as the server closes it.
            .pool_idle_timeout(std::time::Duration::from_secs(3))
            .build()
            .expect("client"),
        api_key,
        pool: instance.pool,
        handle: instance.handle,
        db,
    }
}

/// Starts the app with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Creates an API key through the same code the CLI uses.
pub fn create_key(pool: &DbPool, workspace: &str) -> String {
    let mut conn = pool.get().expect("connection");
    scorekeeper::db::workspaces::create_api_key(&mut conn, workspace)
        .expect("create key")
        .expose()
        .to_owned()
}

/// SHA-256 of `text`, hex-encoded: what the service should store in place of secrets.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token inside a survey URL.
pub fn token_of(url: &str) -> String {
    let path = url.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_owned()
}

impl TestApp {
    /// A connection to the app's database.
    pub fn conn(
        &self,
    ) -> diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<AnyConnection>> {
        self.pool.get().expect("connection")
    }

    /// Rows whose foreign key names no parent: a bulk import writes without a check per row
    /// (SQLite with its checks off, Postgres with `session_replication_role = replica`), so
    /// every foreign key of the schema is checked here, row by row.
    pub fn orphan_rows(&self) -> i64 {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        #[derive(QueryableByName)]
        struct ForeignKey {
            #[diesel(sql_type = diesel::sql_types::Text)]
            child: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            col: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            parent: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            pcol: String,
        }
        match &mut *self.conn() {
            AnyConnection::Sqlite(c) => {
                diesel::sql_query("SELECT count(*) AS n FROM pragma_foreign_key_check")
                    .get_result::<Found>(c)
                    .expect("foreign key check")
                    .n
            }
            AnyConnection::Postgresql(c) => {
                let keys: Vec<ForeignKey> = diesel::sql_query(
                    "SELECT k.conrelid::regclass::text AS child, a.attname::text AS col, \
                            k.confrelid::regclass::text AS parent, p.attname::text AS pcol \
                     FROM pg_constraint k \
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
                     JOIN pg_attribute p ON p.attrelid = k.confrelid AND p.attnum = k.confkey[1] \
                     WHERE k.contype = 'f' AND cardinality(k.conkey) = 1 \
                       AND k.connamespace = 'public'::regnamespace",
                )
                .load(c)
                .expect("foreign keys");
                assert!(keys.len() > 10, "the schema's foreign keys: {}", keys.len());
                keys.iter()
                    .map(|k| {
                        diesel::sql_query(format!(
                            "SELECT count(*) AS n FROM {} x WHERE x.{col} IS NOT NULL AND NOT EXISTS \
                             (SELECT 1 FROM {} y WHERE y.{} = x.{col})",
                            k.child,
                            k.parent,
                            k.pcol,
                            col = k.col
                        ))
                        .get_result::<Found>(c)
                        .expect("orphans")
                        .n
                    })
                    .sum()
            }
        }
    }

    /// Rows in a table, by name.
    pub fn count(&self, table: &str) -> i64 {
        let conn = &mut *self.conn();
        match table {
            "workspaces" => schema::workspaces::table.count().get_result(conn),
            "api_keys" => schema::api_keys::table.count().get_result(conn),
            "surveys" => schema::surveys::table.count().get_result(conn),
            "invitations" => schema::invitations::table.count().get_result(conn),
            "invitation_properties" => schema::invitation_properties::table
                .count()
                .get_result(conn),
            "responses" => schema::responses::table.count().get_result(conn),
            "outbox" => schema::outbox::table.count().get_result(conn),
            "suppressions" => schema::suppressions::table.count().get_result(conn),
            "response_events" => schema::response_events::table.count().get_result(conn),
            "server_secrets" => schema::server_secrets::table.count().get_result(conn),
            "idempotency_keys" => schema::idempotency_keys::table.count().get_result(conn),
            "challenges" => schema::challenges::table.count().get_result(conn),
            "challenge_events" => schema::challenge_events::table.count().get_result(conn),
            "people" => schema::people::table.count().get_result(conn),
            "audiences" => schema::audiences::table.count().get_result(conn),
            "audience_members" => schema::audience_members::table.count().get_result(conn),
            "campaigns" => schema::campaigns::table.count().get_result(conn),
            "campaign_invitations" => schema::campaign_invitations::table.count().get_result(conn),
            "rollup_days" => schema::rollup_days::table.count().get_result(conn),
            "webhook_deliveries" => schema::webhook_deliveries::table.count().get_result(conn),
            other => panic!("unknown table {other}"),
        }
        .expect("count")
    }

    /// A key for another workspace.
    pub fn other_workspace_key(&self, name: &str) -> String {
        create_key(&self.pool, name)
    }

    /// `DELETE path` with the default key.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        let res = self
            .client
            .delete(format!("{}{path}", self.address))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .expect("request");
        checked("DELETE", res).await
    }

    /// `GET path` with the default key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(path, &self.api_key).await
    }

    /// `GET path` with `key`.
    pub async fn get_as(&self, path: &str, key: &str) -> reqwest::Response {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        checked("GET", res).await
    }

    /// `POST path` with a JSON body and the default key.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_as(path, body, &self.api_key).await
    }

    /// `POST path` with a JSON body and `key`.
    pub async fn post_as(&self, path: &str, body: &Value, key: &str) -> reqwest::Response {
        let res = self
            .client
            .post(format!("{}{path}", self.address))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request");
        checked("POST", res).await
    }

    /// `PATCH path` with a JSON body and `key`.
    pub async fn patch_as(&self, path: &str, body: &Value, key: &str) -> reqwest::Response {
        let res = self
            .client
            .patch(format!("{}{path}", self.address))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request");
        checked("PATCH", res).await
    }

    /// `PATCH path` with a JSON body and the default key.
    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.patch_as(path, body, &self.api_key).await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let res = self
            .client
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.api_key)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        checked("POST", res).await
    }

    /// Creates a survey and returns its JSON.
    pub async fn create_survey(&self, body: Value) -> Value {
        let res = self.post("/v1/surveys", &body).await;
        assert_eq!(res.status(), 201, "create survey {body}");
        res.json().await.unwrap()
    }

    /// Creates a survey of `kind` with its default scale and returns its id.
    pub async fn survey_of(&self, kind: &str) -> String {
        let s = self
            .create_survey(json!({"name": format!("{kind} survey"), "kind": kind}))
            .await;
        s["id"].as_str().unwrap().to_owned()
    }

    /// Issues a link invitation and returns its JSON.
    pub async fn invite(&self, survey_id: &str, body: Value) -> Value {
        let res = self
            .post(&format!("/v1/surveys/{survey_id}/invitations"), &body)
            .await;
        assert_eq!(res.status(), 201, "invite {body}");
        res.json().await.unwrap()
    }

    /// Issues a bare link invitation and returns its survey page URL.
    pub async fn link(&self, survey_id: &str) -> String {
        let inv = self.invite(survey_id, json!({"channel": "link"})).await;
        inv["url"].as_str().unwrap().to_owned()
    }

    /// Answers `url` with `body` as a future that owns what it needs, so it can be spawned
    /// and sent at a chosen moment; resolves to the status.
    pub fn answer_owned(
        &self,
        url: String,
        body: Value,
    ) -> impl std::future::Future<Output = u16> + Send + 'static {
        let client = self.client.clone();
        async move {
            let res = client.post(&url).json(&body).send().await.expect("answer");
            checked("POST", res).await.status().as_u16()
        }
    }

    /// Answers at `url` with a JSON body, as the page's script does.
    pub async fn answer(&self, url: &str, body: Value) -> reqwest::Response {
        let res = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("answer");
        checked("POST", res).await
    }

    /// Answers at `url` with a form, as the page without script does.
    pub async fn answer_form(&self, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(url)
            .form(fields)
            .send()
            .await
            .expect("answer")
    }

    /// The stats of a survey.
    pub async fn stats(&self, survey_id: &str) -> Value {
        self.stats_query(survey_id, "").await
    }

    /// The stats of a survey with a query string (e.g. `?from=…`).
    pub async fn stats_query(&self, survey_id: &str, query: &str) -> Value {
        let res = self
            .get(&format!("/v1/surveys/{survey_id}/stats{query}"))
            .await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{query}: {body}");
        body
    }

    /// Moves invitation `id` back to `at` as if it had been created then, and rebuilds its
    /// survey's stats rollups from the raw rows as the service does after a repair.
    pub fn backdate(&self, id: &str, at: chrono::NaiveDateTime) {
        let conn = &mut *self.conn();
        diesel::update(schema::invitations::table.find(id))
            .set(schema::invitations::created_at.eq(at))
            .execute(conn)
            .unwrap();
        let survey: String = schema::invitations::table
            .find(id)
            .select(schema::invitations::survey_id)
            .first(conn)
            .unwrap();
        scorekeeper::db::rollups::rebuild(conn, &survey.into()).unwrap();
    }

    /// Pretends the latest score of every response to `url` was given long ago,
    /// so that the next answer is outside the rapid-change window.
    pub fn age_answer(&self, url: &str) {
        let hash = sha256_hex(&token_of(url));
        let conn = &mut *self.conn();
        let invitation: String = schema::invitations::table
            .filter(schema::invitations::token_hash.eq(hash))
            .select(schema::invitations::id)
            .first(conn)
            .unwrap();
        let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(10);
        diesel::update(
            schema::responses::table.filter(schema::responses::invitation_id.eq(invitation)),
        )
        .set(schema::responses::score_changed_at.eq(long_ago))
        .execute(conn)
        .unwrap();
    }
}

/// The group `value` of a stats answer.
pub fn group<'a>(stats: &'a Value, value: &str) -> &'a Value {
    stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["value"] == value)
        .unwrap_or_else(|| panic!("no group {value} in {stats}"))
}

/// Checks a JSON response against the spec (see `contract`) and hands it back unchanged.
pub async fn checked(method: &str, res: reqwest::Response) -> reqwest::Response {
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return res;
    }
    let (status, url, headers) = (res.status(), res.url().to_string(), res.headers().clone());
    let body = res.bytes().await.expect("response body");
    crate::contract::check(method, &url, status.as_u16(), &body);
    let mut rebuilt = http::Response::builder().status(status);
    for (name, value) in &headers {
        rebuilt = rebuilt.header(name, value);
    }
    reqwest::Response::from(rebuilt.body(body).expect("rebuilt response"))
}

/// Asserts the body is our JSON error with `code`, returning its message.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}
