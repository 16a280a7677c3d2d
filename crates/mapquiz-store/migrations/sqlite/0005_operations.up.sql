-- Bug reports are stored first and delivered to GitHub afterwards, with retries.
CREATE TABLE bug_reports (
    id                 TEXT    PRIMARY KEY NOT NULL,
    reporter_id        TEXT    REFERENCES users (id) ON DELETE SET NULL,
    title              TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    steps_to_reproduce TEXT,
    location           TEXT,
    environment        TEXT    NOT NULL,            -- JSON object
    user_agent         TEXT,
    url                TEXT,
    delivery_status    TEXT    NOT NULL DEFAULT 'pending'
                               CHECK (delivery_status IN ('pending', 'delivered', 'abandoned')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER,
    last_error         TEXT,
    issue_number       INTEGER,
    issue_url          TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX bug_reports_delivery_idx ON bug_reports (delivery_status, next_attempt_at);

-- Security-relevant actions. No foreign keys: the trail outlives the accounts it names.
CREATE TABLE audit_log (
    id          TEXT    PRIMARY KEY NOT NULL,
    occurred_at INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    user_id     TEXT,
    target_id   TEXT,
    ip_address  TEXT,
    user_agent  TEXT,
    details     TEXT                                -- JSON object, never secrets
);
CREATE INDEX audit_log_user_time_idx ON audit_log (user_id, occurred_at);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at);

-- Leases that let one node at a time run a periodic job when several share the database.
CREATE TABLE job_leases (
    name         TEXT    PRIMARY KEY NOT NULL,
    holder       TEXT    NOT NULL,
    leased_until INTEGER NOT NULL,
    last_run_at  INTEGER
);
