//! Live state shared by the gateway: this node's sockets ([`hub`]), who hears of them coming and going
//! ([`lifecycle`]), presence ([`presence`]), the live lobbies ([`crate::lobbies`]) and, with Redis, the
//! registry of nodes ([`nodes`]).

pub mod hub;
pub mod lifecycle;
pub mod nodes;
pub mod outbox;
pub mod presence;

use crate::audit::Audit;
use crate::bus::{Bus, Event, redis::RedisBus};
use crate::clock::DynClock;
use crate::config::Config;
use crate::lobbies::ownership::RedisLeases;
use crate::lobbies::{Lobbies, SharedNodes};
use anyhow::Context;
use hub::Hub;
use lifecycle::Lifecycle;
use mapquiz_store::DynStore;
use presence::Presence;
use std::sync::Arc;

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
        let hub = Arc::new(Hub::new(config.realtime.max_sockets_per_user));
        let (bus, nodes, leases) = match &config.redis_url {
            None => (Bus::local(hub.clone()), None, None),
            Some(url) => {
                let remote = RedisBus::connect(url, node_id.clone(), hub.clone(), holds_sockets).await?;
                // Only nodes that hold sockets run lobbies, so only they take leases on them.
                let (nodes, leases) = if holds_sockets {
                    let nodes = nodes::Nodes::connect(url, node_id.clone()).await?;
                    let leases = RedisLeases::connect(url, node_id.clone(), config.lobbies.lease).await?;
                    (Some(nodes), Some(Arc::new(leases)))
                } else {
                    (None, None)
                };
                (Bus::with_redis(hub.clone(), remote), nodes, leases)
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
        Ok(Realtime { node_id, hub, bus, presence, lobbies, lifecycle })
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

    /// Leaves the node registry and closes the Redis connections.
    pub async fn close(&self) {
        self.presence.leave().await;
        self.bus.close().await;
    }
}
