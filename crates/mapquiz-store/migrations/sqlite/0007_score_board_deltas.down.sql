-- Folds the pending deltas into the counters (as the store does), then restores 0006's counting triggers.
INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players)
SELECT regions_key, period, period_start, share_nanos, sum(players) FROM score_board_deltas WHERE true
 GROUP BY regions_key, period, period_start, share_nanos HAVING sum(players) <> 0
ON CONFLICT (regions_key, period, period_start, share_nanos) DO UPDATE SET players = players + excluded.players;
INSERT INTO score_board_durations (regions_key, period, period_start, share_nanos, duration_key, players)
SELECT regions_key, period, period_start, share_nanos, duration_key, sum(players) FROM score_board_deltas WHERE true
 GROUP BY regions_key, period, period_start, share_nanos, duration_key HAVING sum(players) <> 0
ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key)
DO UPDATE SET players = players + excluded.players;
DROP TABLE score_board_deltas;

DROP TRIGGER score_bests_counts_delete;
DROP TRIGGER score_bests_counts_update;
DROP TRIGGER score_bests_counts_insert;

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
