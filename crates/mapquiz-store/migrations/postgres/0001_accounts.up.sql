-- Accounts and sessions (Better Auth's model).
CREATE TABLE users (
    id             TEXT        NOT NULL CHECK (length(id) <= 64),
    name           TEXT        NOT NULL,
    name_key       TEXT        NOT NULL,           -- lower-cased name, for case-insensitive order and prefix search
    email          TEXT        NOT NULL,           -- normalised (trimmed, lower-cased) before insert
    email_verified BOOLEAN     NOT NULL DEFAULT FALSE,
    image          TEXT,
    tag            TEXT        CHECK (tag IS NULL OR length(tag) = 8),
    is_online      BOOLEAN     NOT NULL DEFAULT FALSE,
    last_seen      TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_tag_key ON users (tag);
CREATE INDEX users_name_key_idx ON users (name_key text_pattern_ops, id);

CREATE TABLE accounts (
    id            TEXT        NOT NULL,
    user_id       TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id   TEXT        NOT NULL,            -- 'credential' or 'google'
    account_id    TEXT        NOT NULL,            -- the provider's subject (the user id for 'credential')
    password_hash TEXT,                            -- argon2id PHC string, 'credential' accounts only
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX accounts_provider_account_key ON accounts (provider_id, account_id);
CREATE INDEX accounts_user_idx ON accounts (user_id);

CREATE TABLE sessions (
    id          TEXT        NOT NULL,
    token_hash  TEXT        NOT NULL,              -- SHA-256 of the token; tokens are never stored
    user_id     TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL,
    remember    BOOLEAN     NOT NULL DEFAULT TRUE, -- false: rememberMe:false, never extended
    ip_address  TEXT,
    user_agent  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Short-lived single-use values: OAuth state, pending two-factor sign-ins.
CREATE TABLE verifications (
    id         TEXT        NOT NULL,
    identifier TEXT        NOT NULL,
    value      TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT verifications_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX verifications_identifier_key ON verifications (identifier);
CREATE INDEX verifications_expires_idx ON verifications (expires_at);

CREATE TABLE two_factors (
    user_id        TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret         TEXT        NOT NULL,           -- encrypted TOTP secret
    backup_codes   JSONB       NOT NULL DEFAULT '[]', -- backup-code hashes
    enabled        BOOLEAN     NOT NULL DEFAULT FALSE,
    last_used_step BIGINT,                         -- last accepted TOTP time step: refuses replays
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT two_factors_pkey PRIMARY KEY (user_id)
);

-- Failed sign-ins, per normalised email and per client IP, for the lockout window.
CREATE TABLE auth_failures (
    scope        TEXT        NOT NULL CHECK (scope IN ('email', 'ip', 'two_factor')),
    subject      TEXT        NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_failures_subject_idx ON auth_failures (scope, subject, attempted_at);
