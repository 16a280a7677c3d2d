//! One socket's outgoing queue, bounded in frames and in bytes: queueing never waits, and a client that falls
//! behind (its queue full) is disconnected rather than allowed to grow the server's memory.

use crate::ws::protocol::Frame;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// WebSocket close codes the gateway uses.
pub mod close {
    /// Server shutting down, or the peer went silent.
    pub const GOING_AWAY: u16 = 1001;
    /// Binary frame.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Session ended, too many sockets, flooding, or too slow a reader.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// Message over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

/// Asks a socket's tasks to stop, with a close code or without one (the first code asked for wins).
#[derive(Clone, Debug, Default)]
pub struct Closer {
    token: CancellationToken,
    code: Arc<AtomicU16>,
}

impl Closer {
    /// Requests a close with `code`.
    pub fn close(&self, code: u16) {
        let _ = self.code.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        self.token.cancel();
    }

    /// Stops the tasks without sending a close frame (the peer is gone or closed first).
    pub fn stop(&self) {
        self.token.cancel();
    }

    /// Resolves once a stop or close was requested.
    pub async fn requested(&self) {
        self.token.cancelled().await;
    }

    /// Whether a stop or close was requested.
    pub fn is_requested(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The requested close code (`None` before any request, or after a plain stop).
    pub fn code(&self) -> Option<u16> {
        match self.code.load(Ordering::Acquire) {
            0 => None,
            c => Some(c),
        }
    }
}

/// The sending side, shared by the connection and the hub.
#[derive(Clone, Debug)]
pub struct Outbox {
    queue: mpsc::Sender<Frame>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    closer: Closer,
}

/// The writer's side.
#[derive(Debug)]
pub struct OutboxReader {
    queue: mpsc::Receiver<Frame>,
    bytes: Arc<AtomicUsize>,
}

/// A queue of at most `frames` frames and `max_bytes` bytes, closing through `closer` when it overflows.
pub fn outbox(frames: usize, max_bytes: usize, closer: Closer) -> (Outbox, OutboxReader) {
    let (tx, rx) = mpsc::channel(frames.max(1));
    let bytes = Arc::new(AtomicUsize::new(0));
    (Outbox { queue: tx, bytes: bytes.clone(), max_bytes, closer }, OutboxReader { queue: rx, bytes })
}

impl Outbox {
    /// Queues a frame; an overflow disconnects the socket (1008), a finished socket ignores it.
    pub fn send(&self, frame: Frame) {
        let len = frame.len();
        if self.bytes.fetch_add(len, Ordering::AcqRel) + len > self.max_bytes {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            return self.overflow();
        }
        let kind = frame_type(&frame);
        match self.queue.try_send(frame) {
            Ok(()) => metrics::counter!("ws_messages_sent_total", "type" => kind).increment(1),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.bytes.fetch_sub(len, Ordering::AcqRel);
                self.overflow();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.bytes.fetch_sub(len, Ordering::AcqRel);
            }
        }
    }

    fn overflow(&self) {
        if !self.closer.is_requested() {
            metrics::counter!("ws_slow_consumers_disconnected_total").increment(1);
            tracing::info!("outgoing queue full: disconnecting a slow reader");
        }
        self.closer.close(close::POLICY_VIOLATION);
    }

    /// The socket's closer.
    pub fn closer(&self) -> &Closer {
        &self.closer
    }
}

/// The `type` of a server frame: every frame the server builds starts with it (`{"type":"…"`), and the set of
/// types is the server's own, so the label stays bounded.
fn frame_type(frame: &Frame) -> String {
    frame
        .as_str()
        .strip_prefix(r#"{"type":""#)
        .and_then(|rest| rest.split('"').next())
        .filter(|t| t.len() <= 64)
        .unwrap_or("other")
        .to_owned()
}

impl OutboxReader {
    /// The next frame; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Frame> {
        let frame = self.queue.recv().await?;
        self.bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        Some(frame)
    }

    /// The frames queued now, without waiting.
    pub fn drain_now(&mut self) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(self.queue.len());
        while let Ok(frame) = self.queue.try_recv() {
            self.bytes.fetch_sub(frame.len(), Ordering::AcqRel);
            frames.push(frame);
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_label_comes_from_the_frame() {
        assert_eq!(frame_type(&crate::ws::protocol::pong()), "pong");
        assert_eq!(frame_type(&crate::ws::protocol::success("ping", &1)), "ping_success");
        assert_eq!(frame_type(&"[]".into()), "other");
    }

    #[test]
    fn too_many_frames_disconnect() {
        let closer = Closer::default();
        let (out, mut reader) = outbox(2, 1 << 20, closer.clone());
        out.send("1".into());
        out.send("2".into());
        assert!(!closer.is_requested());
        out.send("3".into());
        assert_eq!(closer.code(), Some(close::POLICY_VIOLATION));
        assert_eq!(reader.drain_now().len(), 2);
    }

    #[test]
    fn too_many_bytes_disconnect_and_reading_frees_them() {
        let closer = Closer::default();
        let (out, mut reader) = outbox(100, 10, closer.clone());
        out.send("12345".into());
        out.send("12345".into());
        assert_eq!(reader.drain_now().len(), 2, "the budget is back once read");
        out.send("1234567890".into());
        assert!(!closer.is_requested());
        out.send("1".into());
        assert_eq!(closer.code(), Some(close::POLICY_VIOLATION));
    }

    #[test]
    fn the_first_close_code_wins_and_a_stop_sends_none() {
        let c = Closer::default();
        c.close(close::MESSAGE_TOO_BIG);
        c.close(close::GOING_AWAY);
        assert_eq!(c.code(), Some(close::MESSAGE_TOO_BIG));
        let quiet = Closer::default();
        quiet.stop();
        assert!(quiet.is_requested());
        assert_eq!(quiet.code(), None);
    }
}
