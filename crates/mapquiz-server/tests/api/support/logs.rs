//! What the suite leaves behind for the secrets audit (`.ci/secrets-audit`, run by `.ci/run` after the tests):
//! every log line of the in-process apps at every level, and every secret the tests handled (passwords they
//! sent, tokens, cookie values, TOTP secrets and backup codes they were given, users' emails). The audit then
//! looks for each secret in each log. Files are per test process, under `target/tmp/test-logs/`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::EnvFilter;

/// Every level of our own crates; the libraries we call at debug, but for the per-frame and per-packet chatter
/// of the transport crates (which sees no application data the server's own lines would not).
const FILTER: &str = "debug,mapquiz_server=trace,mapquiz_store=trace,mapquiz_domain=trace,h2=info,hyper=info,\
                      hyper_util=info,tungstenite=info,tokio_tungstenite=info,rustls=info,reqwest=info";

/// Secrets shorter than this are not recorded: a test's deliberately short or empty password would match
/// ordinary log text and say nothing.
const MIN_SECRET_LEN: usize = 8;

/// Where the logs and the secrets go.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-logs")
}

fn open(extension: &str) -> File {
    let dir = dir();
    std::fs::create_dir_all(&dir).expect("the test-logs directory");
    let path = dir.join(format!("api-{}.{extension}", std::process::id()));
    OpenOptions::new().create(true).append(true).open(path).expect("a test-logs file")
}

/// Installs the process's log capture, once; every in-process app logs through it.
pub fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(FILTER))
            .with_writer(Mutex::new(open("log")))
            .with_ansi(false)
            .try_init();
        remember("password", crate::support::PASSWORD);
    });
}

/// Records a secret the audit must not find in any log (`kind`: password, token, cookie, totp, backup, email).
pub fn remember(kind: &str, value: &str) {
    static SECRETS: OnceLock<Mutex<File>> = OnceLock::new();
    let value = value.trim();
    if value.chars().count() < MIN_SECRET_LEN || value.contains(['\n', '\t']) {
        return;
    }
    let file = SECRETS.get_or_init(|| Mutex::new(open("secrets")));
    let mut file = file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = writeln!(file, "{kind}\t{value}");
}

/// Records the secrets a JSON body carries: session tokens, TOTP secrets, backup codes, emails.
pub fn remember_in(body: &serde_json::Value) {
    use serde_json::Value;
    match body {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("token", Value::String(token)) => remember("token", token),
                    ("email", Value::String(email)) => remember("email", email),
                    ("password" | "currentPassword" | "newPassword", Value::String(p)) => remember("password", p),
                    ("totpURI", Value::String(uri)) => {
                        if let Some(secret) = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")) {
                            remember("totp", secret);
                        }
                    }
                    ("backupCodes", Value::Array(codes)) => {
                        codes.iter().filter_map(Value::as_str).for_each(|c| remember("backup", c));
                    }
                    _ => remember_in(value),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(remember_in),
        _ => {}
    }
}

/// Records a `name=value` cookie pair's value.
pub fn remember_cookie(pair: &str) {
    if let Some((_, value)) = pair.split_once('=') {
        remember("cookie", value);
        // The signed value's token part is the raw session token.
        if let Ok(decoded) = percent_encoding::percent_decode_str(value).decode_utf8()
            && let Some((token, _)) = decoded.rsplit_once('.')
        {
            remember("token", token);
        }
    }
}

/// Records a response that showed someone else's email (the audit fails on any).
pub fn record_leak(leak: &str) {
    static LEAKS: OnceLock<Mutex<File>> = OnceLock::new();
    let file = LEAKS.get_or_init(|| Mutex::new(open("leaks")));
    let mut file = file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = writeln!(file, "{}", leak.replace('\n', " "));
}
