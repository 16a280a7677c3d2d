//! The node's one batched progress writer (protocol §3.11): merged progress is kept per player, the newest
//! row replacing older ones, and stored in one `save_progress_batch` per flush, at least every
//! `lobby_progress_flush_ms`, and on demand before a lobby's next write-through change (so always before
//! the end of its game).
//!
//! A failed flush keeps its rows (unless a newer row for the same player arrived meanwhile) and the next
//! flush tries again: acknowledged progress is never dropped while the database is away. Flushes never
//! overlap, so a lobby's on-demand flush also waits for a periodic one that holds its rows.

use crate::clock::DynClock;
use mapquiz_domain::lobby::ProgressRow;
use mapquiz_domain::{LobbyId, UserId};
use mapquiz_store::{DynStore, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

type Pending = HashMap<LobbyId, HashMap<UserId, ProgressRow>>;

/// The batched progress writer.
pub struct ProgressWriter {
    store: DynStore,
    clock: DynClock,
    every: Duration,
    pending: Mutex<Pending>,
    /// Held for the length of each flush, so that flushes are serialised.
    flushing: tokio::sync::Mutex<()>,
}

impl ProgressWriter {
    /// A writer over `store` that flushes at least `every`.
    pub fn new(store: DynStore, clock: DynClock, every: Duration) -> Self {
        ProgressWriter {
            store,
            clock,
            every,
            pending: Mutex::new(HashMap::new()),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Each change is one insert or remove: the map stays consistent whatever a panicking holder did.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `row` for the next flush, replacing an older row of the same player.
    pub fn record(&self, row: ProgressRow) {
        let mut pending = self.pending();
        pending.entry(row.lobby.clone()).or_default().insert(row.user.clone(), row);
    }

    /// Rows waiting, over every lobby.
    pub fn waiting(&self) -> usize {
        self.pending().values().map(HashMap::len).sum()
    }

    /// Stores the rows of `lobby` now (after any flush under way).
    pub async fn flush_lobby(&self, lobby: &LobbyId) -> Result<(), StoreError> {
        let _turn = self.flushing.lock().await;
        let rows: Vec<ProgressRow> =
            self.pending().remove(lobby).map(|players| players.into_values().collect()).unwrap_or_default();
        self.save(rows).await
    }

    /// Stores every waiting row now.
    pub async fn flush_all(&self) -> Result<(), StoreError> {
        let _turn = self.flushing.lock().await;
        let rows: Vec<ProgressRow> =
            std::mem::take(&mut *self.pending()).into_values().flat_map(HashMap::into_values).collect();
        self.save(rows).await
    }

    async fn save(&self, rows: Vec<ProgressRow>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let saved = self.store.save_progress_batch(&rows, self.clock.now()).await;
        metrics::histogram!("lobby_progress_write_seconds").record(started.elapsed().as_secs_f64());
        match saved {
            Ok(()) => {
                metrics::histogram!("lobby_progress_batch_size").record(rows.len() as f64);
                Ok(())
            }
            Err(e) => {
                crate::error::count_store_error(&e);
                self.put_back(rows);
                Err(e)
            }
        }
    }

    /// Rows of a failed flush wait again, except where a newer row of the same player came in meanwhile.
    fn put_back(&self, rows: Vec<ProgressRow>) {
        let mut pending = self.pending();
        for row in rows {
            pending.entry(row.lobby.clone()).or_default().entry(row.user.clone()).or_insert(row);
        }
    }

    /// Flushes every `every` until `stop`.
    pub async fn run(&self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            match self.flush_all().await {
                Ok(()) if failing => {
                    tracing::info!("progress writes resumed");
                    failing = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            waiting = self.waiting(),
                            "progress writes failing; rows kept"
                        );
                    }
                    failing = true;
                }
            }
        }
    }

    /// The last flush at shutdown: a few tries, then what could not be written is reported (the clients
    /// send their whole lists with every update, so the next update after the restart brings it back).
    pub async fn final_flush(&self) {
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
