//! This node's authenticated sockets, by user: where a push addressed to a user is written.
//!
//! Writing never waits: each socket has a bounded [`Outbox`], and a socket whose queue is full (a reader
//! that stopped reading) is disconnected rather than allowed to grow memory.

use crate::live::outbox::{Outbox, close};
use crate::lobbies::cluster::LobbyMail;
use crate::ws::protocol::Frame;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long a revoked session is remembered: a socket whose authentication read the session just before
/// the revocation, and attaches just after it, is closed on arrival. Far longer than that gap (one lookup).
const REVOKED_REMEMBERED: Duration = Duration::from_secs(60);

/// One authenticated socket as the hub sees it.
#[derive(Debug)]
pub struct SocketHandle {
    /// Unique on this node, increasing with age.
    pub id: u64,
    /// The hash of the session token that authenticated it (revoking the session closes it).
    pub session_hash: String,
    outbox: Outbox,
}

/// Allocates socket ids.
static NEXT_SOCKET_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh socket id.
pub fn next_socket_id() -> u64 {
    NEXT_SOCKET_ID.fetch_add(1, Ordering::Relaxed)
}

/// The hub.
#[derive(Debug)]
pub struct Hub {
    state: Mutex<State>,
    max_per_user: usize,
    /// Where the bus's lobby mail goes on (several nodes): the lobbies' cluster router, once it listens.
    lobby_mail: OnceLock<MailSink>,
}

/// What takes the bus's lobby mail, called as each arrives, in the bus's order (a reply must reach its
/// socket before the pushes that follow it on the bus).
#[derive(Clone)]
pub struct MailSink(pub Arc<dyn Fn(&LobbyMail) + Send + Sync>);

impl std::fmt::Debug for MailSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailSink")
    }
}

/// What the hub's lock guards: sockets by user, and sessions revoked lately (one lock, so that a revocation
/// and an attach cannot pass each other).
#[derive(Debug, Default)]
struct State {
    users: HashMap<String, Vec<Arc<SocketHandle>>>,
    revoked: HashMap<String, Instant>,
}

impl Hub {
    /// An empty hub allowing `max_per_user` sockets per user.
    pub fn new(max_per_user: usize) -> Self {
        Hub { state: Mutex::new(State::default()), max_per_user: max_per_user.max(1), lobby_mail: OnceLock::new() }
    }

    /// Hands the bus's lobby mail to `sink` from now on (set once).
    pub fn listen_for_lobby_mail(&self, sink: MailSink) {
        if self.lobby_mail.set(sink).is_err() {
            tracing::error!("lobby mail already has a listener");
        }
    }

    /// Passes lobby mail from the bus on to the lobbies (dropped when nobody listens: one node).
    pub fn lobby_mail(&self, mail: &LobbyMail) {
        if let Some(sink) = self.lobby_mail.get() {
            (sink.0)(mail);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The maps stay consistent whatever a panicking holder did (every change is one insert or remove).
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a socket; returns whether it is the user's first on this node. Past the per-user limit the
    /// oldest socket is closed with 1008; a socket of a session revoked lately is closed at once (1008).
    pub fn attach(&self, id: u64, user_id: &str, session_hash: &str, outbox: Outbox) -> bool {
        let mut state = self.lock();
        if state.revoked.get(session_hash).is_some_and(|at| at.elapsed() < REVOKED_REMEMBERED) {
            outbox.closer().close(close::POLICY_VIOLATION);
        }
        let handle = Arc::new(SocketHandle { id, session_hash: session_hash.to_owned(), outbox });
        let sockets = state.users.entry(user_id.to_owned()).or_default();
        let first = sockets.is_empty();
        sockets.push(handle);
        while sockets.len() > self.max_per_user {
            let oldest = sockets.remove(0);
            oldest.outbox.closer().close(close::POLICY_VIOLATION);
        }
        first
    }

    /// Forgets a socket; returns whether the user has no socket left on this node (and had this one).
    pub fn detach(&self, user_id: &str, id: u64) -> bool {
        let mut state = self.lock();
        let users = &mut state.users;
        let Some(sockets) = users.get_mut(user_id) else { return false };
        let before = sockets.len();
        sockets.retain(|s| s.id != id);
        let removed = sockets.len() < before;
        if sockets.is_empty() {
            users.remove(user_id);
            return removed;
        }
        false
    }

    /// Whether the user has a socket on this node.
    pub fn holds(&self, user_id: &str) -> bool {
        self.lock().users.contains_key(user_id)
    }

    /// The users with a socket on this node.
    pub fn users(&self) -> Vec<String> {
        self.lock().users.keys().cloned().collect()
    }

    /// Authenticated sockets on this node.
    pub fn socket_count(&self) -> usize {
        self.lock().users.values().map(Vec::len).sum()
    }

    /// Queues `frame` on every socket of `user_id` on this node.
    pub fn send_to_user(&self, user_id: &str, frame: &Frame) {
        let sockets = self.lock().users.get(user_id).cloned().unwrap_or_default();
        for s in sockets {
            s.outbox.send(frame.clone());
        }
    }

    /// Users with a socket on this node.
    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    /// Closes, with 1008, these sockets of `user_id` (those the per-user limit across nodes let go).
    pub fn close_sockets(&self, user_id: &str, ids: &[u64]) {
        let state = self.lock();
        for s in state.users.get(user_id).into_iter().flatten().filter(|s| ids.contains(&s.id)) {
            s.outbox.closer().close(close::POLICY_VIOLATION);
        }
    }

    /// Closes, with 1008, every socket authenticated by one of these sessions, and those that attach with
    /// one of them for a while yet.
    pub fn close_sessions(&self, session_hashes: &[String]) {
        let mut state = self.lock();
        let now = Instant::now();
        state.revoked.retain(|_, at| now.duration_since(*at) < REVOKED_REMEMBERED);
        state.revoked.extend(session_hashes.iter().map(|h| (h.clone(), now)));
        for s in state.users.values().flatten() {
            if session_hashes.contains(&s.session_hash) {
                s.outbox.closer().close(close::POLICY_VIOLATION);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::outbox::{Closer, OutboxReader, outbox};

    fn socket(hub: &Hub, user: &str, session: &str) -> (u64, OutboxReader, Closer, bool) {
        let closer = Closer::default();
        let (out, reader) = outbox(2, 1 << 20, closer.clone());
        let id = next_socket_id();
        let first = hub.attach(id, user, session, out);
        (id, reader, closer, first)
    }

    #[test]
    fn pushes_reach_every_socket_of_the_user_and_only_theirs() {
        let hub = Hub::new(10);
        let (_, mut a1, _, first) = socket(&hub, "a", "s1");
        assert!(first);
        let (_, mut a2, _, first) = socket(&hub, "a", "s2");
        assert!(!first);
        let (_, mut b, _, _) = socket(&hub, "b", "s3");
        hub.send_to_user("a", &"hello".into());
        assert_eq!(a1.drain_now()[0].as_str(), "hello");
        assert_eq!(a2.drain_now()[0].as_str(), "hello");
        assert!(b.drain_now().is_empty());
        assert_eq!(hub.socket_count(), 3);
    }

    #[test]
    fn the_last_detach_reports_the_user_gone() {
        let hub = Hub::new(10);
        let (one, _r1, _, _) = socket(&hub, "a", "s");
        let (two, _r2, _, _) = socket(&hub, "a", "s");
        assert!(!hub.detach("a", one));
        assert!(!hub.detach("a", one), "twice is harmless");
        assert!(hub.holds("a"));
        assert!(hub.detach("a", two));
        assert!(!hub.holds("a"));
        assert!(!hub.detach("a", two));
    }

    #[test]
    fn one_socket_past_the_limit_closes_the_oldest() {
        let hub = Hub::new(2);
        let (_, _r1, oldest, _) = socket(&hub, "a", "s");
        let (_, _r2, middle, _) = socket(&hub, "a", "s");
        assert!(!oldest.is_requested());
        let (_, _r3, newest, _) = socket(&hub, "a", "s");
        assert_eq!(oldest.code(), Some(close::POLICY_VIOLATION));
        assert!(!middle.is_requested() && !newest.is_requested());
        assert_eq!(hub.socket_count(), 2);
    }

    #[test]
    fn a_full_queue_disconnects_the_slow_reader() {
        let hub = Hub::new(10);
        let (_, _rx, closer, _) = socket(&hub, "a", "s");
        hub.send_to_user("a", &"1".into());
        hub.send_to_user("a", &"2".into());
        assert!(!closer.is_requested());
        hub.send_to_user("a", &"3".into());
        assert_eq!(closer.code(), Some(close::POLICY_VIOLATION));
    }

    #[test]
    fn a_socket_of_a_session_revoked_just_before_it_attached_is_closed() {
        let hub = Hub::new(10);
        hub.close_sessions(&["s1".to_owned()]);
        let (_, _r1, late, _) = socket(&hub, "a", "s1");
        assert_eq!(late.code(), Some(close::POLICY_VIOLATION));
        let (_, _r2, other, _) = socket(&hub, "a", "s2");
        assert!(!other.is_requested());
    }

    #[test]
    fn closing_sockets_by_id_closes_those_of_that_user_only() {
        let hub = Hub::new(10);
        let (one, _r1, first, _) = socket(&hub, "a", "s");
        let (_, _r2, second, _) = socket(&hub, "a", "s");
        let (_, _r3, other, _) = socket(&hub, "b", "s");
        hub.close_sockets("b", &[one]);
        assert!(!first.is_requested(), "the id belongs to another user");
        hub.close_sockets("a", &[one]);
        assert_eq!(first.code(), Some(close::POLICY_VIOLATION));
        assert!(!second.is_requested() && !other.is_requested());
    }

    #[test]
    fn revoking_a_session_closes_its_sockets_only() {
        let hub = Hub::new(10);
        let (_, _r1, revoked, _) = socket(&hub, "a", "s1");
        let (_, _r2, kept, _) = socket(&hub, "a", "s2");
        hub.close_sessions(&["s1".to_owned()]);
        assert_eq!(revoked.code(), Some(close::POLICY_VIOLATION));
        assert!(!kept.is_requested());
    }
}
