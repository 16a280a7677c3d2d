//! Users: search and pagination, lookups by id and by tag, the caller's tag, tag uniqueness, and no email
//! address ever (protocol §1.5, §4.1; checklist 41–44).

use crate::support::auth::*;
use crate::support::{PASSWORD, TestApp, TestUser, json, on_both_backends};
use serde_json::{Value, json};
use std::collections::HashSet;

const LISTED_KEYS: &[&str] = &["id", "name", "image", "tag", "isOnline", "lastSeen"];

/// Asserts a `validation_failed` body with exactly `message` (and optionally `details`).
fn assert_invalid(status: u16, body: &Value, message: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "validation_failed", "{body}");
    assert_eq!(body["error"], message, "{body}");
    let extra: Vec<_> =
        keys(body).into_iter().filter(|k| !["error", "code", "details"].contains(&k.as_str())).collect();
    assert!(extra.is_empty(), "only error, code and details: {body}");
    if let Some(d) = body.get("details") {
        assert!(d.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "{body}");
    }
}

/// Asserts a listed user's shape (§1.5: no email, offline, lastSeen null or a timestamp).
fn assert_listed(u: &Value) {
    assert_eq!(keys(u), set(LISTED_KEYS), "{u}");
    assert!(u["id"].is_string() && u["name"].as_str().is_some_and(|n| !n.is_empty()), "{u}");
    assert!(u["image"].is_null() || u["image"].is_string(), "{u}");
    assert!(is_tag(u["tag"].as_str().unwrap()), "{u}");
    assert_eq!(u["isOnline"], false, "nobody has a socket open: {u}");
    assert!(u["lastSeen"].is_null() || u["lastSeen"].as_str().is_some(), "{u}");
    if !u["lastSeen"].is_null() {
        ts_millis(&u["lastSeen"]);
    }
}

/// Asserts nothing in the body looks like an email address.
fn assert_no_email(body: &Value) {
    assert!(!has_key_anywhere(body, "email"), "an email key: {body}");
    assert!(!body.to_string().contains("@example.com"), "an email address: {body}");
}

async fn get_page(app: &TestApp, user: &TestUser, query: &str) -> (u16, Value) {
    json(app.get_as(user, &format!("/api/users{query}")).await).await
}

// ---------------------------------------------------------------------------------------------------------
// GET /api/users (checklist 41, 42)
// ---------------------------------------------------------------------------------------------------------

async fn users_page_by_cursor_in_name_then_id_order_without_the_caller(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let caller = app.sign_up("Aaron").await;
    // Mixed case, shared names (the id decides), and names on both sides of the caller's.
    let names = [
        "zoe", "Zoe", "ZOE", "alpha", "Alpha", "bravo", "Charlie", "charlie2", "Delta", "echo", "Foxtrot", "golf",
        "Hotel", "india", "Juliet", "kilo", "Lima", "mike", "November", "oscar", "Papa", "quebec", "Romeo", "sierra",
        "Tango",
    ];
    let mut expected: Vec<(String, String)> = Vec::new();
    for name in names {
        let u = app.sign_up(name).await;
        expected.push((name.to_lowercase(), u.id));
    }
    expected.sort();

    let mut seen: Vec<Value> = Vec::new();
    let mut query = "?limit=10".to_owned();
    let mut sizes = Vec::new();
    loop {
        let (status, body) = get_page(&app, &caller, &query).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), set(&["users", "nextCursor"]), "{body}");
        assert_no_email(&body);
        let users = body["users"].as_array().unwrap();
        sizes.push(users.len());
        users.iter().for_each(assert_listed);
        seen.extend(users.iter().cloned());
        match &body["nextCursor"] {
            Value::Null => break,
            Value::String(c) => query = format!("?limit=10&cursor={}", encode_uri_component(c)),
            other => panic!("nextCursor is a string or null: {other}"),
        }
        assert!(sizes.len() < 10, "the cursor never ends");
    }
    assert_eq!(sizes, [10, 10, 5]);
    let ids: Vec<&str> = seen.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "no duplicates");
    assert!(!ids.contains(&caller.id.as_str()), "the caller is excluded");
    let got: Vec<(String, String)> = seen
        .iter()
        .map(|u| (u["name"].as_str().unwrap().to_lowercase(), u["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(got, expected, "case-insensitive name, then id");

    // The default limit is 20.
    let (status, body) = get_page(&app, &caller, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["users"].as_array().unwrap().len(), 20);
    assert!(body["nextCursor"].is_string());
    // The trailing-slash alias answers the same.
    let (status, alias) = get_page(&app, &caller, "/").await;
    assert_eq!((status, alias["users"].as_array().unwrap().len()), (200, 20));
}
on_both_backends!(users_page_by_cursor_in_name_then_id_order_without_the_caller);

#[tokio::test]
async fn limits_cursors_and_queries_are_validated() {
    let app = roomy().await;
    let caller = app.sign_up("Val").await;
    app.sign_up("Other").await;
    for bad in ["0", "101", "abc", "-1", "1.5"] {
        let (status, body) = get_page(&app, &caller, &format!("?limit={bad}")).await;
        assert_invalid(status, &body, "Paramètre limit invalide");
    }
    for ok in ["1", "100"] {
        let (status, body) = get_page(&app, &caller, &format!("?limit={ok}")).await;
        assert_eq!(status, 200, "limit={ok}: {body}");
    }
    let (_, body) = get_page(&app, &caller, "?limit=1").await;
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    for bad in ["not%20a%20cursor!", "%00%01"] {
        let (status, body) = get_page(&app, &caller, &format!("?cursor={bad}")).await;
        assert_invalid(status, &body, "Paramètre cursor invalide");
    }
    let long = "a".repeat(51);
    for bad in [long.as_str(), "%20%20%20", "%09"] {
        let (status, body) = get_page(&app, &caller, &format!("?q={bad}")).await;
        assert_invalid(status, &body, "Paramètre q invalide");
    }
    let fifty = "a".repeat(50);
    let (status, body) = get_page(&app, &caller, &format!("?q={fifty}")).await;
    assert_eq!((status, body), (200, json!({"users": [], "nextCursor": null})));
}

async fn q_matches_a_name_or_tag_prefix_case_insensitively(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let caller = app.sign_up("Zeno").await;
    let zephyr = app.sign_up("Zephyr").await;
    let zebra = app.sign_up("zebra").await;
    let alpha = app.sign_up("Alpha").await;
    let names_for = |body: &Value| -> Vec<String> {
        body["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_owned()).collect()
    };
    // Names starting with "ze", plus (rarely) anyone whose random tag starts with "ZE"; never the caller.
    let mut expected: Vec<(String, String, String)> = [&zephyr, &zebra, &alpha]
        .into_iter()
        .filter(|u| u.name.to_lowercase().starts_with("ze") || u.tag.starts_with("ZE"))
        .map(|u| (u.name.to_lowercase(), u.id.clone(), u.name.clone()))
        .collect();
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, _, n)| n).collect();
    assert!(expected.contains(&"zebra".to_owned()) && expected.contains(&"Zephyr".to_owned()));
    for q in ["ze", "ZE", "Ze", "%20zE%20"] {
        let (status, body) = get_page(&app, &caller, &format!("?q={q}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(names_for(&body), expected, "q={q}: the caller Zeno is excluded");
    }
    let (_, body) = get_page(&app, &caller, "?q=zeph").await;
    assert_eq!(names_for(&body), ["Zephyr"]);
    let (_, body) = get_page(&app, &caller, "?q=phyr").await;
    assert!(names_for(&body).is_empty(), "a prefix, not a substring");

    // By tag prefix, in either case.
    for user in [&zephyr, &zebra, &alpha] {
        for q in [user.tag[..4].to_lowercase(), user.tag.clone()] {
            let (status, body) = get_page(&app, &caller, &format!("?q={q}")).await;
            assert_eq!(status, 200);
            let users = body["users"].as_array().unwrap();
            assert!(users.iter().any(|u| u["id"] == user.id.as_str()), "q={q} finds {}: {body}", user.name);
            for u in users {
                let (name, tag) = (u["name"].as_str().unwrap().to_lowercase(), u["tag"].as_str().unwrap());
                let ql = q.to_lowercase();
                assert!(name.starts_with(&ql) || tag.to_lowercase().starts_with(&ql), "{u} does not match {q}");
            }
        }
    }
    // q pages too.
    let (_, body) = get_page(&app, &caller, "?q=ze&limit=1").await;
    assert_eq!(names_for(&body), expected[..1]);
    let cursor = body["nextCursor"].as_str().expect("a second page").to_owned();
    let (_, body) = get_page(&app, &caller, &format!("?q=ze&limit=1&cursor={}", encode_uri_component(&cursor))).await;
    assert_eq!(names_for(&body), expected[1..2]);
}
on_both_backends!(q_matches_a_name_or_tag_prefix_case_insensitively);

// ---------------------------------------------------------------------------------------------------------
// GET /api/users/:id, /api/users/tag/:tag, /api/users/me/tag (checklist 43, 44)
// ---------------------------------------------------------------------------------------------------------

async fn a_user_by_id_and_by_tag(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let caller = app.sign_up("Cyd").await;
    let target = app.sign_up("Dana").await;

    let (status, body) = json(app.get_as(&caller, &format!("/api/users/{}", target.id)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["user"]));
    assert_listed(&body["user"]);
    assert_no_email(&body);
    assert_eq!(body["user"]["id"], target.id.as_str());
    assert_eq!(body["user"]["name"], "Dana");
    assert_eq!(body["user"]["tag"], target.tag.as_str());
    assert_eq!(body["user"]["image"], Value::Null);
    // The caller may look themself up too.
    let (status, body) = json(app.get_as(&caller, &format!("/api/users/{}", caller.id)).await).await;
    assert_eq!((status, body["user"]["id"].as_str()), (200, Some(caller.id.as_str())));

    let not_found = json!({"error": "Utilisateur non trouvé", "code": "user_not_found"});
    for unknown in ["no-such-user", "00000000-0000-7000-8000-000000000000", "me"] {
        let res = app.get_as(&caller, &format!("/api/users/{unknown}")).await;
        assert_eq!(json(res).await, (404, not_found.clone()), "GET /api/users/{unknown}");
    }

    for form in [target.tag.to_lowercase(), target.tag.clone(), format!("%20{}%20", target.tag.to_lowercase())] {
        let (status, body) = json(app.get_as(&caller, &format!("/api/users/tag/{form}")).await).await;
        assert_eq!(status, 200, "tag {form}: {body}");
        assert_eq!(
            body,
            json!({"user": {"id": target.id, "name": "Dana", "image": null, "tag": target.tag}}),
            "exactly id, name, image, tag"
        );
    }
    for unknown in ["ZZZZZZZZ", "abc", "IIIIIIII"] {
        let res = app.get_as(&caller, &format!("/api/users/tag/{unknown}")).await;
        assert_eq!(json(res).await, (404, not_found.clone()), "tag {unknown}");
    }

    let (status, body) = json(app.get_as(&caller, "/api/users/me/tag").await).await;
    assert_eq!((status, body), (200, json!({"tag": caller.tag})));
}
on_both_backends!(a_user_by_id_and_by_tag);

async fn a_user_without_a_tag_gets_one_that_stays(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Old Timer").await;
    let viewer = app.sign_up("Viewer").await;
    // Users from before tags existed have none; the protocol has no HTTP way to make one, so the tag is
    // cleared in the database.
    sql_execute(&app, &format!("UPDATE users SET tag = NULL WHERE id = {}", sql_str(&user.id))).await;
    // A fresh session, so that nothing cached from before the change can answer.
    let user = sign_in_again(&app, &user).await;

    let (status, body) = json(app.get_as(&user, "/api/users/me/tag").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["tag"]));
    let tag = body["tag"].as_str().unwrap().to_owned();
    assert!(is_tag(&tag), "{tag}");
    for _ in 0..3 {
        let (_, again) = json(app.get_as(&user, "/api/users/me/tag").await).await;
        assert_eq!(again["tag"], tag.as_str(), "the generated tag stays");
    }
    let (status, body) = json(app.get_as(&viewer, &format!("/api/users/tag/{tag}")).await).await;
    assert_eq!((status, body["user"]["id"].as_str()), (200, Some(user.id.as_str())), "the tag is stored");
    assert_eq!(session_of(&app, &user.cookie).await["user"]["tag"], tag.as_str());
    let stored =
        sql_count(&app, &format!("SELECT COUNT(*) FROM users WHERE id = {} AND tag = '{tag}'", sql_str(&user.id)))
            .await;
    assert_eq!(stored, 1);
}
on_both_backends!(a_user_without_a_tag_gets_one_that_stays);

#[tokio::test]
async fn no_users_route_ever_shows_an_email() {
    let app = roomy().await;
    let caller = app.sign_up("Eli").await;
    let other = app.sign_up("Flo").await;
    for path in [
        "/api/users".to_owned(),
        format!("/api/users?q={}", other.tag),
        "/api/users?q=fl".to_owned(),
        format!("/api/users/{}", other.id),
        format!("/api/users/{}", caller.id),
        format!("/api/users/tag/{}", other.tag),
        "/api/users/me/tag".to_owned(),
    ] {
        let (status, body) = json(app.get_as(&caller, &path).await).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_no_email(&body);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tag uniqueness under concurrency (§4.1, checklist 44)
// ---------------------------------------------------------------------------------------------------------

async fn concurrent_sign_ups_get_distinct_tags(postgres: bool) {
    let Some(app) = TestApp::spawn_with(postgres, |f| f.merge(("rate_limit_auth_max", 1000))).await else {
        return;
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/api/auth/sign-up/email");
        tasks.spawn(async move {
            let body =
                json!({"name": format!("Racer{i}"), "email": unique_email(&format!("race{i}")), "password": PASSWORD});
            let res = client.post(url).json(&body).send().await.expect("request sent");
            let status = res.status().as_u16();
            let body: Value = res.json().await.expect("JSON");
            (status, body)
        });
    }
    let mut tags = HashSet::new();
    let mut ids = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (status, body) = joined.unwrap();
        assert_eq!(status, 200, "every concurrent sign-up succeeds: {body}");
        let tag = body["user"]["tag"].as_str().unwrap().to_owned();
        assert!(is_tag(&tag), "{tag}");
        tags.insert(tag);
        ids.insert(body["user"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 200);
    assert_eq!(tags.len(), 200, "200 distinct tags");
    let distinct = sql_count(&app, "SELECT COUNT(DISTINCT tag) FROM users").await;
    assert_eq!(distinct, 200, "stored as drawn");
}
on_both_backends!(concurrent_sign_ups_get_distinct_tags);
