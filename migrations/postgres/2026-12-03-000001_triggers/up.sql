-- The ticket-solved trigger sends its survey this long after the ticket is solved
-- (Zendesk's default is a day).
ALTER TABLE surveys ADD COLUMN send_delay_seconds INTEGER NOT NULL DEFAULT 86400;
