-- Rating challenges: an agent disputes a rating they could not control; a reviewer accepts
-- or rejects it. The response itself is never changed: stats leave accepted ones out of a
-- second score, computed at read time.
CREATE TABLE challenges (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    -- open, accepted or rejected.
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    challenged_by TEXT NOT NULL,
    -- The score challenged, as it was then (the answer may change later).
    score INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    resolved_by TEXT,
    resolution_note TEXT,
    resolved_at TIMESTAMP
);
-- At most one challenge per response that is open or accepted; a rejected one may be
-- followed by another.
CREATE UNIQUE INDEX challenges_live_per_response ON challenges (response_id)
    WHERE status <> 'rejected';
CREATE INDEX challenges_workspace ON challenges (workspace_id, id);
CREATE INDEX challenges_accepted ON challenges (survey_id, invitation_id)
    WHERE status = 'accepted';

-- The audit trail: every filing and every decision, append-only.
CREATE TABLE challenge_events (
    id TEXT PRIMARY KEY NOT NULL,
    challenge_id TEXT NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
    -- filed, accepted or rejected.
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- The API key that made the call.
    api_key_id TEXT NOT NULL,
    note TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX challenge_events_challenge ON challenge_events (challenge_id, at);
