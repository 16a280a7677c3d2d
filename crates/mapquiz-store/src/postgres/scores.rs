//! Solo games, the best-per-player table and the leaderboards read from it.
//!
//! Board order is the index order of `score_bests_rank_idx` (migration 0006): every key ascending, so a
//! position in the board is a row-value comparison and reads are index ranges. Queries must spell the
//! expressions exactly as the index does, `user_id` byte-wise ("C") as on SQLite.

use super::PgStore;
use super::users::user_at;
use crate::board::{self, BestRow, TieKey};
use crate::db_time::{DbTime, time};
use crate::{BoardEntry, BoardKey, BoardScope, NewScore, Score, ScoreStats, Scores, StoreError};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Row};

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
        "-b.share_nanos, coalesce(b.duration, 2147483647), b.achieved_at, b.user_id COLLATE \"C\""
    };
}

fn score_at(row: &PgRow) -> Result<Score, sqlx::Error> {
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
fn entry_at(row: &PgRow) -> Result<(TieKey, BoardEntry), sqlx::Error> {
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

/// Inserts the games with one statement over arrays (one parameter per column, whatever the count).
async fn insert_games(conn: &mut PgConnection, scores: &[NewScore]) -> Result<(), StoreError> {
    let regions = scores
        .iter()
        .map(|s| serde_json::to_string(&s.selected_regions))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
    sqlx::query(
        "INSERT INTO game_scores (id, user_id, score, total_questions, selected_regions, regions_key, game_mode, \
                                  duration, created_at) \
         SELECT id, user_id, score, total_questions, selected_regions::jsonb, regions_key, game_mode, duration, \
                created_at \
           FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::int4[], $5::text[], $6::text[], $7::text[], \
                       $8::int4[], $9::timestamptz[]) \
             AS g (id, user_id, score, total_questions, selected_regions, regions_key, game_mode, duration, \
                   created_at)",
    )
    .bind(scores.iter().map(|s| s.id.as_str()).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.user_id.as_str()).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.score).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.total_questions).collect::<Vec<_>>())
    .bind(regions)
    .bind(scores.iter().map(|s| s.regions_key.as_str()).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.game_mode.as_str()).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| s.duration).collect::<Vec<_>>())
    .bind(scores.iter().map(|s| DbTime(s.created_at)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Upserts bests, each replacing the stored one only when strictly better in board order (higher share,
/// then shorter duration, then earlier): an equal later game keeps the earlier one. `rows` has one row per
/// (board, player) (see [`board::best_rows`]): one statement may not update a row twice.
async fn upsert_bests(conn: &mut PgConnection, rows: &[BestRow<'_>]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO score_bests AS s (regions_key, period, period_start, user_id, score_id, score, \
                                       total_questions, share_nanos, duration, achieved_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::int4[], \
                              $8::int8[], $9::int4[], $10::timestamptz[]) \
         ON CONFLICT (regions_key, period, period_start, user_id) DO UPDATE SET \
            score_id = excluded.score_id, score = excluded.score, total_questions = excluded.total_questions, \
            share_nanos = excluded.share_nanos, duration = excluded.duration, achieved_at = excluded.achieved_at \
          WHERE (-excluded.share_nanos, coalesce(excluded.duration, 2147483647), excluded.achieved_at) \
              < (-s.share_nanos, coalesce(s.duration, 2147483647), s.achieved_at)",
    )
    .bind(rows.iter().map(|b| b.regions_key).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.period).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.period_start).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.score_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.score).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.total_questions).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.share_nanos).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| b.duration).collect::<Vec<_>>())
    .bind(rows.iter().map(|b| DbTime(b.achieved_at)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores the games and their bests in `conn`'s transaction, the bests in key order: neighbouring pages of
/// the primary key, and the same lock order in concurrent groups (several nodes, or a bulk load beside them).
pub(super) async fn write_games_in(conn: &mut PgConnection, scores: &[NewScore]) -> Result<(), StoreError> {
    if scores.is_empty() {
        return Ok(());
    }
    let mut rows = board::best_rows(scores);
    rows.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
    insert_games(conn, scores).await?;
    upsert_bests(conn, &rows).await
}

/// Stores the games and their bests in one transaction of their own.
async fn write_games(pool: &PgPool, scores: &[NewScore]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    write_games_in(&mut tx, scores).await?;
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Scores for PgStore {
    async fn insert_score_group(&self, scores: &[NewScore]) -> Result<(), StoreError> {
        if scores.is_empty() {
            return Ok(());
        }
        write_games(&self.pool, scores).await?;
        if self.folds.due(scores) {
            fold_counts_quietly(&self.pool).await;
        }
        Ok(())
    }

    async fn insert_scores(&self, scores: &[NewScore]) -> Result<(), StoreError> {
        if scores.is_empty() {
            return Ok(());
        }
        write_games(&self.pool, scores).await?;
        fold_counts(&self.pool).await?;
        refresh_statistics(&self.pool).await
    }

    async fn recent_scores(&self, user_id: &str, limit: u32) -> Result<Vec<Score>, StoreError> {
        // Ids are time-ordered UUIDv7, compared byte-wise: the same tie-break as SQLite.
        Ok(sqlx::query(concat!(
            "SELECT ",
            score_columns!(),
            " FROM game_scores WHERE user_id = $1 ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .try_map(|row: PgRow| score_at(&row))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn score_stats(&self, user_id: &str) -> Result<ScoreStats, StoreError> {
        let (total_games, best_score, total_score) = sqlx::query_as(
            "SELECT count(*), coalesce(max(score), 0)::int8, coalesce(sum(score), 0)::int8 \
               FROM game_scores WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
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
                .try_map(|row: PgRow| entry_at(&row))
                .fetch_all(&self.pool)
                .await?;
                Ok(board::ranked(rows, 1, 1))
            }
            BoardScope::Friends { user_id } => {
                let mut entries = friends_board(&self.pool, key, user_id).await?;
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
            BoardScope::Global => around_global(&self.pool, key, user_id, neighbours).await,
            BoardScope::Friends { user_id: owner } => {
                Ok(board::window(friends_board(&self.pool, key, owner).await?, user_id, neighbours))
            }
        }
    }
}

/// Re-analyses the score tables once they have more than doubled since their last analysis.
///
/// Bulk loads (seeding, imports) outrun autovacuum: until it catches up, the planner believes a board
/// holds one row and reads a player's best by scanning the board through the rank index instead of
/// using the primary key (measured: 25 ms instead of 0.1 ms on a 20,000-player board). Doubling keeps
/// the number of analyses logarithmic in the load.
pub(super) async fn refresh_statistics(pool: &PgPool) -> Result<(), StoreError> {
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables \
          WHERE relid IN ('score_bests'::regclass, 'game_scores'::regclass, 'users'::regclass, \
                          'score_board_shares'::regclass) \
            AND n_mod_since_analyze >= 1000 AND 2 * n_mod_since_analyze > n_live_tup",
    )
    .fetch_all(pool)
    .await?;
    for table in stale {
        // The names come from the fixed list above, never from input.
        let analyze = match table.as_str() {
            "score_bests" => "ANALYZE score_bests",
            "game_scores" => "ANALYZE game_scores",
            "users" => "ANALYZE users",
            "score_board_shares" => "ANALYZE score_board_shares",
            _ => continue,
        };
        sqlx::query(analyze).execute(pool).await?;
    }
    Ok(())
}

/// Any other session's fold holds this (transaction-scoped advisory lock, an arbitrary constant).
const FOLD_LOCK: i64 = 0x006d_715f_666f_6c64; // "mq_fold" in ASCII

/// Moves the pending count changes (`score_board_deltas`, appended by the `score_bests` triggers of
/// migration 0007) into the per-board counters, in one transaction: a reader's snapshot sees each change
/// either still pending or folded, never both. Writers never wait on it (they only append); a second fold
/// meanwhile skips rather than queue, leaving its deltas to the next one.
pub(super) async fn fold_counts(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let ours: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)").bind(FOLD_LOCK).fetch_one(&mut *tx).await?;
    if !ours {
        return Ok(());
    }
    sqlx::query(
        "WITH moved AS ( \
             DELETE FROM score_board_deltas \
             RETURNING regions_key, period, period_start, share_nanos, duration_key, players \
         ), delta AS ( \
             SELECT regions_key, period, period_start, share_nanos, duration_key, sum(players)::int8 AS players \
               FROM moved GROUP BY 1, 2, 3, 4, 5 \
         ), shares AS ( \
             INSERT INTO score_board_shares AS s (regions_key, period, period_start, share_nanos, players) \
             SELECT regions_key, period, period_start, share_nanos, sum(players)::int8 FROM delta \
              GROUP BY 1, 2, 3, 4 HAVING sum(players) <> 0 \
             ON CONFLICT (regions_key, period, period_start, share_nanos) \
             DO UPDATE SET players = s.players + excluded.players \
         ) \
         INSERT INTO score_board_durations AS s \
                (regions_key, period, period_start, share_nanos, duration_key, players) \
         SELECT * FROM delta WHERE players <> 0 \
         ON CONFLICT (regions_key, period, period_start, share_nanos, duration_key) \
         DO UPDATE SET players = s.players + excluded.players",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// [`fold_counts`] after a game was stored: its failure leaves the deltas to the next fold and must not
/// turn the stored game into an error.
async fn fold_counts_quietly(pool: &PgPool) {
    if let Err(e) = fold_counts(pool).await {
        tracing::warn!(error = format!("{e:#}"), "folding leaderboard counts failed; the next fold retries");
    }
}

/// The whole board of a user and their friends, ranked within it: a user's friends are few, so this is a
/// primary-key lookup per friend, not a scan of the board.
async fn friends_board(pool: &PgPool, key: &BoardKey, user_id: &str) -> Result<Vec<BoardEntry>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM (SELECT $4::text AS id UNION SELECT friend_id FROM friendships WHERE user_id = $4) AS scope \
          JOIN score_bests b ON b.regions_key = $1 AND b.period = $2 AND b.period_start = $3 AND b.user_id = scope.id \
          JOIN users u ON u.id = b.user_id ORDER BY ",
        board_order!()
    ))
    .bind(&key.regions_key)
    .bind(&key.period.period)
    .bind(&key.period.period_start)
    .bind(user_id)
    .try_map(|row: PgRow| entry_at(&row))
    .fetch_all(pool)
    .await?;
    Ok(board::ranked(rows, 1, 1))
}

/// How many entries are strictly better than the row `x` of the query (columns `share_nanos`,
/// `duration_key`), on the board `$1`..`$3`: the per-share and per-duration counts plus the changes not yet
/// folded into them (see [`fold_counts`]), each an index range (the pending changes, one range from the
/// entry's share up).
macro_rules! better_than {
    ($x:literal) => {
        concat!(
            "(SELECT coalesce(sum(s.players), 0)::int8 FROM score_board_shares s \
               WHERE s.regions_key = $1 AND s.period = $2 AND s.period_start = $3 AND s.share_nanos > ",
            $x,
            ".share_nanos) \
             + (SELECT coalesce(sum(d.players), 0)::int8 FROM score_board_durations d \
                 WHERE d.regions_key = $1 AND d.period = $2 AND d.period_start = $3 AND d.share_nanos = ",
            $x,
            ".share_nanos AND d.duration_key < ",
            $x,
            ".duration_key) \
             + (SELECT coalesce(sum(p.players), 0)::int8 FROM score_board_deltas p \
                 WHERE p.regions_key = $1 AND p.period = $2 AND p.period_start = $3 AND p.share_nanos >= ",
            $x,
            ".share_nanos AND (p.share_nanos > ",
            $x,
            ".share_nanos OR p.duration_key < ",
            $x,
            ".duration_key))"
        )
    };
}

/// The columns of a best, named for [`better_than`] and read by [`AROUND`].
macro_rules! best_columns {
    () => {
        "b.share_nanos, coalesce(b.duration, 2147483647) AS duration_key, b.score, b.total_questions, b.duration, \
         b.achieved_at, b.user_id"
    };
}

/// The caller's entry (`$4`) and up to `$5` neighbours on each side, in board order, in one statement (one
/// snapshot, one round trip). Neighbours are index-ordered LIMIT reads from the caller's position; each row
/// also carries the counts its rank derives from: the entries strictly better than the caller, the caller's
/// ties listed before it, and the entries strictly better than the window's first entry (NULL without
/// neighbours above). Only the caller's exact ties are counted in score_bests itself.
const AROUND: &str = concat!(
    "WITH me AS MATERIALIZED (SELECT ",
    best_columns!(),
    " FROM score_bests b WHERE b.regions_key = $1 AND b.period = $2 AND b.period_start = $3 AND b.user_id = $4), \
     above AS (SELECT n.* FROM me CROSS JOIN LATERAL (SELECT ",
    best_columns!(),
    " FROM score_bests b \
       WHERE b.regions_key = $1 AND b.period = $2 AND b.period_start = $3 \
         AND (-b.share_nanos, coalesce(b.duration, 2147483647), b.achieved_at, b.user_id COLLATE \"C\") \
           < (-me.share_nanos, me.duration_key, me.achieved_at, me.user_id) \
       ORDER BY -b.share_nanos DESC, coalesce(b.duration, 2147483647) DESC, b.achieved_at DESC, \
                b.user_id COLLATE \"C\" DESC \
       LIMIT $5) AS n), \
     below AS (SELECT n.* FROM me CROSS JOIN LATERAL (SELECT ",
    best_columns!(),
    " FROM score_bests b \
       WHERE b.regions_key = $1 AND b.period = $2 AND b.period_start = $3 \
         AND (-b.share_nanos, coalesce(b.duration, 2147483647), b.achieved_at, b.user_id COLLATE \"C\") \
           > (-me.share_nanos, me.duration_key, me.achieved_at, me.user_id) \
       ORDER BY ",
    board_order!(),
    " LIMIT $5) AS n), \
     first AS (SELECT * FROM above \
       ORDER BY -share_nanos, duration_key, achieved_at, user_id COLLATE \"C\" LIMIT 1), \
     rows AS (SELECT * FROM above UNION ALL SELECT * FROM me UNION ALL SELECT * FROM below) \
     SELECT r.share_nanos, r.duration_key, r.score, r.total_questions, r.duration, r.achieved_at, \
            u.id, u.name, u.email, u.email_verified, u.image, u.tag, u.is_online, u.last_seen, u.created_at, \
            u.updated_at, \
            (SELECT ",
    better_than!("me"),
    " FROM me), \
            (SELECT count(*) FROM score_bests c, me \
              WHERE c.regions_key = $1 AND c.period = $2 AND c.period_start = $3 \
                AND -c.share_nanos = -me.share_nanos AND coalesce(c.duration, 2147483647) = me.duration_key \
                AND (c.achieved_at, c.user_id COLLATE \"C\") < (me.achieved_at, me.user_id)), \
            (SELECT ",
    better_than!("first"),
    " FROM first) \
       FROM rows r JOIN users u ON u.id = r.user_id \
      ORDER BY -r.share_nanos, r.duration_key, r.achieved_at, r.user_id COLLATE \"C\""
);

async fn around_global(
    pool: &PgPool,
    key: &BoardKey,
    user_id: &str,
    neighbours: u32,
) -> Result<Vec<BoardEntry>, StoreError> {
    let rows = sqlx::query(AROUND)
        .bind(&key.regions_key)
        .bind(&key.period.period)
        .bind(&key.period.period_start)
        .bind(user_id)
        .bind(i64::from(neighbours))
        .try_map(|row: PgRow| {
            let counts: (i64, i64, Option<i64>) = (row.try_get(16)?, row.try_get(17)?, row.try_get(18)?);
            Ok((entry_at(&row)?, counts))
        })
        .fetch_all(pool)
        .await?;
    let Some(at) = rows.iter().position(|((_, entry), _)| entry.user.id == user_id) else {
        return Ok(Vec::new());
    };
    let (caller_better, tied_before, first_better) = rows[at].1;
    let position = caller_better + 1 + tied_before;
    let first_position = position - at as i64;
    // Without neighbours above, the window starts at the caller; a first entry tied with the caller has
    // the caller's count anyway.
    let first_rank = first_better.unwrap_or(caller_better) + 1;
    Ok(board::ranked(rows.into_iter().map(|(entry, _)| entry).collect(), first_position, first_rank))
}
