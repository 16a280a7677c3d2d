//! Lobbies across nodes (issue 13): the [`LobbyRouter`] of a node that shares Redis with others.
//!
//! A lobby's actor runs on the one node holding its lease (`ownership.rs`). A command for a lobby this node
//! does not run is handed to its owner as [`LobbyMail::Command`] on the bus; the owner runs it with a
//! requester whose frames go back as [`LobbyMail::Reply`], then says [`LobbyMail::Done`]. All three travel
//! on the bus's one ordered channel, like the lobby's pushes, so the sender's socket sees the reply before
//! the pushes that follow it, as on one node, and waits for `Done` before reading its next message. An
//! owner that does not answer within `lobby_forward_timeout_ms` (it died and its lease has not expired yet)
//! makes the command answer `Opération échouée`; the next command after the lease expires takes the lobby
//! on another node, restored from the store.

use super::handle::{ReplyTo, Requester};
use super::registry::{LobbyRouter, LocalRegistry, Routed};
use crate::bus::{Bus, Event};
use crate::live::outbox::Outbox;
use crate::ws::protocol::incoming::Failure;
use crate::ws::protocol::{Frame, text};
use async_trait::async_trait;
use mapquiz_domain::LobbyId;
use mapquiz_domain::lobby::{Command, NewLobby};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// A message between the nodes' lobby routers; `to` is the node it is for (the bus reaches every node).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mail", rename_all = "snake_case")]
pub enum LobbyMail {
    /// Run `cmd` on `lobby`; `message` is the message type when a socket waits for a reply (not `kind`:
    /// that is the bus event's tag).
    Command { to: String, from: String, id: u64, lobby: LobbyId, message: Option<String>, cmd: Command },
    /// One frame for the socket that sent command `id`.
    Reply { to: String, id: u64, frame: String },
    /// Command `id` is done: its reply and pushes are sent.
    Done { to: String, id: u64, outcome: Outcome },
}

/// How a handed-over command ended on the owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// The answer to send instead (`Opération échouée`: the lobby is busy or its database away).
    Failed(String),
    /// The node no longer runs the lobby: look again.
    Elsewhere,
}

/// A command handed over, waiting for its answer.
struct Waiting {
    outbox: Option<Outbox>,
    done: oneshot::Sender<Outcome>,
    /// Whether a frame of the owner's answer reached the socket: the command was answered, whatever
    /// becomes of its `Done`.
    answered: bool,
}

/// The router of a node among several.
pub struct ClusterRouter {
    local: Arc<LocalRegistry>,
    bus: Arc<Bus>,
    node: Arc<str>,
    timeout: Duration,
    waiting: Mutex<HashMap<u64, Waiting>>,
    next_id: AtomicU64,
    /// Nodes that let a handed-over command time out, until when: while one still holds a lease, commands
    /// for its lobbies fail at once instead of each waiting out the timeout (so once the lease expires, the
    /// next command takes the lobby without queueing behind doomed ones).
    suspects: Mutex<HashMap<Arc<str>, Instant>>,
    lease: Duration,
}

impl ClusterRouter {
    /// A router running this node's lobbies in `local` and handing the others' commands over `bus`.
    pub fn new(
        local: Arc<LocalRegistry>,
        bus: Arc<Bus>,
        node: Arc<str>,
        timeout: Duration,
        lease: Duration,
    ) -> Arc<Self> {
        Arc::new(ClusterRouter {
            local,
            bus,
            node,
            timeout,
            waiting: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            suspects: Mutex::new(HashMap::new()),
            lease,
        })
    }

    /// Whether `node` let a command time out lately (and is forgotten once that is old).
    fn suspect(&self, node: &Arc<str>) -> bool {
        let mut suspects = self.suspects.lock().unwrap_or_else(PoisonError::into_inner);
        match suspects.get(node) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                suspects.remove(node);
                false
            }
            None => false,
        }
    }

    fn set_suspect(&self, node: &Arc<str>, suspect: bool) {
        let mut suspects = self.suspects.lock().unwrap_or_else(PoisonError::into_inner);
        if suspect {
            suspects.insert(node.clone(), Instant::now() + self.lease);
        } else {
            suspects.remove(node);
        }
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<u64, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the leases until `stop`: renews them every third of `lease`, and adopts the stored lobbies no
    /// node runs every `lease`.
    pub async fn run(self: Arc<Self>, lease: Duration, stop: CancellationToken) {
        let mut renew = tokio::time::interval(lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut adopt = tokio::time::interval(lease);
        adopt.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = renew.tick() => self.local.renew_leases().await,
                _ = adopt.tick() => {
                    let local = self.local.clone();
                    // Its own task: restoring many lobbies must not hold up the mail.
                    tokio::spawn(async move {
                        match local.adopt_orphans().await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(lobbies = n, "adopted lobbies no node ran"),
                            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot adopt lobbies"),
                        }
                    });
                }
            }
        }
    }

    /// Takes one piece of lobby mail, as the bus brings it: a command is run in a task of its own; a reply
    /// or an end is handed over at once, so a reply reaches its socket before the pushes behind it.
    pub fn receive(self: &Arc<Self>, mail: &LobbyMail) {
        match mail.clone() {
            LobbyMail::Command { to, from, id, lobby, message, cmd } if *to == *self.node => {
                let router = self.clone();
                tokio::spawn(async move { router.serve(from, id, lobby, message, cmd).await });
            }
            LobbyMail::Reply { to, id, frame } if *to == *self.node => {
                let outbox = self.waiting().get_mut(&id).and_then(|w| {
                    w.answered = true;
                    w.outbox.clone()
                });
                if let Some(outbox) = outbox {
                    outbox.send(Frame::from(frame));
                }
            }
            LobbyMail::Done { to, id, outcome } if *to == *self.node => {
                if let Some(w) = self.waiting().remove(&id) {
                    let _ = w.done.send(outcome);
                }
            }
            _ => {}
        }
    }

    /// Runs a command another node handed over, sending its frames and then its end back to that node.
    async fn serve(&self, from: String, id: u64, lobby: LobbyId, kind: Option<String>, cmd: Command) {
        let requester = kind.as_deref().and_then(crate::ws::messages::find).map(|spec| {
            let (bus, to) = (self.bus.clone(), from.clone());
            let back = move |frame: Frame| {
                let reply = LobbyMail::Reply { to: to.clone(), id, frame: frame.as_str().to_owned() };
                bus.publish(Event::Lobby(Box::new(reply)));
            };
            Requester { kind: spec.kind, to: ReplyTo::Forwarded(Arc::new(back)) }
        });
        metrics::counter!("lobby_forwarded_total", "direction" => "in").increment(1);
        let outcome = match self.local.dispatch_here(&lobby, cmd, requester).await {
            Ok(Routed::Done) => Outcome::Done,
            Ok(Routed::Elsewhere { .. }) => Outcome::Elsewhere,
            Err(failure) => Outcome::Failed(failure.into_owned()),
        };
        self.bus.publish(Event::Lobby(Box::new(LobbyMail::Done { to: from, id, outcome })));
    }

    /// Hands `cmd` to `node` and waits for it to be done there.
    async fn forward(
        &self,
        node: &Arc<str>,
        lobby: &LobbyId,
        cmd: Command,
        requester: Option<&Requester>,
    ) -> Result<Outcome, Failure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, finished) = oneshot::channel();
        let outbox = requester.and_then(|r| match &r.to {
            ReplyTo::Socket(outbox) => Some(outbox.clone()),
            // A command is handed over once: a forwarded requester never reaches here.
            ReplyTo::Forwarded(_) => None,
        });
        self.waiting().insert(id, Waiting { outbox, done, answered: false });
        let mail = LobbyMail::Command {
            to: node.to_string(),
            from: self.node.to_string(),
            id,
            lobby: lobby.clone(),
            message: requester.map(|r| r.kind.to_owned()),
            cmd,
        };
        metrics::counter!("lobby_forwarded_total", "direction" => "out").increment(1);
        self.bus.publish(Event::Lobby(Box::new(mail)));
        match tokio::time::timeout(self.timeout, finished).await {
            Ok(Ok(outcome)) => {
                self.set_suspect(node, false);
                Ok(outcome)
            }
            _ => {
                let answered = self.waiting().remove(&id).is_some_and(|w| w.answered);
                if answered {
                    // The owner ran the command and its answer reached the socket; only the end was lost
                    // (Redis went away meanwhile). A second answer, an error, would break "one command,
                    // one answer" and be read as the answer to the socket's next command.
                    tracing::warn!(lobby_id = %lobby, node = %node, "the lobby's node answered, its end was lost");
                    return Ok(Outcome::Done);
                }
                self.set_suspect(node, true);
                metrics::counter!("lobby_forward_timeouts_total").increment(1);
                tracing::warn!(lobby_id = %lobby, node = %node, "the lobby's node did not answer in time");
                Err(Failure::Borrowed(text::OPERATION_FAILED))
            }
        }
    }
}

#[async_trait]
impl LobbyRouter for ClusterRouter {
    async fn create(&self, new: NewLobby, requester: Requester) -> Result<(), Failure> {
        self.local.create_here(new, requester).await
    }

    async fn dispatch(&self, lobby: &LobbyId, cmd: Command, requester: Option<Requester>) -> Result<(), Failure> {
        let (mut cmd, mut requester) = (cmd, requester);
        // The owner may change between the lookup and the hand-over (its lease expired): look once more.
        for _ in 0..2 {
            let (node, back, asker) = match self.local.dispatch_here(lobby, cmd, requester).await? {
                Routed::Done => return Ok(()),
                Routed::Elsewhere { node, cmd, requester } => (node, cmd, requester),
            };
            if self.suspect(&node) {
                metrics::counter!("lobby_forward_skipped_total").increment(1);
                return Err(Failure::Borrowed(text::OPERATION_FAILED));
            }
            match self.forward(&node, lobby, back.clone(), asker.as_ref()).await? {
                Outcome::Done => return Ok(()),
                Outcome::Failed(message) => return Err(Failure::Owned(message)),
                Outcome::Elsewhere => (cmd, requester) = (back, asker),
            }
        }
        Err(Failure::Borrowed(text::OPERATION_FAILED))
    }
}
