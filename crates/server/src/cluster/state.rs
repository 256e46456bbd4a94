//! What a cluster node knows: the nodes (itself among them), the epochs, which node serves
//! each of the 16384 slots, and the slots being migrated or imported. Pure data with Redis's
//! rules for changing it; the node descriptions are the lines CLUSTER NODES shows and
//! nodes.conf stores.

use std::fmt::Write as _;

pub use redis_lite_engine::slot::SLOTS;

/// A node's flags, with the bit values the cluster bus carries them in (so a header's or a
/// gossip entry's flags are these), named as CLUSTER NODES names them.
pub mod node_flags {
    pub const MASTER: u16 = 1 << 0;
    pub const REPLICA: u16 = 1 << 1;
    pub const PFAIL: u16 = 1 << 2;
    pub const FAIL: u16 = 1 << 3;
    pub const MYSELF: u16 = 1 << 4;
    pub const HANDSHAKE: u16 = 1 << 5;
    pub const NOADDR: u16 = 1 << 6;
    /// To be sent a MEET rather than a PING when its link opens (CLUSTER MEET); not shown.
    pub const MEET: u16 = 1 << 7;
    /// A master that has or had replicas: one a replica may migrate to once it has none.
    /// Not shown in CLUSTER NODES.
    pub const MIGRATE_TO: u16 = 1 << 8;
    pub const NOFAILOVER: u16 = 1 << 9;

    /// In the order Redis writes them.
    pub const NAMES: &[(u16, &str)] = &[
        (MYSELF, "myself"),
        (MASTER, "master"),
        (REPLICA, "slave"),
        (PFAIL, "fail?"),
        (FAIL, "fail"),
        (HANDSHAKE, "handshake"),
        (NOADDR, "noaddr"),
        (NOFAILOVER, "nofailover"),
    ];
}

use node_flags::*;

/// One node of the cluster as this node sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// 40 hex characters.
    pub id: String,
    /// Empty until known (this node learns its own from its peers, or `cluster-announce-ip`).
    pub ip: String,
    pub port: u16,
    /// The plaintext client port when `port` is a TLS one (`tls-cluster`), else 0.
    pub pport: u16,
    pub cport: u16,
    pub hostname: String,
    pub flags: u16,
    /// The master's ID, for a replica.
    pub master: Option<String>,
    /// Unix ms of the last ping sent not yet answered, and of the last pong received.
    pub ping_sent: u64,
    pub pong_received: u64,
    pub config_epoch: u64,
    /// What the bus keeps about the node while running (never in nodes.conf).
    pub live: Liveness,
}

/// A node's run-time bus facts: when it became known, when anything last came from it, its
/// outbound link, and the failure reports other masters gossiped about it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Liveness {
    /// Unix ms the node was added (the handshake timeout counts from it).
    pub created_ms: u64,
    /// Unix ms of the last message received from the node, of any type.
    pub data_received: u64,
    /// Unix ms the node was flagged FAIL.
    pub fail_time: u64,
    /// Whether this node has an outbound link to it (CLUSTER NODES's `connected`).
    pub linked: bool,
    /// The replication offset its last message gave (a replica's processed offset).
    pub repl_offset: u64,
    /// The masters that said the node is failing, with when they last said so.
    pub fail_reports: Vec<(String, u64)>,
}

impl Liveness {
    /// Records `reporter`'s report; whether it is a new one.
    pub fn add_failure_report(&mut self, reporter: &str, now: u64) -> bool {
        match self.fail_reports.iter_mut().find(|(r, _)| r == reporter) {
            Some((_, time)) => {
                *time = now;
                false
            }
            None => {
                self.fail_reports.push((reporter.to_string(), now));
                true
            }
        }
    }

    /// Drops `reporter`'s report; whether there was one.
    pub fn remove_failure_report(&mut self, reporter: &str) -> bool {
        let before = self.fail_reports.len();
        self.fail_reports.retain(|(r, _)| r != reporter);
        self.fail_reports.len() != before
    }

    /// The reports younger than `validity` ms, older ones dropped first.
    pub fn failure_reports(&mut self, now: u64, validity: u64) -> usize {
        self.fail_reports
            .retain(|&(_, time)| now.saturating_sub(time) <= validity);
        self.fail_reports.len()
    }
}

impl Node {
    pub fn new(id: String, flags: u16) -> Self {
        Node {
            id,
            ip: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            hostname: String::new(),
            flags,
            master: None,
            ping_sent: 0,
            pong_received: 0,
            config_epoch: 0,
            live: Liveness::default(),
        }
    }

    pub fn is_master(&self) -> bool {
        self.flags & MASTER != 0
    }

    pub fn is_replica(&self) -> bool {
        self.flags & REPLICA != 0
    }

    pub fn is_failed(&self) -> bool {
        self.flags & FAIL != 0
    }

    /// `ip:port@cport[,hostname]`, as CLUSTER NODES and nodes.conf write it; with
    /// `plaintext_port`, the plaintext port in place of the TLS one.
    pub fn address(&self, plaintext_port: bool) -> String {
        let port = if plaintext_port {
            self.pport
        } else {
            self.port
        };
        let mut address = format!("{}:{}@{}", self.ip, port, self.cport);
        if !self.hostname.is_empty() {
            address.push(',');
            address.push_str(&self.hostname);
        }
        address
    }

    /// The port clients reach the node at: `pport` for a plaintext client of a `tls-cluster`
    /// node (`plaintext`), else `port`.
    pub fn client_port(&self, plaintext: bool) -> u16 {
        if plaintext {
            self.pport
        } else {
            self.port
        }
    }

    /// The flags field: `myself,master`, or `noflags`.
    pub fn flag_names(&self) -> String {
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(flag, _)| self.flags & flag != 0)
            .map(|(_, name)| *name)
            .collect();
        if names.is_empty() {
            "noflags".to_string()
        } else {
            names.join(",")
        }
    }
}

/// The cluster as this node sees it.
#[derive(Clone, Debug)]
pub struct ClusterState {
    /// This node first, then the others in the order they became known.
    pub nodes: Vec<Node>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// The ID of the node serving each slot.
    slots: Vec<Option<u32>>,
    /// Node keys, parallel to `nodes`: what `slots` and the open slots refer to, stable when
    /// nodes come and go.
    keys: Vec<u32>,
    /// How many slots each node serves, parallel to `nodes`: kept with `slots`, so coverage
    /// and a node's count are known without walking 16384 slots after every change.
    slot_counts: Vec<usize>,
    next_key: u32,
    migrating: Vec<(u16, u32)>,
    importing: Vec<(u16, u32)>,
    /// Nodes CLUSTER FORGET removed, with the unix ms until which gossip may not add them back.
    pub forgotten: Vec<(String, u64)>,
    /// Slots this node's shard lost since they were last taken (see `take_lost_channel_slots`).
    lost_channel_slots: Vec<u16>,
    /// Whether `slots` changed since [`ClusterState::take_slots_changed`] was last asked.
    slots_changed: bool,
}

impl ClusterState {
    /// A fresh node that knows only itself, a master with no slots.
    pub fn new(myself_id: String) -> Self {
        ClusterState {
            nodes: vec![Node::new(myself_id, MYSELF | MASTER)],
            current_epoch: 0,
            last_vote_epoch: 0,
            slots: vec![None; SLOTS],
            keys: vec![0],
            slot_counts: vec![0],
            next_key: 1,
            migrating: Vec::new(),
            importing: Vec::new(),
            forgotten: Vec::new(),
            lost_channel_slots: Vec::new(),
            slots_changed: true,
        }
    }

    pub fn myself(&self) -> &Node {
        &self.nodes[0]
    }

    pub fn myself_mut(&mut self) -> &mut Node {
        &mut self.nodes[0]
    }

    /// Adds a node this node learned about; returns its index. Used by nodes.conf loading.
    pub fn add_node(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.keys.push(self.next_key);
        self.slot_counts.push(0);
        self.next_key += 1;
        self.nodes.len() - 1
    }

    /// Replaces this node's entry (nodes.conf's `myself` line).
    pub fn set_myself(&mut self, node: Node) {
        self.nodes[0] = node;
    }

    pub fn index_of(&self, id: &[u8]) -> Option<usize> {
        self.nodes.iter().position(|n| n.id.as_bytes() == id)
    }

    fn index_of_key(&self, key: u32) -> usize {
        self.keys
            .iter()
            .position(|&k| k == key)
            .expect("slots refer to known nodes")
    }

    /// The index of the node serving `slot`.
    pub fn owner(&self, slot: usize) -> Option<usize> {
        self.slots[slot].map(|key| self.index_of_key(key))
    }

    pub fn owner_node(&self, slot: usize) -> Option<&Node> {
        self.owner(slot).map(|i| &self.nodes[i])
    }

    pub fn assign(&mut self, slot: usize, node: usize) {
        if self.owner(slot) == Some(node) {
            return;
        }
        self.unassign(slot);
        self.slots[slot] = Some(self.keys[node]);
        self.slot_counts[node] += 1;
        self.slots_changed = true;
    }

    /// Whether this node serves `slot` itself.
    pub fn serves(&self, slot: usize) -> bool {
        self.slots[slot] == Some(self.keys[0])
    }

    /// Whether a slot changed hands since the last call.
    pub fn take_slots_changed(&mut self) -> bool {
        std::mem::take(&mut self.slots_changed)
    }

    pub fn unassign(&mut self, slot: usize) {
        if let Some(owner) = self.owner(slot) {
            self.slot_counts[owner] -= 1;
            if owner == 0 || self.master_of(0) == Some(owner) {
                self.lost_channel_slots.push(slot as u16);
            }
        }
        self.slots[slot] = None;
        self.slots_changed = true;
    }

    /// The slots this node's shard (it, or its master) served and lost since the last call:
    /// their shard channels are dropped ([`crate::cluster::slots_changed`]).
    pub fn take_lost_channel_slots(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.lost_channel_slots)
    }

    /// Where `slot` is being migrated to, from this node.
    pub fn migrating_to(&self, slot: usize) -> Option<usize> {
        Self::open_slot(&self.migrating, slot).map(|key| self.index_of_key(key))
    }

    /// Where `slot` is being imported from, to this node.
    pub fn importing_from(&self, slot: usize) -> Option<usize> {
        Self::open_slot(&self.importing, slot).map(|key| self.index_of_key(key))
    }

    /// Whether a slot is being migrated from or imported to this node.
    pub fn has_open_slots(&self) -> bool {
        !self.migrating.is_empty() || !self.importing.is_empty()
    }

    fn open_slot(list: &[(u16, u32)], slot: usize) -> Option<u32> {
        list.iter()
            .find(|(s, _)| *s as usize == slot)
            .map(|&(_, key)| key)
    }

    fn set_open(list: &mut Vec<(u16, u32)>, slot: usize, key: Option<u32>) {
        list.retain(|(s, _)| *s as usize != slot);
        if let Some(key) = key {
            list.push((slot as u16, key));
            list.sort_unstable();
        }
    }

    pub fn set_migrating(&mut self, slot: usize, node: Option<usize>) {
        let key = node.map(|i| self.keys[i]);
        Self::set_open(&mut self.migrating, slot, key);
    }

    pub fn set_importing(&mut self, slot: usize, node: Option<usize>) {
        let key = node.map(|i| self.keys[i]);
        Self::set_open(&mut self.importing, slot, key);
    }

    /// The slots `node` serves, as ranges.
    pub fn slot_ranges(&self, node: usize) -> Vec<(usize, usize)> {
        if self.slot_counts[node] == 0 {
            return Vec::new();
        }
        std::mem::take(&mut self.all_slot_ranges()[node])
    }

    /// Every node's slot ranges (parallel to `nodes`) in one walk over the slots, so that
    /// CLUSTER NODES and nodes.conf cost one walk however many nodes there are.
    fn all_slot_ranges(&self) -> Vec<Vec<(usize, usize)>> {
        let mut ranges = vec![Vec::new(); self.nodes.len()];
        let mut start = 0;
        while start < SLOTS {
            let owner = self.slots[start];
            let run = self.slots[start..]
                .iter()
                .take_while(|&&slot| slot == owner)
                .count();
            if let Some(key) = owner {
                ranges[self.index_of_key(key)].push((start, start + run - 1));
            }
            start += run;
        }
        ranges
    }

    pub fn slot_count(&self, node: usize) -> usize {
        self.slot_counts[node]
    }

    pub fn assigned_slots(&self) -> usize {
        self.slot_counts.iter().sum()
    }

    /// Runs of consecutive slots served by the same node, in slot order: CLUSTER SLOTS.
    pub fn slot_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for slot in 0..SLOTS {
            let Some(owner) = self.owner(slot) else {
                continue;
            };
            match runs.last_mut() {
                Some((_, end, node)) if *end + 1 == slot && *node == owner => *end = slot,
                _ => runs.push((slot, slot, owner)),
            }
        }
        runs
    }

    pub fn replicas_of(&self, master: usize) -> Vec<usize> {
        let id = &self.nodes[master].id;
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_replica() && self.nodes[i].master.as_ref() == Some(id))
            .collect()
    }

    /// The node a replica replicates, by index.
    pub fn master_of(&self, node: usize) -> Option<usize> {
        let master = self.nodes[node].master.as_ref()?;
        self.index_of(master.as_bytes())
    }

    /// Ends every migration and import of this node (it became a replica).
    pub fn close_open_slots(&mut self) {
        self.migrating.clear();
        self.importing.clear();
    }

    /// Drops a node and everything pointing to it: its slots and the open slots naming it.
    pub fn remove_node(&mut self, node: usize) {
        let key = self.keys[node];
        for slot in self.slots.iter_mut() {
            if *slot == Some(key) {
                *slot = None;
            }
        }
        self.slots_changed = true;
        self.migrating.retain(|&(_, k)| k != key);
        self.importing.retain(|&(_, k)| k != key);
        self.nodes.remove(node);
        self.keys.remove(node);
        self.slot_counts.remove(node);
    }

    /// The greatest epoch known: the current epoch or any node's config epoch.
    pub fn max_epoch(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.config_epoch)
            .fold(self.current_epoch, u64::max)
    }

    /// Redis's `clusterBumpConfigEpochWithoutConsensus`: a new epoch for this node unless it
    /// already has the greatest. Whether it moved.
    pub fn bump_epoch(&mut self) -> bool {
        let max = self.max_epoch();
        let mine = self.myself().config_epoch;
        if mine != 0 && mine == max {
            return false;
        }
        self.current_epoch += 1;
        self.myself_mut().config_epoch = self.current_epoch;
        true
    }

    /// This node's config epoch, or its master's for a replica (CLUSTER INFO's `my_epoch`).
    pub fn my_epoch(&self) -> u64 {
        match self.master_of(0) {
            Some(master) if self.myself().is_replica() => self.nodes[master].config_epoch,
            _ => self.myself().config_epoch,
        }
    }

    /// Forgets every slot and other node; a hard reset also takes a new ID and zeroes the
    /// epochs (CLUSTER RESET).
    pub fn reset(&mut self, hard: Option<String>) {
        let mut myself = self.myself().clone();
        myself.flags = (myself.flags & !(REPLICA | PFAIL | FAIL)) | MASTER;
        myself.master = None;
        if let Some(id) = hard {
            myself.id = id;
            myself.config_epoch = 0;
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
        }
        let (current, last_vote) = (self.current_epoch, self.last_vote_epoch);
        // Every slot is unassigned, as Redis's reset deletes them one by one: the shard
        // channels of those this node's shard served lose their subscribers.
        for slot in 0..SLOTS {
            self.unassign(slot);
        }
        let lost = self.take_lost_channel_slots();
        *self = ClusterState::new(myself.id.clone());
        self.lost_channel_slots = lost;
        self.nodes[0] = myself;
        self.current_epoch = current;
        self.last_vote_epoch = last_vote;
    }

    /// The line CLUSTER NODES shows for a node (without the newline); this node's own line
    /// lists its open slots too. `plaintext_ports`: each node's plaintext port in place of its
    /// TLS one, for a plaintext client of a `tls-cluster` node, as Redis shows them.
    pub fn describe(&self, node: usize, plaintext_ports: bool) -> String {
        self.describe_with(node, plaintext_ports, &self.slot_ranges(node))
    }

    /// [`ClusterState::describe`] given the node's slot ranges.
    fn describe_with(
        &self,
        node: usize,
        plaintext_ports: bool,
        ranges: &[(usize, usize)],
    ) -> String {
        let n = &self.nodes[node];
        let master = match &n.master {
            Some(id) if n.is_replica() => id.as_str(),
            _ => "-",
        };
        let linked = if node == 0 || n.live.linked {
            "connected"
        } else {
            "disconnected"
        };
        // A replica shows its master's config epoch, as Redis shows it.
        let epoch = match self.master_of(node) {
            Some(m) if n.is_replica() => self.nodes[m].config_epoch,
            _ => n.config_epoch,
        };
        let mut line = format!(
            "{} {} {} {} {} {} {} {}",
            n.id,
            n.address(plaintext_ports),
            n.flag_names(),
            master,
            n.ping_sent,
            n.pong_received,
            epoch,
            linked
        );
        for &(start, end) in ranges {
            if start == end {
                let _ = write!(line, " {start}");
            } else {
                let _ = write!(line, " {start}-{end}");
            }
        }
        if node == 0 {
            for &(slot, key) in &self.migrating {
                let _ = write!(
                    line,
                    " [{slot}->-{}]",
                    self.nodes[self.index_of_key(key)].id
                );
            }
            for &(slot, key) in &self.importing {
                let _ = write!(
                    line,
                    " [{slot}-<-{}]",
                    self.nodes[self.index_of_key(key)].id
                );
            }
        }
        line
    }

    /// Every node's line, newline-terminated (CLUSTER NODES, nodes.conf). Nodes still in
    /// handshake are left out of nodes.conf.
    pub fn describe_all(&self, with_handshake: bool, plaintext_ports: bool) -> String {
        let mut text = String::new();
        let ranges = self.all_slot_ranges();
        for (i, node) in self.nodes.iter().enumerate() {
            if !with_handshake && node.flags & HANDSHAKE != 0 {
                continue;
            }
            text.push_str(&self.describe_with(i, plaintext_ports, &ranges[i]));
            text.push('\n');
        }
        text
    }

    /// Whether every slot is served by a node that is not failing (what
    /// `cluster-require-full-coverage` asks).
    pub fn covered(&self) -> bool {
        self.assigned_slots() == SLOTS
            && (self.nodes.iter().zip(&self.slot_counts))
                .all(|(n, &count)| count == 0 || !n.is_failed())
    }

    /// Whether a majority of the masters serving slots is reachable (neither PFAIL nor FAIL):
    /// a node in a minority partition stops serving.
    pub fn reaches_majority(&self) -> bool {
        let serving: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_master() && self.slot_count(i) > 0)
            .collect();
        let reachable = serving
            .iter()
            .filter(|&&i| self.nodes[i].flags & (PFAIL | FAIL) == 0)
            .count();
        reachable > serving.len() / 2
    }

    /// Gives node `node` the ID `id` (a handshake node's random name replaced by the real one).
    pub fn rename(&mut self, node: usize, id: String) {
        self.nodes[node].id = id;
    }

    /// Whether CLUSTER FORGET removed `id` less than a minute ago (expired entries dropped).
    pub fn is_forgotten(&mut self, id: &str, now: u64) -> bool {
        self.forgotten.retain(|&(_, until)| until > now);
        self.forgotten.iter().any(|(f, _)| f == id)
    }

    /// Removes `node`, as CLUSTER FORGET or a failed handshake does: its failure reports about
    /// others go with it.
    pub fn delete_node(&mut self, node: usize) {
        let id = self.nodes[node].id.clone();
        for other in self.nodes.iter_mut() {
            other.live.remove_failure_report(&id);
        }
        self.remove_node(node);
    }

    /// Masters serving at least one slot (CLUSTER INFO's `cluster_size`).
    pub fn size(&self) -> usize {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_master() && self.slot_count(i) > 0)
            .count()
    }

    /// Slots served by a node that is not failing, probably failing, failing.
    pub fn slot_health(&self) -> (usize, usize, usize) {
        let (mut ok, mut pfail, mut fail) = (0, 0, 0);
        for slot in 0..SLOTS {
            match self.owner_node(slot) {
                Some(n) if n.flags & FAIL != 0 => fail += 1,
                Some(n) if n.flags & PFAIL != 0 => pfail += 1,
                Some(_) => ok += 1,
                None => {}
            }
        }
        (ok, pfail, fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 40).collect()
    }

    #[test]
    fn ranges_and_lines_read_as_redis_writes_them() {
        let mut state = ClusterState::new(id('a'));
        state.myself_mut().port = 7000;
        state.myself_mut().cport = 17000;
        for slot in [0, 1, 2, 5, 100] {
            state.assign(slot, 0);
        }
        let other = state.add_node(Node::new(id('b'), MASTER));
        state.assign(3, other);
        state.set_migrating(1, Some(other));
        state.set_importing(3, Some(other));
        assert_eq!(state.slot_ranges(0), vec![(0, 2), (5, 5), (100, 100)]);
        assert_eq!(
            state.describe(0, false),
            format!(
                "{} :7000@17000 myself,master - 0 0 0 connected 0-2 5 100 [1->-{}] [3-<-{}]",
                id('a'),
                id('b'),
                id('b')
            )
        );
        assert_eq!(
            state.slot_runs(),
            vec![(0, 2, 0), (3, 3, 1), (5, 5, 0), (100, 100, 0)]
        );
        state.remove_node(other);
        assert_eq!(state.owner(3), None);
        assert_eq!(state.importing_from(3), None);
        assert_eq!(state.owner(5), Some(0));
    }

    #[test]
    fn bump_epoch_moves_only_when_not_already_greatest() {
        let mut state = ClusterState::new(id('a'));
        assert!(state.bump_epoch());
        assert_eq!((state.current_epoch, state.myself().config_epoch), (1, 1));
        assert!(!state.bump_epoch());
        state.current_epoch = 5;
        assert!(state.bump_epoch());
        assert_eq!(state.myself().config_epoch, 6);
    }

    #[test]
    fn failure_reports_expire_and_count_once_per_reporter() {
        let mut live = Liveness::default();
        assert!(live.add_failure_report("m1", 1000));
        assert!(!live.add_failure_report("m1", 2000));
        assert!(live.add_failure_report("m2", 1500));
        assert_eq!(live.failure_reports(3000, 2000), 2);
        // m2's report (1500) is now older than the validity; m1's was refreshed at 2000.
        assert_eq!(live.failure_reports(3600, 2000), 1);
        assert!(live.remove_failure_report("m1"));
        assert!(!live.remove_failure_report("m1"));
        assert_eq!(live.failure_reports(3600, 2000), 0);
    }

    #[test]
    fn the_state_needs_a_reachable_majority_of_masters_serving_slots() {
        let mut state = ClusterState::new(id('a'));
        let b = state.add_node(Node::new(id('b'), MASTER));
        let c = state.add_node(Node::new(id('c'), MASTER));
        // A master without slots does not count.
        state.add_node(Node::new(id('d'), MASTER | PFAIL));
        for (slot, node) in [(0, 0), (1, b), (2, c)] {
            state.assign(slot, node);
        }
        assert!(state.reaches_majority());
        state.nodes[b].flags |= PFAIL;
        assert!(state.reaches_majority());
        state.nodes[c].flags |= FAIL;
        assert!(!state.reaches_majority());
        assert_eq!(state.size(), 3);
    }

    #[test]
    fn deleting_a_node_drops_its_failure_reports_about_others() {
        let mut state = ClusterState::new(id('a'));
        let b = state.add_node(Node::new(id('b'), MASTER));
        let c = state.add_node(Node::new(id('c'), MASTER));
        state.nodes[c].live.add_failure_report(&id('b'), 10);
        state.delete_node(b);
        let c = state.index_of(id('c').as_bytes()).unwrap();
        assert!(state.nodes[c].live.fail_reports.is_empty());
        state.forgotten.push((id('b'), 100));
        assert!(state.is_forgotten(&id('b'), 50));
        assert!(!state.is_forgotten(&id('b'), 100));
        assert!(state.forgotten.is_empty());
    }
}
