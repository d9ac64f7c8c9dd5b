//! Integration tests: the real server over HTTP, on SQLite or (with `TEST_DATABASE_URL`) Postgres.

mod anonymity;
mod answering;
mod auth;
mod campaigns;
mod challenges;
mod contract;
mod dashboards;
mod delighted;
mod email;
mod erasure;
mod funnel;
mod helpers;
mod import;
mod ingest;
mod invitations;
mod limits;
mod metrics;
mod openapi;
mod reports;
mod responses;
mod smtp;
mod stats;
mod surveys;
mod triggers;
mod webhooks;
mod widget;
