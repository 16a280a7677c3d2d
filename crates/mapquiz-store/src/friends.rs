//! Friend requests and friendships.

use crate::{StoreError, User};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a friend request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

impl RequestStatus {
    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RequestStatus::Pending),
            "accepted" => Some(RequestStatus::Accepted),
            "rejected" => Some(RequestStatus::Rejected),
            _ => None,
        }
    }
}

/// A friend request between two users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FriendRequest {
    pub id: String,
    pub sender_id: String,
    pub receiver_id: String,
    pub status: RequestStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An incoming pending request with the user who sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingRequest {
    pub request: FriendRequest,
    pub sender: User,
}

/// A friend of some user, and since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Friend {
    pub user: User,
    pub since: Timestamp,
}

/// What [`Friends::send_friend_request`] did (protocol §4.2, rules 4–7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Rule 4: nothing written.
    AlreadyFriends,
    /// Rule 5: the sender already has a pending request to the receiver; nothing written.
    AlreadyPending,
    /// Rule 6: the receiver's pending request to the sender (this id) was accepted and the friendship made.
    AutoAccepted { request_id: String },
    /// Rule 7: a new pending request (this id) was created, replacing earlier non-pending ones of the pair.
    Sent { request_id: String },
}

/// What [`Friends::respond_friend_request`] did (protocol §4.3, rules 2–4 and the outcome).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RespondOutcome {
    /// No request with that id.
    NotFound,
    /// The caller is not the request's receiver.
    Forbidden,
    /// The request is no longer pending (also when a concurrent answer won).
    AlreadyProcessed,
    /// Accepted: the friendship exists in both directions.
    Accepted { sender_id: String },
    /// Rejected.
    Rejected { sender_id: String },
}

/// Friend requests and friendships.
#[async_trait]
pub trait Friends: Send + Sync {
    /// Applies protocol §4.2 rules 4–7 for `sender_id` → `receiver_id` (two distinct users) in one
    /// transaction: already friends, already pending, auto-accept of the receiver's pending request (status
    /// and both friendship rows together), or a new pending request `new_request_id` replacing the pair's
    /// earlier non-pending requests. Race-free: a write that loses a race to a concurrent one (unique
    /// constraint, or a request answered meanwhile) is re-evaluated, so 200 identical concurrent calls leave
    /// one pending request and two users asking each other at once end up friends exactly once.
    async fn send_friend_request(
        &self,
        sender_id: &str,
        receiver_id: &str,
        new_request_id: &str,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError>;

    /// Applies protocol §4.3 rules 2–4 and the answer in one transaction: accepting sets the status and
    /// writes both friendship rows (idempotent when they exist); rejecting sets the status. Only one of
    /// several concurrent answers wins; the others get `AlreadyProcessed`.
    async fn respond_friend_request(
        &self,
        request_id: &str,
        caller_id: &str,
        accept: bool,
        now: Timestamp,
    ) -> Result<RespondOutcome, StoreError>;

    /// Deletes the friendship in both directions; `Ok(true)` when there was one.
    async fn remove_friendship(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError>;

    /// The user's friends, newest friendship first (then by friend id), at most `limit`.
    async fn friends(&self, user_id: &str, limit: u32) -> Result<Vec<Friend>, StoreError>;

    /// The ids of the user's friends (presence fan-out), unordered.
    async fn friend_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// The pending requests the user received, newest first (then by id), at most `limit`.
    async fn incoming_friend_requests(&self, user_id: &str, limit: u32) -> Result<Vec<IncomingRequest>, StoreError>;

    /// The friend request with this id.
    async fn friend_request(&self, id: &str) -> Result<Option<FriendRequest>, StoreError>;

    /// Whether the two users are friends.
    async fn are_friends(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError>;

    /// Adds a friendship in both directions (idempotent).
    async fn add_friendship(&self, user_id: &str, friend_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Deletes rejected friend requests last changed before `before`; returns how many.
    async fn prune_rejected_friend_requests(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// The columns `request_at` reads, in its order.
macro_rules! request_columns {
    () => {
        "id, sender_id, receiver_id, status, created_at, updated_at"
    };
}
pub(crate) use request_columns;

/// Implements [`Friends`] for `$store`, whose rows are `$row`, from the engine's own `friends` and
/// `incoming_friend_requests` (given as the block, which sees the imports and helpers below) and the
/// statements and send evaluation both engines share (a macro, not generic code: see `pools.rs`). Expects
/// the backend's `super::users::user_at`.
macro_rules! impl_friends {
    ($store:ty, $row:ty, { $($own:tt)* }) => {
        const _: () = {
            use $crate::db_time::{DbTime, time};
            use $crate::friends::request_columns;
            use $crate::pools::Pools;
            use $crate::users::user_columns;
            use $crate::{
                Friend, FriendRequest, Friends, IncomingRequest, RequestStatus, RespondOutcome, SendOutcome, StoreError,
            };
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::sqlx::Row as _;
            use super::users::user_at;

            /// Evaluations of one send before the lost race is reported.
            const SEND_ATTEMPTS: usize = 5;


            /// Reads a request from the six columns of `request_columns!` starting at `at`.
            fn request_at(row: &$row, at: usize) -> Result<FriendRequest, sqlx::Error> {
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
                conn: &mut <<$store as Pools>::Db as ::sqlx::Database>::Connection,
                user_id: &str,
                friend_id: &str,
                now: Timestamp,
            ) -> Result<(), StoreError> {
                // Rows in one order whatever the direction asked, so two PostgreSQL transactions writing the same pair
                // wait on each other instead of deadlocking (SQLite's single writer never waits).
                let (first, second) = if user_id <= friend_id { (user_id, friend_id) } else { (friend_id, user_id) };
                sqlx::query(
                    "INSERT INTO friendships (user_id, friend_id, created_at) VALUES ($1, $2, $3), ($2, $1, $3) \
                     ON CONFLICT (user_id, friend_id) DO NOTHING",
                )
                .bind(first)
                .bind(second)
                .bind(DbTime(now))
                .execute(conn)
                .await?;
                Ok(())
            }

            #[async_trait]
            impl Friends for $store {
                $($own)*

                async fn send_friend_request(
                    &self,
                    sender_id: &str,
                    receiver_id: &str,
                    new_request_id: &str,
                    now: Timestamp,
                ) -> Result<SendOutcome, StoreError> {
                    let mut lost = StoreError::Conflict("friend_requests_pending_pair_key");
                    for _ in 0..SEND_ATTEMPTS {
                        let mut tx = self.writes().begin().await?;
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
                    let mut tx = self.writes().begin().await?;
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
                    .execute(self.writes())
                    .await?;
                    Ok(done.rows_affected() > 0)
                }


                async fn friend_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
                    Ok(sqlx::query_scalar("SELECT friend_id FROM friendships WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_all(self.reads())
                        .await?)
                }


                async fn friend_request(&self, id: &str) -> Result<Option<FriendRequest>, StoreError> {
                    Ok(sqlx::query(concat!("SELECT ", request_columns!(), " FROM friend_requests WHERE id = $1"))
                        .bind(id)
                        .try_map(|row: $row| request_at(&row, 0))
                        .fetch_optional(self.reads())
                        .await?)
                }

                async fn add_friendship(&self, user_id: &str, friend_id: &str, now: Timestamp) -> Result<(), StoreError> {
                    let mut conn = self.writes().acquire().await?;
                    insert_friendship(&mut conn, user_id, friend_id, now).await
                }

                async fn are_friends(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
                    friendship_exists(self.reads(), user_id, friend_id).await
                }

                async fn prune_rejected_friend_requests(&self, before: Timestamp) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM friend_requests WHERE status = 'rejected' AND updated_at < $1")
                        .bind(DbTime(before))
                        .execute(self.writes())
                        .await?;
                    Ok(done.rows_affected())
                }
            }

            /// A write that a concurrent transaction made impossible: the whole evaluation is run again.
            fn lost_race(err: &StoreError) -> bool {
                match err {
                    StoreError::Conflict(name) => matches!(*name, "friend_requests_pair_key" | "friend_requests_pending_pair_key"),
                    // A deadlock or serialization failure (PostgreSQL) aborts this attempt only, with nothing committed:
                    // run it again.
                    StoreError::Unavailable(sqlx::Error::Database(db)) => matches!(db.code().as_deref(), Some("40P01" | "40001")),
                    _ => false,
                }
            }

            /// One evaluation of protocol §4.2 rules 4–7; `Ok(None)` when a conditional write found the state changed
            /// since it was read (roll back and evaluate again).
            async fn evaluate_send(
                conn: &mut <<$store as Pools>::Db as ::sqlx::Database>::Connection,
                sender_id: &str,
                receiver_id: &str,
                new_request_id: &str,
                now: Timestamp,
            ) -> Result<Option<SendOutcome>, StoreError> {
                // One statement reads the friendship and both pending directions together: a consistent picture (on
                // PostgreSQL, one snapshot under READ COMMITTED).
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
                // A pending request between friends must never be stored. On PostgreSQL the insert may have waited on
                // the other side's pending request and gone through because a concurrent auto-accept answered it: that
                // transaction has committed by now, so a fresh look shows its friendship; roll back, and the next
                // evaluation says AlreadyFriends. Behind SQLite's single writer nothing can make them friends since the
                // read above.
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
                executor: impl sqlx::Executor<'_, Database = <$store as Pools>::Db>,
                user_id: &str,
                friend_id: &str,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2)")
                    .bind(user_id)
                    .bind(friend_id)
                    .fetch_one(executor)
                    .await?)
            }
        };
    };
}
pub(crate) use impl_friends;
