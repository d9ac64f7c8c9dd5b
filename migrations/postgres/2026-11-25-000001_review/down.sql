ALTER TABLE idempotency_keys ADD COLUMN status_code INTEGER NOT NULL DEFAULT 201;
ALTER TABLE idempotency_keys ADD COLUMN response_body TEXT NOT NULL DEFAULT '{}';
ALTER TABLE idempotency_keys DROP COLUMN outcome;
ALTER TABLE idempotency_keys DROP COLUMN invitation_id;
DROP INDEX invitations_unsubscribe_hash;
ALTER TABLE invitations DROP COLUMN unsubscribe_hash;
DROP TABLE response_events;
