-- Accounts and sessions (Better Auth's model). Timestamps are INTEGER milliseconds since the Unix epoch (UTC).
CREATE TABLE users (
    id             TEXT    PRIMARY KEY NOT NULL CHECK (length(id) <= 64),
    name           TEXT    NOT NULL,
    name_key       TEXT    NOT NULL,               -- lower-cased name, for case-insensitive order and prefix search
    email          TEXT    NOT NULL,               -- normalised (trimmed, lower-cased) before insert
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    image          TEXT,
    tag            TEXT    CHECK (tag IS NULL OR length(tag) = 8),
    is_online      INTEGER NOT NULL DEFAULT 0 CHECK (is_online IN (0, 1)),
    last_seen      INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_tag_key ON users (tag);
CREATE INDEX users_name_key_idx ON users (name_key, id);

CREATE TABLE accounts (
    id            TEXT    PRIMARY KEY NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id   TEXT    NOT NULL,                -- 'credential' or 'google'
    account_id    TEXT    NOT NULL,                -- the provider's subject (the user id for 'credential')
    password_hash TEXT,                            -- argon2id PHC string, 'credential' accounts only
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_provider_account_key ON accounts (provider_id, account_id);
CREATE INDEX accounts_user_idx ON accounts (user_id);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    token_hash  TEXT    NOT NULL,                  -- SHA-256 of the token; tokens are never stored
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    remember    INTEGER NOT NULL DEFAULT 1 CHECK (remember IN (0, 1)), -- 0: rememberMe:false, never extended
    ip_address  TEXT,
    user_agent  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Short-lived single-use values: OAuth state, pending two-factor sign-ins.
CREATE TABLE verifications (
    id         TEXT    PRIMARY KEY NOT NULL,
    identifier TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX verifications_identifier_key ON verifications (identifier);
CREATE INDEX verifications_expires_idx ON verifications (expires_at);

CREATE TABLE two_factors (
    user_id        TEXT    PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret         TEXT    NOT NULL,               -- encrypted TOTP secret
    backup_codes   TEXT    NOT NULL DEFAULT '[]',  -- JSON array of backup-code hashes
    enabled        INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    last_used_step INTEGER,                        -- last accepted TOTP time step: refuses replays
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Failed sign-ins, per normalised email and per client IP, for the lockout window.
CREATE TABLE auth_failures (
    scope        TEXT    NOT NULL CHECK (scope IN ('email', 'ip', 'two_factor')),
    subject      TEXT    NOT NULL,
    attempted_at INTEGER NOT NULL
);
CREATE INDEX auth_failures_subject_idx ON auth_failures (scope, subject, attempted_at);
