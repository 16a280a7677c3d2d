-- Folds the pending deltas into the counters (as the store does), then restores 0006's counting triggers.
WITH moved AS (
    DELETE FROM score_board_deltas
    RETURNING regions_key, period, period_start, share_nanos, duration_key, players
), delta AS (
    SELECT regions_key, period, period_start, share_nanos, duration_key, sum(players)::int8 AS players
      FROM moved GROUP BY 1, 2, 3, 4, 5
), shares AS (
    INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players)
    SELECT regions_key, period, period_start, share_nanos, sum(players)::int8 FROM delta
     GROUP BY 1, 2, 3, 4 HAVING sum(players) <> 0
    ON CONFLICT (regions_key, period, period_start, share_nanos)
    DO UPDATE SET players = s.players + excluded.players
)
INSERT INTO score_board_durations AS s (regions_key, period, period_start, share_nanos, duration_key, players)
SELECT * FROM delta WHERE players <> 0
ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key)
DO UPDATE SET players = s.players + excluded.players;

DROP TABLE score_board_deltas;

CREATE OR REPLACE FUNCTION score_bests_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
