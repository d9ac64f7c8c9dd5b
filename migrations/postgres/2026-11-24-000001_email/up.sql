-- Email delivery: per-survey email settings and throttle, invitation delivery state,
-- the durable outbox, the suppression list and idempotency records.
ALTER TABLE surveys ADD COLUMN email_subject TEXT;
ALTER TABLE surveys ADD COLUMN email_intro TEXT;
ALTER TABLE surveys ADD COLUMN email_sender_name TEXT;
ALTER TABLE surveys ADD COLUMN throttle_days INTEGER;

-- Lower-cased recipient address, for throttle and suppression look-ups.
ALTER TABLE invitations ADD COLUMN recipient_key TEXT;
ALTER TABLE invitations ADD COLUMN status_reason TEXT;
ALTER TABLE invitations ADD COLUMN eligible_at TIMESTAMP;
ALTER TABLE invitations ADD COLUMN send_at TIMESTAMP;
ALTER TABLE invitations ADD COLUMN sent_at TIMESTAMP;
ALTER TABLE invitations ADD COLUMN last_error TEXT;
-- Whether the survey page's script sent the latest score on its own (see domain::scanner).
ALTER TABLE responses ADD COLUMN auto_sent BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX invitations_recipient ON invitations (workspace_id, recipient_key, created_at);

-- One row per email to send. It holds no token: the worker derives the link token from
-- the invitation id with the server key (see domain::secret::ServerKey).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT NOT NULL UNIQUE REFERENCES invitations (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    claimed_by TEXT,
    last_error TEXT,
    message_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE suppressions (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, email)
);

-- Stripe-style idempotency for invitation creation. The key is stored only as an HMAC
-- under the server key; a replay re-derives the invitation's token, so none is stored.
CREATE TABLE idempotency_keys (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, key_hash)
);

-- The server key, generated on first start when SECRET_KEY is not set.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
