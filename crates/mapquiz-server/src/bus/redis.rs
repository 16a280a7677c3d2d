//! The bus between nodes over Redis pub/sub: one channel (`<prefix>bus`), each message
//! `{"node": <sender>, "event": …}`.
//!
//! fred reconnects both connections by itself and the subscriber re-subscribes after each reconnection.
//! Publishing goes through a bounded queue to one task, so a slow or absent Redis never holds up a request:
//! the queue overflows (counted, warned) and this node keeps delivering to its own sockets.
//!
//! **On a Redis Cluster** this stays classic PUBLISH/SUBSCRIBE, not sharded pub/sub (SPUBLISH/SSUBSCRIBE):
//! a cluster forwards every PUBLISH to every node over its bus, so a subscriber hears the channel whichever
//! node it is connected to (fred sends a client's SUBSCRIBE to the node owning the slot of the client's id,
//! and a PUBLISH to the node owning the channel name's slot: usually two different nodes). Sharding
//! would keep the messages inside the shard that owns the channel's slot, which helps when traffic is spread
//! over many channels; here every node must hear every event on one channel, so one shard would carry it
//! all anyway, and sharded subscriptions are dropped by the server when that slot moves during a
//! resharding. Classic pub/sub also works unchanged on one server and behind Sentinel.

use super::{Event, deliver};
use crate::config::RedisUrl;
use crate::live::hub::Hub;
use crate::redis_keys::RedisKeys;
use anyhow::Context;
use fred::clients::SubscriberClient;
use fred::prelude::{
    Builder, Client, ClientLike, Config as RedisConfig, EventInterface, PubsubInterface, ReconnectPolicy,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events waiting to be published; past this, new ones reach this node only.
const PUBLISH_QUEUE: usize = 4096;
/// Most events sent in one pipelined round trip.
const PUBLISH_BATCH: usize = 256;
/// Bound on one Redis command.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// A message on the channel; the event is borrowed when sending, owned when received.
#[derive(Serialize, Deserialize)]
struct Envelope<'a, E> {
    node: &'a str,
    event: E,
}

/// The Redis side of the bus.
pub struct RedisBus {
    queue: mpsc::Sender<String>,
    node_id: Arc<str>,
    publisher: Client,
    /// `None` on a node that only publishes.
    subscriber: Option<SubscriberClient>,
    tasks: Vec<JoinHandle<()>>,
    failing: Arc<AtomicBool>,
}

/// A fred client with the server's reconnection and timeout policy.
pub fn builder(url: &RedisUrl) -> anyhow::Result<Builder> {
    let config = RedisConfig::from_url(url.expose().as_str()).context("unusable Redis URL")?;
    let mut builder = Builder::from_config(config);
    builder
        .with_performance_config(|p| {
            p.default_command_timeout = COMMAND_TIMEOUT;
            // fred's default (32) drops bus messages under a burst before the listener task reads them.
            p.broadcast_channel_capacity = 4096;
        })
        .with_connection_config(|c| c.connection_timeout = Duration::from_secs(2))
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
    Ok(builder)
}

impl RedisBus {
    /// Connects; when `listen`, also subscribes to the bus channel of `keys` and delivers other nodes' events
    /// to `hub`. A node holding no sockets (roles `api` and `worker`) only publishes: every event would reach
    /// an empty hub.
    pub async fn connect(
        url: &RedisUrl,
        keys: &RedisKeys,
        node_id: Arc<str>,
        hub: Arc<Hub>,
        listen: bool,
    ) -> anyhow::Result<Self> {
        let channel = keys.bus_channel();
        let b = builder(url)?;
        let publisher = b.build().context("cannot build the Redis client")?;
        publisher.init().await.with_context(|| format!("cannot connect to Redis at {}", url.redacted()))?;
        let mut tasks = Vec::new();
        let subscriber = if listen {
            let subscriber = b.build_subscriber_client().context("cannot build the Redis subscriber")?;
            subscriber.init().await.with_context(|| format!("cannot connect to Redis at {}", url.redacted()))?;
            tasks.push(subscriber.manage_subscriptions());
            let messages = subscriber.message_rx();
            subscriber.subscribe(channel.as_str()).await.context("cannot subscribe to the Redis bus channel")?;
            tasks.push(tokio::spawn(listen_to(messages, node_id.clone(), hub)));
            Some(subscriber)
        } else {
            None
        };

        let (queue, mut pending) = mpsc::channel::<String>(PUBLISH_QUEUE);
        let failing = Arc::new(AtomicBool::new(false));
        let (client, flag) = (publisher.clone(), failing.clone());
        tasks.push(tokio::spawn(async move {
            let mut batch = Vec::with_capacity(PUBLISH_BATCH);
            while pending.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
                // One round trip for everything queued, in order: one PUBLISH awaited at a time would cap the
                // bus at one event per round trip, and a burst (a lobby's reply and pushes) would queue.
                let pipeline = client.pipeline();
                let mut queued = Ok(());
                for payload in batch.drain(..) {
                    queued = queued.and(pipeline.publish::<(), _, _>(channel.as_str(), payload).await);
                }
                let sent = match queued {
                    Ok(()) => pipeline.all::<fred::types::Value>().await.map(drop),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(()) => {
                        if flag.swap(false, Ordering::AcqRel) {
                            tracing::info!("Redis bus recovered: events reach every node again");
                        }
                    }
                    Err(e) => {
                        metrics::counter!("bus_publish_failures_total").increment(1);
                        if !flag.swap(true, Ordering::AcqRel) {
                            tracing::warn!(error = %e, "Redis bus unavailable: events reach this node's sockets only");
                        }
                    }
                }
            }
        }));
        Ok(RedisBus { queue, node_id, publisher, subscriber, tasks, failing })
    }

    /// Queues `event` for the other nodes; drops it (counted) when the queue is full.
    pub fn publish(&self, event: &Event) {
        let envelope = Envelope { node: &self.node_id, event };
        let Ok(payload) = serde_json::to_string(&envelope) else { return };
        if self.queue.try_send(payload).is_err() {
            metrics::counter!("bus_publish_failures_total").increment(1);
            if !self.failing.swap(true, Ordering::AcqRel) {
                tracing::warn!("Redis bus queue full: events reach this node's sockets only");
            }
        }
    }

    /// This node's id, which its messages carry.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Both connections (the publisher only, on a node that does not listen) are up.
    pub fn is_connected(&self) -> bool {
        self.publisher.is_connected() && self.subscriber.as_ref().is_none_or(|s| s.is_connected())
    }

    /// Stops the tasks and closes the connections.
    pub async fn close(&self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(subscriber) = &self.subscriber {
            let _ = subscriber.quit().await;
        }
        let _ = self.publisher.quit().await;
    }
}

/// Delivers the other nodes' events to this node's sockets until the subscriber closes.
async fn listen_to(mut messages: tokio::sync::broadcast::Receiver<fred::types::Message>, own: Arc<str>, hub: Arc<Hub>) {
    loop {
        match messages.recv().await {
            Ok(message) => {
                let Some(text) = message.value.as_str() else { continue };
                match serde_json::from_str::<Envelope<Event>>(&text) {
                    Ok(envelope) if *envelope.node == *own => {}
                    Ok(envelope) => {
                        metrics::counter!("bus_events_received_total").increment(1);
                        deliver(&hub, Some(&own), &envelope.event);
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable bus message ignored"),
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                metrics::counter!("bus_events_lost_total").increment(n);
                tracing::warn!(lost = n, "bus listener fell behind; events lost");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
