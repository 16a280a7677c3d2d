-- Score writes append their count changes instead of updating the counters (as on PostgreSQL, where 0006's
-- counter upserts deadlocked concurrent writers and queued every write of a board on the same rows). SQLite
-- writes one transaction at a time, so the counters were never contended here: this keeps both backends on
-- one model. The store folds the deltas into the counters in batches, deleting what it folded in the same
-- transaction: a count is the counters plus the pending deltas.
CREATE TABLE score_board_deltas (
    regions_key  TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start TEXT    NOT NULL,
    share_nanos  INTEGER NOT NULL,
    duration_key INTEGER NOT NULL,                  -- coalesce(duration, 2147483647), as in the rank index
    players      INTEGER NOT NULL                   -- signed: a replaced or deleted best counts -1
);
CREATE INDEX score_board_deltas_idx
    ON score_board_deltas (regions_key, period, period_start, share_nanos, duration_key);

DROP TRIGGER score_bests_counts_delete;
DROP TRIGGER score_bests_counts_update;
DROP TRIGGER score_bests_counts_insert;

CREATE TRIGGER score_bests_counts_insert AFTER INSERT ON score_bests
BEGIN
    INSERT INTO score_board_deltas (regions_key, period, period_start, share_nanos, duration_key, players)
    VALUES (new.regions_key, new.period, new.period_start, new.share_nanos, coalesce(new.duration, 2147483647), 1);
END;

CREATE TRIGGER score_bests_counts_update
AFTER UPDATE OF regions_key, period, period_start, share_nanos, duration ON score_bests
WHEN old.regions_key <> new.regions_key OR old.period <> new.period OR old.period_start <> new.period_start
     OR old.share_nanos <> new.share_nanos OR old.duration IS NOT new.duration
BEGIN
    INSERT INTO score_board_deltas (regions_key, period, period_start, share_nanos, duration_key, players)
    VALUES (old.regions_key, old.period, old.period_start, old.share_nanos, coalesce(old.duration, 2147483647), -1),
           (new.regions_key, new.period, new.period_start, new.share_nanos, coalesce(new.duration, 2147483647), 1);
END;

CREATE TRIGGER score_bests_counts_delete AFTER DELETE ON score_bests
BEGIN
    INSERT INTO score_board_deltas (regions_key, period, period_start, share_nanos, duration_key, players)
    VALUES (old.regions_key, old.period, old.period_start, old.share_nanos, coalesce(old.duration, 2147483647), -1);
END;
