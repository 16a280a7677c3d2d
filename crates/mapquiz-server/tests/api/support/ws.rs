//! A real WebSocket client for the gateway tests (tokio-tungstenite), with the waits the tests need and the
//! protocol's messages as verbs (`ws.send_friend_request(tag)`, `ws.expect("type")`).

use crate::support::{TestApp, TestUser, is_timestamp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// One client socket.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens `/ws` on `address` with extra request headers; the handshake's error on refusal.
pub async fn open(address: SocketAddr, headers: &[(&str, &str)]) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{address}/ws").into_client_request()?;
    for (name, value) in headers {
        request
            .headers_mut()
            .append(tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let (stream, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Ws { stream })
}

impl Ws {
    /// Opens a socket carrying `cookie` (if any) and checks the `connected` frame.
    pub async fn connect(address: SocketAddr, cookie: Option<&str>) -> Ws {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        let mut ws = open(address, &headers).await.expect("the upgrade succeeds");
        assert_eq!(ws.recv().await, json!({"type": "connected", "data": {"message": "Connexion WebSocket établie"}}));
        ws
    }

    /// A socket for `user` (cookie) on the server at `address` (any node), authenticated and registered.
    pub async fn signed_in(address: SocketAddr, user: &TestUser) -> Ws {
        let mut ws = Ws::connect(address, Some(&user.cookie)).await;
        ws.authenticate(&user.id).await;
        // The socket's registration (presence and its pushes) finishes before the next message is handled:
        // a ping round trip keeps it from racing with what the test does next.
        ws.settled().await;
        ws
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.expect("frame sent");
    }

    /// The next text frame as JSON (ping/pong frames skipped); panics after [`WAIT`].
    pub async fn recv(&mut self) -> Value {
        match tokio::time::timeout(WAIT, self.next_text()).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("the socket closed while a frame was expected"),
            Err(_) => panic!("no frame within {WAIT:?}"),
        }
    }

    async fn next_text(&mut self) -> Option<Value> {
        loop {
            match self.stream.next().await? {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).expect("frames are JSON")),
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Ok(Message::Binary(_)) => panic!("the server sent a binary frame"),
                Ok(Message::Close(_)) | Err(_) => return None,
            }
        }
    }

    /// The next frame, which must have this `type`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let v = self.recv().await;
        assert_eq!(v["type"], kind, "expected a {kind} frame, got {v}");
        v
    }

    /// Sends `message` and returns the next frame.
    pub async fn request(&mut self, message: Value) -> Value {
        self.send(message).await;
        self.recv().await
    }

    /// Asserts that no text frame arrives for `d`.
    pub async fn silent_for(&mut self, d: Duration) {
        if let Ok(Some(v)) = tokio::time::timeout(d, self.next_text()).await {
            panic!("expected silence, got {v}");
        }
    }

    /// Waits for the server to close the socket; its close code (`None`: closed without a close frame).
    pub async fn closed(&mut self) -> Option<u16> {
        let wait = async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return None,
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.expect("the server closes the socket")
    }

    /// Sends `authenticate` and expects `authenticated` for `user_id`.
    pub async fn authenticate(&mut self, user_id: &str) {
        let reply = self.request(json!({"type": "authenticate", "payload": {"userId": user_id}})).await;
        assert_eq!(reply, json!({"type": "authenticated", "data": {"userId": user_id}}));
    }

    /// `send_friend_request {receiverTag}`: the reply (`send_friend_request_success` or `error`).
    pub async fn send_friend_request(&mut self, receiver_tag: &str) -> Value {
        self.request(json!({"type": "send_friend_request", "payload": {"receiverTag": receiver_tag}})).await
    }

    /// `respond_friend_request {requestId, action}`: the reply (`respond_friend_request_success` or `error`).
    pub async fn respond_friend_request(&mut self, request_id: &str, action: &str) -> Value {
        self.request(json!({"type": "respond_friend_request", "payload": {"requestId": request_id, "action": action}}))
            .await
    }

    /// The next frame must be `friend_status_change` for `friend` with `online`, exactly of the protocol's
    /// shape; its `lastSeen`.
    pub async fn expect_friend_status(&mut self, friend: &TestUser, online: bool) -> String {
        let frame = self.expect("friend_status_change").await;
        let payload = &frame["payload"];
        assert_eq!(payload["friendId"], friend.id.as_str(), "{frame}");
        assert_eq!(payload["isOnline"], online, "{frame}");
        let last_seen = payload["lastSeen"].as_str().unwrap_or_else(|| panic!("lastSeen is a string: {frame}"));
        assert!(is_timestamp(last_seen), "{frame}");
        assert_eq!(frame.as_object().unwrap().len(), 2, "only type and payload: {frame}");
        assert_eq!(payload.as_object().unwrap().len(), 3, "{frame}");
        last_seen.to_owned()
    }

    /// Closes from the client side (normal closure).
    pub async fn close(mut self) {
        let _ = self
            .stream
            .close(Some(tungstenite::protocol::CloseFrame { code: CloseCode::Normal, reason: "".into() }))
            .await;
        // Drain until the server's close answer, so the server has seen the close when this returns.
        let _ = tokio::time::timeout(WAIT, async { while let Some(Ok(_)) = self.stream.next().await {} }).await;
    }
}

impl TestApp {
    /// A socket for `user` (cookie), authenticated and registered.
    pub async fn ws(&self, user: &TestUser) -> Ws {
        Ws::signed_in(self.address, user).await
    }
}

impl Ws {
    /// Waits until the server has finished everything the earlier messages caused (registration's presence
    /// pushes included): a socket's messages are handled one at a time, so a `pong` comes after all that.
    pub async fn settled(&mut self) {
        assert_eq!(self.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    }

    /// Sends every text frame in one write (queued, then flushed once), so they reach the server together.
    /// Errors are ignored: a server that closes mid-batch is what some tests provoke.
    pub async fn send_batch(&mut self, texts: &[String]) {
        for t in texts {
            if self.stream.feed(Message::text(t.as_str())).await.is_err() {
                return;
            }
        }
        let _ = self.stream.flush().await;
    }

    /// Every text frame until the server closes, and the close code (`None`: no close frame); panics
    /// after [`WAIT`].
    pub async fn frames_until_close(&mut self) -> (Vec<Value>, Option<u16>) {
        let mut frames = Vec::new();
        let wait = async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Text(t))) => {
                        frames.push(serde_json::from_str(t.as_str()).expect("frames are JSON"))
                    }
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return None,
                }
            }
        };
        let code = tokio::time::timeout(WAIT, wait).await.expect("the server closes the socket");
        (frames, code)
    }
}

/// Polls `condition` every 20 ms for up to [`WAIT`]; whether it became true.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
