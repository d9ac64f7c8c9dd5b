DROP INDEX surveys_public_key;
ALTER TABLE surveys DROP COLUMN locale;
ALTER TABLE surveys DROP COLUMN brand_color;
ALTER TABLE surveys DROP COLUMN widget_sample_percent;
ALTER TABLE surveys DROP COLUMN widget_once_per_days;
ALTER TABLE surveys DROP COLUMN allowed_origins;
ALTER TABLE surveys DROP COLUMN public_key;
