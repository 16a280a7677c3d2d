//! A lobby under test with verbs named after the protocol's messages and a clock the test moves.

use crate::lobby::*;
use crate::{InvitationId, LobbyId, Region, Timestamp, UserId, scores::GameMode};

/// 2025-08-11T15:46:50.000Z, the protocol's example instant.
pub const T0: i64 = 1_754_927_210_000;

pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + ms).unwrap()
}

pub fn uid(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

pub fn profile(name: &str) -> PublicProfile {
    let mut display = name.to_owned();
    if let Some(first) = display.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    PublicProfile::new(uid(name), &display, None, format!("TAG{}", name.len()))
}

pub fn settings(regions: &[Region]) -> LobbySettings {
    LobbySettings { regions: regions.to_vec(), mode: GameMode::Quiz }
}

/// A compact name for each effect, to assert order: `persist:AddMember`, `reply`, `push:lobby_update`, …
pub fn kinds(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Persist(change) => {
                let debug = format!("{change:?}");
                let name: String = debug.chars().take_while(|c| c.is_alphanumeric()).collect();
                format!("persist:{name}")
            }
            Effect::RecordProgress(_) => "record".to_owned(),
            Effect::Reply(_) => "reply".to_owned(),
            Effect::Push(_, event) => format!("push:{}", event.message_type()),
            Effect::Audit(_) => "audit".to_owned(),
            Effect::Dispose => "dispose".to_owned(),
        })
        .collect()
}

/// The reply among the effects.
pub fn reply(effects: &[Effect]) -> &Reply {
    effects.iter().find_map(|e| if let Effect::Reply(r) = e { Some(r) } else { None }).expect("a reply")
}

/// The pushes of one type, with their audiences.
pub fn pushes<'a>(effects: &'a [Effect], kind: &str) -> Vec<(&'a Audience, &'a Event)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Push(audience, event) if event.message_type() == kind => Some((audience, event)),
            _ => None,
        })
        .collect()
}

pub fn audits(effects: &[Effect]) -> Vec<&AuditEntry> {
    effects.iter().filter_map(|e| if let Effect::Audit(a) = e { Some(a) } else { None }).collect()
}

pub fn ids(names: &[&str]) -> Vec<UserId> {
    names.iter().map(|n| uid(n)).collect()
}

/// One lobby, created by `host` at T0, and the current time.
pub struct Table {
    pub lobby: Lobby,
    pub now: Timestamp,
    invitations: u32,
}

impl Table {
    pub fn new(regions: &[Region]) -> Self {
        Self::with_config(regions, LobbyConfig::default())
    }

    pub fn with_config(regions: &[Region], config: LobbyConfig) -> Self {
        let new = NewLobby {
            id: LobbyId::parse("lobby-1").unwrap(),
            host: profile("host"),
            name: LobbyName::parse(None, "Host").unwrap(),
            settings: settings(regions),
        };
        let (lobby, _) = Lobby::create(new, config, at(0));
        Self { lobby, now: at(0), invitations: 0 }
    }

    /// Applies a command; a refusal must leave the lobby exactly as it was.
    pub fn run(&mut self, cmd: Command) -> Result<Vec<Effect>, LobbyError> {
        let before = self.lobby.clone();
        let result = self.lobby.apply(cmd, self.now);
        if result.is_err() {
            assert_eq!(self.lobby, before, "a refused command changed the lobby");
        }
        result
    }

    pub fn ok(&mut self, cmd: Command) -> Vec<Effect> {
        match self.run(cmd.clone()) {
            Ok(effects) => effects,
            Err(e) => panic!("{cmd:?} refused: {e}"),
        }
    }

    pub fn err(&mut self, cmd: Command) -> LobbyError {
        self.run(cmd.clone()).expect_err("a refusal")
    }

    pub fn tick(&mut self, ms: i64) {
        self.now = Timestamp::from_millis(self.now.millis() + ms).unwrap();
    }

    /// Moves the clock and fires every timer that came due, as the actor does.
    pub fn advance(&mut self, ms: i64) -> Vec<Effect> {
        self.tick(ms);
        let mut effects = Vec::new();
        for timer in self.lobby.due_timers(self.now) {
            effects.extend(self.ok(Command::TimerFired(timer)));
        }
        effects
    }

    pub fn invite_cmd(&mut self, by: &str, friend: &str, online: bool) -> Command {
        self.invitations += 1;
        Command::Invite(InviteRequest {
            by: uid(by),
            friend: uid(friend),
            is_friend: true,
            friend_online: online,
            invitation: InvitationId::parse(&format!("inv-{}", self.invitations)).unwrap(),
        })
    }

    pub fn join(&mut self, name: &str) -> Vec<Effect> {
        self.ok(Command::Join { player: profile(name) })
    }

    /// Invited by the host (online), then joined.
    pub fn add(&mut self, name: &str) -> Vec<Effect> {
        let invite = self.invite_cmd("host", name, true);
        self.ok(invite);
        self.join(name)
    }

    pub fn ready(&mut self, name: &str, ready: bool) -> Vec<Effect> {
        self.ok(Command::SetReady { user: uid(name), ready: Ok(ready) })
    }

    /// Everyone listed joins (after an invitation) and everyone is ready: the game starts.
    pub fn start_with(&mut self, others: &[&str]) -> Vec<Effect> {
        for name in others {
            self.add(name);
        }
        for name in others {
            self.ready(name, true);
        }
        let effects = self.ready("host", true);
        assert_eq!(self.lobby.status(), GameStatus::Playing);
        effects
    }

    pub fn progress(&mut self, name: &str, validated: &[&str], incorrect: &[&str]) -> Vec<Effect> {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        let lists = ProgressLists::new(own(validated), own(incorrect));
        self.ok(Command::Progress { user: uid(name), lists })
    }

    pub fn leave(&mut self, name: &str) -> Vec<Effect> {
        self.ok(Command::Leave { user: uid(name) })
    }

    pub fn member(&self, name: &str) -> &Member {
        self.lobby.member(&uid(name)).expect("a member")
    }

    pub fn member_names(&self) -> Vec<&str> {
        self.lobby.members().iter().map(|m| m.id().as_str()).collect()
    }
}

/// Every Océanie code, the smallest region (7 codes).
pub const OCEANIE: [&str; 7] = ["AUS", "FJI", "NCL", "NZL", "PNG", "SLB", "VUT"];
