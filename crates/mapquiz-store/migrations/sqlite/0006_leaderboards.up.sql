-- Leaderboard reads at scale (1M scores): every rank query is an index range or an index-ordered LIMIT.
--
-- The rank order (share DESC, duration ASC with no duration last, achieved_at, user_id) is indexed with every
-- key ascending, on expressions both engines evaluate and order alike, so that a position in the board is a
-- row-value comparison; no-duration sorts last, where 0003's plain `duration` sorted NULL first on SQLite and
-- last on PostgreSQL. Queries must repeat these expressions exactly.
DROP INDEX score_bests_rank_idx;
CREATE INDEX score_bests_rank_idx ON score_bests
    (regions_key, period, period_start, (-share_nanos), coalesce(duration, 2147483647), achieved_at, user_id);

-- Players per share, and per share and duration, on each board, kept by triggers in the writing transaction
-- (so also on cascaded deletes). A rank is 1 + the players strictly better: the better shares summed from
-- the first table, the shorter durations of the same share from the second, a few hundred rows at most,
-- where counting them in score_bests would read up to every player of the board.
CREATE TABLE score_board_shares (
    regions_key  TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start TEXT    NOT NULL,
    share_nanos  INTEGER NOT NULL,
    players      INTEGER NOT NULL,
    PRIMARY KEY (regions_key, period, period_start, share_nanos)
);
CREATE TABLE score_board_durations (
    regions_key  TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start TEXT    NOT NULL,
    share_nanos  INTEGER NOT NULL,
    duration_key INTEGER NOT NULL,                  -- coalesce(duration, 2147483647), as in the rank index
    players      INTEGER NOT NULL,
    PRIMARY KEY (regions_key, period, period_start, share_nanos, duration_key)
);
INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
SELECT regions_key, period, period_start, share_nanos, count(*) FROM score_bests
 GROUP BY regions_key, period, period_start, share_nanos;
INSERT INTO score_board_durations (regions_key, period, period_start, share_nanos, duration_key, players)
SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647), count(*) FROM score_bests
 GROUP BY regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647);

CREATE TRIGGER score_bests_counts_insert AFTER INSERT ON score_bests
BEGIN
    INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, 1)
    ON CONFLICT (regions_key, period, period_start, share_nanos) DO UPDATE SET players = players + 1;
    INSERT INTO score_board_durations (regions_key, period, period_start, share_nanos, duration_key, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, coalesce(new.duration, 2147483647), 1)
    ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key) DO UPDATE SET players = players + 1;
END;

CREATE TRIGGER score_bests_counts_update
AFTER UPDATE OF regions_key, period, period_start, share_nanos, duration ON score_bests
WHEN old.regions_key <> new.regions_key OR old.period <> new.period OR old.period_start <> new.period_start
     OR old.share_nanos <> new.share_nanos OR old.duration IS NOT new.duration
BEGIN
    UPDATE score_board_shares SET players = players - 1
     WHERE regions_key = old.regions_key AND period = old.period AND period_start = old.period_start
       AND share_nanos = old.share_nanos;
    INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, 1)
    ON CONFLICT (regions_key, period, period_start, share_nanos) DO UPDATE SET players = players + 1;
    UPDATE score_board_durations SET players = players - 1
     WHERE regions_key = old.regions_key AND period = old.period AND period_start = old.period_start
       AND share_nanos = old.share_nanos AND duration_key = coalesce(old.duration, 2147483647);
    INSERT INTO score_board_durations (regions_key, period, period_start, share_nanos, duration_key, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, coalesce(new.duration, 2147483647), 1)
    ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key) DO UPDATE SET players = players + 1;
END;

CREATE TRIGGER score_bests_counts_delete AFTER DELETE ON score_bests
BEGIN
    UPDATE score_board_shares SET players = players - 1
     WHERE regions_key = old.regions_key AND period = old.period AND period_start = old.period_start
       AND share_nanos = old.share_nanos;
    UPDATE score_board_durations SET players = players - 1
     WHERE regions_key = old.regions_key AND period = old.period AND period_start = old.period_start
       AND share_nanos = old.share_nanos AND duration_key = coalesce(old.duration, 2147483647);
END;
