DROP TRIGGER score_bests_shares_delete;
DROP TRIGGER score_bests_shares_update;
DROP TRIGGER score_bests_shares_insert;
DROP TABLE score_board_shares;
DROP INDEX score_bests_rank_idx;
CREATE INDEX score_bests_rank_idx
    ON score_bests (regions_key, period, period_start, share_nanos DESC, duration, achieved_at);
