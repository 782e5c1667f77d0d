-- The timeline's hash chain: each entry's hash covers the previous entry's hash and its own
-- content; the SEV keeps how many entries it recorded and the last hash, so a removed tail
-- is noticed too. Entries recorded before this migration have no hash; the first hashed
-- entry after them links over them as if they had one.
ALTER TABLE incident_events ADD COLUMN hash TEXT;
ALTER TABLE sevs ADD COLUMN timeline_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sevs ADD COLUMN timeline_head TEXT;
UPDATE sevs SET timeline_count = (SELECT COUNT(*) FROM incident_events e WHERE e.sev_id = sevs.id);
