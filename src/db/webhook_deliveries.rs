//! The webhook delivery queue: claimed with a lease (so two instances never send one delivery
//! at once), each attempt recorded with its status and latency, retried until delivered or
//! too old.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};

use super::schema::{webhook_attempts, webhook_deliveries, webhook_events, webhooks};
use super::{AnyConnection, DbError, DbResult};
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;

/// Delivery states.
pub mod state {
    /// Waiting for its next attempt.
    pub const PENDING: &str = "pending";
    /// The receiver answered 2xx.
    pub const DELIVERED: &str = "delivered";
    /// Given up.
    pub const FAILED: &str = "failed";
}

/// A delivery a worker holds, with what it sends.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    /// The delivery.
    #[diesel(sql_type = Text)]
    pub id: String,
    /// Its subscription.
    #[diesel(sql_type = Text)]
    pub webhook_id: String,
    /// Its event.
    #[diesel(sql_type = Text)]
    pub event_id: String,
    /// Attempts so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The worker holding it.
    #[diesel(sql_type = Text)]
    pub claimed_by: String,
    /// When the event happened.
    #[diesel(sql_type = Timestamp)]
    pub created_at: NaiveDateTime,
}

/// What a claimed delivery sends, and where.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The claim.
    pub claimed: Claimed,
    /// The subscription's URL.
    pub url: String,
    /// The event's JSON body.
    pub body: String,
}

/// Claims up to `limit` due deliveries for `worker` until `lease_until`, counting the attempt.
pub fn claim(
    conn: &mut AnyConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<Outgoing>> {
    const RETURNING: &str = "RETURNING id, webhook_id, event_id, attempts, claimed_by, created_at";
    // Read first: an idle queue is the common case, and a plain read never waits for
    // SQLite's write lock (held for minutes by an import), while the claiming UPDATE would.
    let due: Option<String> = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq("pending"))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(now)),
        )
        .select(webhook_deliveries::id)
        .first(conn)
        .optional()?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let claimed: Vec<Claimed> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET lease_until = ?, claimed_by = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
               AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) \
               ORDER BY next_attempt_at LIMIT ?) {RETURNING}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET lease_until = $1, claimed_by = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
               AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) {RETURNING}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c)?,
    };
    let mut out = Vec::with_capacity(claimed.len());
    for c in claimed {
        let (url, body): (String, String) = webhook_deliveries::table
            .inner_join(webhooks::table)
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::id.eq(&c.id))
            .select((webhooks::url, webhook_events::body))
            .first(conn)?;
        out.push(Outgoing {
            claimed: c,
            url,
            body,
        });
    }
    Ok(out)
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The status code, when the receiver answered.
    pub status: Option<i32>,
    /// How long it took.
    pub latency_ms: i32,
    /// What went wrong, when it did.
    pub error: Option<String>,
}

/// Records `attempt` of `claimed` at `now`: delivered on a 2xx; otherwise retried at `retry_at`,
/// or failed when that is `None`. Does nothing if the claim was lost to another worker.
pub fn record(
    conn: &mut AnyConnection,
    claimed: &Claimed,
    attempt: &Attempt,
    now: NaiveDateTime,
    retry_at: Option<NaiveDateTime>,
) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
        let (to, next) = match (delivered, retry_at) {
            (true, _) => (state::DELIVERED, None),
            (false, Some(at)) => (state::PENDING, Some(at)),
            (false, None) => (state::FAILED, None),
        };
        let owned = diesel::update(
            webhook_deliveries::table
                .find(&claimed.id)
                .filter(webhook_deliveries::claimed_by.eq(&claimed.claimed_by))
                .filter(webhook_deliveries::state.eq(state::PENDING)),
        )
        .set((
            webhook_deliveries::state.eq(to),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::next_attempt_at.eq(next.unwrap_or(now)),
            webhook_deliveries::last_status.eq(attempt.status),
            webhook_deliveries::last_error.eq(&attempt.error),
            webhook_deliveries::finished_at.eq(next.is_none().then_some(now)),
        ))
        .execute(conn)?;
        if owned == 0 {
            return Ok(());
        }
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::delivery_id.eq(&claimed.id),
                webhook_attempts::attempt.eq(claimed.attempts),
                webhook_attempts::at.eq(now),
                webhook_attempts::status.eq(attempt.status),
                webhook_attempts::latency_ms.eq(attempt.latency_ms),
                webhook_attempts::error.eq(&attempt.error),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// One recorded attempt: `(attempt, at, status, latency_ms, error)`.
pub type AttemptRow = (i32, NaiveDateTime, Option<i32>, i32, Option<String>);

/// A delivery as listed, with its attempts.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// The delivery.
    pub id: String,
    /// Its event.
    pub event_id: String,
    /// Its event's type.
    pub kind: String,
    /// See [`state`].
    pub state: String,
    /// When the event happened.
    pub created_at: NaiveDateTime,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: NaiveDateTime,
    /// Every attempt.
    pub attempts: Vec<AttemptRow>,
}

/// One page of webhook `webhook_id`'s deliveries, newest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    webhook_id: &str,
    page: &PageRequest,
) -> DbResult<Vec<DeliveryRow>> {
    super::webhooks::find(conn, workspace, webhook_id)?;
    let mut query = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(page.fetch_limit())
        .select((
            webhook_deliveries::id,
            webhook_deliveries::event_id,
            webhook_events::kind,
            webhook_deliveries::state,
            webhook_deliveries::created_at,
            webhook_deliveries::next_attempt_at,
        ))
        .into_boxed();
    if let Some(before) = &page.after {
        query = query.filter(webhook_deliveries::id.lt(before.clone()));
    }
    type Row = (String, String, String, String, NaiveDateTime, NaiveDateTime);
    let rows: Vec<Row> = query.load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, event_id, kind, state, created_at, next_attempt_at) in rows {
        let attempts = webhook_attempts::table
            .filter(webhook_attempts::delivery_id.eq(&id))
            .order(webhook_attempts::attempt.asc())
            .limit(100)
            .select((
                webhook_attempts::attempt,
                webhook_attempts::at,
                webhook_attempts::status,
                webhook_attempts::latency_ms,
                webhook_attempts::error,
            ))
            .load(conn)?;
        out.push(DeliveryRow {
            id,
            event_id,
            kind,
            state,
            created_at,
            next_attempt_at,
            attempts,
        });
    }
    Ok(out)
}

/// Queues delivery `id` of webhook `webhook_id` again now, whatever its state, unless a
/// worker is delivering it right now (its lease is live): cleared, that claim would let a
/// second worker deliver it at the same time, and the first one's outcome would be lost.
pub fn retry(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    webhook_id: &str,
    id: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        super::webhooks::find(conn, workspace, webhook_id)?;
        let delivery = webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::webhook_id.eq(webhook_id));
        let (current, lease): (String, Option<NaiveDateTime>) = delivery
            .select((webhook_deliveries::state, webhook_deliveries::lease_until))
            .first(conn)
            .optional()?
            .ok_or(DbError::NotFound("delivery"))?;
        if current == state::PENDING && lease.is_some_and(|until| until > now) {
            return Err(DbError::Refused(
                "the delivery is being attempted right now; retry it once that attempt is recorded"
                    .into(),
            ));
        }
        // The same test again in the write itself: on PostgreSQL a claim can commit between
        // the read above and this statement (READ COMMITTED).
        let not_in_flight = webhook_deliveries::state
            .ne(state::PENDING)
            .or(webhook_deliveries::lease_until.is_null())
            .or(webhook_deliveries::lease_until.le(now));
        let changed = diesel::update(delivery.filter(not_in_flight))
            .set((
                webhook_deliveries::state.eq(state::PENDING),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::claimed_by.eq(None::<String>),
                webhook_deliveries::finished_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(DbError::Refused(
                "the delivery is being attempted right now; retry it once that attempt is recorded"
                    .into(),
            ));
        }
        Ok(())
    })
}
