-- The hourly sweep removes webhook events older than 30 days none of whose deliveries is
-- pending: it finds old events by time, and each event's deliveries (and, deleting, the
-- ON DELETE CASCADE finds them) by event, without scanning the tables.
CREATE INDEX webhook_events_created ON webhook_events (created_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
