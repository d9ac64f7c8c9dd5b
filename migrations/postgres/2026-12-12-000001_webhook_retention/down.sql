DROP INDEX webhook_deliveries_event;
DROP INDEX webhook_events_created;
