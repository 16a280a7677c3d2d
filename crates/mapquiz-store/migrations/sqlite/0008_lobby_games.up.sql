-- Lobby games as issue 12 plays them: the fair-play mark on memberships and results, and results that tell
-- the whole game after their lobby is deleted (its name, regions and mode), listed per player newest first.
ALTER TABLE lobby_players ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1));

ALTER TABLE game_results ADD COLUMN flagged          INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1));
ALTER TABLE game_results ADD COLUMN lobby_name       TEXT    NOT NULL DEFAULT '';
ALTER TABLE game_results ADD COLUMN selected_regions TEXT    NOT NULL DEFAULT '[]'; -- JSON array, as settings
ALTER TABLE game_results ADD COLUMN game_mode        TEXT    NOT NULL DEFAULT 'quiz';

-- The history's keyset order: (game_started_at, lobby_id) is unique per user (game_results_game_user_key).
DROP INDEX game_results_user_idx;
CREATE INDEX game_results_user_game_idx ON game_results (user_id, game_started_at DESC, lobby_id DESC);
