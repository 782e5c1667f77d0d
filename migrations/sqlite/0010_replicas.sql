-- Work that only one replica may do at a time (the Discord gateway, Slack Socket Mode,
-- polling Prometheus): one row per duty, held by the replica that does it until
-- `until_ms`, renewed every second. Taken over when it runs out or its holder's session
-- is gone.
CREATE TABLE leases (
    name     TEXT   PRIMARY KEY,
    owner    TEXT   NOT NULL,
    until_ms BIGINT NOT NULL,
    since_ms BIGINT NOT NULL
);

-- When each paced channel may next be posted to, shared by the replicas so that three
-- of them do not post three times as fast into one channel (PostgreSQL; a single SQLite
-- process paces in memory). Taken for one message at a time with a short hold by
-- `owner`, whose holds are freed at once when it dies.
CREATE TABLE pacing (
    key     TEXT   PRIMARY KEY,
    free_at BIGINT NOT NULL,
    owner   TEXT
);
