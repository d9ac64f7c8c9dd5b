//! Building and running the HTTP application.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header;
use actix_web::middleware::Logger;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tokio::sync::{watch, Notify};

use crate::config::{parse_public_url, Settings};
use crate::db::{self, DbPool};
use crate::domain::secret::ServerKey;
use crate::error::ApiError;
use crate::extract::MAX_JSON_BYTES;
use crate::keyfile;
use crate::links::Links;
use crate::mail::worker::Worker;
use crate::mail::Mailer;
use crate::routes;
use crate::state::AppState;

/// How long stopping waits for the email worker to finish its round.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound, ready-to-run server and, when SMTP is configured, its email worker.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    stop_worker: watch::Sender<bool>,
    worker_done: watch::Receiver<bool>,
    stop_ingest: watch::Sender<bool>,
    ingest_done: watch::Receiver<bool>,
}

/// Stops a running [`Application`] from elsewhere (tests, signal handlers).
#[derive(Clone)]
pub struct AppHandle {
    server: ServerHandle,
    stop_worker: watch::Sender<bool>,
    worker_done: watch::Receiver<bool>,
    stop_ingest: watch::Sender<bool>,
    ingest_done: watch::Receiver<bool>,
}

impl AppHandle {
    /// Stops accepting requests, finishes those in flight and stops the email worker.
    pub async fn stop(&self) {
        let _ = self.stop_worker.send(true);
        self.server.stop(true).await;
        // The requests have been answered; the answer lanes commit anything still queued.
        let _ = self.stop_ingest.send(true);
        wait_for(self.ingest_done.clone(), "answer writers").await;
        // Returns only once the worker has finished its round: a send in flight completes
        // (and is recorded) before the caller goes on.
        wait_for(self.worker_done.clone(), "email worker").await;
    }
}

impl Application {
    /// Connects to the database, runs migrations and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db_settings = settings.clone();
        let (pool, server_key) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<(DbPool, ServerKey)> {
                let options = db::PoolOptions {
                    size: db_settings.pool_size,
                    sqlite_busy_timeout_ms: db_settings.sqlite_busy_timeout_ms,
                    checkout_timeout: db_settings.pool_timeout,
                };
                let pool = db::connect(&db_settings.database_url, options)?;
                db::run_migrations(&pool)?;
                let mut conn = pool.get().context("cannot check out a connection")?;
                let rolled = db::rollups::backfill_once(&mut conn)
                    .context("cannot roll up the existing answers")?;
                if rolled > 0 {
                    tracing::info!(invitations = rolled, "rolled up existing answers for stats");
                }
                drop(conn);
                let server_key = keyfile::load(&db_settings, &pool)?;
                Ok((pool, server_key))
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
        let links = Links::new(public_url);
        let outbox_wake = Arc::new(Notify::new());
        let metrics = crate::metrics::Metrics::new();
        let (stop_worker, stop_rx) = watch::channel(false);
        tokio::spawn(sweep_periodically(pool.clone(), stop_worker.subscribe()));
        let (worker_done_tx, worker_done) = watch::channel(settings.smtp_url.is_none());
        if let Some(url) = &settings.smtp_url {
            let mailer = Mailer::new(url, &settings.mail_from, &settings.outbox)?;
            let worker = Worker::new(
                pool.clone(),
                mailer,
                links.clone(),
                settings.outbox.clone(),
                outbox_wake.clone(),
                server_key.clone(),
                metrics.clone(),
            );
            tokio::spawn(async move {
                worker.run(stop_rx).await;
                let _ = worker_done_tx.send(true);
            });
        }
        tokio::spawn(
            crate::webhooks::Worker::new(
                pool.clone(),
                settings.webhooks.clone(),
                server_key.clone(),
                metrics.clone(),
            )
            .run(stop_worker.subscribe()),
        );
        let message_domain = settings
            .mail_from
            .rsplit_once('@')
            .map_or("localhost", |(_, domain)| domain)
            .to_owned();
        tokio::spawn(
            crate::campaigns::Worker::new(
                pool.clone(),
                crate::invite::Issuer {
                    message_domain: message_domain.clone(),
                    server_key: server_key.clone(),
                },
                settings.campaign_poll,
                outbox_wake.clone(),
            )
            .run(stop_worker.subscribe()),
        );
        let (stop_ingest, ingest_stop_rx) = watch::channel(false);
        let (ingest, lanes) = crate::ingest::Ingest::start(
            pool.clone(),
            &settings.ingest,
            metrics.clone(),
            ingest_stop_rx,
        );
        let (ingest_done_tx, ingest_done) = watch::channel(false);
        tokio::spawn(async move {
            for lane in lanes {
                let _ = lane.await;
            }
            let _ = ingest_done_tx.send(true);
        });
        let state = AppState {
            ingest,
            pool: pool.clone(),
            links,
            email_enabled: settings.smtp_url.is_some(),
            outbox_wake,
            message_domain,
            server_key,
            public_limits: std::sync::Arc::new(crate::limits::PublicLimits::new(&settings.limits)),
            uploads: std::sync::Arc::new(tokio::sync::Semaphore::new(settings.uploads_at_once)),
            metrics,
            metrics_token: settings.metrics_token.clone(),
        };
        let server = run(listener, state, settings.shutdown_grace)?;
        tracing::info!(%addr, database = %settings.database_url.redacted(), email = settings.smtp_url.is_some(), "scorekeeper listening");
        Ok(Self {
            port: addr.port(),
            server,
            pool,
            stop_worker,
            worker_done,
            stop_ingest,
            ingest_done,
        })
    }

    /// A handle that can stop the server and its worker.
    pub fn handle(&self) -> AppHandle {
        AppHandle {
            server: self.server.handle(),
            stop_worker: self.stop_worker.clone(),
            worker_done: self.worker_done.clone(),
            stop_ingest: self.stop_ingest.clone(),
            ingest_done: self.ingest_done.clone(),
        }
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool, for tools and tests that share the server's database.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Serves until the process is told to stop (SIGTERM or SIGINT: the server stops
    /// accepting and lets in-flight requests finish within the grace period), then commits
    /// the queued answers and lets the email worker finish its round.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // On SIGTERM actix stops accepting and drains the requests in flight (on SIGINT and
        // SIGQUIT it stops at once); the background workers are told at once too, so that
        // none claims new work (an email round, a webhook round, a campaign tick) meanwhile.
        let stop_early = self.stop_worker.clone();
        let signals = tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: draining requests; workers finish what they hold");
            let _ = stop_early.send(true);
        });
        let result = self.server.await;
        signals.abort();
        let _ = self.stop_worker.send(true);
        let _ = self.stop_ingest.send(true);
        wait_for(self.ingest_done, "answer writers").await;
        wait_for(self.worker_done, "email worker").await;
        tracing::info!("scorekeeper stopped");
        result
    }
}

/// Resolves at the first SIGTERM, SIGINT or SIGQUIT (the signals actix's server stops on).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = quit.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Waits (bounded) until a background task reports that it has stopped.
async fn wait_for(mut done: watch::Receiver<bool>, what: &str) {
    if tokio::time::timeout(WORKER_STOP_TIMEOUT, done.wait_for(|d| *d))
        .await
        .is_err()
    {
        // Nothing is lost: unclaimed work is retried by the next start (email claims lapse),
        // and an answer not yet committed was never acknowledged.
        tracing::warn!(what, "did not stop in time");
    }
}

fn run(listener: TcpListener, state: AppState, grace: Duration) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            // Delighted's docs write `/people.json`, its clients `/people`: one route serves both.
            .wrap_fn(|mut req, srv| {
                if let Some(path) = crate::delighted::strip_json_suffix(req.path()) {
                    let query = req.query_string();
                    let target = if query.is_empty() {
                        path
                    } else {
                        format!("{path}?{query}")
                    };
                    if let Ok(uri) = target.parse::<actix_web::http::Uri>() {
                        req.match_info_mut().get_mut().update(&uri);
                        req.head_mut().uri = uri;
                    }
                }
                srv.call(req)
            })
            // Requests and latency by route template (never the path: tokens stay out).
            .wrap_fn(|req, srv| {
                let started = std::time::Instant::now();
                let route = req
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                let method = metric_method(req.method());
                let metrics = req
                    .app_data::<web::Data<AppState>>()
                    .map(|s| s.metrics.clone());
                let response = srv.call(req);
                async move {
                    let response = response.await?;
                    if let Some(m) = metrics {
                        let status = response.status().as_u16();
                        m.request(&route, method, status, started.elapsed());
                    }
                    Ok(response)
                }
            })
            // API answers carry workspace data (recipients, comments): no cache may keep them.
            .wrap_fn(|req, srv| {
                let private =
                    req.path().starts_with("/v1/") || req.path().starts_with("/delighted/");
                let response = srv.call(req);
                async move {
                    let mut response = response.await?;
                    if private {
                        response.headers_mut().insert(
                            header::CACHE_CONTROL,
                            header::HeaderValue::from_static("no-store"),
                        );
                    }
                    Ok(response)
                }
            })
            // Our own access log: paths only, with survey tokens redacted.
            .wrap(
                Logger::new("%{request}xi %s %b %Dms").custom_request_replace("request", |req| {
                    format!(
                        "{} {}",
                        req.method(),
                        crate::telemetry::redact_path(req.path())
                    )
                }),
            )
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
    .shutdown_timeout(grace.as_secs())
    .listen(listener)
    .context("cannot listen")?
    .run();
    Ok(server)
}

/// How often each instance deletes aged-out rows.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes aged-out idempotency records and finished outbox rows, once at start and then
/// hourly, until `stop`. Sweeps are idempotent, so several instances may all run one.
async fn sweep_periodically(pool: DbPool, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let pool = pool.clone();
        let swept =
            tokio::task::spawn_blocking(move || -> anyhow::Result<db::maintenance::Swept> {
                let mut conn = pool.get()?;
                Ok(db::maintenance::sweep(&mut conn, db::now())?)
            })
            .await;
        match swept {
            Ok(Ok(swept)) if swept != db::maintenance::Swept::default() => {
                tracing::info!(?swept, "swept aged-out rows")
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::error!(error = ?err, "sweep failed"),
            Err(err) => tracing::error!(error = ?err, "sweep task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The label a request's method is counted under: the standard methods by name, any other
/// as `other` (a request line may name any method, and each name would be a series kept
/// for good).
fn metric_method(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
