//! One WebSocket connection (protocol §2.2–2.5): a writer task that drains the socket's bounded queue and
//! sends heartbeat pings, and the reader loop below that handles the client's messages one at a time, in
//! order, so a reply always precedes the pushes its message causes.

use crate::auth::sessions::{Authenticated, Lookup};
use crate::http::meta::RequestMeta;
use crate::live::hub::next_socket_id;
use crate::live::outbox::{Closer, Outbox, OutboxReader, close, outbox};
use crate::state::AppState;
use crate::ws::limits::{MessageLimiter, UnauthenticatedSlot, Verdict};
use crate::ws::messages;
use crate::ws::protocol::incoming::{Handled, Incoming};
use crate::ws::protocol::{self, Frame, text};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::HeaderMap;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use mapquiz_store::StoreError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How long the close handshake may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// A frame the peer has not taken within this long marks a reader too slow to keep.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Bytes queued for one socket, at most (frames are counted separately by `ws_outgoing_queue`).
const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// Serves one upgraded socket until it closes; `meta` (the upgrade's client IP and user agent) goes to the audit;
/// `slot` is its place among its IP's unauthenticated sockets, given back when it authenticates or closes.
pub async fn run(
    state: AppState,
    socket: WebSocket,
    credentials: HeaderMap,
    meta: RequestMeta,
    slot: Option<UnauthenticatedSlot>,
) {
    state.ws_connections.fetch_add(1, Ordering::Relaxed);
    metrics::gauge!("ws_connections").increment(1.0);
    let (sink, stream) = socket.split();
    let closer = Closer::default();
    let (outbox, outgoing) = outbox(state.config.realtime.outgoing_queue, MAX_QUEUED_BYTES, closer.clone());
    let writer = tokio::spawn(write_loop(sink, outgoing, closer.clone(), state.config.realtime.ping_interval));
    let r = &state.config.realtime;
    let limiter = MessageLimiter::new(r.rate_max, r.rate_window, r.abuse_max, Instant::now());
    let mut conn = Connection {
        id: next_socket_id(),
        state: state.clone(),
        outbox,
        closer,
        credentials,
        meta,
        me: None,
        limiter,
        unauthenticated: slot,
    };
    conn.send(protocol::connected());
    conn.read_loop(stream).await;
    // The reader is done (the peer closed, failed or was told to go): the writer must not outlive it, even
    // when it is blocked on a peer that stopped reading.
    conn.closer.stop();

    if let Some(me) = conn.me.take()
        // Boxed, as the message handling below: only a closing socket needs this future's room.
        && Box::pin(state.realtime.detach(&me.user.id, conn.id)).await
    {
        state.realtime.lifecycle.last_socket_closed(&me.user.id);
    }
    drop(conn);
    let _ = writer.await;
    state.ws_connections.fetch_sub(1, Ordering::Relaxed);
    metrics::gauge!("ws_connections").decrement(1.0);
}

struct Connection {
    id: u64,
    state: AppState,
    outbox: Outbox,
    closer: Closer,
    /// The upgrade's credentials, until the socket is bound to a user.
    credentials: HeaderMap,
    meta: RequestMeta,
    /// Set by the first successful authentication, for the socket's lifetime.
    me: Option<Authenticated>,
    limiter: MessageLimiter,
    /// Held until the socket is bound to a user (per-IP limit on unauthenticated sockets).
    unauthenticated: Option<UnauthenticatedSlot>,
}

/// Why implicit authentication failed.
enum NotAuthenticated {
    NoSession,
    /// The bound session expired (or was deleted) while the socket was open.
    Ended,
    Internal,
}

impl Connection {
    /// Queues a frame for this socket.
    fn send(&self, frame: Frame) {
        self.outbox.send(frame);
    }

    async fn read_loop(&mut self, mut stream: SplitStream<WebSocket>) {
        let idle = self.state.config.realtime.idle_timeout;
        let shutdown = self.state.shutdown.clone();
        let mut heard_at = tokio::time::Instant::now();
        let every = self.state.config.realtime.session_check;
        let mut recheck = tokio::time::interval_at(heard_at + every, every);
        loop {
            let next = tokio::select! {
                () = self.closer.requested() => return,
                () = shutdown.cancelled() => {
                    self.closer.close(close::GOING_AWAY);
                    return;
                }
                () = tokio::time::sleep_until(heard_at + idle) => {
                    metrics::counter!("ws_idle_disconnects_total").increment(1);
                    self.closer.close(close::GOING_AWAY);
                    return;
                }
                _ = recheck.tick() => {
                    if !Box::pin(self.session_still_valid()).await {
                        self.closer.close(close::POLICY_VIOLATION);
                        return;
                    }
                    continue;
                }
                next = stream.next() => next,
            };
            heard_at = tokio::time::Instant::now();
            let message = match next {
                None => return,
                Some(Err(e)) => {
                    if let Some(code) = close_code_for(e) {
                        self.closer.close(code);
                    }
                    return;
                }
                Some(Ok(m)) => m,
            };
            match message {
                // Boxed: the handling future (authentication, store lookups) is large, and inlined here it
                // would be part of every idle socket's task for the socket's whole life.
                Message::Text(t) => Box::pin(self.on_text(t.as_str())).await,
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

    /// Whether the bound session (if any) still exists; a store failure gives it the benefit of the doubt.
    async fn session_still_valid(&mut self) -> bool {
        self.recheck_session().await.unwrap_or(true)
    }

    /// Looks the bound session up again (it may have been extended, or have ended): `Ok(false)` when it
    /// ended; `Ok(true)` with no session bound.
    async fn recheck_session(&mut self) -> Result<bool, StoreError> {
        let Some(me) = &mut self.me else { return Ok(true) };
        let found = self.state.auth.sessions.lookup(&me.token).await.inspect_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "WebSocket session check failed");
        })?;
        match found {
            Lookup::Valid(current) => {
                me.session = current.session;
                Ok(true)
            }
            Lookup::Missing | Lookup::Expired(_) => Ok(false),
        }
    }

    /// The session the upgrade's credentials name, if any.
    async fn resolve_credentials(&self) -> Result<Option<Authenticated>, StoreError> {
        self.state.auth.sessions.authenticate(&self.credentials).await.inspect_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "WebSocket authentication failed");
        })
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
            Err(message) => {
                metrics::counter!("ws_messages_received_total", "type" => "invalid").increment(1);
                return self.send(protocol::error(&message));
            }
        };
        // Only the types the gateway knows become labels; anything a client invents is "unknown".
        let label = match envelope.kind.as_str() {
            "ping" => "ping",
            "authenticate" => "authenticate",
            kind => messages::find(kind).map_or("unknown", |m| m.kind),
        };
        metrics::counter!("ws_messages_received_total", "type" => label).increment(1);
        match envelope.kind.as_str() {
            "ping" => self.send(protocol::pong()),
            "authenticate" => self.authenticate().await,
            kind => {
                let Some(message) = messages::find(kind) else {
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
                let span = tracing::info_span!("ws_message", r#type = label, user_id = %me.user.id);
                let started = Instant::now();
                let incoming = Incoming {
                    state: &self.state,
                    me: &me.user,
                    payload: &envelope.payload,
                    meta: &self.meta,
                    outbox: &self.outbox,
                };
                let outcome = (message.handle)(incoming).instrument(span.clone()).await;
                span.in_scope(|| {
                    tracing::debug!(
                        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                        ok = outcome.is_ok(),
                        "handled"
                    )
                });
                match outcome {
                    Ok(Handled::Reply { data, events }) => {
                        self.send(protocol::success(kind, &data));
                        self.state.realtime.bus.publish_all(events);
                    }
                    Ok(Handled::Sent) => {}
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
        match self.resolve_credentials().await {
            Ok(Some(me)) => self.register(me, true).await,
            Ok(None) => self.send(protocol::authentication_failed()),
            Err(_) => self.send(protocol::authentication_error()),
        }
    }

    /// The bound user, resolving the upgrade's credentials first when the socket has none yet.
    async fn implicit_authentication(&mut self) -> Result<Authenticated, NotAuthenticated> {
        if let Some(me) = &self.me {
            // Past the expiry this socket knew, the session may have been extended since, or have ended.
            if me.session.expires_at <= self.state.clock.now() {
                match self.recheck_session().await {
                    Ok(true) => {}
                    Ok(false) => return Err(NotAuthenticated::Ended),
                    Err(_) => return Err(NotAuthenticated::Internal),
                }
            }
            return self.me.clone().ok_or(NotAuthenticated::NoSession);
        }
        match self.resolve_credentials().await {
            Ok(Some(me)) => {
                self.register(me.clone(), false).await;
                Ok(me)
            }
            Ok(None) => Err(NotAuthenticated::NoSession),
            Err(_) => Err(NotAuthenticated::Internal),
        }
    }

    /// Binds the socket to the user (once): the reply, then the hub (which closes it at once if its session
    /// was revoked since the lookup), then the lifecycle's subscribers (presence, …), whose pushes so follow
    /// the reply.
    async fn register(&mut self, me: Authenticated, announce: bool) {
        if announce {
            self.send(protocol::authenticated(&me.user.id));
        }
        let realtime = &self.state.realtime;
        let first_here = realtime.attach(self.id, &me.user.id, &me.session.token_hash, self.outbox.clone()).await;
        let user_id = me.user.id.clone();
        tracing::Span::current().record("user_id", user_id.as_str());
        self.me = Some(me);
        // Bound for life: the upgrade's credentials are never read again, so an idle socket does not keep them.
        self.credentials = HeaderMap::new();
        self.unauthenticated = None;
        realtime.lifecycle.socket_authenticated(&user_id, first_here).await;
    }
}

/// Whether a read failed because the message or a frame was over the size limit.
/// A text frame that is not UTF-8 (RFC 6455 §7.4.1, "invalid frame payload data").
const INVALID_PAYLOAD: u16 = 1007;
/// A frame that breaks the WebSocket framing rules (a stray continuation, a fragmented control frame…).
const PROTOCOL_ERROR: u16 = 1002;

/// The close code a failed read earns, or `None` when the peer is gone and there is no one to tell. Without
/// a close frame, a client that sent a bad frame only sees its connection cut (RFC 6455 §7.1.7 asks for one).
fn close_code_for(e: axum::Error) -> Option<u16> {
    use tungstenite::error::ProtocolError;
    match e.into_inner().downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some(close::MESSAGE_TOO_BIG),
        tungstenite::Error::Utf8(_) => Some(INVALID_PAYLOAD),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(_) => Some(PROTOCOL_ERROR),
        _ => None,
    }
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut outgoing: OutboxReader,
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
        // A peer that stops reading blocks the send: a close request must still get through, and a send
        // that does not complete in time marks the peer too slow to keep.
        let sent = tokio::select! {
            sent = sink.send(message) => sent.is_ok(),
            () = closer.requested() => false,
            () = tokio::time::sleep(WRITE_STALL) => {
                metrics::counter!("ws_slow_consumers_disconnected_total").increment(1);
                closer.close(close::POLICY_VIOLATION);
                false
            }
        };
        if !sent {
            break;
        }
    }
    if let Some(code) = closer.code() {
        // Replies and pushes queued before the close still go out (a handled message keeps its reply), then
        // the close frame; a reader too slow to take them is cut by the timeout.
        let queued = outgoing.drain_now();
        let finish = async {
            for frame in queued {
                sink.feed(Message::Text(frame)).await?;
            }
            sink.send(Message::Close(Some(CloseFrame { code, reason: Default::default() }))).await
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, finish).await;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
}
