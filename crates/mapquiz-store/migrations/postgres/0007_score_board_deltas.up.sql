-- Score writes without hot rows: 0006's triggers upserted the per-board counter rows inside every score's
-- transaction. An upsert into score_bests fires both the AFTER UPDATE and the AFTER INSERT statement triggers,
-- each taking its counter rows in key order, durations before shares: one transaction took its locks in two
-- sorted passes, so two writers on the same board could take the same counter rows in opposite orders and
-- deadlock; and every write of a board queued on the same few rows.
--
-- Writers now append their changes to score_board_deltas, a table without a key where no writer waits on
-- another. The store folds the deltas into the counters in batches, one folder at a time, deleting what it
-- folded in the same transaction: a count is the counters plus the pending deltas, and any snapshot sees each
-- change exactly once.
CREATE TABLE score_board_deltas (
    regions_key  TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start TEXT    NOT NULL,
    share_nanos  BIGINT  NOT NULL,
    duration_key INTEGER NOT NULL,                  -- coalesce(duration, 2147483647), as in the rank index
    players      BIGINT  NOT NULL                   -- signed: a replaced or deleted best counts -1
);
CREATE INDEX score_board_deltas_idx
    ON score_board_deltas (regions_key, period, period_start, share_nanos, duration_key);

-- The triggers keep their names and events; only what they write changes.
CREATE OR REPLACE FUNCTION score_bests_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO score_board_deltas (regions_key, period, period_start, share_nanos, duration_key, players)
        SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647), count(*)
          FROM new_rows GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO score_board_deltas (regions_key, period, period_start, share_nanos, duration_key, players)
        SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647), sum(delta)
          FROM (SELECT *, -1 AS delta FROM old_rows UNION ALL SELECT *, 1 FROM new_rows) AS changed
         GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0;
    ELSE
        INSERT INTO score_board_deltas (regions_key, period, period_start, share_nanos, duration_key, players)
        SELECT regions_key, period, period_start, share_nanos, coalesce(duration, 2147483647), -count(*)
          FROM old_rows GROUP BY 1, 2, 3, 4, 5;
    END IF;
    RETURN NULL;
END
$$;
