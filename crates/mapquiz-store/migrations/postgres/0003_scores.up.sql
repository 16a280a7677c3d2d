CREATE TABLE game_scores (
    id               TEXT        NOT NULL,
    user_id          TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score            INTEGER     NOT NULL CHECK (score >= 0),
    total_questions  INTEGER     NOT NULL CHECK (total_questions BETWEEN 1 AND 500),
    selected_regions JSONB       NOT NULL,          -- array, in the order the client sent
    regions_key      TEXT        NOT NULL,          -- sorted distinct regions joined by '|': the leaderboard key
    game_mode        TEXT        NOT NULL CHECK (game_mode IN ('quiz', 'training')),
    duration         INTEGER     CHECK (duration IS NULL OR duration BETWEEN 0 AND 86400),
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT game_scores_pkey PRIMARY KEY (id),
    CHECK (score <= total_questions)
);
CREATE INDEX game_scores_user_created_idx ON game_scores (user_id, created_at DESC);

-- Best quiz game per player, board and period, maintained in the same transaction as the score insert.
CREATE TABLE score_bests (
    regions_key     TEXT        NOT NULL,
    period          TEXT        NOT NULL CHECK (period IN ('day', 'week', 'month', 'all')),
    period_start    TEXT        NOT NULL,           -- first local day of the period (YYYY-MM-DD); '' for 'all'
    user_id         TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score_id        TEXT        NOT NULL REFERENCES game_scores (id) ON DELETE CASCADE,
    score           INTEGER     NOT NULL,
    total_questions INTEGER     NOT NULL,
    share_nanos     BIGINT      NOT NULL,           -- floor(score * 1e9 / total): exact order for totals <= 500
    duration        INTEGER,
    achieved_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT score_bests_pkey PRIMARY KEY (regions_key, period, period_start, user_id)
);
CREATE INDEX score_bests_rank_idx
    ON score_bests (regions_key, period, period_start, share_nanos DESC, duration, achieved_at);
CREATE INDEX score_bests_score_idx ON score_bests (score_id);
