//! Solo scores, history, statistics and leaderboards: identical on both backends.

use crate::{Raw, at, migrated, on_both_backends};
use mapquiz_domain::Timestamp;
use mapquiz_store::{
    BoardEntry, BoardKey, BoardPeriod, BoardScope, DynStore, NewScore, NewUser, Score, ScoreStats, StoreError,
};

on_both_backends!(
    insert_and_read_back,
    history_newest_first_with_equal_times_and_limit,
    stats_aggregate_all_games,
    best_per_player_is_maintained,
    boards_and_periods_are_independent,
    training_games_are_on_no_board,
    ranking_shares_ties,
    around_matches_a_full_ranking,
    around_without_an_entry_is_empty,
    around_at_the_top_and_bottom,
    friends_scope_ranks_within_the_scope,
    bulk_insert_equals_one_by_one,
    a_group_equals_one_by_one,
    insert_users_creates_every_user,
    deleted_players_leave_the_ranks,
);

fn new_user(i: usize) -> NewUser {
    NewUser {
        id: user(i),
        name: format!("Joueur {i}"),
        email: format!("p{i}@example.com"),
        email_verified: i.is_multiple_of(2),
        image: i.is_multiple_of(3).then(|| format!("https://img.example/{i}.png")),
        tag: format!("T{i:07}"),
        created_at: at(i as i64),
    }
}

fn user(i: usize) -> String {
    format!("p{i:04}")
}

async fn players(store: &DynStore, n: usize) {
    store.insert_users(&(0..n).map(new_user).collect::<Vec<_>>()).await.unwrap();
}

const EUROPE: &str = "Europe";

fn all_time() -> BoardPeriod {
    BoardPeriod { period: "all".into(), period_start: String::new() }
}

fn day(start: &str) -> BoardPeriod {
    BoardPeriod { period: "day".into(), period_start: start.into() }
}

fn board(regions_key: &str, period: BoardPeriod) -> BoardKey {
    BoardKey { regions_key: regions_key.into(), period }
}

/// A quiz game on the all-time Europe board.
fn game(id: &str, user_id: &str, score: i32, total: i32, duration: Option<i32>, created_at: Timestamp) -> NewScore {
    NewScore {
        id: id.into(),
        user_id: user_id.into(),
        score,
        total_questions: total,
        selected_regions: vec![EUROPE.into()],
        regions_key: EUROPE.into(),
        game_mode: "quiz".into(),
        duration,
        created_at,
        boards: vec![all_time()],
    }
}

async fn top(store: &DynStore, key: &BoardKey, limit: u32) -> Vec<BoardEntry> {
    store.leaderboard_top(key, &BoardScope::Global, limit).await.unwrap()
}

/// `(user, rank, score, duration)` of each entry, for compact assertions.
fn summary(entries: &[BoardEntry]) -> Vec<(String, i64, i32, Option<i32>)> {
    entries.iter().map(|e| (e.user.id.clone(), e.rank, e.score, e.duration)).collect()
}

async fn insert_and_read_back(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 1).await;
    let mut new = game("s1", &user(0), 7, 12, Some(95), at(5));
    new.selected_regions = vec!["Océanie".into(), "Amérique du Nord".into(), "Afrique".into()];
    new.regions_key = "Afrique|Amérique du Nord|Océanie".into();
    let stored = store.insert_score(&new).await.unwrap();
    let expected = Score {
        id: "s1".into(),
        user_id: user(0),
        score: 7,
        total_questions: 12,
        selected_regions: new.selected_regions.clone(),
        game_mode: "quiz".into(),
        duration: Some(95),
        created_at: at(5),
    };
    assert_eq!(stored, expected);
    assert_eq!(store.recent_scores(&user(0), 10).await.unwrap(), vec![expected]);

    let mut training = game("s2", &user(0), 0, 1, None, at(6));
    training.game_mode = "training".into();
    training.boards.clear();
    let stored = store.insert_score(&training).await.unwrap();
    assert_eq!(store.recent_scores(&user(0), 10).await.unwrap()[0], stored);
    assert_eq!(stored.duration, None);

    assert!(matches!(store.insert_score(&game("s3", "nobody", 1, 1, None, at(0))).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.insert_score(&game("s4", &user(0), 2, 1, None, at(0))).await, Err(StoreError::Conflict(_))));
    assert!(store.insert_score(&game("s1", &user(0), 1, 1, None, at(0))).await.is_err(), "ids are unique");
    assert_eq!(store.recent_scores(&user(0), 10).await.unwrap().len(), 2, "refused games leave nothing behind");
    assert_eq!(top(&store, &board(EUROPE, all_time()), 10).await.len(), 0, "nor a best");
}

async fn history_newest_first_with_equal_times_and_limit(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 2).await;
    // Same instant for three games: ids (time-ordered, as new ids are) break the tie.
    let times = [at(0), at(1000), at(1000), at(1000), at(2000)];
    for (i, time) in times.iter().enumerate() {
        store.insert_score(&game(&format!("s{i}"), &user(0), i as i32, 10, None, *time)).await.unwrap();
    }
    store.insert_score(&game("other", &user(1), 1, 10, None, at(3000))).await.unwrap();

    let ids = |scores: Vec<Score>| scores.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(store.recent_scores(&user(0), 10).await.unwrap()), ["s4", "s3", "s2", "s1", "s0"]);
    assert_eq!(ids(store.recent_scores(&user(0), 2).await.unwrap()), ["s4", "s3"]);
    assert_eq!(ids(store.recent_scores(&user(0), 3).await.unwrap()), ["s4", "s3", "s2"]);
    assert!(store.recent_scores("nobody", 10).await.unwrap().is_empty());
}

async fn stats_aggregate_all_games(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 2).await;
    assert_eq!(store.score_stats(&user(0)).await.unwrap(), ScoreStats::default());
    let mut training = game("t", &user(0), 9, 9, None, at(0));
    training.game_mode = "training".into();
    training.boards.clear();
    store.insert_score(&training).await.unwrap();
    store.insert_score(&game("a", &user(0), 3, 10, Some(5), at(1))).await.unwrap();
    store.insert_score(&game("b", &user(0), 7, 10, None, at(2))).await.unwrap();
    store.insert_score(&game("c", &user(1), 10, 10, None, at(3))).await.unwrap();
    assert_eq!(
        store.score_stats(&user(0)).await.unwrap(),
        ScoreStats { total_games: 3, best_score: 9, total_score: 19 }
    );
}

async fn best_per_player_is_maintained(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 2).await;
    let key = board(EUROPE, all_time());
    let best = |entries: Vec<BoardEntry>| {
        let e = &entries[0];
        (e.score, e.total_questions, e.duration, e.achieved_at)
    };
    let p = user(0);

    store.insert_score(&game("g1", &p, 5, 10, Some(100), at(1))).await.unwrap();
    assert_eq!(best(top(&store, &key, 5).await), (5, 10, Some(100), at(1)));

    store.insert_score(&game("g2", &p, 4, 10, Some(50), at(2))).await.unwrap();
    assert_eq!(best(top(&store, &key, 5).await), (5, 10, Some(100), at(1)), "a worse later game does not replace");

    store.insert_score(&game("g3", &p, 6, 10, Some(200), at(3))).await.unwrap();
    assert_eq!(best(top(&store, &key, 5).await), (6, 10, Some(200), at(3)), "a higher share replaces");

    store.insert_score(&game("g4", &p, 3, 5, Some(150), at(4))).await.unwrap();
    assert_eq!(best(top(&store, &key, 5).await), (3, 5, Some(150), at(4)), "equal share, shorter: replaces");

    store.insert_score(&game("g5", &p, 6, 10, Some(150), at(5))).await.unwrap();
    assert_eq!(best(top(&store, &key, 5).await), (3, 5, Some(150), at(4)), "equal share and duration: earlier kept");

    store.insert_score(&game("g6", &p, 6, 10, None, at(0))).await.unwrap();
    assert_eq!(best(top(&store, &key, 5).await), (3, 5, Some(150), at(4)), "no duration loses, even earlier");

    // No duration against no duration: the earlier stays; then any duration wins.
    let q = user(1);
    store.insert_score(&game("h1", &q, 1, 10, None, at(10))).await.unwrap();
    store.insert_score(&game("h2", &q, 1, 10, None, at(11))).await.unwrap();
    let entries = top(&store, &key, 5).await;
    assert_eq!((entries[1].duration, entries[1].achieved_at), (None, at(10)));
    store.insert_score(&game("h3", &q, 1, 10, Some(86_400), at(12))).await.unwrap();
    assert_eq!(top(&store, &key, 5).await[1].duration, Some(86_400));
    assert_eq!(top(&store, &key, 5).await.len(), 2, "one entry per player");
}

async fn boards_and_periods_are_independent(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 1).await;
    let p = user(0);
    let mut monday = game("a", &p, 8, 10, Some(60), at(0));
    monday.boards = vec![day("2025-01-06"), all_time()];
    let mut tuesday = game("b", &p, 5, 10, Some(60), at(1));
    tuesday.boards = vec![day("2025-01-07"), all_time()];
    let mut asia = game("c", &p, 2, 10, Some(60), at(2));
    asia.selected_regions = vec!["Asie".into(), EUROPE.into()];
    asia.regions_key = "Asie|Europe".into();
    asia.boards = vec![day("2025-01-07"), all_time()];
    for g in [&monday, &tuesday, &asia] {
        store.insert_score(g).await.unwrap();
    }

    let score_on = |entries: Vec<BoardEntry>| entries.iter().map(|e| e.score).collect::<Vec<_>>();
    assert_eq!(score_on(top(&store, &board(EUROPE, day("2025-01-06")), 10).await), [8]);
    assert_eq!(score_on(top(&store, &board(EUROPE, day("2025-01-07")), 10).await), [5]);
    assert_eq!(score_on(top(&store, &board(EUROPE, all_time()), 10).await), [8]);
    assert_eq!(score_on(top(&store, &board("Asie|Europe", day("2025-01-07")), 10).await), [2]);
    assert_eq!(score_on(top(&store, &board("Asie|Europe", all_time()), 10).await), [2]);
    assert!(top(&store, &board(EUROPE, day("2025-01-08")), 10).await.is_empty());
    let week = BoardPeriod { period: "week".into(), period_start: "2025-01-06".into() };
    assert!(top(&store, &board(EUROPE, week), 10).await.is_empty(), "only the boards the game names");
}

async fn training_games_are_on_no_board(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 2).await;
    store.insert_score(&game("q", &user(0), 1, 10, Some(60), at(0))).await.unwrap();
    let mut training = game("t", &user(0), 10, 10, Some(1), at(1));
    training.game_mode = "training".into();
    training.boards.clear();
    store.insert_score(&training).await.unwrap();
    store.insert_scores(&[NewScore { id: "t2".into(), user_id: user(1), ..training }]).await.unwrap();

    let entries = top(&store, &board(EUROPE, all_time()), 10).await;
    assert_eq!(summary(&entries), [(user(0), 1, 1, Some(60))]);
    assert_eq!(
        store.leaderboard_around(&board(EUROPE, all_time()), &BoardScope::Global, &user(1), 2).await.unwrap(),
        []
    );
}

async fn ranking_shares_ties(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 6).await;
    let games = [
        game("a", &user(0), 8, 10, Some(60), at(5)),
        game("b", &user(1), 16, 20, Some(60), at(1)), // same share and duration as a, earlier: listed first
        game("c", &user(2), 8, 10, Some(70), at(0)),
        game("d", &user(3), 7, 10, Some(10), at(0)),
        game("e", &user(4), 8, 10, None, at(0)),
        game("f", &user(5), 8, 10, None, at(0)), // tied with e down to the instant: user id decides the order
    ];
    for g in &games {
        store.insert_score(g).await.unwrap();
    }
    let key = board(EUROPE, all_time());
    let expected = [
        (user(1), 1, 16, Some(60)),
        (user(0), 1, 8, Some(60)),
        (user(2), 3, 8, Some(70)),
        (user(4), 4, 8, None),
        (user(5), 4, 8, None),
        (user(3), 6, 7, Some(10)),
    ];
    assert_eq!(summary(&top(&store, &key, 20).await), expected);
    assert_eq!(summary(&top(&store, &key, 3).await), expected[..3]);
    assert_eq!(summary(&top(&store, &key, 1).await), expected[..1]);

    let around = |u: usize, n: u32| {
        let store = store.clone();
        let key = key.clone();
        async move { summary(&store.leaderboard_around(&key, &BoardScope::Global, &user(u), n).await.unwrap()) }
    };
    assert_eq!(around(0, 1).await, expected[..3], "second of a tie keeps the shared rank");
    assert_eq!(around(5, 1).await, expected[3..6]);
    assert_eq!(around(2, 0).await, expected[2..3]);
    assert_eq!(around(2, 10).await, expected, "the whole board when it is small");

    let entry = &top(&store, &key, 1).await[0];
    assert_eq!(entry.user, store.user_by_id(&user(1)).await.unwrap().unwrap(), "every user field");
    assert_eq!((entry.total_questions, entry.achieved_at), (20, at(1)));
}

/// The board as it must be, computed independently: each player's best game (strictly better replaces),
/// ordered, ranked by "1 + strictly better on (share, duration)".
fn expected_board(games: &[NewScore]) -> Vec<(String, i64, i32, Option<i32>)> {
    type Key = (i64, i64, i64, String);
    let key_of = |g: &NewScore| -> Key {
        let share = i64::from(g.score) * 1_000_000_000 / i64::from(g.total_questions);
        (-share, g.duration.map_or(i64::MAX, i64::from), g.created_at.millis(), g.user_id.clone())
    };
    let order = |k: &Key| (k.0, k.1, k.2);
    let mut best: std::collections::BTreeMap<String, &NewScore> = Default::default();
    for g in games.iter().filter(|g| !g.boards.is_empty()) {
        match best.get(&g.user_id) {
            Some(b) if order(&key_of(b)) <= order(&key_of(g)) => {}
            _ => {
                best.insert(g.user_id.clone(), g);
            }
        }
    }
    let mut rows: Vec<(Key, &NewScore)> = best.values().map(|g| (key_of(g), *g)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.iter()
        .map(|(k, g)| {
            let better = rows.iter().filter(|(o, _)| (o.0, o.1) < (k.0, k.1)).count() as i64;
            (g.user_id.clone(), better + 1, g.score, g.duration)
        })
        .collect()
}

/// 300 players, two or three games each, many ties: every player's window and the full top agree with an
/// independent ranking.
async fn around_matches_a_full_ranking(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    const N: usize = 300;
    players(&store, N).await;
    let mut games = Vec::new();
    for i in 0..N {
        for round in 0..(2 + i % 2) {
            let h = (i * 7919 + round * 104_729) % 1009;
            let total = if h % 4 == 0 { 20 } else { 10 };
            let score = (h % 11) as i32 * total / 10;
            let duration = match h % 5 {
                0 => None,
                k => Some(30 * k as i32),
            };
            games.push(game(&format!("g{i:04}-{round}"), &user(i), score, total, duration, at((h % 7) as i64)));
        }
    }
    for chunk in games.chunks(250) {
        store.insert_scores(chunk).await.unwrap();
    }
    let expected = expected_board(&games);
    assert_eq!(expected.len(), N);
    let key = board(EUROPE, all_time());
    assert_eq!(summary(&top(&store, &key, 1000).await), expected);
    assert_eq!(summary(&top(&store, &key, 20).await), expected[..20]);

    for (at, (id, ..)) in expected.iter().enumerate() {
        let window = store.leaderboard_around(&key, &BoardScope::Global, id, 2).await.unwrap();
        let (from, to) = (at.saturating_sub(2), (at + 3).min(N));
        assert_eq!(summary(&window), expected[from..to], "window of {id} at position {}", at + 1);
    }
    // Far from the top, with ties around: the rank ~200 player and a wider window.
    let far = &expected[199].0;
    let window = store.leaderboard_around(&key, &BoardScope::Global, far, 7).await.unwrap();
    assert_eq!(summary(&window), expected[192..207]);
    assert!(window.windows(2).any(|w| w[0].rank == w[1].rank), "the sample has ties near rank 200");
}

async fn around_without_an_entry_is_empty(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 3).await;
    store.insert_score(&game("a", &user(0), 5, 10, None, at(0))).await.unwrap();
    let key = board(EUROPE, all_time());
    assert!(store.leaderboard_around(&key, &BoardScope::Global, &user(1), 2).await.unwrap().is_empty());
    assert!(store.leaderboard_around(&key, &BoardScope::Global, "nobody", 2).await.unwrap().is_empty());
    let friends = BoardScope::Friends { user_id: user(1) };
    assert!(store.leaderboard_around(&key, &friends, &user(1), 2).await.unwrap().is_empty());
    assert!(
        store
            .leaderboard_around(&board("Asie", all_time()), &BoardScope::Global, &user(0), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn around_at_the_top_and_bottom(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 6).await;
    for i in 0..6 {
        store.insert_score(&game(&format!("g{i}"), &user(i), 10 - i as i32, 10, Some(60), at(0))).await.unwrap();
    }
    let key = board(EUROPE, all_time());
    let around = |u: usize| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            let entries = store.leaderboard_around(&key, &BoardScope::Global, &user(u), 2).await.unwrap();
            entries.iter().map(|e| (e.user.id.clone(), e.rank)).collect::<Vec<_>>()
        }
    };
    assert_eq!(around(0).await, [(user(0), 1), (user(1), 2), (user(2), 3)]);
    assert_eq!(around(1).await, [(user(0), 1), (user(1), 2), (user(2), 3), (user(3), 4)]);
    assert_eq!(around(5).await, [(user(3), 4), (user(4), 5), (user(5), 6)]);
    assert_eq!(around(3).await.len(), 5);
}

async fn friends_scope_ranks_within_the_scope(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 6).await;
    // 0 is friends with 1, 2 and 5 (5 has no game); 3 and 4 are strangers who play better. 1 and 2 tie.
    for f in [1, 2, 5] {
        store.add_friendship(&user(0), &user(f), at(0)).await.unwrap();
    }
    store.add_friendship(&user(0), &user(1), at(0)).await.unwrap();
    store.add_friendship(&user(1), &user(0), at(0)).await.unwrap();
    store.add_friendship(&user(3), &user(4), at(0)).await.unwrap();
    let scores = [(0, 5), (1, 7), (2, 7), (3, 10), (4, 9)];
    for (u, s) in scores {
        store.insert_score(&game(&format!("g{u}"), &user(u), s, 10, Some(60), at(u as i64))).await.unwrap();
    }
    let key = board(EUROPE, all_time());
    let mine = BoardScope::Friends { user_id: user(0) };
    let ranked = |entries: Vec<BoardEntry>| entries.iter().map(|e| (e.user.id.clone(), e.rank)).collect::<Vec<_>>();

    assert_eq!(
        ranked(store.leaderboard_top(&key, &mine, 20).await.unwrap()),
        [(user(1), 1), (user(2), 1), (user(0), 3)]
    );
    assert_eq!(ranked(store.leaderboard_top(&key, &mine, 1).await.unwrap()), [(user(1), 1)]);
    assert_eq!(ranked(store.leaderboard_around(&key, &mine, &user(0), 1).await.unwrap()), [(user(2), 1), (user(0), 3)]);
    // Friendship is symmetric: 1's scope is 1 and 0 only.
    let theirs = BoardScope::Friends { user_id: user(1) };
    assert_eq!(ranked(store.leaderboard_top(&key, &theirs, 20).await.unwrap()), [(user(1), 1), (user(0), 2)]);
    assert_eq!(
        ranked(store.leaderboard_top(&key, &BoardScope::Global, 2).await.unwrap()),
        [(user(3), 1), (user(4), 2)]
    );
}

async fn bulk_insert_equals_one_by_one(pg: bool) {
    let (Some((_d1, one)), Some((_d2, bulk))) = (migrated(pg).await, migrated(pg).await) else {
        return;
    };
    players(&one, 4).await;
    players(&bulk, 4).await;
    // Several games of a player in one batch, over two periods: equal ones, better ones, worse ones.
    let mut games = Vec::new();
    for i in 0..40usize {
        let mut g = game(
            &format!("g{i:03}"),
            &user(i % 4),
            (i * 37 % 6) as i32,
            5,
            [None, Some(40), Some(20)][i * 11 % 3],
            at((i % 5) as i64),
        );
        g.boards = if i % 3 == 0 { vec![day("2025-02-01"), all_time()] } else { vec![all_time()] };
        games.push(g);
    }
    for g in &games {
        one.insert_score(g).await.unwrap();
    }
    bulk.insert_scores(&games).await.unwrap();
    bulk.insert_scores(&[]).await.unwrap();

    let detailed = |entries: Vec<BoardEntry>| {
        entries.into_iter().map(|e| (e.user.id, e.rank, e.score, e.duration, e.achieved_at)).collect::<Vec<_>>()
    };
    for key in [board(EUROPE, all_time()), board(EUROPE, day("2025-02-01"))] {
        let expected = detailed(top(&one, &key, 10).await);
        assert_eq!(expected.len(), 4);
        assert_eq!(detailed(top(&bulk, &key, 10).await), expected);
        for u in 0..4 {
            let a = one.leaderboard_around(&key, &BoardScope::Global, &user(u), 1).await.unwrap();
            let b = bulk.leaderboard_around(&key, &BoardScope::Global, &user(u), 1).await.unwrap();
            assert_eq!(a, b);
        }
    }
    let day_games: Vec<_> = games.iter().filter(|g| g.boards.len() == 2).cloned().collect();
    let day_expected = expected_board(&day_games);
    assert_eq!(summary(&top(&bulk, &board(EUROPE, day("2025-02-01")), 10).await), day_expected);
    assert_eq!(summary(&top(&bulk, &board(EUROPE, all_time()), 10).await), expected_board(&games));
    for u in 0..4 {
        assert_eq!(one.recent_scores(&user(u), 100).await.unwrap(), bulk.recent_scores(&user(u), 100).await.unwrap());
        assert_eq!(one.score_stats(&user(u)).await.unwrap(), bulk.score_stats(&user(u)).await.unwrap());
    }
}

async fn insert_users_creates_every_user(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    let users: Vec<NewUser> = (0..7000).map(new_user).collect();
    store.insert_users(&users).await.unwrap();
    store.insert_users(&[]).await.unwrap();
    for i in [0, 3, 4, 6999] {
        let u = store.user_by_id(&user(i)).await.unwrap().unwrap();
        let n = &users[i];
        assert_eq!(
            (&u.id, &u.name, &u.email, u.email_verified, &u.image, u.tag.as_deref()),
            (&n.id, &n.name, &n.email, n.email_verified, &n.image, Some(n.tag.as_str()))
        );
        assert_eq!((u.is_online, u.last_seen, u.created_at, u.updated_at), (false, None, n.created_at, n.created_at));
    }
    // name_key is derived: the case-insensitive search finds the new users.
    let found = store
        .search_users(&mapquiz_store::UserSearch {
            exclude_id: String::new(),
            prefix: Some("joueur 699".into()),
            after: None,
            limit: 20,
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 11);

    let dup = NewUser { id: "fresh".into(), tag: "FRESH001".into(), ..new_user(1) };
    assert!(matches!(store.insert_users(&[new_user(9000), dup]).await, Err(StoreError::Conflict("users_email_key"))));
    assert!(store.user_by_id(&user(9000)).await.unwrap().is_none(), "one transaction for the whole slice");
}

async fn deleted_players_leave_the_ranks(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    players(&store, 4).await;
    for (u, s) in [(0, 9), (1, 8), (2, 8), (3, 2)] {
        store.insert_score(&game(&format!("g{u}"), &user(u), s, 10, Some(60), at(u as i64))).await.unwrap();
    }
    let key = board(EUROPE, all_time());
    let rank_of = |u: usize| {
        let (store, key) = (store.clone(), key.clone());
        async move { store.leaderboard_around(&key, &BoardScope::Global, &user(u), 0).await.unwrap()[0].rank }
    };
    assert_eq!(rank_of(3).await, 4);
    // Account deletion cascades to the bests; the per-share counts follow.
    Raw::open(&db, pg).await.exec("DELETE FROM users WHERE id = 'p0001'").await.unwrap();
    assert_eq!(rank_of(3).await, 3);
    assert_eq!(rank_of(2).await, 2);
    Raw::open(&db, pg).await.exec("DELETE FROM users WHERE id = 'p0000'").await.unwrap();
    assert_eq!(rank_of(3).await, 2);
    assert_eq!(rank_of(2).await, 1);
}

/// Issue 11, item 9: on 0006 every score writer updated the shared per-board counter rows, in an order that
/// varied between a write replacing bests and one creating them, so two writers could deadlock and all of
/// them queued on the hot rows. Now writers only append count changes: with every counter row locked by
/// another session, mixed writes (new bests and replaced bests, on two boards) still commit at once, and
/// the ranks stay exact. On 0006 the first write below waits on the lock until the timeout fails the test.
#[tokio::test]
async fn score_writers_never_wait_on_the_board_counters() {
    use sqlx::Connection as _;
    let Some((db, store)) = migrated(true).await else {
        return;
    };
    players(&store, 4).await;
    let today = day("2025-11-24");
    let two_boards = |mut g: NewScore| {
        g.boards = vec![all_time(), today.clone()];
        g
    };
    // Bests on both boards (the store's first leaderboard game also folds the counts into counter rows).
    for (i, score) in [(0, 5), (1, 7), (2, 9)] {
        store
            .insert_score(&two_boards(game(&format!("a{i}"), &user(i), score, 10, Some(100), at(i as i64))))
            .await
            .unwrap();
    }

    let mut blocker = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql(
        "BEGIN; SELECT 1 FROM score_board_shares FOR UPDATE; SELECT 1 FROM score_board_durations FOR UPDATE;",
    )
    .execute(&mut blocker)
    .await
    .unwrap();
    let patience = std::time::Duration::from_secs(5);
    // A replaced best on both boards, a first best on both, then a replaced all-time best with a new day best.
    let mut only_all = game("b2", &user(0), 10, 10, Some(40), at(20));
    only_all.boards = vec![all_time()];
    for g in [
        two_boards(game("b0", &user(1), 9, 10, Some(50), at(10))),
        two_boards(game("b1", &user(3), 8, 10, Some(70), at(11))),
        only_all,
    ] {
        let write = tokio::time::timeout(patience, store.insert_score(&g)).await;
        assert!(matches!(write, Ok(Ok(_))), "{} waited on the counter rows: {write:?}", g.id);
    }
    sqlx::raw_sql("ROLLBACK").execute(&mut blocker).await.unwrap();

    let all = summary(&top(&store, &board(EUROPE, all_time()), 10).await);
    let ranked: Vec<_> = all.iter().map(|(u, rank, score, _)| (u.clone(), *rank, *score)).collect();
    // Equal shares rank by duration: 9/10 in 50 s before 9/10 in 100 s.
    assert_eq!(ranked, vec![(user(0), 1, 10), (user(1), 2, 9), (user(2), 3, 9), (user(3), 4, 8)]);
    let around = store.leaderboard_around(&board(EUROPE, all_time()), &BoardScope::Global, &user(3), 1).await.unwrap();
    assert_eq!(around.last().map(|e| (e.user.id.clone(), e.rank)), Some((user(3), 4)));
}

/// A group commit (what the score writer stores) leaves what the same games stored one at a time leave.
async fn a_group_equals_one_by_one(pg: bool) {
    let (Some((_d1, one)), Some((_d2, group))) = (migrated(pg).await, migrated(pg).await) else {
        return;
    };
    players(&one, 2).await;
    players(&group, 2).await;
    // Each player's games in one group: a worse one after a better one, an equal one later, a training game.
    let mut games: Vec<NewScore> = (0..8usize)
        .map(|i| game(&format!("g{i}"), &user(i % 2), [5, 3, 5, 7][i / 2], 10, Some(30), at(i as i64)))
        .collect();
    games[7].game_mode = "training".into();
    games[7].boards.clear();
    for g in &games {
        one.insert_score(g).await.unwrap();
    }
    group.insert_score_group(&games).await.unwrap();
    group.insert_score_group(&[]).await.unwrap();

    let key = board(EUROPE, all_time());
    assert_eq!(top(&group, &key, 10).await, top(&one, &key, 10).await);
    for u in 0..2 {
        assert_eq!(group.recent_scores(&user(u), 10).await.unwrap(), one.recent_scores(&user(u), 10).await.unwrap());
        assert_eq!(group.score_stats(&user(u)).await.unwrap(), one.score_stats(&user(u)).await.unwrap());
    }
    assert_eq!(group.score_stats(&user(0)).await.unwrap().total_games, 4);
}
