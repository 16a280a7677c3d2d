//! Multiplayer lobbies and live games (protocol §2.7.3–§2.9, §3), in the four roles of
//! `lobby-design.md`: the rules are `mapquiz_domain::lobby`; here are the transport ([`messages`]: payload
//! → command), the registry ([`registry`]: lobby id → actor, behind the [`LobbyRouter`] seam), the task
//! that owns one lobby ([`actor`], reached through [`handle`]) and the node's lobby writer ([`writer`]),
//! which group-commits the lobbies' changes and batches their progress. The finished games are listed over HTTP by [`routes`].
//!
//! The socket lifecycle reaches the lobbies through [`Lobbies`]' subscription: every socket that
//! authenticates sends `Connected` to the lobbies where the user is a member or has an undelivered
//! invitation (a member shows connected again, an invitation is delivered once); the last socket closing
//! sends `Dropped`, which starts the member's disconnect grace.

mod actor;
mod handle;
pub mod messages;
pub mod registry;
pub mod routes;
pub mod tally;
pub mod writer;

pub use handle::Requester;
pub use registry::{LobbyRouter, LocalRegistry};

use crate::audit::Audit;
use crate::bus::Bus;
use crate::clock::DynClock;
use crate::config::LobbiesConfig;
use crate::live::hub::Hub;
use crate::live::lifecycle::SocketLifecycle;
use actor::ActorDeps;
use mapquiz_domain::lobby::Command;
use mapquiz_domain::{LobbyId, Timestamp, UserId};
use mapquiz_store::{DynStore, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tally::{LiveCounts, LiveTally};
use tokio_util::sync::CancellationToken;
use writer::LobbyWriter;

/// The lobbies of this node: the router the messages use, the actors' shared services, the writer.
pub struct Lobbies {
    router: Arc<dyn LobbyRouter>,
    local: Arc<LocalRegistry>,
    deps: Arc<ActorDeps>,
    invitation_ttl: Duration,
}

impl Lobbies {
    /// The lobbies, none live yet ([`Lobbies::restore_all`] brings back the stored ones).
    pub fn new(
        config: &LobbiesConfig,
        store: DynStore,
        bus: Arc<Bus>,
        hub: Arc<Hub>,
        clock: DynClock,
        audit: Audit,
    ) -> Arc<Self> {
        let writer = Arc::new(LobbyWriter::new(store.clone(), clock.clone(), config.progress_flush));
        let deps = Arc::new(ActorDeps {
            store,
            bus,
            hub,
            clock,
            audit,
            writer,
            stop: CancellationToken::new(),
            tally: LiveTally::default(),
        });
        let local = LocalRegistry::new(deps.clone(), config.rules(), config.mailbox);
        Arc::new(Lobbies { router: local.clone(), local, deps, invitation_ttl: config.invitation_ttl })
    }

    /// Where lobby commands go.
    pub fn router(&self) -> &dyn LobbyRouter {
        self.router.as_ref()
    }

    /// Restores every stored lobby (start-up); returns how many.
    pub async fn restore_all(&self) -> Result<usize, StoreError> {
        self.local.restore_all().await
    }

    /// Live lobbies on this node.
    pub fn live(&self) -> usize {
        self.local.live()
    }

    /// Live lobbies on this node by status (`/health/detailed`).
    pub fn live_by_status(&self) -> LiveCounts {
        self.deps.tally.read()
    }

    /// Progress rows waiting for the batched writer.
    pub fn progress_waiting(&self) -> usize {
        self.deps.writer.waiting()
    }

    /// Stores the progress waiting now (tests; a lobby's own writes take its progress with them anyway).
    pub async fn flush_progress(&self) -> Result<(), StoreError> {
        self.deps.writer.flush_all().await
    }

    /// The batched writer's loop, until [`Lobbies::close`].
    pub async fn run_writer(self: Arc<Self>) {
        self.deps.writer.run(self.deps.stop.clone()).await;
    }

    /// Shutdown: the actors stop taking commands, and the waiting progress is stored.
    pub async fn close(&self) {
        self.deps.stop.cancel();
        self.deps.writer.final_flush().await;
    }

    /// The lobbies the user is a member of or has an undelivered, still valid invitation from.
    async fn lobbies_of(&self, user: &UserId) -> Result<Vec<LobbyId>, StoreError> {
        let ttl = i64::try_from(self.invitation_ttl.as_millis()).unwrap_or(i64::MAX);
        let now = self.deps.clock.now();
        let since = Timestamp::from_millis(now.millis().saturating_sub(ttl)).unwrap_or(now);
        self.deps.store.lobbies_of_user(user, since).await
    }

    /// Sends a lifecycle command to every lobby the user is part of.
    async fn tell_lobbies(&self, user: UserId, cmd: impl Fn(UserId) -> Command) {
        match self.lobbies_of(&user).await {
            Ok(lobbies) => {
                for lobby in lobbies {
                    if let Err(e) = self.router.dispatch(&lobby, cmd(user.clone()), None).await {
                        tracing::warn!(lobby_id = %lobby, error = %e, "a lobby did not hear of a socket");
                    }
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot list a user's lobbies"),
        }
    }
}

/// On the `Arc`: the drop of a user's last socket is told in a task that outlives the call.
#[async_trait::async_trait]
impl SocketLifecycle for Arc<Lobbies> {
    /// Awaited before the socket's next message: a `join_lobby` re-sent after authentication finds the
    /// member already connected, and the pushes follow `authenticated`.
    async fn socket_authenticated(&self, user_id: &str) {
        let Some(user) = UserId::parse(user_id) else { return };
        self.tell_lobbies(user, |user| Command::Connected { user }).await;
    }

    fn last_socket_closed(&self, user_id: &str) {
        let Some(user) = UserId::parse(user_id) else { return };
        let lobbies = self.clone();
        tokio::spawn(async move { lobbies.tell_lobbies(user, |user| Command::Dropped { user }).await });
    }
}
