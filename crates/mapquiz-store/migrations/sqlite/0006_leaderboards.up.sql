-- Leaderboard reads at scale (1M scores): every rank query is an index range or an index-ordered LIMIT.
--
-- The rank order (share DESC, duration ASC with no duration last, achieved_at, user_id) is indexed with every
-- key ascending, on expressions both engines evaluate and order alike: a row-value comparison over those
-- expressions is then one index range on both, and no-duration sorts last where 0003's plain `duration`
-- sorted NULL first on SQLite and last on PostgreSQL. Queries must repeat these expressions exactly.
DROP INDEX score_bests_rank_idx;
CREATE INDEX score_bests_rank_idx ON score_bests
    (regions_key, period, period_start, (-share_nanos), coalesce(duration, 2147483647), achieved_at, user_id);

-- Players per share on each board, kept by triggers in the writing transaction (so also on cascaded
-- deletes): a rank counts the better shares here, in a few rows, instead of counting up to every player of
-- the board in the index; only the caller's own share is counted in score_bests.
CREATE TABLE score_board_shares (
    regions_key  TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start TEXT    NOT NULL,
    share_nanos  INTEGER NOT NULL,
    players      INTEGER NOT NULL,
    PRIMARY KEY (regions_key, period, period_start, share_nanos)
);
INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
SELECT regions_key, period, period_start, share_nanos, count(*) FROM score_bests
 GROUP BY regions_key, period, period_start, share_nanos;

CREATE TRIGGER score_bests_shares_insert AFTER INSERT ON score_bests
BEGIN
    INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, 1)
    ON CONFLICT (regions_key, period, period_start, share_nanos) DO UPDATE SET players = players + 1;
END;

CREATE TRIGGER score_bests_shares_update AFTER UPDATE OF regions_key, period, period_start, share_nanos ON score_bests
WHEN old.regions_key <> new.regions_key OR old.period <> new.period OR old.period_start <> new.period_start
     OR old.share_nanos <> new.share_nanos
BEGIN
    UPDATE score_board_shares SET players = players - 1
     WHERE regions_key = old.regions_key AND period = old.period AND period_start = old.period_start
       AND share_nanos = old.share_nanos;
    INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, 1)
    ON CONFLICT (regions_key, period, period_start, share_nanos) DO UPDATE SET players = players + 1;
END;

CREATE TRIGGER score_bests_shares_delete AFTER DELETE ON score_bests
BEGIN
    UPDATE score_board_shares SET players = players - 1
     WHERE regions_key = old.regions_key AND period = old.period AND period_start = old.period_start
       AND share_nanos = old.share_nanos;
END;
