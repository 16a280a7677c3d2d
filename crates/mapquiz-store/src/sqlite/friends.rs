//! Friend requests and friendships (stored in both directions).
//!
//! The single writer connection serializes every write transaction, so the checks of
//! [`Friends::send_friend_request`] cannot be overtaken here; the evaluation is still written to survive a lost race
//! (re-run on a unique violation or a request answered meanwhile), as on PostgreSQL, so both backends obey
//! the same rules.
//!
//! The statements both engines share are `crate::friends`'; the lists, ordered byte-wise, are the engine's own.

use super::SqliteStore;
use sqlx::sqlite::SqliteRow;

crate::friends::impl_friends!(SqliteStore, SqliteRow, {
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
        .fetch_all(self.reads())
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
        .fetch_all(self.reads())
        .await?)
    }
});
