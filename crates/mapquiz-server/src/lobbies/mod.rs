//! Multiplayer lobbies and live games (protocol §2.7.3–§2.9, §3), in the four roles of
//! `lobby-design.md`: the rules are `mapquiz_domain::lobby`; here are the transport ([`messages`]: payload
//! → command), the registry ([`registry`]: lobby id → actor, behind the [`LobbyRouter`] seam), the task
//! that owns one lobby ([`actor`], reached through [`handle`]) and the node's lobby writer ([`writer`]),
//! which group-commits the lobbies' changes and batches their progress. The finished games are listed over
//! HTTP by [`routes`].
//!
//! With Redis (several nodes), each lobby runs on the one node holding its lease ([`ownership`]), and
//! [`cluster::ClusterRouter`] hands a command for a lobby another node runs to that node.
//!
//! The socket lifecycle reaches the lobbies through [`Lobbies`]' subscription: every socket that
//! authenticates sends `Connected` to the lobbies where the user is a member or has an undelivered
//! invitation (a member shows connected again, an invitation is delivered once); the last socket closing
//! sends `Dropped`, which starts the member's disconnect grace.

mod actor;
pub mod cluster;
mod handle;
pub mod messages;
pub mod ownership;
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
use crate::live::hub::MailSink;
use crate::live::lifecycle::SocketLifecycle;
use crate::live::presence::Presence;
use actor::ActorDeps;
use cluster::{ClusterRouter, LobbyMail};
use mapquiz_domain::lobby::Command;
use mapquiz_domain::{LobbyId, Timestamp, UserId};
use mapquiz_store::{DynStore, StoreError};
use ownership::{Ownership, RedisLeases, SoleNode};
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
    /// Several nodes: the cluster router, the bus's lobby mail for it, its leases.
    cluster: Option<Cluster>,
    lease: Duration,
}

/// What a node among several adds.
struct Cluster {
    router: Arc<ClusterRouter>,
    leases: Arc<RedisLeases>,
    presence: Arc<Presence>,
}

/// What the lobbies of a node among several (sharing Redis) need.
pub struct SharedNodes {
    /// The lobby leases in Redis.
    pub leases: Arc<RedisLeases>,
    /// This node's id.
    pub node: Arc<str>,
    /// Who has sockets on which node: a socket closing here drops nobody still connected elsewhere.
    pub presence: Arc<Presence>,
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
        shared: Option<SharedNodes>,
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
        let ownership: Arc<dyn Ownership> = match &shared {
            Some(shared) => shared.leases.clone(),
            None => Arc::new(SoleNode),
        };
        let local = LocalRegistry::new(deps.clone(), config.rules(), config.mailbox, ownership);
        let cluster = shared.map(|SharedNodes { leases, node, presence }| {
            let router =
                ClusterRouter::new(local.clone(), deps.bus.clone(), node, config.forward_timeout, config.lease);
            // Weak: the hub must not keep the router (and through it the registry) alive.
            let weak = Arc::downgrade(&router);
            deps.hub.listen_for_lobby_mail(MailSink(Arc::new(move |mail: &LobbyMail| {
                if let Some(router) = weak.upgrade() {
                    router.receive(mail);
                }
            })));
            Cluster { router, leases, presence }
        });
        let router: Arc<dyn LobbyRouter> = match &cluster {
            Some(c) => c.router.clone(),
            None => local.clone(),
        };
        Arc::new(Lobbies { router, local, deps, invitation_ttl: config.invitation_ttl, cluster, lease: config.lease })
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

    /// The lobby writer's loop and, with several nodes, the cluster router's (mail, leases), until
    /// [`Lobbies::close`].
    pub async fn run(self: Arc<Self>) {
        let cluster = async {
            if let Some(c) = &self.cluster {
                c.router.clone().run(self.lease, self.deps.stop.clone()).await;
            }
        };
        tokio::join!(self.deps.writer.run(self.deps.stop.clone()), cluster);
    }

    /// Shutdown: the actors stop taking commands, the waiting progress is stored, and (several nodes) the
    /// leases are given back, so that another node takes the lobbies at their next command.
    pub async fn close(&self) {
        let held = self.local.held();
        self.deps.stop.cancel();
        self.deps.writer.final_flush().await;
        if let Some(c) = &self.cluster {
            for (lobby, fence) in &held {
                c.leases.release(lobby, *fence, false).await;
            }
            if !held.is_empty() {
                tracing::info!(lobbies = held.len(), "lobby leases given back");
            }
        }
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
                        // At shutdown the lobbies stop taking commands: the next node hears of the socket.
                        if self.deps.stop.is_cancelled() {
                            tracing::debug!(lobby_id = %lobby, error = %e, "a lobby did not hear of a socket");
                        } else {
                            tracing::warn!(lobby_id = %lobby, error = %e, "a lobby did not hear of a socket");
                        }
                    }
                }
            }
            Err(e) if self.deps.stop.is_cancelled() => {
                tracing::debug!(error = format!("{e:#}"), "cannot list a user's lobbies at shutdown")
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
        tokio::spawn(async move {
            // Several nodes: the user may still have a socket on another node (a page reloaded there).
            if let Some(c) = &lobbies.cluster
                && c.presence.connected_anywhere(user.as_str()).await
            {
                return;
            }
            lobbies.tell_lobbies(user, |user| Command::Dropped { user }).await
        });
    }
}
