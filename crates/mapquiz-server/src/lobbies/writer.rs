//! The node's one lobby writer (protocol §3.11): every lobby's write-through changes and the merged progress
//! go through it, so that the commands of many lobbies share one transaction (a group commit) instead of
//! each queueing for a connection and a commit of its own.
//!
//! - **Write-through changes.** An actor hands its lobby's changes to [`LobbyWriter::commit`] and waits.
//!   The writer takes every commit queued (up to [`MAX_GROUP`]) with the waiting progress of those lobbies,
//!   stores them in one `persist_lobby_group`, and answers each actor. A group the database refuses for a
//!   reason other than being away is tried again lobby by lobby, so one bad write refuses only its command.
//! - **Progress** is kept per player, the newest row replacing older ones, and stored at least every
//!   `lobby_progress_flush_ms`, and with the lobby's next write-through change, in the same transaction and
//!   before it (so always before the end of its game).
//! - A failed write keeps its progress rows (unless a newer row for the same player arrived meanwhile):
//!   acknowledged progress is never dropped while the database is away. Writes never overlap, so a lobby's
//!   progress is never stored after a change that followed it.

use crate::clock::DynClock;
use mapquiz_domain::lobby::{Change, ProgressRow};
use mapquiz_domain::{LobbyId, UserId};
use mapquiz_store::{DynStore, LobbyWrite, StoreError, WriteOutcome};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Most lobbies' commits in one transaction: a bound on how long the first of them waits for the rest.
pub const MAX_GROUP: usize = 256;

/// A lobby's waiting progress, newest row per player, and its owner's fencing token.
#[derive(Default)]
struct Waiting {
    fence: Option<u64>,
    rows: HashMap<UserId, ProgressRow>,
}

type Pending = HashMap<LobbyId, Waiting>;

/// A commit's answer; the error is shared by every commit of a group that failed together.
pub type Committed = Result<(), Arc<StoreError>>;

/// One lobby's changes waiting for the next group.
struct Commit {
    lobby: LobbyId,
    fence: Option<u64>,
    changes: Vec<Change>,
    done: oneshot::Sender<Committed>,
}

/// The lobby writer.
pub struct LobbyWriter {
    store: DynStore,
    clock: DynClock,
    every: Duration,
    pending: Mutex<Pending>,
    /// Held for the length of each write, so that writes never overlap.
    writing: tokio::sync::Mutex<()>,
    queue: mpsc::UnboundedSender<Commit>,
    /// Taken by [`LobbyWriter::run`].
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Commit>>>,
    /// Cancelled when [`LobbyWriter::run`] has written its last commits.
    finished: CancellationToken,
}

/// Locks a std mutex whose data stays consistent whatever a panicking holder did (each change is one insert,
/// remove or take).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LobbyWriter {
    /// A writer over `store` that stores progress at least `every`. Commits wait until [`LobbyWriter::run`]
    /// runs.
    pub fn new(store: DynStore, clock: DynClock, every: Duration) -> Self {
        // Unbounded, yet bounded by the live lobbies: each actor waits for its commit before its next.
        let (queue, inbox) = mpsc::unbounded_channel();
        LobbyWriter {
            store,
            clock,
            every,
            pending: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
            queue,
            inbox: Mutex::new(Some(inbox)),
            finished: CancellationToken::new(),
        }
    }

    /// Keeps `row` for the next write, replacing an older row of the same player; `fence` is the lobby's
    /// owner's token (`None` on one node).
    pub fn record(&self, row: ProgressRow, fence: Option<u64>) {
        let mut pending = lock(&self.pending);
        let waiting = pending.entry(row.lobby.clone()).or_default();
        waiting.fence = fence;
        waiting.rows.insert(row.user.clone(), row);
    }

    /// Progress rows waiting, over every lobby.
    pub fn waiting(&self) -> usize {
        lock(&self.pending).values().map(|w| w.rows.len()).sum()
    }

    /// Stores `changes` of `lobby`, after the lobby's waiting progress, in the next group, under the owner's
    /// `fence`. `NotFound` when the lobby is not stored (and the changes are more than deletes); `Fenced`
    /// when a newer owner holds it; `Unavailable` when the database is away or the writer has stopped.
    pub async fn commit(&self, lobby: &LobbyId, fence: Option<u64>, changes: Vec<Change>) -> Committed {
        let (done, answer) = oneshot::channel();
        let commit = Commit { lobby: lobby.clone(), fence, changes, done };
        if self.queue.send(commit).is_err() {
            return Err(Arc::new(StoreError::closed()));
        }
        answer.await.unwrap_or_else(|_| Err(Arc::new(StoreError::closed())))
    }

    /// Stores every waiting progress row now.
    pub async fn flush_all(&self) -> Result<(), StoreError> {
        self.store_group(&[], true).await.map(drop)
    }

    /// Stores one group in one transaction: each commit after its lobby's waiting progress, and with
    /// `all_progress` every other lobby's waiting progress too. Answers the commits' outcomes, in order. On
    /// failure the progress rows wait again; a fenced lobby's rows are dropped (its new owner has the lobby).
    async fn store_group(&self, commits: &[Commit], all_progress: bool) -> Result<Vec<WriteOutcome>, StoreError> {
        let _turn = self.writing.lock().await;
        let mut parts: Vec<(LobbyId, Option<u64>, Vec<ProgressRow>)> = Vec::with_capacity(commits.len());
        {
            let mut pending = lock(&self.pending);
            for commit in commits {
                let rows = pending.remove(&commit.lobby).map(|w| w.rows.into_values().collect()).unwrap_or_default();
                parts.push((commit.lobby.clone(), commit.fence, rows));
            }
            if all_progress {
                for (lobby, waiting) in pending.drain() {
                    parts.push((lobby, waiting.fence, waiting.rows.into_values().collect()));
                }
            }
        }
        let rows: usize = parts.iter().map(|(_, _, rows)| rows.len()).sum();
        if rows == 0 && commits.is_empty() {
            return Ok(Vec::new());
        }
        let writes: Vec<LobbyWrite<'_>> = parts
            .iter()
            .enumerate()
            .map(|(i, (lobby, fence, progress))| LobbyWrite {
                lobby,
                fence: *fence,
                progress,
                changes: commits.get(i).map_or(&[], |c| &c.changes),
            })
            .collect();
        let started = Instant::now();
        let stored = self.store.persist_lobby_group(&writes, self.clock.now()).await;
        metrics::histogram!("lobby_write_seconds").record(started.elapsed().as_secs_f64());
        drop(writes);
        match stored {
            Ok(mut outcomes) => {
                if rows > 0 {
                    metrics::histogram!("lobby_progress_batch_size").record(rows as f64);
                }
                if !commits.is_empty() {
                    metrics::histogram!("lobby_write_group_size").record(commits.len() as f64);
                }
                outcomes.truncate(commits.len());
                Ok(outcomes)
            }
            Err(e) => {
                crate::error::count_store_error(&e);
                self.put_back(parts);
                Err(e)
            }
        }
    }

    /// Rows of a failed write wait again, except where a newer row of the same player came in meanwhile.
    fn put_back(&self, parts: Vec<(LobbyId, Option<u64>, Vec<ProgressRow>)>) {
        let mut pending = lock(&self.pending);
        for (lobby, fence, rows) in parts {
            if rows.is_empty() {
                continue;
            }
            let waiting = pending.entry(lobby).or_insert_with(|| Waiting { fence, rows: HashMap::new() });
            for row in rows {
                waiting.rows.entry(row.user.clone()).or_insert(row);
            }
        }
    }

    /// Writes `group` and answers each commit: together when the database takes the group or is away, one
    /// by one when it refused the group for another reason.
    async fn write_group(&self, group: Vec<Commit>) {
        match self.store_group(&group, false).await {
            Ok(outcomes) => {
                for (commit, outcome) in group.into_iter().zip(outcomes) {
                    let _ = commit.done.send(answer(outcome));
                }
            }
            Err(e) if e.is_unavailable() || group.len() == 1 => {
                let e = Arc::new(e);
                for commit in group {
                    let _ = commit.done.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    lobbies = group.len(),
                    "a lobby group write failed; writing its lobbies one by one"
                );
                for commit in group {
                    let outcome = self.store_group(std::slice::from_ref(&commit), false).await;
                    let answered =
                        outcome.map_err(Arc::new).and_then(|mut o| answer(o.pop().unwrap_or(WriteOutcome::Stored)));
                    let _ = commit.done.send(answered);
                }
            }
        }
    }

    /// Writes the commits as they come, grouped, and the progress every `every`, until `stop`; then the
    /// commits already queued (their actors are waiting).
    pub async fn run(&self, stop: CancellationToken) {
        let Some(mut inbox) = lock(&self.inbox).take() else {
            tracing::error!("the lobby writer is already running");
            return;
        };
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(first) = inbox.recv() => {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match inbox.try_recv() {
                            Ok(commit) => group.push(commit),
                            Err(_) => break,
                        }
                    }
                    self.write_group(group).await;
                }
                _ = tick.tick() => failing = self.periodic_flush(failing).await,
            }
        }
        inbox.close();
        let mut rest = Vec::new();
        while let Ok(commit) = inbox.try_recv() {
            rest.push(commit);
        }
        if !rest.is_empty() {
            self.write_group(rest).await;
        }
        self.finished.cancel();
    }

    /// The periodic flush, logged when writes start and stop failing; returns whether they fail now.
    async fn periodic_flush(&self, failing: bool) -> bool {
        match self.flush_all().await {
            Ok(()) => {
                if failing {
                    tracing::info!("progress writes resumed");
                }
                false
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        waiting = self.waiting(),
                        "progress writes failing; rows kept"
                    );
                }
                true
            }
        }
    }

    /// The last flush at shutdown, once [`LobbyWriter::run`] has stopped: a few tries, then what could not be written is reported (the clients
    /// send their whole lists with every update, so the next update after the restart brings it back).
    pub async fn final_flush(&self) {
        let running = lock(&self.inbox).is_none();
        if running && tokio::time::timeout(Duration::from_secs(5), self.finished.cancelled()).await.is_err() {
            tracing::warn!("the lobby writer did not finish its last commits in time");
        }
        for attempt in 0..5u32 {
            match self.flush_all().await {
                Ok(()) => return,
                Err(e) if attempt == 4 => {
                    tracing::error!(error = format!("{e:#}"), lost = self.waiting(), "progress not stored at shutdown")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

/// A commit's answer from its outcome.
fn answer(outcome: WriteOutcome) -> Committed {
    match outcome {
        WriteOutcome::Stored => Ok(()),
        WriteOutcome::LobbyGone => Err(Arc::new(StoreError::NotFound)),
        WriteOutcome::Fenced => Err(Arc::new(StoreError::Fenced)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use mapquiz_domain::lobby::{LobbyName, LobbyRow, LobbySettings, MemberRow, PlayerStatus};
    use mapquiz_domain::scores::GameMode;
    use mapquiz_domain::{Region, Timestamp};
    use mapquiz_store::testing::TestDatabase;
    use mapquiz_store::{ConnectOptions, NewUser};

    fn lobby(s: &str) -> LobbyId {
        LobbyId::parse(s).unwrap()
    }

    fn user(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn join(user: &str) -> Change {
        let now = Timestamp::from_millis(1_764_000_000_000).unwrap();
        Change::AddMember(MemberRow { user: self::user(user), status: PlayerStatus::Joined, joined_at: now })
    }

    /// A migrated SQLite store with users `a` and `b` and lobbies `l1` and `l2` hosted by `a`.
    async fn store() -> (TestDatabase, DynStore) {
        let db = TestDatabase::sqlite();
        let store = mapquiz_store::connect(&ConnectOptions::new(db.database_url())).await.unwrap();
        store.migrate_up().await.unwrap();
        let now = Timestamp::from_millis(1_764_000_000_000).unwrap();
        let users: Vec<NewUser> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, u)| NewUser {
                id: (*u).into(),
                name: u.to_uppercase(),
                email: format!("{u}@example.com"),
                email_verified: true,
                image: None,
                tag: format!("TAG{i:05}"),
                created_at: now,
            })
            .collect();
        store.insert_users(&users).await.unwrap();
        for lobby in ["l1", "l2"] {
            let row = LobbyRow {
                id: self::lobby(lobby),
                name: LobbyName::from_stored(lobby.to_owned()),
                host: user("a"),
                settings: LobbySettings { regions: vec![Region::Europe], mode: GameMode::Quiz },
                authorized: vec![user("a")],
                created_at: now,
            };
            let host = MemberRow { user: user("a"), status: PlayerStatus::Joined, joined_at: now };
            store
                .persist_lobby_changes(&self::lobby(lobby), &[Change::CreateLobby { lobby: row, host }], now)
                .await
                .unwrap();
        }
        (db, store)
    }

    #[tokio::test]
    async fn a_refused_write_refuses_only_its_own_commit() {
        let (_db, store) = store().await;
        let writer = Arc::new(LobbyWriter::new(store.clone(), Arc::new(SystemClock), Duration::from_secs(60)));
        // Queued before the writer runs, so the three land in one group; `ghost` is not a user.
        let (l1, l2, gone) = (lobby("l1"), lobby("l2"), lobby("gone"));
        let w = writer.clone();
        let good = tokio::spawn(async move { w.commit(&l1, None, vec![join("b")]).await });
        let w = writer.clone();
        let bad = tokio::spawn(async move { w.commit(&l2, None, vec![join("ghost")]).await });
        let w = writer.clone();
        let missing = tokio::spawn(async move { w.commit(&gone, None, vec![join("b")]).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stop = CancellationToken::new();
        let run = tokio::spawn({
            let (writer, stop) = (writer.clone(), stop.clone());
            async move { writer.run(stop).await }
        });

        good.await.unwrap().expect("the good commit is stored");
        let refused = bad.await.unwrap().expect_err("a join of a stranger is refused");
        assert!(matches!(*refused, StoreError::Conflict(_)), "{refused:?}");
        let gone = missing.await.unwrap().expect_err("a missing lobby");
        assert!(matches!(*gone, StoreError::NotFound), "{gone:?}");
        let l1 = store.load_lobby(&lobby("l1")).await.unwrap().unwrap();
        assert_eq!(l1.members.len(), 2, "b joined l1");
        assert_eq!(store.load_lobby(&lobby("l2")).await.unwrap().unwrap().members.len(), 1);

        // After the stop, a commit is answered at once as unavailable, never left waiting.
        stop.cancel();
        run.await.unwrap();
        let late = writer.commit(&lobby("l1"), None, vec![join("b")]).await.expect_err("the writer has stopped");
        assert!(late.is_unavailable());
    }
}
