-- Review fixes of the core: answer history, purpose-bound unsubscribe tokens, and
-- idempotency records that keep the outcome rather than the served JSON.

-- Every change of an answer: the first answer ('created'), each change of score ('score')
-- and each change of comment ('comment'), with the answer's state after the change.
CREATE TABLE response_events (
    id TEXT PRIMARY KEY NOT NULL,
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    change TEXT NOT NULL,
    score INTEGER NOT NULL,
    comment TEXT,
    suspect BOOLEAN NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX response_events_response ON response_events (response_id, id);
-- Earlier answers kept no history: their current state becomes their first entry.
INSERT INTO response_events (id, response_id, change, score, comment, suspect, at)
    SELECT id, id, 'created', score, comment, suspect, created_at FROM responses;

-- SHA-256 of the unsubscribe token of an emailed invitation (a token bound to that
-- purpose, derived from the invitation id with the server key). NULL for other channels.
ALTER TABLE invitations ADD COLUMN unsubscribe_hash TEXT;
CREATE UNIQUE INDEX invitations_unsubscribe_hash ON invitations (unsubscribe_hash);

-- Idempotency records name the invitation and the outcome; the view is rebuilt on replay.
ALTER TABLE idempotency_keys ADD COLUMN invitation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN outcome TEXT NOT NULL DEFAULT 'issued';
UPDATE idempotency_keys SET invitation_id = COALESCE((response_body::json ->> 'id'), ''),
    outcome = CASE WHEN status_code = 201 THEN 'issued' ELSE 'suppressed' END;
ALTER TABLE idempotency_keys DROP COLUMN response_body;
ALTER TABLE idempotency_keys DROP COLUMN status_code;

-- The server key no longer lives in the database (see SECRET_KEY_FILE); a key stored by an
-- earlier version is moved to the key file at start and deleted from here.
