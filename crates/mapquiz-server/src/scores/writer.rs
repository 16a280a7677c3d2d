//! The node's score writer: the games players save go through it, so that many share one transaction (a
//! group commit) instead of each paying a transaction and a commit of its own. Under load the games that
//! arrive while one group is being written form the next group, so a group's size follows the load and a
//! lone game is written at once.
//!
//! A group the database refuses for a reason other than being away is tried again game by game, so one bad
//! game refuses only its own request. The writer runs in a task of its own: a request dropped by the
//! timeout or by a client that went away never abandons a transaction midway.

use mapquiz_store::{DynStore, NewScore, StoreError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most games in one transaction: bounds one statement's parameter arrays and the first game's wait.
pub const MAX_GROUP: usize = 512;

/// A game's answer; the error is shared by every game of a group that failed together.
pub type Saved = Result<(), Arc<StoreError>>;

/// One game waiting for the next group.
struct Job {
    score: NewScore,
    done: oneshot::Sender<Saved>,
}

/// The score writer; dropping it ends its task once the queued games are written.
pub struct ScoreWriter {
    queue: mpsc::UnboundedSender<Job>,
}

impl ScoreWriter {
    /// Starts the writer's task over `store`.
    pub fn start(store: DynStore) -> Self {
        let (writer, task) = Self::new(store);
        tokio::spawn(task);
        writer
    }

    /// The writer and the task that writes its games, not yet running.
    fn new(store: DynStore) -> (Self, impl Future<Output = ()> + Send + 'static) {
        // Unbounded, yet bounded by the requests in flight: each waits for its answer.
        let (queue, inbox) = mpsc::unbounded_channel();
        (ScoreWriter { queue }, run(store, inbox))
    }

    /// Stores `score` in the next group; `Unavailable` when the database is away or the writer stopped.
    pub async fn save(&self, score: NewScore) -> Saved {
        let (done, answer) = oneshot::channel();
        if self.queue.send(Job { score, done }).is_err() {
            return Err(Arc::new(StoreError::closed()));
        }
        answer.await.unwrap_or_else(|_| Err(Arc::new(StoreError::closed())))
    }
}

/// Writes the games as they come, grouped, until every [`ScoreWriter`] handle is gone.
async fn run(store: DynStore, mut inbox: mpsc::UnboundedReceiver<Job>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while inbox.recv_many(&mut group, MAX_GROUP).await > 0 {
        write_group(&store, std::mem::take(&mut group)).await;
    }
}

/// Writes `group` and answers each game: together when the database takes the group or is away, one by
/// one when it refused the group for another reason.
async fn write_group(store: &DynStore, group: Vec<Job>) {
    let (scores, answers): (Vec<NewScore>, Vec<oneshot::Sender<Saved>>) =
        group.into_iter().map(|j| (j.score, j.done)).unzip();
    let started = Instant::now();
    let stored = store.insert_score_group(&scores).await;
    metrics::histogram!("score_write_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("score_write_group_size").record(scores.len() as f64);
    match stored {
        Ok(()) => {
            for done in answers {
                let _ = done.send(Ok(()));
            }
        }
        Err(e) if e.is_unavailable() || scores.len() == 1 => {
            let e = Arc::new(e);
            for done in answers {
                let _ = done.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                games = scores.len(),
                "a score group write failed; writing its games one by one"
            );
            for (score, done) in scores.iter().zip(answers) {
                let one = store.insert_score_group(std::slice::from_ref(score)).await;
                let _ = done.send(one.map_err(Arc::new));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapquiz_domain::Timestamp;
    use mapquiz_store::testing::TestDatabase;
    use mapquiz_store::{ConnectOptions, NewUser};
    use std::time::Duration;

    fn game(user_id: &str) -> NewScore {
        NewScore {
            id: mapquiz_domain::new_id(),
            user_id: user_id.to_owned(),
            score: 5,
            total_questions: 10,
            selected_regions: vec!["Europe".to_owned()],
            regions_key: "Europe".to_owned(),
            game_mode: "quiz".to_owned(),
            duration: Some(30),
            created_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
            boards: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_refused_game_refuses_only_its_own_request() {
        let db = TestDatabase::sqlite();
        let store = mapquiz_store::connect(&ConnectOptions::new(db.database_url())).await.unwrap();
        store.migrate_up().await.unwrap();
        let user = NewUser {
            id: "a".into(),
            name: "A".into(),
            email: "a@example.com".into(),
            email_verified: true,
            image: None,
            tag: "TAG00000".into(),
            created_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        };
        store.insert_users(&[user]).await.unwrap();
        let (writer, task) = ScoreWriter::new(store.clone());
        let writer = Arc::new(writer);
        // Queued before the writer runs, so the three land in one group; `ghost` is not a user.
        let saves = ["a", "ghost", "a"].map(|who| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.save(game(who)).await })
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::spawn(task);
        let mut answers = Vec::new();
        for save in saves {
            answers.push(save.await.unwrap());
        }
        assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
        assert!(answers[1].is_err(), "a game of a stranger is refused");
        assert_eq!(store.score_stats("a").await.unwrap().total_games, 2);
    }
}
