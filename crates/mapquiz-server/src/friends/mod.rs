//! Friends (protocol §1.6, §2.7.1–2, §4.2–4.5): the rules in their order, shared by the HTTP routes
//! ([`routes`]) and the WebSocket messages ([`messages`]); each operation returns its answer and the
//! pushes it causes, which the caller sends after (WebSocket) or alongside (HTTP) the answer.

pub mod messages;
pub mod routes;

use crate::audit::Action;
use crate::bus::Event;
use crate::error::ApiError;
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::ws::protocol::{FriendRemoved, FriendRequestAccepted, Push};
use axum::http::StatusCode;
use mapquiz_domain::{Tag, new_id};
use mapquiz_store::{RespondOutcome, SendOutcome, StoreError, User};
use serde::Serialize;
use utoipa::ToSchema;

/// Why a friend operation was refused (the French message is the protocol's, for both transports).
#[derive(Debug, thiserror::Error)]
pub enum FriendError {
    #[error("Le tag est requis")]
    TagRequired,
    #[error("Utilisateur non trouvé")]
    UserNotFound,
    #[error("Vous ne pouvez pas vous ajouter vous-même")]
    CannotAddSelf,
    #[error("Vous êtes déjà amis avec cet utilisateur")]
    AlreadyFriends,
    #[error("Une demande est déjà en attente")]
    AlreadyPending,
    #[error("Action invalide")]
    InvalidAction,
    #[error("Demande d'ami non trouvée")]
    RequestNotFound,
    #[error("Non autorisé")]
    Forbidden,
    #[error("Demande déjà traitée")]
    AlreadyProcessed,
    /// Over `rate_limit_friend_requests_max` per window; over HTTP the 429 of protocol §1.1.3.
    #[error("Trop de demandes d'ami, veuillez réessayer plus tard")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("database failure")]
    Store(#[from] StoreError),
}

impl FriendError {
    /// HTTP status and stable code (protocol §1.6).
    fn http(&self) -> Option<(StatusCode, &'static str)> {
        Some(match self {
            FriendError::TagRequired => (StatusCode::BAD_REQUEST, "tag_required"),
            FriendError::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
            FriendError::CannotAddSelf => (StatusCode::BAD_REQUEST, "cannot_add_self"),
            FriendError::AlreadyFriends => (StatusCode::CONFLICT, "already_friends"),
            FriendError::AlreadyPending => (StatusCode::CONFLICT, "request_already_pending"),
            FriendError::InvalidAction => (StatusCode::BAD_REQUEST, "invalid_action"),
            FriendError::RequestNotFound => (StatusCode::NOT_FOUND, "friend_request_not_found"),
            FriendError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            FriendError::AlreadyProcessed => (StatusCode::CONFLICT, "request_already_processed"),
            FriendError::Store(_) | FriendError::TooManyRequests { .. } => return None,
        })
    }
}

impl From<FriendError> for ApiError {
    fn from(e: FriendError) -> Self {
        match e.http() {
            Some((status, code)) => ApiError::Rule { status, code, message: e.to_string() },
            None => match e {
                FriendError::Store(s) => s.into(),
                FriendError::TooManyRequests { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
                _ => ApiError::Internal(anyhow::anyhow!("unmapped friend error")),
            },
        }
    }
}

/// An answer and the pushes it causes.
pub struct Outcome<T> {
    pub body: T,
    pub events: Vec<Event>,
}

/// The answer to a friend request (HTTP and WebSocket alike).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentBody {
    success: bool,
    message: &'static str,
    receiver_id: String,
    auto_accepted: bool,
}

/// `{"success": true, "message": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    success: bool,
    message: &'static str,
}

impl Done {
    fn new(message: &'static str) -> Self {
        Done { success: true, message }
    }
}

fn accepted(to: &str, accepted_by: &str, friend_id: &str) -> Event {
    let push = Push::FriendRequestAccepted {
        payload: FriendRequestAccepted {
            success: true,
            accepted_by: accepted_by.to_owned(),
            friend_id: friend_id.to_owned(),
        },
    };
    Event::to_user(to, &push.frame())
}

/// Protocol §4.2: `raw_tag` as typed (trimmed and upper-cased here).
pub async fn send_request(
    state: &AppState,
    me: &User,
    raw_tag: &str,
    meta: &RequestMeta,
) -> Result<Outcome<SentBody>, FriendError> {
    if raw_tag.trim().is_empty() {
        return Err(FriendError::TagRequired);
    }
    // A string that cannot be a tag names nobody: no lookup needed.
    let tag = Tag::parse(raw_tag).map_err(|_| FriendError::UserNotFound)?;
    // Counted before the lookup: every well-formed attempt costs a lookup, and probing tags is abuse too.
    let limiters = &state.limiters;
    limiters
        .check_user(&limiters.friend_requests, "friend_requests", &me.id)
        .await
        .map_err(|retry_after_secs| FriendError::TooManyRequests { retry_after_secs })?;
    let receiver = state.store.user_by_tag(tag.as_str()).await?.ok_or(FriendError::UserNotFound)?;
    if receiver.id == me.id {
        return Err(FriendError::CannotAddSelf);
    }
    let outcome = state.store.send_friend_request(&me.id, &receiver.id, &new_id(), state.clock.now()).await?;
    let (message, auto_accepted, events) = match outcome {
        SendOutcome::AlreadyFriends => return Err(FriendError::AlreadyFriends),
        SendOutcome::AlreadyPending => return Err(FriendError::AlreadyPending),
        SendOutcome::Sent { .. } => {
            metrics::counter!("friend_requests_total", "outcome" => "sent").increment(1);
            state.audit.record_on(Action::FriendRequestSent, Some(&me.id), Some(&receiver.id), meta, None).await;
            let received = Event::to_user(&receiver.id, &Push::FriendRequestReceived.frame());
            ("Demande d'ami envoyée", false, vec![received])
        }
        SendOutcome::AutoAccepted { .. } => {
            metrics::counter!("friend_requests_total", "outcome" => "auto_accepted").increment(1);
            let details = Some(serde_json::json!({"mutual": true}));
            state.audit.record_on(Action::FriendRequestAccepted, Some(&me.id), Some(&receiver.id), meta, details).await;
            let events = vec![accepted(&me.id, &me.id, &receiver.id), accepted(&receiver.id, &me.id, &me.id)];
            ("Vous êtes maintenant amis", true, events)
        }
    };
    Ok(Outcome { body: SentBody { success: true, message, receiver_id: receiver.id, auto_accepted }, events })
}

/// Protocol §4.3.
pub async fn respond(
    state: &AppState,
    me: &User,
    request_id: &str,
    action: &str,
    meta: &RequestMeta,
) -> Result<Outcome<Done>, FriendError> {
    let accept = match action {
        "accept" => true,
        "reject" => false,
        _ => return Err(FriendError::InvalidAction),
    };
    match state.store.respond_friend_request(request_id, &me.id, accept, state.clock.now()).await? {
        RespondOutcome::NotFound => Err(FriendError::RequestNotFound),
        RespondOutcome::Forbidden => Err(FriendError::Forbidden),
        RespondOutcome::AlreadyProcessed => Err(FriendError::AlreadyProcessed),
        RespondOutcome::Accepted { sender_id } => {
            metrics::counter!("friend_requests_total", "outcome" => "accepted").increment(1);
            state.audit.record_on(Action::FriendRequestAccepted, Some(&me.id), Some(&sender_id), meta, None).await;
            Ok(Outcome { body: Done::new("Demande acceptée"), events: vec![accepted(&sender_id, &me.id, &me.id)] })
        }
        RespondOutcome::Rejected { sender_id } => {
            metrics::counter!("friend_requests_total", "outcome" => "rejected").increment(1);
            state.audit.record_on(Action::FriendRequestRejected, Some(&me.id), Some(&sender_id), meta, None).await;
            Ok(Outcome { body: Done::new("Demande rejetée"), events: Vec::new() })
        }
    }
}

/// Protocol §4.4: always succeeds; the removed friend is told when there was a friendship.
pub async fn remove(
    state: &AppState,
    me: &User,
    friend_id: &str,
    meta: &RequestMeta,
) -> Result<Outcome<Done>, FriendError> {
    let removed = state.store.remove_friendship(&me.id, friend_id).await?;
    let events = if removed {
        state.audit.record_on(Action::FriendRemoved, Some(&me.id), Some(friend_id), meta, None).await;
        let push = Push::FriendRemoved { payload: FriendRemoved { friend_id: me.id.clone() } };
        vec![Event::to_user(friend_id, &push.frame())]
    } else {
        Vec::new()
    };
    Ok(Outcome { body: Done::new("Ami supprimé avec succès"), events })
}
