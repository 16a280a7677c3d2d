//! Multiplayer lobbies and games over `/ws` (protocol §2.7.3–§2.9, §3), black-box with real sockets, on
//! SQLite and PostgreSQL: one file per area.

mod crowd;
pub(crate) mod db_cut;
mod five_players;
mod games;
mod history;
pub(crate) mod kill9;
mod members;
pub(crate) mod nodes;
mod refusals;
mod regions;

use crate::support::{TestApp, TestUser};
use std::time::Duration;

/// The disconnect grace the suites run with.
pub const GRACE: Duration = Duration::from_millis(400);

/// An app with short lobby timers (grace, empty lobby).
pub async fn app(postgres: bool) -> Option<TestApp> {
    TestApp::spawn_with(postgres, |f| {
        f.merge(("lobby_grace_ms", GRACE.as_millis() as u64))
            .merge(("lobby_empty_ttl_ms", 1_000))
            .merge(("presence_grace_ms", 100))
    })
    .await
}

/// Users named `names`, each a friend of the first.
pub async fn friends_of_first(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    let mut users = Vec::new();
    for name in names {
        users.push(app.sign_up(name).await);
    }
    for other in &users[1..] {
        app.befriend(&users[0], other).await;
    }
    users
}
