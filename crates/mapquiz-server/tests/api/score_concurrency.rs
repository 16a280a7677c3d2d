//! Many players saving games on the same boards at once (issue 11, item 9): every game is answered 200 and
//! stored, PostgreSQL reports no deadlock, and the boards rank exactly as the stored bests say.

use crate::scores::{game, post_score, set_now};
use crate::support::auth::roomy_app;
use crate::support::{TestApp, TestUser, json, on_both_backends};
use futures_util::future::join_all;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Writers running at once; two share each player, so one player's bests are also written concurrently.
const WRITERS: usize = 40;
const PLAYERS: usize = 20;
/// Games each writer saves per round, one after the other.
const GAMES_EACH: usize = 10;
/// Two boards per period: writers alternate between them.
const REGIONS: [&str; 2] = ["Europe", "Asie"];

on_both_backends!(concurrent_score_writes_all_land_without_deadlock);

/// Deadlocks PostgreSQL has counted in the test database so far (`None` on SQLite). A backend reports its
/// counts by the time it exits; `settled` waits until every other session on the database has.
async fn deadlocks(app: &TestApp, settled: bool) -> Option<i64> {
    if !app.db.url().starts_with("postgres") {
        return None;
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(app.db.url()).await.unwrap();
    let started = Instant::now();
    if settled {
        loop {
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if others == 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the server's sessions never closed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(deadlocks), 0)::int8 FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    Some(count)
}

/// The game writer `w` saves `i`-th: scores and durations vary so that bests are both inserted and replaced.
fn nth_game(w: usize, i: usize) -> Value {
    let score = i64::try_from((w * 7 + i * 3) % 11).unwrap();
    let duration = i64::try_from(30 + (w * 13 + i * 29) % 50).unwrap();
    game(score, 10, &[REGIONS[w % REGIONS.len()]], "quiz", Some(duration))
}

async fn concurrent_score_writes_all_land_without_deadlock(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let deadlocks_before = deadlocks(&app, false).await;
    let mut players = Vec::with_capacity(PLAYERS);
    for p in 0..PLAYERS {
        players.push(app.sign_up(&format!("Writer {p}")).await);
    }

    // Two rounds a day apart, a month's last day and the next: the second round's first games create the
    // new day's and month's bests while replacing week and all-time ones, in the same statement.
    let mut acknowledged: BTreeMap<String, i64> = BTreeMap::new();
    for (round, now) in ["2026-03-31T12:00:00.000Z", "2026-04-01T12:00:00.000Z"].into_iter().enumerate() {
        set_now(&app, now);
        let app = &app;
        let writers = (0..WRITERS).map(|w| {
            let player: &TestUser = &players[w % PLAYERS];
            async move {
                let mut answers = Vec::with_capacity(GAMES_EACH);
                for i in 0..GAMES_EACH {
                    answers.push(post_score(app, player, &nth_game(w, round * GAMES_EACH + i)).await);
                }
                (player.id.clone(), answers)
            }
        });
        for (player, answers) in join_all(writers).await {
            for (status, body) in answers {
                assert_eq!(status, 200, "every concurrent save is answered 200: {body}");
                *acknowledged.entry(player.clone()).or_default() += 1;
            }
        }
    }
    assert_eq!(acknowledged.values().sum::<i64>(), i64::try_from(2 * WRITERS * GAMES_EACH).unwrap());

    for player in &players {
        let (status, stats) = json(app.get_as(player, "/api/scores/stats").await).await;
        assert_eq!(status, 200, "{stats}");
        assert_eq!(stats["totalGames"], acknowledged[&player.id], "every acknowledged game is stored: {stats}");
    }

    // The counts the ranks derive from (written concurrently) agree with the bests: each player's rank
    // around themselves is their rank in the full board.
    for region in REGIONS {
        for period in ["day", "week", "month", "all"] {
            let query = format!("/api/leaderboards?regions={region}&period={period}&limit=100&around=me");
            let (status, top) = json(app.get_as(&players[0], &query).await).await;
            assert_eq!(status, 200, "{top}");
            let entries = top["entries"].as_array().unwrap();
            assert_eq!(entries.len(), PLAYERS / REGIONS.len(), "each writer keeps to one board: {top}");
            for entry in entries {
                let id = entry["user"]["id"].as_str().unwrap();
                let player = players.iter().find(|p| p.id == id).unwrap();
                let (status, mine) = json(app.get_as(player, &query).await).await;
                assert_eq!(status, 200, "{mine}");
                assert_eq!(mine["around"]["rank"], entry["rank"], "{region} {period}: {mine} vs {entry}");
            }
        }
    }

    app.state.store.close().await;
    if let (Some(before), Some(after)) = (deadlocks_before, deadlocks(&app, true).await) {
        assert_eq!(after, before, "PostgreSQL detected deadlocks during the run");
    }
}
