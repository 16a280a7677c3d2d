//! The `ceiling` server: a minimal axum app answering any GET with a small JSON body, no middleware, on the
//! default multi-thread runtime. `http --mix livez` against it measures what this machine's HTTP stack and
//! the bench can do at best, in the same conditions as a run against MapQuiz.

use anyhow::Context;
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The answer to every request.
const BODY: &str = r#"{"status":"ok"}"#;

/// Binds `127.0.0.1:port` (0: any free port) and returns the address and the server, to be awaited.
pub async fn bind(
    host: &str,
    port: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = anyhow::Result<()>>)> {
    let listener = TcpListener::bind((host, port)).await.with_context(|| format!("binding {host}:{port}"))?;
    let addr = listener.local_addr().context("local address")?;
    let answer = || async { ([(CONTENT_TYPE, "application/json")], BODY) };
    let app = Router::new().route("/", get(answer)).route("/{*path}", get(answer));
    let serve = async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("serving") };
    Ok((addr, serve))
}
