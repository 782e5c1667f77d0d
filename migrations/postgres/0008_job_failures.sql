-- A job that keeps failing is retried with a growing delay and, after a while, given up
-- with its reason kept here instead of being retried every 10 s forever.
ALTER TABLE jobs ADD COLUMN last_error TEXT;
ALTER TABLE jobs ADD COLUMN failed BIGINT NOT NULL DEFAULT 0;
