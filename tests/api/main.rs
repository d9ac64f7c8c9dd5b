//! Integration tests: the real server over HTTP, on SQLite or (with `TEST_DATABASE_URL`) Postgres.

mod answering;
mod auth;
mod helpers;
mod invitations;
mod openapi;
mod responses;
mod stats;
mod surveys;
