-- Per-route samples as monitoring reported them (persisted before anything acts on them).
CREATE TABLE availability_samples (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    route        TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE INDEX availability_samples_route ON availability_samples (route, window_end);

-- Each route's standing: its latest window, degraded since when, at which level, for which SEV.
CREATE TABLE route_state (
    route        TEXT    PRIMARY KEY,
    worthy_since INTEGER,
    level        INTEGER,
    availability_milli INTEGER,
    requests     INTEGER,
    failures     INTEGER,
    window_end   INTEGER,
    sev_id       INTEGER,
    updated_at   INTEGER NOT NULL
);

-- Alertmanager notifications, one row per alert state seen (de-duplication).
CREATE TABLE alert_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_key   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    starts_at   TEXT    NOT NULL,
    labels      TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (group_key, fingerprint, status, starts_at)
);

-- Customer-facing drafts for the BMOC, and their approval.
CREATE TABLE drafts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sev_id      INTEGER NOT NULL REFERENCES sevs (id),
    body        TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    approved_by TEXT,
    approved_at INTEGER
);
CREATE INDEX drafts_sev ON drafts (sev_id, id);
