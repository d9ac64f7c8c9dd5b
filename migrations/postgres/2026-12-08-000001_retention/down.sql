ALTER TABLE workspaces DROP COLUMN retention_days;
