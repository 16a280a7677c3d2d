//! Where a lobby command finds its actor: the [`LobbyRouter`] seam, and this node's implementation,
//! [`LocalRegistry`], a map from lobby id to the live actor's handle.
//!
//! The local registry spawns an actor when a lobby is created or restored (every stored lobby at start-up,
//! and any other on its first command: one whose actor ended), and forgets it when the actor ends. Its lock
//! guards the map only; no game logic runs under it. It runs only the lobbies this node owns
//! ([`Ownership`]): on one node, all of them. With several nodes, [`super::cluster::ClusterRouter`] is the
//! [`LobbyRouter`]: it hands a command for a lobby another node owns to that node, not a change to the
//! actor or the rules.

use super::actor::{Actor, ActorDeps, Tenure};
use super::handle::{Job, LobbyHandle, Requester, Undelivered};
use super::ownership::{Owner, Ownership};
use crate::ws::protocol::incoming::Failure;
use crate::ws::protocol::text;
use async_trait::async_trait;
use mapquiz_domain::LobbyId;
use mapquiz_domain::lobby::{Command, Effect, Lobby, LobbyConfig, NewLobby};
use mapquiz_store::{StoreError, WriteOutcome};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Delivers lobby commands to the lobbies' actors, wherever they run.
#[async_trait]
pub trait LobbyRouter: Send + Sync {
    /// Creates the lobby and starts its actor, which answers `requester`. Resolves once the reply is queued.
    async fn create(&self, new: NewLobby, requester: Requester) -> Result<(), Failure>;

    /// Delivers `cmd` to the lobby's actor and resolves once its reply (to `requester`, if any) and pushes are
    /// queued. A lobby that does not exist answers as the protocol says for it (`Lobby non trouvé`, or a
    /// benign success). `Err` is an answer the caller sends: the lobby is too busy or unreachable.
    async fn dispatch(&self, lobby: &LobbyId, cmd: Command, requester: Option<Requester>) -> Result<(), Failure>;
}

/// A live actor: its mailbox, the fencing token it writes with, and what stops it.
#[derive(Clone)]
struct Entry {
    handle: LobbyHandle,
    fence: Option<u64>,
    stop: CancellationToken,
    /// Several nodes: past this the lease may have run out in Redis unnoticed (it was not renewed in
    /// time), so this node stops the actor rather than act as an owner it may no longer be.
    lease_until: Option<Instant>,
}

/// Where a lobby is, seen from this node.
pub enum Found {
    /// Live here.
    Live(LobbyHandle),
    /// Not stored: the lobby does not exist (or no longer).
    Missing,
    /// Another node owns it.
    Elsewhere(Arc<str>),
}

/// A command delivered, or handed back for the node that owns the lobby.
pub enum Routed {
    Done,
    Elsewhere { node: Arc<str>, cmd: Command, requester: Option<Requester> },
}

/// This node's lobbies.
pub struct LocalRegistry {
    actors: Mutex<HashMap<LobbyId, Entry>>,
    ownership: Arc<dyn Ownership>,
    /// Held while a lobby is restored on demand, so that two commands never restore it twice.
    restoring: tokio::sync::Mutex<()>,
    deps: Arc<ActorDeps>,
    rules: LobbyConfig,
    mailbox: usize,
    /// To hand each actor a way to forget itself without keeping the registry alive.
    me: Weak<LocalRegistry>,
}

impl LocalRegistry {
    /// An empty registry whose actors use `deps` and the rules' `config`, each with a mailbox of `mailbox`,
    /// running the lobbies `ownership` gives this node.
    pub fn new(deps: Arc<ActorDeps>, rules: LobbyConfig, mailbox: usize, ownership: Arc<dyn Ownership>) -> Arc<Self> {
        Arc::new_cyclic(|me| LocalRegistry {
            actors: Mutex::new(HashMap::new()),
            ownership,
            restoring: tokio::sync::Mutex::new(()),
            deps,
            rules,
            mailbox,
            me: me.clone(),
        })
    }

    fn actors(&self) -> MutexGuard<'_, HashMap<LobbyId, Entry>> {
        // Each change is one insert or remove: the map stays consistent whatever a panicking holder did.
        self.actors.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Live lobbies on this node.
    pub fn live(&self) -> usize {
        self.actors().len()
    }

    /// Restores every stored lobby this node may run, with its timers (start-up, protocol §3.11); returns
    /// how many. With several nodes, those no node owns ([`LocalRegistry::adopt_orphans`]).
    pub async fn restore_all(&self) -> Result<usize, StoreError> {
        if self.ownership.is_shared() {
            return self.adopt_orphans().await;
        }
        let stored = self.deps.store.load_lobbies().await?;
        let now = self.deps.clock.now();
        let count = stored.len();
        for lobby in stored {
            let (lobby, repairs) = Lobby::restore(lobby, self.rules, now);
            self.start(lobby, repairs, (None, Instant::now()));
        }
        Ok(count)
    }

    /// Takes and restores every stored lobby no node owns (several nodes): its owner died or left, and
    /// its timers must run even if no player sends a command. Returns how many were taken.
    pub async fn adopt_orphans(&self) -> Result<usize, StoreError> {
        let mut adopted = 0;
        for id in self.deps.store.lobby_ids().await? {
            if self.live_handle(&id).is_some() {
                continue;
            }
            let before = self.live();
            if let Found::Live(_) = self.find(&id).await? {
                adopted += usize::from(self.live() > before);
            }
        }
        Ok(adopted)
    }

    /// The leases this node holds: lobby and fencing token (several nodes).
    pub fn held(&self) -> Vec<(LobbyId, u64)> {
        self.actors().iter().filter_map(|(id, e)| e.fence.map(|f| (id.clone(), f))).collect()
    }

    /// Keeps this node's leases and stops the actors whose lease is lost (several nodes).
    pub async fn renew_leases(&self) {
        let held = self.held();
        if held.is_empty() {
            return;
        }
        let asked = Instant::now();
        let renewal = self.ownership.renew(&held).await;
        if let Some(until) = self.lease_from(asked) {
            let mut actors = self.actors();
            for id in &renewal.renewed {
                if let Some(entry) = actors.get_mut(id) {
                    entry.lease_until = Some(until);
                }
            }
        }
        for id in renewal.lost {
            tracing::warn!(lobby_id = %id, "lobby lease lost: another node runs it now");
            metrics::counter!("lobby_leases_lost_total").increment(1);
            self.evict(&id);
        }
    }

    /// Stops the lobby's actor here (its lease is lost): the next command finds the lobby's owner again.
    fn evict(&self, id: &LobbyId) {
        if let Some(entry) = self.actors().remove(id) {
            entry.stop.cancel();
        }
    }

    /// Spawns a restored lobby's actor, writing with `fence`, and registers it.
    fn start(&self, lobby: Lobby, repairs: Vec<Effect>, (fence, asked): (Option<u64>, Instant)) -> LobbyHandle {
        let id = lobby.id().clone();
        let (handle, rx) = LobbyHandle::channel(self.mailbox);
        let tenure = self.register(&id, &handle, fence, asked);
        let forget = self.forgetting(id, handle.clone(), fence);
        Actor::spawn_restored(lobby, repairs, rx, self.deps.clone(), (tenure, forget));
        handle
    }

    /// Registers a new actor's handle; its tenure stops with the node, or alone when evicted.
    fn register(&self, id: &LobbyId, handle: &LobbyHandle, fence: Option<u64>, asked: Instant) -> Tenure {
        let stop = self.deps.stop.child_token();
        let lease_until = fence.and(self.lease_from(asked));
        self.actors().insert(id.clone(), Entry { handle: handle.clone(), fence, stop: stop.clone(), lease_until });
        Tenure { fence, stop }
    }

    /// Until when a lease asked for (or renewed) at `asked` surely holds: a tenth is kept back for the
    /// clocks of this node and Redis.
    fn lease_from(&self, asked: Instant) -> Option<Instant> {
        self.ownership.lease().map(|lease| asked + lease.mul_f64(0.9))
    }

    /// What an actor calls when it ends: its entry goes, unless it was replaced meanwhile, and its lease is
    /// given back (with the token counter when the lobby was deleted).
    fn forgetting(&self, id: LobbyId, handle: LobbyHandle, fence: Option<u64>) -> super::actor::Forget {
        let registry = self.me.clone();
        Box::new(move |deleted| {
            let Some(registry) = registry.upgrade() else { return };
            let mine = {
                let mut actors = registry.actors();
                let mine = actors.get(&id).is_some_and(|e| e.handle.same_actor(&handle));
                if mine {
                    actors.remove(&id);
                }
                mine
            };
            if let (true, Some(fence)) = (mine, fence) {
                let (ownership, id) = (registry.ownership.clone(), id.clone());
                tokio::spawn(async move { ownership.release(&id, fence, deleted).await });
            }
        })
    }

    /// Where lobby `id` is: live here (restored from the store if this node may take it), missing, or
    /// owned by another node.
    pub async fn find(&self, id: &LobbyId) -> Result<Found, StoreError> {
        if let Some(handle) = self.live_handle(id) {
            return Ok(Found::Live(handle));
        }
        // Shutting down: no lobby is taken or restored any more (its lease is being given back).
        if self.deps.stop.is_cancelled() {
            return Err(StoreError::closed());
        }
        // Asked outside the restore lock: most lookups find another node's lobby, and must not queue behind
        // each other's Redis round trips. Two lookups of one lobby here both get this node's same token.
        let asked = Instant::now();
        let fence = match self.ownership.take(id).await {
            Ok(Owner::Here(fence)) => fence,
            Ok(Owner::There(node)) => return Ok(Found::Elsewhere(node)),
            Err(e) => {
                tracing::warn!(lobby_id = %id, error = %e, "cannot find the lobby's owner");
                return Err(StoreError::closed());
            }
        };
        let _turn = self.restoring.lock().await;
        if let Some(handle) = self.live_handle(id) {
            return Ok(Found::Live(handle));
        }
        if let Some(fence) = fence {
            match self.deps.store.claim_lobby(id, fence).await? {
                WriteOutcome::Stored => {}
                WriteOutcome::LobbyGone => {
                    self.ownership.release(id, fence, true).await;
                    return Ok(Found::Missing);
                }
                WriteOutcome::Fenced => {
                    tracing::error!(lobby_id = %id, fence, "the store holds a newer fencing token than the lease");
                    self.ownership.release(id, fence, false).await;
                    return Err(StoreError::Fenced);
                }
            }
        }
        let Some(stored) = self.deps.store.load_lobby(id).await? else {
            if let Some(fence) = fence {
                self.ownership.release(id, fence, true).await;
            }
            return Ok(Found::Missing);
        };
        tracing::info!(lobby_id = %id, "lobby restored on demand");
        let (lobby, repairs) = Lobby::restore(stored, self.rules, self.deps.clock.now());
        Ok(Found::Live(self.start(lobby, repairs, (fence, asked))))
    }

    fn live_handle(&self, id: &LobbyId) -> Option<LobbyHandle> {
        let mut actors = self.actors();
        match actors.get(id) {
            Some(entry) if entry.handle.is_closed() => {
                actors.remove(id);
                None
            }
            Some(entry) if entry.lease_until.is_some_and(|until| until <= Instant::now()) => {
                tracing::warn!(lobby_id = %id, "lobby lease not renewed in time: this node stops running it");
                metrics::counter!("lobby_leases_lost_total").increment(1);
                entry.stop.cancel();
                actors.remove(id);
                None
            }
            other => other.map(|e| e.handle.clone()),
        }
    }

    /// Answers a command for a lobby that does not exist, as the protocol says for each.
    fn answer_missing(lobby: &LobbyId, cmd: &Command, requester: Option<&Requester>) {
        let Some(requester) = requester else { return };
        match cmd.answer_for_missing_lobby(lobby) {
            Ok(effects) => {
                for effect in effects {
                    if let Effect::Reply(reply) = effect {
                        requester.reply(&reply);
                    }
                }
            }
            Err(refusal) => requester.refuse(refusal),
        }
    }
}

/// Posting a job: `Ok` with the done signal to wait for, or the job back when the actor is gone.
fn post(handle: &LobbyHandle, job: Job) -> Result<Result<(), Failure>, Box<Job>> {
    match handle.post(job) {
        Ok(()) => Ok(Ok(())),
        Err(Undelivered::Full) => {
            metrics::counter!("lobby_mailbox_full_total").increment(1);
            Ok(Err(Failure::Borrowed(text::OPERATION_FAILED)))
        }
        Err(Undelivered::Gone(job)) => Err(job),
    }
}

impl LocalRegistry {
    /// Creates the lobby here (a new lobby is this node's: nobody else knows its id yet).
    pub async fn create_here(&self, new: NewLobby, requester: Requester) -> Result<(), Failure> {
        // A stopping node takes no new lobby: the player's next try reaches a node that stays.
        if self.deps.stop.is_cancelled() {
            return Err(Failure::Borrowed(text::OPERATION_FAILED));
        }
        let (lobby, effects) = Lobby::create(new, self.rules, self.deps.clock.now());
        let id = lobby.id().clone();
        let asked = Instant::now();
        let fence = match self.ownership.take(&id).await {
            Ok(Owner::Here(fence)) => fence,
            Ok(Owner::There(_)) | Err(_) => return Err(Failure::Borrowed(text::OPERATION_FAILED)),
        };
        let (handle, rx) = LobbyHandle::channel(self.mailbox);
        let tenure = self.register(&id, &handle, fence, asked);
        let forget = self.forgetting(id, handle, fence);
        let (done, finished) = oneshot::channel();
        Actor::spawn_created(lobby, effects, (requester, done), rx, self.deps.clone(), (tenure, forget));
        finished.await.map_err(|_| Failure::Borrowed(text::OPERATION_FAILED))
    }

    /// Delivers `cmd` to the lobby's actor if this node runs it (see [`LobbyRouter::dispatch`]), or hands it
    /// back with the node that owns the lobby.
    pub async fn dispatch_here(
        &self,
        lobby: &LobbyId,
        cmd: Command,
        requester: Option<Requester>,
    ) -> Result<Routed, Failure> {
        let (done, finished) = oneshot::channel();
        let mut job = Job { cmd, requester, done: Some(done) };
        // A handle whose actor just ended is dropped and the lobby looked up again, once.
        for _ in 0..2 {
            let found = self.find(lobby).await.map_err(|e| crate::ws::protocol::incoming::store_failure(&e))?;
            let handle = match found {
                Found::Live(handle) => handle,
                Found::Missing => {
                    Self::answer_missing(lobby, &job.cmd, job.requester.as_ref());
                    return Ok(Routed::Done);
                }
                Found::Elsewhere(node) => {
                    return Ok(Routed::Elsewhere { node, cmd: job.cmd, requester: job.requester });
                }
            };
            match post(&handle, job) {
                Ok(posted) => {
                    posted?;
                    // The actor ended (a panic) before answering: the caller answers for it.
                    finished.await.map_err(|_| Failure::Borrowed(text::OPERATION_FAILED))?;
                    return Ok(Routed::Done);
                }
                Err(back) => {
                    job = *back;
                    let mut actors = self.actors();
                    if actors.get(lobby).is_some_and(|e| e.handle.same_actor(&handle)) {
                        actors.remove(lobby);
                    }
                }
            }
        }
        Err(Failure::Borrowed(text::OPERATION_FAILED))
    }
}

#[async_trait]
impl LobbyRouter for LocalRegistry {
    async fn create(&self, new: NewLobby, requester: Requester) -> Result<(), Failure> {
        self.create_here(new, requester).await
    }

    async fn dispatch(&self, lobby: &LobbyId, cmd: Command, requester: Option<Requester>) -> Result<(), Failure> {
        match self.dispatch_here(lobby, cmd, requester).await? {
            Routed::Done => Ok(()),
            // Only a shared ownership names another node, and then the router is the cluster's.
            Routed::Elsewhere { node, .. } => {
                tracing::error!(lobby_id = %lobby, node = %node, "a lobby owned elsewhere reached the local router");
                Err(Failure::Borrowed(text::OPERATION_FAILED))
            }
        }
    }
}
