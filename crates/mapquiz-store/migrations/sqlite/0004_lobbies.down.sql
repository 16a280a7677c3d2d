DROP TABLE game_results;
DROP TABLE lobby_invitations;
DROP TABLE lobby_players;
DROP TABLE lobbies;
