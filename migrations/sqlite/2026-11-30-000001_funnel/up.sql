-- The funnel: issued -> delivered -> opened -> answered -> commented, kept in the rollups
-- like the answers. An invitation is opened when its page is first shown to a browser that is
-- not a known scanner, or when it is answered (answers before this version count as opens).
ALTER TABLE invitations ADD COLUMN opened_at TIMESTAMP;
UPDATE invitations SET opened_at = (
    SELECT responses.created_at FROM responses WHERE responses.invitation_id = invitations.id
) WHERE id IN (SELECT invitation_id FROM responses);

ALTER TABLE rollup_days ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN commented INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN commented INTEGER NOT NULL DEFAULT 0;

-- Rebuilt at start (in Rust, exactly as live changes write them) with the new counts.
DELETE FROM rollup_days;
DELETE FROM rollup_quarters;
DELETE FROM rollup_state;
