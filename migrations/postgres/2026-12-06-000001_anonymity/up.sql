-- Anonymity the API enforces. A workspace's minimum of respondents behind any score of an
-- anonymous survey (never below 3), and the surveys that promise it.
ALTER TABLE workspaces ADD COLUMN min_group_size INTEGER NOT NULL DEFAULT 5;
ALTER TABLE surveys ADD COLUMN anonymous BOOLEAN NOT NULL DEFAULT FALSE;
