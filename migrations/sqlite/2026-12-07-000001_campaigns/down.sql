DELETE FROM outbox WHERE reminder > 0;
CREATE TABLE outbox_old (
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
INSERT INTO outbox_old SELECT id, invitation_id, state, attempts, next_attempt_at, lease_until,
    claimed_by, last_error, message_id, created_at, finished_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
DROP TABLE campaign_invitations;
DROP TABLE campaign_cycles;
DROP TABLE campaigns;
DROP TABLE audience_members;
DROP TABLE audiences;
