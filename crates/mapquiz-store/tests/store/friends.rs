//! Friend requests, friendships and presence (protocol §4): identical on both backends, races included.

use crate::{Raw, at, migrated, on_both_backends};
use mapquiz_domain::Timestamp;
use mapquiz_store::{
    DynStore, Friend, FriendRequest, NewUser, RequestStatus, RespondOutcome, SendOutcome, StoreError, User,
};
use std::sync::Arc;
use tokio::sync::Barrier;

on_both_backends!(
    send_creates_one_pending_request,
    friends_first_then_pending,
    crossed_request_is_auto_accepted,
    send_replaces_answered_requests,
    respond_checks_in_protocol_order,
    reject_leaves_no_friendship,
    accept_keeps_existing_friendship_rows,
    concurrent_answers_have_one_winner,
    remove_deletes_both_directions,
    friends_newest_first_then_id_with_limit,
    incoming_newest_first_then_id_with_limit,
    unknown_ids_are_not_errors,
    identical_concurrent_sends_leave_one_pending,
    crossed_concurrent_sends_make_one_friendship,
    crowded_crossed_sends_over_old_requests,
    accept_races_a_crossing_send,
    presence_transitions,
    reset_presence_spares_kept_users,
    sweep_presence_turns_off_and_names_the_unheld,
    reset_presence_with_thousands_of_kept_ids,
    mark_online_repairs_only_flags_that_are_off,
);

fn new_user(i: usize, id: &str) -> NewUser {
    NewUser {
        id: id.into(),
        name: format!("Joueur {id}"),
        email: format!("{i}@example.com"),
        email_verified: i.is_multiple_of(2),
        image: i.is_multiple_of(3).then(|| format!("https://img.example/{i}.png")),
        tag: format!("F{i:07}"),
        created_at: at(i as i64),
    }
}

/// Creates one user per id.
async fn people(store: &DynStore, ids: &[&str]) {
    let users: Vec<_> = ids.iter().enumerate().map(|(i, id)| new_user(i, id)).collect();
    store.insert_users(&users).await.unwrap();
}

async fn user(store: &DynStore, id: &str) -> User {
    store.user_by_id(id).await.unwrap().unwrap()
}

async fn send(store: &DynStore, from: &str, to: &str, id: &str, now: Timestamp) -> SendOutcome {
    store.send_friend_request(from, to, id, now).await.unwrap()
}

fn sent(id: &str) -> SendOutcome {
    SendOutcome::Sent { request_id: id.into() }
}

async fn request(store: &DynStore, id: &str) -> FriendRequest {
    store.friend_request(id).await.unwrap().unwrap()
}

/// Counts rows of the pair `a`, `b` in `table` matching `filter` (an SQL condition, same on both backends).
async fn pair_rows(raw: &mut Raw, table: &str, a: &str, b: &str, filter: &str) -> i64 {
    let (left, right) = if table == "friendships" { ("user_id", "friend_id") } else { ("sender_id", "receiver_id") };
    raw.count(&format!(
        "SELECT count(*) FROM {table} \
          WHERE (({left} = '{a}' AND {right} = '{b}') OR ({left} = '{b}' AND {right} = '{a}')) AND {filter}"
    ))
    .await
}

fn ids(friends: &[Friend]) -> Vec<&str> {
    friends.iter().map(|f| f.user.id.as_str()).collect()
}

async fn send_creates_one_pending_request(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    assert_eq!(send(&store, "alice", "bob", "r1", at(10)).await, sent("r1"));
    let expected = FriendRequest {
        id: "r1".into(),
        sender_id: "alice".into(),
        receiver_id: "bob".into(),
        status: RequestStatus::Pending,
        created_at: at(10),
        updated_at: at(10),
    };
    assert_eq!(request(&store, "r1").await, expected);

    let incoming = store.incoming_friend_requests("bob", 10).await.unwrap();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].request, expected);
    assert_eq!(incoming[0].sender, user(&store, "alice").await, "the sender comes whole");
    assert!(store.incoming_friend_requests("alice", 10).await.unwrap().is_empty(), "outgoing is not incoming");

    assert_eq!(send(&store, "alice", "bob", "r2", at(20)).await, SendOutcome::AlreadyPending);
    assert_eq!(store.friend_request("r2").await.unwrap(), None, "nothing written");
    assert_eq!(request(&store, "r1").await, expected, "the pending request is untouched");
    assert!(!store.are_friends("alice", "bob").await.unwrap());
}

async fn friends_first_then_pending(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob", "carol"]).await;
    store.add_friendship("alice", "bob", at(0)).await.unwrap();
    assert_eq!(send(&store, "alice", "bob", "r1", at(1)).await, SendOutcome::AlreadyFriends);
    assert_eq!(send(&store, "bob", "alice", "r2", at(1)).await, SendOutcome::AlreadyFriends);
    assert_eq!(store.friend_request("r1").await.unwrap(), None);
    assert_eq!(store.friend_request("r2").await.unwrap(), None);

    // Rule 4 is checked before rule 5: a friendship written beside a pending request (demo data) wins.
    assert_eq!(send(&store, "alice", "carol", "r3", at(2)).await, sent("r3"));
    store.add_friendship("carol", "alice", at(3)).await.unwrap();
    assert_eq!(send(&store, "alice", "carol", "r4", at(4)).await, SendOutcome::AlreadyFriends);
    assert_eq!(send(&store, "carol", "alice", "r5", at(4)).await, SendOutcome::AlreadyFriends, "before rule 6 too");
    assert_eq!(request(&store, "r3").await.status, RequestStatus::Pending, "nothing written");
}

async fn crossed_request_is_auto_accepted(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    assert_eq!(send(&store, "alice", "bob", "r1", at(10)).await, sent("r1"));
    assert_eq!(send(&store, "bob", "alice", "r2", at(20)).await, SendOutcome::AutoAccepted { request_id: "r1".into() });
    let accepted = request(&store, "r1").await;
    assert_eq!(accepted.status, RequestStatus::Accepted);
    assert_eq!((accepted.created_at, accepted.updated_at), (at(10), at(20)));
    assert_eq!(store.friend_request("r2").await.unwrap(), None, "the new id is not used");

    assert!(store.are_friends("alice", "bob").await.unwrap());
    assert!(store.are_friends("bob", "alice").await.unwrap());
    let of_alice = store.friends("alice", 10).await.unwrap();
    assert_eq!(of_alice, vec![Friend { user: user(&store, "bob").await, since: at(20) }]);
    assert_eq!(store.friend_ids("bob").await.unwrap(), vec!["alice".to_owned()]);
    assert!(store.incoming_friend_requests("alice", 10).await.unwrap().is_empty());
    assert!(store.incoming_friend_requests("bob", 10).await.unwrap().is_empty());

    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(pair_rows(&mut raw, "friendships", "alice", "bob", "1 = 1").await, 2);
    assert_eq!(send(&store, "alice", "bob", "r3", at(30)).await, SendOutcome::AlreadyFriends);
    assert_eq!(send(&store, "bob", "alice", "r4", at(30)).await, SendOutcome::AlreadyFriends);
}

async fn send_replaces_answered_requests(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    let mut raw = Raw::open(&db, pg).await;

    // Rejected, same direction: no cool-down, the new request replaces the old one.
    send(&store, "alice", "bob", "r1", at(1)).await;
    assert_eq!(
        store.respond_friend_request("r1", "bob", false, at(2)).await.unwrap(),
        RespondOutcome::Rejected { sender_id: "alice".into() }
    );
    assert_eq!(send(&store, "alice", "bob", "r2", at(3)).await, sent("r2"));
    assert_eq!(store.friend_request("r1").await.unwrap(), None);
    assert_eq!(request(&store, "r2").await.status, RequestStatus::Pending);

    // Rejected, other direction: replaced too.
    store.respond_friend_request("r2", "bob", false, at(4)).await.unwrap();
    assert_eq!(send(&store, "bob", "alice", "r3", at(5)).await, sent("r3"));
    assert_eq!(store.friend_request("r2").await.unwrap(), None);
    assert_eq!(pair_rows(&mut raw, "friend_requests", "alice", "bob", "1 = 1").await, 1);

    // Accepted, then the friendship removed: a new request is possible, from either side.
    store.respond_friend_request("r3", "alice", true, at(6)).await.unwrap();
    assert!(store.remove_friendship("alice", "bob").await.unwrap());
    assert_eq!(send(&store, "alice", "bob", "r4", at(7)).await, sent("r4"));
    assert_eq!(store.friend_request("r3").await.unwrap(), None);
    let pending = request(&store, "r4").await;
    assert_eq!((pending.status, pending.created_at, pending.updated_at), (RequestStatus::Pending, at(7), at(7)));
    assert_eq!(pair_rows(&mut raw, "friend_requests", "alice", "bob", "1 = 1").await, 1);

    // Both directions answered at once (an old accepted one and a rejected one): both make room.
    store.respond_friend_request("r4", "bob", false, at(8)).await.unwrap();
    raw.exec(
        "INSERT INTO friend_requests (id, sender_id, receiver_id, status, created_at, updated_at) \
         VALUES ('old', 'bob', 'alice', 'accepted', {now}, {now})",
    )
    .await
    .unwrap();
    assert_eq!(pair_rows(&mut raw, "friend_requests", "alice", "bob", "1 = 1").await, 2);
    assert_eq!(send(&store, "alice", "bob", "r5", at(9)).await, sent("r5"));
    assert_eq!(pair_rows(&mut raw, "friend_requests", "alice", "bob", "1 = 1").await, 1);
    assert_eq!(store.incoming_friend_requests("bob", 10).await.unwrap()[0].request.id, "r5");
}

async fn respond_checks_in_protocol_order(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob", "carol"]).await;
    send(&store, "alice", "bob", "r1", at(1)).await;

    assert_eq!(store.respond_friend_request("nope", "bob", true, at(2)).await.unwrap(), RespondOutcome::NotFound);
    assert_eq!(store.respond_friend_request("r1", "alice", true, at(2)).await.unwrap(), RespondOutcome::Forbidden);
    assert_eq!(store.respond_friend_request("r1", "carol", false, at(2)).await.unwrap(), RespondOutcome::Forbidden);
    assert_eq!(request(&store, "r1").await.status, RequestStatus::Pending, "refused answers change nothing");
    assert!(!store.are_friends("alice", "carol").await.unwrap());

    assert_eq!(
        store.respond_friend_request("r1", "bob", true, at(3)).await.unwrap(),
        RespondOutcome::Accepted { sender_id: "alice".into() }
    );
    let accepted = request(&store, "r1").await;
    assert_eq!((accepted.status, accepted.created_at, accepted.updated_at), (RequestStatus::Accepted, at(1), at(3)));
    assert!(store.are_friends("alice", "bob").await.unwrap());
    assert!(store.are_friends("bob", "alice").await.unwrap());
    assert_eq!(store.friends("bob", 10).await.unwrap()[0].since, at(3));

    assert_eq!(
        store.respond_friend_request("r1", "bob", false, at(4)).await.unwrap(),
        RespondOutcome::AlreadyProcessed
    );
    assert_eq!(store.respond_friend_request("r1", "bob", true, at(4)).await.unwrap(), RespondOutcome::AlreadyProcessed);
    // The caller check comes before the status check.
    assert_eq!(store.respond_friend_request("r1", "carol", true, at(4)).await.unwrap(), RespondOutcome::Forbidden);
    assert_eq!(request(&store, "r1").await, accepted, "late answers change nothing");
}

async fn reject_leaves_no_friendship(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    send(&store, "alice", "bob", "r1", at(1)).await;
    assert_eq!(
        store.respond_friend_request("r1", "bob", false, at(5)).await.unwrap(),
        RespondOutcome::Rejected { sender_id: "alice".into() }
    );
    let rejected = request(&store, "r1").await;
    assert_eq!((rejected.status, rejected.updated_at), (RequestStatus::Rejected, at(5)));
    assert!(!store.are_friends("alice", "bob").await.unwrap());
    assert!(store.incoming_friend_requests("bob", 10).await.unwrap().is_empty(), "only pending requests are listed");
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(pair_rows(&mut raw, "friendships", "alice", "bob", "1 = 1").await, 0);
    assert_eq!(store.respond_friend_request("r1", "bob", true, at(6)).await.unwrap(), RespondOutcome::AlreadyProcessed);
    assert!(!store.are_friends("alice", "bob").await.unwrap(), "a rejected request cannot be accepted later");
}

async fn accept_keeps_existing_friendship_rows(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    send(&store, "alice", "bob", "r1", at(1)).await;
    // One direction already there (demo data): accepting adds the other and keeps the existing row.
    store.add_friendship("alice", "bob", at(2)).await.unwrap();
    let mut raw = Raw::open(&db, pg).await;
    raw.exec("DELETE FROM friendships WHERE user_id = 'bob'").await.unwrap();
    assert_eq!(
        store.respond_friend_request("r1", "bob", true, at(3)).await.unwrap(),
        RespondOutcome::Accepted { sender_id: "alice".into() }
    );
    assert_eq!(pair_rows(&mut raw, "friendships", "alice", "bob", "1 = 1").await, 2);
    assert_eq!(store.friends("alice", 10).await.unwrap()[0].since, at(2), "the existing row is kept");
    assert_eq!(store.friends("bob", 10).await.unwrap()[0].since, at(3));
}

async fn concurrent_answers_have_one_winner(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    let mut raw = Raw::open(&db, pg).await;
    for round in 0..5 {
        let id = format!("r{round}");
        store.remove_friendship("alice", "bob").await.unwrap();
        assert_eq!(send(&store, "alice", "bob", &id, at(round)).await, sent(&id));
        // Accepts only in even rounds, a mix of accepts and rejects in odd ones.
        let barrier = Arc::new(Barrier::new(16));
        let answers: Vec<_> = (0..16)
            .map(|i| {
                let (store, id, barrier) = (store.clone(), id.clone(), barrier.clone());
                let accept = round % 2 == 0 || i % 2 == 0;
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.respond_friend_request(&id, "bob", accept, at(100)).await.unwrap()
                })
            })
            .collect();
        let mut winners = Vec::new();
        for answer in answers {
            match answer.await.unwrap() {
                RespondOutcome::AlreadyProcessed => {}
                won => winners.push(won),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let status = request(&store, &id).await.status;
        let friends = pair_rows(&mut raw, "friendships", "alice", "bob", "1 = 1").await;
        match &winners[0] {
            RespondOutcome::Accepted { sender_id } if sender_id == "alice" => {
                assert_eq!((status, friends), (RequestStatus::Accepted, 2))
            }
            RespondOutcome::Rejected { sender_id } if sender_id == "alice" => {
                assert_eq!((status, friends), (RequestStatus::Rejected, 0))
            }
            other => panic!("unexpected winner {other:?}"),
        }
    }
}

async fn remove_deletes_both_directions(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob", "carol"]).await;
    store.add_friendship("alice", "bob", at(1)).await.unwrap();
    store.add_friendship("alice", "carol", at(1)).await.unwrap();
    // Either side removes; both rows go.
    assert!(store.remove_friendship("bob", "alice").await.unwrap());
    assert!(!store.are_friends("alice", "bob").await.unwrap());
    assert!(!store.are_friends("bob", "alice").await.unwrap());
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(pair_rows(&mut raw, "friendships", "alice", "bob", "1 = 1").await, 0);
    assert!(!store.remove_friendship("alice", "bob").await.unwrap(), "nothing left to remove");
    assert_eq!(store.friend_ids("alice").await.unwrap(), vec!["carol".to_owned()], "other friendships stay");
    assert!(store.friend_ids("bob").await.unwrap().is_empty());

    // A half-stored friendship (one direction) is still removed, and reported.
    raw.exec("DELETE FROM friendships WHERE user_id = 'carol'").await.unwrap();
    assert!(store.remove_friendship("carol", "alice").await.unwrap());
    assert_eq!(raw.count("SELECT count(*) FROM friendships").await, 0);
}

async fn friends_newest_first_then_id_with_limit(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    // Ids in an order that differs from insertion, with upper case to catch locale-aware sorting.
    people(&store, &["me", "zed", "Bob", "amy", "carl", "dan", "stranger"]).await;
    for (friend, t) in [("zed", 10), ("Bob", 30), ("amy", 30), ("carl", 20), ("dan", 30)] {
        store.add_friendship("me", friend, at(t)).await.unwrap();
    }
    store.add_friendship("stranger", "zed", at(40)).await.unwrap();
    store.set_online("amy", at(50)).await.unwrap();

    let all = store.friends("me", 10).await.unwrap();
    // Newest first; equal times by id, byte-wise ("B" < "a").
    assert_eq!(ids(&all), ["Bob", "amy", "dan", "carl", "zed"]);
    assert_eq!(all.iter().map(|f| f.since).collect::<Vec<_>>(), [at(30), at(30), at(30), at(20), at(10)]);
    for friend in &all {
        assert_eq!(friend.user, user(&store, &friend.user.id).await, "the friend comes whole");
    }
    assert!(all[1].user.is_online && all[1].user.last_seen == Some(at(50)), "presence shows in the list");

    assert_eq!(ids(&store.friends("me", 2).await.unwrap()), ["Bob", "amy"]);
    assert!(store.friends("me", 0).await.unwrap().is_empty());
    assert_eq!(ids(&store.friends("zed", 10).await.unwrap()), ["stranger", "me"]);

    let mut friend_ids = store.friend_ids("me").await.unwrap();
    friend_ids.sort();
    assert_eq!(friend_ids, ["Bob", "amy", "carl", "dan", "zed"]);
}

async fn incoming_newest_first_then_id_with_limit(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["me", "s1", "s2", "s3", "s4", "s5", "s6", "other"]).await;
    for (sender, id, t) in [("s1", "q-d", 10), ("s2", "q-B", 30), ("s3", "q-a", 30), ("s4", "q-c", 20)] {
        assert_eq!(send(&store, sender, "me", id, at(t)).await, sent(id));
    }
    // Not listed: answered requests, requests the user sent, requests to someone else.
    send(&store, "s5", "me", "q-rejected", at(40)).await;
    store.respond_friend_request("q-rejected", "me", false, at(41)).await.unwrap();
    send(&store, "s6", "me", "q-accepted", at(40)).await;
    store.respond_friend_request("q-accepted", "me", true, at(41)).await.unwrap();
    send(&store, "me", "other", "q-out", at(50)).await;
    send(&store, "s1", "other", "q-else", at(50)).await;

    let incoming = store.incoming_friend_requests("me", 10).await.unwrap();
    let summary: Vec<_> = incoming.iter().map(|r| (r.request.id.as_str(), r.sender.id.as_str())).collect();
    // Newest first; equal times by id descending, byte-wise ("a" > "B").
    assert_eq!(summary, [("q-a", "s3"), ("q-B", "s2"), ("q-c", "s4"), ("q-d", "s1")]);
    for r in &incoming {
        assert_eq!(r.sender, user(&store, &r.request.sender_id).await);
        assert_eq!((r.request.receiver_id.as_str(), r.request.status), ("me", RequestStatus::Pending));
    }
    let first_two = store.incoming_friend_requests("me", 2).await.unwrap();
    assert_eq!(first_two.iter().map(|r| r.request.id.as_str()).collect::<Vec<_>>(), ["q-a", "q-B"]);
    assert_eq!(store.incoming_friend_requests("other", 10).await.unwrap().len(), 2);
}

async fn unknown_ids_are_not_errors(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice"]).await;
    // Not an id shape anyone issues: ids are opaque text.
    for id in ["nobody", "", "00000000-0000-0000-0000-000000000000", "'; DROP TABLE users; --"] {
        assert_eq!(store.friend_request(id).await.unwrap(), None);
        assert_eq!(store.respond_friend_request(id, "alice", true, at(0)).await.unwrap(), RespondOutcome::NotFound);
        assert!(store.friends(id, 10).await.unwrap().is_empty());
        assert!(store.friend_ids(id).await.unwrap().is_empty());
        assert!(store.incoming_friend_requests(id, 10).await.unwrap().is_empty());
        assert!(!store.are_friends("alice", id).await.unwrap());
        assert!(!store.remove_friendship("alice", id).await.unwrap());
        assert!(!store.set_online(id, at(0)).await.unwrap());
        assert!(!store.set_offline(id, at(0)).await.unwrap());
    }
    // SendOutcome has no "not found": the caller resolved both users first, so a vanished one is a
    // foreign-key conflict, and nothing is written.
    assert!(matches!(
        store.send_friend_request("alice", "nobody", "r1", at(0)).await,
        Err(StoreError::Conflict("foreign_key"))
    ));
    assert_eq!(store.friend_request("r1").await.unwrap(), None);
    assert!(!user(&store, "alice").await.is_online);
}

async fn identical_concurrent_sends_leave_one_pending(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    let mut raw = Raw::open(&db, pg).await;
    // Round 0 on a fresh pair, round 1 over a rejected request that every call tries to delete.
    for round in 0..2 {
        let barrier = Arc::new(Barrier::new(200));
        let calls: Vec<_> = (0..200)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.send_friend_request("alice", "bob", &format!("r{round}-{i:03}"), at(round)).await.unwrap()
                })
            })
            .collect();
        let mut winners = Vec::new();
        for call in calls {
            match call.await.unwrap() {
                SendOutcome::AlreadyPending => {}
                SendOutcome::Sent { request_id } => winners.push(request_id),
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(pair_rows(&mut raw, "friend_requests", "alice", "bob", "1 = 1").await, 1);
        let pending = request(&store, &winners[0]).await;
        assert_eq!((pending.sender_id.as_str(), pending.status), ("alice", RequestStatus::Pending));
        let rejected = store.respond_friend_request(&winners[0], "bob", false, at(round)).await.unwrap();
        assert_eq!(rejected, RespondOutcome::Rejected { sender_id: "alice".into() });
    }
}

async fn crossed_concurrent_sends_make_one_friendship(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    let names: Vec<String> = (0..40).map(|i| format!("u{i:02}")).collect();
    people(&store, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let mut raw = Raw::open(&db, pg).await;
    for pair in 0..20 {
        let (a, b) = (names[2 * pair].clone(), names[2 * pair + 1].clone());
        let barrier = Arc::new(Barrier::new(2));
        let calls: Vec<_> = [(a.clone(), b.clone()), (b.clone(), a.clone())]
            .into_iter()
            .map(|(from, to)| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.send_friend_request(&from, &to, &format!("{from}-{to}"), at(0)).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.unwrap());
        }
        // The two inserts cannot both stand (one pending request per pair): the loser re-evaluates, finds
        // the winner's request and accepts it. Nobody else writes the pair, so AlreadyFriends cannot occur.
        let sent_id = outcomes.iter().find_map(|o| match o {
            SendOutcome::Sent { request_id } => Some(request_id.clone()),
            _ => None,
        });
        let Some(sent_id) = sent_id else { panic!("pair {pair}: no Sent in {outcomes:?}") };
        assert!(
            outcomes.contains(&SendOutcome::AutoAccepted { request_id: sent_id.clone() }),
            "pair {pair}: {outcomes:?}"
        );
        assert_eq!(pair_rows(&mut raw, "friendships", &a, &b, "1 = 1").await, 2, "pair {pair}");
        assert_eq!(pair_rows(&mut raw, "friend_requests", &a, &b, "status = 'pending'").await, 0, "pair {pair}");
        assert_eq!(pair_rows(&mut raw, "friend_requests", &a, &b, "1 = 1").await, 1, "pair {pair}");
        assert_eq!(request(&store, &sent_id).await.status, RequestStatus::Accepted);
    }
}

async fn crowded_crossed_sends_over_old_requests(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    let names: Vec<String> = (0..10).map(|i| format!("u{i:02}")).collect();
    people(&store, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let mut raw = Raw::open(&db, pg).await;
    for pair in 0..5 {
        let (a, b) = (names[2 * pair].clone(), names[2 * pair + 1].clone());
        // Answered requests in both directions, which every call of rule 7 deletes.
        raw.exec(&format!(
            "INSERT INTO friend_requests (id, sender_id, receiver_id, status, created_at, updated_at) VALUES \
             ('old-{a}', '{a}', '{b}', 'rejected', {{now}}, {{now}}), \
             ('old-{b}', '{b}', '{a}', 'accepted', {{now}}, {{now}})"
        ))
        .await
        .unwrap();
        let barrier = Arc::new(Barrier::new(40));
        let calls: Vec<_> = (0..40)
            .map(|i| {
                let (from, to) = if i % 2 == 0 { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let outcome =
                        store.send_friend_request(&from, &to, &format!("r{pair}-{i:02}"), at(0)).await.unwrap();
                    (from, outcome)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.unwrap());
        }
        // One request wins and the first call from the other side accepts it; every other call saw the
        // pending request from its own side, or the friendship.
        let sent: Vec<_> = outcomes
            .iter()
            .filter_map(|(from, o)| match o {
                SendOutcome::Sent { request_id } => Some((from.clone(), request_id.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "pair {pair}: {outcomes:?}");
        let (winner, request_id) = &sent[0];
        let accepted: Vec<_> = outcomes.iter().filter(|(_, o)| matches!(o, SendOutcome::AutoAccepted { .. })).collect();
        assert_eq!(accepted.len(), 1, "pair {pair}: {outcomes:?}");
        assert_ne!(&accepted[0].0, winner);
        assert_eq!(accepted[0].1, SendOutcome::AutoAccepted { request_id: request_id.clone() });
        for (from, outcome) in &outcomes {
            match outcome {
                SendOutcome::AlreadyPending => assert_eq!(from, winner, "pair {pair}"),
                SendOutcome::AlreadyFriends | SendOutcome::Sent { .. } | SendOutcome::AutoAccepted { .. } => {}
            }
        }
        assert_eq!(pair_rows(&mut raw, "friendships", &a, &b, "1 = 1").await, 2, "pair {pair}");
        assert_eq!(pair_rows(&mut raw, "friend_requests", &a, &b, "1 = 1").await, 1, "pair {pair}: old ones gone");
        assert_eq!(request(&store, request_id).await.status, RequestStatus::Accepted);
    }
}

async fn accept_races_a_crossing_send(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    let names: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    people(&store, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let mut raw = Raw::open(&db, pg).await;
    for pair in 0..10 {
        let (a, b) = (names[2 * pair].clone(), names[2 * pair + 1].clone());
        let id = format!("req-{pair}");
        assert_eq!(send(&store, &a, &b, &id, at(0)).await, sent(&id));
        // The receiver clicks "accept" and adds the sender by tag at the same moment.
        let barrier = Arc::new(Barrier::new(2));
        let respond = {
            let (store, barrier, id, b) = (store.clone(), barrier.clone(), id.clone(), b.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.respond_friend_request(&id, &b, true, at(1)).await.unwrap()
            })
        };
        let crossing = {
            let (store, barrier, a, b) = (store.clone(), barrier.clone(), a.clone(), b.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.send_friend_request(&b, &a, &format!("cross-{pair}"), at(1)).await.unwrap()
            })
        };
        let outcomes = (respond.await.unwrap(), crossing.await.unwrap());
        // Whichever answers the request first makes the friendship; the other sees it answered.
        let expected_either = [
            (RespondOutcome::Accepted { sender_id: a.clone() }, SendOutcome::AlreadyFriends),
            (RespondOutcome::AlreadyProcessed, SendOutcome::AutoAccepted { request_id: id.clone() }),
        ];
        assert!(expected_either.contains(&outcomes), "pair {pair}: {outcomes:?}");
        assert_eq!(pair_rows(&mut raw, "friendships", &a, &b, "1 = 1").await, 2, "pair {pair}");
        assert_eq!(pair_rows(&mut raw, "friend_requests", &a, &b, "1 = 1").await, 1, "pair {pair}");
        assert_eq!(request(&store, &id).await.status, RequestStatus::Accepted);
    }
}

async fn presence_transitions(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    people(&store, &["alice", "bob"]).await;
    let fresh_user = user(&store, "alice").await;
    assert!(!fresh_user.is_online);
    assert_eq!(fresh_user.last_seen, None);

    assert!(!store.set_offline("alice", at(5)).await.unwrap(), "already offline");
    assert_eq!(user(&store, "alice").await.last_seen, None, "a refused transition writes nothing");

    assert!(store.set_online("alice", at(10)).await.unwrap());
    let online = user(&store, "alice").await;
    assert_eq!((online.is_online, online.last_seen), (true, Some(at(10))));
    assert_eq!(online.updated_at, fresh_user.updated_at, "presence is not a profile change");

    assert!(!store.set_online("alice", at(20)).await.unwrap(), "a second socket changes nothing");
    assert_eq!(user(&store, "alice").await.last_seen, Some(at(10)));

    assert!(store.set_offline("alice", at(30)).await.unwrap());
    let offline = user(&store, "alice").await;
    assert_eq!((offline.is_online, offline.last_seen), (false, Some(at(30))));
    assert!(!store.set_offline("alice", at(40)).await.unwrap());
    assert_eq!(user(&store, "alice").await.last_seen, Some(at(30)));

    assert!(!user(&store, "bob").await.is_online, "only the named user changes");
}

async fn reset_presence_spares_kept_users(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    // Ids with quotes, commas and brackets: they reach the database as data, never as SQL or JSON syntax.
    let ids = ["u0", "u'1", "u\"2,\"]", "u3", "u4"];
    people(&store, &ids).await;
    for (i, id) in ids.iter().enumerate().take(4) {
        store.set_online(id, at(i as i64)).await.unwrap();
    }
    let keep = vec!["u'1".to_owned(), "u3".to_owned(), "u4".to_owned(), "not-a-user".to_owned()];
    assert_eq!(store.reset_presence(&keep).await.unwrap(), 2);
    for (i, id) in ids.iter().enumerate() {
        let u = user(&store, id).await;
        let expected_online = matches!(*id, "u'1" | "u3");
        assert_eq!(u.is_online, expected_online, "{id}");
        let expected_seen = (i < 4).then(|| at(i as i64));
        assert_eq!(u.last_seen, expected_seen, "{id}: last_seen is untouched");
    }
    assert_eq!(store.reset_presence(&keep).await.unwrap(), 0, "nothing left to reset");
    assert_eq!(store.reset_presence(&[]).await.unwrap(), 2, "an empty list resets everyone");
    for id in ids {
        assert!(!user(&store, id).await.is_online, "{id}");
    }
    assert!(store.set_online("u0", at(100)).await.unwrap(), "a reset user goes online again");
}

async fn sweep_presence_turns_off_and_names_the_unheld(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    let ids = ["s0", "s'1", "s2", "s3"];
    people(&store, &ids).await;
    for id in &ids[..3] {
        store.set_online(id, at(1)).await.unwrap();
    }
    let keep = vec!["s'1".to_owned(), "s3".to_owned()];
    let mut swept = store.sweep_presence(&keep, at(50)).await.unwrap();
    swept.sort();
    assert_eq!(swept, ["s0", "s2"], "the online users no node holds, and only they");
    for (id, online, seen) in [("s0", false, Some(at(50))), ("s'1", true, Some(at(1))), ("s2", false, Some(at(50)))] {
        let u = user(&store, id).await;
        assert_eq!((u.is_online, u.last_seen), (online, seen), "{id}");
    }
    assert!(!user(&store, "s3").await.is_online, "an offline user stays so");
    assert!(store.sweep_presence(&keep, at(60)).await.unwrap().is_empty(), "nothing left to sweep");
}

async fn reset_presence_with_thousands_of_kept_ids(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    let names: Vec<String> = (0..3000).map(|i| format!("n{i:04}")).collect();
    let users: Vec<_> = names.iter().enumerate().map(|(i, id)| new_user(i, id)).collect();
    store.insert_users(&users).await.unwrap();
    for id in &names[..200] {
        store.set_online(id, at(1)).await.unwrap();
    }
    // Keep every even user, whether online or not, and thousands of ids no one has.
    let mut keep: Vec<String> = names.iter().step_by(2).cloned().collect();
    keep.extend((0..5000).map(|i| format!("ghost-{i}")));
    assert_eq!(store.reset_presence(&keep).await.unwrap(), 100);
    for (i, id) in names[..200].iter().enumerate() {
        assert_eq!(user(&store, id).await.is_online, i % 2 == 0, "{id}");
    }
}

async fn mark_online_repairs_only_flags_that_are_off(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    let ids = ["m0", "m'1", "m2", "m3"];
    people(&store, &ids).await;
    store.set_online("m0", at(1)).await.unwrap();
    let asked = vec!["m0".to_owned(), "m'1".to_owned(), "m2".to_owned(), "ghost".to_owned()];
    let mut changed = store.mark_online(&asked, at(50)).await.unwrap();
    changed.sort();
    assert_eq!(changed, vec!["m'1".to_owned(), "m2".to_owned()], "only users that were offline");
    assert_eq!(user(&store, "m0").await.last_seen, Some(at(1)), "an online user keeps its last_seen");
    assert_eq!(user(&store, "m2").await.last_seen, Some(at(50)));
    assert!(!user(&store, "m3").await.is_online, "users not asked for are untouched");
    assert!(store.mark_online(&asked, at(60)).await.unwrap().is_empty(), "nothing left to repair");
    assert!(store.mark_online(&[], at(60)).await.unwrap().is_empty());
}
