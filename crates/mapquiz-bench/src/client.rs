//! A thin client of the server's public API for set-up and checks (reqwest, not the hot loop): sign-up,
//! `/health/detailed`, scores, friend requests, sockets.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one expected frame may take before the run is called failed.
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// A server and an HTTP client for it.
#[derive(Clone)]
pub struct Server {
    base: String,
    http: reqwest::Client,
}

/// A signed-up user.
#[derive(Clone, Debug)]
pub struct User {
    /// The user's id.
    pub id: String,
    /// The user's friend tag.
    pub tag: String,
    /// `name=value` of the session cookie, ready for a `Cookie` header.
    pub cookie: String,
}

/// What `/health/detailed` says about the node.
pub struct Health {
    /// Resident memory, bytes.
    pub rss: u64,
    /// Open WebSocket connections.
    pub ws_connections: u64,
    /// Authenticated sockets.
    pub sockets: u64,
    /// Users with a socket.
    pub users: u64,
}

impl Server {
    /// A client for the server at `base` (`http://host:port`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().build().context("HTTP client")?;
        Ok(Server { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// Signs up a user with a unique email.
    pub async fn sign_up(&self, name: String) -> anyhow::Result<User> {
        let email = format!("bench-{}@bench.mapquiz.invalid", uuid::Uuid::now_v7().simple());
        let res = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.base))
            .json(&json!({"name": name, "email": email, "password": "bench password 123"}))
            .send()
            .await?;
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.contains("session_token="))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
            .context("sign-up set no session cookie")?;
        let status = res.status();
        let body: Value = res.json().await?;
        if !status.is_success() {
            bail!("sign-up failed: {status} {body}");
        }
        let field = |k: &str| body["user"][k].as_str().map(str::to_owned).context("sign-up answer without user");
        Ok(User { id: field("id")?, tag: field("tag")?, cookie })
    }

    /// The node's health details.
    pub async fn health(&self) -> anyhow::Result<Health> {
        let body: Value = self.http.get(format!("{}/health/detailed", self.base)).send().await?.json().await?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let checks = &body["checks"];
        Ok(Health {
            rss: n(&checks["memory"]["rss"]),
            ws_connections: n(&checks["wsConnections"]),
            sockets: n(&checks["realtime"]["sockets"]),
            users: n(&checks["realtime"]["users"]),
        })
    }

    /// Sends a friend request from `user` to the holder of `tag` over HTTP; a request back from the other
    /// side makes them friends at once (the mutual case).
    pub async fn add_friend(&self, user: &User, tag: &str) -> anyhow::Result<()> {
        let res = self
            .http
            .post(format!("{}/api/friends/add", self.base))
            .header("cookie", &user.cookie)
            .json(&json!({"tag": tag}))
            .send()
            .await?;
        let status = res.status();
        if !status.is_success() {
            let body = res.text().await.unwrap_or_default();
            bail!("friend request failed: {status} {body}");
        }
        Ok(())
    }

    /// Posts `n` valid solo scores for `user`.
    pub async fn post_scores(&self, user: &User, n: u64) -> anyhow::Result<()> {
        for _ in 0..n {
            let res = self
                .http
                .post(format!("{}/api/scores", self.base))
                .header("cookie", &user.cookie)
                .json(&crate::http::score_body())
                .send()
                .await?;
            let status = res.status();
            if !status.is_success() {
                let body = res.text().await.unwrap_or_default();
                bail!("posting a score failed: {status} {body}");
            }
        }
        Ok(())
    }

    /// The user's stored solo games (`totalGames` of `/api/scores/stats`, an exact count).
    pub async fn total_games(&self, user: &User) -> anyhow::Result<u64> {
        let res =
            self.http.get(format!("{}/api/scores/stats", self.base)).header("cookie", &user.cookie).send().await?;
        let body: Value = res.error_for_status()?.json().await?;
        body["totalGames"].as_u64().context("stats without totalGames")
    }

    /// The `/metrics` text (Prometheus exposition format).
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let res = self.http.get(format!("{}/metrics", self.base)).send().await?;
        Ok(res.error_for_status()?.text().await?)
    }

    /// The id of the pending request `sender_id` sent to `user`.
    pub async fn pending_request_from(&self, user: &User, sender_id: &str) -> anyhow::Result<String> {
        let body: Value = self
            .http
            .get(format!("{}/api/friends/requests", self.base))
            .header("cookie", &user.cookie)
            .send()
            .await?
            .json()
            .await?;
        body["friendRequests"]
            .as_array()
            .and_then(|list| list.iter().find(|r| r["senderId"] == sender_id))
            .and_then(|r| r["id"].as_str())
            .map(str::to_owned)
            .context("the request is not listed")
    }

    /// An authenticated socket for `user`.
    pub async fn socket(&self, user: &User) -> anyhow::Result<Socket> {
        self.socket_from(user, None).await
    }

    /// An authenticated socket for `user`, its TCP connection bound to the local address `source` if given
    /// (spreading many sockets over 127.0.0.x gives each address its own range of ephemeral ports).
    pub async fn socket_from(&self, user: &User, source: Option<IpAddr>) -> anyhow::Result<Socket> {
        let ws_url = format!("{}/ws", self.base.replacen("http", "ws", 1));
        let mut request = ws_url.into_client_request()?;
        request.headers_mut().insert("cookie", user.cookie.parse()?);
        // Tungstenite reads into a 128 KiB buffer per socket by default; the server's frames are small, and
        // ws-connect holds tens of thousands of sockets on the machine it measures.
        let config = Some(WebSocketConfig::default().read_buffer_size(8 * 1024));
        let stream = match source {
            None => tokio_tungstenite::connect_async_with_config(request, config, true).await?.0,
            Some(ip) => {
                let authority = self.base.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default();
                let addr = tokio::net::lookup_host(authority).await?.next().context("the server has no address")?;
                let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
                socket.bind((ip, 0).into())?;
                let tcp = socket.connect(addr).await?;
                tcp.set_nodelay(true)?;
                tokio_tungstenite::client_async_with_config(request, MaybeTlsStream::Plain(tcp), config).await?.0
            }
        };
        let mut socket = Socket { stream };
        socket.expect("connected").await?;
        socket.send(json!({"type": "authenticate"})).await?;
        socket.expect("authenticated").await?;
        Ok(socket)
    }
}

/// An open socket.
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) -> anyhow::Result<()> {
        self.stream.send(Message::text(message.to_string())).await.context("send")
    }

    /// Reads frames until one of type `kind`; fails on an `error` frame, a close or the timeout.
    pub async fn expect(&mut self, kind: &str) -> anyhow::Result<Value> {
        let read = async {
            while let Some(frame) = self.stream.next().await {
                if let Message::Text(t) = frame? {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    if v["type"] == kind {
                        return Ok(v);
                    }
                    if v["type"] == "error" {
                        bail!("the server answered an error: {v}");
                    }
                }
            }
            bail!("the socket closed while waiting for {kind}")
        };
        tokio::time::timeout(FRAME_TIMEOUT, read)
            .await
            .with_context(|| format!("no {kind} within {FRAME_TIMEOUT:?}"))?
    }

    /// Reads frames until one for which `wanted` holds, answering pings; `None` when `within` passes first.
    /// Fails when the socket closes.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Option<Value>> {
        let read = async {
            loop {
                match self.next_json().await {
                    Some(Ok(v)) if wanted(&v) => return Ok(v),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => bail!("the socket closed"),
                }
            }
        };
        match tokio::time::timeout(within, read).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Closes the socket with a close frame.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.stream.close(None).await.context("close")
    }

    /// The next text frame as JSON; `None` once the socket is closed. Pings are answered while reading.
    pub async fn next_json(&mut self) -> Option<anyhow::Result<Value>> {
        loop {
            match self.stream.next().await? {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).context("frame JSON")),
                Ok(Message::Close(_)) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    /// Reads (and drops) frames until the socket closes, answering pings.
    pub async fn drain(mut self) {
        while let Some(Ok(_)) = self.stream.next().await {}
    }
}
