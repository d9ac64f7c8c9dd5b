DROP TABLE rollup_state;
DROP TABLE rollup_quarters;
DROP TABLE rollup_days;
ALTER TABLE surveys DROP COLUMN segment_by;
