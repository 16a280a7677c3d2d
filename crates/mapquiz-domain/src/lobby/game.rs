//! The game's course (protocol §2.7.7–§2.7.10, §2.7.14, §3.3–§3.6): ready, settings, start, progress, end
//! and restart.

use super::progress::{merge, too_fast};
use super::{
    AuditEntry, Change, Effect, Event, Game, GameStart, GameStartState, GameStatus, Lobby, LobbyError, Parsed,
    PlayerStatus, ProgressLists, ProgressRow, ProgressUpdate, Reply, ResultRow, SettingsUpdate, Standing, rank,
};
use crate::{Timestamp, UserId};

impl Lobby {
    /// `update_player_status` / `set_player_ready`: ignored (with success) unless the lobby waits; may
    /// auto-start.
    pub(super) fn set_ready(
        &mut self,
        user: &UserId,
        ready: Parsed<bool>,
        now: Timestamp,
    ) -> Result<Vec<Effect>, LobbyError> {
        if !self.is_member(user) {
            return Err(LobbyError::NotAMember);
        }
        let status = if ready? { PlayerStatus::Ready } else { PlayerStatus::Joined };
        if self.status != GameStatus::Waiting {
            return Ok(vec![Effect::Reply(Reply::Success)]);
        }
        let mut out = Vec::new();
        if let Some(member) = self.member_mut(user)
            && member.status != status
        {
            member.status = status;
            out.push(Effect::Persist(Change::SetMemberStatus { user: user.clone(), status }));
        }
        out.push(Effect::Reply(Reply::Success));
        self.push_update(&mut out);
        self.auto_start(now, &mut out);
        Ok(out)
    }

    /// `update_lobby_settings`: the host, while waiting; regions may be empty mid-edit; may auto-start.
    pub(super) fn update_settings(
        &mut self,
        by: &UserId,
        update: Parsed<SettingsUpdate>,
        now: Timestamp,
    ) -> Result<Vec<Effect>, LobbyError> {
        if !self.is_host(by) {
            return Err(LobbyError::OnlyHostSettings);
        }
        if self.status != GameStatus::Waiting {
            return Err(LobbyError::AlreadyStarted);
        }
        let update = update?;
        self.settings.regions = update.regions;
        if let Some(mode) = update.mode {
            self.settings.mode = mode;
        }
        let mut out = vec![Effect::Persist(Change::SetSettings(self.settings.clone())), Effect::Reply(Reply::Success)];
        self.push_update(&mut out);
        self.auto_start(now, &mut out);
        Ok(out)
    }

    /// `start_game`: the host starts a waiting lobby without waiting for readiness; a repeat while playing is
    /// benign.
    pub(super) fn start(&mut self, by: &UserId, now: Timestamp) -> Result<Vec<Effect>, LobbyError> {
        if !self.is_host(by) {
            return Err(LobbyError::OnlyHostStart);
        }
        match self.status {
            GameStatus::Finished => Err(LobbyError::AlreadyFinished),
            GameStatus::Playing => Ok(vec![Effect::Reply(Reply::Success)]),
            GameStatus::Waiting if self.settings.regions.is_empty() => Err(LobbyError::NoRegionSelected),
            GameStatus::Waiting => {
                let mut out = Vec::new();
                self.start_game(now, Some(Reply::Success), &mut out);
                Ok(out)
            }
        }
    }

    /// Starts when every member is ready (members in their grace period included) and a region is selected
    /// (§3.3). Evaluated after status and settings changes only.
    fn auto_start(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let all_ready = !self.members.is_empty() && self.members.iter().all(|m| m.status == PlayerStatus::Ready);
        if self.status == GameStatus::Waiting && all_ready && !self.settings.regions.is_empty() {
            self.start_game(now, None, out);
        }
    }

    /// The start (§3.3): required codes fixed, every member reset to `playing`; stored before the pushes.
    fn start_game(&mut self, now: Timestamp, reply: Option<Reply>, out: &mut Vec<Effect>) {
        let game = Game::new(now, &self.settings.regions);
        for member in &mut self.members {
            member.reset_game(PlayerStatus::Playing);
        }
        self.status = GameStatus::Playing;
        self.rankings.clear();
        out.push(Effect::Persist(Change::StartGame { start_time: now, required_codes: game.required().to_vec() }));
        out.extend(reply.map(Effect::Reply));
        let total = u32::try_from(game.total()).unwrap_or(u32::MAX);
        let start = GameStart {
            lobby_id: self.id.clone(),
            start_time: now,
            total_questions: total,
            settings: self.settings.clone(),
            game_state: GameStartState {
                start_time: now,
                current_question: 0,
                total_questions: total,
                current_country: None,
                settings: self.settings.clone(),
            },
        };
        self.game = Some(game);
        self.push_members(out, Event::GameStart(Box::new(start)));
        self.push_update(out);
    }

    /// `update_player_progress` (§2.7.10, §3.4): merged while playing and unfinished, ignored otherwise.
    pub(super) fn progress(
        &mut self,
        user: &UserId,
        lists: Parsed<ProgressLists>,
        now: Timestamp,
    ) -> Result<Vec<Effect>, LobbyError> {
        let finished = self.member(user).ok_or(LobbyError::NotAMember)?.status == PlayerStatus::Finished;
        let lists = lists?;
        let fair = self.config.fair_play;
        let (Some(game), Some(member), GameStatus::Playing, false) =
            (&self.game, self.members.iter_mut().find(|m| m.id() == user), self.status, finished)
        else {
            return Ok(vec![Effect::Reply(Reply::Success)]);
        };
        let merged = merge(member, &lists, game, now, &fair);
        let mut out = Vec::new();
        if merged.added > 0 || merged.burst.is_some() {
            out.push(Effect::RecordProgress(ProgressRow {
                lobby: self.id.clone(),
                user: user.clone(),
                status: member.status,
                score: member.score(),
                progress: member.progress(game.total()),
                validated: member.validated.clone(),
                incorrect: member.incorrect.clone(),
                completion_secs: member.completion_secs,
                flagged: member.flagged,
            }));
        }
        out.push(Effect::Reply(Reply::Success));
        let update = ProgressUpdate { lobby_id: self.id.clone(), players: self.progress_entries() };
        self.push_members(&mut out, Event::PlayerProgress(update));
        if !merged.newly_ignored.is_empty() {
            out.push(Effect::Audit(AuditEntry::IgnoredCodes { user: user.clone(), codes: merged.newly_ignored }));
        }
        if let Some(reason) = merged.burst {
            out.push(Effect::Audit(AuditEntry::Flagged { user: user.clone(), reason }));
        }
        self.end_if_over(&mut out);
        Ok(out)
    }

    /// The end condition (§3.6), after a progress merge, a departure, a kick or a grace expiry: a playing
    /// lobby whose every member has finished or is away.
    pub(super) fn end_if_over(&mut self, out: &mut Vec<Effect>) {
        let over =
            !self.members.is_empty() && self.members.iter().all(|m| m.status == PlayerStatus::Finished || m.away);
        if self.status == GameStatus::Playing && over {
            self.finish(out);
        }
    }

    /// The end (§3.6): fair-play floor judged, results ranked and stored with the lobby `finished` in one
    /// transaction, then `lobby_update` and `game_end`.
    fn finish(&mut self, out: &mut Vec<Effect>) {
        let Some(game) = self.game.clone() else { return };
        let fair = self.config.fair_play;
        let mut audits = Vec::new();
        for member in &mut self.members {
            if !member.flagged
                && let Some(reason) = too_fast(member, &game, &fair)
            {
                member.flagged = true;
                audits.push(AuditEntry::Flagged { user: member.id().clone(), reason });
            }
        }
        let standings = self
            .members
            .iter()
            .map(|m| Standing {
                id: m.id().clone(),
                name: m.profile.name().to_owned(),
                score: m.score(),
                completion_secs: m.completion_secs,
            })
            .collect();
        self.rankings = rank(standings);
        let results = self
            .rankings
            .iter()
            .map(|r| ResultRow {
                user: r.id.clone(),
                score: r.score,
                completion_secs: r.completion_time,
                position: r.rank,
                flagged: self.member(&r.id).is_some_and(|m| m.flagged),
            })
            .collect();
        self.status = GameStatus::Finished;
        out.push(Effect::Persist(Change::FinishGame {
            game_started_at: game.start_time,
            total_questions: u32::try_from(game.total()).unwrap_or(u32::MAX),
            results,
        }));
        self.push_update(out);
        self.push_members(out, Event::GameEnd { lobby_id: self.id.clone() });
        out.extend(audits.into_iter().map(Effect::Audit));
    }

    /// `restart_game` (§3.3): back to waiting; away members removed silently; everybody `joined` with
    /// nothing answered. A repeat while waiting is benign.
    pub(super) fn restart(&mut self, by: &UserId) -> Result<Vec<Effect>, LobbyError> {
        if !self.is_host(by) {
            return Err(LobbyError::OnlyHostRestart);
        }
        if self.status == GameStatus::Waiting {
            return Ok(vec![Effect::Reply(Reply::Success)]);
        }
        let removed: Vec<UserId> =
            self.members.iter().filter(|m| m.away && m.id() != by).map(|m| m.id().clone()).collect();
        self.members.retain(|m| !removed.contains(m.id()));
        for member in &mut self.members {
            member.reset_game(PlayerStatus::Joined);
        }
        self.status = GameStatus::Waiting;
        self.game = None;
        self.rankings.clear();
        let mut out = vec![Effect::Persist(Change::RestartGame { removed }), Effect::Reply(Reply::Success)];
        self.push_update(&mut out);
        self.push_members(&mut out, Event::GameRestarted { lobby_id: self.id.clone() });
        Ok(out)
    }
}
