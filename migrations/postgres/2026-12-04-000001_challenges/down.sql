DROP TABLE challenge_events;
DROP TABLE challenges;
