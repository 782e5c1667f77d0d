-- Times are integer milliseconds since the epoch, from the injected clock (never now()).
CREATE TABLE sevs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sev_type        TEXT    NOT NULL,
    level           INTEGER NOT NULL,
    stage           TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    customer_impact INTEGER NOT NULL,
    declared_by     TEXT    NOT NULL,
    declared_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    platform        TEXT    NOT NULL,
    origin_channel  TEXT    NOT NULL,
    channel_name    TEXT    NOT NULL,
    channel_id      TEXT,
    latest_update   TEXT,
    last_update_at  INTEGER NOT NULL
);
CREATE INDEX sevs_open ON sevs (stage);
CREATE INDEX sevs_channel ON sevs (platform, channel_id);

-- Append-only: the source of truth for postmortems, durations and audit.
CREATE TABLE incident_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    sev_id  INTEGER NOT NULL REFERENCES sevs (id),
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    detail  TEXT    NOT NULL
);
CREATE INDEX incident_events_sev ON incident_events (sev_id, id);
CREATE TRIGGER incident_events_no_update BEFORE UPDATE ON incident_events
BEGIN SELECT RAISE(ABORT, 'incident_events is append-only'); END;
CREATE TRIGGER incident_events_no_delete BEFORE DELETE ON incident_events
BEGIN SELECT RAISE(ABORT, 'incident_events is append-only'); END;

CREATE TABLE role_assignments (
    sev_id      INTEGER NOT NULL REFERENCES sevs (id),
    role        TEXT    NOT NULL,
    person      TEXT    NOT NULL,
    assigned_at INTEGER NOT NULL,
    assigned_by TEXT    NOT NULL,
    PRIMARY KEY (sev_id, role)
);

CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    platform   TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    filter     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (platform, channel)
);

-- Messages sevbot keeps editing in place: the incident card and feed announcements.
CREATE TABLE message_bindings (
    sev_id     INTEGER NOT NULL REFERENCES sevs (id),
    platform   TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    message_id TEXT,
    PRIMARY KEY (sev_id, platform, channel, purpose)
);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    sev_id      INTEGER,
    due_at      INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    done_at     INTEGER,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (done_at, due_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    platform        TEXT    NOT NULL,
    queue           TEXT    NOT NULL,
    effect          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (status, queue, id);

-- Inbound deliveries already accepted (platform retries carry the same key).
CREATE TABLE inbound_seen (
    key         TEXT    PRIMARY KEY,
    received_at INTEGER NOT NULL
);

-- The console platform's own workspace: channels that exist, so names can collide as they do
-- on real platforms.
CREATE TABLE console_channels (
    name       TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
);
