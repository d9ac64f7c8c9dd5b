ALTER TABLE surveys DROP COLUMN anonymous;
ALTER TABLE workspaces DROP COLUMN min_group_size;
