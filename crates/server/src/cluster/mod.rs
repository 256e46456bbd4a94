//! Redis Cluster: this node's identity and view of the cluster ([`state`]), kept in
//! `cluster-config-file` ([`nodes_conf`]), the CLUSTER command and ASKING/READONLY/READWRITE
//! ([`cluster_family`]; its hash slot subcommands KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT,
//! on the engine's slot mapping and per-slot key index, in [`slots_family`]), and the
//! pipeline's cluster rule ([`redirect`]: MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN), and the
//! cluster bus ([`bus`]: the links to the other nodes, gossip, failure detection, slot
//! ownership by config epoch, PUBLISH across nodes).

pub mod bus;
pub mod cluster_family;
pub mod election;
pub mod nodes_conf;
pub mod redirect;
pub mod slots_family;
pub mod state;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::OnceLock;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::Config;
use redis_lite_engine::slot::SLOTS;
use state::ClusterState;

/// [`ClusterNode::pending_save`]'s flags: nodes.conf is to be written, and flushed to disk.
const SAVE_CONFIG: u8 = 1 << 0;
const FSYNC_CONFIG: u8 = 1 << 1;

/// Redis's writable delay: a master that just started reports the cluster down for this long,
/// so that it hears from its peers before serving.
const WRITABLE_DELAY_MS: u64 = 2000;

/// The state locked for a change, which updates [`ClusterNode::has_open_slots`] when done.
/// Relaxed is enough: a command reads the flag holding its gate, which a resharding MIGRATE
/// took after it read the state that the flag was stored with.
pub struct StateWriteGuard<'a> {
    state: RwLockWriteGuard<'a, ClusterState>,
    open_slots: &'a AtomicBool,
    own_slots: &'a OwnSlots,
}

/// A bit per slot: whether this node serves it.
struct OwnSlots(Box<[AtomicU64]>);

impl OwnSlots {
    fn of(state: &ClusterState) -> OwnSlots {
        let own = OwnSlots((0..SLOTS / 64).map(|_| AtomicU64::new(0)).collect());
        own.update(state);
        own
    }

    fn contains(&self, slot: usize) -> bool {
        self.0[slot / 64].load(Relaxed) & (1 << (slot % 64)) != 0
    }

    fn update(&self, state: &ClusterState) {
        for (word, bits) in self.0.iter().enumerate() {
            let served = (0..64)
                .filter(|bit| state.serves(word * 64 + bit))
                .fold(0u64, |served, bit| served | 1 << bit);
            bits.store(served, Relaxed);
        }
    }
}

impl std::ops::Deref for StateWriteGuard<'_> {
    type Target = ClusterState;
    fn deref(&self) -> &ClusterState {
        &self.state
    }
}

impl std::ops::DerefMut for StateWriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut ClusterState {
        &mut self.state
    }
}

impl Drop for StateWriteGuard<'_> {
    fn drop(&mut self) {
        self.open_slots.store(self.state.has_open_slots(), Relaxed);
        if self.state.take_slots_changed() {
            self.own_slots.update(&self.state);
        }
    }
}

/// The cluster subsystem: set up at start-up when `cluster-enabled yes`, absent otherwise.
pub struct Cluster {
    node: OnceLock<ClusterNode>,
    /// DEBUG DROP-CLUSTER-PACKET-FILTER's message type: bus messages of this type are counted
    /// as received, then ignored (-1: none). Tests use it to cut one kind of gossip.
    pub drop_filter: AtomicI64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            node: OnceLock::new(),
            drop_filter: AtomicI64::new(-1),
        }
    }
}

/// A running cluster node.
pub struct ClusterNode {
    state: RwLock<ClusterState>,
    file: Mutex<nodes_conf::ConfigFile>,
    started_ms: u64,
    /// Whether every slot is served by a node not failing, computed after each change (as
    /// Redis keeps its cluster state), so the rule does not walk 16384 slots per command.
    covered: AtomicBool,
    /// Whether a majority of the masters serving slots is reachable, computed with `covered`.
    majority: AtomicBool,
    /// Whether a slot is being migrated from or imported to this node, kept by every change
    /// of the state ([`StateWriteGuard`]), so that commands know without the state's lock
    /// whether to be judged again inside their gates ([`redirect::recheck`]).
    open_slots: AtomicBool,
    /// Set once [`WRITABLE_DELAY_MS`] passed since `started_ms`.
    writable_delay_over: AtomicBool,
    /// The slots this node serves, a bit each, kept by every change of the state
    /// ([`StateWriteGuard`]): the cluster rule serves a command whose slot is here without
    /// the state's lock, which every event loop would otherwise take for every command.
    own_slots: OwnSlots,
    /// The `cluster_state` last logged ([`ClusterNode::log_state_change`]): fail at start,
    /// as Redis's state starts.
    logged_ok: AtomicBool,
    /// The save the changes since the last one ask for (`SAVE_CONFIG`, `FSYNC_CONFIG`), done
    /// by [`ClusterNode::before_sleep`], so that a turn's changes cost one save.
    pending_save: AtomicU8,
    /// The bus's counters, its links as CLUSTER LINKS shows them, and its inbox.
    pub bus: bus::Bus,
    /// Elections and manual failovers; locked after `state` when both are.
    pub election: Mutex<election::Election>,
}

impl Cluster {
    /// Loads or creates nodes.conf and becomes a cluster node. Errors are Redis's start-up
    /// messages; the server exits on them.
    pub fn start(&self, config: &Config, tcp_port: u16) -> Result<(), String> {
        if !config.cluster.enabled {
            return Ok(());
        }
        if config.cluster.port == 0 && tcp_port > 55535 {
            return Err("Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.".into());
        }
        let path = config.dir.join(&config.cluster.config_file);
        let loaded = nodes_conf::load(&path).map_err(|e| match e {
            nodes_conf::LoadError::Corrupted(line) => {
                format!("Unrecoverable error: corrupted cluster config file \"{line}\".")
            }
            nodes_conf::LoadError::Io(e) => format!(
                "Loading the cluster node config from {} failed: {e}",
                config.cluster.config_file
            ),
        })?;
        let file = nodes_conf::ConfigFile::lock(&path, &config.cluster.config_file)?;
        let fresh = loaded.is_none();
        let mut state = match loaded {
            Some(state) => {
                crate::log!(
                    Notice,
                    "Node configuration loaded, I'm {:.40}",
                    state.myself().id
                );
                state
            }
            None => {
                let state = ClusterState::new(crate::server::random_hex(40));
                crate::log!(
                    Notice,
                    "No cluster configuration found, I'm {}",
                    state.myself().id
                );
                state
            }
        };
        announce(&mut state, config, tcp_port);
        let node = ClusterNode {
            covered: AtomicBool::new(state.covered()),
            majority: AtomicBool::new(state.reaches_majority()),
            open_slots: AtomicBool::new(state.has_open_slots()),
            writable_delay_over: AtomicBool::new(false),
            own_slots: OwnSlots::of(&state),
            logged_ok: AtomicBool::new(false),
            pending_save: AtomicU8::new(0),
            bus: bus::Bus::default(),
            state: RwLock::new(state),
            file: Mutex::new(file),
            started_ms: now_ms(),
            election: Mutex::default(),
        };
        if fresh {
            node.save()
                .map_err(|e| format!("Cluster configuration file could not be saved: {e}"))?;
        }
        let _ = self.node.set(node);
        Ok(())
    }

    /// INFO's `cluster_connections`: two bus links (one each way) per other known node, as
    /// Redis counts them, handshakes included, whether or not they are up.
    pub fn connections(&self) -> usize {
        self.node()
            .map_or(0, |node| node.read().nodes.len().saturating_sub(1) * 2)
    }

    /// INFO's `mem_cluster_links`: what the bus links hold to send.
    pub fn links_memory(&self) -> u64 {
        self.node().map_or(0, |node| {
            let links = node.bus.links.lock();
            links.iter().map(|link| link.pending.load(Relaxed)).sum()
        })
    }

    /// The node, when cluster mode is on.
    pub fn node(&self) -> Option<&ClusterNode> {
        self.node.get()
    }

    pub fn enabled(&self) -> bool {
        self.node.get().is_some()
    }
}

impl ClusterNode {
    pub fn read(&self) -> RwLockReadGuard<'_, ClusterState> {
        self.state.read()
    }

    pub fn write(&self) -> StateWriteGuard<'_> {
        StateWriteGuard {
            state: self.state.write(),
            open_slots: &self.open_slots,
            own_slots: &self.own_slots,
        }
    }

    /// Whether this node serves `slot`, without the state's lock.
    pub fn serves(&self, slot: usize) -> bool {
        self.own_slots.contains(slot)
    }

    /// Whether a slot is being migrated from or imported to this node.
    pub fn has_open_slots(&self) -> bool {
        self.open_slots.load(Relaxed)
    }

    /// Writes nodes.conf from the current state, durably, now.
    pub fn save(&self) -> std::io::Result<()> {
        let mut file = self.file.lock();
        self.pending_save.store(0, Relaxed);
        let text = nodes_conf::render(&self.state.read());
        file.save(&text, true)
    }

    /// After a change: the coverage recomputed at once, and nodes.conf to be saved durably
    /// before the event loop that made the change replies and sleeps
    /// ([`ClusterNode::before_sleep`]), as Redis defers its saves (`clusterDoBeforeSleep`).
    pub fn save_after_change(&self) {
        self.save_after(SAVE_CONFIG | FSYNC_CONFIG);
    }

    /// [`ClusterNode::save_after_change`] without flushing the file to disk, as Redis saves
    /// after slot assignments (ADDSLOTS, DELSLOTS, SETSLOT without a new epoch): the file is
    /// overwritten in place, so a killed process finds it, and a resharding's thousands of
    /// SETSLOTs neither wait for the disk nor create and free a file each.
    pub fn save_after_slot_change(&self) {
        self.save_after(SAVE_CONFIG);
    }

    fn save_after(&self, flags: u8) {
        self.refresh_state();
        self.pending_save.fetch_or(flags, Relaxed);
    }

    /// Saves nodes.conf once for every change since the last save, a failure logged (Redis
    /// exits on one; this node keeps serving and says so). Each event loop calls it after a
    /// batch of commands, before their replies go out, and the bus after each event: a
    /// pipeline of SETSLOTs, or a message that moved thousands of slots, ends in one save. One
    /// atomic load when nothing changed.
    pub fn before_sleep(&self) {
        if self.pending_save.load(Relaxed) == 0 {
            return;
        }
        // The file's lock before the flags are taken: a loop that finds them taken by another
        // waits here until that loop's save, which read the state after both changes.
        let mut file = self.file.lock();
        let flags = self.pending_save.swap(0, Relaxed);
        if flags == 0 {
            return;
        }
        // Rendered under the read lock, written after it is released.
        let text = nodes_conf::render(&self.state.read());
        if let Err(e) = file.save(&text, flags & FSYNC_CONFIG != 0) {
            crate::log!(
                Warning,
                "Could not save the cluster config file {}: {e}",
                file.name()
            );
        }
    }

    /// Recomputes what `cluster_state` depends on, after a change the bus saw (a node flagged
    /// PFAIL or FAIL, slots moved): a few loads per node, as the state keeps each node's slot
    /// count.
    pub fn refresh_state(&self) {
        let state = self.state.read();
        self.covered.store(state.covered(), Relaxed);
        self.majority.store(state.reaches_majority(), Relaxed);
    }

    /// Whether the cluster serves commands (`cluster_state:ok`).
    pub fn is_ok(&self, config: &Config) -> bool {
        self.serving(&self.state.read(), config)
    }

    /// [`ClusterNode::is_ok`] for a caller holding the state's lock.
    pub fn serving(&self, state: &ClusterState, config: &Config) -> bool {
        (!config.cluster.require_full_coverage || self.covered.load(Relaxed))
            && self.majority.load(Relaxed)
            && self.past_writable_delay(state)
    }

    /// Logs "Cluster state changed: ok" (or "fail") when `cluster_state` is no longer the one
    /// last logged, as Redis logs each change of its state where its cron updates it. Test
    /// harnesses (redis-rs's) wait for that line before they use a new cluster.
    pub fn log_state_change(&self, config: &Config) {
        let ok = self.is_ok(config);
        if self.logged_ok.swap(ok, Relaxed) != ok {
            let state = if ok { "ok" } else { "fail" };
            crate::log!(Warning, "Cluster state changed: {state}");
        }
    }

    /// Whether a master is past its writable delay (a replica has none).
    pub fn past_writable_delay(&self, state: &ClusterState) -> bool {
        state.myself().is_replica() || self.started_long_ago()
    }

    /// Whether [`WRITABLE_DELAY_MS`] passed since the start: the clock is read only until it has.
    fn started_long_ago(&self) -> bool {
        if self.writable_delay_over.load(Relaxed) {
            return true;
        }
        let over = now_ms().saturating_sub(self.started_ms) >= WRITABLE_DELAY_MS;
        self.writable_delay_over.store(over, Relaxed);
        over
    }

    /// Whether the cluster serves commands whatever the configuration says (every slot
    /// covered, a majority reachable, the writable delay over): then the cluster rule needs
    /// neither the configuration's lock nor the clock.
    pub fn healthy(&self) -> bool {
        self.covered.load(Relaxed) && self.majority.load(Relaxed) && self.started_long_ago()
    }

    /// Refreshes this node's own address from the configuration (the announced IP, ports and
    /// hostname), as Redis does before it describes itself.
    pub fn announce(&self, config: &Config, tcp_port: u16) {
        announce(&mut self.write(), config, tcp_port);
    }
}

fn announce(state: &mut ClusterState, config: &Config, tcp_port: u16) {
    let (port, pport, cport) = announced_ports(config, tcp_port);
    let myself = state.myself_mut();
    myself.port = port;
    myself.pport = pport;
    myself.cport = cport;
    myself.hostname = config.cluster.announce_hostname.clone();
    if !config.cluster.announce_ip.is_empty() {
        myself.ip = config.cluster.announce_ip.clone();
    }
}

/// The client port this node announces (the TLS one under `tls-cluster`), the plaintext port
/// beside it (0 unless `tls-cluster`), and the bus port, `cluster-announce-*` first, as Redis
/// derives them.
pub fn announced_ports(config: &Config, tcp_port: u16) -> (u16, u16, u16) {
    let cluster = &config.cluster;
    let tls = config.tls.cluster;
    let (mut port, mut pport) = match tls {
        true => (config.tls.port as u16, tcp_port),
        false => (tcp_port, 0),
    };
    if tls && cluster.announce_tls_port != 0 {
        port = cluster.announce_tls_port as u16;
        pport = cluster.announce_port as u16;
    } else if cluster.announce_port != 0 {
        port = cluster.announce_port as u16;
    }
    let cport = match cluster.announce_bus_port {
        0 => bus_port(config, tcp_port),
        announced => announced as u16,
    };
    (port, pport, cport)
}

/// Whether a client connected on local address `laddr` is shown the nodes' plaintext ports:
/// under `tls-cluster` the nodes announce their TLS ports, and Redis gives a client that came
/// in on a plaintext port (not `tls-port`) the plaintext ones, in CLUSTER NODES and SLOTS and
/// in redirections.
pub fn shows_plaintext_ports(config: &Config, laddr: &str) -> bool {
    config.tls.cluster && !laddr.ends_with(&format!(":{}", config.tls.port))
}

/// The cluster bus port: `cluster-port`, or the client port + 10000 (the TLS port's under
/// `tls-cluster`).
pub fn bus_port(config: &Config, tcp_port: u16) -> u16 {
    if config.cluster.port != 0 {
        return config.cluster.port as u16;
    }
    let port = match config.tls.cluster {
        true => config.tls.port as u16,
        false => tcp_port,
    };
    port.wrapping_add(10000)
}

/// Deletes this master's keys in `slots`, which another master took over while this one keeps
/// serving others (Redis's "dirty slots"), so keys and slots agree again. Every gate is held,
/// as for an exclusive command, so no transaction or script sees half of it. Each key's `DEL`
/// goes into the journal, so replicas and the AOF drop it too: Redis 7.0 deletes the keys
/// without propagating anything, which leaves its replicas holding them (7.2 propagates the
/// DELs, as here).
pub fn delete_keys_in_slots(server: &crate::server::Server, slots: &[usize]) {
    election::with_every_gate(server, || {
        let mut deleted = 0;
        for &slot in slots {
            deleted += server.keyspace.delete_slot_keys(0, slot, |key| {
                server.tracking.key_changed(key);
                server.journal.record(0, &[b"DEL".as_slice(), key], false);
            });
        }
        if deleted > 0 {
            server.stats.workers[0].add_dirty(deleted as u64);
            crate::log!(
                Verbose,
                "Deleted {deleted} keys in {} hash slots served by another master now",
                slots.len()
            );
        }
    });
}

/// Redis's `verifyClusterConfigWithData`, once the start-up load is done: a master holding
/// keys in a slot it neither serves nor imports takes the slot when nobody serves it, and
/// imports it from its owner otherwise, so the keys stay reachable (with ASKING) and
/// `redis-cli --cluster fix` finds an open slot to finish instead of keys nobody claims: a
/// node restarted from an AOF or snapshot newer than its nodes.conf, or given a snapshot
/// made elsewhere. A replica's data is its master's: nothing to check.
pub fn claim_slots_of_loaded_keys(server: &crate::server::Server) {
    let Some(node) = server.cluster.node() else {
        return;
    };
    let mut st = node.write();
    if st.myself().is_replica() {
        return;
    }
    let mut changed = false;
    for slot in 0..state::SLOTS {
        if server.keyspace.keys_in_slot(0, slot) == 0 || st.importing_from(slot).is_some() {
            continue;
        }
        match st.owner(slot) {
            Some(0) => continue,
            None => {
                crate::log!(
                    Warning,
                    "I have keys for unassigned slot {slot}. Taking responsibility for it."
                );
                st.assign(slot, 0);
            }
            Some(owner) => {
                crate::log!(
                    Warning,
                    "I have keys for slot {slot}, but the slot is assigned to another node. Setting it to importing state."
                );
                st.set_importing(slot, Some(owner));
            }
        }
        changed = true;
    }
    drop(st);
    if changed {
        node.refresh_state();
        if let Err(e) = node.save() {
            crate::log!(Warning, "Fatal: can't update cluster config file: {e}");
            std::process::exit(1);
        }
    }
}

/// After slots changed hands: the shard channels of the slots this node's shard stopped
/// serving lose their subscribers (each told with an `sunsubscribe`, as Redis's
/// `clusterDelSlot` does), and the blocked clients re-check their slots. Called without the
/// state's lock.
pub fn slots_changed(server: &crate::server::Server) {
    if let Some(node) = server.cluster.node() {
        let lost = node.write().take_lost_channel_slots();
        if !lost.is_empty() {
            server.pubsub.drop_shard_channels(|channel| {
                lost.contains(&redis_lite_engine::slot::key_slot(channel))
            });
        }
    }
    server.blocking.slots_changed();
}

/// The replication offset this node announces (bus headers, its own entry in CLUSTER SLOTS
/// and SHARDS), as Redis's: a replica's processed offset, 0 while it has none of its master's
/// history (during a full sync's load: CLUSTER SLOTS then hides it); a master's stream end.
pub fn own_offset(server: &crate::server::Server) -> u64 {
    let replica = &server.replication.replica;
    match replica.is_replica() {
        true => replica.processed_offset(server),
        false => server.replication.backlog.pull(),
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::state::{node_flags::MASTER, Node};
    use super::*;

    #[test]
    fn every_change_of_the_state_keeps_its_lock_free_copies() {
        let lock = RwLock::new(ClusterState::new("a".repeat(40)));
        let open = AtomicBool::new(false);
        let own = OwnSlots::of(&lock.read());
        let write = || StateWriteGuard {
            state: lock.write(),
            open_slots: &open,
            own_slots: &own,
        };
        {
            let mut state = write();
            state.assign(5, 0);
            state.assign(16383, 0);
        }
        assert!(own.contains(5) && own.contains(16383) && !own.contains(6));
        assert!(!open.load(Relaxed));
        let other = {
            let mut state = write();
            let other = state.add_node(Node::new("b".repeat(40), MASTER));
            state.assign(5, other);
            state.set_migrating(16383, Some(other));
            other
        };
        assert!(!own.contains(5) && own.contains(16383) && open.load(Relaxed));
        {
            let mut state = write();
            state.assign(6, other);
            state.set_migrating(16383, None);
        }
        assert!(!open.load(Relaxed) && !own.contains(6));
        {
            let mut state = write();
            state.assign(6, 0);
            state.remove_node(other);
        }
        assert!(own.contains(6) && !own.contains(5) && own.contains(16383));
        write().unassign(16383);
        assert!(!own.contains(16383));
    }
}
