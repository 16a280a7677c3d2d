//! scratch: not to keep
#![allow(clippy::unwrap_used, clippy::expect_used)]
use mapquiz_domain::Timestamp;
use mapquiz_store::*;
use sqlx::{Connection, Row};

#[tokio::main]
async fn main() {
    let pg = std::env::args().nth(1).as_deref() == Some("pg");
    let db = testing::TestDatabase::new(pg).await.unwrap();
    let store = connect(&ConnectOptions::new(db.database_url())).await.unwrap();
    store.migrate_up().await.unwrap();
    let users: Vec<NewUser> = (0..20_000)
        .map(|i| NewUser {
            id: format!("p{i:06}"),
            name: format!("n{i}"),
            email: format!("{i}@x"),
            email_verified: false,
            image: None,
            tag: format!("T{i:07}"),
            created_at: Timestamp::from_millis(0).unwrap(),
        })
        .collect();
    if std::env::var("DROPTRIG").is_ok() && !pg {
        let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        sqlx::raw_sql("DROP TRIGGER score_bests_shares_insert; DROP TRIGGER score_bests_shares_update; DROP TRIGGER score_bests_shares_delete;").execute(&mut c).await.unwrap();
    }
    if std::env::var("DROPIDX").is_ok() && !pg {
        let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        sqlx::raw_sql("DROP INDEX score_bests_rank_idx").execute(&mut c).await.unwrap();
    }
    store.insert_users(&users).await.unwrap();
    let mut seed = 88172645463325252u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut games = vec![];
    for i in 0..100_000 {
        let p = next(20_000);
        games.push(NewScore {
            id: format!("s{i:07}"),
            user_id: format!("p{p:06}"),
            score: next(40) as i32,
            total_questions: 39,
            selected_regions: vec!["Europe".into()],
            regions_key: "Europe".into(),
            game_mode: "quiz".into(),
            duration: Some(30 + next(500) as i32),
            created_at: Timestamp::from_millis(1_700_000_000_000 + next(1_000_000_000) as i64).unwrap(),
            boards: vec![
                BoardPeriod { period: "all".into(), period_start: String::new() },
                BoardPeriod { period: "day".into(), period_start: format!("{}", next(90)) },
            ],
        });
    }
    let t = std::time::Instant::now();
    if std::env::var("NOBOARDS").is_ok() {
        for g in games.iter_mut() {
            g.boards.clear();
        }
    }
    for c in games.chunks(10_000) {
        store.insert_scores(c).await.unwrap();
    }
    eprintln!("seed {:?}", t.elapsed());
    if pg && std::env::var("ANALYZE").is_ok() {
        let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let t = std::time::Instant::now();
        sqlx::raw_sql("ANALYZE").execute(&mut c).await.unwrap();
        eprintln!("analyze {:?}", t.elapsed());
    }
    let key = BoardKey {
        regions_key: "Europe".into(),
        period: BoardPeriod { period: "all".into(), period_start: String::new() },
    };
    for _ in 0..3 {
        let t = std::time::Instant::now();
        store.leaderboard_top(&key, &BoardScope::Global, 20).await.unwrap();
        let t1 = t.elapsed();
        store.leaderboard_around(&key, &BoardScope::Global, "p010000", 2).await.unwrap();
        eprintln!("top {:?} around {:?}", t1, t.elapsed() - t1);
    }
    let qs = std::fs::read_to_string(if pg { "/tmp/plans_pg.sql" } else { "/tmp/plans.sql" }).unwrap();
    for q in qs.split(";;").map(str::trim).filter(|q| !q.is_empty()) {
        let q = q.replace("{X}", if pg { "EXPLAIN ANALYZE" } else { "EXPLAIN QUERY PLAN" });
        let q = if pg {
            q.replace("?1", "'Europe'").replace("?2", "'all'").replace("?3", "''")
        } else {
            q.replace("?1", "'Europe'").replace("?2", "'all'").replace("?3", "''")
        };
        eprintln!("---- {q}");
        if pg {
            let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
            for r in sqlx::query(sqlx::AssertSqlSafe(q)).fetch_all(&mut c).await.unwrap() {
                eprintln!("{}", r.get::<String, _>(0));
            }
        } else {
            let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            for r in sqlx::query(sqlx::AssertSqlSafe(q)).fetch_all(&mut c).await.unwrap() {
                eprintln!("{}", r.get::<String, _>(3));
            }
        }
    }
}
