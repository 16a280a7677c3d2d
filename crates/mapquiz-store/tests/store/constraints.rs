//! The schema enforces what must be unique, and the store names the constraint that refused a write.

use crate::{Raw, fresh, on_both_backends};
use mapquiz_store::StoreError;

on_both_backends!(
    unique_constraints_are_named,
    friend_requests_allow_one_pending_per_pair,
    lobby_deletion_keeps_results
);

const USERS: &str = "
INSERT INTO users (id, name, name_key, email, tag, created_at, updated_at)
VALUES ('u1', 'Alice', 'alice', 'alice@example.com', 'AAAAAAAA', {now}, {now}),
       ('u2', 'Bob', 'bob', 'bob@example.com', 'BBBBBBBB', {now}, {now}),
       ('u3', 'Chloé', 'chloé', 'chloe@example.com', NULL, {now}, {now});";

fn conflict(r: Result<(), StoreError>) -> &'static str {
    match r {
        Err(StoreError::Conflict(name)) => name,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn unique_constraints_are_named(pg: bool) {
    let Some((db, store)) = fresh(pg).await else {
        return;
    };
    store.migrate_up().await.unwrap();
    let mut raw = Raw::open(&db, pg).await;
    raw.exec(USERS).await.unwrap();

    let dup_email = "INSERT INTO users (id, name, name_key, email, created_at, updated_at)
                     VALUES ('u4', 'A', 'a', 'alice@example.com', {now}, {now})";
    assert_eq!(conflict(raw.exec(dup_email).await), "users_email_key");
    let dup_tag = "INSERT INTO users (id, name, name_key, email, tag, created_at, updated_at)
                   VALUES ('u4', 'A', 'a', 'a4@example.com', 'AAAAAAAA', {now}, {now})";
    assert_eq!(conflict(raw.exec(dup_tag).await), "users_tag_key");
    let dup_id = "INSERT INTO users (id, name, name_key, email, created_at, updated_at)
                  VALUES ('u1', 'A', 'a', 'a5@example.com', {now}, {now})";
    assert_eq!(conflict(raw.exec(dup_id).await), "users_pkey");
    // Users without a tag (imported from before tags existed) may be many.
    raw.exec(
        "INSERT INTO users (id, name, name_key, email, created_at, updated_at)
              VALUES ('u6', 'F', 'f', 'f@example.com', {now}, {now})",
    )
    .await
    .unwrap();

    let account = "INSERT INTO accounts (id, user_id, provider_id, account_id, created_at, updated_at)
                   VALUES ('{id}', 'u1', 'google', 'sub-1', {now}, {now})";
    raw.exec(&account.replace("{id}", "a1")).await.unwrap();
    assert_eq!(conflict(raw.exec(&account.replace("{id}", "a2")).await), "accounts_provider_account_key");

    let session = "INSERT INTO sessions (id, token_hash, user_id, expires_at, created_at, updated_at)
                   VALUES ('{id}', 'hash', 'u1', {now}, {now}, {now})";
    raw.exec(&session.replace("{id}", "s1")).await.unwrap();
    assert_eq!(conflict(raw.exec(&session.replace("{id}", "s2")).await), "sessions_token_hash_key");

    let friendship = "INSERT INTO friendships (user_id, friend_id, created_at) VALUES ('u1', 'u2', {now})";
    raw.exec(friendship).await.unwrap();
    assert_eq!(conflict(raw.exec(friendship).await), "friendships_pkey");

    raw.exec(
        "INSERT INTO lobbies (id, name, host_id, status, settings, authorized_players, created_at, updated_at)
         VALUES ('l1', 'Lobby', 'u1', 'waiting', '{\"selectedRegions\":[],\"gameMode\":\"quiz\"}', '[\"u1\"]', {now}, {now})",
    )
    .await
    .unwrap();
    let member = "INSERT INTO lobby_players (lobby_id, user_id, status, joined_at, updated_at)
                  VALUES ('l1', 'u2', 'joined', {now}, {now})";
    raw.exec(member).await.unwrap();
    assert_eq!(conflict(raw.exec(member).await), "lobby_players_pkey");
    let invitation = "INSERT INTO lobby_invitations (id, lobby_id, inviter_id, invitee_id, created_at)
                      VALUES ('{id}', 'l1', 'u1', 'u3', {now})";
    raw.exec(&invitation.replace("{id}", "i1")).await.unwrap();
    assert_eq!(conflict(raw.exec(&invitation.replace("{id}", "i2")).await), "lobby_invitations_lobby_invitee_key");

    let orphan = "INSERT INTO sessions (id, token_hash, user_id, expires_at, created_at, updated_at)
                  VALUES ('s9', 'other', 'nobody', {now}, {now}, {now})";
    assert_eq!(conflict(raw.exec(orphan).await), "foreign_key");
    let bad_status = "INSERT INTO lobby_players (lobby_id, user_id, status, joined_at, updated_at)
                      VALUES ('l1', 'u3', 'dancing', {now}, {now})";
    assert_eq!(conflict(raw.exec(bad_status).await), "check");
}

async fn friend_requests_allow_one_pending_per_pair(pg: bool) {
    let Some((db, store)) = fresh(pg).await else {
        return;
    };
    store.migrate_up().await.unwrap();
    let mut raw = Raw::open(&db, pg).await;
    raw.exec(USERS).await.unwrap();
    let request = |id: &str, from: &str, to: &str, status: &str| {
        format!(
            "INSERT INTO friend_requests (id, sender_id, receiver_id, status, created_at, updated_at)
             VALUES ('{id}', '{from}', '{to}', '{status}', {{now}}, {{now}})"
        )
    };
    raw.exec(&request("r1", "u1", "u2", "pending")).await.unwrap();
    assert_eq!(conflict(raw.exec(&request("r2", "u1", "u2", "rejected")).await), "friend_requests_pair_key");
    assert_eq!(
        conflict(raw.exec(&request("r3", "u2", "u1", "pending")).await),
        "friend_requests_pending_pair_key",
        "the reverse pending request cannot coexist"
    );
    raw.exec(&request("r4", "u2", "u1", "rejected")).await.unwrap();
    assert_eq!(conflict(raw.exec(&request("r5", "u1", "u1", "pending")).await), "check");
}

async fn lobby_deletion_keeps_results(pg: bool) {
    let Some((db, store)) = fresh(pg).await else {
        return;
    };
    store.migrate_up().await.unwrap();
    let mut raw = Raw::open(&db, pg).await;
    raw.exec(USERS).await.unwrap();
    raw.exec(
        "INSERT INTO lobbies (id, name, host_id, status, settings, authorized_players, created_at, updated_at)
         VALUES ('l1', 'Lobby', 'u1', 'finished', '{\"selectedRegions\":[\"Océanie\"],\"gameMode\":\"quiz\"}', '[\"u1\"]', {now}, {now});
         INSERT INTO lobby_players (lobby_id, user_id, status, joined_at, updated_at) VALUES ('l1', 'u1', 'finished', {now}, {now});
         INSERT INTO lobby_invitations (id, lobby_id, inviter_id, invitee_id, created_at) VALUES ('i1', 'l1', 'u1', 'u2', {now});
         INSERT INTO game_results (id, lobby_id, game_started_at, user_id, score, total_questions, position, created_at)
         VALUES ('g1', 'l1', {now}, 'u1', 7, 7, 1, {now});",
    )
    .await
    .unwrap();
    raw.exec("DELETE FROM lobbies WHERE id = 'l1'").await.unwrap();
    assert_eq!(raw.count("SELECT count(*) FROM lobby_players").await, 0);
    assert_eq!(raw.count("SELECT count(*) FROM lobby_invitations").await, 0);
    assert_eq!(raw.count("SELECT count(*) FROM game_results").await, 1, "results outlive their lobby");
}
