//! Views of a lobby: the shapes pushed and answered (protocol §0.6, §2.7.11–§2.7.13), and `create_lobby`'s
//! reply.

use super::{
    Created, CreatedLobby, CreatedPlayer, Effect, GameState, GameStatus, Lobby, LobbyError, LobbyPlayer, LobbyState,
    ProgressEntry, Reply,
};
use crate::UserId;

impl Lobby {
    /// `LobbyState`: players in join order with both country lists and their connection.
    pub fn lobby_state(&self) -> LobbyState {
        let total = self.game.as_ref().map_or(0, |g| g.total());
        LobbyState {
            lobby_id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            host_id: self.host.clone(),
            settings: self.settings.clone(),
            players: self
                .members
                .iter()
                .map(|m| LobbyPlayer {
                    profile: m.profile.clone(),
                    status: m.status,
                    score: m.score(),
                    progress: m.progress(total),
                    validated_countries: m.validated.clone(),
                    incorrect_countries: m.incorrect.clone(),
                    connected: m.connected,
                })
                .collect(),
        }
    }

    /// Every member's `ProgressEntry`, in join order.
    pub fn progress_entries(&self) -> Vec<ProgressEntry> {
        let total = self.game.as_ref().map_or(0, |g| g.total());
        self.members
            .iter()
            .map(|m| ProgressEntry {
                id: m.id().clone(),
                name: m.profile.name().to_owned(),
                score: m.score(),
                progress: m.progress(total),
                validated_countries: m.validated.clone(),
                incorrect_countries: m.incorrect.clone(),
            })
            .collect()
    }

    /// `get_game_state`'s state: `startTime` and `totalQuestions` are null while waiting.
    pub fn game_state(&self) -> GameState {
        let game = self.game.as_ref().filter(|_| self.status != GameStatus::Waiting);
        GameState {
            lobby: self.lobby_state(),
            start_time: game.map(|g| g.start_time),
            total_questions: game.map(|g| u32::try_from(g.total()).unwrap_or(u32::MAX)),
        }
    }

    pub(super) fn created_reply(&self) -> Created {
        Created {
            success: true,
            lobby_id: self.id.clone(),
            host_id: self.host.clone(),
            settings: self.settings.clone(),
            lobby: CreatedLobby {
                id: self.id.clone(),
                name: self.name.clone(),
                host_id: self.host.clone(),
                status: self.status,
                settings: self.settings.clone(),
                created_at: self.created_at,
            },
            players: self
                .members
                .iter()
                .map(|m| CreatedPlayer { profile: m.profile.clone(), status: m.status })
                .collect(),
        }
    }

    /// `get_lobby_state`: the state for a member, null for anyone else (not an error).
    pub(super) fn lobby_state_reply(&self, user: &UserId) -> Vec<Effect> {
        let state = self.is_member(user).then(|| Box::new(self.lobby_state()));
        vec![Effect::Reply(Reply::LobbyState { lobby_id: self.id.clone(), state })]
    }

    /// `get_game_state`: the state for a member, null for anyone else; never a broadcast.
    pub(super) fn game_state_reply(&self, user: &UserId) -> Vec<Effect> {
        let state = self.is_member(user).then(|| Box::new(self.game_state()));
        vec![Effect::Reply(Reply::GameState { lobby_id: self.id.clone(), state })]
    }

    /// `get_game_results`: members of a finished lobby get its latest game's rankings.
    pub(super) fn results_reply(&self, user: &UserId) -> Result<Vec<Effect>, LobbyError> {
        if !self.is_member(user) {
            return Err(LobbyError::ResultsNotAMember);
        }
        if self.status != GameStatus::Finished {
            return Err(LobbyError::ResultsNotFinished);
        }
        let reply =
            Reply::Results { lobby_id: self.id.clone(), host_id: self.host.clone(), rankings: self.rankings.clone() };
        Ok(vec![Effect::Reply(reply)])
    }
}
