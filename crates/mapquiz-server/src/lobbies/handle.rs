//! The way into a lobby's actor: a cloneable handle over its bounded mailbox, and what a command carries
//! with it (who asked, where the answer goes, and who waits for it to be queued).

use crate::live::outbox::Outbox;
use crate::ws::protocol::{self, Frame};
use mapquiz_domain::lobby::{Command, LobbyError, Reply};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The socket a command came from: its reply is written there, as `<kind>_success` or `error`.
#[derive(Clone, Debug)]
pub struct Requester {
    /// The message `type`.
    pub kind: &'static str,
    pub to: ReplyTo,
}

/// Where a requester's frames go.
#[derive(Clone)]
pub enum ReplyTo {
    /// A socket of this node.
    Socket(Outbox),
    /// A socket of another node, which handed the command to this one (several nodes): each frame goes back
    /// over the bus, in order with the lobby's pushes.
    Forwarded(Arc<dyn Fn(Frame) + Send + Sync>),
}

impl std::fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyTo::Socket(outbox) => f.debug_tuple("Socket").field(outbox).finish(),
            ReplyTo::Forwarded(_) => f.write_str("Forwarded"),
        }
    }
}

impl Requester {
    /// A requester on a socket of this node.
    pub fn socket(kind: &'static str, outbox: Outbox) -> Self {
        Requester { kind, to: ReplyTo::Socket(outbox) }
    }

    /// Queues `<kind>_success` with `reply` as its data.
    pub fn reply(&self, reply: &Reply) {
        self.send(protocol::success(self.kind, reply));
    }

    /// Queues `error` with the rule's French message.
    pub fn refuse(&self, e: LobbyError) {
        self.fail(&e.to_string());
    }

    /// Queues `error` with `message`.
    pub fn fail(&self, message: &str) {
        self.send(protocol::error(message));
    }

    /// Queues a ready-made frame.
    pub fn send(&self, frame: Frame) {
        match &self.to {
            ReplyTo::Socket(outbox) => outbox.send(frame),
            ReplyTo::Forwarded(back) => back(frame),
        }
    }
}

/// One command in a mailbox.
pub(super) struct Job {
    pub cmd: Command,
    /// `None` for the socket lifecycle and timers: nobody to answer.
    pub requester: Option<Requester>,
    /// Resolved (by being dropped) once the reply and the pushes are queued; the socket reads its next
    /// message only then, which keeps a socket's replies and pushes in the order it sent its messages.
    pub done: Option<oneshot::Sender<()>>,
}

/// Why a command did not reach the actor.
pub(super) enum Undelivered {
    /// The mailbox is full: the lobby is flooded or stuck on the database.
    Full,
    /// The actor is gone (the lobby was deleted, or its task ended): find or restore it again.
    Gone(Box<Job>),
}

/// A live lobby's mailbox.
#[derive(Clone, Debug)]
pub struct LobbyHandle {
    tx: mpsc::Sender<Job>,
}

impl LobbyHandle {
    /// A handle and the actor's receiving end, holding at most `capacity` waiting commands.
    pub(super) fn channel(capacity: usize) -> (Self, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (LobbyHandle { tx }, rx)
    }

    /// Posts a command without waiting.
    pub(super) fn post(&self, job: Job) -> Result<(), Undelivered> {
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Undelivered::Full,
            mpsc::error::TrySendError::Closed(job) => Undelivered::Gone(Box::new(job)),
        })
    }

    /// Whether both handles lead to the same actor.
    pub(super) fn same_actor(&self, other: &LobbyHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// Whether the actor has stopped.
    pub(super) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapquiz_domain::UserId;

    fn job(user: &str) -> Job {
        Job { cmd: Command::Connected { user: UserId::parse(user).unwrap() }, requester: None, done: None }
    }

    #[test]
    fn a_full_mailbox_refuses_and_a_stopped_actor_gives_the_job_back() {
        let (handle, mut rx) = LobbyHandle::channel(2);
        assert!(handle.post(job("a")).is_ok());
        assert!(handle.post(job("b")).is_ok());
        assert!(matches!(handle.post(job("c")), Err(Undelivered::Full)), "the bound holds");
        assert!(rx.try_recv().is_ok());
        assert!(handle.post(job("d")).is_ok(), "a taken command frees its place");

        drop(rx);
        assert!(handle.is_closed());
        match handle.post(job("e")) {
            Err(Undelivered::Gone(back)) => {
                assert!(matches!(&back.cmd, Command::Connected { user } if user.as_str() == "e"));
            }
            _ => panic!("a stopped actor must hand the job back for a restore"),
        }
    }

    #[test]
    fn a_zero_capacity_still_takes_one_command() {
        let (handle, _rx) = LobbyHandle::channel(0);
        assert!(handle.post(job("a")).is_ok());
        assert!(matches!(handle.post(job("b")), Err(Undelivered::Full)));
    }
}
