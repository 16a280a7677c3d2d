//! The socket lifecycle as features see it (protocol §2.2 steps 5–6): a user's first authenticated socket
//! on this node, every socket that authenticates, and the user's last socket on this node closing.
//!
//! The gateway reports each event once to [`Lifecycle`], which tells the subscribers registered at start-up
//! (`Realtime::start`), one after the other in registration order: presence first, then lobbies and
//! invitation delivery. A feature that needs these events subscribes there; the gateway never changes.

use async_trait::async_trait;

/// A subscriber to the socket lifecycle; each event has a default that ignores it.
///
/// The authentication events are awaited by the socket's reader before it reads the next message (that is
/// what puts presence online before the message is handled), so they do only what must come first and leave
/// slow work to a task. The close event is not awaited at all: the connection is being torn down and may be
/// dropped at shutdown.
#[async_trait]
pub trait SocketLifecycle: Send + Sync {
    /// The user had no authenticated socket on this node and now has one (sent before
    /// [`socket_authenticated`](Self::socket_authenticated) for the same socket).
    async fn first_socket_authenticated(&self, _user_id: &str) {}

    /// A socket of the user authenticated, the user's first here or not: a reload, a reconnect, another tab.
    async fn socket_authenticated(&self, _user_id: &str) {}

    /// The user's last authenticated socket on this node closed. Must not wait: anything slow goes in a task.
    fn last_socket_closed(&self, _user_id: &str) {}
}

/// The fan-out the gateway calls, once per event.
pub struct Lifecycle {
    subscribers: Vec<Box<dyn SocketLifecycle>>,
}

impl Lifecycle {
    /// Tells `subscribers`, in this order, of every event.
    pub fn new(subscribers: Vec<Box<dyn SocketLifecycle>>) -> Self {
        Lifecycle { subscribers }
    }

    /// A socket of `user_id` authenticated; `first_here` when the user had no other on this node.
    pub async fn socket_authenticated(&self, user_id: &str, first_here: bool) {
        if first_here {
            for s in &self.subscribers {
                s.first_socket_authenticated(user_id).await;
            }
        }
        for s in &self.subscribers {
            s.socket_authenticated(user_id).await;
        }
    }

    /// The last authenticated socket of `user_id` on this node closed.
    pub fn last_socket_closed(&self, user_id: &str) {
        for s in &self.subscribers {
            s.last_socket_closed(user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Writes down every event it hears, as `name event user`.
    struct Recorder {
        name: &'static str,
        heard: Arc<Mutex<Vec<String>>>,
    }

    impl Recorder {
        fn note(&self, event: &str, user_id: &str) {
            self.heard.lock().unwrap().push(format!("{} {event} {user_id}", self.name));
        }
    }

    #[async_trait]
    impl SocketLifecycle for Recorder {
        async fn first_socket_authenticated(&self, user_id: &str) {
            self.note("first", user_id);
        }
        async fn socket_authenticated(&self, user_id: &str) {
            self.note("socket", user_id);
        }
        fn last_socket_closed(&self, user_id: &str) {
            self.note("closed", user_id);
        }
    }

    /// Hears nothing but the close: the other events' defaults ignore them.
    struct ClosesOnly(Arc<Mutex<Vec<String>>>);

    impl SocketLifecycle for ClosesOnly {
        fn last_socket_closed(&self, user_id: &str) {
            self.0.lock().unwrap().push(format!("closes-only closed {user_id}"));
        }
    }

    #[tokio::test]
    async fn every_subscriber_hears_each_event_in_registration_order() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let lifecycle = Lifecycle::new(vec![
            Box::new(Recorder { name: "presence", heard: heard.clone() }),
            Box::new(ClosesOnly(heard.clone())),
            Box::new(Recorder { name: "lobbies", heard: heard.clone() }),
        ]);
        lifecycle.socket_authenticated("u1", true).await;
        lifecycle.socket_authenticated("u1", false).await;
        lifecycle.last_socket_closed("u1");
        assert_eq!(
            *heard.lock().unwrap(),
            [
                "presence first u1",
                "lobbies first u1",
                "presence socket u1",
                "lobbies socket u1",
                "presence socket u1",
                "lobbies socket u1",
                "presence closed u1",
                "closes-only closed u1",
                "lobbies closed u1",
            ]
        );
    }
}
