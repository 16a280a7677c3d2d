-- Bug reports are stored first and delivered to GitHub afterwards, with retries.
CREATE TABLE bug_reports (
    id                 TEXT        NOT NULL,
    reporter_id        TEXT        REFERENCES users (id) ON DELETE SET NULL,
    title              TEXT        NOT NULL,
    description        TEXT        NOT NULL,
    steps_to_reproduce TEXT,
    location           TEXT,
    environment        JSONB       NOT NULL,
    user_agent         TEXT,
    url                TEXT,
    delivery_status    TEXT        NOT NULL DEFAULT 'pending'
                                   CHECK (delivery_status IN ('pending', 'delivered', 'abandoned')),
    attempts           INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at    TIMESTAMPTZ,
    last_error         TEXT,
    issue_number       BIGINT,
    issue_url          TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT bug_reports_pkey PRIMARY KEY (id)
);
CREATE INDEX bug_reports_delivery_idx ON bug_reports (delivery_status, next_attempt_at);

-- Security-relevant actions. No foreign keys: the trail outlives the accounts it names.
CREATE TABLE audit_log (
    id          TEXT        NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    action      TEXT        NOT NULL,
    user_id     TEXT,
    target_id   TEXT,
    ip_address  TEXT,
    user_agent  TEXT,
    details     JSONB,                              -- never secrets
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);
CREATE INDEX audit_log_user_time_idx ON audit_log (user_id, occurred_at);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at);

-- Leases that let one node at a time run a periodic job when several share the database.
CREATE TABLE job_leases (
    name         TEXT        NOT NULL,
    holder       TEXT        NOT NULL,
    leased_until TIMESTAMPTZ NOT NULL,
    last_run_at  TIMESTAMPTZ,
    CONSTRAINT job_leases_pkey PRIMARY KEY (name)
);
