//! `mapquiz seed-demo`: fills a database with realistic players, friendships and solo games, for demos and
//! for measuring leaderboards at scale (100,000 players, 1,000,000 games).

use crate::config::Config;
use crate::scores::board_periods;
use mapquiz_domain::scores::{GameMode, local_day, regions_key};
use mapquiz_domain::{Region, Tag, Timestamp, new_id};
use mapquiz_store::{DynStore, NewScore, NewUser, StoreError};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{RngExt as _, SeedableRng as _};
use std::collections::HashSet;
use std::time::Instant;

/// Rows written per transaction.
const BATCH: usize = 10_000;
/// Players who get friends (friends-scope boards need some; a few per player is plenty).
const PLAYERS_WITH_FRIENDS: usize = 2_000;
const FRIENDS_EACH: usize = 5;
const FIRST_NAMES: &[&str] = &[
    "Camille", "Léa", "Hugo", "Lucas", "Chloé", "Inès", "Jules", "Manon", "Nathan", "Zoé", "Louis", "Emma", "Yanis",
    "Sarah", "Gabriel", "Jade", "Adam", "Lina", "Noah", "Alice", "Théo", "Rose", "Sacha", "Mila",
];

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct SeedPlan {
    pub players: usize,
    pub scores: usize,
    /// Games are spread over this many days before now.
    pub days: u32,
    /// Random seed: the same seed gives the same data.
    pub seed: u64,
}

/// Region sets people actually play: single continents most, then pairs, then the world.
fn region_sets() -> Vec<Vec<Region>> {
    let mut sets: Vec<Vec<Region>> = Region::ALL.iter().map(|r| vec![*r]).collect();
    sets.push(vec![Region::Europe, Region::Asie]);
    sets.push(vec![Region::AmeriqueDuNord, Region::AmeriqueDuSud]);
    sets.push(Region::ALL.to_vec());
    sets
}

/// `mapquiz seed-demo`.
#[allow(clippy::print_stdout)] // the command's progress report
pub async fn run(config: Config, plan: SeedPlan) -> anyhow::Result<()> {
    let store = crate::cli::open_and_migrate(&config).await?;
    let result = async {
        let started = Instant::now();
        let mut rng = StdRng::seed_from_u64(plan.seed);
        let now = Timestamp::from_datetime(chrono::Utc::now());
        let ids = seed_players(&store, &mut rng, plan.players, now).await?;
        println!("{} players in {:.1} s", ids.len(), started.elapsed().as_secs_f64());
        seed_friends(&store, &mut rng, &ids, now).await?;
        seed_scores(&store, &mut rng, &ids, plan, now, config.time_zone).await?;
        println!("{} games in {:.1} s in all", plan.scores, started.elapsed().as_secs_f64());
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

async fn seed_players(store: &DynStore, rng: &mut StdRng, count: usize, now: Timestamp) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    let mut used_tags = HashSet::new();
    let run = new_id();
    while ids.len() < count {
        let batch_len = BATCH.min(count - ids.len());
        let mut batch = Vec::with_capacity(batch_len);
        for i in 0..batch_len {
            let n = ids.len() + i;
            let tag = loop {
                let tag = Tag::from_random(rng.random());
                if used_tags.insert(tag.as_str().to_owned()) {
                    break tag;
                }
            };
            let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Joueur");
            batch.push(NewUser {
                id: new_id(),
                name: format!("{first} {}", rng.random_range(1..10_000)),
                email: format!("demo-{n}-{run}@demo.mapquiz.invalid"),
                email_verified: false,
                image: None,
                tag: tag.as_str().to_owned(),
                created_at: now,
            });
        }
        match store.insert_users(&batch).await {
            Ok(()) => ids.extend(batch.into_iter().map(|u| u.id)),
            // A drawn tag already belongs to a player from before: draw this batch again.
            Err(StoreError::Conflict("users_tag_key")) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ids)
}

async fn seed_friends(store: &DynStore, rng: &mut StdRng, ids: &[String], now: Timestamp) -> anyhow::Result<()> {
    if ids.len() < 2 {
        return Ok(());
    }
    for id in ids.iter().take(PLAYERS_WITH_FRIENDS) {
        for _ in 0..FRIENDS_EACH {
            let friend = &ids[rng.random_range(0..ids.len())];
            if friend != id {
                store.add_friendship(id, friend, now).await?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // the command's progress report
async fn seed_scores(
    store: &DynStore,
    rng: &mut StdRng,
    ids: &[String],
    plan: SeedPlan,
    now: Timestamp,
    tz: chrono_tz::Tz,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sets = region_sets();
    let span_ms = i64::from(plan.days.max(1)) * 86_400_000;
    let mut written = 0;
    while written < plan.scores {
        let batch_len = BATCH.min(plan.scores - written);
        let mut batch = Vec::with_capacity(batch_len);
        for _ in 0..batch_len {
            // Single continents are played far more often than combinations.
            let regions = if rng.random_bool(0.8) {
                &sets[rng.random_range(0..6)]
            } else {
                &sets[rng.random_range(6..sets.len())]
            };
            let total: i32 = regions.iter().map(|r| r.codes().len() as i32).sum();
            // Skill varies by player and by game: most games land between half and all correct.
            let share = (0.45 + 0.55 * rng.random::<f64>().sqrt()).min(1.0);
            let score = ((f64::from(total) * share).round() as i32).clamp(0, total);
            let duration = Some((f64::from(total) * rng.random_range(1.5..6.0)) as i32);
            let mode = if rng.random_bool(0.1) { GameMode::Training } else { GameMode::Quiz };
            let created_at = now.plus(chrono::Duration::milliseconds(-rng.random_range(0..span_ms)));
            let day = local_day(created_at, tz);
            batch.push(NewScore {
                id: new_id(),
                user_id: ids[rng.random_range(0..ids.len())].clone(),
                score,
                total_questions: total,
                selected_regions: regions.iter().map(|r| r.as_str().to_owned()).collect(),
                regions_key: regions_key(regions),
                game_mode: mode.as_str().to_owned(),
                duration,
                created_at,
                boards: board_periods(mode, day),
            });
        }
        store.insert_scores(&batch).await?;
        written += batch_len;
        if written % 100_000 == 0 || written == plan.scores {
            println!("{written} games");
        }
    }
    Ok(())
}
