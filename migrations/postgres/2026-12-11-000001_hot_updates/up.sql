-- Room on each page for updated rows: an answer updates its invitation (status, opened_at)
-- and the rollup cells it counts in; with the page full, each update writes a new row
-- elsewhere and an entry in every index. With room, PostgreSQL updates in place (HOT).
ALTER TABLE invitations SET (fillfactor = 80);
ALTER TABLE rollup_quarters SET (fillfactor = 80);
ALTER TABLE rollup_hours SET (fillfactor = 80);
ALTER TABLE rollup_days SET (fillfactor = 80);
ALTER TABLE rollup_weeks SET (fillfactor = 80);
