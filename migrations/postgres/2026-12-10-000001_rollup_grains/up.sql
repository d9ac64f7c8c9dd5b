-- Two more rollup grains, so that a long window reads few cells: ISO weeks (from Monday
-- 00:00 UTC) of whole days, and whole UTC hours of quarter hours. A trend reads whole weeks
-- between its edges, and hours instead of quarter hours at a window's unaligned ends.
CREATE TABLE rollup_weeks (
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    issued BIGINT NOT NULL DEFAULT 0,
    delivered BIGINT NOT NULL DEFAULT 0,
    opened BIGINT NOT NULL DEFAULT 0,
    commented BIGINT NOT NULL DEFAULT 0,
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

CREATE TABLE rollup_hours (
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    issued BIGINT NOT NULL DEFAULT 0,
    delivered BIGINT NOT NULL DEFAULT 0,
    opened BIGINT NOT NULL DEFAULT 0,
    commented BIGINT NOT NULL DEFAULT 0,
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

-- Every grain is rebuilt at start (in Rust, exactly as live changes write them).
DELETE FROM rollup_days;
DELETE FROM rollup_quarters;
DELETE FROM rollup_state;
