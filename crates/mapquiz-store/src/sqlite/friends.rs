//! Friend requests and friendships (stored in both directions).
//!
//! The single writer connection serializes every write transaction, so the checks of
//! [`Friends::send_friend_request`] cannot be overtaken here; the evaluation is still written to survive a lost race
//! (re-run on a unique violation or a request answered meanwhile), as on PostgreSQL, so both backends obey
//! the same rules.

use super::SqliteStore;
use super::users::user_at;
use crate::db_time::{DbTime, time};
use crate::users::user_columns;
use crate::{Friend, FriendRequest, Friends, IncomingRequest, RequestStatus, RespondOutcome, SendOutcome, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// Evaluations of one send before the lost race is reported.
const SEND_ATTEMPTS: usize = 5;

/// The columns [`request_at`] reads, in its order.
macro_rules! request_columns {
    () => {
        "id, sender_id, receiver_id, status, created_at, updated_at"
    };
}

/// Reads a request from the six columns of [`request_columns`] starting at `at`.
fn request_at(row: &SqliteRow, at: usize) -> Result<FriendRequest, sqlx::Error> {
    let status: String = row.try_get(at + 3)?;
    Ok(FriendRequest {
        id: row.try_get(at)?,
        sender_id: row.try_get(at + 1)?,
        receiver_id: row.try_get(at + 2)?,
        status: RequestStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: (at + 3).to_string(),
            source: format!("unknown request status {status:?}").into(),
        })?,
        created_at: time(row, at + 4)?,
        updated_at: time(row, at + 5)?,
    })
}

/// Writes both directions of a friendship, keeping rows that exist.
async fn insert_friendship(
    conn: &mut SqliteConnection,
    user_id: &str,
    friend_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO friendships (user_id, friend_id, created_at) VALUES ($1, $2, $3), ($2, $1, $3) \
         ON CONFLICT (user_id, friend_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(friend_id)
    .bind(DbTime(now))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Friends for SqliteStore {
    async fn send_friend_request(
        &self,
        sender_id: &str,
        receiver_id: &str,
        new_request_id: &str,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        let mut lost = StoreError::Conflict("friend_requests_pending_pair_key");
        for _ in 0..SEND_ATTEMPTS {
            let mut tx = self.writer.begin().await?;
            match evaluate_send(&mut tx, sender_id, receiver_id, new_request_id, now).await {
                Ok(Some(outcome)) => {
                    tx.commit().await?;
                    return Ok(outcome);
                }
                Ok(None) => lost = StoreError::Conflict("friend_requests_pending_pair_key"),
                Err(err) if lost_race(&err) => lost = err,
                Err(err) => return Err(err),
            }
            tx.rollback().await?;
        }
        Err(lost)
    }

    async fn respond_friend_request(
        &self,
        request_id: &str,
        caller_id: &str,
        accept: bool,
        now: Timestamp,
    ) -> Result<RespondOutcome, StoreError> {
        let status = if accept { RequestStatus::Accepted } else { RequestStatus::Rejected };
        let mut tx = self.writer.begin().await?;
        // Conditional on still pending: of several concurrent answers, one changes the row.
        let sender_id: Option<String> = sqlx::query_scalar(
            "UPDATE friend_requests SET status = $1, updated_at = $2 \
              WHERE id = $3 AND receiver_id = $4 AND status = 'pending' RETURNING sender_id",
        )
        .bind(status.as_str())
        .bind(DbTime(now))
        .bind(request_id)
        .bind(caller_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(sender_id) = sender_id else {
            // Nothing changed: say why, in the protocol's order of checks.
            let receiver: Option<String> = sqlx::query_scalar("SELECT receiver_id FROM friend_requests WHERE id = $1")
                .bind(request_id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(match receiver {
                None => RespondOutcome::NotFound,
                Some(receiver) if receiver != caller_id => RespondOutcome::Forbidden,
                Some(_) => RespondOutcome::AlreadyProcessed,
            });
        };
        if accept {
            insert_friendship(&mut tx, &sender_id, caller_id, now).await?;
        }
        tx.commit().await?;
        Ok(if accept { RespondOutcome::Accepted { sender_id } } else { RespondOutcome::Rejected { sender_id } })
    }

    async fn remove_friendship(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1)",
        )
        .bind(user_id)
        .bind(friend_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn friends(&self, user_id: &str, limit: u32) -> Result<Vec<Friend>, StoreError> {
        // The user columns come from a subquery so that `user_at`'s list applies unchanged next to the join.
        Ok(sqlx::query(concat!(
            "SELECT f.created_at, u.* FROM friendships f JOIN (SELECT ",
            user_columns!(),
            " FROM users) u ON u.id = f.friend_id WHERE f.user_id = $1 ORDER BY f.created_at DESC, f.friend_id LIMIT $2"
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .try_map(|row: SqliteRow| Ok(Friend { since: time(&row, 0)?, user: user_at(&row, 1)? }))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn friend_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT friend_id FROM friendships WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn incoming_friend_requests(&self, user_id: &str, limit: u32) -> Result<Vec<IncomingRequest>, StoreError> {
        // Both column lists through subqueries: request columns first (0..6), then the sender's (6..16).
        Ok(sqlx::query(concat!(
            "SELECT r.*, u.* FROM (SELECT ",
            request_columns!(),
            " FROM friend_requests WHERE receiver_id = $1 AND status = 'pending') r JOIN (SELECT ",
            user_columns!(),
            " FROM users) u ON u.id = r.sender_id ORDER BY r.created_at DESC, r.id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .try_map(|row: SqliteRow| Ok(IncomingRequest { request: request_at(&row, 0)?, sender: user_at(&row, 6)? }))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn friend_request(&self, id: &str) -> Result<Option<FriendRequest>, StoreError> {
        Ok(sqlx::query(concat!("SELECT ", request_columns!(), " FROM friend_requests WHERE id = $1"))
            .bind(id)
            .try_map(|row: SqliteRow| request_at(&row, 0))
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn add_friendship(&self, user_id: &str, friend_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        insert_friendship(&mut conn, user_id, friend_id, now).await
    }

    async fn are_friends(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
        friendship_exists(&self.reader, user_id, friend_id).await
    }

    async fn prune_rejected_friend_requests(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM friend_requests WHERE status = 'rejected' AND updated_at < $1")
            .bind(DbTime(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}

/// A write that a concurrent transaction made impossible: the whole evaluation is run again.
fn lost_race(err: &StoreError) -> bool {
    matches!(err, StoreError::Conflict("friend_requests_pair_key" | "friend_requests_pending_pair_key"))
}

/// One evaluation of protocol §4.2 rules 4–7; `Ok(None)` when a conditional write found the state changed
/// since it was read (roll back and evaluate again).
async fn evaluate_send(
    conn: &mut SqliteConnection,
    sender_id: &str,
    receiver_id: &str,
    new_request_id: &str,
    now: Timestamp,
) -> Result<Option<SendOutcome>, StoreError> {
    // One statement reads the friendship and both pending directions together: a consistent picture.
    let (friends, outgoing, incoming): (bool, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2), \
                (SELECT id FROM friend_requests WHERE sender_id = $1 AND receiver_id = $2 AND status = 'pending'), \
                (SELECT id FROM friend_requests WHERE sender_id = $2 AND receiver_id = $1 AND status = 'pending')",
    )
    .bind(sender_id)
    .bind(receiver_id)
    .fetch_one(&mut *conn)
    .await?;
    if friends {
        return Ok(Some(SendOutcome::AlreadyFriends));
    }
    if outgoing.is_some() {
        return Ok(Some(SendOutcome::AlreadyPending));
    }
    if let Some(request_id) = incoming {
        let accepted = sqlx::query(
            "UPDATE friend_requests SET status = 'accepted', updated_at = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(DbTime(now))
        .bind(&request_id)
        .execute(&mut *conn)
        .await?;
        if accepted.rows_affected() == 0 {
            return Ok(None);
        }
        insert_friendship(conn, sender_id, receiver_id, now).await?;
        return Ok(Some(SendOutcome::AutoAccepted { request_id }));
    }
    // The pair index allows one request per direction: the answered ones make room for the new one.
    sqlx::query(
        "DELETE FROM friend_requests WHERE status <> 'pending' \
            AND ((sender_id = $1 AND receiver_id = $2) OR (sender_id = $2 AND receiver_id = $1))",
    )
    .bind(sender_id)
    .bind(receiver_id)
    .execute(&mut *conn)
    .await?;
    // A pending request between friends must never be stored. Behind the single writer nothing can make
    // them friends since the read above; the check mirrors PostgreSQL, where a concurrent accept can.
    sqlx::query(
        "INSERT INTO friend_requests (id, sender_id, receiver_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', $4, $4)",
    )
    .bind(new_request_id)
    .bind(sender_id)
    .bind(receiver_id)
    .bind(DbTime(now))
    .execute(&mut *conn)
    .await?;
    if friendship_exists(&mut *conn, sender_id, receiver_id).await? {
        return Ok(None);
    }
    Ok(Some(SendOutcome::Sent { request_id: new_request_id.to_owned() }))
}

/// Whether the friendship `user_id` → `friend_id` is stored, in or out of a transaction.
async fn friendship_exists(
    executor: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
    user_id: &str,
    friend_id: &str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2)")
        .bind(user_id)
        .bind(friend_id)
        .fetch_one(executor)
        .await?)
}
