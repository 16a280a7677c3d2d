-- Leaderboard reads at scale (1M scores): every rank query is an index range or an index-ordered LIMIT.
--
-- The rank order (share DESC, duration ASC with no duration last, achieved_at, user_id) is indexed with every
-- key ascending, on expressions both engines evaluate and order alike, so that a position in the board is a
-- row-value comparison; no-duration sorts last, where 0003's plain `duration` sorted NULL first on SQLite and
-- last on PostgreSQL. Queries must repeat these expressions exactly. user_id is compared byte-wise ("C"), as
-- on SQLite.
DROP INDEX score_bests_rank_idx;
CREATE INDEX score_bests_rank_idx ON score_bests
    (regions_key, period, period_start, (-share_nanos), (coalesce(duration, 2147483647)), achieved_at,
     user_id COLLATE "C");

-- Players per share, and per share and duration, on each board, kept by triggers in the writing transaction
-- (so also on cascaded deletes). A rank is 1 + the players strictly better: the better shares summed from
-- the first table, the shorter durations of the same share from the second, a few hundred rows at most,
-- where counting them in score_bests would read up to every player of the board.
CREATE TABLE score_board_shares (
    regions_key  TEXT   NOT NULL,
    period       TEXT   NOT NULL,
    period_start TEXT   NOT NULL,
    share_nanos  BIGINT NOT NULL,
    players      BIGINT NOT NULL,
    CONSTRAINT score_board_shares_pkey PRIMARY KEY (regions_key, period, period_start, share_nanos)
);
CREATE TABLE score_board_durations (
    regions_key  TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start TEXT    NOT NULL,
    share_nanos  BIGINT  NOT NULL,
    duration_key INTEGER NOT NULL,                  -- coalesce(duration, 2147483647), as in the rank index
    players      BIGINT  NOT NULL,
    CONSTRAINT score_board_durations_pkey
        PRIMARY KEY (regions_key, period, period_start, share_nanos, duration_key)
);
INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
SELECT regions_key, period, period_start, share_nanos, count(*) FROM score_bests
 GROUP BY regions_key, period, period_start, share_nanos;
INSERT INTO score_board_durations (regions_key, period, period_start, share_nanos, duration_key, players)
SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647), count(*) FROM score_bests
 GROUP BY regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647);

-- Statement-level with transition tables: one grouped write per statement (bulk inserts stay fast), and the
-- counter rows are touched in key order, so concurrent writers lock them in the same order (no deadlock).
-- Each branch names only the transition tables its event has: PL/pgSQL plans a statement when it first runs.
CREATE FUNCTION score_bests_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH delta AS (
            SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647) AS duration_key,
                   sum(delta) AS players
              FROM (SELECT *, 1 AS delta FROM new_rows) AS changed
             GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0
        ), shares AS (
            INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
            SELECT regions_key, period, period_start, share_nanos, sum(players) FROM delta
             GROUP BY 1, 2, 3, 4 HAVING sum(players) <> 0 ORDER BY 1, 2, 3, 4
            ON CONFLICT (regions_key, period, period_start, share_nanos)
            DO UPDATE SET players = s.players + excluded.players
        )
        INSERT INTO score_board_durations AS s (regions_key, period, period_start, share_nanos, duration_key, players)
        SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key)
        DO UPDATE SET players = s.players + excluded.players;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH delta AS (
            SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647) AS duration_key,
                   sum(delta) AS players
              FROM (SELECT *, -1 AS delta FROM old_rows UNION ALL SELECT *, 1 FROM new_rows) AS changed
             GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0
        ), shares AS (
            INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
            SELECT regions_key, period, period_start, share_nanos, sum(players) FROM delta
             GROUP BY 1, 2, 3, 4 HAVING sum(players) <> 0 ORDER BY 1, 2, 3, 4
            ON CONFLICT (regions_key, period, period_start, share_nanos)
            DO UPDATE SET players = s.players + excluded.players
        )
        INSERT INTO score_board_durations AS s (regions_key, period, period_start, share_nanos, duration_key, players)
        SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key)
        DO UPDATE SET players = s.players + excluded.players;
    ELSE
        WITH delta AS (
            SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647) AS duration_key,
                   sum(delta) AS players
              FROM (SELECT *, -1 AS delta FROM old_rows) AS changed
             GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0
        ), shares AS (
            INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
            SELECT regions_key, period, period_start, share_nanos, sum(players) FROM delta
             GROUP BY 1, 2, 3, 4 HAVING sum(players) <> 0 ORDER BY 1, 2, 3, 4
            ON CONFLICT (regions_key, period, period_start, share_nanos)
            DO UPDATE SET players = s.players + excluded.players
        )
        INSERT INTO score_board_durations AS s (regions_key, period, period_start, share_nanos, duration_key, players)
        SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key)
        DO UPDATE SET players = s.players + excluded.players;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER score_bests_counts_insert AFTER INSERT ON score_bests
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION score_bests_count();
CREATE TRIGGER score_bests_counts_update AFTER UPDATE ON score_bests
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION score_bests_count();
CREATE TRIGGER score_bests_counts_delete AFTER DELETE ON score_bests
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION score_bests_count();
