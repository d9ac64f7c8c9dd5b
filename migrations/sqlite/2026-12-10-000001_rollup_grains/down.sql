DROP TABLE rollup_hours;
DROP TABLE rollup_weeks;
