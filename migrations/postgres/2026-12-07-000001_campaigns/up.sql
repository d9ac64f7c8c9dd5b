-- HR pulse surveys: audiences of people with attributes, and campaigns that send a survey to
-- an audience once or on a schedule, one cycle at a time, with reminders.
CREATE TABLE audiences (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audiences_workspace ON audiences (workspace_id, id);

-- One row per address and audience; attributes is a JSON object of strings.
CREATE TABLE audience_members (
    audience_id TEXT NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT,
    attributes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (audience_id, email_key)
);
CREATE INDEX audience_members_email ON audience_members (email_key);

CREATE TABLE campaigns (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    audience_id TEXT NOT NULL REFERENCES audiences (id),
    name TEXT NOT NULL,
    -- The first cycle as a wall-clock time in tz; every_days NULL = sent once.
    start_local TEXT NOT NULL,
    tz TEXT NOT NULL,
    every_days INTEGER,
    reminder_days TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The schedule slot of the next cycle, and when it is due (NULL once finished).
    next_index INTEGER NOT NULL,
    next_cycle_at TIMESTAMP,
    cycles INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX campaigns_due ON campaigns (status, next_cycle_at);
CREATE INDEX campaigns_workspace ON campaigns (workspace_id, id);

-- A cycle issues its invitations in chunks, in address order; issued_through is the last
-- address issued, so a crash or a second instance resumes where the last commit left off.
CREATE TABLE campaign_cycles (
    id TEXT PRIMARY KEY NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    scheduled_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP NOT NULL,
    issued_through TEXT NOT NULL,
    issuing_done BOOLEAN NOT NULL,
    cut_after TIMESTAMP NOT NULL,
    cut_at TIMESTAMP
);
CREATE UNIQUE INDEX campaign_cycles_number ON campaign_cycles (campaign_id, number);
CREATE INDEX campaign_cycles_open ON campaign_cycles (issuing_done, cut_at);

CREATE TABLE campaign_invitations (
    invitation_id TEXT PRIMARY KEY NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    cycle_id TEXT NOT NULL REFERENCES campaign_cycles (id) ON DELETE CASCADE,
    reminders_sent INTEGER NOT NULL,
    next_reminder_at TIMESTAMP
);
CREATE INDEX campaign_invitations_cycle ON campaign_invitations (cycle_id);
CREATE INDEX campaign_invitations_due ON campaign_invitations (next_reminder_at);

-- A reminder is another email of the same invitation: 0 for the first send, N for reminder N,
-- so an invitation has one outbox row per (invitation, reminder).
ALTER TABLE outbox ADD COLUMN reminder INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox DROP CONSTRAINT outbox_invitation_id_key;
CREATE UNIQUE INDEX outbox_invitation_reminder ON outbox (invitation_id, reminder);
