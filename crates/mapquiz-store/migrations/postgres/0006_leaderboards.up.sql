-- Leaderboard reads at scale (1M scores): every rank query is an index range or an index-ordered LIMIT.
--
-- The rank order (share DESC, duration ASC with no duration last, achieved_at, user_id) is indexed with every
-- key ascending, on expressions both engines evaluate and order alike: a row-value comparison over those
-- expressions is then one index range on both, and no-duration sorts last where 0003's plain `duration`
-- sorted NULL first on SQLite and last on PostgreSQL. Queries must repeat these expressions exactly.
-- user_id is compared byte-wise ("C"), as SQLite does. INCLUDE: the planner only scans an expression index
-- index-only when the columns under the expressions are in it too.
DROP INDEX score_bests_rank_idx;
CREATE INDEX score_bests_rank_idx ON score_bests
    (regions_key, period, period_start, (-share_nanos), (coalesce(duration, 2147483647)), achieved_at,
     user_id COLLATE "C")
    INCLUDE (share_nanos, duration);

-- Players per share on each board, kept by triggers in the writing transaction (so also on cascaded
-- deletes): a rank counts the better shares here, in a few rows, instead of counting up to every player of
-- the board in the index; only the caller's own share is counted in score_bests.
CREATE TABLE score_board_shares (
    regions_key  TEXT   NOT NULL,
    period       TEXT   NOT NULL,
    period_start TEXT   NOT NULL,
    share_nanos  BIGINT NOT NULL,
    players      BIGINT NOT NULL,
    CONSTRAINT score_board_shares_pkey PRIMARY KEY (regions_key, period, period_start, share_nanos)
);
INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
SELECT regions_key, period, period_start, share_nanos, count(*) FROM score_bests
 GROUP BY regions_key, period, period_start, share_nanos;

-- Statement-level with transition tables: one grouped write per statement (bulk inserts stay fast), and the
-- counter rows are touched in key order, so concurrent writers lock them in the same order (no deadlock).
-- Each branch names only the transition tables its event has: PL/pgSQL plans a statement when it first runs.
CREATE FUNCTION score_bests_shares_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
        SELECT regions_key, period, period_start, share_nanos, count(*) FROM new_rows
         GROUP BY regions_key, period, period_start, share_nanos
         ORDER BY regions_key, period, period_start, share_nanos
        ON CONFLICT (regions_key, period, period_start, share_nanos)
        DO UPDATE SET players = s.players + excluded.players;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
        SELECT regions_key, period, period_start, share_nanos, sum(delta) FROM (
            SELECT regions_key, period, period_start, share_nanos, -1 AS delta FROM old_rows
            UNION ALL
            SELECT regions_key, period, period_start, share_nanos, 1 FROM new_rows
        ) AS d
         GROUP BY regions_key, period, period_start, share_nanos
        HAVING sum(delta) <> 0
         ORDER BY regions_key, period, period_start, share_nanos
        ON CONFLICT (regions_key, period, period_start, share_nanos)
        DO UPDATE SET players = s.players + excluded.players;
    ELSE
        INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
        SELECT regions_key, period, period_start, share_nanos, -count(*) FROM old_rows
         GROUP BY regions_key, period, period_start, share_nanos
         ORDER BY regions_key, period, period_start, share_nanos
        ON CONFLICT (regions_key, period, period_start, share_nanos)
        DO UPDATE SET players = s.players + excluded.players;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER score_bests_shares_insert AFTER INSERT ON score_bests
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION score_bests_shares_count();
CREATE TRIGGER score_bests_shares_update AFTER UPDATE ON score_bests
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION score_bests_shares_count();
CREATE TRIGGER score_bests_shares_delete AFTER DELETE ON score_bests
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION score_bests_shares_count();
