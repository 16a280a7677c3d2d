//! The authorisation matrix: every HTTP operation of the OpenAPI document and every client message type of the
//! WebSocket gateway, each tried by five callers — anonymous, a revoked session, a signed-in stranger, a
//! member of the host's lobby, the host — with the status or answer each must get. The rows are checked
//! against the server's own lists (`/api/openapi.json`, `/docs/websocket.json`), so a route or a message
//! added without a row fails here. Besides the status, a cell fails on an escape: a response showing someone
//! else's email, or a non-owner's attempt that changed what it must not (the host's lobby, the pending
//! request, the host's other session, the friendship).

mod http;
mod world;
mod ws;

use crate::support::ws::Ws;
use crate::support::{TestApp, json};
use http::Intact;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use world::{ROLES, Role, World};

/// An app where the suite's many sign-ups and reports stay under the per-IP limits (those have their own tests).
async fn matrix_app() -> TestApp {
    TestApp::spawn_with(false, |f| {
        f.merge(("rate_limit_auth_max", 100_000)).merge(("rate_limit_bug_reports_max", 100_000))
    })
    .await
    .expect("SQLite is always available")
}

/// The emails of the cast that `text` shows, other than `own`.
fn foreign_emails<'a>(world: &'a World, own: &[&str], text: &str) -> Vec<&'a str> {
    world.emails().into_iter().filter(|e| !own.contains(e) && text.contains(e)).collect()
}

/// Whether the resource the non-owners must not touch is as it was.
async fn intact(app: &TestApp, world: &World, what: Intact) -> bool {
    match what {
        Intact::Nothing => true,
        Intact::HostSpareSession => {
            let (_, body) = json(app.get_as(&world.host_spare, "/api/auth/get-session").await).await;
            body["user"]["id"] == world.host.id.as_str()
        }
        Intact::PendingRequest => {
            let (_, body) = json(app.get_as(&world.host, "/api/friends/requests").await).await;
            body["friendRequests"].as_array().is_some_and(|r| r.iter().any(|r| r["id"] == world.request_id.as_str()))
        }
        Intact::Friendship => {
            let (_, body) = json(app.get_as(&world.host, "/api/friends/list").await).await;
            body["friends"].as_array().is_some_and(|f| f.iter().any(|f| f["id"] == world.member.id.as_str()))
        }
    }
}

#[tokio::test]
async fn every_http_operation_answers_each_role_as_the_matrix_says() {
    let app = matrix_app().await;
    let (_, document) = json(app.get("/api/openapi.json").await).await;
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(|m| (m.to_uppercase(), path.clone())))
        .collect();
    let rows = http::routes();
    assert_one_row_each(&documented, rows.iter().map(|r| (r.method.to_string(), r.path.to_owned())).collect());

    let (mut cells, mut failures) = (0, Vec::new());
    for row in &rows {
        let world = World::new(&app).await;
        for (role, expected) in ROLES.into_iter().zip(row.expect) {
            let call = (row.call)(&world, role);
            let mut request = app.client.request(row.method.clone(), app.url(&call.uri));
            if let Some(user) = world.caller(role) {
                request = request.header("cookie", &user.cookie);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let res = request.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            cells += 1;
            let cell = format!("{} {} as {}", row.method, row.path, ws::describe(role));
            if status != expected {
                failures.push(format!("{cell}: expected {expected}, got {status}: {}", truncate(&text)));
            }
            // The caller's own address, and the one it signs in with, are the only ones it may see.
            let signing_in = call.body.as_ref().and_then(|b| b["email"].as_str());
            let own: Vec<&str> = world.caller(role).map(|u| u.email.as_str()).into_iter().chain(signing_in).collect();
            let shown = foreign_emails(&world, &own, &text);
            if !shown.is_empty() {
                failures.push(format!("{cell}: the response shows {shown:?}"));
            }
            if role != Role::Host && !intact(&app, &world, row.intact).await {
                failures.push(format!("{cell}: escape, {:?} was changed by a caller who does not own it", row.intact));
            }
        }
    }
    eprintln!("authorisation matrix, HTTP: {} operations × {} roles = {cells} cells", rows.len(), ROLES.len());
    assert!(failures.is_empty(), "{} of {cells} cells failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn every_client_message_answers_each_role_as_the_matrix_says() {
    let app = matrix_app().await;
    let (_, document) = json(app.get("/docs/websocket.json").await).await;
    let documented: BTreeSet<String> =
        document["clientMessages"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap().to_owned()).collect();
    let rows = ws::messages();
    assert_one_row_each(&documented, rows.iter().map(|m| m.kind.to_owned()).collect());

    let (mut cells, mut failures) = (0, Vec::new());
    for row in &rows {
        let world = World::new(&app).await;
        for (role, expected) in ROLES.into_iter().zip(row.expect) {
            // Whoever is not in the lobby, and whoever is refused, must leave the host's lobby as it was.
            let outsider = matches!(role, Role::Anonymous | Role::Revoked | Role::Stranger);
            let before = match outsider || !expected.may_change() {
                true => Some(world.lobby_state(&app).await),
                false => None,
            };
            let mut socket = Ws::connect(app.address, world.caller(role).map(|u| u.cookie.as_str())).await;
            socket.send(json!({"type": row.kind, "payload": (row.payload)(&world)})).await;
            let answer: Value = loop {
                let frame = socket.recv().await;
                if ws::is_answer(row.kind, &frame) {
                    break frame;
                }
            };
            socket.close().await;
            cells += 1;
            let cell = format!("{} as {}", row.kind, ws::describe(role));
            if let Err(e) = ws::check(row.kind, expected, &answer) {
                failures.push(format!("{cell}: {e}"));
            }
            let own: Vec<&str> = world.caller(role).map(|u| u.email.as_str()).into_iter().collect();
            let shown = foreign_emails(&world, &own, &answer.to_string());
            if !shown.is_empty() {
                failures.push(format!("{cell}: the answer shows {shown:?}"));
            }
            if let Some(before) = before {
                let after = world.lobby_state(&app).await;
                if after != before {
                    failures.push(format!("{cell}: escape, the host's lobby changed from {before} to {after}"));
                }
            }
        }
    }
    eprintln!("authorisation matrix, WebSocket: {} messages × {} roles = {cells} cells", rows.len(), ROLES.len());
    assert!(failures.is_empty(), "{} of {cells} cells failed:\n{}", failures.len(), failures.join("\n"));
}

/// Every documented route or message has exactly one row, and every row a documented route or message.
fn assert_one_row_each<T: Ord + std::fmt::Debug>(documented: &BTreeSet<T>, rows: Vec<T>) {
    let count = rows.len();
    let listed: BTreeSet<T> = rows.into_iter().collect();
    assert_eq!(count, listed.len(), "one of the rows is there twice");
    assert!(
        *documented == listed,
        "documented without a row: {:?}; rows for nothing documented: {:?}",
        documented.difference(&listed).collect::<Vec<_>>(),
        listed.difference(documented).collect::<Vec<_>>()
    );
}

/// The first 300 characters of a body, for a failure message.
fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}
