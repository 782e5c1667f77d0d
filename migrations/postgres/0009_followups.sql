-- Follow-ups of a SEV (`/sev followup add|list|done`): numbered per SEV, listed in the
-- postmortem, and shown in `/sev status` while open after the SEV has ended.
CREATE TABLE followups (
    id         BIGSERIAL PRIMARY KEY,
    sev_id     BIGINT NOT NULL REFERENCES sevs (id),
    number     BIGINT NOT NULL,
    text       TEXT   NOT NULL,
    owner      TEXT,
    due        TEXT,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    done_at    BIGINT,
    done_by    TEXT,
    UNIQUE (sev_id, number)
);
