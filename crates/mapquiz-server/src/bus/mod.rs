//! The real-time bus: events addressed to users (and, with lobbies, to lobbies), delivered to whichever node
//! holds their sockets. Code that emits an event never knows whether other nodes exist.
//!
//! Every event is applied to this node's hub at once, then, when Redis is configured, published for the
//! other nodes (each ignores its own). Publishing never blocks the caller: it goes through a bounded queue
//! to one publisher task, and while Redis is slow or down events reach this node's sockets only.

pub mod redis;

use crate::live::hub::Hub;
use crate::lobbies::cluster::LobbyMail;
use crate::ws::protocol::Frame;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Something to deliver to sockets, wherever they are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// One frame for every socket of these users.
    ToUsers { users: Vec<String>, frame: String },
    /// Close (1008) the sockets these sessions authenticated: sign-out, revocation.
    CloseSessions { session_hashes: Vec<String> },
    /// A lobby command handed to the node that runs the lobby, or its answer (several nodes). On the bus,
    /// so that a forwarded command's reply reaches its socket in order with the lobby's pushes.
    Lobby(Box<LobbyMail>),
    /// Close (1008) these sockets of a user on one node: the per-user socket limit, counted across nodes,
    /// chose them as the oldest (socket ids are only unique on their node).
    CloseSockets { node: String, user: String, sockets: Vec<u64> },
}

impl Event {
    /// A frame for one user.
    pub fn to_user(user_id: &str, frame: &Frame) -> Event {
        Event::ToUsers { users: vec![user_id.to_owned()], frame: frame.as_str().to_owned() }
    }

    /// A frame for several users.
    pub fn to_users(users: Vec<String>, frame: &Frame) -> Event {
        Event::ToUsers { users, frame: frame.as_str().to_owned() }
    }
}

/// The bus.
pub struct Bus {
    hub: Arc<Hub>,
    remote: Option<redis::RedisBus>,
}

impl Bus {
    /// In-process only.
    pub fn local(hub: Arc<Hub>) -> Self {
        Bus { hub, remote: None }
    }

    /// In-process, and through Redis to the other nodes.
    pub fn with_redis(hub: Arc<Hub>, remote: redis::RedisBus) -> Self {
        Bus { hub, remote: Some(remote) }
    }

    /// Delivers `event` on this node and hands it to the other nodes; never waits.
    pub fn publish(&self, event: Event) {
        deliver(&self.hub, self.remote.as_ref().map(|r| r.node_id()), &event);
        if let Some(remote) = &self.remote {
            remote.publish(&event);
        }
    }

    /// Publishes each event in order.
    pub fn publish_all(&self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.publish(e);
        }
    }

    /// `"local"`, or the Redis link's state (`"connected"` / `"degraded"`).
    pub fn status(&self) -> &'static str {
        match &self.remote {
            None => "local",
            Some(r) if r.is_connected() => "connected",
            Some(_) => "degraded",
        }
    }

    /// Stops the Redis tasks and connections, if any.
    pub async fn close(&self) {
        if let Some(r) = &self.remote {
            r.close().await;
        }
    }
}

/// Applies an event to this node's sockets; `own_node` is this node's id among those sharing Redis.
pub(crate) fn deliver(hub: &Hub, own_node: Option<&str>, event: &Event) {
    match event {
        Event::ToUsers { users, frame } => {
            let frame = Frame::from(frame.clone());
            for u in users {
                hub.send_to_user(u, &frame);
            }
        }
        Event::CloseSessions { session_hashes } => hub.close_sessions(session_hashes),
        Event::Lobby(mail) => hub.lobby_mail(mail),
        Event::CloseSockets { node, user, sockets } => {
            if own_node == Some(node.as_str()) {
                hub.close_sockets(user, sockets);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::hub::next_socket_id;
    use crate::live::outbox::{Closer, close, outbox};

    #[test]
    fn events_keep_a_stable_wire_form() {
        let e = Event::to_user("u", &Frame::from(r#"{"type":"pong"}"#));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"kind":"to_users","users":["u"],"frame":"{\"type\":\"pong\"}"}"#);
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
    }

    #[test]
    fn lobby_mail_crosses_the_bus_intact() {
        use crate::lobbies::cluster::{LobbyMail, Outcome};
        use mapquiz_domain::lobby::Command;
        use mapquiz_domain::{LobbyId, UserId};
        let lobby = LobbyId::parse("0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e").unwrap();
        let user = UserId::parse("u1").unwrap();
        let mails = [
            LobbyMail::Command {
                to: "n2".into(),
                from: "n1".into(),
                id: 7,
                lobby,
                message: Some("join_lobby".into()),
                cmd: Command::Leave { user },
            },
            LobbyMail::Reply { to: "n1".into(), id: 7, frame: r#"{"type":"pong"}"#.into() },
            LobbyMail::Done { to: "n1".into(), id: 7, outcome: Outcome::Failed("Opération échouée".into()) },
        ];
        for mail in mails {
            let event = Event::Lobby(Box::new(mail));
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event, "{json}");
        }
    }

    #[test]
    fn the_local_bus_delivers_to_this_node() {
        let hub = Arc::new(Hub::new(10));
        let closer = Closer::default();
        let (out, mut rx) = outbox(4, 1024, closer.clone());
        hub.attach(next_socket_id(), "u", "s", out);
        let bus = Bus::local(hub);
        bus.publish(Event::to_users(vec!["u".into(), "nobody".into()], &Frame::from("x")));
        assert_eq!(rx.drain_now()[0].as_str(), "x");
        bus.publish(Event::CloseSessions { session_hashes: vec!["s".into()] });
        assert_eq!(closer.code(), Some(close::POLICY_VIOLATION));
        assert_eq!(bus.status(), "local");
    }

    #[test]
    fn a_socket_closing_is_applied_only_on_the_node_it_names() {
        let hub = Hub::new(10);
        let closer = Closer::default();
        let (out, _rx) = outbox(4, 1024, closer.clone());
        let id = next_socket_id();
        hub.attach(id, "u", "s", out);
        let event = |node: &str| Event::CloseSockets { node: node.into(), user: "u".into(), sockets: vec![id] };
        deliver(&hub, Some("here"), &event("elsewhere"));
        deliver(&hub, None, &event("here"));
        assert!(!closer.is_requested(), "socket ids are only unique on their node");
        deliver(&hub, Some("here"), &event("here"));
        assert_eq!(closer.code(), Some(close::POLICY_VIOLATION));
    }
}
