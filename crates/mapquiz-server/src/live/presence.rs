//! Presence (protocol §4.6): online when a user's first socket on any node authenticates, offline (after a
//! grace period, so a reload does not flicker) when the last one closes, and `friend_status_change` to the
//! friends who are connected.
//!
//! The stored flag is the truth shared by nodes: each transition is a conditional update, and only the one
//! that changes the flag notifies friends, so two nodes never announce the same transition twice.

use crate::bus::{Bus, Event};
use crate::clock::DynClock;
use crate::live::hub::Hub;
use crate::live::lifecycle::SocketLifecycle;
use crate::live::nodes::{HEARTBEAT_EVERY, Nodes};
use crate::ws::protocol::{FriendStatusChange, Push};
use mapquiz_store::{DynStore, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The presence service; it hears of sockets through its [`SocketLifecycle`] subscription.
pub struct Presence {
    store: DynStore,
    clock: DynClock,
    hub: Arc<Hub>,
    bus: Arc<Bus>,
    nodes: Option<Nodes>,
    grace: Duration,
    /// Offline timers running, by user, each with its generation (a timer only acts if it is still the
    /// user's current one).
    pending: Mutex<HashMap<String, (u64, CancellationToken)>>,
    generation: AtomicU64,
}

impl Presence {
    /// The service; `nodes` when several nodes may share the database.
    pub fn new(
        store: DynStore,
        clock: DynClock,
        hub: Arc<Hub>,
        bus: Arc<Bus>,
        nodes: Option<Nodes>,
        grace: Duration,
    ) -> Self {
        Presence {
            store,
            clock,
            hub,
            bus,
            nodes,
            grace,
            pending: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, CancellationToken)>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the user has a socket on this node or, with several nodes, on another live one (a Redis
    /// failure counts as no: the caller falls back to what it does for an offline user).
    pub async fn connected_anywhere(&self, user_id: &str) -> bool {
        if self.hub.holds(user_id) {
            return true;
        }
        match &self.nodes {
            Some(nodes) => nodes.held_elsewhere(user_id).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the node registry; the user counts as offline");
                false
            }),
            None => false,
        }
    }

    /// Start-up: turns off the flag of every user no other live node holds, pushing nothing. Without a
    /// node registry this node is alone and resets everyone; when the registry cannot be read, nobody is
    /// reset (another node's users must never be marked offline).
    pub async fn reset_at_start(&self) -> Result<(), StoreError> {
        let keep = match &self.nodes {
            None => Vec::new(),
            Some(nodes) => match nodes.held_by_others().await {
                Ok(keep) => keep,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the node registry: presence flags left as they are");
                    return Ok(());
                }
            },
        };
        let reset = self.store.reset_presence(&keep).await?;
        tracing::info!(reset, kept = keep.len(), "presence flags reset at start-up");
        Ok(())
    }

    /// The user's first socket on this node authenticated.
    async fn arrived(&self, user_id: &str) {
        if let Some((_, timer)) = self.pending().remove(user_id) {
            timer.cancel();
        }
        if let Some(nodes) = &self.nodes
            && let Err(e) = nodes.hold(&[user_id.to_owned()]).await
        {
            tracing::warn!(error = %e, "cannot record presence in Redis; it is re-sent with the next heartbeat");
        }
        self.go_online(user_id).await;
    }

    async fn go_online(&self, user_id: &str) {
        let now = self.clock.now();
        match self.store.set_online(user_id, now).await {
            Ok(true) => self.tell_friends(user_id, true, now).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot store presence"),
        }
    }

    /// The user's last socket on this node closed: offline after the grace period, unless a socket comes
    /// back (here or on another node) meanwhile.
    fn departed(self: &Arc<Self>, user_id: &str) {
        let token = CancellationToken::new();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        if let Some((_, old)) = self.pending().insert(user_id.to_owned(), (generation, token.clone())) {
            old.cancel();
        }
        let (this, user) = (self.clone(), user_id.to_owned());
        tokio::spawn(async move {
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(this.grace) => {}
            }
            {
                let mut pending = this.pending();
                if pending.get(&user).is_none_or(|(g, _)| *g != generation) {
                    return;
                }
                pending.remove(&user);
            }
            this.go_offline(&user).await;
        });
    }

    async fn go_offline(&self, user_id: &str) {
        if self.hub.holds(user_id) {
            return;
        }
        if let Some(nodes) = &self.nodes {
            if let Err(e) = nodes.release(&[user_id.to_owned()]).await {
                tracing::warn!(error = %e, "cannot update presence in Redis");
            }
            match nodes.held_elsewhere(user_id).await {
                Ok(true) => return,
                Ok(false) => {}
                // Without the registry this node decides on what it sees, like the bus does.
                Err(e) => tracing::warn!(error = %e, "cannot read the node registry; deciding presence locally"),
            }
        }
        let now = self.clock.now();
        match self.store.set_offline(user_id, now).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::warn!(error = format!("{e:#}"), "cannot store presence"),
        }
        // A socket that registered meanwhile, here or on another node (which records itself in the registry
        // before it reads the flag, and so saw it still on and announced nothing), keeps the user online:
        // the flag goes back on and friends never hear of the blip.
        let back_elsewhere = match &self.nodes {
            Some(nodes) => nodes.held_elsewhere(user_id).await.unwrap_or(false),
            None => false,
        };
        if self.hub.holds(user_id) || back_elsewhere {
            if let Err(e) = self.store.set_online(user_id, now).await {
                tracing::warn!(error = format!("{e:#}"), "cannot store presence");
            }
            return;
        }
        self.tell_friends(user_id, false, now).await;
    }

    async fn tell_friends(&self, user_id: &str, is_online: bool, last_seen: mapquiz_domain::Timestamp) {
        let friends = match self.store.friend_ids(user_id).await {
            Ok(f) if f.is_empty() => return,
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "cannot list friends for a presence change");
                return;
            }
        };
        let push = Push::FriendStatusChange {
            payload: FriendStatusChange { friend_id: user_id.to_owned(), is_online, last_seen },
        };
        self.bus.publish(Event::to_users(friends, &push.frame()));
    }

    /// Until `stop`, every [`HEARTBEAT_EVERY`]: heartbeats into the node registry (when there is one), then
    /// repairs the stored flag of every user this node holds that a decision elsewhere (a node deciding
    /// alone while Redis was down, a lost race) turned off, telling their friends they are online.
    pub async fn run_heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_failing = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let users = self.hub.users();
            if let Some(nodes) = &self.nodes {
                match nodes.heartbeat(&users).await {
                    Ok(()) => {
                        // Users who arrived while the list was being replaced are added back.
                        let now_held: Vec<String> =
                            self.hub.users().into_iter().filter(|u| !users.contains(u)).collect();
                        if let Err(e) = nodes.hold(&now_held).await {
                            tracing::warn!(error = %e, "cannot record presence in Redis");
                        }
                        if was_failing {
                            tracing::info!("node registry reachable again");
                        }
                        was_failing = false;
                    }
                    Err(e) => {
                        if !was_failing {
                            tracing::warn!(error = %e, "node heartbeat failed; presence is decided locally until Redis returns");
                        }
                        was_failing = true;
                    }
                }
            }
            let now = self.clock.now();
            if let (Some(nodes), false) = (&self.nodes, was_failing) {
                self.sweep(nodes, now).await;
            }
            match self.store.mark_online(&users, now).await {
                Ok(repaired) => {
                    for user in repaired.iter().filter(|u| self.hub.holds(u)) {
                        tracing::info!(user_id = %user, "presence repaired: held here but stored offline");
                        self.tell_friends(user, true, now).await;
                    }
                }
                Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot repair presence flags"),
            }
        }
    }

    /// Several nodes: turns offline (and tells their friends) the users flagged online that no live node
    /// holds: those of a node that died or left without cleaning up, once its heartbeat expired. Users held
    /// here, or waiting out their offline grace here, are kept; nothing is swept when the registry cannot be
    /// read. A user who just connected elsewhere and is swept too early is repaired by that node's next
    /// heartbeat.
    async fn sweep(&self, nodes: &Nodes, now: mapquiz_domain::Timestamp) {
        let mut keep = match nodes.held_by_others().await {
            Ok(keep) => keep,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the node registry: no presence sweep this round");
                return;
            }
        };
        keep.extend(self.hub.users());
        keep.extend(self.pending().keys().cloned());
        match self.store.sweep_presence(&keep, now).await {
            Ok(swept) => {
                for user in swept {
                    tracing::info!(user_id = %user, "presence swept: no live node holds the user");
                    self.tell_friends(&user, false, now).await;
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot sweep presence flags"),
        }
    }

    /// Leaves the node registry (clean shutdown).
    pub async fn leave(&self) {
        if let Some(nodes) = &self.nodes {
            nodes.leave().await;
        }
    }
}

/// On the `Arc`: the offline timer a close starts outlives the call and holds the service.
#[async_trait::async_trait]
impl SocketLifecycle for Arc<Presence> {
    async fn first_socket_authenticated(&self, user_id: &str) {
        self.arrived(user_id).await;
    }

    fn last_socket_closed(&self, user_id: &str) {
        self.departed(user_id);
    }
}
