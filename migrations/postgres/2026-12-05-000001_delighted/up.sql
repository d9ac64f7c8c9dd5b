-- The Delighted-compatible facade. A facade key is an API key bound to one survey, as a
-- Delighted key belonged to one project.
ALTER TABLE api_keys ADD COLUMN delighted_survey_id TEXT REFERENCES surveys (id) ON DELETE CASCADE;

-- People as Delighted knew them: one per address and workspace, with a stable id, so that
-- responses can name their person and a person can be stored without a survey.
CREATE TABLE people (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX people_email ON people (workspace_id, email_key);
CREATE INDEX people_workspace ON people (workspace_id, id);

-- Delighted's tags and notes on a response (a helpdesk's triage), kept beside the answer,
-- which they never change. Both are JSON arrays.
CREATE TABLE response_annotations (
    response_id TEXT PRIMARY KEY NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    tags TEXT NOT NULL,
    notes TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
