//! Rebuilding a lobby from its stored rows after a server restart (protocol §3.11): everything the store
//! loads, as plain data, and the timers that start at start-up.

use super::membership::after;
use super::{
    Change, Effect, Game, GameStatus, InvitationRow, Lobby, LobbyConfig, LobbyName, LobbySettings, Member,
    PendingInvitation, PlayerStatus, PublicProfile, Standing, rank,
};
use crate::{LobbyId, Timestamp, UserId};

/// A stored lobby with its members, undelivered invitations and latest results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLobby {
    pub id: LobbyId,
    pub name: String,
    pub host: UserId,
    pub status: GameStatus,
    pub settings: LobbySettings,
    pub authorized: Vec<UserId>,
    pub start_time: Option<Timestamp>,
    pub required_codes: Vec<String>,
    pub created_at: Timestamp,
    pub members: Vec<StoredMember>,
    /// Only invitations not yet delivered.
    pub invitations: Vec<StoredInvitation>,
    /// The results of the game started at `start_time`, when the lobby is `finished`, in members' join order.
    pub results: Vec<StoredResult>,
}

/// A stored membership with the member's public profile. Score and progress are not read: they are
/// derived again from the lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMember {
    pub profile: PublicProfile,
    pub status: PlayerStatus,
    pub validated: Vec<String>,
    pub incorrect: Vec<String>,
    pub completion_secs: Option<u32>,
    pub flagged: bool,
    pub joined_at: Timestamp,
}

/// A stored, undelivered invitation and the name its push shows for the inviter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredInvitation {
    pub row: InvitationRow,
    pub inviter_name: String,
}

/// One stored result of the latest finished game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResult {
    pub user: UserId,
    pub name: String,
    pub score: u32,
    pub completion_secs: Option<u32>,
}

impl Lobby {
    /// The lobby as stored, every member disconnected with their grace starting `now`, and the lobby-wide
    /// timers starting `now`. Nothing is pushed; the effects only repair what a crash between two writes
    /// can leave: a host who is not a member, an emptied lobby not reset, or a game whose every member had
    /// finished but which had not ended (it ends now, results stored).
    pub fn restore(stored: StoredLobby, config: LobbyConfig, now: Timestamp) -> (Self, Vec<Effect>) {
        let game = match (stored.status, stored.start_time) {
            (GameStatus::Waiting, _) => None,
            (_, start) => {
                let start = start.unwrap_or(stored.created_at);
                let game = Game::restored(start, &stored.required_codes);
                Some(if game.total() == 0 { Game::new(start, &stored.settings.regions) } else { game })
            }
        };
        let mut members: Vec<Member> =
            stored.members.into_iter().map(|m| restore_member(m, game.as_ref(), now, &config)).collect();
        members.sort_by_key(|m| m.joined_at);
        let rankings = if stored.status == GameStatus::Finished {
            rank(
                stored
                    .results
                    .into_iter()
                    .map(|r| Standing { id: r.user, name: r.name, score: r.score, completion_secs: r.completion_secs })
                    .collect(),
            )
        } else {
            Vec::new()
        };
        let mut lobby = Self {
            id: stored.id,
            name: LobbyName::from_stored(stored.name),
            host: stored.host,
            status: stored.status,
            settings: stored.settings,
            authorized: stored.authorized,
            members,
            invitations: stored
                .invitations
                .into_iter()
                .filter(|i| !i.row.delivered)
                .map(|i| PendingInvitation { row: i.row, inviter_name: i.inviter_name })
                .collect(),
            created_at: stored.created_at,
            game,
            rankings,
            empty_deadline: None,
            idle_deadline: None,
            deleted: false,
            config,
        };
        let effects = lobby.repair();
        lobby.schedule_lobby_timers(now);
        (lobby, effects)
    }

    fn repair(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.members.is_empty() {
            if self.status != GameStatus::Waiting {
                self.status = GameStatus::Waiting;
                self.game = None;
                self.rankings.clear();
                out.push(Effect::Persist(Change::ResetEmpty));
            }
            return out;
        }
        if !self.is_member(&self.host.clone()) {
            let former = self.host.clone();
            self.transfer_host(&former, &mut out);
        }
        self.end_if_over(&mut out);
        // Every member is disconnected at start-up: nobody to push to (§3.11).
        out.retain(|e| !matches!(e, Effect::Push(..)));
        out
    }
}

fn restore_member(stored: StoredMember, game: Option<&Game>, now: Timestamp, config: &LobbyConfig) -> Member {
    let mut member = Member::new(stored.profile, stored.joined_at);
    member.status = stored.status;
    member.connected = false;
    member.grace_until = Some(after(now, config.disconnect_grace));
    member.flagged = stored.flagged;
    member.completion_secs = stored.completion_secs;
    let Some(game) = game else { return member };
    let known = |code: &String| game.required_code(code);
    for code in stored.validated.iter().filter_map(known) {
        if !member.validated.contains(&code) {
            member.validated.push(code);
        }
    }
    for code in stored.incorrect.iter().filter_map(known) {
        if !member.validated.contains(&code) && !member.incorrect.contains(&code) {
            member.incorrect.push(code);
        }
    }
    let answered_all = member.validated.len() + member.incorrect.len() >= game.total();
    if answered_all && member.status == PlayerStatus::Playing {
        member.status = PlayerStatus::Finished;
        member.completion_secs.get_or_insert(game.seconds_since_start(now));
    }
    member
}
