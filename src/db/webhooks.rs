//! Webhook subscriptions and the events they are sent, always scoped to a workspace. An event
//! is written with its deliveries in the caller's transaction, so nothing that happened is
//! lost and nothing that was rolled back is sent.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{webhook_deliveries, webhook_events, webhooks};
use super::{AnyConnection, DbError, DbResult};
use crate::domain::ids::WorkspaceId;
use crate::domain::page::PageRequest;

/// A stored subscription.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// The owning workspace.
    pub workspace_id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Comma-separated event types.
    pub events: String,
    /// What it is for.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

impl Webhook {
    /// The subscribed event types.
    pub fn event_list(&self) -> Vec<String> {
        self.events.split(',').map(str::to_owned).collect()
    }

    /// Whether it wants events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.split(',').any(|e| e == kind)
    }
}

/// Stores a subscription, refusing more than `max` per workspace (409).
pub fn insert(conn: &mut AnyConnection, new: &Webhook, max: i64) -> DbResult<Webhook> {
    super::write_transaction(conn, |conn| {
        // Concurrent creations count one at a time, so none slips past the cap.
        super::lock_key(conn, &format!("webhooks:{}", new.workspace_id))?;
        let existing: i64 = webhooks::table
            .filter(webhooks::workspace_id.eq(&new.workspace_id))
            .count()
            .get_result(conn)?;
        if existing >= max {
            return Err(DbError::Refused(format!(
                "a workspace has at most {max} webhooks; delete one first"
            )));
        }
        diesel::insert_into(webhooks::table)
            .values((
                webhooks::id.eq(&new.id),
                webhooks::workspace_id.eq(&new.workspace_id),
                webhooks::url.eq(&new.url),
                webhooks::events.eq(&new.events),
                webhooks::description.eq(&new.description),
                webhooks::created_at.eq(new.created_at),
            ))
            .execute(conn)?;
        Ok(new.clone())
    })
}

/// Subscription `id` of `workspace`.
pub fn find(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<Webhook> {
    webhooks::table
        .filter(webhooks::workspace_id.eq(workspace.as_str()))
        .filter(webhooks::id.eq(id))
        .select(Webhook::as_select())
        .first(conn)
        .optional()?
        .ok_or(DbError::NotFound("webhook"))
}

/// One page of the workspace's subscriptions, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace: &WorkspaceId,
    page: &PageRequest,
) -> DbResult<Vec<Webhook>> {
    let mut query = webhooks::table
        .filter(webhooks::workspace_id.eq(workspace.as_str()))
        .select(Webhook::as_select())
        .order(webhooks::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(webhooks::id.gt(after.clone()));
    }
    Ok(query.load(conn)?)
}

/// Deletes subscription `id` of `workspace` and its pending deliveries.
pub fn delete(conn: &mut AnyConnection, workspace: &WorkspaceId, id: &str) -> DbResult<()> {
    super::write_transaction(conn, |conn| {
        find(conn, workspace, id)?;
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
            .execute(conn)?;
        diesel::delete(webhooks::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Records event `kind` about `data` for every subscriber in `workspace`: one event row (its
/// body, with `event_id` and `created_at`) and one pending delivery per subscriber. Call
/// inside the transaction that made the change. Does nothing without subscribers.
pub fn emit(
    conn: &mut AnyConnection,
    workspace: &str,
    kind: &str,
    data: serde_json::Value,
    now: NaiveDateTime,
) -> DbResult<()> {
    let subscribers = subscriptions(conn, workspace)?;
    emit_to(conn, &subscribers, workspace, kind, data, now)
}

/// Every subscription of `workspace`, for a caller that emits many events with
/// [`emit_to`] in one transaction.
pub fn subscriptions(conn: &mut AnyConnection, workspace: &str) -> DbResult<Vec<Webhook>> {
    Ok(webhooks::table
        .filter(webhooks::workspace_id.eq(workspace))
        .select(Webhook::as_select())
        .load(conn)?)
}

/// [`emit`] to those of `subscriptions` (all of `workspace`, read in this transaction)
/// that want `kind`.
pub fn emit_to(
    conn: &mut AnyConnection,
    subscriptions: &[Webhook],
    workspace: &str,
    kind: &str,
    data: serde_json::Value,
    now: NaiveDateTime,
) -> DbResult<()> {
    let subscribers: Vec<&str> = subscriptions
        .iter()
        .filter(|w| w.wants(kind))
        .map(|w| w.id.as_str())
        .collect();
    if subscribers.is_empty() {
        return Ok(());
    }
    let event_id = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({
        "event_id": event_id,
        "type": kind,
        "created_at": super::from_stored(now),
        "data": data,
    });
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq(&event_id),
            webhook_events::workspace_id.eq(workspace),
            webhook_events::kind.eq(kind),
            webhook_events::body.eq(body.to_string()),
            webhook_events::created_at.eq(now),
        ))
        .execute(conn)?;
    for webhook in subscribers {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
                webhook_deliveries::webhook_id.eq(webhook),
                webhook_deliveries::event_id.eq(&event_id),
                webhook_deliveries::state.eq(super::webhook_deliveries::state::PENDING),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
