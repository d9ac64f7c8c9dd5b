ALTER TABLE surveys DROP COLUMN send_delay_seconds;
