DROP INDEX game_results_user_game_idx;
CREATE INDEX game_results_user_idx ON game_results (user_id, created_at DESC);

ALTER TABLE game_results
    DROP COLUMN game_mode,
    DROP COLUMN selected_regions,
    DROP COLUMN lobby_name,
    DROP COLUMN flagged;

ALTER TABLE lobby_players DROP COLUMN flagged;
