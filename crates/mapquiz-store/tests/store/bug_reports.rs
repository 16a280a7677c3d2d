//! Bug reports (protocol §1.8): stored first, then claimed, delivered or retried, identically on both
//! backends; two workers claiming at once never get the same report.

use crate::{at, migrated, on_both_backends};
use mapquiz_domain::Timestamp;
use mapquiz_store::{
    BugReport, BugReportCounts, DeliveryStatus, DynStore, MAX_DELIVERY_ERROR_CHARS, NewBugReport, NewUser,
};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Barrier;

on_both_backends!(
    a_stored_report_reads_back_whole,
    claim_takes_due_reports_oldest_first_and_leases_them,
    delivery_is_recorded_once,
    failure_schedules_a_retry_or_abandons,
    counts_follow_the_states,
    concurrent_claims_never_share_a_report,
    a_deleted_reporter_leaves_the_report,
    a_stale_worker_cannot_reschedule_another_s_attempt,
);

fn report(id: &str, created_at: Timestamp) -> NewBugReport {
    NewBugReport {
        id: id.into(),
        reporter_id: None,
        title: format!("Bug {id}"),
        description: "La carte ne s'affiche pas.".into(),
        steps_to_reproduce: None,
        location: None,
        environment: json!({}),
        user_agent: None,
        url: None,
        created_at,
    }
}

async fn get(store: &DynStore, id: &str) -> BugReport {
    store.bug_report(id).await.unwrap().unwrap()
}

fn ids(reports: &[BugReport]) -> Vec<&str> {
    reports.iter().map(|r| r.id.as_str()).collect()
}

async fn a_stored_report_reads_back_whole(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    store
        .insert_users(&[NewUser {
            id: "alice".into(),
            name: "Alice".into(),
            email: "alice@example.com".into(),
            email_verified: true,
            image: None,
            tag: "AAAAAAAA".into(),
            created_at: at(0),
        }])
        .await
        .unwrap();
    let new = NewBugReport {
        reporter_id: Some("alice".into()),
        steps_to_reproduce: Some("1. Ouvrir\n2. Jouer".into()),
        location: Some("Europe".into()),
        environment: json!({"browser": "Firefox", "screenResolution": "1920x1080"}),
        user_agent: Some("Mozilla/5.0".into()),
        url: Some("https://mapquiz.example/jeu?x=1".into()),
        ..report("r1", at(5))
    };
    store.insert_bug_report(&new).await.unwrap();
    let stored = get(&store, "r1").await;
    assert_eq!(
        stored,
        BugReport {
            id: "r1".into(),
            reporter_id: Some("alice".into()),
            title: "Bug r1".into(),
            description: new.description.clone(),
            steps_to_reproduce: new.steps_to_reproduce.clone(),
            location: Some("Europe".into()),
            environment: new.environment.clone(),
            user_agent: Some("Mozilla/5.0".into()),
            url: new.url.clone(),
            delivery_status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            issue_number: None,
            issue_url: None,
            created_at: at(5),
            updated_at: at(5),
        }
    );
    assert_eq!(store.bug_report("nope").await.unwrap(), None);
    assert!(store.insert_bug_report(&report("r1", at(6))).await.is_err(), "ids are unique");
}

async fn claim_takes_due_reports_oldest_first_and_leases_them(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    for (id, t) in [("b", 20), ("a", 10), ("c", 30), ("later", 40)] {
        store.insert_bug_report(&report(id, at(t))).await.unwrap();
    }
    // "later" failed once and waits until at(1_000).
    let claimed = store.claim_bug_reports(at(50), at(60), 10).await.unwrap();
    assert_eq!(ids(&claimed), ["a", "b", "c", "later"]);
    assert!(store.bug_report_failed("later", None, "HTTP 500", Some(at(1_000)), at(51)).await.unwrap());
    for id in ["a", "b", "c"] {
        assert!(store.bug_report_failed(id, None, "HTTP 502", Some(at(100)), at(51)).await.unwrap());
    }

    let claimed = store.claim_bug_reports(at(100), at(400), 2).await.unwrap();
    assert_eq!(ids(&claimed), ["a", "b"], "due, oldest first, at most the limit");
    assert_eq!(claimed[0].next_attempt_at, Some(at(400)), "leased");
    assert_eq!(claimed[0].attempts, 1, "a claim is not an attempt");
    assert_eq!(ids(&store.claim_bug_reports(at(100), at(400), 10).await.unwrap()), ["c"], "leased ones are skipped");
    assert!(store.claim_bug_reports(at(399), at(700), 10).await.unwrap().is_empty(), "nothing due");
    // A worker that never came back: the lease ends and the reports are due again.
    assert_eq!(ids(&store.claim_bug_reports(at(400), at(700), 10).await.unwrap()), ["a", "b", "c"]);
    assert!(store.claim_bug_reports(at(699), at(800), 10).await.unwrap().is_empty(), "leased again");
    // "later" is due at its retry time; the others' second lease has ended by then too.
    assert_eq!(ids(&store.claim_bug_reports(at(1_000), at(1_300), 10).await.unwrap()), ["a", "b", "c", "later"]);
}

async fn delivery_is_recorded_once(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    store.insert_bug_report(&report("r1", at(0))).await.unwrap();
    store.claim_bug_reports(at(1), at(100), 10).await.unwrap();
    assert!(store.bug_report_failed("r1", None, "HTTP 500", Some(at(2)), at(1)).await.unwrap());
    store.claim_bug_reports(at(2), at(100), 10).await.unwrap();
    let url = "https://github.com/o/r/issues/42";
    assert!(store.bug_report_delivered("r1", 42, url, at(3)).await.unwrap());
    let r = get(&store, "r1").await;
    assert_eq!(r.delivery_status, DeliveryStatus::Delivered);
    assert_eq!((r.issue_number, r.issue_url.as_deref()), (Some(42), Some(url)));
    assert_eq!((r.attempts, r.next_attempt_at, r.last_error), (2, None, None));
    assert_eq!(r.updated_at, at(3));
    assert!(!store.bug_report_delivered("r1", 43, url, at(4)).await.unwrap(), "already delivered");
    assert!(
        !store.bug_report_failed("r1", None, "late", Some(at(9)), at(4)).await.unwrap(),
        "a delivered report stays so"
    );
    assert_eq!(get(&store, "r1").await.issue_number, Some(42));
    assert!(store.claim_bug_reports(at(1_000), at(2_000), 10).await.unwrap().is_empty());
    assert!(!store.bug_report_delivered("nope", 1, url, at(4)).await.unwrap());
}

async fn failure_schedules_a_retry_or_abandons(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    store.insert_bug_report(&report("r1", at(0))).await.unwrap();
    let long = "é".repeat(MAX_DELIVERY_ERROR_CHARS + 50);
    assert!(store.bug_report_failed("r1", None, &long, Some(at(60_000)), at(1)).await.unwrap());
    let r = get(&store, "r1").await;
    assert_eq!((r.delivery_status, r.attempts, r.next_attempt_at), (DeliveryStatus::Pending, 1, Some(at(60_000))));
    assert_eq!(r.last_error.unwrap().chars().count(), MAX_DELIVERY_ERROR_CHARS, "the error is cut");
    assert!(store.bug_report_failed("r1", None, "HTTP 503", None, at(2)).await.unwrap());
    let r = get(&store, "r1").await;
    assert_eq!((r.delivery_status, r.attempts, r.next_attempt_at), (DeliveryStatus::Abandoned, 2, None));
    assert_eq!(r.last_error.as_deref(), Some("HTTP 503"));
    assert!(store.claim_bug_reports(at(i64::from(u32::MAX)), at(i64::from(u32::MAX)), 10).await.unwrap().is_empty());
}

async fn counts_follow_the_states(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    assert_eq!(store.bug_report_counts().await.unwrap(), BugReportCounts::default());
    for id in ["a", "b", "c", "d"] {
        store.insert_bug_report(&report(id, at(0))).await.unwrap();
    }
    store.bug_report_delivered("a", 1, "https://x/1", at(1)).await.unwrap();
    store.bug_report_failed("b", None, "x", None, at(1)).await.unwrap();
    store.bug_report_failed("c", None, "x", Some(at(5)), at(1)).await.unwrap();
    assert_eq!(store.bug_report_counts().await.unwrap(), BugReportCounts { pending: 2, delivered: 1, abandoned: 1 });
}

async fn concurrent_claims_never_share_a_report(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    let n = 40;
    for i in 0..n {
        store.insert_bug_report(&report(&format!("r{i:02}"), at(i))).await.unwrap();
    }
    // Eight workers (as on several nodes) claim small batches at the same instant until nothing is left.
    let barrier = Arc::new(Barrier::new(8));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_bug_reports(at(1_000), at(100_000), 3).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|r| r.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), n as usize, "every report claimed exactly once: {all:?}");
    assert_eq!(distinct.len(), n as usize);
}

async fn a_deleted_reporter_leaves_the_report(pg: bool) {
    let Some((db, store)) = migrated(pg).await else { return };
    store
        .insert_users(&[NewUser {
            id: "bob".into(),
            name: "Bob".into(),
            email: "bob@example.com".into(),
            email_verified: false,
            image: None,
            tag: "BBBBBBBB".into(),
            created_at: at(0),
        }])
        .await
        .unwrap();
    store.insert_bug_report(&NewBugReport { reporter_id: Some("bob".into()), ..report("r1", at(1)) }).await.unwrap();
    let mut raw = crate::Raw::open(&db, pg).await;
    raw.exec("DELETE FROM users WHERE id = 'bob'").await.unwrap();
    let r = get(&store, "r1").await;
    assert_eq!((r.reporter_id, r.delivery_status), (None, DeliveryStatus::Pending), "the report is never lost");
}

async fn a_stale_worker_cannot_reschedule_another_s_attempt(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else { return };
    store.insert_bug_report(&report("r1", at(0))).await.unwrap();
    // Worker A claims until 100 and stalls; its lease ends and worker B claims until 300.
    let a = store.claim_bug_reports(at(1), at(100), 10).await.unwrap();
    assert_eq!(a[0].next_attempt_at, Some(at(100)));
    let b = store.claim_bug_reports(at(150), at(300), 10).await.unwrap();
    assert_eq!(b[0].next_attempt_at, Some(at(300)));
    assert!(
        !store.bug_report_failed("r1", Some(at(100)), "late", Some(at(160)), at(160)).await.unwrap(),
        "A's late failure is refused"
    );
    assert_eq!(get(&store, "r1").await.next_attempt_at, Some(at(300)), "B's lease stands");
    assert_eq!(get(&store, "r1").await.attempts, 0);
    assert!(store.bug_report_failed("r1", Some(at(300)), "HTTP 500", Some(at(400)), at(200)).await.unwrap());
    assert_eq!(get(&store, "r1").await.next_attempt_at, Some(at(400)));
}
