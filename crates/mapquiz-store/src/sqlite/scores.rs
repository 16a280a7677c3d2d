//! Solo games, the best-per-player table and the leaderboards read from it.
//!
//! Board order is the index order of `score_bests_rank_idx` (migration 0006): every key ascending, so a
//! position in the board is a row-value comparison and reads are index ranges. Queries must spell the
//! expressions exactly as the index does.

use super::SqliteStore;
use super::users::user_at;
use crate::board::{self, BestRow, TieKey};
use crate::db_time::{DbTime, time};
use crate::{BoardEntry, BoardKey, BoardScope, NewScore, Score, ScoreStats, Scores, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

/// Rows per multi-row INSERT: the widest has 10 columns, and SQLite takes at most 32 766 parameters.
const ROWS_PER_STATEMENT: usize = 3000;

/// Statements of up to this many rows stay prepared on the connection: a single game's insert (one game,
/// up to four boards) reuses them; bulk statements of thousands of rows would only crowd the cache.
const CACHED_ROWS: usize = 8;

/// The columns [`score_at`] reads, in its order.
macro_rules! score_columns {
    () => {
        "id, user_id, score, total_questions, selected_regions, game_mode, duration, created_at"
    };
}

/// The columns [`entry_at`] reads, in its order: the tie key, the best game, then the user (`user_at`).
macro_rules! entry_columns {
    () => {
        "b.share_nanos, coalesce(b.duration, 2147483647), b.score, b.total_questions, b.duration, b.achieved_at, \
         u.id, u.name, u.email, u.email_verified, u.image, u.tag, u.is_online, u.last_seen, u.created_at, \
         u.updated_at"
    };
}

/// The rows of one board (`$1`..`$3`: regions key, period, period start) with their players.
macro_rules! board_rows {
    () => {
        " FROM score_bests b JOIN users u ON u.id = b.user_id \
          WHERE b.regions_key = $1 AND b.period = $2 AND b.period_start = $3"
    };
}

/// Board order (best first), as indexed.
macro_rules! board_order {
    () => {
        "-b.share_nanos, coalesce(b.duration, 2147483647), b.achieved_at, b.user_id"
    };
}

fn score_at(row: &SqliteRow) -> Result<Score, sqlx::Error> {
    let Json(selected_regions) = row.try_get(4)?;
    Ok(Score {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        score: row.try_get(2)?,
        total_questions: row.try_get(3)?,
        selected_regions,
        game_mode: row.try_get(5)?,
        duration: row.try_get(6)?,
        created_at: time(row, 7)?,
    })
}

/// An entry (rank still 0) and its tie key.
fn entry_at(row: &SqliteRow) -> Result<(TieKey, BoardEntry), sqlx::Error> {
    let key = (row.try_get(0)?, row.try_get(1)?);
    Ok((
        key,
        BoardEntry {
            rank: 0,
            score: row.try_get(2)?,
            total_questions: row.try_get(3)?,
            duration: row.try_get(4)?,
            achieved_at: time(row, 5)?,
            user: user_at(row, 6)?,
        },
    ))
}

async fn insert_games(conn: &mut SqliteConnection, scores: &[NewScore]) -> Result<(), StoreError> {
    for chunk in scores.chunks(ROWS_PER_STATEMENT) {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "INSERT INTO game_scores (id, user_id, score, total_questions, selected_regions, regions_key, \
             game_mode, duration, created_at) ",
        );
        sql.push_values(chunk, |mut row, s| {
            row.push_bind(&s.id)
                .push_bind(&s.user_id)
                .push_bind(s.score)
                .push_bind(s.total_questions)
                .push_bind(Json(&s.selected_regions))
                .push_bind(&s.regions_key)
                .push_bind(&s.game_mode)
                .push_bind(s.duration)
                .push_bind(DbTime(s.created_at));
        });
        sql.build().persistent(chunk.len() <= CACHED_ROWS).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Upserts bests, each replacing the stored one only when strictly better in board order (higher share,
/// then shorter duration, then earlier): an equal later game keeps the earlier one. `rows` has one row per
/// (board, player) (see [`board::best_rows`]).
async fn upsert_bests(conn: &mut SqliteConnection, rows: &[BestRow<'_>]) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "INSERT INTO score_bests (regions_key, period, period_start, user_id, score_id, score, \
             total_questions, share_nanos, duration, achieved_at) ",
        );
        sql.push_values(chunk, |mut row, b| {
            row.push_bind(b.regions_key)
                .push_bind(b.period)
                .push_bind(b.period_start)
                .push_bind(b.user_id)
                .push_bind(b.score_id)
                .push_bind(b.score)
                .push_bind(b.total_questions)
                .push_bind(b.share_nanos)
                .push_bind(b.duration)
                .push_bind(DbTime(b.achieved_at));
        });
        sql.push(
            " ON CONFLICT (regions_key, period, period_start, user_id) DO UPDATE SET \
               score_id = excluded.score_id, score = excluded.score, total_questions = excluded.total_questions, \
               share_nanos = excluded.share_nanos, duration = excluded.duration, achieved_at = excluded.achieved_at \
             WHERE (-excluded.share_nanos, coalesce(excluded.duration, 2147483647), excluded.achieved_at) \
                 < (-score_bests.share_nanos, coalesce(score_bests.duration, 2147483647), score_bests.achieved_at)",
        );
        sql.build().persistent(chunk.len() <= CACHED_ROWS).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Stores the games and their bests in `conn`'s transaction, the bests in key order: neighbouring pages of
/// the primary key, and the same lock order in concurrent groups (several nodes, or a bulk load beside them).
pub(super) async fn write_games_in(conn: &mut SqliteConnection, scores: &[NewScore]) -> Result<(), StoreError> {
    if scores.is_empty() {
        return Ok(());
    }
    let mut rows = board::best_rows(scores);
    rows.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
    insert_games(conn, scores).await?;
    upsert_bests(conn, &rows).await
}

/// Stores the games and their bests in one transaction of their own.
async fn write_games(pool: &SqlitePool, scores: &[NewScore]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    write_games_in(&mut tx, scores).await?;
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Scores for SqliteStore {
    async fn insert_score_group(&self, scores: &[NewScore]) -> Result<(), StoreError> {
        if scores.is_empty() {
            return Ok(());
        }
        write_games(&self.writer, scores).await?;
        if self.folds.due(scores) {
            fold_counts_quietly(&self.writer).await;
        }
        Ok(())
    }

    async fn insert_scores(&self, scores: &[NewScore]) -> Result<(), StoreError> {
        write_games(&self.writer, scores).await?;
        fold_counts(&self.writer).await
    }

    async fn recent_scores(&self, user_id: &str, limit: u32) -> Result<Vec<Score>, StoreError> {
        // Ids are time-ordered UUIDv7: the same tie-break as PostgreSQL, which has no insertion order to offer.
        Ok(sqlx::query(concat!(
            "SELECT ",
            score_columns!(),
            " FROM game_scores WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .try_map(|row: SqliteRow| score_at(&row))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn score_stats(&self, user_id: &str) -> Result<ScoreStats, StoreError> {
        let (total_games, best_score, total_score) = sqlx::query_as(
            "SELECT count(*), coalesce(max(score), 0), coalesce(sum(score), 0) FROM game_scores WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(ScoreStats { total_games, best_score, total_score })
    }

    async fn leaderboard_top(
        &self,
        key: &BoardKey,
        scope: &BoardScope,
        limit: u32,
    ) -> Result<Vec<BoardEntry>, StoreError> {
        match scope {
            BoardScope::Global => {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    entry_columns!(),
                    board_rows!(),
                    " ORDER BY ",
                    board_order!(),
                    " LIMIT $4"
                ))
                .bind(&key.regions_key)
                .bind(&key.period.period)
                .bind(&key.period.period_start)
                .bind(i64::from(limit))
                .try_map(|row: SqliteRow| entry_at(&row))
                .fetch_all(&self.reader)
                .await?;
                Ok(board::ranked(rows, 1, 1))
            }
            BoardScope::Friends { user_id } => {
                let mut entries = friends_board(&self.reader, key, user_id).await?;
                entries.truncate(limit as usize);
                Ok(entries)
            }
        }
    }

    async fn leaderboard_around(
        &self,
        key: &BoardKey,
        scope: &BoardScope,
        user_id: &str,
        neighbours: u32,
    ) -> Result<Vec<BoardEntry>, StoreError> {
        match scope {
            BoardScope::Global => around_global(&self.reader, key, user_id, neighbours).await,
            BoardScope::Friends { user_id: owner } => {
                Ok(board::window(friends_board(&self.reader, key, owner).await?, user_id, neighbours))
            }
        }
    }
}

/// Moves the pending count changes (`score_board_deltas`, appended by the `score_bests` triggers of
/// migration 0007) into the per-board counters, in one write transaction: a reader's snapshot sees each
/// change either still pending or folded, never both.
pub(super) async fn fold_counts(writer: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = writer.begin().await?;
    sqlx::query(
        "INSERT INTO score_board_shares (regions_key, period, period_start, share_nanos, players) \
         SELECT regions_key, period, period_start, share_nanos, sum(players) FROM score_board_deltas WHERE true \
          GROUP BY regions_key, period, period_start, share_nanos HAVING sum(players) <> 0 \
         ON CONFLICT (regions_key, period, period_start, share_nanos) \
         DO UPDATE SET players = players + excluded.players",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO score_board_durations (regions_key, period, period_start, share_nanos, duration_key, players) \
         SELECT regions_key, period, period_start, share_nanos, duration_key, sum(players) \
           FROM score_board_deltas WHERE true \
          GROUP BY regions_key, period, period_start, share_nanos, duration_key HAVING sum(players) <> 0 \
         ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key) \
         DO UPDATE SET players = players + excluded.players",
    )
    .execute(&mut *tx)
    .await?;
    // The writer is this store's only writing connection: nothing was appended since the sums above.
    sqlx::query("DELETE FROM score_board_deltas").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// [`fold_counts`] after a game was stored: its failure leaves the deltas to the next fold and must not
/// turn the stored game into an error.
async fn fold_counts_quietly(writer: &SqlitePool) {
    if let Err(e) = fold_counts(writer).await {
        tracing::warn!(error = format!("{e:#}"), "folding leaderboard counts failed; the next fold retries");
    }
}

/// The whole board of a user and their friends, ranked within it: a user's friends are few, so this is a
/// primary-key lookup per friend, not a scan of the board. CROSS JOIN keeps the friends as the outer loop:
/// without statistics SQLite would rather scan the board.
async fn friends_board(reader: &SqlitePool, key: &BoardKey, user_id: &str) -> Result<Vec<BoardEntry>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM (SELECT $4 AS id UNION SELECT friend_id FROM friendships WHERE user_id = $4) AS scope \
          CROSS JOIN score_bests b ON b.regions_key = $1 AND b.period = $2 AND b.period_start = $3 AND b.user_id = scope.id \
          JOIN users u ON u.id = b.user_id ORDER BY ",
        board_order!()
    ))
    .bind(&key.regions_key)
    .bind(&key.period.period)
    .bind(&key.period.period_start)
    .bind(user_id)
    .try_map(|row: SqliteRow| entry_at(&row))
    .fetch_all(reader)
    .await?;
    Ok(board::ranked(rows, 1, 1))
}

/// 1 + the number of entries strictly better than `key`: the per-share and per-duration counts plus the
/// changes not yet folded into them (see [`fold_counts`]), each an index range (the pending changes, one
/// range from the entry's share up).
async fn rank_of(conn: &mut SqliteConnection, board: &BoardKey, (share, duration): TieKey) -> Result<i64, StoreError> {
    let better: i64 = sqlx::query_scalar(
        "SELECT (SELECT coalesce(sum(players), 0) FROM score_board_shares \
                  WHERE regions_key = $1 AND period = $2 AND period_start = $3 AND share_nanos > $4) \
              + (SELECT coalesce(sum(players), 0) FROM score_board_durations \
                  WHERE regions_key = $1 AND period = $2 AND period_start = $3 AND share_nanos = $4 \
                    AND duration_key < $5) \
              + (SELECT coalesce(sum(players), 0) FROM score_board_deltas \
                  WHERE regions_key = $1 AND period = $2 AND period_start = $3 AND share_nanos >= $4 \
                    AND (share_nanos > $4 OR duration_key < $5))",
    )
    .bind(&board.regions_key)
    .bind(&board.period.period)
    .bind(&board.period.period_start)
    .bind(share)
    .bind(duration)
    .fetch_one(&mut *conn)
    .await?;
    Ok(better + 1)
}

/// One index range of a board, in an order, at most `$8` rows (with [`entry_columns`]).
macro_rules! board_range {
    ($condition:expr, $order:expr) => {
        concat!(
            "SELECT * FROM (SELECT ",
            entry_columns!(),
            board_rows!(),
            " AND ",
            $condition,
            " ORDER BY ",
            $order,
            " LIMIT $8)"
        )
    };
}

// The entries just before and just after a position (`$4`..`$7`: -share, duration key, achieved_at,
// user id). SQLite turns a row-value comparison on indexed expressions into a filter, not an index range,
// so each side is spelt as three ranges (same share and duration, same share, other shares), each read in
// index order and cut at `$8` rows. The outer ORDER BY sorts at most 3 × `$8` rows; columns are numbered as
// in `entry_columns`.

/// The `$8` entries before a position, nearest first.
const BEFORE: &str = concat!(
    board_range!(
        "-b.share_nanos = $4 AND coalesce(b.duration, 2147483647) = $5 AND (b.achieved_at, b.user_id) < ($6, $7)",
        "b.achieved_at DESC, b.user_id DESC"
    ),
    " UNION ALL ",
    board_range!(
        "-b.share_nanos = $4 AND coalesce(b.duration, 2147483647) < $5",
        "coalesce(b.duration, 2147483647) DESC, b.achieved_at DESC, b.user_id DESC"
    ),
    " UNION ALL ",
    board_range!(
        "-b.share_nanos < $4",
        "-b.share_nanos DESC, coalesce(b.duration, 2147483647) DESC, b.achieved_at DESC, b.user_id DESC"
    ),
    " ORDER BY 1, 2 DESC, 6 DESC, 7 DESC LIMIT $8"
);

/// The `$8` entries after a position, nearest first.
const AFTER: &str = concat!(
    board_range!(
        "-b.share_nanos = $4 AND coalesce(b.duration, 2147483647) = $5 AND (b.achieved_at, b.user_id) > ($6, $7)",
        "b.achieved_at, b.user_id"
    ),
    " UNION ALL ",
    board_range!(
        "-b.share_nanos = $4 AND coalesce(b.duration, 2147483647) > $5",
        "coalesce(b.duration, 2147483647), b.achieved_at, b.user_id"
    ),
    " UNION ALL ",
    board_range!("-b.share_nanos > $4", board_order!()),
    " ORDER BY 1 DESC, 2, 6, 7 LIMIT $8"
);

/// [`BEFORE`] or [`AFTER`] bound to a position.
// The return type names a closure, which a type alias cannot (impl Trait in aliases is unstable).
#[allow(clippy::type_complexity)]
fn neighbours_query<'q>(
    sql: &'static str,
    key: &'q BoardKey,
    (share, duration): TieKey,
    achieved_at: DbTime,
    user_id: &'q str,
    neighbours: u32,
) -> sqlx::query::Map<
    'q,
    Sqlite,
    impl FnMut(SqliteRow) -> Result<(TieKey, BoardEntry), sqlx::Error>,
    sqlx::sqlite::SqliteArguments,
> {
    sqlx::query(sql)
        .bind(&key.regions_key)
        .bind(&key.period.period)
        .bind(&key.period.period_start)
        .bind(-share)
        .bind(duration)
        .bind(achieved_at)
        .bind(user_id)
        .bind(i64::from(neighbours))
        .try_map(|row: SqliteRow| entry_at(&row))
}

async fn around_global(
    reader: &SqlitePool,
    key: &BoardKey,
    user_id: &str,
    neighbours: u32,
) -> Result<Vec<BoardEntry>, StoreError> {
    // One read transaction: every count and neighbour comes from the same snapshot.
    let mut tx = reader.begin().await?;
    let Some((caller_key, caller)) =
        sqlx::query(concat!("SELECT ", entry_columns!(), board_rows!(), " AND b.user_id = $4"))
            .bind(&key.regions_key)
            .bind(&key.period.period)
            .bind(&key.period.period_start)
            .bind(user_id)
            .try_map(|row: SqliteRow| entry_at(&row))
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(Vec::new());
    };
    let (share, duration) = caller_key;
    let achieved_at = DbTime(caller.achieved_at);

    let rank = rank_of(&mut tx, key, caller_key).await?;
    let tied_before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM score_bests \
          WHERE regions_key = $1 AND period = $2 AND period_start = $3 \
            AND -share_nanos = $4 AND coalesce(duration, 2147483647) = $5 AND (achieved_at, user_id) < ($6, $7)",
    )
    .bind(&key.regions_key)
    .bind(&key.period.period)
    .bind(&key.period.period_start)
    .bind(-share)
    .bind(duration)
    .bind(achieved_at)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let position = rank + tied_before;

    let before = neighbours_query(BEFORE, key, caller_key, achieved_at, user_id, neighbours)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .rev()
        .collect::<Vec<_>>();
    let after = neighbours_query(AFTER, key, caller_key, achieved_at, user_id, neighbours).fetch_all(&mut *tx).await?;

    // The window's first entry may belong to a tie group that starts above the window: rank it by count.
    let first_position = position - before.len() as i64;
    let first_rank = match before.first() {
        None => rank,
        Some((first_key, _)) if *first_key == caller_key => rank,
        Some(_) if first_position == 1 => 1,
        Some((first_key, _)) => rank_of(&mut tx, key, *first_key).await?,
    };
    tx.commit().await?;

    let mut rows = before;
    rows.push((caller_key, caller));
    rows.extend(after);
    Ok(board::ranked(rows, first_position, first_rank))
}
