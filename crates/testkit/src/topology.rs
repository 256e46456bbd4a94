//! Multi-node set-ups for replication and cluster tests: a master with replicas
//! ([`Replicated`]) and a cluster with its slots spread over its nodes ([`Cluster`]). Each node
//! is any [`Program`], so a test can mix redis-lite and Redis nodes; every node is killed when
//! the set-up is dropped.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::launch::{Launch, Program, Server};
use crate::wait::{info_field, wait_until};

/// How long a replica may take to sync, or a cluster to agree on its slots.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The number of hash slots in a Redis cluster.
pub const CLUSTER_SLOTS: u16 = 16384;

/// Arguments every node of a convenience set-up gets: no snapshot or AOF files (a test that
/// wants them starts its own [`Launch`]es).
const NO_PERSISTENCE: [&str; 4] = ["--save", "", "--appendonly", "no"];

/// A master and its replicas.
pub struct Replicated {
    pub master: Server,
    pub replicas: Vec<Server>,
}

impl Replicated {
    /// Starts `master`, then each of `replicas` with `--replicaof` the master, and waits until
    /// every replica's link is up and it has everything the master had written.
    pub fn start(master: Launch, replicas: Vec<Launch>) -> Replicated {
        let master = master.start();
        let port = master.port.to_string();
        let replicas = replicas
            .into_iter()
            .map(|replica| replica.args(&["--replicaof", "127.0.0.1", &port]).start())
            .collect();
        let set = Replicated { master, replicas };
        set.wait_replicated();
        set
    }

    /// A master running `master` and one replica per entry of `replicas`, without persistence,
    /// or None (saying the test is skipped) when one of the programs is missing.
    pub fn of(master: Program, replicas: &[Program]) -> Option<Replicated> {
        if !master.available() || !replicas.iter().all(|p| p.available()) {
            return None;
        }
        // The master starts a full sync at once instead of waiting (5 s by default) for more
        // replicas to join the same diskless transfer.
        let master = Launch::of(master)
            .args(&NO_PERSISTENCE)
            .args(&["--repl-diskless-sync-delay", "0"]);
        let replicas = replicas
            .iter()
            .map(|&p| Launch::of(p).args(&NO_PERSISTENCE))
            .collect();
        Some(Replicated::start(master, replicas))
    }

    /// Waits until every replica's link is up, it has finished loading what the master sent,
    /// and it has processed the master's stream up to the master's offset now: whatever was
    /// written on the master before this call can be read on the replicas. (A replica that was
    /// just pointed at the master again still reports its old offset until its sync starts,
    /// hence the link and loading checks.)
    pub fn wait_replicated(&self) {
        let target: u64 = offset(&self.master, "master_repl_offset");
        for replica in &self.replicas {
            let mut raw = replica.raw();
            wait_until(
                "a replica's master_link_status:up and loading:0",
                CONVERGE_TIMEOUT,
                || {
                    info_field(&mut raw, "replication", "master_link_status") == "up"
                        && info_field(&mut raw, "persistence", "loading") == "0"
                },
            );
            wait_until(
                &format!("a replica to reach the master's offset {target}"),
                CONVERGE_TIMEOUT,
                || offset(replica, "slave_repl_offset") >= target,
            );
        }
    }
}

/// A replication offset from `server`'s INFO replication.
fn offset(server: &Server, field: &str) -> u64 {
    let value = info_field(&mut server.raw(), "replication", field);
    value
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number: {value:?}"))
}

/// A cluster whose nodes each serve one contiguous range of slots, all masters.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    /// Starts each launch as a cluster node, gives node `i` the `i`-th of equal slot ranges
    /// (CLUSTER ADDSLOTSRANGE), joins them all to the first (CLUSTER MEET), and waits until
    /// every node says `cluster_state:ok` and knows every node and slot.
    pub fn start(nodes: Vec<Launch>) -> Cluster {
        assert!(!nodes.is_empty(), "a cluster needs a node");
        let nodes: Vec<Server> = nodes
            .into_iter()
            .map(|node| node.cluster_node().start())
            .collect();
        let cluster = Cluster { nodes };
        for (i, node) in cluster.nodes.iter().enumerate() {
            let slots = cluster.slots(i);
            let (first, last) = (slots.start().to_string(), slots.end().to_string());
            let reply = node
                .raw()
                .cmd_text(&["CLUSTER", "ADDSLOTSRANGE", &first, &last]);
            assert_eq!(reply, "+OK\r\n", "CLUSTER ADDSLOTSRANGE {first} {last}");
        }
        let mut first = cluster.nodes[0].raw();
        for node in &cluster.nodes[1..] {
            let port = node.port.to_string();
            let bus = node.cluster_port.expect("a cluster node has a bus port");
            let reply = first.cmd_text(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus.to_string()]);
            assert_eq!(reply, "+OK\r\n", "CLUSTER MEET 127.0.0.1 {port} {bus}");
        }
        let expected = [
            "cluster_state:ok".to_string(),
            format!("cluster_slots_ok:{CLUSTER_SLOTS}"),
            format!("cluster_known_nodes:{}", cluster.nodes.len()),
        ];
        for node in &cluster.nodes {
            let mut raw = node.raw();
            wait_until(
                &format!("node {} to see the whole cluster", node.port),
                CONVERGE_TIMEOUT,
                || {
                    let info = raw.cmd_text(&["CLUSTER", "INFO"]);
                    expected.iter().all(|line| info.lines().any(|l| l == line))
                },
            );
        }
        cluster
    }

    /// `count` nodes running `program`, without persistence, or None (saying the test is
    /// skipped) when the program is missing.
    pub fn of(program: Program, count: usize) -> Option<Cluster> {
        if !program.available() {
            return None;
        }
        let nodes = (0..count)
            .map(|_| Launch::of(program).args(&NO_PERSISTENCE))
            .collect();
        Some(Cluster::start(nodes))
    }

    /// The slots node `node` was given: the `node`-th of equal ranges, the last taking the rest.
    pub fn slots(&self, node: usize) -> RangeInclusive<u16> {
        let count = self.nodes.len();
        let per_node = usize::from(CLUSTER_SLOTS) / count;
        let first = node * per_node;
        let last = if node + 1 == count {
            usize::from(CLUSTER_SLOTS) - 1
        } else {
            first + per_node - 1
        };
        first as u16..=last as u16
    }

    /// The slot of `key`, as the cluster computes it (CLUSTER KEYSLOT).
    pub fn key_slot(&self, key: &str) -> u16 {
        let reply = self.nodes[0].raw().cmd_text(&["CLUSTER", "KEYSLOT", key]);
        reply
            .strip_prefix(':')
            .and_then(|n| n.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("CLUSTER KEYSLOT {key}: {reply:?}"))
    }

    /// The index of the node that was given `key`'s slot at start (before any
    /// [`Cluster::move_slot`]).
    pub fn node_for(&self, key: &str) -> usize {
        let slot = self.key_slot(key);
        (0..self.nodes.len())
            .find(|&i| self.slots(i).contains(&slot))
            .expect("every slot has a node")
    }

    /// Node `node`'s ID (CLUSTER MYID).
    pub fn node_id(&self, node: usize) -> String {
        let reply = self.nodes[node].raw().cmd(&["CLUSTER", "MYID"]);
        String::from_utf8(crate::Reply::parse(&reply).bytes()).expect("a node ID is text")
    }

    /// Moves `slot` and its keys from node `from` to node `to` the way `redis-cli --cluster
    /// reshard` does: [`Cluster::open_slot`], [`Cluster::migrate_batch`] until the source has
    /// none left, then SETSLOT NODE on the target, the source and every other node. Clients of
    /// the source get -ASK during the move and -MOVED after.
    pub fn move_slot(&self, slot: u16, from: usize, to: usize) {
        self.open_slot(slot, from, to);
        while self.migrate_batch(slot, from, to, 100) > 0 {}
        let to_id = self.node_id(to);
        let slot = slot.to_string();
        let order = [to, from]
            .into_iter()
            .chain((0..self.nodes.len()).filter(|&i| i != from && i != to));
        for node in order {
            ok(
                &mut self.nodes[node].raw(),
                &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id],
            );
        }
    }

    /// The first step of a slot's migration: IMPORTING on node `to`, then MIGRATING on `from`.
    pub fn open_slot(&self, slot: u16, from: usize, to: usize) {
        let (from_id, to_id) = (self.node_id(from), self.node_id(to));
        let slot = slot.to_string();
        ok(
            &mut self.nodes[to].raw(),
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id],
        );
        ok(
            &mut self.nodes[from].raw(),
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id],
        );
    }

    /// One batch of a slot's migration, as redis-cli sends it: up to `count` of the keys node
    /// `from` holds in `slot` (CLUSTER GETKEYSINSLOT) moved to node `to` by one MIGRATE ...
    /// KEYS. The number of keys moved: 0 once the slot is empty there.
    pub fn migrate_batch(&self, slot: u16, from: usize, to: usize, count: usize) -> usize {
        let mut source = self.nodes[from].raw();
        let (slot, count) = (slot.to_string(), count.to_string());
        let reply = source.cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, &count]);
        let keys = crate::Reply::parse(&reply).array();
        if keys.is_empty() {
            return 0;
        }
        let port = self.nodes[to].port.to_string();
        let mut migrate: Vec<&[u8]> = vec![b"MIGRATE", b"127.0.0.1", port.as_bytes()];
        migrate.extend([&b""[..], b"0", b"10000", b"KEYS"]);
        migrate.extend(keys.iter().map(Vec::as_slice));
        source.send(&crate::encode(&migrate));
        let reply = source.read_reply();
        let moved = keys.len();
        assert_eq!(
            String::from_utf8_lossy(&reply),
            "+OK\r\n",
            "MIGRATE {moved} keys of slot {slot}"
        );
        moved
    }
}

/// Runs `args` on `raw`, which must answer +OK.
fn ok(raw: &mut crate::Raw, args: &[&str]) {
    assert_eq!(raw.cmd_text(args), "+OK\r\n", "{args:?}");
}
