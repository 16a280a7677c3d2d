//! Property tests: random sequences of commands, disconnects and timer expiries from several players, checked
//! against the invariants of issue 12 after every step.

use super::support::*;
use crate::lobby::*;
use crate::{InvitationId, Region, Timestamp};
use proptest::prelude::*;
use std::time::Duration;

const PLAYERS: [&str; 4] = ["host", "p1", "p2", "p3"];
const REGIONS: [Region; 2] = [Region::Oceanie, Region::AmeriqueDuSud];

/// Every code a player may send: both regions' codes and two that no game requires.
fn pool() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = REGIONS.iter().flat_map(|r| r.codes().iter().copied()).collect();
    codes.extend(["FRA", "ATF"]);
    codes
}

#[derive(Clone, Debug)]
enum Op {
    Join(usize),
    /// Invited by whoever holds the host role, then joins: the common path, to reach crowded lobbies.
    Arrive(usize),
    Leave(usize),
    Invite {
        by: usize,
        friend: usize,
        online: bool,
    },
    Ready(usize, bool),
    Settings(usize, u8),
    Start(usize),
    Progress {
        user: usize,
        validated: Vec<usize>,
        incorrect: Vec<usize>,
    },
    Restart(usize),
    Kick(usize, usize),
    Connected(usize),
    Dropped(usize),
    Results(usize),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..PLAYERS.len();
    let codes = || prop::collection::vec(0..pool().len(), 0..12);
    prop_oneof![
        2 => user.clone().prop_map(Op::Join),
        3 => (1..PLAYERS.len()).prop_map(Op::Arrive),
        1 => user.clone().prop_map(Op::Leave),
        2 => (user.clone(), user.clone(), any::<bool>()).prop_map(|(by, friend, online)| Op::Invite { by, friend, online }),
        4 => (user.clone(), prop::bool::weighted(0.8)).prop_map(|(u, r)| Op::Ready(u, r)),
        1 => (user.clone(), 0u8..4).prop_map(|(u, mask)| Op::Settings(u, mask)),
        1 => user.clone().prop_map(Op::Start),
        8 => (user.clone(), codes(), codes()).prop_map(|(user, validated, incorrect)| Op::Progress { user, validated, incorrect }),
        1 => user.clone().prop_map(Op::Restart),
        1 => (user.clone(), user.clone()).prop_map(|(a, b)| Op::Kick(a, b)),
        2 => user.clone().prop_map(Op::Connected),
        2 => user.clone().prop_map(Op::Dropped),
        1 => user.clone().prop_map(Op::Results),
        3 => prop_oneof![0i64..3_000, 0i64..40_000, 0i64..200_000].prop_map(Op::Advance),
    ]
}

/// Short timers so that sequences reach every expiry.
fn config() -> LobbyConfig {
    LobbyConfig {
        disconnect_grace: Duration::from_secs(5),
        empty_lobby_ttl: Duration::from_secs(20),
        idle_ttl: Duration::from_secs(60),
        invitation_ttl: Duration::from_secs(120),
        ..LobbyConfig::default()
    }
}

fn commands(op: &Op, n: &mut u32, lobby: &Lobby, now: Timestamp) -> Vec<Command> {
    let u = |i: usize| uid(PLAYERS[i]);
    let own = |idx: &[usize]| idx.iter().map(|&i| pool()[i].to_owned()).collect::<Vec<_>>();
    match op {
        Op::Join(i) => vec![Command::Join { player: profile(PLAYERS[*i]) }],
        Op::Arrive(i) => {
            *n += 1;
            let invite = InviteRequest {
                by: lobby.host().clone(),
                friend: u(*i),
                is_friend: true,
                friend_online: true,
                invitation: InvitationId::parse(&format!("inv-{n}")).unwrap(),
            };
            vec![Command::Invite(invite), Command::Join { player: profile(PLAYERS[*i]) }]
        }
        Op::Leave(i) => vec![Command::Leave { user: u(*i) }],
        Op::Invite { by, friend, online } => {
            *n += 1;
            vec![Command::Invite(InviteRequest {
                by: u(*by),
                friend: u(*friend),
                is_friend: by != friend,
                friend_online: *online,
                invitation: InvitationId::parse(&format!("inv-{n}")).unwrap(),
            })]
        }
        Op::Ready(i, r) => vec![Command::SetReady { user: u(*i), ready: Ok(*r) }],
        Op::Settings(i, mask) => {
            let regions = REGIONS.iter().enumerate().filter(|(b, _)| mask & (1 << b) != 0).map(|(_, r)| *r).collect();
            vec![Command::UpdateSettings { by: u(*i), settings: Ok(SettingsUpdate { regions, mode: None }) }]
        }
        Op::Start(i) => vec![Command::Start { by: u(*i) }],
        Op::Progress { user, validated, incorrect } => {
            vec![Command::Progress { user: u(*user), lists: ProgressLists::new(own(validated), own(incorrect)) }]
        }
        Op::Restart(i) => vec![Command::Restart { by: u(*i) }],
        Op::Kick(a, b) => vec![Command::Kick { by: u(*a), player: u(*b) }],
        Op::Connected(i) => vec![Command::Connected { user: u(*i) }],
        Op::Dropped(i) => vec![Command::Dropped { user: u(*i) }],
        Op::Results(i) => vec![Command::GetResults { user: u(*i) }],
        Op::Advance(_) => lobby.due_timers(now).into_iter().map(Command::TimerFired).collect(),
    }
}

fn is_client_command(cmd: &Command) -> bool {
    !matches!(cmd, Command::Connected { .. } | Command::Dropped { .. } | Command::TimerFired(_))
}

/// Checks one successful step from `before` to `after`.
fn check_step(before: &Lobby, after: &Lobby, cmd: &Command, effects: &[Effect]) -> Result<(), TestCaseError> {
    // A lobby's game: waiting → playing → finished → waiting, one transition per stored change.
    let mut phase = before.status();
    let (mut starts, mut ends) = (0, 0);
    for effect in effects {
        match effect {
            Effect::Persist(Change::StartGame { .. }) => {
                prop_assert_eq!(phase, GameStatus::Waiting, "a game starts once");
                phase = GameStatus::Playing;
                starts += 1;
            }
            Effect::Persist(Change::FinishGame { results, .. }) => {
                prop_assert_eq!(phase, GameStatus::Playing, "a game ends once, after its start");
                phase = GameStatus::Finished;
                ends += 1;
                for r in results {
                    let higher = results.iter().filter(|o| o.score > r.score).count() as u32;
                    prop_assert_eq!(r.position, higher + 1, "rank = 1 + strictly higher scores");
                }
            }
            Effect::Persist(Change::RestartGame { .. }) => {
                prop_assert_ne!(phase, GameStatus::Waiting);
                phase = GameStatus::Waiting;
            }
            Effect::Persist(Change::ResetEmpty) => phase = GameStatus::Waiting,
            _ => {}
        }
    }
    if !after.is_deleted() {
        prop_assert_eq!(phase, after.status());
    }
    prop_assert_eq!(pushes(effects, "game_start").len(), starts);
    prop_assert_eq!(pushes(effects, "game_end").len(), ends);

    let replies = effects.iter().filter(|e| matches!(e, Effect::Reply(_))).count();
    prop_assert_eq!(replies, usize::from(is_client_command(cmd)), "one reply per client command");

    // Nobody who is not a member hears about the lobby's members.
    for effect in effects {
        if let Effect::Push(Audience::Members(users), _) = effect {
            prop_assert!(users.iter().all(|u| after.member(u).is_some()), "push to a non-member");
        }
    }

    if after.is_deleted() {
        return Ok(());
    }
    if !after.members().is_empty() {
        prop_assert!(after.member(after.host()).is_some(), "the host is a member");
    }
    let total = after.game().map_or(0, |g| g.total());
    for m in after.members() {
        prop_assert!(m.progress(total) <= 100);
        prop_assert!(m.validated.len() + m.incorrect.len() <= total);
        match after.status() {
            GameStatus::Waiting => prop_assert!(matches!(m.status, PlayerStatus::Joined | PlayerStatus::Ready)),
            _ => prop_assert!(matches!(m.status, PlayerStatus::Playing | PlayerStatus::Finished)),
        }
        prop_assert_eq!(m.status == PlayerStatus::Finished, m.completion_secs.is_some());
    }

    // Within one game, progress only grows and a finished player stays finished.
    if starts == 0
        && !effects.iter().any(|e| matches!(e, Effect::Persist(Change::RestartGame { .. } | Change::ResetEmpty)))
    {
        for m in after.members() {
            let Some(old) = before.member(m.id()).filter(|o| o.joined_at == m.joined_at) else { continue };
            prop_assert!(m.validated.starts_with(&old.validated), "validated list only grows");
            prop_assert!(m.incorrect.starts_with(&old.incorrect), "incorrect list only grows");
            prop_assert!(m.progress(total) >= old.progress(total), "progress is monotonic");
            if old.status == PlayerStatus::Finished {
                prop_assert_eq!(m.status, PlayerStatus::Finished, "finished is sticky");
                prop_assert_eq!(m.completion_secs, old.completion_secs);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_sessions_keep_the_invariants(ops in prop::collection::vec(op(), 1..80)) {
        let mut t = Table::with_config(&[Region::Oceanie], config());
        let mut invitations = 0;
        for op in &ops {
            if let Op::Advance(ms) = op {
                t.tick(*ms);
            }
            for cmd in commands(op, &mut invitations, &t.lobby, t.now) {
                let before = t.lobby.clone();
                match t.lobby.apply(cmd.clone(), t.now) {
                    Ok(effects) => check_step(&before, &t.lobby, &cmd, &effects)?,
                    Err(_) => prop_assert_eq!(&t.lobby, &before, "a refusal changes nothing"),
                }
            }
            if let Some(deadline) = t.lobby.next_deadline() {
                prop_assert!(!t.lobby.is_deleted());
                prop_assert!(!t.lobby.due_timers(deadline).is_empty(), "the next deadline names a due timer");
            }
        }
    }

    #[test]
    fn players_who_keep_answering_always_finish_the_game(order in prop::collection::vec(0..3usize, 0..60)) {
        // Three players answer Océanie in a random interleaving; whatever the order, the game ends once.
        let mut t = Table::new(&[Region::Oceanie]);
        t.start_with(&["p1", "p2"]);
        let mut answered = [0usize; 3];
        let mut ends = 0;
        for i in order.into_iter().chain((0..3).cycle().take(21)) {
            answered[i] = (answered[i] + 1).min(7);
            t.tick(2_000);
            let effects = t.progress(PLAYERS[i], &OCEANIE[..answered[i]], &[]);
            ends += pushes(&effects, "game_end").len();
        }
        prop_assert_eq!(ends, 1);
        prop_assert_eq!(t.lobby.status(), GameStatus::Finished);
    }
}
