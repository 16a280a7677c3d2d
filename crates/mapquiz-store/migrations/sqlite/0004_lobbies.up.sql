CREATE TABLE lobbies (
    id                 TEXT    PRIMARY KEY NOT NULL,
    name               TEXT    NOT NULL,
    host_id            TEXT    NOT NULL REFERENCES users (id),
    status             TEXT    NOT NULL CHECK (status IN ('waiting', 'playing', 'finished')),
    settings           TEXT    NOT NULL,            -- JSON {"selectedRegions": [...], "gameMode": "..."}
    authorized_players TEXT    NOT NULL,            -- JSON array of user ids; the host is always listed
    start_time         INTEGER,
    required_codes     TEXT,                        -- JSON array fixed at game start
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE lobby_players (
    lobby_id            TEXT    NOT NULL REFERENCES lobbies (id) ON DELETE CASCADE,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status              TEXT    NOT NULL CHECK (status IN ('joined', 'ready', 'playing', 'finished')),
    score               INTEGER NOT NULL DEFAULT 0,
    progress            INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    validated_countries TEXT    NOT NULL DEFAULT '[]',
    incorrect_countries TEXT    NOT NULL DEFAULT '[]',
    completion_time     INTEGER,
    joined_at           INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (lobby_id, user_id)
);
CREATE INDEX lobby_players_lobby_status_idx ON lobby_players (lobby_id, status);
CREATE INDEX lobby_players_user_idx ON lobby_players (user_id);

CREATE TABLE lobby_invitations (
    id         TEXT    PRIMARY KEY NOT NULL,
    lobby_id   TEXT    NOT NULL REFERENCES lobbies (id) ON DELETE CASCADE,
    inviter_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invitee_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delivered  INTEGER NOT NULL DEFAULT 0 CHECK (delivered IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX lobby_invitations_lobby_invitee_key ON lobby_invitations (lobby_id, invitee_id);
CREATE INDEX lobby_invitations_invitee_idx ON lobby_invitations (invitee_id, created_at);

-- Results outlive their lobby: no foreign key to lobbies.
CREATE TABLE game_results (
    id              TEXT    PRIMARY KEY NOT NULL,
    lobby_id        TEXT    NOT NULL,
    game_started_at INTEGER NOT NULL,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score           INTEGER NOT NULL,
    total_questions INTEGER NOT NULL,
    completion_time INTEGER,
    position        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX game_results_game_user_key ON game_results (lobby_id, game_started_at, user_id);
CREATE INDEX game_results_user_idx ON game_results (user_id, created_at DESC);
