ALTER TABLE rollup_quarters DROP COLUMN commented;
ALTER TABLE rollup_quarters DROP COLUMN opened;
ALTER TABLE rollup_quarters DROP COLUMN delivered;
ALTER TABLE rollup_days DROP COLUMN commented;
ALTER TABLE rollup_days DROP COLUMN opened;
ALTER TABLE rollup_days DROP COLUMN delivered;
ALTER TABLE invitations DROP COLUMN opened_at;
DELETE FROM rollup_state;
