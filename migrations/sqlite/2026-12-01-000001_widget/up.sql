-- The embeddable widget: each survey has a public (not secret, rotatable) key that the
-- widget names it by, the origins allowed to embed it, its display rules, a brand colour
-- and a locale.
ALTER TABLE surveys ADD COLUMN public_key TEXT;
UPDATE surveys SET public_key = 'pk_' || lower(hex(randomblob(12)));
CREATE UNIQUE INDEX surveys_public_key ON surveys (public_key);
-- Newline-separated origins, each normalised (scheme://host[:port]).
ALTER TABLE surveys ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
ALTER TABLE surveys ADD COLUMN widget_once_per_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE surveys ADD COLUMN widget_sample_percent INTEGER NOT NULL DEFAULT 100;
ALTER TABLE surveys ADD COLUMN brand_color TEXT;
ALTER TABLE surveys ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
