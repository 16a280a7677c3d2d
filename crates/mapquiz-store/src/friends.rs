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
