-- Read-only dashboards shared by a secret link: what they show, and the hash of the link's
-- token (the token itself is shown once). A revoked link keeps its row so it answers 410.
CREATE TABLE dashboards (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- One survey, or (survey_id NULL) every survey of kind on scale in the workspace.
    survey_id TEXT REFERENCES surveys (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    scale TEXT NOT NULL,
    window_days INTEGER NOT NULL,
    bucket TEXT NOT NULL,
    tz TEXT NOT NULL,
    group_by TEXT,
    -- A JSON object of property filters.
    filters TEXT NOT NULL,
    show_comments BOOLEAN NOT NULL,
    allow_csv BOOLEAN NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX dashboards_workspace ON dashboards (workspace_id, id);
