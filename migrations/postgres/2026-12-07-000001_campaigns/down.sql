DELETE FROM outbox WHERE reminder > 0;
DROP INDEX outbox_invitation_reminder;
ALTER TABLE outbox DROP COLUMN reminder;
ALTER TABLE outbox ADD CONSTRAINT outbox_invitation_id_key UNIQUE (invitation_id);
DROP TABLE campaign_invitations;
DROP TABLE campaign_cycles;
DROP TABLE campaigns;
DROP TABLE audience_members;
DROP TABLE audiences;
