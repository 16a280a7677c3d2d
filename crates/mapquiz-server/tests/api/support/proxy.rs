//! A TCP proxy a test puts in front of a shared service (PostgreSQL, Redis) to cut it without stopping it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const FORWARD: u8 = 0;
const REFUSE: u8 = 1;
const STALL: u8 = 2;

/// A TCP proxy that can be cut (every connection closed, new ones refused), stalled (connections closed,
/// new ones accepted and never answered), slowed (every chunk held for a while, open connections included)
/// and restored.
pub struct Proxy {
    pub address: SocketAddr,
    mode: Arc<AtomicU8>,
    generation: watch::Sender<u64>,
    /// How long each chunk waits before it is passed on, in milliseconds (0: at once).
    delay_ms: Arc<AtomicU64>,
}

impl Proxy {
    /// A proxy in front of the Redis at `url`, and the `redis://` URL that goes through it.
    pub async fn in_front_of_redis(url: &str) -> (Proxy, String) {
        let parsed = url::Url::parse(url).unwrap();
        let upstream = tokio::net::lookup_host((parsed.host_str().unwrap(), parsed.port().unwrap_or(6379)))
            .await
            .unwrap()
            .next()
            .unwrap();
        let proxy = Proxy::start(upstream).await;
        let through = format!("redis://{}", proxy.address);
        (proxy, through)
    }

    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let (generation, _) = watch::channel(0u64);
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (flag, gen_tx, delay) = (mode.clone(), generation.clone(), delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut cut = gen_tx.subscribe();
                match flag.load(Ordering::SeqCst) {
                    REFUSE => continue, // dropping the socket refuses the connection
                    STALL => {
                        // Hold the socket open, say nothing, until the next mode change.
                        tokio::spawn(async move {
                            let _ = cut.changed().await;
                            drop(client);
                        });
                        continue;
                    }
                    _ => {}
                }
                let delay = delay.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let ((client_in, client_out), (server_in, server_out)) = (client.into_split(), server.into_split());
                    let both = async {
                        tokio::join!(pump(client_in, server_out, delay.clone()), pump(server_in, client_out, delay))
                    };
                    tokio::select! {
                        _ = both => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { address, mode, generation, delay_ms }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn cut(&self) {
        self.set(REFUSE);
    }

    pub fn stall(&self) {
        self.set(STALL);
    }

    /// Holds every chunk, both ways, for `delay` before passing it on, on open connections too (a database
    /// that answers slowly); `Duration::ZERO` lifts the delay without closing anything.
    pub fn slow(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Forwards again, at once: connections are closed, new ones pass.
    pub fn restore(&self) {
        self.delay_ms.store(0, Ordering::SeqCst);
        self.set(FORWARD);
    }
}

/// Copies `from` into `to`, each chunk after the proxy's current delay, until either side closes.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay_ms: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        let delay = delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
