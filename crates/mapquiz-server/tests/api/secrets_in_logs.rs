//! The real binary at `debug` log level never writes a password, a session token or a signed cookie value
//! (protocol §1.4.7: secrets never in logs; §1.1.5: tokens never stored or shown in clear).

use crate::support::auth::{encode_uri_component, signature_with};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "log-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const PASSWORD: &str = "hunter2-but-much-longer-and-unique";
const WRONG_PASSWORD: &str = "definitely-not-the-password-42";

#[tokio::test]
async fn debug_logs_contain_no_password_token_or_cookie_value() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", &port)
        .env("MAPQUIZ_LOG_LEVEL", "debug")
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("MAPQUIZ_ARGON2_MEMORY_KIB", "1024")
        .env("MAPQUIZ_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client.get(format!("{base}/livez")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(15), "the server never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let email = format!("logged-{}@example.com", uuid::Uuid::now_v7().simple());
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
    let res =
        post("/api/auth/sign-up/email", json!({"name": "Logan", "email": email, "password": PASSWORD})).await.unwrap();
    assert_eq!(res.status(), 200);
    let up: Value = res.json().await.unwrap();
    let res = post("/api/auth/sign-in/email", json!({"email": email, "password": WRONG_PASSWORD})).await.unwrap();
    assert_eq!(res.status(), 401);
    let res = post("/api/auth/sign-in/email", json!({"email": email, "password": PASSWORD})).await.unwrap();
    assert_eq!(res.status(), 200);
    let signed_in: Value = res.json().await.unwrap();

    let mut tokens = Vec::new();
    for body in [&up, &signed_in] {
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    let token = &tokens[1];
    let signature = signature_with(SECRET, token);
    let signed = format!("{token}.{signature}");
    let cookie = format!("better-auth.session_token={}", encode_uri_component(&signed));
    let res = client.get(format!("{base}/api/auth/get-session")).header("cookie", &cookie).send().await.unwrap();
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["email"], email.as_str(), "the cookie authenticates");
    let res = client
        .get(format!("{base}/api/auth/get-session"))
        .header("authorization", format!("Bearer {}", tokens[0]))
        .send()
        .await
        .unwrap();
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["email"], email.as_str(), "the bearer authenticates");
    let res = client
        .post(format!("{base}/api/auth/sign-out"))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("DEBUG"), "debug logging is on, so the check means something:\n{logs}");
    let mut secrets = vec![
        ("the password", PASSWORD.to_owned()),
        ("the wrong password", WRONG_PASSWORD.to_owned()),
        ("the signing secret", SECRET.to_owned()),
        ("the signed cookie value", encode_uri_component(&signed)),
        ("the signed token", signed.clone()),
        ("the cookie signature", signature.clone()),
        ("the encoded cookie signature", encode_uri_component(&signature)),
    ];
    for t in &tokens {
        secrets.push(("a session token", t.clone()));
    }
    for (what, secret) in secrets {
        assert!(!logs.contains(&secret), "{what} ({secret}) appears in the logs");
    }
}
