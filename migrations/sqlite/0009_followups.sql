-- Follow-ups of a SEV (`/sev followup add|list|done`): numbered per SEV, listed in the
-- postmortem, and shown in `/sev status` while open after the SEV has ended.
CREATE TABLE followups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sev_id     INTEGER NOT NULL REFERENCES sevs (id),
    number     INTEGER NOT NULL,
    text       TEXT    NOT NULL,
    owner      TEXT,
    due        TEXT,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    done_at    INTEGER,
    done_by    TEXT,
    UNIQUE (sev_id, number)
);
