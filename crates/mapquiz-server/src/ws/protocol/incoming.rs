//! The client → server half of the contract: what a message type declares ([`MessageSpec`]), what its
//! handler is given ([`Incoming`]) and what it answers ([`Handled`] or a [`Failure`]).
//!
//! Each feature lists its messages in a table of [`MessageSpec`]s next to their handlers; the gateway only
//! joins the features' tables (`ws::messages`), so adding a message is one entry and its handler.

use super::text;
use crate::bus::Event;
use crate::http::meta::RequestMeta;
use crate::live::outbox::Outbox;
use futures_util::future::BoxFuture;
use mapquiz_store::{StoreError, User};
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One client message type: its `type`, an example payload and its payload errors for the documentation,
/// and its handler. `S` is the state handlers are given.
pub struct MessageSpec<S: 'static> {
    /// The message `type`; the reply is `<kind>_success`.
    pub kind: &'static str,
    /// An example payload (for the documentation page).
    pub example: fn() -> Value,
    /// The `error` messages a payload gets before the feature's rules run, each with when (documentation).
    pub payload_errors: &'static [(&'static str, &'static str)],
    /// Reads the payload, then runs the message for the authenticated caller.
    pub handle: Handler<S>,
}

/// A message handler: a plain `async fn` wrapped as `|m| Box::pin(handler(m))` in a table entry.
pub type Handler<S> = for<'a> fn(Incoming<'a, S>) -> BoxFuture<'a, Result<Handled, Failure>>;

/// What a handler is given: the state, the socket's user, the message's payload, the upgrade's metadata and
/// the socket's outgoing queue.
pub struct Incoming<'a, S> {
    pub state: &'a S,
    /// The authenticated user whose socket sent the message.
    pub me: &'a User,
    /// `payload`, or an empty object when absent.
    pub payload: &'a Map<String, Value>,
    /// The client IP and user agent of the upgrade request (for the audit).
    pub meta: &'a RequestMeta,
    /// The requesting socket's queue, for a handler whose reply is written by someone else (a lobby's actor
    /// writes the reply and then its pushes, in the order it applies commands); it then answers
    /// [`Handled::Sent`].
    pub outbox: &'a Outbox,
}

impl<S> Incoming<'_, S> {
    /// A non-empty string field of the payload (protocol §2.7: missing, not a string or empty is "requis").
    pub fn required(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

/// A handled message.
pub enum Handled {
    /// The `<type>_success` data, then the pushes it causes: the gateway sends the one and publishes the others.
    Reply { data: Value, events: Vec<Event> },
    /// The reply (success or error) and the pushes are already queued, in order, through
    /// [`Incoming::outbox`] and the bus: the gateway sends nothing more.
    Sent,
}

impl Handled {
    /// `data` serialised, with `events` to publish after the reply.
    pub fn new<T: Serialize>(data: &T, events: Vec<Event>) -> Result<Self, Failure> {
        let data = serde_json::to_value(data).map_err(|e| {
            tracing::error!(error = %e, "reply serialisation failed");
            Failure::from(text::OPERATION_FAILED)
        })?;
        Ok(Handled::Reply { data, events })
    }
}

/// The `error` message a handler answers with.
pub type Failure = Cow<'static, str>;

/// A database failure as a WebSocket `error` (details to the log only).
pub fn store_failure(e: &StoreError) -> Failure {
    crate::error::count_store_error(e);
    tracing::warn!(error = format!("{e:#}"), "WebSocket operation failed");
    Cow::Borrowed(text::OPERATION_FAILED)
}
