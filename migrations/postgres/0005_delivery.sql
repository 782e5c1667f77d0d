-- Delivery that holds under crashes, hung calls and storms.
-- head: the oldest pending row of its queue; only heads are claimed, so claiming costs
--   in proportion to the ready queues, not to the rows waiting behind them.
-- priority: 0 pages, 1 what people say and the channel's structure, 2 machine chatter.
-- doubt: an attempt's outcome was never observed (a crash or a timeout): reconcile with
--   the platform before sending again.
-- version: the encoding of `effect`, so rows written by an earlier release still deliver.
ALTER TABLE outbox ADD COLUMN head BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN doubt BIGINT NOT NULL DEFAULT 0;
-- paced: a message into a channel, which waits for the channel's pacing slot.
ALTER TABLE outbox ADD COLUMN paced BIGINT NOT NULL DEFAULT 0;
-- fold_upto: the last row a folded message (a storm) took in, so a retry folds the same rows.
ALTER TABLE outbox ADD COLUMN fold_upto BIGINT;
ALTER TABLE outbox ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
UPDATE outbox SET priority = 0 WHERE queue LIKE '%:page:%' OR platform = 'pagerduty';
UPDATE outbox SET paced = 1 WHERE effect LIKE '{"effect":"post_event"%' OR effect LIKE '{"effect":"upsert_%' OR effect LIKE '{"effect":"reply"%';
UPDATE outbox SET doubt = 1 WHERE status = 'pending' AND lease_owner IS NOT NULL;
UPDATE outbox SET head = 1 WHERE status = 'pending'
    AND id IN (SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY queue);
CREATE INDEX outbox_heads ON outbox (next_attempt_at) WHERE status = 'pending' AND head = 1;
-- A queue's rows by id. It replaces (status, queue, id), which SQLite preferred for the claim
-- over the heads index and then walked every pending row.
DROP INDEX outbox_pending;
CREATE INDEX outbox_queue ON outbox (queue, status, id);
-- Rows held by a worker: renewed while in flight, freed when their process is gone.
CREATE INDEX outbox_leased ON outbox (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX outbox_done ON outbox (delivered_at) WHERE status = 'delivered';

CREATE INDEX jobs_leased ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
ALTER TABLE jobs ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- A page is "paged" only once a route delivered it; it fails when every route failed.
ALTER TABLE pages ADD COLUMN delivered_at BIGINT;
ALTER TABLE pages ADD COLUMN failed_at BIGINT;
ALTER TABLE pages ADD COLUMN failure TEXT;
ALTER TABLE pages ADD COLUMN routes_failed BIGINT NOT NULL DEFAULT 0;

-- Which SEV a console channel was opened for, so a retried creation adopts it.
ALTER TABLE console_channels ADD COLUMN sev_id BIGINT;
-- What the console printed, by outbox key, so a retry after a crash does not print it again.
CREATE TABLE console_messages (
    key          TEXT    PRIMARY KEY,
    message_id   TEXT,
    printed_at   BIGINT NOT NULL
);

-- Running processes: leases of a process that is gone are taken over at once.
CREATE TABLE replicas (
    owner        TEXT    PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    session      BIGINT
);
