//! What a message received on the bus means, as Redis 7.0 reads it: the header first (the
//! sender's epochs, when anything was last heard from it, the inbound link it speaks on), then
//! one match on the type. PING/PONG/MEET carry the handshake, the sender's address, role and
//! slots, the config epoch rules (slots move to the greater epoch; a stale sender gets an
//! UPDATE; two masters with one epoch are told apart) and the gossip section (new nodes,
//! failure reports, PFAIL → FAIL by a majority of masters).

use std::sync::atomic::Ordering::Relaxed;

use redis_lite_clusterbus::{Body, Gossip, Header, Message, MessageType, SlotBitmap};

use super::core::{bitmap_of, Core, FAIL_REPORT_VALIDITY_MULT, FAIL_UNDO_TIME_MULT};
use crate::cluster::election;
use crate::cluster::now_ms;
use crate::cluster::state::{node_flags::*, ClusterState, Node, SLOTS};

/// What a message changed, so the node saves nodes.conf or recomputes its state once after it,
/// and what follows once the state's lock is released.
#[derive(Default)]
struct Outcome {
    save: bool,
    state: bool,
    /// This master lost its last slot to another: it replicates that node (host, port).
    follow: Option<(String, u16)>,
    /// Slots this master served and another master took over while it keeps others: the
    /// keys it still holds in them are deleted, as Redis deletes its "dirty slots".
    lost_slots: Vec<usize>,
}

impl Core {
    /// Handles one message received on `link`.
    pub(super) fn receive(&mut self, link: u64, message: Message) {
        let server = self.server.clone();
        let node = server.cluster.node().expect("cluster node");
        let message_type = message.message_type();
        node.bus.received[message_type as usize].fetch_add(1, Relaxed);
        if server.cluster.drop_filter.load(Relaxed) == message_type as i64 {
            crate::log!(Warning, "Dropping packet that matches debug drop filter");
            return;
        }
        // An MFSTART pauses writes holding every gate, which is taken without the state's
        // lock (commands take their gate, then that lock): it is handled after the rest.
        let manual_failover =
            (message_type == MessageType::MfStart).then(|| message.header.sender.to_string());
        let mut st = node.write();
        let mut outcome = Outcome::default();
        self.process(&mut st, link, message, &mut outcome);
        drop(st);
        if outcome.save {
            node.save_after_change();
        } else if outcome.state {
            node.refresh_state();
        }
        if outcome.save || outcome.state {
            crate::cluster::slots_changed(&server);
        }
        if let Some((host, port)) = outcome.follow {
            election::with_every_gate(&server, || {
                crate::replication::replica::follow(&server, host, port)
            });
        } else if !outcome.lost_slots.is_empty() {
            crate::cluster::delete_keys_in_slots(&server, &outcome.lost_slots);
        }
        if let Some(replica) = manual_failover {
            self.manual_failover_requested(&replica, link);
        }
    }

    fn process(&mut self, st: &mut ClusterState, link: u64, message: Message, out: &mut Outcome) {
        let now = now_ms();
        let h = &message.header;
        let sender_id = h.sender.to_string();
        let sender = st
            .index_of(sender_id.as_bytes())
            .filter(|&i| st.nodes[i].flags & HANDSHAKE == 0);
        if let Some(s) = sender {
            if h.current_epoch > st.current_epoch {
                st.current_epoch = h.current_epoch;
                out.save = true;
            }
            if h.config_epoch > st.nodes[s].config_epoch {
                st.nodes[s].config_epoch = h.config_epoch;
                out.save = true;
            }
            st.nodes[s].live.data_received = now;
            st.nodes[s].pport = h.pport;
            st.nodes[s].live.repl_offset = h.offset;
            self.attach_inbound(link, &sender_id);
            self.paused_master_heard(st, s, h);
        }
        match &message.body {
            Body::Ping(beat) | Body::Pong(beat) | Body::Meet(beat) => {
                let kind = message.message_type();
                if kind != MessageType::Pong {
                    self.learn_own_ip(st, link, kind, out);
                    if sender.is_none() && kind == MessageType::Meet {
                        self.add_met_node(st, link, h);
                        out.save = true;
                    }
                    self.send_heartbeat(st, link, MessageType::Pong);
                }
                if !self.heartbeat_link(st, link, h, out) {
                    return;
                }
                let Some(s) = st.index_of(sender_id.as_bytes()) else {
                    return;
                };
                if st.nodes[s].flags & HANDSHAKE != 0 {
                    return;
                }
                if kind == MessageType::Ping && self.update_address(st, s, link, h) {
                    out.save = true;
                }
                self.pong_from_link(st, link, kind, now, out);
                // `nofailover` is the sender's to say (its `cluster-replica-no-failover`):
                // the latest header is trusted, as the replicas' ranks depend on it.
                let sender = &mut st.nodes[s];
                sender.flags = (sender.flags & !NOFAILOVER) | (h.flags.0 & NOFAILOVER);
                self.follow_role(st, s, h, out);
                self.follow_slots(st, s, h, out);
                self.resolve_epoch_collision(st, s, h, out);
                self.gossip(st, s, &beat.gossip, now, out);
                let hostname = beat
                    .extensions
                    .iter()
                    .find_map(|e| match e {
                        redis_lite_clusterbus::Extension::Hostname(name) => {
                            Some(String::from_utf8_lossy(name).into_owned())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                if st.nodes[s].hostname != hostname {
                    st.nodes[s].hostname = hostname;
                    out.save = true;
                }
            }
            Body::Fail { about } => {
                let Some(s) = sender else { return };
                let Some(failing) = st.index_of(&about.0) else {
                    return;
                };
                if st.nodes[failing].flags & (FAIL | MYSELF) == 0 {
                    crate::log!(
                        Notice,
                        "FAIL message received from {} about {}",
                        st.nodes[s].id,
                        about
                    );
                    let n = &mut st.nodes[failing];
                    n.flags = (n.flags | FAIL) & !PFAIL;
                    n.live.fail_time = now;
                    out.save = true;
                }
            }
            Body::Publish(p) | Body::PublishShard(p) => {
                if sender.is_none() {
                    return;
                }
                if message.message_type() == MessageType::Publish {
                    self.server.pubsub.publish(&p.channel, &p.message);
                } else {
                    self.server.pubsub.spublish(&p.channel, &p.message);
                }
            }
            Body::Update {
                config_epoch,
                node: about,
                slots,
            } => {
                if sender.is_none() {
                    return;
                }
                let Some(n) = st.index_of(&about.0) else {
                    return;
                };
                if st.nodes[n].config_epoch >= *config_epoch {
                    return;
                }
                if st.nodes[n].is_replica() {
                    set_as_master(st, n);
                }
                st.nodes[n].config_epoch = *config_epoch;
                self.update_slots_with(st, n, *config_epoch, slots, out);
                out.save = true;
            }
            Body::FailoverAuthRequest => {
                if let Some(s) = sender {
                    out.save |= self.auth_requested(st, s, h);
                }
            }
            Body::FailoverAuthAck => {
                if let Some(s) = sender {
                    self.vote_received(st, s, h);
                }
            }
            // See `receive`.
            Body::MfStart => {}
            // No modules: Redis drops a module message no module registered for.
            Body::Module { .. } => {}
        }
    }

    /// An inbound link is attached to the node that speaks on it, replacing an older one.
    fn attach_inbound(&mut self, link: u64, sender: &str) {
        let Some(entry) = self.links.get(&link) else {
            return;
        };
        if !entry.inbound || entry.node.as_deref() == Some(sender) {
            return;
        }
        let older: Vec<u64> = self
            .links
            .iter()
            .filter(|(&k, l)| k != link && l.inbound && l.node.as_deref() == Some(sender))
            .map(|(&k, _)| k)
            .collect();
        for k in older {
            self.links.remove(&k);
        }
        if let Some(entry) = self.links.get_mut(&link) {
            entry.node = Some(sender.to_string());
        }
        self.mark_links_changed();
    }

    /// A MEET (or any PING while this node does not know its IP) tells this node its own
    /// address: the one the peer reached it at, unless `cluster-announce-ip` says it.
    fn learn_own_ip(
        &mut self,
        st: &mut ClusterState,
        link: u64,
        kind: MessageType,
        out: &mut Outcome,
    ) {
        if kind != MessageType::Meet && !st.myself().ip.is_empty() {
            return;
        }
        if !self.server.config.read().cluster.announce_ip.is_empty() {
            return;
        }
        let Some(ip) = self.links.get(&link).and_then(|l| l.local_ip.clone()) else {
            return;
        };
        if st.myself().ip != ip {
            crate::log!(Notice, "IP address for this node updated to {ip}");
            st.myself_mut().ip = ip;
            out.save = true;
        }
    }

    /// The address a header gives its sender: the announced IP, or the link's peer.
    fn sender_ip(&self, link: u64, h: &Header) -> String {
        if !h.ip.is_empty() {
            return String::from_utf8_lossy(h.ip.as_bytes()).into_owned();
        }
        self.links
            .get(&link)
            .and_then(|l| l.peer_ip.clone())
            .unwrap_or_default()
    }

    /// A MEET from an unknown node: it is added in handshake under a random name, and this
    /// node's cron will ping it to learn its real one.
    fn add_met_node(&mut self, st: &mut ClusterState, link: u64, h: &Header) {
        let mut node = Node::new(crate::server::random_hex(40), HANDSHAKE);
        node.ip = self.sender_ip(link, h);
        node.port = h.port;
        node.pport = h.pport;
        node.cport = h.cport;
        node.live.created_ms = now_ms();
        st.add_node(node);
    }

    /// On an outbound link, the first PONG completes the handshake: the node takes the name
    /// it gives (or, when that node is already known, the handshake node goes and the known
    /// one takes the address). A known node answering under another name loses its address.
    /// False when the message says nothing more.
    fn heartbeat_link(
        &mut self,
        st: &mut ClusterState,
        link: u64,
        h: &Header,
        out: &mut Outcome,
    ) -> bool {
        let Some(entry) = self.links.get(&link) else {
            return false;
        };
        if entry.inbound {
            return true;
        }
        let Some(index) = entry
            .node
            .as_deref()
            .and_then(|id| st.index_of(id.as_bytes()))
        else {
            return false;
        };
        let sender_id = h.sender.to_string();
        if st.nodes[index].flags & HANDSHAKE != 0 {
            if let Some(known) = st.index_of(sender_id.as_bytes()) {
                self.update_address(st, known, link, h);
                self.free_link(st, link);
                st.delete_node(index);
                out.save = true;
                return false;
            }
            st.rename(index, sender_id.clone());
            let n = &mut st.nodes[index];
            n.flags = (n.flags & !HANDSHAKE) | (h.flags.0 & (MASTER | REPLICA));
            crate::log!(Verbose, "Handshake with node {sender_id} completed.");
            if let Some(entry) = self.links.get_mut(&link) {
                entry.node = Some(sender_id);
            }
            self.mark_links_changed();
            out.save = true;
        } else if st.nodes[index].id != sender_id {
            crate::log!(
                Verbose,
                "PONG contains mismatching sender ID. About node {} added {} ms ago, having flags {}",
                st.nodes[index].id,
                now_ms().saturating_sub(st.nodes[index].live.created_ms),
                st.nodes[index].flags
            );
            let n = &mut st.nodes[index];
            n.flags |= NOADDR;
            n.ip.clear();
            n.port = 0;
            n.cport = 0;
            self.free_link(st, link);
            out.save = true;
            return false;
        }
        true
    }
}

impl Core {
    /// A known node seen at another address than the one this node has for it (it restarted
    /// elsewhere): the address is updated and its outbound link reopened. Never from the
    /// node's own outbound link. Whether it changed.
    fn update_address(
        &mut self,
        st: &mut ClusterState,
        node: usize,
        link: u64,
        h: &Header,
    ) -> bool {
        let id = st.nodes[node].id.clone();
        let own_link = self.link_to(&id);
        if own_link == Some(link) {
            return false;
        }
        let ip = self.sender_ip(link, h);
        let n = &st.nodes[node];
        if n.ip == ip && n.port == h.port && n.cport == h.cport {
            return false;
        }
        let n = &mut st.nodes[node];
        n.ip = ip;
        n.port = h.port;
        n.cport = h.cport;
        n.flags &= !NOADDR;
        crate::log!(
            Notice,
            "Address updated for node {} ({}), now {}:{}",
            n.id,
            n.hostname,
            n.ip,
            n.port
        );
        if let Some(l) = own_link {
            self.free_link(st, l);
        }
        true
    }

    /// A PONG on an outbound link: the node answered. A PFAIL clears by itself; a FAIL only
    /// as Redis allows (a replica or a master without slots at once, a master with slots once
    /// nobody took them over for a while).
    fn pong_from_link(
        &mut self,
        st: &mut ClusterState,
        link: u64,
        kind: MessageType,
        now: u64,
        out: &mut Outcome,
    ) {
        if kind != MessageType::Pong {
            return;
        }
        let Some(entry) = self.links.get(&link).filter(|l| !l.inbound) else {
            return;
        };
        let Some(index) = entry
            .node
            .as_deref()
            .and_then(|id| st.index_of(id.as_bytes()))
        else {
            return;
        };
        let n = &mut st.nodes[index];
        n.pong_received = now;
        n.ping_sent = 0;
        if n.flags & PFAIL != 0 {
            n.flags &= !PFAIL;
            out.state = true;
        } else if n.flags & FAIL != 0 {
            let node_timeout = self.node_timeout();
            let slots = st.slot_count(index);
            let n = &mut st.nodes[index];
            if n.is_replica() || slots == 0 {
                crate::log!(
                    Notice,
                    "Clear FAIL state for node {}: {} is reachable again.",
                    n.id,
                    if n.is_replica() {
                        "replica"
                    } else {
                        "master without slots"
                    }
                );
                n.flags &= !FAIL;
                out.save = true;
            } else if now.saturating_sub(n.live.fail_time) > node_timeout * FAIL_UNDO_TIME_MULT {
                crate::log!(
                    Notice,
                    "Clear FAIL state for node {}: is reachable again and nobody is serving its slots after some time.",
                    n.id
                );
                n.flags &= !FAIL;
                out.save = true;
            }
        }
    }

    /// The sender's role as its header says: a master, or a replica of the node it names.
    fn follow_role(&mut self, st: &mut ClusterState, sender: usize, h: &Header, out: &mut Outcome) {
        match h.replicaof {
            None => {
                if st.nodes[sender].is_replica() {
                    set_as_master(st, sender);
                    out.save = true;
                }
            }
            Some(master) => {
                let master = master.to_string();
                let n = &st.nodes[sender];
                if n.is_replica() && n.master.as_deref() == Some(master.as_str()) {
                    return;
                }
                if n.is_master() {
                    // A master turned replica: its slots are no longer its own.
                    for slot in 0..SLOTS {
                        if st.owner(slot) == Some(sender) {
                            st.unassign(slot);
                        }
                    }
                }
                // A master that has (or had) replicas is one a replica may migrate to.
                if let Some(m) = st.index_of(master.as_bytes()) {
                    st.nodes[m].flags |= MIGRATE_TO;
                }
                let n = &mut st.nodes[sender];
                n.flags = (n.flags & !MASTER) | REPLICA;
                n.master = Some(master);
                out.save = true;
            }
        }
    }

    /// The sender's slots, when it is a master with a claim that differs from what this node
    /// knows, are taken as Redis takes them (by config epoch); a sender whose claim is older
    /// than the owner this node knows for one of its slots is sent an UPDATE about that owner.
    fn follow_slots(
        &mut self,
        st: &mut ClusterState,
        sender: usize,
        h: &Header,
        out: &mut Outcome,
    ) {
        let shard_master = if st.nodes[sender].is_master() {
            Some(sender)
        } else {
            st.master_of(sender)
        };
        let Some(shard_master) = shard_master else {
            return;
        };
        if bitmap_of(st, shard_master) == h.slots {
            return;
        }
        if st.nodes[sender].is_master() {
            self.update_slots_with(st, sender, h.config_epoch, &h.slots, out);
        }
        for slot in h.slots.iter() {
            let Some(owner) = st.owner(usize::from(slot)) else {
                continue;
            };
            if owner == sender || st.nodes[owner].config_epoch <= h.config_epoch {
                continue;
            }
            let sender_id = st.nodes[sender].id.clone();
            if let Some(link) = self.link_to(&sender_id) {
                let config = self.server.config.read().clone();
                let header = self.header(st, &config);
                let about = &st.nodes[owner];
                let body = Body::Update {
                    config_epoch: about.config_epoch,
                    node: super::core::wire_name(&about.id),
                    slots: Box::new(bitmap_of(st, owner)),
                };
                crate::log!(
                    Verbose,
                    "Node {} has old slots configuration, sending an UPDATE message about {}",
                    sender_id,
                    about.id
                );
                self.queue(link, Message::new(header, body));
            }
            break;
        }
    }

    /// Redis's `clusterUpdateSlotsConfigWith`: every slot `node` claims with `epoch` moves to
    /// it when nobody serves it or its owner's config epoch is older, except the slots this
    /// node is importing. A master that loses all its slots this way follows the new owner
    /// as its replica (with `cluster-allow-replica-migration no`, only when the new owner
    /// took nothing but this master's slots); one that keeps serving deletes its keys in the
    /// slots it lost.
    fn update_slots_with(
        &mut self,
        st: &mut ClusterState,
        node: usize,
        epoch: u64,
        slots: &SlotBitmap,
        out: &mut Outcome,
    ) {
        if node == 0 {
            crate::log!(Verbose, "Discarding UPDATE message about myself.");
            return;
        }
        let my_master = if st.myself().is_replica() {
            st.master_of(0)
        } else {
            Some(0)
        };
        let (mut claimed, mut taken_from_mine) = (0, 0);
        for slot in slots.iter().map(usize::from) {
            claimed += 1;
            let owner = st.owner(slot);
            if owner == Some(node) || st.importing_from(slot).is_some() {
                continue;
            }
            if owner.is_none_or(|o| st.nodes[o].config_epoch < epoch) {
                if owner.is_some() && owner == my_master {
                    taken_from_mine += 1;
                }
                if owner == Some(0) {
                    out.lost_slots.push(slot);
                }
                st.unassign(slot);
                st.assign(slot, node);
                out.save = true;
            }
        }
        let Some(my_master) = my_master else {
            return;
        };
        // This master, or this replica's master, lost its last slot to `node`: failed over (or
        // emptied by a resharding), so this node follows the new owner, as its replica. Without
        // replica migration, only when `node` took exactly what this shard had.
        let allow_migration = self.server.config.read().cluster.allow_replica_migration;
        if taken_from_mine > 0
            && st.slot_count(my_master) == 0
            && (allow_migration || claimed == taken_from_mine)
        {
            crate::log!(
                Notice,
                "Configuration change detected. Reconfiguring myself as a replica of {}",
                st.nodes[node].id
            );
            election::become_replica_of(&self.server, self.node(), st, node);
            // Replication switches once the state's lock is released, under every gate.
            let n = &st.nodes[node];
            out.follow = Some((n.ip.clone(), n.port));
        }
    }

    /// Two masters with one config epoch: the one with the greater ID takes a new epoch.
    fn resolve_epoch_collision(
        &mut self,
        st: &mut ClusterState,
        sender: usize,
        h: &Header,
        out: &mut Outcome,
    ) {
        let me = st.myself();
        if !me.is_master()
            || !st.nodes[sender].is_master()
            || h.config_epoch != me.config_epoch
            || st.nodes[sender].id <= me.id
        {
            return;
        }
        st.current_epoch += 1;
        let epoch = st.current_epoch;
        st.myself_mut().config_epoch = epoch;
        crate::log!(
            Verbose,
            "WARNING: configEpoch collision with node {}. configEpoch set to {epoch}",
            st.nodes[sender].id
        );
        out.save = true;
    }

    /// The gossip section: failure reports from masters, pong times heard second hand, new
    /// addresses of unreachable nodes, and nodes this node did not know (added with their
    /// real name, unless CLUSTER FORGET removed them less than a minute ago).
    fn gossip(
        &mut self,
        st: &mut ClusterState,
        sender: usize,
        entries: &[Gossip],
        now: u64,
        out: &mut Outcome,
    ) {
        let sender_id = st.nodes[sender].id.clone();
        let sender_is_master = st.nodes[sender].is_master();
        let validity = self.node_timeout() * FAIL_REPORT_VALIDITY_MULT;
        for g in entries {
            let flags = g.flags.0;
            let name = g.name.to_string();
            let ip = String::from_utf8_lossy(g.ip.as_bytes()).into_owned();
            let Some(index) = st.index_of(name.as_bytes()) else {
                if flags & NOADDR == 0 && !st.is_forgotten(&name, now) {
                    let mut node = Node::new(name, flags & !(MYSELF | MEET | PFAIL | FAIL));
                    node.ip = ip;
                    node.port = g.port;
                    node.pport = g.pport;
                    node.cport = g.cport;
                    node.live.created_ms = now;
                    st.add_node(node);
                    out.save = true;
                }
                continue;
            };
            if sender_is_master && index != 0 {
                if flags & (FAIL | PFAIL) != 0 {
                    if st.nodes[index].live.add_failure_report(&sender_id, now) {
                        crate::log!(
                            Verbose,
                            "Node {sender_id} reported node {name} as not reachable."
                        );
                    }
                    self.mark_failing_if_needed(st, index, now, validity, out);
                } else if st.nodes[index].live.remove_failure_report(&sender_id) {
                    crate::log!(
                        Verbose,
                        "Node {sender_id} reported node {name} is back online."
                    );
                }
            }
            let n = &mut st.nodes[index];
            if flags & (PFAIL | FAIL) == 0
                && n.ping_sent == 0
                && n.live.failure_reports(now, validity) == 0
            {
                let pong = u64::from(g.pong_received) * 1000;
                if pong <= now + 500 && pong > n.pong_received {
                    n.pong_received = pong;
                }
            }
            let moved = n.ip != ip || n.port != g.port || n.cport != g.cport;
            if n.flags & (PFAIL | FAIL) != 0 && flags & (NOADDR | PFAIL | FAIL) == 0 && moved {
                n.ip = ip;
                n.port = g.port;
                n.cport = g.cport;
                n.flags &= !NOADDR;
                let id = n.id.clone();
                if let Some(l) = self.link_to(&id) {
                    self.free_link(st, l);
                }
                out.save = true;
            }
        }
    }

    /// A node this one flagged PFAIL becomes FAIL when a majority of the masters serving slots
    /// (this one included, when it is one) reported it within twice the node timeout; every
    /// node is told.
    fn mark_failing_if_needed(
        &mut self,
        st: &mut ClusterState,
        index: usize,
        now: u64,
        validity: u64,
        out: &mut Outcome,
    ) {
        let quorum = st.size() / 2 + 1;
        let n = &mut st.nodes[index];
        if n.flags & PFAIL == 0 || n.flags & FAIL != 0 {
            return;
        }
        let mut failures = n.live.failure_reports(now, validity);
        if st.nodes[0].is_master() {
            failures += 1;
        }
        if failures < quorum {
            return;
        }
        let n = &mut st.nodes[index];
        crate::log!(Notice, "Marking node {} as failing (quorum reached).", n.id);
        n.flags = (n.flags | FAIL) & !PFAIL;
        n.live.fail_time = now;
        let about = super::core::wire_name(&n.id);
        self.broadcast(st, Body::Fail { about });
        out.save = true;
    }
}

/// A replica promoted (or seen promoted): a master, without a master, and one a replica may
/// migrate to (it replaced a master that had replicas).
fn set_as_master(st: &mut ClusterState, node: usize) {
    let n = &mut st.nodes[node];
    n.flags = (n.flags & !REPLICA) | MASTER | MIGRATE_TO;
    n.master = None;
}
