DROP TABLE score_bests;
DROP TABLE game_scores;
