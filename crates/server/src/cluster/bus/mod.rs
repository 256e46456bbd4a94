//! The cluster bus: this node's links to the other nodes of the cluster, speaking Redis 7.0's
//! binary protocol (`redis-lite-clusterbus`), so redis-lite nodes and real Redis nodes form one
//! cluster. It owns the bus listeners, one outbound link per known node, the inbound links
//! other nodes open, and the cluster cron; the cluster state it changes stays in
//! [`ClusterState`](super::state::ClusterState), shared with the CLUSTER command.
//!
//! Layout:
//! - this file: [`Bus`], what the rest of the server sees (message counters for CLUSTER INFO,
//!   the links for CLUSTER LINKS, PUBLISH to other nodes), and [`start`].
//! - [`link`]: one link's I/O over any async byte stream (TCP today, TLS for `tls-cluster`):
//!   frames cut and decoded, queued frames written.
//! - [`core`]: the single task that owns the links and runs the cron every 100 ms (connect,
//!   MEET, PING, PFAIL, handshake timeouts), building headers and gossip.
//! - [`receive`]: what each message type means, in one match (header, handshake, gossip,
//!   failure reports, slot ownership by config epoch, UPDATE, FAIL, PUBLISH).
//!
//! Everything runs on the main thread's tokio runtime, beside the client listeners.

mod core;
mod failover;
mod link;
mod receive;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use redis_lite_clusterbus::MessageType;
use tokio::sync::mpsc;

use crate::server::Server;

/// What happens to the bus: the core task handles these one at a time.
pub(crate) enum Event {
    /// Another node opened a link to this one.
    Accepted(tokio::net::TcpStream),
    /// An outbound link is connected.
    Connected {
        link: u64,
        local: std::net::SocketAddr,
    },
    /// A message came on a link.
    Received {
        link: u64,
        /// Boxed: a header holds a 2 KiB slot bitmap.
        message: Box<redis_lite_clusterbus::Message>,
    },
    /// A link closed, or its connection could not be made.
    Closed { link: u64 },
    /// PUBLISH or SPUBLISH on this node: to the other nodes (SPUBLISH: those of this shard).
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
        shard: bool,
    },
    /// CLUSTER FAILOVER on this replica: MFSTART to its master.
    ManualFailoverStart,
    /// This node changed role or slots by a command (CLUSTER FAILOVER TAKEOVER): a PONG to
    /// every node.
    BroadcastPong,
    /// DEBUG CLUSTERLINK KILL: free the links to (`outbound`) and from (`inbound`) a node.
    KillLinks {
        node: String,
        outbound: bool,
        inbound: bool,
    },
}

/// One link as CLUSTER LINKS shows it.
#[derive(Clone, Debug)]
pub struct LinkInfo {
    /// `to` (this node's outbound link) or `from`.
    pub direction: &'static str,
    pub node: String,
    pub create_time: u64,
    /// Bytes queued and not yet written.
    pub pending: Arc<AtomicU64>,
}

/// The bus as the rest of the server sees it.
pub struct Bus {
    /// Messages sent and received, per type (CLUSTER INFO's `cluster_stats_messages_*`).
    pub sent: [AtomicU64; MessageType::ALL.len()],
    pub received: [AtomicU64; MessageType::ALL.len()],
    /// The links attached to known nodes, refreshed by the core when they change.
    pub links: Mutex<Vec<LinkInfo>>,
    /// Links freed for passing `cluster-link-sendbuf-limit` (CLUSTER INFO's
    /// `total_cluster_links_buffer_limit_exceeded`).
    pub links_buffer_limit_exceeded: AtomicU64,
    /// The core's inbox; the receiver until [`start`] takes it.
    events: mpsc::UnboundedSender<Event>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
}

impl Default for Bus {
    fn default() -> Bus {
        let (events, inbox) = mpsc::unbounded_channel();
        Bus {
            sent: Default::default(),
            received: Default::default(),
            links: Mutex::new(Vec::new()),
            links_buffer_limit_exceeded: AtomicU64::new(0),
            events,
            inbox: Mutex::new(Some(inbox)),
        }
    }
}

impl Bus {
    /// Sends PUBLISH (`shard`: PUBLISHSHARD) to the other nodes.
    pub fn publish(&self, channel: &[u8], message: &[u8], shard: bool) {
        let _ = self.events.send(Event::Publish {
            channel: channel.to_vec(),
            message: message.to_vec(),
            shard,
        });
    }

    /// Asks this replica's master to start a manual failover (CLUSTER FAILOVER).
    pub fn start_manual_failover(&self) {
        let _ = self.events.send(Event::ManualFailoverStart);
    }

    /// Tells every node of this node's new role and slots (CLUSTER FAILOVER TAKEOVER, SETSLOT
    /// NODE closing an import).
    pub fn broadcast_pong(&self) {
        let _ = self.events.send(Event::BroadcastPong);
    }

    /// Frees the links to (`outbound`) and from (`inbound`) the node with ID `node`, with
    /// what they had not sent (DEBUG CLUSTERLINK KILL); the cron connects again. Done in
    /// order with the bus's other events, so a PUBLISH after it does not reach that node.
    pub fn kill_links(&self, node: &str, outbound: bool, inbound: bool) {
        let _ = self.events.send(Event::KillLinks {
            node: node.to_string(),
            outbound,
            inbound,
        });
    }

    /// CLUSTER INFO's message counters: each type seen sent, the total, then the same received.
    pub fn stats_lines(&self) -> String {
        let mut text = String::new();
        for (direction, counters) in [("sent", &self.sent), ("received", &self.received)] {
            let mut total = 0;
            for (kind, counter) in MessageType::ALL.iter().zip(counters) {
                let count = counter.load(Relaxed);
                if count > 0 {
                    text.push_str(&format!(
                        "cluster_stats_messages_{}_{direction}:{count}\r\n",
                        kind.name()
                    ));
                    total += count;
                }
            }
            text.push_str(&format!("cluster_stats_messages_{direction}:{total}\r\n"));
        }
        text
    }
}

/// Binds the bus port on every `bind` address (at start-up, failing as Redis does).
pub fn bind(
    config: &crate::config::Config,
    tcp_port: u16,
) -> Result<Vec<std::net::TcpListener>, String> {
    crate::net::listeners::bind_at_startup(config, super::bus_port(config, tcp_port), "cluster")
}

/// Starts accepting on `listeners` and the core task, on the current tokio runtime.
pub fn start(server: &Arc<Server>, listeners: Vec<std::net::TcpListener>) {
    let Some(node) = server.cluster.node() else {
        return;
    };
    let Some(inbox) = node.bus.inbox.lock().take() else {
        return;
    };
    for listener in listeners {
        let events = node.bus.events.clone();
        let listener = tokio::net::TcpListener::from_std(listener)
            .expect("listener registers with the runtime");
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        if events.send(Event::Accepted(stream)).is_err() {
                            return;
                        }
                    }
                    // Out of descriptors and the like: the peers retry on their cron.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            }
        });
    }
    let core = core::Core::new(server.clone(), node.bus.events.clone());
    tokio::spawn(core.run(inbox));
}
