//! The bus's one task: it owns every link, handles the events the links and the server send it
//! one at a time, and runs the cluster cron every 100 ms as Redis's `clusterCron` does. It also
//! builds what this node says about itself and the others (headers, gossip sections) and sends
//! what [`receive`](super::receive) decides. Messages built while the cluster state's lock is
//! held wait in an outbox and go out once it is released.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use redis_lite_clusterbus::{
    Body, BusIp, ClusterState as WireState, Extension, Gossip, Header, Heartbeat, Message,
    MessageType, NodeFlags, NodeName, Publication, SlotBitmap,
};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::{link, Event, LinkInfo};
use crate::cluster::now_ms;
use crate::cluster::state::{node_flags::*, ClusterState};
use crate::cluster::ClusterNode;
use crate::config::Config;
use crate::server::Server;

/// How often the cron runs, and every how many runs it pings a random node.
const CRON_PERIOD: Duration = Duration::from_millis(100);
const RANDOM_PING_EVERY: u64 = 10;

/// How many random nodes the once-a-second ping picks the least recently heard from among.
const RANDOM_PING_SAMPLE: usize = 5;

/// A failure report counts for this many node timeouts.
pub(super) const FAIL_REPORT_VALIDITY_MULT: u64 = 2;

/// A master flagged FAIL that answers again, with its slots served by nobody else, is cleared
/// after this many node timeouts.
pub(super) const FAIL_UNDO_TIME_MULT: u64 = 2;

/// An outbound link's stream once open: TCP, or TLS under `tls-cluster`.
enum LinkStream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// One link.
pub(super) struct Link {
    /// The node it is attached to: for an outbound link the node it was opened to; for an
    /// inbound one the sender, once a known node speaks on it.
    pub node: Option<String>,
    pub inbound: bool,
    pub created_ms: u64,
    /// This end's IP (how a node learns its own address), once connected.
    pub local_ip: Option<String>,
    /// The peer's IP, used when a header does not announce one.
    pub peer_ip: Option<String>,
    queue: mpsc::UnboundedSender<Vec<u8>>,
    pending: Arc<AtomicU64>,
    /// The link's I/O task, aborted when the link is freed: a task blocked writing to a peer
    /// that stopped reading would not see its queue close.
    task: Option<AbortHandle>,
}

pub(super) struct Core {
    pub server: Arc<Server>,
    events: mpsc::UnboundedSender<Event>,
    pub links: HashMap<u64, Link>,
    next_link: u64,
    iteration: u64,
    outbox: Vec<(u64, Message)>,
    /// The links changed since CLUSTER LINKS's copy was refreshed.
    links_changed: bool,
    /// Nodes whose outbound link DEBUG CLUSTERLINK KILL freed since the last cron: the next
    /// cron leaves them unlinked. Redis's cron never runs inside the EXEC or script that
    /// killed a link, while here a tick can fall between that command's event and the next
    /// one's (a PUBLISH after the kill would go over the new link instead of being lost).
    killed_since_cron: HashSet<String>,
}

impl Core {
    pub fn new(server: Arc<Server>, events: mpsc::UnboundedSender<Event>) -> Core {
        Core {
            server,
            events,
            links: HashMap::new(),
            next_link: 0,
            iteration: 0,
            outbox: Vec::new(),
            links_changed: false,
            killed_since_cron: HashSet::new(),
        }
    }

    pub fn node(&self) -> &ClusterNode {
        self.server
            .cluster
            .node()
            .expect("the bus runs on cluster nodes")
    }

    /// `cluster-node-timeout` in ms.
    pub fn node_timeout(&self) -> u64 {
        self.server.config.read().cluster.node_timeout.max(0) as u64
    }

    pub async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Event>) {
        let mut tick = tokio::time::interval(CRON_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.cron(),
                event = inbox.recv() => match event {
                    Some(event) => self.handle(event),
                    None => return,
                },
            }
            self.node().before_sleep();
            self.flush();
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Accepted(stream) => {
                let peer = stream.peer_addr().ok().map(|a| ip_text(a.ip()));
                let local = stream.local_addr().ok().map(|a| ip_text(a.ip()));
                let (id, queue, pending) = self.add_link(None, true, peer.clone());
                if let Some(link) = self.links.get_mut(&id) {
                    link.local_ip = local;
                }
                let events = self.events.clone();
                let server = self.server.clone();
                let tls = server.config.read().tls.cluster;
                let task = tokio::spawn(async move {
                    if !tls {
                        return link::serve(id, stream, events, queue, pending).await;
                    }
                    let peer = peer.unwrap_or_default();
                    match server.tls.accept(stream, &peer).await {
                        Some(stream) => link::serve(id, stream, events, queue, pending).await,
                        None => {
                            let _ = events.send(Event::Closed { link: id });
                        }
                    }
                });
                self.set_task(id, task.abort_handle());
            }
            Event::Connected { link, local } => self.connected(link, local),
            Event::Received { link, message } => self.receive(link, *message),
            Event::Closed { link } => self.closed(link),
            Event::Publish {
                channel,
                message,
                shard,
            } => self.publish(channel, message, shard),
            Event::ManualFailoverStart => self.send_manual_failover_start(),
            Event::BroadcastPong => self.broadcast_pong(),
            Event::KillLinks {
                node,
                outbound,
                inbound,
            } => self.kill_links(&node, outbound, inbound),
        }
    }

    fn kill_links(&mut self, node: &str, outbound: bool, inbound: bool) {
        let doomed: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| l.node.as_deref() == Some(node))
            .filter(|(_, l)| if l.inbound { inbound } else { outbound })
            .map(|(&id, _)| id)
            .collect();
        let server = self.server.clone();
        let cluster = server.cluster.node().expect("cluster node");
        let mut st = cluster.write();
        for link in doomed {
            self.free_link(&mut st, link);
        }
        if outbound {
            self.killed_since_cron.insert(node.to_string());
        }
    }

    /// Registers a link; its queue's receiving end and byte counter go to its I/O task.
    fn add_link(
        &mut self,
        node: Option<String>,
        inbound: bool,
        peer_ip: Option<String>,
    ) -> (u64, mpsc::UnboundedReceiver<Vec<u8>>, Arc<AtomicU64>) {
        let id = self.next_link;
        self.next_link += 1;
        let (queue, queued) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicU64::new(0));
        self.links.insert(
            id,
            Link {
                node,
                inbound,
                created_ms: now_ms(),
                local_ip: None,
                peer_ip,
                queue,
                pending: pending.clone(),
                task: None,
            },
        );
        self.links_changed = true;
        (id, queued, pending)
    }

    /// Opens the outbound link to node `index` (the cron does, for every node without one).
    fn connect(&mut self, st: &mut ClusterState, index: usize) {
        let node = &mut st.nodes[index];
        node.live.linked = true;
        let (ip, cport) = (node.ip.clone(), node.cport);
        let (id, queue, pending) = self.add_link(Some(node.id.clone()), false, Some(ip.clone()));
        let events = self.events.clone();
        let timeout = Duration::from_millis(self.node_timeout().max(1000));
        // Under `tls-cluster`, the link is TLS with the client context replication uses too.
        let (tls, source) = {
            let config = self.server.config.read();
            let tls = match config.tls.cluster {
                true => self.server.tls.client_config(),
                false => None,
            };
            (tls, config.process.bind_source_addr.clone())
        };
        let task = tokio::spawn(async move {
            let opened = tokio::time::timeout(timeout, async {
                let stream = crate::net::outbound::connect_async(&ip, cport, &source).await?;
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr()?;
                let stream = match tls {
                    Some(config) => {
                        let name = redis_lite_tls::server_name(&ip);
                        let connector = tokio_rustls::TlsConnector::from(config);
                        LinkStream::Tls(Box::new(connector.connect(name, stream).await?))
                    }
                    None => LinkStream::Plain(stream),
                };
                Ok::<_, std::io::Error>((stream, local))
            });
            match opened.await {
                Ok(Ok((stream, local))) => {
                    let _ = events.send(Event::Connected { link: id, local });
                    match stream {
                        LinkStream::Plain(s) => link::serve(id, s, events, queue, pending).await,
                        LinkStream::Tls(s) => link::serve(id, s, events, queue, pending).await,
                    }
                }
                _ => {
                    let _ = events.send(Event::Closed { link: id });
                }
            }
        });
        self.set_task(id, task.abort_handle());
    }

    fn set_task(&mut self, link: u64, task: AbortHandle) {
        if let Some(entry) = self.links.get_mut(&link) {
            entry.task = Some(task);
        }
    }

    /// An outbound link is up: the first PING (or MEET, for a node CLUSTER MEET named) goes
    /// out at once. A ping still unanswered from before the reconnection keeps its time, so
    /// failure detection is not reset by reconnecting.
    fn connected(&mut self, link: u64, local: std::net::SocketAddr) {
        let Some(entry) = self.links.get_mut(&link) else {
            return;
        };
        entry.local_ip = Some(ip_text(local.ip()));
        let Some(id) = entry.node.clone() else {
            return;
        };
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let mut st = node.write();
        let Some(index) = st.index_of(id.as_bytes()) else {
            return;
        };
        let old_ping_sent = st.nodes[index].ping_sent;
        let kind = if st.nodes[index].flags & MEET != 0 {
            MessageType::Meet
        } else {
            MessageType::Ping
        };
        self.send_heartbeat(&mut st, link, kind);
        let target = &mut st.nodes[index];
        target.flags &= !MEET;
        if old_ping_sent != 0 {
            target.ping_sent = old_ping_sent;
        }
    }

    /// A link ended. A connection that could not be made counts as a ping sent, so a node
    /// that stopped listening is flagged PFAIL after the node timeout.
    fn closed(&mut self, link: u64) {
        let Some(entry) = self.links.remove(&link) else {
            return;
        };
        self.links_changed = true;
        if entry.inbound {
            return;
        }
        let Some(id) = entry.node else {
            return;
        };
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let mut st = node.write();
        if let Some(index) = st.index_of(id.as_bytes()) {
            let target = &mut st.nodes[index];
            target.live.linked = false;
            if entry.local_ip.is_none() && target.ping_sent == 0 {
                target.ping_sent = now_ms();
            }
        }
    }

    /// Drops a link now: its task is aborted, which closes the connection and drops what it
    /// had not written, as Redis frees a link with its send buffer.
    pub fn free_link(&mut self, st: &mut ClusterState, link: u64) {
        let Some(entry) = self.links.remove(&link) else {
            return;
        };
        if let Some(task) = &entry.task {
            task.abort();
        }
        self.links_changed = true;
        if entry.inbound {
            return;
        }
        if let Some(index) = entry.node.and_then(|id| st.index_of(id.as_bytes())) {
            st.nodes[index].live.linked = false;
        }
    }

    /// CLUSTER LINKS's copy is refreshed after this event.
    pub fn mark_links_changed(&mut self) {
        self.links_changed = true;
    }

    /// The outbound link to the node with ID `id`.
    pub fn link_to(&self, id: &str) -> Option<u64> {
        self.links
            .iter()
            .find(|(_, l)| !l.inbound && l.node.as_deref() == Some(id))
            .map(|(&k, _)| k)
    }

    /// Queues `message` on `link`; it is sent once the state's lock is released.
    pub fn queue(&mut self, link: u64, message: Message) {
        self.outbox.push((link, message));
    }

    fn flush(&mut self) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        for (link, message) in std::mem::take(&mut self.outbox) {
            let Some(entry) = self.links.get(&link) else {
                continue;
            };
            let bytes = message.encode();
            entry.pending.fetch_add(bytes.len() as u64, Relaxed);
            node.bus.sent[message.message_type() as usize].fetch_add(1, Relaxed);
            let _ = entry.queue.send(bytes);
        }
        if std::mem::take(&mut self.links_changed) {
            self.refresh_links();
        }
    }

    /// CLUSTER LINKS's copy: the links attached to nodes.
    fn refresh_links(&self) {
        let mut infos: Vec<LinkInfo> = self
            .links
            .values()
            .filter_map(|l| {
                Some(LinkInfo {
                    direction: if l.inbound { "from" } else { "to" },
                    node: l.node.clone()?,
                    create_time: l.created_ms,
                    pending: l.pending.clone(),
                })
            })
            .collect();
        // Each node's outbound link, then its inbound one, as Redis lists them.
        infos.sort_by(|a, b| {
            (&a.node, a.direction == "from").cmp(&(&b.node, b.direction == "from"))
        });
        *self.node().bus.links.lock() = infos;
    }

    /// The header of every message this node sends: itself, or as a replica its master's
    /// slots and config epoch.
    pub fn header(&self, st: &ClusterState, config: &Config) -> Header {
        let me = st.myself();
        let master = if me.is_replica() {
            st.master_of(0)
        } else {
            None
        };
        let mut header = Header::new(wire_name(&me.id), me.port, me.cport);
        header.pport = me.pport;
        header.current_epoch = st.current_epoch;
        header.config_epoch = master.map_or(me.config_epoch, |m| st.nodes[m].config_epoch);
        header.offset = crate::cluster::own_offset(&self.server);
        header.slots = bitmap_of(st, master.unwrap_or(0));
        header.replicaof = me
            .master
            .as_deref()
            .filter(|_| me.is_replica())
            .map(wire_name);
        header.ip = BusIp::new(config.cluster.announce_ip.as_bytes()).unwrap_or_default();
        header.flags = NodeFlags(me.flags & !MEET);
        if self.node().election.lock().master_paused(st) {
            header.mflags = header.mflags | redis_lite_clusterbus::MessageFlags::PAUSED;
        }
        header.state = if self.node().serving(st, config) {
            WireState::OK
        } else {
            WireState::FAIL
        };
        header
    }

    /// A PING, PONG or MEET on `link`, with a gossip section about a tenth of the nodes (at
    /// least 3, as many as there are) and every node this one thinks is failing. Sending a
    /// PING starts waiting for the node's PONG.
    pub fn send_heartbeat(&mut self, st: &mut ClusterState, link: u64, kind: MessageType) {
        let config = self.server.config.read().clone();
        let header = self.header(st, &config);
        let beat = gossip_section(st);
        let body = match kind {
            MessageType::Pong => Body::Pong(beat),
            MessageType::Meet => Body::Meet(beat),
            _ => Body::Ping(beat),
        };
        if kind == MessageType::Ping {
            let target = self.links.get(&link).and_then(|l| l.node.clone());
            if let Some(index) = target.and_then(|id| st.index_of(id.as_bytes())) {
                st.nodes[index].ping_sent = now_ms();
            }
        }
        self.queue(link, Message::new(header, body));
    }

    /// Sends `body` to every node linked to, except those in handshake.
    pub fn broadcast(&mut self, st: &ClusterState, body: Body) {
        let config = self.server.config.read().clone();
        let header = self.header(st, &config);
        for node in &st.nodes[1..] {
            if node.flags & HANDSHAKE != 0 {
                continue;
            }
            if let Some(link) = self.link_to(&node.id) {
                self.queue(link, Message::new(header.clone(), body.clone()));
            }
        }
    }

    /// PUBLISH to every node; PUBLISHSHARD to the nodes of this node's shard.
    fn publish(&mut self, channel: Vec<u8>, message: Vec<u8>, shard: bool) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let st = node.read();
        let publication = Publication { channel, message };
        if !shard {
            self.broadcast(&st, Body::Publish(publication));
            return;
        }
        let master = if st.myself().is_replica() {
            st.master_of(0)
        } else {
            Some(0)
        };
        let Some(master) = master else {
            return;
        };
        let config = self.server.config.read().clone();
        let header = self.header(&st, &config);
        let members = std::iter::once(master).chain(st.replicas_of(master));
        for member in members.filter(|&m| m != 0) {
            if let Some(link) = self.link_to(&st.nodes[member].id) {
                let body = Body::PublishShard(publication.clone());
                self.queue(link, Message::new(header.clone(), body));
            }
        }
    }

    /// Frees each link attached to a node that has more than `limit` bytes queued and not
    /// written (`cluster-link-sendbuf-limit`: a peer that stopped reading, while PUBLISH
    /// piles up), counting it for CLUSTER INFO; the next run of the cron connects again.
    fn free_links_over_limit(&mut self, st: &mut ClusterState, limit: u64) {
        let over: Vec<(u64, u64)> = self
            .links
            .iter()
            .filter(|(_, l)| l.node.is_some())
            .map(|(&id, l)| (id, l.pending.load(Relaxed)))
            .filter(|&(_, queued)| queued > limit)
            .collect();
        for (link, queued) in over {
            let entry = &self.links[&link];
            crate::log!(
                Warning,
                "Freeing cluster link({} node {}, used memory: {queued}) due to exceeding send buffer memory limit.",
                if entry.inbound { "from" } else { "to" },
                entry.node.as_deref().unwrap_or_default()
            );
            self.free_link(st, link);
            self.node()
                .bus
                .links_buffer_limit_exceeded
                .fetch_add(1, Relaxed);
        }
    }

    /// Redis's `clusterCron`, every 100 ms.
    fn cron(&mut self) {
        self.iteration += 1;
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let config = self.server.config.read().clone();
        let tcp_port = self.server.identity.tcp_port.load(Relaxed) as u16;
        node.announce(&config, tcp_port);
        let now = now_ms();
        let node_timeout = self.node_timeout();
        let handshake_timeout = node_timeout.max(1000);
        let mut st = node.write();
        let mut changed = false;
        let mut state_changed = false;

        // This node's `nofailover` flag follows `cluster-replica-no-failover`, and the
        // headers it sends carry it to the others.
        let no_failover = if config.cluster.replica_no_failover {
            NOFAILOVER
        } else {
            0
        };
        let myself = st.myself_mut();
        if myself.flags & NOFAILOVER != no_failover {
            myself.flags = (myself.flags & !NOFAILOVER) | no_failover;
            changed = true;
        }

        // Links to nodes no longer known (CLUSTER FORGET, RESET) go.
        let stale: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| {
                l.node
                    .as_ref()
                    .is_some_and(|id| st.index_of(id.as_bytes()).is_none())
            })
            .map(|(&k, _)| k)
            .collect();
        for link in stale {
            self.free_link(&mut st, link);
        }

        // Handshakes that took too long are abandoned; every other node gets a link.
        let mut index = 1;
        while index < st.nodes.len() {
            let n = &st.nodes[index];
            if n.flags & NOADDR != 0 {
                index += 1;
                continue;
            }
            if n.flags & HANDSHAKE != 0 && now.saturating_sub(n.live.created_ms) > handshake_timeout
            {
                crate::log!(
                    Verbose,
                    "Clusterbus handshake timeout {}:{} after {}ms",
                    n.ip,
                    n.port,
                    handshake_timeout
                );
                st.delete_node(index);
                changed = true;
                continue;
            }
            if !n.live.linked && !self.killed_since_cron.contains(&n.id) {
                self.connect(&mut st, index);
            }
            index += 1;
        }
        self.killed_since_cron.clear();

        if config.cluster.link_sendbuf_limit > 0 {
            self.free_links_over_limit(&mut st, config.cluster.link_sendbuf_limit);
        }

        // Once a second, the least recently heard from of a few random nodes is pinged.
        if self.iteration.is_multiple_of(RANDOM_PING_EVERY) {
            let mut rng = rand::thread_rng();
            let mut oldest: Option<usize> = None;
            for _ in 0..RANDOM_PING_SAMPLE {
                if st.nodes.len() < 2 {
                    break;
                }
                let i = rng.gen_range(1..st.nodes.len());
                let n = &st.nodes[i];
                if !n.live.linked || n.ping_sent != 0 || n.flags & HANDSHAKE != 0 {
                    continue;
                }
                if oldest.is_none_or(|o| n.pong_received < st.nodes[o].pong_received) {
                    oldest = Some(i);
                }
            }
            if let Some(i) = oldest {
                if let Some(link) = self.link_to(&st.nodes[i].id) {
                    self.send_heartbeat(&mut st, link, MessageType::Ping);
                }
            }
        }

        for i in 1..st.nodes.len() {
            let n = &st.nodes[i];
            if n.flags & (NOADDR | HANDSHAKE) != 0 {
                continue;
            }
            let link = self.link_to(&n.id);
            let ping_delay = now.saturating_sub(n.ping_sent);
            let data_delay = now.saturating_sub(n.live.data_received);
            // A connected link with a ping unanswered for half the timeout, and nothing else
            // heard either, is replaced: the node may be fine and the link stuck.
            if let Some(l) = link {
                let created = self.links[&l].created_ms;
                if now.saturating_sub(created) > node_timeout
                    && n.ping_sent != 0
                    && ping_delay > node_timeout / 2
                    && data_delay > node_timeout / 2
                {
                    self.free_link(&mut st, l);
                    continue;
                }
                if n.ping_sent == 0 && now.saturating_sub(n.pong_received) > node_timeout / 2 {
                    self.send_heartbeat(&mut st, l, MessageType::Ping);
                    continue;
                }
            }
            let n = &mut st.nodes[i];
            if n.ping_sent == 0 {
                continue;
            }
            if ping_delay.min(data_delay) > node_timeout && n.flags & (PFAIL | FAIL) == 0 {
                crate::log!(Verbose, "*** NODE {} possibly failing", n.id);
                n.flags |= PFAIL;
                state_changed = true;
            }
        }
        drop(st);
        if changed {
            node.save_after_change();
        } else if state_changed {
            node.refresh_state();
        }
        if changed || state_changed {
            crate::cluster::slots_changed(&self.server);
        }
        node.log_state_change(&config);
        self.failover_cron();
        self.migration_cron();
    }
}

/// The gossip section and extensions of a PING, PONG or MEET.
fn gossip_section(st: &ClusterState) -> Heartbeat {
    let count = st.nodes.len();
    let mut fresh = count.saturating_sub(2);
    let wanted = (count / 10).max(3).min(fresh);
    let mut chosen: Vec<usize> = Vec::new();
    let mut tries = wanted * 3;
    let mut rng = rand::thread_rng();
    while fresh > 0 && chosen.len() < wanted && tries > 0 {
        tries -= 1;
        let i = rng.gen_range(0..count);
        let n = &st.nodes[i];
        // PFAIL nodes are all added below.
        if i == 0 || n.flags & PFAIL != 0 || chosen.contains(&i) {
            continue;
        }
        if n.flags & (HANDSHAKE | NOADDR) != 0 || (!n.live.linked && st.slot_count(i) == 0) {
            fresh -= 1;
            continue;
        }
        chosen.push(i);
        fresh -= 1;
    }
    chosen.extend((1..count).filter(|&i| {
        st.nodes[i].flags & PFAIL != 0 && st.nodes[i].flags & (HANDSHAKE | NOADDR) == 0
    }));
    let gossip = chosen
        .into_iter()
        .map(|i| {
            let n = &st.nodes[i];
            Gossip {
                name: wire_name(&n.id),
                ping_sent: (n.ping_sent / 1000) as u32,
                pong_received: (n.pong_received / 1000) as u32,
                ip: BusIp::new(n.ip.as_bytes()).unwrap_or_default(),
                port: n.port,
                cport: n.cport,
                flags: NodeFlags(n.flags & !MEET),
                pport: n.pport,
            }
        })
        .collect();
    let hostname = &st.myself().hostname;
    let extensions = if hostname.is_empty() {
        Vec::new()
    } else {
        vec![Extension::Hostname(hostname.as_bytes().to_vec())]
    };
    Heartbeat { gossip, extensions }
}

/// A node ID as the wire carries it (IDs are 40 bytes; anything else is padded or cut).
pub(super) fn wire_name(id: &str) -> NodeName {
    let mut name = [b'0'; 40];
    let bytes = id.as_bytes();
    let len = bytes.len().min(40);
    name[..len].copy_from_slice(&bytes[..len]);
    NodeName(name)
}

/// The slots node `index` serves, as a bitmap.
pub(super) fn bitmap_of(st: &ClusterState, index: usize) -> SlotBitmap {
    let ranges: Vec<(u16, u16)> = st
        .slot_ranges(index)
        .into_iter()
        .map(|(a, b)| (a as u16, b as u16))
        .collect();
    SlotBitmap::from_ranges(&ranges)
}

/// An address as Redis writes it: IPv4 plainly, an IPv4-mapped IPv6 address as IPv4.
pub(super) fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::Node;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 40).collect()
    }

    #[test]
    fn gossip_names_others_never_myself_nor_handshakes_and_every_pfail_node() {
        let mut st = ClusterState::new(id('a'));
        for (c, flags) in [('b', MASTER), ('c', MASTER | PFAIL), ('d', HANDSHAKE)] {
            let mut node = Node::new(id(c), flags);
            node.live.linked = true;
            st.add_node(node);
        }
        for _ in 0..20 {
            let names: Vec<String> = gossip_section(&st)
                .gossip
                .iter()
                .map(|g| g.name.to_string())
                .collect();
            assert!(names.contains(&id('c')), "{names:?}");
            assert!(!names.contains(&id('a')) && !names.contains(&id('d')));
            assert_eq!(names.iter().filter(|n| **n == id('c')).count(), 1);
        }
        st.myself_mut().hostname = "host-a".into();
        assert_eq!(
            gossip_section(&st).extensions,
            vec![Extension::Hostname(b"host-a".to_vec())]
        );
    }

    #[test]
    fn addresses_read_as_redis_writes_them() {
        let mapped: std::net::IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ip_text(mapped), "10.0.0.1");
        assert_eq!(ip_text("::1".parse().unwrap()), "::1");
        assert_eq!(wire_name(&id('f')).to_string(), id('f'));
    }
}
