-- Core tables: workspaces, API keys, surveys, invitations, their properties and responses.
-- Ids are UUID text, timestamps are UTC without zone (the portable subset both backends share).
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE surveys (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    scale TEXT NOT NULL,
    question TEXT NOT NULL,
    comment_prompt TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX surveys_workspace_id ON surveys (workspace_id, id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient_email TEXT,
    recipient_name TEXT,
    recipient_external_id TEXT,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX invitations_survey_created ON invitations (survey_id, created_at);

CREATE TABLE invitation_properties (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (invitation_id, key)
);
CREATE INDEX invitation_properties_key_value ON invitation_properties (key, value);

CREATE TABLE responses (
    id TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT NOT NULL UNIQUE REFERENCES invitations (id) ON DELETE CASCADE,
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    score INTEGER NOT NULL,
    comment TEXT,
    suspect BOOLEAN NOT NULL DEFAULT FALSE,
    suspect_reason TEXT,
    user_agent TEXT,
    answer_count INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    score_changed_at TIMESTAMP NOT NULL
);
CREATE INDEX responses_survey_id ON responses (survey_id, id);
