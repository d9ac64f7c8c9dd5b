DROP TABLE rollup_state;
DROP INDEX rollup_quarters_window;
DROP INDEX rollup_days_window;
DROP TABLE rollup_quarters;
DROP TABLE rollup_days;
ALTER TABLE surveys DROP COLUMN segment_by;
