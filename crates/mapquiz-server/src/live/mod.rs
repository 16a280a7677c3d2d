//! Live state shared by the gateway: this node's sockets ([`hub`]), who hears of them coming and going
//! ([`lifecycle`]), presence ([`presence`]), the live lobbies ([`crate::lobbies`]) and, with Redis, the
//! registry of nodes ([`nodes`]) and the per-user socket limit counted across nodes ([`sockets`]).

pub mod hub;
pub mod lifecycle;
pub mod nodes;
pub mod outbox;
pub mod presence;
pub mod sockets;

use crate::audit::Audit;
use crate::bus::{Bus, Event, redis::RedisBus};
use crate::clock::DynClock;
use crate::config::Config;
use crate::lobbies::ownership::RedisLeases;
use crate::lobbies::{Lobbies, SharedNodes};
use anyhow::Context;
use fred::prelude::{Client, ClientLike};
use hub::Hub;
use lifecycle::Lifecycle;
use mapquiz_store::DynStore;
use outbox::Outbox;
use presence::Presence;
use sockets::SocketSlots;
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The real-time services, built once at start-up.
pub struct Realtime {
    /// This process's id among the nodes sharing Redis.
    pub node_id: Arc<str>,
    pub hub: Arc<Hub>,
    pub bus: Arc<Bus>,
    pub presence: Arc<Presence>,
    /// The live lobbies (their actors, the progress writer).
    pub lobbies: Arc<Lobbies>,
    /// Where the gateway reports sockets authenticating and closing.
    pub lifecycle: Lifecycle,
    /// With Redis: the per-user socket limit counted across nodes.
    slots: Option<Arc<SocketSlots>>,
    /// With Redis: the connection the node registry and the socket limit share.
    redis: Option<Client>,
}

impl Realtime {
    /// Builds the hub, the bus (through Redis when configured), presence and the lobbies, then resets the
    /// presence flags no live node vouches for; subscribes presence, then the lobbies, to the socket
    /// lifecycle. Stored lobbies are restored by [`Lobbies::restore_all`].
    ///
    /// A node whose role holds no sockets (`api`, `worker`) only publishes on the bus, stays out of the node
    /// registry and leaves presence flags alone: it has no users to vouch for, and resetting flags is the job
    /// of the nodes that hold them.
    pub async fn start(config: &Config, store: DynStore, clock: DynClock) -> anyhow::Result<Self> {
        let node_id: Arc<str> = mapquiz_domain::new_id().into();
        let holds_sockets = config.role.serves_realtime();
        let max_sockets = config.realtime.max_sockets_per_user;
        let hub = Arc::new(Hub::new(max_sockets));
        let keys = &config.redis_key_prefix;
        let (bus, nodes, slots, redis, leases) = match &config.redis_url {
            None => (Bus::local(hub.clone()), None, None, None, None),
            Some(url) => {
                let remote = RedisBus::connect(url, keys, node_id.clone(), hub.clone(), holds_sockets).await?;
                let client = crate::bus::redis::builder(url)?.build().context("cannot build the Redis client")?;
                client.init().await.with_context(|| format!("cannot connect to Redis at {}", url.redacted()))?;
                // Only the nodes that hold sockets count them, join the registry and run (so lease) lobbies.
                let (nodes, slots, leases) = if holds_sockets {
                    let nodes = nodes::Nodes::new(client.clone(), keys.clone(), node_id.clone());
                    let slots = SocketSlots::new(client.clone(), keys.clone(), node_id.clone(), max_sockets);
                    let leases = RedisLeases::new(client.clone(), keys.clone(), node_id.clone(), config.lobbies.lease);
                    (Some(nodes), Some(Arc::new(slots)), Some(Arc::new(leases)))
                } else {
                    (None, None, None)
                };
                (Bus::with_redis(hub.clone(), remote), nodes, slots, Some(client), leases)
            }
        };
        let bus = Arc::new(bus);
        let audit = Audit::new(store.clone(), clock.clone());
        let presence = Arc::new(Presence::new(
            store.clone(),
            clock.clone(),
            hub.clone(),
            bus.clone(),
            nodes,
            config.realtime.presence_grace,
        ));
        let shared = leases.map(|leases| SharedNodes { leases, node: node_id.clone(), presence: presence.clone() });
        let lobbies = Lobbies::new(&config.lobbies, store, bus.clone(), hub.clone(), clock, audit, shared);
        if holds_sockets {
            presence.reset_at_start().await.context("cannot reset presence flags at start-up")?;
        }
        let lifecycle = Lifecycle::new(vec![Box::new(presence.clone()), Box::new(lobbies.clone())]);
        Ok(Realtime { node_id, hub, bus, presence, lobbies, lifecycle, slots, redis })
    }

    /// Registers an authenticated socket; returns whether it is the user's first on this node. Past the
    /// per-user limit the oldest socket is closed with 1008: the oldest on any node when Redis is configured
    /// and answers, otherwise the oldest on this node.
    pub async fn attach(&self, id: u64, user_id: &str, session_hash: &str, outbox: Outbox) -> bool {
        // Attached first, so that the count across nodes can close this very socket too.
        let first_here = self.hub.attach(id, user_id, session_hash, outbox);
        if let Some(slots) = &self.slots {
            sockets::close_evicted(&self.bus, slots.acquire(user_id, id).await);
        }
        first_here
    }

    /// Forgets a closed socket; returns whether the user has no socket left on this node (and had this one).
    pub async fn detach(&self, user_id: &str, id: u64) -> bool {
        let last_here = self.hub.detach(user_id, id);
        if let Some(slots) = &self.slots {
            slots.release(user_id, id).await;
        }
        last_here
    }

    /// The task that keeps this node's sockets counted across nodes until `stop` (nothing to do without
    /// Redis).
    pub fn socket_heartbeat(&self, stop: CancellationToken) -> impl Future<Output = ()> + Send + 'static {
        let (slots, bus) = (self.slots.clone(), self.bus.clone());
        async move {
            if let Some(slots) = slots {
                sockets::run_heartbeat(slots, bus, stop).await;
            }
        }
    }

    /// What sign-out and revocation call: close those sessions' sockets on every node.
    pub fn revocation_hook(&self) -> crate::auth::sessions::RevocationHook {
        let bus = self.bus.clone();
        Arc::new(move |hashes: &[String]| {
            if !hashes.is_empty() {
                bus.publish(Event::CloseSessions { session_hashes: hashes.to_vec() });
            }
        })
    }

    /// The Redis connection (when configured), for the per-user limits counted across nodes.
    pub fn redis(&self) -> Option<&Client> {
        self.redis.as_ref()
    }

    /// Leaves the node registry and closes the Redis connections.
    pub async fn close(&self) {
        self.presence.leave().await;
        self.bus.close().await;
        if let Some(slots) = &self.slots {
            slots.stop();
        }
        if let Some(client) = &self.redis {
            let _ = client.quit().await;
        }
    }
}
