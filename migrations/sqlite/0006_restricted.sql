-- Restricted SEVs (every security SEV, and any declared with --private) show in full only
-- to their members, in their channel and in private feeds.
ALTER TABLE sevs ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
UPDATE sevs SET restricted = 1 WHERE sev_type = 'security';
