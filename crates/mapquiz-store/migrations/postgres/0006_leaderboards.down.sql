DROP TRIGGER score_bests_counts_delete ON score_bests;
DROP TRIGGER score_bests_counts_update ON score_bests;
DROP TRIGGER score_bests_counts_insert ON score_bests;
DROP FUNCTION score_bests_count();
DROP TABLE score_board_durations;
DROP TABLE score_board_shares;
DROP INDEX score_bests_rank_idx;
CREATE INDEX score_bests_rank_idx
    ON score_bests (regions_key, period, period_start, share_nanos DESC, duration, achieved_at);
