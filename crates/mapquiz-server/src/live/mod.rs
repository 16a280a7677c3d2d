//! Live state shared by the gateway: this node's sockets ([`hub`]), who hears of them coming and going
//! ([`lifecycle`]), presence ([`presence`]) and, with Redis, the registry of nodes ([`nodes`]). Lobby actors
//! join them here.

pub mod hub;
pub mod lifecycle;
pub mod nodes;
pub mod outbox;
pub mod presence;

use crate::bus::{Bus, Event, redis::RedisBus};
use crate::clock::DynClock;
use crate::config::Config;
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
    /// Where the gateway reports sockets authenticating and closing.
    pub lifecycle: Lifecycle,
}

impl Realtime {
    /// Builds the hub, the bus (through Redis when configured) and presence, then resets the presence
    /// flags no live node vouches for; subscribes presence to the socket lifecycle.
    pub async fn start(config: &Config, store: DynStore, clock: DynClock) -> anyhow::Result<Self> {
        let node_id: Arc<str> = mapquiz_domain::new_id().into();
        let hub = Arc::new(Hub::new(config.realtime.max_sockets_per_user));
        let (bus, nodes) = match &config.redis_url {
            None => (Bus::local(hub.clone()), None),
            Some(url) => {
                let remote = RedisBus::connect(url, node_id.clone(), hub.clone()).await?;
                let nodes = nodes::Nodes::connect(url, node_id.clone()).await?;
                (Bus::with_redis(hub.clone(), remote), Some(nodes))
            }
        };
        let bus = Arc::new(bus);
        let presence =
            Arc::new(Presence::new(store, clock, hub.clone(), bus.clone(), nodes, config.realtime.presence_grace));
        presence.reset_at_start().await.context("cannot reset presence flags at start-up")?;
        let lifecycle = Lifecycle::new(vec![Box::new(presence.clone())]);
        Ok(Realtime { node_id, hub, bus, presence, lifecycle })
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
