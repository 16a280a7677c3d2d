//! Users, accounts, sessions, verifications, lockout counters, two-factor and audit: what the sign-in
//! features rely on, identical on both backends.

use crate::{Raw, at, migrated, on_both_backends};
use mapquiz_store::testing::TestDatabase;
use mapquiz_store::{
    Account, AuditEntry, DynStore, FailureScope, NewUser, Session, SessionSelector, StoreError, TwoFactor, User,
    UserSearch, name_key,
};
use serde_json::json;

on_both_backends!(
    users_round_trip,
    create_user_conflicts_are_named,
    accounts_link_and_password,
    tags_are_assigned_once,
    profiles_update_and_report_missing_users,
    search_orders_by_name_key_then_id,
    search_filters_by_escaped_prefix_or_tag,
    search_pages_with_a_cursor,
    sessions_round_trip,
    delete_sessions_selects_only_its_rows,
    verifications_are_single_use_and_expire,
    verification_take_is_race_free,
    auth_failures_window_limit_clear_prune,
    two_factor_lifecycle_and_step_replay,
    totp_step_is_race_free,
    backup_codes_compare_and_set,
    audit_trail_order_filter_and_details,
);

fn new_user(id: &str, name: &str, tag: &str) -> NewUser {
    NewUser {
        id: id.into(),
        name: name.into(),
        email: format!("{id}@example.com"),
        email_verified: false,
        image: None,
        tag: tag.into(),
        created_at: at(0),
    }
}

fn credential(user_id: &str, hash: Option<&str>) -> Account {
    Account {
        id: format!("acc-{user_id}"),
        user_id: user_id.into(),
        provider_id: "credential".into(),
        account_id: user_id.into(),
        password_hash: hash.map(Into::into),
        created_at: at(0),
        updated_at: at(0),
    }
}

/// Creates users from `(id, name)` pairs, with distinct tags and credential accounts.
async fn users(store: &DynStore, users: &[(&str, &str)]) {
    for (i, (id, name)) in users.iter().enumerate() {
        let tag = format!("TAG{i:05}");
        store.create_user(&new_user(id, name, &tag), &credential(id, None)).await.unwrap();
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> &'static str {
    match r {
        Err(StoreError::Conflict(name)) => name,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

async fn users_round_trip(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    let new = NewUser {
        id: "u1".into(),
        name: "Émile Zola".into(),
        email: "emile@example.com".into(),
        email_verified: true,
        image: Some("https://example.com/e.png".into()),
        tag: "EMILE001".into(),
        created_at: at(7),
    };
    let account = credential("u1", Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
    let created = store.create_user(&new, &account).await.unwrap();
    let expected = User {
        id: "u1".into(),
        name: "Émile Zola".into(),
        email: "emile@example.com".into(),
        email_verified: true,
        image: Some("https://example.com/e.png".into()),
        tag: Some("EMILE001".into()),
        is_online: false,
        last_seen: None,
        created_at: at(7),
        updated_at: at(7),
    };
    assert_eq!(created, expected);
    assert_eq!(store.user_by_id("u1").await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_email("emile@example.com").await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_tag("EMILE001").await.unwrap(), Some(expected));
    assert_eq!(store.user_by_id("u2").await.unwrap(), None);
    assert_eq!(store.user_by_email("nobody@example.com").await.unwrap(), None);
    assert_eq!(store.user_by_tag("NOBODY00").await.unwrap(), None);

    assert_eq!(store.account("credential", "u1").await.unwrap(), Some(account.clone()));
    assert_eq!(store.account_of_user("u1", "credential").await.unwrap(), Some(account));
    assert_eq!(store.account("google", "u1").await.unwrap(), None);
    assert_eq!(store.account_of_user("u1", "google").await.unwrap(), None);

    // The stored key is Rust's lower-casing, not the database's.
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM users WHERE name_key = 'émile zola'").await, 1);
}

async fn create_user_conflicts_are_named(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice")]).await;

    let mut dup_email = new_user("u2", "Other", "TAGOTHER");
    dup_email.email = "u1@example.com".into();
    assert_eq!(conflict(store.create_user(&dup_email, &credential("u2", None)).await), "users_email_key");

    let dup_tag = new_user("u3", "Other", "TAG00000");
    assert_eq!(conflict(store.create_user(&dup_tag, &credential("u3", None)).await), "users_tag_key");

    // The account insert fails after the user insert: the transaction must take the user back.
    let mut dup_account = credential("u4", None);
    dup_account.account_id = "u1".into();
    let user = new_user("u4", "Other", "TAGFOUR0");
    assert_eq!(conflict(store.create_user(&user, &dup_account).await), "accounts_provider_account_key");
    assert_eq!(store.user_by_id("u4").await.unwrap(), None);
    assert_eq!(store.user_by_tag("TAGFOUR0").await.unwrap(), None);

    for id in ["u2", "u3"] {
        assert_eq!(store.user_by_id(id).await.unwrap(), None);
    }
    // Nothing was left half-done: the same user now goes in.
    store.create_user(&user, &credential("u4", None)).await.unwrap();
}

async fn accounts_link_and_password(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice"), ("u2", "Bob")]).await;
    let google = Account {
        id: "g1".into(),
        user_id: "u1".into(),
        provider_id: "google".into(),
        account_id: "google-sub-1".into(),
        password_hash: None,
        created_at: at(5),
        updated_at: at(6),
    };
    store.link_account(&google).await.unwrap();
    assert_eq!(store.account("google", "google-sub-1").await.unwrap(), Some(google.clone()));
    assert_eq!(store.account_of_user("u1", "google").await.unwrap(), Some(google.clone()));
    let mut again = google.clone();
    again.id = "g2".into();
    again.user_id = "u2".into();
    assert_eq!(conflict(store.link_account(&again).await), "accounts_provider_account_key");

    store.set_password_hash("u1", "new-hash", at(9)).await.unwrap();
    let cred = store.account_of_user("u1", "credential").await.unwrap().unwrap();
    assert_eq!(cred.password_hash.as_deref(), Some("new-hash"));
    assert_eq!((cred.created_at, cred.updated_at), (at(0), at(9)));
    assert_eq!(store.account_of_user("u1", "google").await.unwrap(), Some(google));
    assert_eq!(store.account_of_user("u2", "credential").await.unwrap().unwrap().password_hash, None);

    // A Google-only user has no password to replace.
    let google_only = new_user("u3", "Gina", "TAGGINA0");
    let mut sub = credential("u3", None);
    sub.provider_id = "google".into();
    sub.account_id = "google-sub-3".into();
    store.create_user(&google_only, &sub).await.unwrap();
    assert!(matches!(store.set_password_hash("u3", "h", at(9)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.set_password_hash("nobody", "h", at(9)).await, Err(StoreError::NotFound)));
}

async fn tags_are_assigned_once(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice")]).await;
    // A user imported from before tags existed.
    let mut raw = Raw::open(&db, pg).await;
    raw.exec(
        "INSERT INTO users (id, name, name_key, email, created_at, updated_at)
         VALUES ('old', 'Old', 'old', 'old@example.com', {now}, {now})",
    )
    .await
    .unwrap();
    assert_eq!(store.user_by_id("old").await.unwrap().unwrap().tag, None);

    assert_eq!(conflict(store.assign_tag("old", "TAG00000", at(1)).await), "users_tag_key");
    assert!(store.assign_tag("old", "OLDTAG00", at(2)).await.unwrap());
    let old = store.user_by_tag("OLDTAG00").await.unwrap().unwrap();
    assert_eq!((old.id.as_str(), old.updated_at), ("old", at(2)));
    assert!(!store.assign_tag("old", "OLDTAG01", at(3)).await.unwrap());
    assert!(!store.assign_tag("u1", "NEWTAG00", at(3)).await.unwrap());
    assert!(!store.assign_tag("nobody", "NEWTAG01", at(3)).await.unwrap());
    assert_eq!(store.user_by_id("old").await.unwrap().unwrap().tag.as_deref(), Some("OLDTAG00"));
    assert_eq!(store.user_by_id("old").await.unwrap().unwrap().updated_at, at(2));
}

async fn profiles_update_and_report_missing_users(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    let mut new = new_user("u1", "Alice", "TAGALICE");
    new.image = Some("a.png".into());
    store.create_user(&new, &credential("u1", None)).await.unwrap();

    let renamed = store.update_profile("u1", Some("ÅSA Berg"), None, at(1)).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.image.as_deref()), ("ÅSA Berg", Some("a.png")));
    assert_eq!((renamed.created_at, renamed.updated_at), (at(0), at(1)));
    assert_eq!(store.user_by_id("u1").await.unwrap(), Some(renamed));
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM users WHERE name_key = 'åsa berg'").await, 1);

    let reimaged = store.update_profile("u1", None, Some(Some("b.png")), at(2)).await.unwrap();
    assert_eq!((reimaged.name.as_str(), reimaged.image.as_deref()), ("ÅSA Berg", Some("b.png")));
    let cleared = store.update_profile("u1", None, Some(None), at(3)).await.unwrap();
    assert_eq!((cleared.image, cleared.updated_at), (None, at(3)));
    let both = store.update_profile("u1", Some("Bea"), Some(Some("c.png")), at(4)).await.unwrap();
    assert_eq!((both.name.as_str(), both.image.as_deref()), ("Bea", Some("c.png")));
    assert_eq!(raw.count("SELECT count(*) FROM users WHERE name_key = 'bea'").await, 1);
    assert_eq!(store.user_by_id("u1").await.unwrap(), Some(both));

    assert!(matches!(store.update_profile("nobody", Some("X"), None, at(5)).await, Err(StoreError::NotFound)));
}

/// Names chosen so that byte order, case folding and LIKE wildcards all matter.
const SEARCH_USERS: &[(&str, &str)] = &[
    ("me", "Alina"),
    ("u-b", "alice"),
    ("u-a", "Alice"),
    ("u-c", "ALICE"),
    ("u-z", "Zed"),
    ("u-e", "Émile"),
    ("u-u", "al_x"),
    ("u-p", "al%y"),
    ("u-s", "al\\b"),
    ("u-l", "alz"),
    ("u-o", "bob"),
];

/// The expected order: Rust's byte-wise order of (lower-cased name, id).
fn sorted_except(exclude: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut rows: Vec<(String, String)> = SEARCH_USERS
        .iter()
        .filter(|(id, name)| *id != exclude && keep(name))
        .map(|(id, name)| (name_key(name), (*id).to_owned()))
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, id)| id).collect()
}

fn search(prefix: Option<&str>, after: Option<(&str, &str)>, limit: u32) -> UserSearch {
    UserSearch {
        exclude_id: "me".into(),
        prefix: prefix.map(Into::into),
        after: after.map(|(k, id)| (k.into(), id.into())),
        limit,
    }
}

/// On PostgreSQL, gives `name_key` a locale's collation (ICU root, when the server has it), under which
/// "_" < "\" < "%" and "é" sorts with "e": the search must still answer in byte order.
async fn locale_name_key(db: &TestDatabase, pg: bool) {
    if !pg {
        return;
    }
    let mut raw = Raw::open(db, pg).await;
    if raw.count("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'").await == 1 {
        raw.exec(r#"ALTER TABLE users ALTER COLUMN name_key TYPE text COLLATE "und-x-icu""#).await.unwrap();
    }
}

async fn search_orders_by_name_key_then_id(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    locale_name_key(&db, pg).await;
    users(&store, SEARCH_USERS).await;
    let all = store.search_users(&search(None, None, 100)).await.unwrap();
    let expected = sorted_except("me", |_| true);
    assert_eq!(ids(&all), expected);
    // Spelled out: "%" < "\" < "_" < "i" < "z" in bytes, equal keys ("alice" thrice, whatever the case)
    // by id, and "émile" after "zed" (bytes, not a locale's alphabet).
    assert_eq!(ids(&all), ["u-p", "u-s", "u-u", "u-a", "u-b", "u-c", "u-l", "u-o", "u-z", "u-e"]);
    assert_eq!(ids(&store.search_users(&search(None, None, 3)).await.unwrap()), ["u-p", "u-s", "u-u"]);
    assert!(store.search_users(&search(None, None, 0)).await.unwrap().is_empty());
}

async fn search_filters_by_escaped_prefix_or_tag(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    locale_name_key(&db, pg).await;
    users(&store, SEARCH_USERS).await;
    let by = async |prefix: &str| {
        ids(&store.search_users(&search(Some(prefix), None, 100)).await.unwrap())
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    assert_eq!(by("al").await, sorted_except("me", |n| name_key(n).starts_with("al")));
    assert_eq!(by("ali").await, ["u-a", "u-b", "u-c"]);
    // Wildcards in the prefix are literal characters.
    assert_eq!(by("al_").await, ["u-u"]);
    assert_eq!(by("al%").await, ["u-p"]);
    assert_eq!(by("al\\").await, ["u-s"]);
    assert_eq!(by("_").await, Vec::<String>::new());
    assert_eq!(by("%").await, Vec::<String>::new());
    assert_eq!(by("é").await, ["u-e"]);
    assert_eq!(by("nobody").await, Vec::<String>::new());
    // Tags match by upper-cased prefix: "TAG00004" is u-z's (fifth created), "TAG000" everyone's.
    assert_eq!(by("tag00004").await, ["u-z"]);
    assert_eq!(by("tag000").await, sorted_except("me", |_| true));
    // The caller is never listed, even when the prefix matches it.
    assert_eq!(by("alina").await, Vec::<String>::new());
}

async fn search_pages_with_a_cursor(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    locale_name_key(&db, pg).await;
    users(&store, SEARCH_USERS).await;
    for prefix in [None, Some("al")] {
        let mut pages = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = store
                .search_users(&search(prefix, after.as_ref().map(|(k, id)| (k.as_str(), id.as_str())), 2))
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 2);
            let last = page.last().unwrap();
            after = Some((name_key(&last.name), last.id.clone()));
            pages.extend(page.into_iter().map(|u| u.id));
        }
        let expected = sorted_except("me", |n| prefix.is_none_or(|p| name_key(n).starts_with(p)));
        assert_eq!(pages, expected, "prefix {prefix:?}");
    }
    // Within equal keys the cursor continues by id.
    let rest = store.search_users(&search(None, Some(("alice", "u-a")), 2)).await.unwrap();
    assert_eq!(ids(&rest), ["u-b", "u-c"]);
    // A cursor between keys (not a stored one) also works.
    let rest = store.search_users(&search(None, Some(("b", "")), 100)).await.unwrap();
    assert_eq!(ids(&rest), ["u-o", "u-z", "u-e"]);
}

fn session(id: &str, user_id: &str, created: i64) -> Session {
    Session {
        id: id.into(),
        token_hash: format!("hash-{id}"),
        user_id: user_id.into(),
        expires_at: at(created + 1_000),
        remember: true,
        ip_address: None,
        user_agent: None,
        created_at: at(created),
        updated_at: at(created),
    }
}

async fn sessions_round_trip(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice"), ("u2", "Bob")]).await;
    let full = Session {
        id: "s1".into(),
        token_hash: "ab".repeat(32),
        user_id: "u1".into(),
        expires_at: at(86_400_000),
        remember: false,
        ip_address: Some("2001:db8::1".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) 🦀".into()),
        created_at: at(1),
        updated_at: at(2),
    };
    store.create_session(&full).await.unwrap();
    let found = store.session_by_token_hash(&full.token_hash).await.unwrap().unwrap();
    assert_eq!(found.session, full);
    assert_eq!(Some(found.user), store.user_by_id("u1").await.unwrap());
    assert!(store.session_by_token_hash("nope").await.unwrap().is_none());

    let mut dup = session("s9", "u2", 0);
    dup.token_hash = full.token_hash.clone();
    assert_eq!(conflict(store.create_session(&dup).await), "sessions_token_hash_key");
    assert_eq!(conflict(store.create_session(&session("s9", "nobody", 0)).await), "foreign_key");

    store.extend_session("s1", at(99_000_000), at(50)).await.unwrap();
    let extended = store.session_by_token_hash(&full.token_hash).await.unwrap().unwrap().session;
    assert_eq!(extended, Session { expires_at: at(99_000_000), updated_at: at(50), ..full.clone() });
    assert!(matches!(store.extend_session("gone", at(1), at(1)).await, Err(StoreError::NotFound)));

    // Newest first; equal creation times by id, descending.
    for s in [session("s2", "u1", 10), session("s3b", "u1", 20), session("s3a", "u1", 20), session("s4", "u2", 30)] {
        store.create_session(&s).await.unwrap();
    }
    let listed: Vec<String> = store.sessions_of_user("u1").await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, ["s3b", "s3a", "s2", "s1"]);
    assert_eq!(store.sessions_of_user("u1").await.unwrap()[3], extended);
    assert!(store.sessions_of_user("nobody").await.unwrap().is_empty());

    let mut hashes = store.session_token_hashes("u1").await.unwrap();
    hashes.sort();
    let mut expected = vec![full.token_hash.clone(), "hash-s2".into(), "hash-s3a".into(), "hash-s3b".into()];
    expected.sort();
    assert_eq!(hashes, expected);
    assert_eq!(store.session_token_hashes("u2").await.unwrap(), ["hash-s4"]);
}

async fn delete_sessions_selects_only_its_rows(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("a", "Alice"), ("b", "Bob")]).await;
    for s in [session("s1", "a", 1), session("s2", "a", 2), session("s3", "a", 3), session("s4", "b", 4)] {
        store.create_session(&s).await.unwrap();
    }
    let remaining = async |user: &str| {
        let mut ids: Vec<String> = store.sessions_of_user(user).await.unwrap().into_iter().map(|s| s.id).collect();
        ids.sort();
        ids
    };
    let delete = async |selector: SessionSelector| {
        let mut hashes = store.delete_sessions(&selector).await.unwrap();
        hashes.sort();
        hashes
    };

    // Another user's session id or hash selects nothing.
    assert!(delete(SessionSelector::Id { user_id: "b".into(), id: "s1".into() }).await.is_empty());
    assert!(delete(SessionSelector::TokenHash { user_id: "b".into(), token_hash: "hash-s2".into() }).await.is_empty());
    assert_eq!(remaining("a").await, ["s1", "s2", "s3"]);

    assert_eq!(delete(SessionSelector::Id { user_id: "a".into(), id: "s1".into() }).await, ["hash-s1"]);
    assert!(delete(SessionSelector::Id { user_id: "a".into(), id: "s1".into() }).await.is_empty());
    assert_eq!(
        delete(SessionSelector::TokenHash { user_id: "a".into(), token_hash: "hash-s2".into() }).await,
        ["hash-s2"]
    );
    assert_eq!(remaining("a").await, ["s3"]);

    for s in [session("s5", "a", 5), session("s6", "a", 6)] {
        store.create_session(&s).await.unwrap();
    }
    assert_eq!(
        delete(SessionSelector::AllOfUser { user_id: "a".into(), except: Some("s5".into()) }).await,
        ["hash-s3", "hash-s6"]
    );
    assert_eq!(remaining("a").await, ["s5"]);
    assert_eq!(remaining("b").await, ["s4"]);

    assert_eq!(delete(SessionSelector::Token { token_hash: "hash-s4".into() }).await, ["hash-s4"]);
    assert!(delete(SessionSelector::Token { token_hash: "hash-s4".into() }).await.is_empty());
    assert_eq!(remaining("a").await, ["s5"]);

    store.create_session(&session("s7", "b", 7)).await.unwrap();
    assert_eq!(delete(SessionSelector::AllOfUser { user_id: "a".into(), except: None }).await, ["hash-s5"]);
    assert!(remaining("a").await.is_empty());
    assert_eq!(remaining("b").await, ["s7"]);
    assert!(delete(SessionSelector::AllOfUser { user_id: "a".into(), except: None }).await.is_empty());
}

async fn verifications_are_single_use_and_expire(pg: bool) {
    let Some((db, store)) = migrated(pg).await else {
        return;
    };
    store.put_verification("oauth:1", "v1", at(10), at(0)).await.unwrap();
    assert_eq!(store.peek_verification("oauth:1", at(0)).await.unwrap().as_deref(), Some("v1"));
    assert_eq!(store.peek_verification("oauth:1", at(9)).await.unwrap().as_deref(), Some("v1"));
    // Expired at its expiry instant.
    assert_eq!(store.peek_verification("oauth:1", at(10)).await.unwrap(), None);

    // A second put replaces the value and the expiry, keeping one row.
    store.put_verification("oauth:1", "v2", at(20), at(1)).await.unwrap();
    let mut raw = Raw::open(&db, pg).await;
    assert_eq!(raw.count("SELECT count(*) FROM verifications").await, 1);
    assert_eq!(store.peek_verification("oauth:1", at(15)).await.unwrap().as_deref(), Some("v2"));
    assert_eq!(store.take_verification("oauth:1", at(15)).await.unwrap().as_deref(), Some("v2"));
    assert_eq!(store.take_verification("oauth:1", at(15)).await.unwrap(), None);
    assert_eq!(store.peek_verification("oauth:1", at(0)).await.unwrap(), None);

    // Taking an expired value answers nothing and still deletes it.
    store.put_verification("2fa:1", "pending", at(5), at(0)).await.unwrap();
    assert_eq!(store.take_verification("2fa:1", at(5)).await.unwrap(), None);
    assert_eq!(store.peek_verification("2fa:1", at(0)).await.unwrap(), None);
    assert_eq!(raw.count("SELECT count(*) FROM verifications").await, 0);

    assert_eq!(store.take_verification("unknown", at(0)).await.unwrap(), None);
    // Identifiers are independent.
    store.put_verification("a", "1", at(10), at(0)).await.unwrap();
    store.put_verification("b", "2", at(10), at(0)).await.unwrap();
    assert_eq!(store.take_verification("a", at(1)).await.unwrap().as_deref(), Some("1"));
    assert_eq!(store.peek_verification("b", at(1)).await.unwrap().as_deref(), Some("2"));
}

async fn verification_take_is_race_free(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    for round in 0..5 {
        let id = format!("state:{round}");
        store.put_verification(&id, "value", at(1_000), at(0)).await.unwrap();
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move { store.take_verification(&id, at(1)).await.unwrap() })
            })
            .collect();
        let mut won = 0;
        for taker in takers {
            if taker.await.unwrap().is_some() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

async fn auth_failures_window_limit_clear_prune(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    let (email, ip, two) = (FailureScope::Email, FailureScope::Ip, FailureScope::TwoFactor);
    for t in [1, 2, 3, 5] {
        store.record_auth_failure(email, "a@example.com", at(t)).await.unwrap();
    }
    store.record_auth_failure(ip, "a@example.com", at(4)).await.unwrap();
    store.record_auth_failure(email, "b@example.com", at(4)).await.unwrap();
    store.record_auth_failure(two, "u1", at(6)).await.unwrap();
    store.record_auth_failure(two, "u1", at(6)).await.unwrap();

    // `since` is inclusive; newest first.
    assert_eq!(store.recent_auth_failures(email, "a@example.com", at(2), 10).await.unwrap(), [at(5), at(3), at(2)]);
    assert_eq!(store.recent_auth_failures(email, "a@example.com", at(0), 2).await.unwrap(), [at(5), at(3)]);
    assert!(store.recent_auth_failures(email, "a@example.com", at(6), 10).await.unwrap().is_empty());
    assert!(store.recent_auth_failures(email, "a@example.com", at(0), 0).await.unwrap().is_empty());
    // Scopes and subjects are separate counters.
    assert_eq!(store.recent_auth_failures(ip, "a@example.com", at(0), 10).await.unwrap(), [at(4)]);
    assert_eq!(store.recent_auth_failures(two, "u1", at(0), 10).await.unwrap(), [at(6), at(6)]);
    assert!(store.recent_auth_failures(email, "u1", at(0), 10).await.unwrap().is_empty());

    assert_eq!(store.prune_auth_failures(at(2)).await.unwrap(), 1);
    assert_eq!(store.recent_auth_failures(email, "a@example.com", at(0), 10).await.unwrap(), [at(5), at(3), at(2)]);

    store.clear_auth_failures(email, "a@example.com").await.unwrap();
    assert!(store.recent_auth_failures(email, "a@example.com", at(0), 10).await.unwrap().is_empty());
    assert_eq!(store.recent_auth_failures(ip, "a@example.com", at(0), 10).await.unwrap(), [at(4)]);
    assert_eq!(store.recent_auth_failures(email, "b@example.com", at(0), 10).await.unwrap(), [at(4)]);
    store.clear_auth_failures(email, "nobody").await.unwrap();

    // Strictly older than `before`.
    assert_eq!(store.prune_auth_failures(at(4)).await.unwrap(), 0);
    assert_eq!(store.prune_auth_failures(at(5)).await.unwrap(), 2);
    assert_eq!(store.prune_auth_failures(at(100)).await.unwrap(), 2);
    assert_eq!(store.prune_auth_failures(at(100)).await.unwrap(), 0);
}

fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| (*c).to_owned()).collect()
}

async fn two_factor_lifecycle_and_step_replay(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice"), ("u2", "Bob")]).await;
    assert_eq!(store.two_factor("u1").await.unwrap(), None);
    assert!(matches!(store.enable_two_factor("u1", at(0)).await, Err(StoreError::NotFound)));
    assert!(!store.use_totp_step("u1", 1, at(0)).await.unwrap());

    store.reset_two_factor("u1", "enc:secret-1", &codes(&["h1", "h2", "h3"]), at(1)).await.unwrap();
    let fresh_settings = TwoFactor {
        user_id: "u1".into(),
        secret: "enc:secret-1".into(),
        backup_codes: codes(&["h1", "h2", "h3"]),
        enabled: false,
        last_used_step: None,
    };
    assert_eq!(store.two_factor("u1").await.unwrap(), Some(fresh_settings));

    // A step is accepted once, and never an older one after a newer.
    assert!(store.use_totp_step("u1", 58_800_000, at(2)).await.unwrap());
    assert!(!store.use_totp_step("u1", 58_800_000, at(2)).await.unwrap());
    assert!(!store.use_totp_step("u1", 58_799_999, at(2)).await.unwrap());
    assert!(store.use_totp_step("u1", 58_800_001, at(3)).await.unwrap());
    assert_eq!(store.two_factor("u1").await.unwrap().unwrap().last_used_step, Some(58_800_001));
    // Another user's steps are their own.
    assert!(!store.use_totp_step("u2", 58_800_002, at(3)).await.unwrap());

    store.enable_two_factor("u1", at(4)).await.unwrap();
    let enabled = store.two_factor("u1").await.unwrap().unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.last_used_step, Some(58_800_001));

    // Reset replaces everything and turns it off again, with no step used.
    store.reset_two_factor("u1", "enc:secret-2", &[], at(5)).await.unwrap();
    let reset = TwoFactor {
        user_id: "u1".into(),
        secret: "enc:secret-2".into(),
        backup_codes: vec![],
        enabled: false,
        last_used_step: None,
    };
    assert_eq!(store.two_factor("u1").await.unwrap(), Some(reset));
    assert!(store.use_totp_step("u1", 1, at(6)).await.unwrap());

    assert_eq!(conflict(store.reset_two_factor("nobody", "s", &[], at(6)).await), "foreign_key");
    assert!(store.delete_two_factor("u1").await.unwrap());
    assert!(!store.delete_two_factor("u1").await.unwrap());
    assert_eq!(store.two_factor("u1").await.unwrap(), None);
}

async fn totp_step_is_race_free(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice")]).await;
    store.reset_two_factor("u1", "enc", &[], at(0)).await.unwrap();
    for step in 100..105 {
        let tries: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.use_totp_step("u1", step, at(1)).await.unwrap() })
            })
            .collect();
        let mut accepted = 0;
        for t in tries {
            if t.await.unwrap() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 1, "step {step}");
    }
}

async fn backup_codes_compare_and_set(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    users(&store, &[("u1", "Alice"), ("u2", "Bob")]).await;
    store.reset_two_factor("u1", "enc", &codes(&["a", "b", "c"]), at(0)).await.unwrap();
    store.reset_two_factor("u2", "enc", &codes(&["a", "b", "c"]), at(0)).await.unwrap();
    let codes_of = async |user: &str| store.two_factor(user).await.unwrap().unwrap().backup_codes;

    assert!(store.swap_backup_codes("u1", &codes(&["a", "b", "c"]), &codes(&["b", "c"]), at(1)).await.unwrap());
    assert_eq!(codes_of("u1").await, ["b", "c"]);
    // A second request that read the old list loses.
    assert!(!store.swap_backup_codes("u1", &codes(&["a", "b", "c"]), &codes(&["a", "c"]), at(2)).await.unwrap());
    assert_eq!(codes_of("u1").await, ["b", "c"]);
    // Order is part of the value.
    assert!(!store.swap_backup_codes("u1", &codes(&["c", "b"]), &codes(&["c"]), at(2)).await.unwrap());
    assert!(store.swap_backup_codes("u1", &codes(&["b", "c"]), &[], at(3)).await.unwrap());
    assert!(codes_of("u1").await.is_empty());
    assert!(!store.swap_backup_codes("u1", &codes(&["b", "c"]), &codes(&["x"]), at(4)).await.unwrap());
    assert!(store.swap_backup_codes("u1", &[], &codes(&["x"]), at(4)).await.unwrap());
    assert_eq!(codes_of("u1").await, ["x"]);

    // Other users and unknown users are untouched.
    assert_eq!(codes_of("u2").await, ["a", "b", "c"]);
    assert!(!store.swap_backup_codes("nobody", &[], &codes(&["x"]), at(4)).await.unwrap());
}

fn entry(id: &str, t: i64, user: Option<&str>, details: Option<serde_json::Value>) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        occurred_at: at(t),
        action: "sign_in".into(),
        user_id: user.map(Into::into),
        target_id: None,
        ip_address: None,
        user_agent: None,
        details,
    }
}

async fn audit_trail_order_filter_and_details(pg: bool) {
    let Some((_db, store)) = migrated(pg).await else {
        return;
    };
    let full = AuditEntry {
        id: "e1".into(),
        occurred_at: at(1),
        action: "password_changed".into(),
        user_id: Some("u1".into()),
        target_id: Some("u2".into()),
        ip_address: Some("203.0.113.7".into()),
        user_agent: Some("curl/8.5".into()),
        details: Some(json!({
            "method": "credential",
            "sessionsRevoked": 3,
            "big": 9_007_199_254_740_993_i64,
            "ratio": 0.25,
            "flags": [true, false, null],
            "nested": {"name": "Zoë \"quoted\" \\ 🦀", "empty": {}},
        })),
    };
    store.append_audit(&full).await.unwrap();
    for e in [
        entry("e2", 3, Some("u1"), None),
        entry("e3b", 2, None, Some(json!({"reason": "unknown_email"}))),
        entry("e3a", 2, Some("u1"), Some(json!([1, "two"]))),
        entry("e4", 4, Some("u2"), Some(json!("text"))),
    ] {
        store.append_audit(&e).await.unwrap();
    }
    assert_eq!(conflict(store.append_audit(&entry("e2", 9, None, None)).await), "audit_log_pkey");

    let all = store.audit_trail(None, 10).await.unwrap();
    let order: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(order, ["e4", "e2", "e3b", "e3a", "e1"]);
    assert_eq!(all[4], full);
    assert_eq!(all[2], entry("e3b", 2, None, Some(json!({"reason": "unknown_email"}))));
    assert_eq!(all[1].details, None);

    let of_u1: Vec<String> = store.audit_trail(Some("u1"), 10).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(of_u1, ["e2", "e3a", "e1"]);
    let newest: Vec<String> = store.audit_trail(Some("u1"), 2).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(newest, ["e2", "e3a"]);
    assert_eq!(store.audit_trail(None, 1).await.unwrap().len(), 1);
    assert!(store.audit_trail(Some("nobody"), 10).await.unwrap().is_empty());
}
