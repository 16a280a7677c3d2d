//! Friend requests and friendships (stored in both directions).
//!
//! Transactions run under READ COMMITTED and several nodes may write at once, so two sends can both pass
//! the checks of [`Friends::send_friend_request`]. The writes decide: the unique indexes on `friend_requests` refuse
//! a second pending request of a pair, the auto-accept only updates a request still pending, and a new
//! request is withdrawn when the pair turns out to be friends. The loser rolls back and evaluates again
//! against what the winner committed.
//!
//! The statements both engines share are `crate::friends`'; the lists, ordered byte-wise, are the engine's own.

use super::PgStore;
use sqlx::postgres::PgRow;

crate::friends::impl_friends!(PgStore, PgRow, {
    async fn friends(&self, user_id: &str, limit: u32) -> Result<Vec<Friend>, StoreError> {
        // The user columns come from a subquery so that `user_at`'s list applies unchanged next to the join.
        Ok(sqlx::query(concat!(
            "SELECT f.created_at, u.* FROM friendships f JOIN (SELECT ",
            user_columns!(),
            " FROM users) u ON u.id = f.friend_id WHERE f.user_id = $1 \
              ORDER BY f.created_at DESC, f.friend_id COLLATE \"C\" LIMIT $2"
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .try_map(|row: PgRow| Ok(Friend { since: time(&row, 0)?, user: user_at(&row, 1)? }))
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
            " FROM users) u ON u.id = r.sender_id ORDER BY r.created_at DESC, r.id COLLATE \"C\" DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .try_map(|row: PgRow| Ok(IncomingRequest { request: request_at(&row, 0)?, sender: user_at(&row, 6)? }))
        .fetch_all(self.reads())
        .await?)
    }
});
