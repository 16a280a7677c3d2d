//! The weekly maintenance jobs (prunes, planner statistics, backups) and the leases that let one node at a
//! time run each: identical on both backends.

use crate::{at, migrated, on_both_backends};
use mapquiz_store::{AuditEntry, ConnectOptions, DatabaseUrl, DynStore, NewUser, RequestStatus, StoreError};
use std::sync::Arc;
use tokio::sync::Barrier;

on_both_backends!(
    rejected_requests_are_pruned_strictly_before,
    audit_is_pruned_strictly_before,
    audit_since_filters_by_time_and_user,
    optimize_runs,
    lease_is_exclusive_until_it_expires,
    finish_records_the_last_run_and_frees_the_lease,
    racing_holders_have_one_winner,
    backup_is_a_consistent_copy,
);

async fn people(store: &DynStore, ids: &[&str]) {
    let users: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| NewUser {
            id: (*id).into(),
            name: format!("Joueur {id}"),
            email: format!("{id}@example.com"),
            email_verified: true,
            image: None,
            tag: format!("M{i:07}"),
            created_at: at(0),
        })
        .collect();
    store.insert_users(&users).await.unwrap();
}

fn entry(id: &str, t: i64, user: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        occurred_at: at(t),
        action: "sign_in".into(),
        user_id: user.map(Into::into),
        target_id: None,
        ip_address: None,
        user_agent: None,
        details: None,
    }
}

async fn rejected_requests_are_pruned_strictly_before(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob", "carol", "dave"]).await;
    // Rejected at 10 and at 11, accepted at 10, pending since 0.
    store.send_friend_request("alice", "bob", "old", at(0)).await.unwrap();
    store.respond_friend_request("old", "bob", false, at(10)).await.unwrap();
    store.send_friend_request("carol", "bob", "newer", at(0)).await.unwrap();
    store.respond_friend_request("newer", "bob", false, at(11)).await.unwrap();
    store.send_friend_request("dave", "bob", "accepted", at(0)).await.unwrap();
    store.respond_friend_request("accepted", "bob", true, at(10)).await.unwrap();
    store.send_friend_request("alice", "carol", "pending", at(0)).await.unwrap();

    assert_eq!(store.prune_rejected_friend_requests(at(10)).await.unwrap(), 0, "updated_at == before is kept");
    assert_eq!(store.prune_rejected_friend_requests(at(11)).await.unwrap(), 1);
    assert_eq!(store.friend_request("old").await.unwrap(), None);
    assert_eq!(store.friend_request("newer").await.unwrap().unwrap().status, RequestStatus::Rejected);

    assert_eq!(store.prune_rejected_friend_requests(at(1_000)).await.unwrap(), 1);
    assert_eq!(store.friend_request("newer").await.unwrap(), None);
    assert_eq!(store.friend_request("accepted").await.unwrap().unwrap().status, RequestStatus::Accepted);
    assert_eq!(store.friend_request("pending").await.unwrap().unwrap().status, RequestStatus::Pending);
    assert!(store.are_friends("dave", "bob").await.unwrap(), "friendships are untouched");
    assert_eq!(store.prune_rejected_friend_requests(at(1_000)).await.unwrap(), 0, "idempotent");
}

async fn audit_is_pruned_strictly_before(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    for (id, t) in [("e1", 9), ("e2", 10), ("e3", 11)] {
        store.append_audit(&entry(id, t, Some("u1"))).await.unwrap();
    }
    assert_eq!(store.prune_audit(at(10)).await.unwrap(), 1, "only the line before 10");
    let left: Vec<String> = store.audit_trail(None, 10).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(left, ["e3", "e2"]);
    assert_eq!(store.prune_audit(at(10)).await.unwrap(), 0, "idempotent");
    assert_eq!(store.prune_audit(at(12)).await.unwrap(), 2);
    assert!(store.audit_trail(None, 10).await.unwrap().is_empty());
}

async fn audit_since_filters_by_time_and_user(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    for (id, t, user) in [("a", 5, Some("u1")), ("b", 10, Some("u1")), ("c", 10, Some("u2")), ("d", 20, None)] {
        store.append_audit(&entry(id, t, user)).await.unwrap();
    }
    let ids = |entries: Vec<AuditEntry>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(store.audit_since(None, at(10), 10).await.unwrap()), ["d", "c", "b"], "since is inclusive");
    assert_eq!(ids(store.audit_since(Some("u1"), at(10), 10).await.unwrap()), ["b"]);
    assert_eq!(ids(store.audit_since(Some("u1"), at(0), 10).await.unwrap()), ["b", "a"]);
    assert_eq!(ids(store.audit_since(None, at(0), 2).await.unwrap()), ["d", "c"], "limit keeps the newest");
    assert!(store.audit_since(Some("nobody"), at(0), 10).await.unwrap().is_empty());
    assert!(store.audit_since(None, at(21), 10).await.unwrap().is_empty());
    let whole = store.audit_since(None, at(20), 1).await.unwrap();
    assert_eq!(whole, vec![entry("d", 20, None)], "the line comes back whole");
}

async fn optimize_runs(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    let ran = store.optimize().await.unwrap();
    assert_eq!(ran, if pg { "ANALYZE" } else { "PRAGMA optimize" });
    assert_eq!(store.optimize().await.unwrap(), ran, "repeatable");
    assert!(store.user_by_id("alice").await.unwrap().is_some(), "data untouched");
}

async fn lease_is_exclusive_until_it_expires(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    assert!(store.try_lease("job", "a", at(100), at(0)).await.unwrap(), "a free lease is taken");
    assert!(!store.try_lease("job", "b", at(200), at(50)).await.unwrap(), "held by a");
    assert!(!store.try_lease("job", "b", at(200), at(99)).await.unwrap(), "still held a millisecond before");
    assert!(store.try_lease("job", "a", at(150), at(99)).await.unwrap(), "the holder may extend it");
    assert!(!store.try_lease("job", "b", at(200), at(100)).await.unwrap(), "the extension holds");
    assert!(store.try_lease("other", "b", at(200), at(100)).await.unwrap(), "leases are per job");
    assert!(store.try_lease("job", "b", at(300), at(150)).await.unwrap(), "expired at leased_until");
    assert!(!store.try_lease("job", "a", at(400), at(200)).await.unwrap(), "now b's");
    assert!(!store.finish_lease("job", "a", at(200)).await.unwrap(), "a cannot release b's lease");
    assert_eq!(store.last_run("job").await.unwrap(), None, "taking a lease is not a run");
}

async fn finish_records_the_last_run_and_frees_the_lease(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    assert_eq!(store.last_run("job").await.unwrap(), None, "unknown job");
    assert!(store.try_lease("job", "a", at(1_000), at(0)).await.unwrap());
    assert!(store.finish_lease("job", "a", at(10)).await.unwrap());
    assert_eq!(store.last_run("job").await.unwrap(), Some(at(10)));
    assert!(store.try_lease("job", "b", at(1_000), at(10)).await.unwrap(), "released at once, not at 1000");
    assert_eq!(store.last_run("job").await.unwrap(), Some(at(10)), "a new lease keeps the last run");
    assert!(store.finish_lease("job", "b", at(20)).await.unwrap());
    assert_eq!(store.last_run("job").await.unwrap(), Some(at(20)));
    assert_eq!(store.last_run("other").await.unwrap(), None);
}

async fn racing_holders_have_one_winner(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    const HOLDERS: usize = 16;
    for round in 0..3_i64 {
        // Round 0 races on a missing row (insert), later rounds on an expired one (update).
        let now = at(round * 1_000);
        let barrier = Arc::new(Barrier::new(HOLDERS));
        let tasks: Vec<_> = (0..HOLDERS)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .try_lease("race", &format!("node-{i}"), now.plus(chrono::Duration::milliseconds(500)), now)
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn backup_is_a_consistent_copy(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice"]).await;
    if pg {
        let dest = std::env::temp_dir().join(format!("mapquiz-never-{}.db", mapquiz_domain::new_id()));
        assert!(matches!(store.backup_to(&dest).await, Err(StoreError::Config(m)) if m.contains("pg_dump")));
        assert!(!dest.exists());
        return;
    }
    // Beside the test database, in its own temp folder.
    let dir = db.database_url().sqlite_path().unwrap().parent().unwrap().to_owned();
    let dest = dir.join("copy.db");
    // Written with the store open and a write not yet checkpointed (it sits in the WAL).
    store.append_audit(&entry("e1", 1, Some("alice"))).await.unwrap();
    store.backup_to(&dest).await.unwrap();
    assert!(store.backup_to(&dest).await.is_err(), "an existing file is never overwritten");
    assert_eq!(mapquiz_store::check_sqlite_file(&dest).await.unwrap(), mapquiz_store::newest_sqlite_migration());

    let copy = mapquiz_store::connect(&ConnectOptions::new(DatabaseUrl::Sqlite(dest.clone()))).await.unwrap();
    assert!(copy.user_by_id("alice").await.unwrap().is_some());
    assert_eq!(copy.audit_trail(None, 10).await.unwrap().len(), 1, "the WAL's content is in the copy");
    assert!(copy.migration_status().await.unwrap().iter().all(|m| m.applied));
    copy.close().await;

    // A second copy, from the file (the restore path), and files that are not MapQuiz databases.
    let again = dir.join("again.db");
    mapquiz_store::copy_sqlite_file(&dest, &again).await.unwrap();
    assert_eq!(mapquiz_store::check_sqlite_file(&again).await.unwrap(), mapquiz_store::newest_sqlite_migration());
    let text = dir.join("text.db");
    std::fs::write(&text, "not a database at all, just some text long enough to fill a header").unwrap();
    assert!(matches!(mapquiz_store::check_sqlite_file(&text).await, Err(StoreError::Config(_))));
    let missing = dir.join("missing.db");
    assert!(matches!(mapquiz_store::check_sqlite_file(&missing).await, Err(StoreError::Config(_))));
    assert!(!missing.exists(), "checking never creates");
    let plain = dir.join("plain.db");
    let other = mapquiz_store::connect(&ConnectOptions::new(DatabaseUrl::Sqlite(plain.clone()))).await.unwrap();
    other.close().await;
    let err = mapquiz_store::check_sqlite_file(&plain).await.unwrap_err();
    assert!(err.to_string().contains("migrations table"), "{err}");
}
