//! Lobbies (protocol §3.11): every change written through and read back as the restore sees it, progress
//! batches, results that outlive their lobby, and the game history, identical on both backends.

use crate::{Raw, at, migrated, on_both_backends};
use mapquiz_domain::lobby::{
    Change, InvitationRow, LobbyName, LobbyRow, LobbySettings, MemberRow, PlayerStatus, ProgressRow, ResultRow,
    StoredInvitation, StoredLobby, StoredResult,
};
use mapquiz_domain::scores::GameMode;
use mapquiz_domain::{CountryCode, InvitationId, LobbyId, Region, UserId};
use mapquiz_store::{DynStore, GameCursor, GameRecord, LobbyWrite, NewUser, StoreError, WriteOutcome};

on_both_backends!(
    create_then_load,
    membership_host_settings_and_status,
    start_progress_and_finish,
    finish_is_idempotent_and_keeps_the_first_results,
    restart_removes_away_members_and_resets_the_rest,
    reset_empty_clears_the_game,
    invitations_replace_and_end,
    kick_revokes_everything,
    delete_keeps_results,
    progress_batch_skips_vanished_rows,
    progress_batch_last_row_wins_across_lobbies,
    restore_round_trips_every_field,
    changes_to_a_missing_lobby,
    a_group_commit_stores_many_lobbies_at_once,
    fences_refuse_an_older_owner,
    lobbies_of_a_user,
    game_history_pages_newest_first_without_emails,
);

fn lid(s: &str) -> LobbyId {
    LobbyId::parse(s).unwrap()
}

fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn settings(regions: &[Region]) -> LobbySettings {
    LobbySettings { regions: regions.to_vec(), mode: GameMode::Quiz }
}

/// Users `a`, `b`, `c`, `d` (named Alice, Bob, Chloé and an empty name), with emails and tags.
async fn people(store: &DynStore) {
    let users: Vec<NewUser> = [("a", "Alice"), ("b", "Bob"), ("c", "Chloé"), ("d", "")]
        .iter()
        .enumerate()
        .map(|(i, (id, name))| NewUser {
            id: (*id).into(),
            name: (*name).into(),
            email: format!("{id}@example.com"),
            email_verified: true,
            image: (i == 0).then(|| "https://img.example/a.png".to_owned()),
            tag: format!("TAG{i:05}"),
            created_at: at(0),
        })
        .collect();
    store.insert_users(&users).await.unwrap();
}

async fn persist(store: &DynStore, lobby: &str, changes: Vec<Change>, t: i64) {
    store.persist_lobby_changes(&lid(lobby), &changes, at(t)).await.unwrap();
}

/// Lobby `lobby` named after it, hosted by `host`, on Europe and Océanie, created at `t`.
async fn create(store: &DynStore, lobby: &str, host: &str, t: i64) {
    let row = LobbyRow {
        id: lid(lobby),
        name: LobbyName::from_stored(format!("Lobby {lobby}")),
        host: uid(host),
        settings: settings(&[Region::Europe, Region::Oceanie]),
        authorized: vec![uid(host)],
        created_at: at(t),
    };
    let host = MemberRow { user: uid(host), status: PlayerStatus::Joined, joined_at: at(t) };
    persist(store, lobby, vec![Change::CreateLobby { lobby: row, host }], t).await;
}

fn join(user: &str, t: i64) -> Change {
    Change::AddMember(MemberRow { user: uid(user), status: PlayerStatus::Joined, joined_at: at(t) })
}

fn invitation(id: &str, inviter: &str, invitee: &str, t: i64, delivered: bool) -> InvitationRow {
    InvitationRow {
        id: InvitationId::parse(id).unwrap(),
        inviter: uid(inviter),
        invitee: uid(invitee),
        created_at: at(t),
        delivered,
    }
}

async fn load(store: &DynStore, lobby: &str) -> StoredLobby {
    store.load_lobby(&lid(lobby)).await.unwrap().expect("the lobby is stored")
}

fn members(lobby: &StoredLobby) -> Vec<(&str, PlayerStatus)> {
    lobby.members.iter().map(|m| (m.profile.id().as_str(), m.status)).collect()
}

fn ids(users: &[UserId]) -> Vec<&str> {
    users.iter().map(UserId::as_str).collect()
}

/// Oceania's first `n` required codes.
fn codes(n: usize) -> Vec<CountryCode> {
    Region::Oceanie.codes()[..n].to_vec()
}

fn progress(lobby: &str, user: &str, validated: usize, incorrect: usize) -> ProgressRow {
    let all = Region::Oceanie.codes();
    let total = all.len();
    let finished = validated + incorrect == total;
    ProgressRow {
        lobby: lid(lobby),
        user: uid(user),
        status: if finished { PlayerStatus::Finished } else { PlayerStatus::Playing },
        score: validated as u32,
        progress: (100 * (validated + incorrect) / total) as u8,
        validated: all[..validated].to_vec(),
        incorrect: all[validated..validated + incorrect].to_vec(),
        completion_secs: finished.then_some(42),
        flagged: false,
    }
}

fn start(t: i64) -> Change {
    Change::StartGame { start_time: at(t), required_codes: Region::Oceanie.codes().to_vec() }
}

fn result(user: &str, score: u32, completion: Option<u32>, position: u32, flagged: bool) -> ResultRow {
    ResultRow { user: uid(user), score, completion_secs: completion, position, flagged }
}

fn finish(started: i64, results: Vec<ResultRow>) -> Change {
    Change::FinishGame { game_started_at: at(started), total_questions: Region::Oceanie.codes().len() as u32, results }
}

async fn create_then_load(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    assert!(store.load_lobbies().await.unwrap().is_empty());
    assert_eq!(store.load_lobby(&lid("nope")).await.unwrap(), None);

    create(&store, "l1", "a", 10).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(lobby.id, lid("l1"));
    assert_eq!(lobby.name, "Lobby l1");
    assert_eq!(lobby.host, uid("a"));
    assert_eq!(lobby.status.as_str(), "waiting");
    assert_eq!(lobby.settings, settings(&[Region::Europe, Region::Oceanie]));
    assert_eq!(ids(&lobby.authorized), ["a"]);
    assert_eq!(lobby.start_time, None);
    assert!(lobby.required_codes.is_empty());
    assert_eq!(lobby.created_at, at(10));
    assert_eq!(members(&lobby), [("a", PlayerStatus::Joined)]);
    let host = &lobby.members[0];
    assert_eq!(
        (host.profile.name(), host.profile.image(), host.profile.tag()),
        ("Alice", Some("https://img.example/a.png"), "TAG00000")
    );
    assert_eq!(host.joined_at, at(10));
    assert!(lobby.invitations.is_empty() && lobby.results.is_empty());

    // A creation retried after a lost answer changes nothing.
    create(&store, "l1", "a", 10).await;
    assert_eq!(load(&store, "l1").await, lobby);

    create(&store, "l2", "b", 20).await;
    let all = store.load_lobbies().await.unwrap();
    assert_eq!(all.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["l1", "l2"]);
    assert_eq!(all[0], lobby);
}

async fn membership_host_settings_and_status(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i1", "a", "b", 1, false))], 1).await;
    persist(&store, "l1", vec![join("b", 2)], 2).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(members(&lobby), [("a", PlayerStatus::Joined), ("b", PlayerStatus::Joined)]);
    assert!(lobby.invitations.is_empty(), "joining ends the member's invitation");

    // A join retried after a lost answer is the same membership.
    persist(&store, "l1", vec![join("b", 2)], 2).await;
    assert_eq!(load(&store, "l1").await, lobby);

    persist(&store, "l1", vec![Change::SetMemberStatus { user: uid("b"), status: PlayerStatus::Ready }], 3).await;
    persist(&store, "l1", vec![Change::SetSettings(settings(&[]))], 4).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(members(&lobby), [("a", PlayerStatus::Joined), ("b", PlayerStatus::Ready)]);
    assert!(lobby.settings.regions.is_empty(), "a waiting lobby may have no region mid-edit");
    persist(
        &store,
        "l1",
        vec![Change::SetSettings(LobbySettings { regions: vec![Region::Asie], mode: GameMode::Training })],
        5,
    )
    .await;
    assert_eq!(
        load(&store, "l1").await.settings,
        LobbySettings { regions: vec![Region::Asie], mode: GameMode::Training }
    );

    // The host leaves: one transaction removes them and hands the role over.
    persist(&store, "l1", vec![Change::RemoveMember { user: uid("a") }, Change::TransferHost { host: uid("b") }], 6)
        .await;
    let lobby = load(&store, "l1").await;
    assert_eq!(lobby.host, uid("b"));
    assert_eq!(members(&lobby), [("b", PlayerStatus::Ready)]);
    assert_eq!(ids(&lobby.authorized), ["a", "b"], "a leaver stays authorised");
}

async fn start_progress_and_finish(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i1", "a", "b", 1, true)), join("b", 2)], 2).await;
    persist(&store, "l1", vec![Change::SetMemberStatus { user: uid("a"), status: PlayerStatus::Ready }], 3).await;
    persist(&store, "l1", vec![start(1_000)], 1_000).await;

    let lobby = load(&store, "l1").await;
    assert_eq!(lobby.status.as_str(), "playing");
    assert_eq!(lobby.start_time, Some(at(1_000)));
    assert_eq!(lobby.required_codes, Region::Oceanie.codes());
    assert_eq!(members(&lobby), [("a", PlayerStatus::Playing), ("b", PlayerStatus::Playing)]);

    let total = Region::Oceanie.codes().len();
    let mut a_done = progress("l1", "a", total - 1, 1);
    a_done.flagged = true;
    store
        .save_progress_batch(&[progress("l1", "a", 2, 1), progress("l1", "b", 1, 0), a_done], at(1_500))
        .await
        .unwrap();
    let lobby = load(&store, "l1").await;
    let a = &lobby.members[0];
    assert_eq!(a.status, PlayerStatus::Finished);
    assert_eq!(a.validated, codes(total - 1));
    assert_eq!(a.incorrect, Region::Oceanie.codes()[total - 1..].to_vec());
    assert_eq!((a.completion_secs, a.flagged), (Some(42), true));
    let b = &lobby.members[1];
    assert_eq!(b.status, PlayerStatus::Playing);
    assert_eq!(b.validated, codes(1));
    assert!(b.incorrect.is_empty());
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM lobby_players WHERE score = 6 AND progress = 100").await, 1);
    assert_eq!(raw.count("SELECT count(*) FROM lobby_players WHERE score = 1 AND progress = 14").await, 1);

    persist(
        &store,
        "l1",
        vec![finish(1_000, vec![result("a", total as u32 - 1, Some(42), 1, true), result("b", 1, None, 2, false)])],
        61_000,
    )
    .await;
    let lobby = load(&store, "l1").await;
    assert_eq!(lobby.status.as_str(), "finished");
    assert_eq!(lobby.start_time, Some(at(1_000)), "the finished game's start stays for its results");
    assert_eq!(
        lobby.results,
        [
            StoredResult { user: uid("a"), name: "Alice".into(), score: total as u32 - 1, completion_secs: Some(42) },
            StoredResult { user: uid("b"), name: "Bob".into(), score: 1, completion_secs: None },
        ]
    );
    assert_eq!(raw.count("SELECT count(*) FROM game_results").await, 2);

    // Progress that arrives after the end is not written: the lobby is no longer playing.
    store.save_progress_batch(&[progress("l1", "b", 3, 0)], at(62_000)).await.unwrap();
    assert_eq!(load(&store, "l1").await.members[1].validated, codes(1));
}

async fn finish_is_idempotent_and_keeps_the_first_results(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![start(100)], 100).await;
    let end = finish(100, vec![result("a", 3, None, 1, false)]);
    persist(&store, "l1", vec![end.clone()], 200).await;
    // The same transaction again (its commit's answer lost): no duplicate-key failure, nothing doubled.
    persist(&store, "l1", vec![end], 300).await;
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM game_results").await, 1);
    let games = store.games_of_user(&uid("a"), 10, None).await.unwrap();
    assert_eq!(games.len(), 1);
    assert_eq!(games[0].ended_at, at(200), "the first write stands");
}

async fn restart_removes_away_members_and_resets_the_rest(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![join("b", 1), join("c", 2)], 2).await;
    persist(&store, "l1", vec![start(100)], 100).await;
    let mut flagged = progress("l1", "a", 7, 0);
    flagged.flagged = true;
    store.save_progress_batch(&[flagged, progress("l1", "b", 2, 2)], at(150)).await.unwrap();
    persist(
        &store,
        "l1",
        vec![finish(100, vec![result("a", 7, Some(42), 1, true), result("b", 2, None, 2, false)])],
        200,
    )
    .await;

    persist(&store, "l1", vec![Change::RestartGame { removed: vec![uid("c")] }], 300).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(lobby.status.as_str(), "waiting");
    assert_eq!((lobby.start_time, lobby.required_codes.len()), (None, 0));
    assert_eq!(members(&lobby), [("a", PlayerStatus::Joined), ("b", PlayerStatus::Joined)]);
    for m in &lobby.members {
        assert!(m.validated.is_empty() && m.incorrect.is_empty() && m.completion_secs.is_none() && !m.flagged);
    }
    assert!(lobby.results.is_empty(), "a waiting lobby shows no results");
    assert_eq!(store.games_of_user(&uid("b"), 10, None).await.unwrap().len(), 1, "earlier results stay stored");

    // The next game starts clean as well.
    persist(&store, "l1", vec![start(400)], 400).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(members(&lobby), [("a", PlayerStatus::Playing), ("b", PlayerStatus::Playing)]);
    assert!(lobby.members.iter().all(|m| m.validated.is_empty() && !m.flagged));
}

async fn reset_empty_clears_the_game(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![start(100)], 100).await;
    persist(&store, "l1", vec![Change::RemoveMember { user: uid("a") }, Change::ResetEmpty], 200).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(lobby.status.as_str(), "waiting");
    assert_eq!((lobby.start_time, lobby.required_codes.len(), lobby.members.len()), (None, 0, 0));
    assert_eq!(lobby.host, uid("a"), "the stored host stays, naming nobody");
}

async fn invitations_replace_and_end(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![join("b", 1)], 1).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i1", "a", "c", 10, false))], 10).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(ids(&lobby.authorized), ["a", "c"]);
    assert_eq!(
        lobby.invitations,
        [StoredInvitation { row: invitation("i1", "a", "c", 10, false), inviter_name: "Alice".into() }]
    );

    // A newer invitation from another member replaces it; the invitee is listed once.
    persist(&store, "l1", vec![Change::Invite(invitation("i2", "b", "c", 20, false))], 20).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(ids(&lobby.authorized), ["a", "c"]);
    assert_eq!(
        lobby.invitations,
        [StoredInvitation { row: invitation("i2", "b", "c", 20, false), inviter_name: "Bob".into() }]
    );
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM lobby_invitations").await, 1);

    // Delivered at once: stored, but nothing left to deliver.
    persist(&store, "l1", vec![Change::Invite(invitation("i3", "a", "d", 30, true))], 30).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(ids(&lobby.authorized), ["a", "c", "d"]);
    assert_eq!(lobby.invitations.len(), 1);

    // Delivered later, or found expired: it ends.
    persist(&store, "l1", vec![Change::InvitationEnded { invitation: InvitationId::parse("i2").unwrap() }], 40).await;
    let lobby = load(&store, "l1").await;
    assert!(lobby.invitations.is_empty());
    assert_eq!(ids(&lobby.authorized), ["a", "c", "d"], "the invitee stays authorised");

    // An inviter with an empty name shows the fallback.
    persist(&store, "l1", vec![join("d", 50), Change::Invite(invitation("i4", "d", "c", 50, false))], 50).await;
    assert_eq!(load(&store, "l1").await.invitations[0].inviter_name, "Joueur");
}

async fn kick_revokes_everything(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i1", "a", "b", 1, false)), join("b", 2)], 2).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i2", "a", "c", 3, false))], 3).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i3", "b", "d", 4, false))], 4).await;

    persist(&store, "l1", vec![Change::Kick { user: uid("b"), was_member: true }], 5).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(members(&lobby), [("a", PlayerStatus::Joined)]);
    assert_eq!(ids(&lobby.authorized), ["a", "c", "d"], "the others keep their order");
    assert_eq!(lobby.invitations.len(), 2, "the invitations the kicked player sent stand");

    persist(&store, "l1", vec![Change::Kick { user: uid("c"), was_member: false }], 6).await;
    let lobby = load(&store, "l1").await;
    assert_eq!(ids(&lobby.authorized), ["a", "d"]);
    assert_eq!(lobby.invitations.iter().map(|i| i.row.invitee.as_str()).collect::<Vec<_>>(), ["d"]);
    assert!(store.lobbies_of_user(&uid("c"), at(0)).await.unwrap().is_empty());
}

async fn delete_keeps_results(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![join("b", 1), Change::Invite(invitation("i1", "a", "c", 1, false))], 1).await;
    persist(&store, "l1", vec![start(100)], 100).await;
    persist(
        &store,
        "l1",
        vec![finish(100, vec![result("a", 5, Some(30), 1, false), result("b", 5, Some(40), 1, false)])],
        200,
    )
    .await;

    persist(&store, "l1", vec![Change::DeleteLobby], 300).await;
    assert_eq!(store.load_lobby(&lid("l1")).await.unwrap(), None);
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM lobby_players").await, 0);
    assert_eq!(raw.count("SELECT count(*) FROM lobby_invitations").await, 0);
    let games = store.games_of_user(&uid("b"), 10, None).await.unwrap();
    assert_eq!(games.len(), 1, "results outlive their lobby");
    assert_eq!(games[0].lobby_name, "Lobby l1");
    assert_eq!(games[0].regions, [Region::Europe, Region::Oceanie]);

    // Deleting again (a retried transaction) is done already.
    persist(&store, "l1", vec![Change::DeleteLobby], 400).await;
}

async fn progress_batch_skips_vanished_rows(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    for (lobby, host) in [("playing", "a"), ("gone", "b"), ("waiting", "c")] {
        create(&store, lobby, host, 0).await;
    }
    persist(&store, "playing", vec![join("d", 1)], 1).await;
    persist(&store, "playing", vec![start(100)], 100).await;
    persist(&store, "gone", vec![start(100)], 100).await;
    persist(&store, "gone", vec![Change::DeleteLobby], 200).await;
    persist(&store, "playing", vec![Change::RemoveMember { user: uid("d") }], 200).await;

    let rows = [
        progress("gone", "b", 1, 0),
        progress("playing", "d", 1, 0),
        progress("waiting", "c", 1, 0),
        progress("playing", "a", 2, 0),
        progress("nowhere", "z", 1, 0),
    ];
    store.save_progress_batch(&rows, at(300)).await.unwrap();
    store.save_progress_batch(&[], at(300)).await.unwrap();
    let playing = load(&store, "playing").await;
    assert_eq!(members(&playing), [("a", PlayerStatus::Playing)]);
    assert_eq!(playing.members[0].validated, codes(2));
    assert!(load(&store, "waiting").await.members[0].validated.is_empty(), "a waiting lobby takes no progress");
}

async fn progress_batch_last_row_wins_across_lobbies(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    // 40 lobbies of the same two players, two rows each per batch.
    let lobbies: Vec<String> = (0..40).map(|i| format!("l{i:02}")).collect();
    for (i, lobby) in lobbies.iter().enumerate() {
        create(&store, lobby, "a", i as i64).await;
        persist(&store, lobby, vec![join("b", i as i64), start(1_000)], 1_000).await;
    }
    let mut rows = Vec::new();
    for (i, lobby) in lobbies.iter().enumerate() {
        rows.push(progress(lobby, "a", 1, 0));
        rows.push(progress(lobby, "b", i % 7, 0));
        rows.push(progress(lobby, "a", 1 + i % 6, 1));
    }
    store.save_progress_batch(&rows, at(2_000)).await.unwrap();
    for (i, stored) in store.load_lobbies().await.unwrap().iter().enumerate() {
        assert_eq!(stored.members[0].validated, codes(1 + i % 6), "{}", stored.id);
        assert_eq!(stored.members[0].incorrect.len(), 1);
        assert_eq!(stored.members[1].validated, codes(i % 7));
    }
}

async fn restore_round_trips_every_field(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 5).await;
    persist(&store, "l1", vec![join("b", 6), join("d", 7), Change::TransferHost { host: uid("b") }], 7).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i1", "b", "c", 8, false))], 8).await;
    persist(&store, "l1", vec![start(10)], 10).await;
    let mut b = progress("l1", "b", 3, 2);
    b.flagged = true;
    store.save_progress_batch(&[b], at(20)).await.unwrap();

    let lobby = load(&store, "l1").await;
    let expected = StoredLobby {
        id: lid("l1"),
        name: "Lobby l1".into(),
        host: uid("b"),
        status: lobby.status,
        settings: settings(&[Region::Europe, Region::Oceanie]),
        authorized: vec![uid("a"), uid("c")],
        start_time: Some(at(10)),
        required_codes: Region::Oceanie.codes().iter().map(|c| (*c).to_owned()).collect(),
        created_at: at(5),
        members: lobby.members.clone(),
        invitations: vec![StoredInvitation { row: invitation("i1", "b", "c", 8, false), inviter_name: "Bob".into() }],
        results: vec![],
    };
    assert_eq!(lobby, expected);
    assert_eq!(lobby.status.as_str(), "playing");
    let all = Region::Oceanie.codes();
    let [a, b, d] = &lobby.members[..] else { panic!("three members: {:?}", lobby.members) };
    assert_eq!((a.profile.id().as_str(), a.joined_at, a.status), ("a", at(5), PlayerStatus::Playing));
    assert_eq!((b.profile.id().as_str(), b.joined_at, b.status), ("b", at(6), PlayerStatus::Playing));
    assert_eq!(b.validated, all[..3]);
    assert_eq!(b.incorrect, all[3..5]);
    assert_eq!((b.completion_secs, b.flagged), (None, true));
    assert_eq!((b.profile.name(), b.profile.image(), b.profile.tag()), ("Bob", None, "TAG00001"));
    assert_eq!((d.profile.id().as_str(), d.profile.name(), d.joined_at), ("d", "Joueur", at(7)));

    // The lobby restored by the rules answers as stored.
    let (restored, _) = mapquiz_domain::lobby::Lobby::restore(lobby.clone(), Default::default(), at(100));
    assert!(restored.next_deadline().is_some(), "grace timers run from start-up");
}

async fn changes_to_a_missing_lobby(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    let err = store.persist_lobby_changes(&lid("nope"), &[join("a", 0)], at(0)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err =
        store.persist_lobby_changes(&lid("nope"), &[Change::TransferHost { host: uid("a") }], at(0)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    store.persist_lobby_changes(&lid("nope"), &[Change::DeleteLobby], at(0)).await.unwrap();
    store.persist_lobby_changes(&lid("nope"), &[], at(0)).await.unwrap();

    // A failing change rolls the whole transaction back.
    create(&store, "l1", "a", 0).await;
    let err = store.persist_lobby_changes(&lid("l1"), &[join("b", 1), join("ghost", 1)], at(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(members(&load(&store, "l1").await), [("a", PlayerStatus::Joined)]);
}

async fn a_group_commit_stores_many_lobbies_at_once(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    create(&store, "l2", "b", 0).await;
    persist(&store, "l1", vec![join("c", 1), start(100)], 100).await;

    // Progress of l1 first, then l1's end, a change to a lobby that is gone, a creation and a join, in an order
    // that is not the lobbies' (the store sorts them, the outcomes keep the callers' order).
    let results = vec![result("a", 3, Some(40), 1, false), result("c", 0, None, 2, false)];
    let (l1, l2, l3, gone) = (lid("l1"), lid("l2"), lid("l3"), lid("gone"));
    let l3_creation = {
        let row = LobbyRow {
            id: lid("l3"),
            name: LobbyName::from_stored("Lobby l3".into()),
            host: uid("d"),
            settings: settings(&[Region::Oceanie]),
            authorized: vec![uid("d")],
            created_at: at(200),
        };
        let host = MemberRow { user: uid("d"), status: PlayerStatus::Joined, joined_at: at(200) };
        vec![Change::CreateLobby { lobby: row, host }]
    };
    let l1_end = [finish(100, results)];
    let gone_join = [join("a", 200)];
    let l2_join = [join("d", 200)];
    let l1_progress = [progress("l1", "a", 3, 0)];
    let part = |lobby, progress, changes| LobbyWrite { lobby, fence: None, progress, changes };
    let writes = [
        part(&l3, &[], &l3_creation),
        part(&l1, &l1_progress, &l1_end),
        part(&gone, &[], &gone_join),
        part(&l2, &[], &l2_join),
    ];
    let outcomes = store.persist_lobby_group(&writes, at(200)).await.unwrap();
    use WriteOutcome::{LobbyGone, Stored};
    assert_eq!(outcomes, [Stored, Stored, LobbyGone, Stored]);
    assert_eq!(load(&store, "l3").await.host, uid("d"));
    assert_eq!(members(&load(&store, "l2").await), [("b", PlayerStatus::Joined), ("d", PlayerStatus::Joined)]);
    let l1 = load(&store, "l1").await;
    assert_eq!(l1.status.as_str(), "finished");
    assert_eq!(l1.members[0].validated, codes(3), "the progress was stored before the end that froze it");
    assert_eq!(l1.results.iter().map(|r| (r.user.as_str(), r.score)).collect::<Vec<_>>(), [("a", 3), ("c", 0)]);

    // A failing write rolls the whole group back, progress included.
    let bad = [join("ghost", 300)];
    let l2_settings = [Change::SetSettings(settings(&[Region::Europe]))];
    let writes = [part(&l2, &[], &l2_settings), part(&l3, &[], &bad)];
    let err = store.persist_lobby_group(&writes, at(300)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(load(&store, "l2").await.settings, settings(&[Region::Europe, Region::Oceanie]));
    assert_eq!(store.persist_lobby_group(&[], at(300)).await.unwrap(), []);
}

/// Several nodes (issue 13): the owner of the newest fencing token writes; an older owner's progress and
/// changes are skipped as `Fenced`, whatever else its group carries.
async fn fences_refuse_an_older_owner(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    create(&store, "l2", "b", 0).await;
    persist(&store, "l1", vec![join("c", 1), start(100)], 100).await;
    persist(&store, "l2", vec![join("d", 1), start(100)], 100).await;
    let (l1, l2) = (lid("l1"), lid("l2"));
    use WriteOutcome::{Fenced, LobbyGone, Stored};

    // Owner 1 writes; owner 2 claims l1; owner 1 can no longer write l1, but its l2 part goes through.
    let a1 = [progress("l1", "a", 1, 0)];
    let write = |lobby, fence, progress, changes| LobbyWrite { lobby, fence: Some(fence), progress, changes };
    assert_eq!(store.persist_lobby_group(&[write(&l1, 1, &a1, &[])], at(200)).await.unwrap(), [Stored]);
    assert_eq!(store.claim_lobby(&l1, 2).await.unwrap(), Stored);
    assert_eq!(store.claim_lobby(&l1, 2).await.unwrap(), Stored, "a claim is idempotent");
    assert_eq!(store.claim_lobby(&l1, 1).await.unwrap(), Fenced);
    assert_eq!(store.claim_lobby(&lid("nope"), 1).await.unwrap(), LobbyGone);
    assert_eq!(store.lobby_ids().await.unwrap(), [lid("l1"), lid("l2")]);

    let stale = [progress("l1", "a", 5, 0)];
    let stale_kick = [Change::Kick { user: uid("c"), was_member: true }];
    let d2 = [progress("l2", "d", 2, 0)];
    let outcomes = store
        .persist_lobby_group(&[write(&l1, 1, &stale, &stale_kick), write(&l2, 1, &d2, &[])], at(300))
        .await
        .unwrap();
    assert_eq!(outcomes, [Fenced, Stored]);
    let stored = load(&store, "l1").await;
    assert_eq!(stored.members[0].validated, codes(1), "the stale owner's progress was not stored");
    assert_eq!(members(&stored).len(), 2, "nor its kick");
    assert_eq!(load(&store, "l2").await.members[1].validated, codes(2));

    // The new owner writes; a write without a fence (one node) is never checked.
    let a3 = [progress("l1", "a", 3, 0)];
    assert_eq!(store.persist_lobby_group(&[write(&l1, 2, &a3, &[])], at(400)).await.unwrap(), [Stored]);
    assert_eq!(load(&store, "l1").await.members[0].validated, codes(3));
    persist(&store, "l1", vec![Change::TransferHost { host: uid("c") }], 500).await;
    assert_eq!(load(&store, "l1").await.host, uid("c"));
}

async fn lobbies_of_a_user(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    create(&store, "l1", "a", 0).await;
    create(&store, "l2", "b", 0).await;
    create(&store, "l3", "c", 0).await;
    create(&store, "l4", "d", 0).await;
    persist(&store, "l1", vec![Change::Invite(invitation("i1", "a", "c", 1_000, false))], 1_000).await;
    persist(&store, "l2", vec![Change::Invite(invitation("i2", "b", "c", 5_000, false))], 5_000).await;
    persist(&store, "l4", vec![Change::Invite(invitation("i4", "d", "c", 6_000, true))], 6_000).await;

    let of = |user: &'static str, since: i64| {
        let store = store.clone();
        async move {
            let ids = store.lobbies_of_user(&uid(user), at(since)).await.unwrap();
            ids.into_iter().map(LobbyId::into_string).collect::<Vec<_>>()
        }
    };
    assert_eq!(of("c", 0).await, ["l1", "l2", "l3"], "member of l3, invited to l1 and l2; l4's was delivered");
    assert_eq!(of("c", 2_000).await, ["l2", "l3"], "l1's invitation is too old");
    assert_eq!(of("a", 0).await, ["l1"]);
    persist(&store, "l2", vec![join("c", 7_000)], 7_000).await;
    assert_eq!(of("c", 2_000).await, ["l2", "l3"], "now a member of l2, listed once");
    assert!(of("z", 0).await.is_empty());
}

async fn game_history_pages_newest_first_without_emails(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store).await;
    // Three games with b: l1 (a, b), l2 (b, c, d: tied first), and l1 again after a restart; one without b.
    create(&store, "l1", "a", 0).await;
    persist(&store, "l1", vec![join("b", 1), start(1_000)], 1_000).await;
    persist(
        &store,
        "l1",
        vec![finish(1_000, vec![result("a", 7, Some(50), 1, false), result("b", 3, None, 2, true)])],
        91_000,
    )
    .await;
    create(&store, "l2", "b", 2_000).await;
    persist(&store, "l2", vec![join("c", 2_001), join("d", 2_002), start(3_000)], 3_000).await;
    persist(
        &store,
        "l2",
        vec![finish(
            3_000,
            vec![
                result("c", 5, Some(20), 1, false),
                result("b", 5, Some(30), 1, false),
                result("d", 0, None, 3, false),
            ],
        )],
        33_000,
    )
    .await;
    persist(&store, "l1", vec![Change::RestartGame { removed: vec![] }, start(100_000)], 100_000).await;
    persist(
        &store,
        "l1",
        vec![finish(100_000, vec![result("b", 7, Some(10), 1, false), result("a", 6, None, 2, false)])],
        130_000,
    )
    .await;
    create(&store, "l3", "c", 0).await;
    persist(&store, "l3", vec![start(200_000)], 200_000).await;
    persist(&store, "l3", vec![finish(200_000, vec![result("c", 1, None, 1, false)])], 201_000).await;

    let page1 = store.games_of_user(&uid("b"), 2, None).await.unwrap();
    let page2 = store.games_of_user(&uid("b"), 2, Some(page1[1].cursor())).await.unwrap();
    let page3 = store.games_of_user(&uid("b"), 2, Some(page2[0].cursor())).await.unwrap();
    let starts = |games: &[GameRecord]| games.iter().map(|g| (g.lobby.to_string(), g.started_at)).collect::<Vec<_>>();
    assert_eq!(starts(&page1), [("l1".into(), at(100_000)), ("l2".into(), at(3_000))]);
    assert_eq!(starts(&page2), [("l1".into(), at(1_000))]);
    assert!(page3.is_empty());
    assert!(store.games_of_user(&uid("b"), 0, None).await.unwrap().is_empty());

    let tied = &page1[1];
    assert_eq!(
        (tied.lobby_name.as_str(), tied.regions.clone(), tied.mode),
        ("Lobby l2", vec![Region::Europe, Region::Oceanie], GameMode::Quiz)
    );
    assert_eq!((tied.ended_at, tied.duration_secs(), tied.total_questions), (at(33_000), 30, 7));
    let players: Vec<_> = tied
        .players
        .iter()
        .map(|p| (p.profile.id().as_str(), p.profile.name(), p.rank, p.score, p.completion_secs))
        .collect();
    assert_eq!(
        players,
        [("c", "Chloé", 1, 5, Some(20)), ("b", "Bob", 1, 5, Some(30)), ("d", "Joueur", 3, 0, None)],
        "by rank, then completion time"
    );
    let oldest = &page2[0];
    assert_eq!(
        oldest.players.iter().map(|p| (p.profile.id().as_str(), p.flagged)).collect::<Vec<_>>(),
        [("a", false), ("b", true)]
    );
    assert_eq!(oldest.players[0].profile.image(), Some("https://img.example/a.png"));
    assert_eq!(oldest.players[0].profile.tag(), "TAG00000");

    // The history names players by public fields only.
    let shown = format!("{page1:?}{page2:?}");
    assert!(!shown.contains("@example.com"), "no email in {shown}");

    // A cursor from between two games continues after it.
    let cursor = GameCursor { started_at: at(50_000), lobby: lid("zz") };
    assert_eq!(
        starts(&store.games_of_user(&uid("b"), 10, Some(cursor)).await.unwrap()),
        [("l2".into(), at(3_000)), ("l1".into(), at(1_000))]
    );
    assert_eq!(store.games_of_user(&uid("a"), 10, None).await.unwrap().len(), 2);
}
