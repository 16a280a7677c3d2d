//! One WebSocket connection (protocol §2.2–2.5): a writer task that drains the socket's bounded queue and
//! sends heartbeat pings, and the reader loop below that handles the client's messages one at a time, in
//! order, so a reply always precedes the pushes its message causes.

use crate::auth::sessions::{Authenticated, Lookup};
use crate::live::hub::{Closer, close, next_socket_id};
use crate::state::AppState;
use crate::ws::dispatch::Command;
use crate::ws::limits::{MessageLimiter, Verdict};
use crate::ws::protocol::{self, Frame, text};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::HeaderMap;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long the close handshake may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one upgraded socket until it closes.
pub async fn run(state: AppState, socket: WebSocket, credentials: HeaderMap) {
    state.ws_connections.fetch_add(1, Ordering::Relaxed);
    metrics::gauge!("ws_connections").increment(1.0);
    let (sink, stream) = socket.split();
    let (queue, outgoing) = mpsc::channel(state.config.realtime.outgoing_queue);
    let closer = Closer::default();
    let writer = tokio::spawn(write_loop(sink, outgoing, closer.clone(), state.config.realtime.ping_interval));
    let r = &state.config.realtime;
    let limiter = MessageLimiter::new(r.rate_max, r.rate_window, r.abuse_max, Instant::now());
    let mut conn =
        Connection { id: next_socket_id(), state: state.clone(), queue, closer, credentials, me: None, limiter };
    conn.send(protocol::connected());
    conn.read_loop(stream).await;

    if let Some(me) = conn.me.take()
        && state.realtime.hub.detach(&me.user.id, conn.id)
    {
        state.realtime.presence.departed(&me.user.id);
    }
    // Dropping the last sender lets the writer flush what is queued and finish.
    drop(conn);
    let _ = writer.await;
    state.ws_connections.fetch_sub(1, Ordering::Relaxed);
    metrics::gauge!("ws_connections").decrement(1.0);
}

struct Connection {
    id: u64,
    state: AppState,
    queue: mpsc::Sender<Frame>,
    closer: Closer,
    credentials: HeaderMap,
    /// Set by the first successful authentication, for the socket's lifetime.
    me: Option<Authenticated>,
    limiter: MessageLimiter,
}

/// Why implicit authentication failed.
enum NotAuthenticated {
    NoSession,
    /// The bound session expired (or was deleted) while the socket was open.
    Ended,
    Internal,
}

impl Connection {
    /// Queues a frame for this socket; a full queue means the client stopped reading: disconnect it.
    fn send(&self, frame: Frame) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(frame) {
            metrics::counter!("ws_slow_consumers_disconnected_total").increment(1);
            self.closer.close(close::POLICY_VIOLATION);
        }
    }

    async fn read_loop(&mut self, mut stream: SplitStream<WebSocket>) {
        let idle = self.state.config.realtime.idle_timeout;
        let shutdown = self.state.shutdown.clone();
        loop {
            let next = tokio::select! {
                () = self.closer.requested() => return,
                () = shutdown.cancelled() => {
                    self.closer.close(close::GOING_AWAY);
                    return;
                }
                next = tokio::time::timeout(idle, stream.next()) => next,
            };
            let message = match next {
                Err(_) => {
                    metrics::counter!("ws_idle_disconnects_total").increment(1);
                    self.closer.close(close::GOING_AWAY);
                    return;
                }
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    if is_too_big(e) {
                        self.closer.close(close::MESSAGE_TOO_BIG);
                    }
                    return;
                }
                Ok(Some(Ok(m))) => m,
            };
            match message {
                Message::Text(t) => self.on_text(t.as_str()).await,
                Message::Binary(_) => {
                    self.closer.close(close::UNSUPPORTED_DATA);
                    return;
                }
                // Any frame proves the peer alive; tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) => {}
                Message::Close(_) => return,
            }
        }
    }

    async fn on_text(&mut self, raw: &str) {
        match self.limiter.check(Instant::now()) {
            Verdict::Allow => {}
            Verdict::Drop { warn } => {
                metrics::counter!("ws_messages_dropped_total").increment(1);
                if warn {
                    self.send(protocol::error(text::TOO_MANY));
                }
                return;
            }
            Verdict::Close => {
                metrics::counter!("ws_flood_disconnects_total").increment(1);
                self.closer.close(close::POLICY_VIOLATION);
                return;
            }
        }
        let envelope = match protocol::parse(raw) {
            Ok(e) => e,
            Err(message) => return self.send(protocol::error(&message)),
        };
        match envelope.kind.as_str() {
            "ping" => self.send(protocol::pong()),
            "authenticate" => self.authenticate().await,
            kind => {
                let Some(command) = Command::parse(kind) else {
                    return self.send(protocol::error(&protocol::unsupported(kind)));
                };
                let me = match self.implicit_authentication().await {
                    Ok(me) => me,
                    Err(NotAuthenticated::NoSession) => return self.send(protocol::error(text::NOT_AUTHENTICATED)),
                    Err(NotAuthenticated::Ended) => {
                        self.send(protocol::error(text::NOT_AUTHENTICATED));
                        return self.closer.close(close::POLICY_VIOLATION);
                    }
                    Err(NotAuthenticated::Internal) => return self.send(protocol::error(text::AUTH_ERROR)),
                };
                match command.run(&self.state, &me.user, &envelope.payload).await {
                    Ok(handled) => {
                        self.send(protocol::success(kind, &handled.data));
                        self.state.realtime.bus.publish_all(handled.events);
                    }
                    Err(message) => self.send(protocol::error(&message)),
                }
            }
        }
    }

    /// `authenticate`: idempotent once bound.
    async fn authenticate(&mut self) {
        if let Some(me) = &self.me {
            return self.send(protocol::authenticated(&me.user.id));
        }
        match self.state.auth.sessions.authenticate(&self.credentials).await {
            Ok(Some(me)) => self.register(me, true).await,
            Ok(None) => self.send(protocol::authentication_failed()),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "WebSocket authentication failed");
                self.send(protocol::authentication_error());
            }
        }
    }

    /// The bound user, resolving the upgrade's credentials first when the socket has none yet.
    async fn implicit_authentication(&mut self) -> Result<Authenticated, NotAuthenticated> {
        if let Some(me) = &mut self.me {
            if me.session.expires_at > self.state.clock.now() {
                return Ok(me.clone());
            }
            // Past the expiry this socket knew: the session may have been extended since, or have ended.
            return match self.state.auth.sessions.lookup(&me.token).await {
                Ok(Lookup::Valid(current)) => {
                    me.session = current.session;
                    Ok(me.clone())
                }
                Ok(Lookup::Missing | Lookup::Expired(_)) => Err(NotAuthenticated::Ended),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "WebSocket session check failed");
                    Err(NotAuthenticated::Internal)
                }
            };
        }
        match self.state.auth.sessions.authenticate(&self.credentials).await {
            Ok(Some(me)) => {
                self.register(me.clone(), false).await;
                Ok(me)
            }
            Ok(None) => Err(NotAuthenticated::NoSession),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "WebSocket authentication failed");
                Err(NotAuthenticated::Internal)
            }
        }
    }

    /// Binds the socket to the user (once): the hub, then the reply, then presence.
    async fn register(&mut self, me: Authenticated, announce: bool) {
        let realtime = &self.state.realtime;
        let first_here =
            realtime.hub.attach(self.id, &me.user.id, &me.session.token_hash, self.queue.clone(), self.closer.clone());
        if announce {
            self.send(protocol::authenticated(&me.user.id));
        }
        let user_id = me.user.id.clone();
        self.me = Some(me);
        if first_here {
            realtime.presence.arrived(&user_id).await;
        }
    }
}

/// Whether a read failed because the message or a frame was over the size limit.
fn is_too_big(e: axum::Error) -> bool {
    e.into_inner().downcast_ref::<tungstenite::Error>().is_some_and(|t| matches!(t, tungstenite::Error::Capacity(_)))
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<Frame>,
    closer: Closer,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let message = tokio::select! {
            biased;
            () = closer.requested() => break,
            frame = outgoing.recv() => match frame {
                Some(frame) => Message::Text(frame),
                None => break,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        // A peer that stops reading blocks the send: a close request must still get through.
        let sent = tokio::select! {
            sent = sink.send(message) => sent.is_ok(),
            () = closer.requested() => false,
        };
        if !sent {
            break;
        }
    }
    if let Some(code) = closer.code() {
        // Replies and pushes queued before the close still go out (a handled message keeps its reply), then
        // the close frame; a reader too slow to take them is cut by the timeout.
        let finish = async {
            for _ in 0..outgoing.len() {
                let Ok(frame) = outgoing.try_recv() else { break };
                sink.feed(Message::Text(frame)).await?;
            }
            sink.send(Message::Close(Some(CloseFrame { code, reason: Default::default() }))).await
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, finish).await;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
}
