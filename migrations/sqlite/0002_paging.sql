-- The escalation ladder frozen onto a SEV when it is declared: the policy and the people
-- each step pages, so editing config never changes who is paged for an open SEV.
CREATE TABLE ladders (
    sev_id     INTEGER PRIMARY KEY REFERENCES sevs (id),
    policy     TEXT    NOT NULL,
    steps      TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    acked_at   INTEGER,
    acked_by   TEXT
);

-- Everyone paged for a SEV: role holders (step 0) and ladder steps (1…).
CREATE TABLE pages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    sev_id    INTEGER NOT NULL REFERENCES sevs (id),
    person    TEXT    NOT NULL,
    role      TEXT,
    step      INTEGER NOT NULL,
    paged_at  INTEGER NOT NULL,
    acked_at  INTEGER,
    closed_at INTEGER,
    pagerduty INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pages_sev ON pages (sev_id, person);
