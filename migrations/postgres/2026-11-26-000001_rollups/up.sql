-- Stats rollups: per survey, the counts behind every score by time cell and by the value of
-- each property the survey is segmented by (dim '' is the survey as a whole). Kept in the same
-- transaction as the invitation or answer that changes them. Cells are keyed by the
-- invitation's creation time, as stats windows are: whole UTC days, and quarter hours so that
-- any time zone's local midnight (all are on a quarter hour) falls on a cell edge.
-- Keyed by time before value: reading one segment over a window reads every value's cells
-- in that window, in one range of the key.
ALTER TABLE surveys ADD COLUMN segment_by TEXT;

CREATE TABLE rollup_days (
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    issued BIGINT NOT NULL DEFAULT 0,
    suspect BIGINT NOT NULL DEFAULT 0,
    s0 BIGINT NOT NULL DEFAULT 0,
    s1 BIGINT NOT NULL DEFAULT 0,
    s2 BIGINT NOT NULL DEFAULT 0,
    s3 BIGINT NOT NULL DEFAULT 0,
    s4 BIGINT NOT NULL DEFAULT 0,
    s5 BIGINT NOT NULL DEFAULT 0,
    s6 BIGINT NOT NULL DEFAULT 0,
    s7 BIGINT NOT NULL DEFAULT 0,
    s8 BIGINT NOT NULL DEFAULT 0,
    s9 BIGINT NOT NULL DEFAULT 0,
    s10 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (survey_id, dim, at, value)
);

CREATE TABLE rollup_quarters (
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    issued BIGINT NOT NULL DEFAULT 0,
    suspect BIGINT NOT NULL DEFAULT 0,
    s0 BIGINT NOT NULL DEFAULT 0,
    s1 BIGINT NOT NULL DEFAULT 0,
    s2 BIGINT NOT NULL DEFAULT 0,
    s3 BIGINT NOT NULL DEFAULT 0,
    s4 BIGINT NOT NULL DEFAULT 0,
    s5 BIGINT NOT NULL DEFAULT 0,
    s6 BIGINT NOT NULL DEFAULT 0,
    s7 BIGINT NOT NULL DEFAULT 0,
    s8 BIGINT NOT NULL DEFAULT 0,
    s9 BIGINT NOT NULL DEFAULT 0,
    s10 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (survey_id, dim, at, value)
);

-- Whether existing answers have been rolled up (done once at start, in Rust, so that the
-- cells are written exactly as live updates write them).
CREATE TABLE rollup_state (
    name TEXT PRIMARY KEY NOT NULL,
    done_at TIMESTAMP NOT NULL
);
