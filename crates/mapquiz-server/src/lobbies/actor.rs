//! One task per live lobby: it owns the [`Lobby`], takes commands from its bounded mailbox one at a time
//! and sleeps until the lobby's next deadline, which comes back as a timer command. For each command it
//! runs [`Lobby::apply`], then the effects in their order (`effect.rs`): writes through the store, the reply
//! into the requester's queue, the pushes on the bus, the audit; only then does it take the next command.
//!
//! Decisions:
//! - **A write that fails before anything was sent** (the database is away) is retried for
//!   [`PERSIST_PATIENCE`]; then the lobby goes back to its state before the command, which answers
//!   `Opération échouée` and publishes nothing. Timers refused this way fire again a second later.
//! - **A write after the reply or a push** (the end of a game, after the progress reply that caused it) can
//!   no longer be taken back: it is retried until the database answers. Progress itself never waits: it goes
//!   to the batched writer, which keeps it while the database is away, so players keep playing.
//! - Every write-through change goes to the node's lobby writer (`writer.rs`), which stores it in a group
//!   commit with other lobbies' changes, after the lobby's waiting progress, so the store sees progress
//!   before the end, restart or departure that follows it.
//! - A panic ends the task; the registry then restores the lobby from the store at its next command.

use super::handle::{Job, Requester};
use super::tally::LiveTally;
use super::writer::{Committed, LobbyWriter};
use crate::audit::{Action, Audit};
use crate::bus::{Bus, Event as BusEvent};
use crate::clock::DynClock;
use crate::live::hub::Hub;
use crate::ws::protocol::text;
use mapquiz_domain::lobby::{
    Audience, AuditEntry, Change, Command, Effect, Event, FlagReason, GameStatus, Lobby, PlayerStatus, TransferReason,
};
use mapquiz_store::{DynStore, StoreError};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long a write that nothing has revealed yet is retried before the command is refused.
pub const PERSIST_PATIENCE: Duration = Duration::from_secs(3);
/// Longest pause between two tries of a write.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long a timer whose write failed waits before it fires again.
const TIMER_RETRY: Duration = Duration::from_secs(1);

/// What every actor is built from: the services it uses, never the application state.
pub struct ActorDeps {
    pub store: DynStore,
    pub bus: Arc<Bus>,
    pub hub: Arc<Hub>,
    pub clock: DynClock,
    pub audit: Audit,
    pub writer: Arc<LobbyWriter>,
    /// Cancelled at shutdown: actors stop taking commands.
    pub stop: CancellationToken,
    /// Live lobbies by status, kept with the `lobbies_live` gauge.
    pub tally: LiveTally,
}

/// What the registry does when an actor ends (`true`: its lobby was deleted): forget its handle and give
/// its lease back.
pub type Forget = Box<dyn Fn(bool) + Send + Sync>;

/// How this node holds a lobby: the owner's fencing token its writes carry (`None` on one node, where no
/// other node can own it), and the token that stops the actor (the node's shutdown, or the lease lost).
pub struct Tenure {
    pub fence: Option<u64>,
    pub stop: CancellationToken,
}

/// What to do when a write fails before anything was sent.
enum Fallback {
    /// Go back to this state and refuse the command.
    Restore(Box<Lobby>),
    /// The lobby is being created: refuse, and end the actor.
    Abandon,
    /// Nothing to go back to (repairs at restore): retry until written.
    Insist,
}

/// Whether the actor goes on after a command.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

/// The task's state.
pub struct Actor {
    lobby: Lobby,
    deps: Arc<ActorDeps>,
    forget: Forget,
    /// What the gauges last counted for this lobby: its status and its players in a game.
    counted: Option<(GameStatus, usize)>,
    /// A timer's write failed: no timer fires before this.
    timers_paused_until: Option<Instant>,
    tenure: Tenure,
    /// A write found a newer owner: the actor ends after this command.
    fenced: bool,
}

impl Actor {
    /// A new lobby's actor: it first runs the creation's effects (the write, then the reply), and ends at
    /// once if the lobby could not be stored.
    pub(super) fn spawn_created(
        lobby: Lobby,
        effects: Vec<Effect>,
        first: (Requester, oneshot::Sender<()>),
        rx: mpsc::Receiver<Job>,
        deps: Arc<ActorDeps>,
        (tenure, forget): (Tenure, Forget),
    ) {
        let actor = Actor::new(lobby, deps, tenure, forget);
        tokio::spawn(actor.run(rx, effects, Fallback::Abandon, Some(first)));
    }

    /// A restored lobby's actor: it first runs the repairs `Lobby::restore` asked for (nothing is pushed).
    pub(super) fn spawn_restored(
        lobby: Lobby,
        repairs: Vec<Effect>,
        rx: mpsc::Receiver<Job>,
        deps: Arc<ActorDeps>,
        (tenure, forget): (Tenure, Forget),
    ) {
        let actor = Actor::new(lobby, deps, tenure, forget);
        tokio::spawn(actor.run(rx, repairs, Fallback::Insist, None));
    }

    fn new(lobby: Lobby, deps: Arc<ActorDeps>, tenure: Tenure, forget: Forget) -> Self {
        Actor { lobby, deps, forget, counted: None, timers_paused_until: None, tenure, fenced: false }
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Job>,
        start: Vec<Effect>,
        fallback: Fallback,
        first: Option<(Requester, oneshot::Sender<()>)>,
    ) {
        let span = tracing::info_span!("lobby", lobby_id = %self.lobby.id());
        async move {
            let (requester, done) = first.unzip();
            let (next, _) = self.run_effects(start, fallback, requester.as_ref()).await;
            if let Some(done) = done {
                let _ = done.send(());
            }
            if next == Next::Stop || self.fenced {
                return self.end();
            }
            self.count();
            loop {
                let sleep = self.until_next_deadline();
                let next = tokio::select! {
                    biased;
                    () = self.tenure.stop.cancelled() => Next::Stop,
                    job = rx.recv() => match job {
                        Some(job) => self.handle(job).await,
                        None => Next::Stop,
                    },
                    () = tokio::time::sleep(sleep.unwrap_or_default()), if sleep.is_some() => self.fire_timers().await,
                };
                self.count();
                if next == Next::Stop || self.fenced {
                    if self.fenced {
                        tracing::warn!("another node owns the lobby now: this node's actor ends");
                    }
                    break;
                }
            }
            self.end();
            // Commands that arrived before the lobby was deleted get the answers for a missing lobby.
            if self.lobby.is_deleted() {
                rx.close();
                while let Ok(job) = rx.try_recv() {
                    self.handle(job).await;
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Leaves the registry and the gauges.
    fn end(&mut self) {
        (self.forget)(self.lobby.is_deleted());
        self.uncount();
    }

    /// How long until the earliest deadline, if any (zero when already passed).
    fn until_next_deadline(&self) -> Option<Duration> {
        let deadline = self.lobby.next_deadline()?;
        let wait = u64::try_from(deadline.millis() - self.deps.clock.now().millis()).unwrap_or(0);
        let wait = Duration::from_millis(wait);
        Some(match self.timers_paused_until {
            Some(until) => wait.max(until.saturating_duration_since(Instant::now())),
            None => wait,
        })
    }

    async fn handle(&mut self, job: Job) -> Next {
        let Job { cmd, requester, done } = job;
        let kind = requester.as_ref().map_or_else(|| lifecycle_kind(&cmd), |r| r.kind);
        // The socket may have come back between the close and this command: a stale drop is ignored.
        if let Command::Dropped { user } = &cmd
            && self.deps.hub.holds(user.as_str())
        {
            if let Some(done) = done {
                let _ = done.send(());
            }
            return Next::Continue;
        }
        let fallback = if reveals_before_writing(&cmd) {
            Fallback::Insist
        } else {
            Fallback::Restore(Box::new(self.lobby.clone()))
        };
        let span = tracing::info_span!("lobby_command", r#type = kind, outcome = tracing::field::Empty);
        let (next, outcome) = async {
            match self.lobby.apply(cmd, self.deps.clock.now()) {
                Err(refusal) => {
                    if let Some(r) = &requester {
                        r.refuse(refusal);
                    }
                    (Next::Continue, "refused")
                }
                Ok(effects) => self.run_effects(effects, fallback, requester.as_ref()).await,
            }
        }
        .instrument(span.clone())
        .await;
        span.record("outcome", outcome);
        metrics::counter!("lobby_commands_total", "type" => kind, "outcome" => outcome).increment(1);
        if let Some(done) = done {
            let _ = done.send(());
        }
        next
    }

    async fn fire_timers(&mut self) -> Next {
        self.timers_paused_until = None;
        for timer in self.lobby.due_timers(self.deps.clock.now()) {
            let fallback = Fallback::Restore(Box::new(self.lobby.clone()));
            let Ok(effects) = self.lobby.apply(Command::TimerFired(timer), self.deps.clock.now()) else { continue };
            let (next, outcome) = self.run_effects(effects, fallback, None).await;
            metrics::counter!("lobby_commands_total", "type" => "timer", "outcome" => outcome).increment(1);
            if next == Next::Stop {
                return Next::Stop;
            }
            if self.timers_paused_until.is_some() {
                break;
            }
        }
        Next::Continue
    }

    /// Carries out `effects` in order; consecutive writes share one transaction. The outcome is `ok`, or
    /// `failed` when a write failed and the command was refused.
    async fn run_effects(
        &mut self,
        effects: Vec<Effect>,
        fallback: Fallback,
        requester: Option<&Requester>,
    ) -> (Next, &'static str) {
        let mut fallback = Some(fallback);
        let mut effects = effects.into_iter().peekable();
        let mut next = Next::Continue;
        let mut revealed = false;
        while let Some(effect) = effects.next() {
            match effect {
                Effect::Persist(change) => {
                    let mut batch = vec![change];
                    while let Some(Effect::Persist(_)) = effects.peek() {
                        if let Some(Effect::Persist(change)) = effects.next() {
                            batch.push(change);
                        }
                    }
                    match fallback.take() {
                        Some(Fallback::Insist) | None => self.write_until_stored(&batch).await,
                        Some(give_up) => {
                            if !self.write_patiently(&batch).await {
                                return (self.give_up(give_up, requester), "failed");
                            }
                        }
                    }
                    if self.fenced {
                        // Another node owns the lobby now: nothing more of this command may reach anyone,
                        // and the requester hears of the failure unless it already has its answer.
                        if let (false, Some(r)) = (revealed, requester) {
                            r.fail(text::OPERATION_FAILED);
                        }
                        return (Next::Stop, "fenced");
                    }
                    self.observe_written(&batch);
                }
                Effect::RecordProgress(row) => self.deps.writer.record(row, self.tenure.fence),
                Effect::Reply(reply) => {
                    fallback = None;
                    revealed = true;
                    if let Some(r) = requester {
                        r.reply(&reply);
                    }
                }
                Effect::Push(audience, event) => {
                    fallback = None;
                    revealed = true;
                    self.publish(audience, &event);
                }
                Effect::Audit(entry) => self.audit(entry),
                Effect::Dispose => next = Next::Stop,
            }
        }
        (next, "ok")
    }

    /// A write failed with nothing revealed: the command is refused, as if it had never come.
    fn give_up(&mut self, fallback: Fallback, requester: Option<&Requester>) -> Next {
        metrics::counter!("lobby_commands_failed_total").increment(1);
        if let Some(r) = requester {
            r.fail(text::OPERATION_FAILED);
        }
        match fallback {
            Fallback::Restore(before) => {
                self.lobby = *before;
                if requester.is_none() {
                    self.timers_paused_until = Some(Instant::now() + TIMER_RETRY);
                }
                Next::Continue
            }
            Fallback::Abandon => Next::Stop,
            Fallback::Insist => Next::Continue,
        }
    }

    /// Writes `batch`: `false` when the database stayed away for
    /// [`PERSIST_PATIENCE`] or refused the write.
    async fn write_patiently(&mut self, batch: &[Change]) -> bool {
        let deadline = Instant::now() + PERSIST_PATIENCE;
        let mut pause = Duration::from_millis(50);
        loop {
            match self.write(batch).await {
                Ok(()) => return true,
                Err(e) if e.is_unavailable() && Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "lobby write failed; the command is refused");
                    return false;
                }
            }
        }
    }

    /// Writes `batch`, trying again while the database is away
    /// (until shutdown). A write the database refuses for another reason is logged and skipped: retrying
    /// would not change the answer.
    async fn write_until_stored(&mut self, batch: &[Change]) {
        let mut pause = Duration::from_millis(50);
        let mut warned = false;
        loop {
            match self.write(batch).await {
                Ok(()) => return,
                Err(e) if e.is_unavailable() && !self.tenure.stop.is_cancelled() => {
                    if !warned {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "lobby write failed; retrying until the database answers"
                        );
                        warned = true;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "lobby write failed; the stored lobby may lag behind");
                    return;
                }
            }
        }
    }

    /// Stores `batch` with the lobby's waiting progress before it, in the writer's next group.
    async fn write(&mut self, batch: &[Change]) -> Committed {
        let written = self.deps.writer.commit(self.lobby.id(), self.tenure.fence, batch.to_vec()).await;
        if let Err(e) = &written {
            metrics::counter!("lobby_write_failures_total").increment(1);
            self.fenced |= matches!(**e, StoreError::Fenced);
        }
        written
    }

    /// Metrics a stored change implies.
    fn observe_written(&self, batch: &[Change]) {
        for change in batch {
            if let Change::FinishGame { game_started_at, .. } = change {
                let ms = self.deps.clock.now().millis() - game_started_at.millis();
                metrics::histogram!("lobby_game_duration_seconds").record(ms.max(0) as f64 / 1000.0);
            }
        }
    }

    fn publish(&self, audience: Audience, event: &Event) {
        let frame = match event.envelope() {
            Ok(frame) => frame.to_string(),
            Err(e) => return tracing::error!(error = %e, "lobby push serialisation failed"),
        };
        let users = match audience {
            Audience::Members(users) => users.into_iter().map(|u| u.into_string()).collect(),
            Audience::User(user) => vec![user.into_string()],
        };
        self.deps.bus.publish(BusEvent::ToUsers { users, frame });
    }

    /// Writes the audit line in a task: the lobby does not wait for the audit trail.
    fn audit(&self, entry: AuditEntry) {
        let lobby = self.lobby.id().as_str().to_owned();
        let (action, user, target, details) = match entry {
            AuditEntry::Kicked { by, player } => {
                (Action::LobbyPlayerKicked, by, Some(player), json!({"lobbyId": lobby}))
            }
            AuditEntry::HostTransferred { from, to, reason } => {
                let reason = match reason {
                    TransferReason::Left => "left",
                    TransferReason::GraceExpired => "grace_expired",
                };
                (Action::LobbyHostTransferred, from, Some(to), json!({"lobbyId": lobby, "reason": reason}))
            }
            AuditEntry::IgnoredCodes { user, codes } => {
                metrics::counter!("lobby_suspicious_input_total", "kind" => "ignored_codes").increment(1);
                tracing::info!(user_id = %user, ?codes, "progress carried codes outside the game");
                (Action::LobbySuspiciousInput, user, None, json!({"lobbyId": lobby, "ignoredCodes": codes}))
            }
            AuditEntry::Flagged { user, reason } => {
                metrics::counter!("lobby_suspicious_input_total", "kind" => "flagged").increment(1);
                let reason = match reason {
                    FlagReason::TooFast { avg_ms_per_country, validated } => {
                        json!({"kind": "too_fast", "avgMsPerCountry": avg_ms_per_country, "validated": validated})
                    }
                    FlagReason::Burst { new_codes } => json!({"kind": "burst", "newCodes": new_codes}),
                };
                (Action::LobbyResultFlagged, user, None, json!({"lobbyId": lobby, "reason": reason}))
            }
        };
        let audit = self.deps.audit.clone();
        tokio::spawn(async move {
            let target = target.as_ref().map(|t| t.as_str());
            audit.record_unattended(action, Some(user.as_str()), target, Some(details)).await;
        });
    }

    /// Keeps the live-lobby gauges in line with this lobby's status and players in a game.
    fn count(&mut self) {
        let playing = self
            .lobby
            .members()
            .iter()
            .filter(|m| matches!(m.status, PlayerStatus::Playing | PlayerStatus::Finished))
            .count();
        let now = (self.lobby.status(), if self.lobby.status() == GameStatus::Playing { playing } else { 0 });
        if self.counted == Some(now) {
            return;
        }
        self.uncount();
        metrics::gauge!("lobbies_live", "status" => now.0.as_str()).increment(1.0);
        metrics::gauge!("lobby_players_in_games").increment(now.1 as f64);
        self.deps.tally.add(now.0);
        self.counted = Some(now);
    }

    fn uncount(&mut self) {
        if let Some((status, players)) = self.counted.take() {
            metrics::gauge!("lobbies_live", "status" => status.as_str()).decrement(1.0);
            metrics::gauge!("lobby_players_in_games").decrement(players as f64);
            self.deps.tally.remove(status);
        }
    }
}

/// Commands that may reveal something before their first write (a progress reply before the end of the
/// game it causes) or that never write: nothing to go back to.
fn reveals_before_writing(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Progress { .. }
            | Command::GetLobbyState { .. }
            | Command::GetGameState { .. }
            | Command::GetResults { .. }
    )
}

/// The metric label of a command no socket message carries.
fn lifecycle_kind(cmd: &Command) -> &'static str {
    match cmd {
        Command::Connected { .. } => "connected",
        Command::Dropped { .. } => "dropped",
        Command::TimerFired(_) => "timer",
        _ => "internal",
    }
}
