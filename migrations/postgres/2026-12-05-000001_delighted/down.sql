DROP TABLE response_annotations;
DROP TABLE people;
ALTER TABLE api_keys DROP COLUMN delighted_survey_id;
