-- How long a workspace keeps who was surveyed: invitations older than this many days lose
-- their address, name and external id in an hourly sweep (NULL = kept until erased).
ALTER TABLE workspaces ADD COLUMN retention_days INTEGER;
