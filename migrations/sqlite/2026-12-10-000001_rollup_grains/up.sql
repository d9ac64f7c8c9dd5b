-- Two more rollup grains, so that a long window reads few cells: ISO weeks (from Monday
-- 00:00 UTC) of whole days, and whole UTC hours of quarter hours. A trend reads whole weeks
-- between its edges, and hours instead of quarter hours at a window's unaligned ends.
CREATE TABLE rollup_weeks (
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    issued INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    opened INTEGER NOT NULL DEFAULT 0,
    commented INTEGER NOT NULL DEFAULT 0,
    suspect INTEGER NOT NULL DEFAULT 0,
    s0 INTEGER NOT NULL DEFAULT 0,
    s1 INTEGER NOT NULL DEFAULT 0,
    s2 INTEGER NOT NULL DEFAULT 0,
    s3 INTEGER NOT NULL DEFAULT 0,
    s4 INTEGER NOT NULL DEFAULT 0,
    s5 INTEGER NOT NULL DEFAULT 0,
    s6 INTEGER NOT NULL DEFAULT 0,
    s7 INTEGER NOT NULL DEFAULT 0,
    s8 INTEGER NOT NULL DEFAULT 0,
    s9 INTEGER NOT NULL DEFAULT 0,
    s10 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (survey_id, dim, at, value)
) WITHOUT ROWID;

CREATE TABLE rollup_hours (
    survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    issued INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    opened INTEGER NOT NULL DEFAULT 0,
    commented INTEGER NOT NULL DEFAULT 0,
    suspect INTEGER NOT NULL DEFAULT 0,
    s0 INTEGER NOT NULL DEFAULT 0,
    s1 INTEGER NOT NULL DEFAULT 0,
    s2 INTEGER NOT NULL DEFAULT 0,
    s3 INTEGER NOT NULL DEFAULT 0,
    s4 INTEGER NOT NULL DEFAULT 0,
    s5 INTEGER NOT NULL DEFAULT 0,
    s6 INTEGER NOT NULL DEFAULT 0,
    s7 INTEGER NOT NULL DEFAULT 0,
    s8 INTEGER NOT NULL DEFAULT 0,
    s9 INTEGER NOT NULL DEFAULT 0,
    s10 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (survey_id, dim, at, value)
) WITHOUT ROWID;

-- Every grain is rebuilt at start (in Rust, exactly as live changes write them).
DELETE FROM rollup_days;
DELETE FROM rollup_quarters;
DELETE FROM rollup_state;
