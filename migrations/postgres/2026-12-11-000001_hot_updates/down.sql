ALTER TABLE invitations RESET (fillfactor);
ALTER TABLE rollup_quarters RESET (fillfactor);
ALTER TABLE rollup_hours RESET (fillfactor);
ALTER TABLE rollup_days RESET (fillfactor);
ALTER TABLE rollup_weeks RESET (fillfactor);
