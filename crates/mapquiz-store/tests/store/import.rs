//! Imports from the original server: each row classified against what the database holds, a second import
//! writing nothing, a dry run writing nothing at all; identical on both backends.

use crate::{at, migrated, on_both_backends};
use mapquiz_store::{
    Account, BoardKey, BoardPeriod, BoardScope, DynStore, ImportConflict, ImportFriendship, ImportMode, ImportRequest,
    ImportSession, ImportUser, Imported, NewScore, NewUser, RequestStatus,
};
use std::collections::HashSet;

on_both_backends!(
    users_are_inserted_updated_or_left_and_clashes_reported,
    a_dry_run_writes_nothing,
    a_taken_spare_tag_is_an_error_and_writes_nothing,
    batches_longer_than_one_statement,
    accounts_sessions_and_their_users,
    friendships_both_ways_once,
    requests_keep_one_pending_per_pair,
    games_and_their_bests_are_written_once,
);

fn original(i: usize) -> ImportUser {
    ImportUser {
        id: format!("orig{i:028}"),
        name: format!("Joueur {i}"),
        email: format!("p{i}@example.com"),
        email_verified: true,
        image: None,
        tag: Some(format!("ABCDEF{i:02}").replace('0', "Z").replace('1', "Y")),
        spare_tag: format!("SPARE{i:03}").replace('0', "Z").replace('1', "Y"),
        last_seen: Some(at(-5)),
        created_at: at(-100),
        updated_at: at(-10),
    }
}

async fn import_users(store: &DynStore, users: &[ImportUser]) -> Vec<Imported> {
    store.import_users(users, ImportMode::Write).await.unwrap()
}

async fn users_are_inserted_updated_or_left_and_clashes_reported(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    // A player who signed up on the new server already holds user 2's tag and user 3's email.
    store
        .insert_users(&[NewUser {
            id: "native".into(),
            name: "Native".into(),
            email: "p3@example.com".into(),
            email_verified: false,
            image: None,
            tag: original(2).tag.unwrap(),
            created_at: at(0),
        }])
        .await
        .unwrap();
    let batch = vec![original(1), original(2), original(3), ImportUser { tag: None, ..original(4) }];
    assert_eq!(
        import_users(&store, &batch).await,
        vec![
            Imported::New,
            Imported::NewWithSpareTag,
            Imported::Conflict(ImportConflict::EmailTaken),
            Imported::NewWithSpareTag
        ]
    );
    let one = store.user_by_id(&original(1).id).await.unwrap().unwrap();
    assert_eq!((one.tag, one.is_online, one.last_seen), (original(1).tag, false, Some(at(-5))));
    let two = store.user_by_id(&original(2).id).await.unwrap().unwrap();
    assert_eq!(two.tag.as_deref(), Some(original(2).spare_tag.as_str()));
    assert!(store.user_by_id(&original(3).id).await.unwrap().is_none(), "no silent merge");

    // Again: nothing changes. With a newer updated_at: the profile is updated, the tag kept.
    assert!(import_users(&store, &batch[..2]).await.iter().all(|o| *o == Imported::Unchanged));
    let renamed = ImportUser { name: "Ada".into(), updated_at: at(-1), ..original(2) };
    assert_eq!(import_users(&store, &[renamed]).await, vec![Imported::Updated]);
    let two = store.user_by_id(&original(2).id).await.unwrap().unwrap();
    assert_eq!((two.name.as_str(), two.tag.as_deref()), ("Ada", Some(original(2).spare_tag.as_str())));

    // Two rows of one batch wanting the same email: the first wins.
    let twin = ImportUser { id: "twin".into(), ..original(5) };
    assert_eq!(
        import_users(&store, &[original(5), twin]).await,
        vec![Imported::New, Imported::Conflict(ImportConflict::EmailTaken)]
    );
}

async fn a_taken_spare_tag_is_an_error_and_writes_nothing(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    import_users(&store, &[original(1)]).await;
    // User 2 has no tag of its own and was given user 1's as its spare: the caller must draw again.
    let clash = ImportUser { tag: None, spare_tag: original(1).tag.unwrap(), ..original(2) };
    let err = store.import_users(&[original(3), clash], ImportMode::Write).await.unwrap_err();
    assert!(matches!(err, mapquiz_store::StoreError::Conflict("users_tag_key")), "{err:?}");
    assert!(store.user_by_id(&original(3).id).await.unwrap().is_none(), "the batch is all or nothing");
}

/// More rows than one multi-row statement takes (2,000): users have 11 columns, past SQLite's 32,766
/// parameters in one statement.
async fn batches_longer_than_one_statement(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    let n = 4_500;
    let users: Vec<ImportUser> =
        (0..n).map(|i| ImportUser { tag: None, spare_tag: tag_of(i), ..original(i) }).collect();
    let outcomes = import_users(&store, &users).await;
    assert_eq!(outcomes.iter().filter(|o| **o == Imported::NewWithSpareTag).count(), n);
    let pairs: Vec<ImportFriendship> = (1..n)
        .map(|i| ImportFriendship { user_id: original(0).id, friend_id: original(i).id, created_at: at(0) })
        .collect();
    let outcomes = store.import_friendships(&pairs, ImportMode::Write).await.unwrap();
    assert!(outcomes.iter().all(|o| *o == Imported::New));
    assert_eq!(store.friends(&original(0).id, 10_000).await.unwrap().len(), n - 1);
    assert!(store.are_friends(&original(n - 1).id, &original(0).id).await.unwrap());
}

/// `i` as a tag: eight digits in base 32, written with the tag alphabet's symbols (distinct for distinct `i`).
fn tag_of(i: usize) -> String {
    const SYMBOLS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..8).map(|digit| char::from(SYMBOLS[(i >> (5 * digit)) % 32])).collect()
}

async fn a_dry_run_writes_nothing(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    assert_eq!(
        store.import_users(&[original(1)], ImportMode::DryRun { planned_users: &HashSet::new() }).await.unwrap(),
        vec![Imported::New]
    );
    assert!(store.user_by_id(&original(1).id).await.unwrap().is_none());
    assert_eq!(
        store.import_users(&[original(1)], ImportMode::DryRun { planned_users: &HashSet::new() }).await.unwrap(),
        vec![Imported::New],
        "still new"
    );
    let game = game("g1", &original(1).id, 5);
    let nobody = HashSet::new();
    assert_eq!(
        store.import_scores(std::slice::from_ref(&game), ImportMode::DryRun { planned_users: &nobody }).await.unwrap(),
        vec![Imported::MissingUser]
    );
    // The users a dry run would have written count as present: their rows are classified, not written.
    let planned = HashSet::from([original(1).id, original(2).id]);
    let dry = ImportMode::DryRun { planned_users: &planned };
    assert_eq!(store.import_scores(&[game], dry).await.unwrap(), vec![Imported::New]);
    let request = |id: &str, from: usize, to: usize| ImportRequest {
        id: id.into(),
        sender_id: original(from).id,
        receiver_id: original(to).id,
        status: RequestStatus::Pending,
        created_at: at(0),
        updated_at: at(0),
    };
    assert_eq!(
        store.import_friend_requests(&[request("r1", 1, 2), request("r2", 2, 1)], dry).await.unwrap(),
        vec![Imported::New, Imported::Conflict(ImportConflict::PendingBothWays)]
    );
    assert_eq!(store.score_stats(&original(1).id).await.unwrap().total_games, 0);
    import_users(&store, &[original(1)]).await;
    assert_eq!(
        store.import_scores(&[game_of(1)], ImportMode::DryRun { planned_users: &HashSet::new() }).await.unwrap(),
        vec![Imported::New]
    );
    assert_eq!(store.score_stats(&original(1).id).await.unwrap().total_games, 0);
}

fn game_of(i: usize) -> NewScore {
    game(&format!("g{i}"), &original(i).id, 5)
}

fn game(id: &str, user_id: &str, score: i32) -> NewScore {
    NewScore {
        id: id.into(),
        user_id: user_id.into(),
        score,
        total_questions: 10,
        selected_regions: vec!["Europe".into()],
        regions_key: "Europe".into(),
        game_mode: "quiz".into(),
        duration: Some(60),
        created_at: at(0),
        boards: vec![BoardPeriod { period: "all".into(), period_start: String::new() }],
    }
}

async fn accounts_sessions_and_their_users(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    import_users(&store, &[original(1), original(2)]).await;
    let google = |id: &str, user: usize, sub: &str| Account {
        id: id.into(),
        user_id: original(user).id,
        provider_id: "google".into(),
        account_id: sub.into(),
        password_hash: None,
        created_at: at(0),
        updated_at: at(0),
    };
    let accounts = vec![google("a1", 1, "sub-1"), google("a2", 2, "sub-1"), google("a3", 9, "sub-9")];
    assert_eq!(
        store.import_accounts(&accounts, ImportMode::Write).await.unwrap(),
        vec![Imported::New, Imported::Conflict(ImportConflict::SubjectTaken), Imported::MissingUser]
    );
    assert_eq!(store.import_accounts(&accounts[..1], ImportMode::Write).await.unwrap(), vec![Imported::Unchanged]);
    assert_eq!(store.account("google", "sub-1").await.unwrap().unwrap().user_id, original(1).id);

    let session = |id: &str, user: usize, hash: &str| ImportSession {
        id: id.into(),
        token_hash: hash.into(),
        user_id: original(user).id,
        expires_at: at(86_400_000),
        ip_address: Some("203.0.113.9".into()),
        user_agent: None,
        created_at: at(-10),
        updated_at: at(-10),
    };
    let sessions = vec![session("s1", 1, "h1"), session("s2", 2, "h1"), session("s3", 9, "h3")];
    assert_eq!(
        store.import_sessions(&sessions, ImportMode::Write).await.unwrap(),
        vec![Imported::New, Imported::Conflict(ImportConflict::TokenTaken), Imported::MissingUser]
    );
    let found = store.session_by_token_hash("h1").await.unwrap().expect("the imported session");
    assert_eq!(found.session.user_id, original(1).id);
    let extended = ImportSession { expires_at: at(2 * 86_400_000), updated_at: at(-1), ..session("s1", 1, "h1") };
    assert_eq!(store.import_sessions(&[extended], ImportMode::Write).await.unwrap(), vec![Imported::Updated]);
    assert_eq!(store.import_sessions(&sessions[..1], ImportMode::Write).await.unwrap(), vec![Imported::Unchanged]);
}

async fn friendships_both_ways_once(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    import_users(&store, &[original(1), original(2), original(3)]).await;
    let pair =
        |a: usize, b: usize| ImportFriendship { user_id: original(a).id, friend_id: original(b).id, created_at: at(0) };
    assert_eq!(
        store.import_friendships(&[pair(1, 2), pair(2, 9)], ImportMode::Write).await.unwrap(),
        vec![Imported::New, Imported::MissingUser]
    );
    assert_eq!(store.import_friendships(&[pair(2, 1)], ImportMode::Write).await.unwrap(), vec![Imported::Unchanged]);
    for (a, b) in [(1, 2), (2, 1)] {
        assert!(store.are_friends(&original(a).id, &original(b).id).await.unwrap(), "{a} and {b}");
    }
    assert!(!store.are_friends(&original(1).id, &original(3).id).await.unwrap());
}

async fn requests_keep_one_pending_per_pair(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    import_users(&store, &[original(1), original(2), original(3)]).await;
    let request = |id: &str, from: usize, to: usize, status: RequestStatus| ImportRequest {
        id: id.into(),
        sender_id: original(from).id,
        receiver_id: original(to).id,
        status,
        created_at: at(0),
        updated_at: at(0),
    };
    let batch = vec![
        request("r1", 1, 2, RequestStatus::Pending),
        request("r2", 2, 1, RequestStatus::Pending),
        request("r3", 1, 2, RequestStatus::Rejected),
        request("r4", 3, 1, RequestStatus::Accepted),
        request("r5", 9, 1, RequestStatus::Pending),
    ];
    assert_eq!(
        store.import_friend_requests(&batch, ImportMode::Write).await.unwrap(),
        vec![
            Imported::New,
            Imported::Conflict(ImportConflict::PendingBothWays),
            Imported::Conflict(ImportConflict::PairTaken),
            Imported::New,
            Imported::MissingUser
        ]
    );
    let accepted = ImportRequest { updated_at: at(5), ..request("r1", 1, 2, RequestStatus::Accepted) };
    assert_eq!(store.import_friend_requests(&[accepted], ImportMode::Write).await.unwrap(), vec![Imported::Updated]);
    assert_eq!(store.import_friend_requests(&batch[..1], ImportMode::Write).await.unwrap(), vec![Imported::Unchanged]);
    assert!(store.incoming_friend_requests(&original(2).id, 10).await.unwrap().is_empty(), "r1 is accepted now");
}

async fn games_and_their_bests_are_written_once(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    import_users(&store, &[original(1), original(2)]).await;
    let games = vec![game("g1", &original(1).id, 5), game("g2", &original(1).id, 9), game("g3", "nobody", 10)];
    assert_eq!(
        store.import_scores(&games, ImportMode::Write).await.unwrap(),
        vec![Imported::New, Imported::New, Imported::MissingUser]
    );
    // Again, and a game of the same id twice in one batch: nothing is written twice.
    let again = vec![games[0].clone(), game("g4", &original(2).id, 7), game("g4", &original(2).id, 7)];
    assert_eq!(
        store.import_scores(&again, ImportMode::Write).await.unwrap(),
        vec![Imported::Unchanged, Imported::New, Imported::Unchanged]
    );
    assert_eq!(store.score_stats(&original(1).id).await.unwrap().total_games, 2);
    assert_eq!(store.score_stats(&original(2).id).await.unwrap().total_games, 1);
    let board = BoardKey {
        regions_key: "Europe".into(),
        period: BoardPeriod { period: "all".into(), period_start: String::new() },
    };
    let top = store.leaderboard_top(&board, &BoardScope::Global, 10).await.unwrap();
    let ranked: Vec<(String, i32, i64)> = top.iter().map(|e| (e.user.id.clone(), e.score, e.rank)).collect();
    assert_eq!(ranked, vec![(original(1).id, 9, 1), (original(2).id, 7, 2)]);
}
