//! Keeping tables bounded: idempotency records, finished outbox rows and finished webhook
//! events age out, and identities older than a workspace's retention are cut.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::outbox::state;
use super::schema::{idempotency_keys, outbox, webhook_deliveries, webhook_events};
use super::AnyConnection;

/// How long a retried request can still get the first answer back (Stripe keeps 24 hours).
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
/// How long a delivered, failed or cancelled email's outbox row is kept for inspection.
pub const FINISHED_OUTBOX_KEPT: Duration = Duration::days(30);

/// How long a webhook event is kept, from its creation, for the delivery log: after that it
/// goes (with its deliveries and their attempts) at the first sweep that finds none of its
/// deliveries pending.
pub const FINISHED_WEBHOOKS_KEPT: Duration = Duration::days(30);

/// Webhook events one statement of the sweep deletes.
const WEBHOOK_SWEEP_BATCH: i64 = 500;
/// The most such statements per sweep (the next sweep goes on).
const WEBHOOK_SWEEP_BATCHES: usize = 20;

/// Rows removed by one sweep.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Idempotency records past their window.
    pub idempotency_keys: usize,
    /// Finished outbox rows past their keep time.
    pub outbox: usize,
    /// Invitations cut from their people under a workspace's `retention_days`.
    pub anonymised: usize,
    /// Webhook events past their keep time, none of whose deliveries is pending.
    pub webhook_events: usize,
}

/// Most invitations one sweep anonymises per workspace (the next sweep goes on).
const RETENTION_BATCH: i64 = 10_000;

/// Deletes what has aged out as of `now`.
pub fn sweep(conn: &mut AnyConnection, now: NaiveDateTime) -> super::DbResult<Swept> {
    let idempotency_keys = diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(now - IDEMPOTENCY_WINDOW)),
    )
    .execute(conn)?;
    let outbox = diesel::delete(
        outbox::table
            .filter(outbox::state.ne(state::PENDING))
            .filter(outbox::finished_at.lt(now - FINISHED_OUTBOX_KEPT)),
    )
    .execute(conn)?;
    let anonymised = super::erasure::sweep_retention(conn, now, RETENTION_BATCH)?;
    // Deliveries and their attempts go with their event (ON DELETE CASCADE); a bounded batch
    // per statement, so the write lock is never held for long (the next sweep goes on).
    let pending = webhook_deliveries::table
        .filter(webhook_deliveries::event_id.eq(webhook_events::id))
        .filter(webhook_deliveries::state.eq(super::webhook_deliveries::state::PENDING));
    let mut webhook_events = 0;
    for _ in 0..WEBHOOK_SWEEP_BATCHES {
        let batch: Vec<String> = webhook_events::table
            .filter(webhook_events::created_at.lt(now - FINISHED_WEBHOOKS_KEPT))
            .filter(diesel::dsl::not(diesel::dsl::exists(pending)))
            .select(webhook_events::id)
            .limit(WEBHOOK_SWEEP_BATCH)
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        webhook_events +=
            diesel::delete(webhook_events::table.filter(webhook_events::id.eq_any(&batch)))
                .execute(conn)?;
    }
    Ok(Swept {
        idempotency_keys,
        outbox,
        anonymised,
        webhook_events,
    })
}
