-- Practice SEVs (`/sev drill`): kept out of reports, the SLA ledger and feeds.
ALTER TABLE sevs ADD COLUMN drill BIGINT NOT NULL DEFAULT 0;
-- Reports read SEVs by when they were declared.
CREATE INDEX sevs_declared ON sevs (declared_at);
-- Reports add up the samples received while a SEV was open, across routes.
CREATE INDEX availability_samples_window ON availability_samples (window_end);
