//! Where a lobby command finds its actor: the [`LobbyRouter`] seam, and this node's implementation,
//! [`LocalRegistry`], a map from lobby id to the live actor's handle.
//!
//! The local registry spawns an actor when a lobby is created or restored (every stored lobby at start-up,
//! and any other on its first command: one whose actor ended), and forgets it when the actor ends. Its lock
//! guards the map only; no game logic runs under it. A lobby playable across nodes is another
//! implementation of [`LobbyRouter`] (routing the command to the node owning the lobby), not a change to
//! the actor or the rules.

use super::actor::{Actor, ActorDeps};
use super::handle::{Job, LobbyHandle, Requester, Undelivered};
use crate::ws::protocol::incoming::Failure;
use crate::ws::protocol::text;
use async_trait::async_trait;
use mapquiz_domain::LobbyId;
use mapquiz_domain::lobby::{Command, Effect, Lobby, LobbyConfig, NewLobby};
use mapquiz_store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::oneshot;

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

/// This node's lobbies.
pub struct LocalRegistry {
    actors: Mutex<HashMap<LobbyId, LobbyHandle>>,
    /// Held while a lobby is restored on demand, so that two commands never restore it twice.
    restoring: tokio::sync::Mutex<()>,
    deps: Arc<ActorDeps>,
    rules: LobbyConfig,
    mailbox: usize,
    /// To hand each actor a way to forget itself without keeping the registry alive.
    me: Weak<LocalRegistry>,
}

impl LocalRegistry {
    /// An empty registry whose actors use `deps` and the rules' `config`, each with a mailbox of `mailbox`.
    pub fn new(deps: Arc<ActorDeps>, rules: LobbyConfig, mailbox: usize) -> Arc<Self> {
        Arc::new_cyclic(|me| LocalRegistry {
            actors: Mutex::new(HashMap::new()),
            restoring: tokio::sync::Mutex::new(()),
            deps,
            rules,
            mailbox,
            me: me.clone(),
        })
    }

    fn actors(&self) -> MutexGuard<'_, HashMap<LobbyId, LobbyHandle>> {
        // Each change is one insert or remove: the map stays consistent whatever a panicking holder did.
        self.actors.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Live lobbies on this node.
    pub fn live(&self) -> usize {
        self.actors().len()
    }

    /// Restores every stored lobby with its timers (start-up, protocol §3.11); returns how many.
    pub async fn restore_all(&self) -> Result<usize, StoreError> {
        let stored = self.deps.store.load_lobbies().await?;
        let now = self.deps.clock.now();
        let count = stored.len();
        for lobby in stored {
            let (lobby, repairs) = Lobby::restore(lobby, self.rules, now);
            self.start(lobby, repairs);
        }
        Ok(count)
    }

    /// Spawns a restored lobby's actor and registers it.
    fn start(&self, lobby: Lobby, repairs: Vec<Effect>) -> LobbyHandle {
        let id = lobby.id().clone();
        let (handle, rx) = LobbyHandle::channel(self.mailbox);
        self.actors().insert(id.clone(), handle.clone());
        Actor::spawn_restored(lobby, repairs, rx, self.deps.clone(), self.forgetting(id, handle.clone()));
        handle
    }

    /// What an actor calls when it ends: its entry goes, unless it was replaced meanwhile.
    fn forgetting(&self, id: LobbyId, handle: LobbyHandle) -> super::actor::Forget {
        let registry = self.me.clone();
        Box::new(move || {
            if let Some(registry) = registry.upgrade() {
                let mut actors = registry.actors();
                if actors.get(&id).is_some_and(|h| h.same_actor(&handle)) {
                    actors.remove(&id);
                }
            }
        })
    }

    /// The live actor of `id`, restoring it from the store if it is stored but not live; `None` when the
    /// lobby does not exist.
    async fn find(&self, id: &LobbyId) -> Result<Option<LobbyHandle>, StoreError> {
        if let Some(handle) = self.live_handle(id) {
            return Ok(Some(handle));
        }
        let _turn = self.restoring.lock().await;
        if let Some(handle) = self.live_handle(id) {
            return Ok(Some(handle));
        }
        let Some(stored) = self.deps.store.load_lobby(id).await? else { return Ok(None) };
        tracing::info!(lobby_id = %id, "lobby restored on demand");
        let (lobby, repairs) = Lobby::restore(stored, self.rules, self.deps.clock.now());
        Ok(Some(self.start(lobby, repairs)))
    }

    fn live_handle(&self, id: &LobbyId) -> Option<LobbyHandle> {
        let mut actors = self.actors();
        match actors.get(id) {
            Some(handle) if handle.is_closed() => {
                actors.remove(id);
                None
            }
            other => other.cloned(),
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

#[async_trait]
impl LobbyRouter for LocalRegistry {
    async fn create(&self, new: NewLobby, requester: Requester) -> Result<(), Failure> {
        let (lobby, effects) = Lobby::create(new, self.rules, self.deps.clock.now());
        let id = lobby.id().clone();
        let (handle, rx) = LobbyHandle::channel(self.mailbox);
        self.actors().insert(id.clone(), handle.clone());
        let (done, finished) = oneshot::channel();
        Actor::spawn_created(lobby, effects, (requester, done), rx, self.deps.clone(), self.forgetting(id, handle));
        finished.await.map_err(|_| Failure::Borrowed(text::OPERATION_FAILED))
    }

    async fn dispatch(&self, lobby: &LobbyId, cmd: Command, requester: Option<Requester>) -> Result<(), Failure> {
        let (done, finished) = oneshot::channel();
        let mut job = Job { cmd, requester, done: Some(done) };
        // A handle whose actor just ended is dropped and the lobby looked up again, once.
        for _ in 0..2 {
            let found = self.find(lobby).await.map_err(|e| crate::ws::protocol::incoming::store_failure(&e))?;
            let Some(handle) = found else {
                Self::answer_missing(lobby, &job.cmd, job.requester.as_ref());
                return Ok(());
            };
            match post(&handle, job) {
                Ok(posted) => {
                    posted?;
                    // The actor ended (a panic) before answering: the caller answers for it.
                    return finished.await.map_err(|_| Failure::Borrowed(text::OPERATION_FAILED));
                }
                Err(back) => {
                    job = *back;
                    let mut actors = self.actors();
                    if actors.get(lobby).is_some_and(|h| h.same_actor(&handle)) {
                        actors.remove(lobby);
                    }
                }
            }
        }
        Err(Failure::Borrowed(text::OPERATION_FAILED))
    }
}
