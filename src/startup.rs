//! Building and running the HTTP application.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::config::{parse_public_url, Settings};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::extract::MAX_JSON_BYTES;
use crate::links::Links;
use crate::routes;
use crate::state::AppState;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
}

impl Application {
    /// Connects to the database, runs migrations and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database_url = settings.database_url.clone();
        let pool_size = settings.pool_size;
        let pool = tokio::task::spawn_blocking(move || -> anyhow::Result<DbPool> {
            let pool = db::connect(&database_url, pool_size)?;
            db::run_migrations(&pool)?;
            Ok(pool)
        })
        .await
        .context("database start-up task failed")??;
        let listener = TcpListener::bind(&settings.listen_addr)
            .with_context(|| format!("cannot bind LISTEN_ADDR {}", settings.listen_addr))?;
        let addr = listener
            .local_addr()
            .context("listener has no local address")?;
        let public_url = match settings.public_url.clone() {
            Some(url) => url,
            None => parse_public_url(&format!("http://{addr}"))?,
        };
        let state = AppState {
            pool: pool.clone(),
            links: Links::new(public_url),
            email_enabled: settings.smtp_url.is_some(),
        };
        let server = run(listener, state)?;
        tracing::info!(%addr, database = %settings.database_url.redacted(), "scorekeeper listening");
        Ok(Self {
            port: addr.port(),
            server,
            pool,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool, for tools and tests that share the server's database.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Serves until the process is told to stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(TracingLogger::default())
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_JSON_BYTES))
            .app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| ApiError::NotFound("resource").into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError::BadRequest(format!("query string is not valid: {err}")).into()
            }))
            .configure(routes::configure)
    })
    .listen(listener)
    .context("cannot listen")?
    .run();
    Ok(server)
}
