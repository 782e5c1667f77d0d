-- Lookups that every declare and change makes, kept from growing with history: the retype
-- check (by declarer and type) and cancelling a SEV's pending jobs of a kind.
CREATE INDEX sevs_declarer ON sevs (declared_by, sev_type, declared_at);
CREATE INDEX jobs_sev ON jobs (sev_id, kind, done_at);
