//! A TCP proxy a test puts in front of a shared service (PostgreSQL, Redis) to cut it without stopping it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const FORWARD: u8 = 0;
const REFUSE: u8 = 1;
const STALL: u8 = 2;

/// A TCP proxy that can be cut (every connection closed, new ones refused), stalled (connections closed,
/// new ones accepted and never answered) and restored.
pub struct Proxy {
    pub address: SocketAddr,
    mode: Arc<AtomicU8>,
    generation: watch::Sender<u64>,
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
        let (flag, gen_tx) = (mode.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
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
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { address, mode, generation }
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

    pub fn restore(&self) {
        self.set(FORWARD);
    }
}
