//! The replica's side: the link to its master, started by `replicaof` (the config file, or
//! REPLICAOF/SLAVEOF at runtime) and stopped by `REPLICAOF NO ONE`.
//!
//! The link runs on a thread of its own with a blocking socket: Redis 7.0's handshake (PING,
//! AUTH, REPLCONF listening-port / ip-address / capa, PSYNC), a full sync when the master
//! cannot continue this server's history (`sync.rs`), then the master's stream, applied
//! command by command through the pipeline ([`crate::dispatch::execute`]) by a client of kind
//! [`ClientKind::Master`] with a gate of its own. Every byte of the stream goes into the
//! backlog once applied (inside the command's gates, see [`applies`] and [`applied`]), so the
//! backlog's offset is the replica's processed offset, what `REPLCONF ACK` reports every
//! second and what PSYNC asks to continue from after a dropped link.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLockWriteGuard};
use redis_lite_engine::Db;
use redis_lite_persist::aof::encode_command;
use redis_lite_persist::ReplicationPlace;
use redis_lite_protocol::{Limits, RequestParser};

use super::sync;
use crate::client::{ClientHandle, ClientKind, ClientRole, ClientState};
use crate::log;
use crate::net::tls::LinkStream;
use crate::server::Server;

/// How long a blocking read waits before the link looks at its clock and its orders.
const POLL: Duration = Duration::from_millis(100);

/// Redis's timeout for each step of the handshake (`CONFIG_REPL_SYNCIO_TIMEOUT`).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a connected replica reports its offset, and a failed link is retried.
const ACK_PERIOD: Duration = Duration::from_secs(1);

/// The master is trusted with any size, as Redis trusts it (its stream replays what clients
/// were allowed to send).
const MASTER_STREAM_LIMITS: Limits = Limits {
    max_bulk_len: u64::MAX,
    max_inline_len: usize::MAX,
};

/// Where the link stands, as ROLE and INFO name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to connect (the link is down).
    Connect,
    Connecting,
    /// PING, AUTH, REPLCONF, PSYNC and their replies.
    Handshake,
    /// Receiving the master's snapshot.
    Transfer,
    Connected,
}

impl LinkState {
    /// ROLE's name for the state.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The replica side's state. Lock order: `status` is never held while waiting on anything.
#[derive(Default)]
pub struct Replica {
    /// Whether `replicaof` is set: read by admission's read-only and stale rules.
    replicating: AtomicBool,
    link_up: AtomicBool,
    /// The id of the master link's client whose commands may apply; 0 while there is none.
    applying: AtomicU64,
    /// Bumped by every REPLICAOF: a link thread of an older generation stops.
    generation: AtomicU64,
    /// Bytes of the master's stream run (or queued in its MULTI) but not yet in the backlog.
    unfed: Mutex<Vec<u8>>,
    /// The master client's database after the last command applied (or when the link
    /// dropped): a continued stream goes on in it, and a snapshot records it.
    stream_db: AtomicUsize,
    status: Mutex<Status>,
    /// Keys this replica's own clients gave a TTL (a writable replica), by database: their
    /// master sends no DEL for them, so the replica expires them itself, as Redis does.
    own_volatile: Mutex<HashSet<(usize, Box<[u8]>)>>,
}

#[derive(Default)]
struct Status {
    master: Option<(String, u16)>,
    state: Option<LinkState>,
    /// Unix seconds of the last bytes from the master (`master_last_io_seconds_ago`).
    last_io: u64,
    /// Unix seconds since the link is down; None when it never was up (INFO's -1).
    down_since: Option<u64>,
    transfer: Transfer,
    /// Bytes received from the master past the processed offset.
    read_ahead: u64,
    /// This server has a history of the master's stream (it synced with it, or was a master
    /// itself): PSYNC asks to continue it, with the replication ID and the backlog's offset.
    history: bool,
    /// The place a snapshot loaded at start-up recorded, for the link to continue from once
    /// the loading is over (see [`restore_place`]).
    restored: Option<ReplicationPlace>,
    /// The socket, for REPLICAOF and shutdown to cut a blocked read short.
    socket: Option<TcpStream>,
}

/// A full sync's transfer, for INFO's `master_sync_*` fields.
#[derive(Clone, Copy, Default)]
pub(super) struct Transfer {
    /// The payload's length; 0 with the EOF-marker framing; -1 before the header came.
    pub size: i64,
    pub read: i64,
    pub last_io: u64,
}

fn unix_secs() -> u64 {
    redis_lite_engine::now_ms() / 1000
}

impl Replica {
    pub fn is_replica(&self) -> bool {
        self.replicating.load(Relaxed)
    }

    /// Whether the link to the master is up (synced and streaming).
    pub fn link_is_up(&self) -> bool {
        self.link_up.load(Relaxed)
    }

    /// CLIENT KILL of the master's client: the link is down at once (INFO says so right
    /// after the command, as Redis frees that client within it) and its socket is shut, so
    /// the link's thread, blocked in a read, ends the session now and reconnects. The kill
    /// itself (already made) keeps that end from logging anything but the lost link.
    pub fn cut_link(&self) {
        self.link_up.store(false, Relaxed);
        let mut status = self.status.lock();
        status.state = Some(LinkState::Connect);
        if let Some(socket) = status.socket.take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// The master's address, while this server is a replica.
    pub fn master(&self) -> Option<(String, u16)> {
        self.status.lock().master.clone()
    }

    /// The offset of the master's stream this replica processed, what PSYNC continues from;
    /// 0 while it has none of its master's history (a cluster replica's rank and election).
    pub fn processed_offset(&self, server: &Server) -> u64 {
        match self.status.lock().history {
            true => server.replication.backlog.offset(),
            false => 0,
        }
    }

    /// How long, in ms, since this replica last heard from its master: since its last bytes
    /// while the link is up, since the link went down otherwise, and forever when it never was
    /// up. In whole seconds, as Redis counts it (a cluster replica's data age).
    pub fn silence_ms(&self) -> u64 {
        let status = self.status.lock();
        let since = match status.state {
            Some(LinkState::Connected) => status.last_io,
            _ => status.down_since.unwrap_or(0),
        };
        unix_secs().saturating_sub(since) * 1000
    }

    /// The master client's database, while this replica has its master's history (what a
    /// snapshot records as `repl-stream-db`).
    pub fn stream_db(&self) -> Option<usize> {
        let history = self.status.lock().history;
        history.then(|| self.stream_db.load(Relaxed))
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.load(Relaxed) == generation
    }

    pub(super) fn set_state(&self, state: LinkState) {
        self.status.lock().state = Some(state);
    }

    pub(super) fn set_transfer(&self, update: impl FnOnce(&mut Transfer)) {
        update(&mut self.status.lock().transfer);
    }

    /// Cuts the link of the current generation: its thread stops, and nothing it received
    /// applies any more. The caller holds every gate (REPLICAOF), so no command of the link is
    /// running. Returns whether a master client was connected.
    fn stop(&self, server: &Server) -> bool {
        self.generation.fetch_add(1, Relaxed);
        let id = {
            let mut unfed = self.unfed.lock();
            unfed.clear();
            self.applying.swap(0, Relaxed)
        };
        self.link_up.store(false, Relaxed);
        let mut status = self.status.lock();
        if let Some(socket) = status.socket.take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        if id != 0 {
            server.unregister(id);
        }
        id != 0
    }
}

/// Whether a command the master link `client` is about to run may apply: the link is still
/// the current one (REPLICAOF and CLIENT KILL cut it). Called inside the command's gates.
pub fn applies(server: &Server, client: &ClientState) -> bool {
    server.replication.replica.applying.load(Relaxed) == client.handle.id
        && !client.handle.is_killed()
}

/// Takes a frame of the stream the master link `client` received, to go into the backlog once
/// applied. False when the link was cut meanwhile: nothing of it may apply.
fn received(server: &Server, client: &ClientState, frame: &[u8]) -> bool {
    let replica = &server.replication.replica;
    let mut unfed = replica.unfed.lock();
    if replica.applying.load(Relaxed) != client.handle.id {
        return false;
    }
    unfed.extend_from_slice(frame);
    true
}

/// After the master link's command ran, still inside its gates: the stream's bytes up to it go
/// into the backlog, unless it left a MULTI open (Redis advances a replica's offset only
/// between transactions, so the whole transaction counts at its EXEC).
pub fn applied(server: &Server, client: &ClientState) {
    if client.multi.is_some() {
        return;
    }
    let replica = &server.replication.replica;
    let mut unfed = replica.unfed.lock();
    server.replication.backlog.feed(&unfed);
    unfed.clear();
    replica.stream_db.store(client.db, Relaxed);
}

/// After a write of `key` on a replica by anyone but its master: on a writable replica
/// (`replica-read-only no`) a key left with a TTL is one [`expire_own_keys`] must expire, as
/// Redis remembers it. A read-only replica remembers none: the keys its AOF loader replays
/// came from its master too, whose DELs remove them (expiring them here lost the keys a
/// restarted replica's AOF held past their TTL). Called with the key's shard locked.
pub fn remember_own_volatile(server: &Server, db: &Db, key: &[u8]) {
    if db.has_ttl(key) && !server.config.read().replica_read_only {
        let mut keys = server.replication.replica.own_volatile.lock();
        keys.insert((db.index(), key.into()));
    }
}

/// The cron's active expiry on a replica: deletes the keys its own clients wrote whose TTL
/// has passed (journaled as a DEL for the AOF, as a master's expiry is), and forgets those
/// no longer volatile. The keys its master wrote wait for the master's DEL.
pub fn expire_own_keys(server: &Server) {
    let replica = &server.replication.replica;
    // Taken out of the lock: a write remembers a key while it holds the key's shard.
    let keys = std::mem::take(&mut *replica.own_volatile.lock());
    if keys.is_empty() {
        return;
    }
    let now = redis_lite_engine::now_ms();
    let still_volatile: Vec<_> = keys
        .into_iter()
        .filter(|(db, key)| {
            let mut locked = server.keyspace.lock_keys([&key[..]]).for_write();
            locked.expire_due(*db, [&key[..]], now);
            locked.db(*db, key).0.has_ttl(key)
        })
        .collect();
    replica.own_volatile.lock().extend(still_volatile);
}

/// INFO's `slave_expires_tracked_keys`: the keys [`expire_own_keys`] looks after.
pub fn own_volatile_keys(server: &Server) -> usize {
    server.replication.replica.own_volatile.lock().len()
}

/// A full sync replaced the dataset: the keys the replica's clients wrote are gone.
pub(super) fn forget_own_volatile(server: &Server) {
    server.replication.replica.own_volatile.lock().clear();
}

/// A command of the master's stream failed here (`reply` is its error): the datasets differ.
/// Redis's critical log line, the stream before the command for context, INFO's
/// `unexpected_error_replies`; and with `propagation-error-behavior` `panic` (or
/// `panic-on-replicas` on a read-only replica) the server stops, as Redis's panics.
fn error_to_master(server: &Server, reply: &[u8], command: Option<&str>, stream_before: u64) {
    let command = command.unwrap_or("<unknown>");
    super::log_error_on_link("replica", "master", reply, command);
    let latest = server.replication.backlog.before(stream_before, 256);
    if !latest.is_empty() {
        let mut quoted = Vec::new();
        redis_lite_protocol::repr::repr(&mut quoted, &latest);
        log!(
            Warning,
            "Latest backlog is: '{}'",
            String::from_utf8_lossy(&quoted)
        );
    }
    server.stats.unexpected_error_replies.fetch_add(1, Relaxed);
    let (behavior, read_only) = {
        let config = server.config.read();
        (
            config.process.propagation_error_behavior,
            config.replica_read_only,
        )
    };
    if read_only && matches!(behavior, "panic" | "panic-on-replicas") {
        log!(
            Warning,
            "Guru Meditation: This replica panicked sending an error to its master after processing the command '{command}'"
        );
        std::process::abort();
    }
}

/// Holds a replica's master link between two commands, so that a snapshot's cut cannot fall
/// between a command of the link and its bytes entering the backlog (see [`applied`]): the
/// snapshot's data and its replication offset then agree. Ok(None) on a master. Err when the
/// link is busy: waiting for its gate could deadlock with an EXEC of the link waiting for the
/// caller's gate, so the caller puts its snapshot off or takes it without the offset.
pub fn hold_link(server: &Server) -> Result<Option<RwLockWriteGuard<'_, ()>>, LinkBusy> {
    match server.replication.replica.is_replica() {
        true => match server.gates[server.master_link_gate()].try_write() {
            Some(gate) => Ok(Some(gate)),
            None => Err(LinkBusy),
        },
        false => Ok(None),
    }
}

/// The master link is running a command (see [`hold_link`]).
#[derive(Debug)]
pub struct LinkBusy;

/// A replica restarted from a snapshot that recorded its place in its master's stream: the
/// link offers that history to continue (`PSYNC <replid> <offset+1>`) once the loading is over,
/// as Redis synthesizes a cached master from the RDB's `repl-id` and `repl-offset`.
pub(super) fn restore_place(server: &Server, place: ReplicationPlace) {
    log!(
        Notice,
        "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer."
    );
    server.replication.replica.status.lock().restored = Some(place);
}

/// The link thread's first step after the loading: takes up the history [`restore_place`]
/// left, as its own.
fn take_restored_place(server: &Server) {
    let replica = &server.replication.replica;
    let mut status = replica.status.lock();
    let Some(place) = status.restored.take() else {
        return;
    };
    server.replication.adopt(&place.replid, None);
    server.replication.backlog.restore_offset(place.offset);
    replica.stream_db.store(place.stream_db, Relaxed);
    status.history = true;
}

/// Starts replicating `host:port`: the `replicaof` of the config file at start-up, when this
/// server has no history of its own to offer (PSYNC asks for a full sync), or REPLICAOF.
pub fn start(server: &Arc<Server>, host: String, port: u16) {
    spawn_link(server, host, port, false);
}

fn spawn_link(server: &Arc<Server>, host: String, port: u16, own_history: bool) {
    let replica = &server.replication.replica;
    become_replica(server, &host, port, own_history);
    let generation = replica.generation.load(Relaxed);
    let server = server.clone();
    let spawned = std::thread::Builder::new()
        .name("master-link".into())
        .spawn(move || run(server, generation, host, port));
    if let Err(e) = spawned {
        log!(Warning, "Can't start the master link's thread: {e}");
    }
}

/// The bookkeeping of becoming a replica of `host:port`.
fn become_replica(server: &Server, host: &str, port: u16, own_history: bool) {
    let replica = &server.replication.replica;
    let was_master = !replica.replicating.swap(true, Relaxed);
    server.keyspace.set_replica(true);
    log::set_replica(true);
    let mut status = replica.status.lock();
    status.master = Some((host.to_string(), port));
    status.state = Some(LinkState::Connect);
    status.transfer = Transfer::default();
    if was_master {
        // Its own history is one a master may continue (this server's former replica,
        // promoted), so PSYNC asks for it; the backlog now waits for the master's stream.
        status.history = own_history;
        replica.stream_db.store(0, Relaxed);
        server.replication.backlog.deactivate();
    }
}

/// REPLICAOF host port. Returns false when already replicating that very master.
pub fn replicaof(server: &Arc<Server>, host: String, port: u16, requested_by: &str) -> bool {
    let replica = &server.replication.replica;
    if replica
        .master()
        .is_some_and(|(h, p)| h.eq_ignore_ascii_case(&host) && p == port)
    {
        return false;
    }
    follow(server, host.clone(), port);
    log!(
        Notice,
        "REPLICAOF {host}:{port} enabled (user request from '{requested_by}')"
    );
    true
}

/// Becomes a replica of `host:port`, offering this server's own history to continue: REPLICAOF,
/// and a failing-over master once its target caught up.
pub fn follow(server: &Arc<Server>, host: String, port: u16) {
    let replica = &server.replication.replica;
    if replica.is_replica() && replica.stop(server) {
        log_link_lost();
    }
    server.config.write().replicaof = Some((host.clone(), port));
    // Its own replicas stay, as Redis 7.0 keeps them: they may continue with this server's
    // history if the new master continues it too; a new history drops them then
    // ([`attach_to_new_master`], or a partial sync under a new ID).
    after_role_change(server, false);
    spawn_link(server, host, port, true);
}

/// A full sync's snapshot is about to replace the data: the history this server had (and
/// would have offered a master that dies before sending one) is gone, and its own replicas
/// reconnect to learn of the new one, as Redis's `replicationAttachToNewMaster` does.
pub(super) fn attach_to_new_master(server: &Server) {
    let had_history = std::mem::take(&mut server.replication.replica.status.lock().history);
    if had_history {
        log!(Notice, "Discarding previously cached master state.");
    }
    server.replication.master.disconnect_replicas();
}

/// REPLICAOF NO ONE, and a replica taking over in a failover (`PSYNC ... FAILOVER`); see
/// [`unset_master`]. Logged as Redis does, naming who asked (`user request from '<client>'`,
/// `failover request from '<client>'`).
pub fn promote(server: &Server, requested_by: &str) {
    unset_master(server);
    log!(Notice, "MASTER MODE enabled ({requested_by})");
}

/// The link stops and this server becomes a master, keeping its data; its history continues
/// under a new replication ID, with the master's as the former one, so the other replicas of
/// the old master can continue with it. Nothing on a master.
pub fn unset_master(server: &Server) {
    let replica = &server.replication.replica;
    if !replica.is_replica() {
        return;
    }
    if replica.stop(server) {
        log_link_lost();
    }
    replica.replicating.store(false, Relaxed);
    {
        let mut status = replica.status.lock();
        *status = Status::default();
    }
    server.keyspace.set_replica(false);
    log::set_replica(false);
    server.config.write().replicaof = None;
    // Its replicas reconnect to learn of the new replication ID (and continue with it).
    after_role_change(server, true);
    let replication = &server.replication;
    let offset = replication.backlog.offset();
    replication.promote(offset);
    replication.backlog.activate_from_journal();
    let ids = replication.ids();
    log!(
        Warning,
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        ids.replid2,
        ids.second_offset,
        ids.replid
    );
}

/// CLUSTER RESET on a replica: it stops replicating ([`unset_master`]) and empties its data,
/// keys and function libraries, as Redis turns a reset replica into an empty master.
pub fn reset_to_empty_master(server: &Server) {
    unset_master(server);
    super::sync::flush_old_data(server, false);
}

/// The `min-replicas-to-write` rule applies only to a master; with `drop_replicas`, this
/// server's own replicas reconnect (to learn of the new history, and PSYNC again).
fn after_role_change(server: &Server, drop_replicas: bool) {
    if drop_replicas {
        server.replication.master.disconnect_replicas();
    }
    let config = server.config.read();
    server.replication.master.refresh_write_rule(&config);
    // `oom-score-adj-values` has a replica's score apart, as Redis sets it on a role change.
    crate::process::apply_oom_score(&config);
}

fn log_link_lost() {
    log!(Warning, "Connection with master lost.");
    log!(Notice, "Caching the disconnected master state.");
}

/// ROLE's replica form: master host and port, the link's state, the processed offset (-1
/// while not connected).
pub fn role(server: &Server) -> Option<(String, u16, &'static str, i64)> {
    let replica = &server.replication.replica;
    let status = replica.status.lock();
    let (host, port) = status.master.clone()?;
    let state = status.state.unwrap_or(LinkState::Connect);
    let offset = match state {
        LinkState::Connected => server.replication.backlog.offset() as i64,
        _ => -1,
    };
    Some((host, port, state.role_name(), offset))
}

/// INFO replication's replica fields, from `role:slave` to `replica_announced`, in Redis's
/// order. Nothing on a master.
pub fn info_fields(server: &Server, lines: &mut Vec<String>) {
    let replica = &server.replication.replica;
    let status = replica.status.lock();
    let Some((host, port)) = status.master.clone() else {
        return;
    };
    let now = unix_secs();
    let state = status.state.unwrap_or(LinkState::Connect);
    let connected = state == LinkState::Connected;
    let (processed, read) = match status.history {
        true => {
            let offset = server.replication.backlog.offset();
            (offset, offset + status.read_ahead)
        }
        false => (1, 1),
    };
    lines.push("role:slave".into());
    lines.push(format!("master_host:{host}"));
    lines.push(format!("master_port:{port}"));
    lines.push(format!(
        "master_link_status:{}",
        if connected { "up" } else { "down" }
    ));
    let last_io = match connected {
        true => now.saturating_sub(status.last_io) as i64,
        false => -1,
    };
    lines.push(format!("master_last_io_seconds_ago:{last_io}"));
    lines.push(format!(
        "master_sync_in_progress:{}",
        u8::from(state == LinkState::Transfer)
    ));
    lines.push(format!("slave_read_repl_offset:{read}"));
    lines.push(format!("slave_repl_offset:{processed}"));
    if state == LinkState::Transfer {
        let t = status.transfer;
        // Redis's arithmetic, -0.00 before the payload's header included.
        let perc = match t.size {
            0 => 0.0,
            size => t.read as f64 / size as f64 * 100.0,
        };
        lines.push(format!("master_sync_total_bytes:{}", t.size));
        lines.push(format!("master_sync_read_bytes:{}", t.read));
        lines.push(format!("master_sync_left_bytes:{}", t.size - t.read));
        lines.push(format!("master_sync_perc:{perc:.2}"));
        lines.push(format!(
            "master_sync_last_io_seconds_ago:{}",
            now.saturating_sub(t.last_io)
        ));
    }
    if !connected {
        let down = status
            .down_since
            .map_or(-1, |since| now.saturating_sub(since) as i64);
        lines.push(format!("master_link_down_since_seconds:{down}"));
    }
    let config = server.config.read();
    lines.push(format!("slave_priority:{}", config.replica_priority));
    lines.push(format!(
        "slave_read_only:{}",
        u8::from(config.replica_read_only)
    ));
    lines.push(format!(
        "replica_announced:{}",
        u8::from(config.replica_announced)
    ));
}

/// How a session with the master ended.
enum Ended {
    /// The link was up and went down: reconnect at once, as Redis does, before the master's
    /// backlog moves past this replica's offset.
    Dropped,
    /// It failed before it was up: try again in a second.
    Failed,
    /// REPLICAOF moved on: the thread ends.
    Stopped,
}

/// The link's thread: sessions with the master until REPLICAOF changes it.
fn run(server: Arc<Server>, generation: u64, host: String, port: u16) {
    let replica = &server.replication.replica;
    // The dataset on disk is loaded first; a master's snapshot would replace it anyway, but
    // its history may let the master continue instead.
    while server.persistence.is_loading() && replica.current(generation) {
        std::thread::sleep(Duration::from_millis(10));
    }
    if replica.current(generation) {
        take_restored_place(&server);
    }
    let mut retry_at = Instant::now();
    let mut reconnecting = false;
    while replica.current(generation) {
        if Instant::now() < retry_at {
            std::thread::sleep(POLL.min(retry_at - Instant::now()));
            continue;
        }
        match reconnecting {
            true => log!(Notice, "Reconnecting to MASTER {host}:{port}"),
            false => log!(Notice, "Connecting to MASTER {host}:{port}"),
        }
        let mut link = Link {
            server: &server,
            generation,
            conn: None,
            client: None,
        };
        let ended = link.session(&host, port);
        link.close();
        match ended {
            Ended::Stopped => return,
            Ended::Dropped => {
                reconnecting = true;
                retry_at = Instant::now();
            }
            Ended::Failed => {
                reconnecting = false;
                retry_at = Instant::now() + ACK_PERIOD;
            }
        }
    }
}

/// A connection to the master, buffered: replies are read a line at a time, the snapshot
/// and the stream from the same buffer.
pub(super) struct MasterConn {
    stream: LinkStream,
    pub buf: Vec<u8>,
    /// Where the unread bytes of `buf` start.
    pub pos: usize,
}

impl MasterConn {
    /// Reads what the socket has into the buffer, waiting at most [`POLL`]. Ok(0) when
    /// nothing came; an error when the master closed the connection.
    pub fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let read = self.stream.read(&mut self.buf[len..]);
        let n = match read {
            Ok(0) => {
                self.buf.truncate(len);
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the master closed the connection",
                ));
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                0
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e);
            }
        };
        self.buf.truncate(len + n);
        Ok(n)
    }

    /// Drops the bytes already read from the front of the buffer.
    pub fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out)
    }

    /// Takes one line from the buffer (without its CRLF), if a whole one is there.
    pub fn take_line(&mut self) -> Option<String> {
        take_line(&self.buf, &mut self.pos)
    }
}

/// The line at `*pos` in `buf` (without its CRLF), if a whole one is there; moves past it.
fn take_line(buf: &[u8], pos: &mut usize) -> Option<String> {
    let end = buf[*pos..].iter().position(|&b| b == b'\n')?;
    let line = &buf[*pos..*pos + end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = String::from_utf8_lossy(line).into_owned();
    *pos += end + 1;
    Some(line)
}

/// What the master's reply to PSYNC means.
fn psync_answer(reply: String) -> Result<PsyncReply, LinkError> {
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut words = rest.split_whitespace();
        let replid = words.next().unwrap_or_default().to_string();
        let offset = words.next().and_then(|o| o.parse::<u64>().ok());
        return match (replid.len(), offset) {
            (40, Some(offset)) => Ok(PsyncReply::Full { replid, offset }),
            _ => Err(LinkError::Failed(format!(
                "Master replied with wrong +FULLRESYNC syntax: {reply}"
            ))),
        };
    }
    if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let replid = rest.trim();
        let replid = (replid.len() == 40).then(|| replid.to_string());
        return Ok(PsyncReply::Continue { replid });
    }
    if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(LinkError::Failed(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        )));
    }
    Err(LinkError::Failed(format!(
        "Unexpected reply to PSYNC from master: {reply}"
    )))
}

/// Why a step of a session failed; logged by the caller in Redis's words.
pub(super) enum LinkError {
    /// REPLICAOF moved on, or the master client was killed.
    Stopped,
    Failed(String),
}

impl From<io::Error> for LinkError {
    fn from(e: io::Error) -> Self {
        LinkError::Failed(crate::error::strerror(&e))
    }
}

/// One session with the master: connect, handshake, sync, stream.
pub(super) struct Link<'s> {
    pub server: &'s Arc<Server>,
    pub generation: u64,
    pub conn: Option<MasterConn>,
    /// The master client, once synced.
    client: Option<ClientState>,
}

/// What the master answered to PSYNC.
enum PsyncReply {
    Full { replid: String, offset: u64 },
    Continue { replid: Option<String> },
}

impl Link<'_> {
    fn replica(&self) -> &Replica {
        &self.server.replication.replica
    }

    /// Whether the link should go on: REPLICAOF has not moved on.
    pub fn check(&self) -> Result<(), LinkError> {
        match self.replica().current(self.generation) {
            true => Ok(()),
            false => Err(LinkError::Stopped),
        }
    }

    pub fn conn(&mut self) -> &mut MasterConn {
        self.conn.as_mut().expect("connected")
    }

    fn session(&mut self, host: &str, port: u16) -> Ended {
        let was_up = match self.establish(host, port) {
            Ok(()) => true,
            Err(LinkError::Stopped) => return Ended::Stopped,
            Err(LinkError::Failed(why)) => {
                if !why.is_empty() {
                    log!(Warning, "{why}");
                }
                false
            }
        };
        if !was_up {
            return match self.check() {
                Ok(()) => Ended::Failed,
                Err(_) => Ended::Stopped,
            };
        }
        let result = self.stream();
        if self.check().is_err() {
            return Ended::Stopped;
        }
        if let Err(LinkError::Failed(why)) = result {
            if !why.is_empty() {
                log!(Warning, "{why}");
            }
        }
        log_link_lost();
        Ended::Dropped
    }

    /// Connects, shakes hands and syncs: Ok once the master's stream flows.
    fn establish(&mut self, host: &str, port: u16) -> Result<(), LinkError> {
        self.replica().set_state(LinkState::Connecting);
        let (timeout, source) = {
            let config = self.server.config.read();
            let timeout = Duration::from_secs(config.repl_timeout);
            (timeout, config.process.bind_source_addr.clone())
        };
        let address = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                LinkError::Failed("Unable to connect to MASTER: Name or service not known".into())
            })?;
        let stream = crate::net::outbound::connect(address, &source, timeout).map_err(|e| {
            LinkError::Failed(format!(
                "Error condition on socket for SYNC: {}",
                crate::error::strerror(&e)
            ))
        })?;
        log!(Notice, "MASTER <-> REPLICA sync started");
        stream.set_write_timeout(Some(timeout))?;
        let _ = stream.set_nodelay(true);
        let shutdown = stream.try_clone()?;
        let tls = self.server.config.read().tls.replication;
        let stream = self
            .server
            .tls
            .link(stream, host, tls, timeout)
            .map_err(|e| LinkError::Failed(format!("Error condition on socket for SYNC: {e}")))?;
        stream.socket().set_read_timeout(Some(POLL))?;
        {
            let mut status = self.replica().status.lock();
            self.check()?;
            status.socket = Some(shutdown);
        }
        self.conn = Some(MasterConn {
            stream,
            buf: Vec::new(),
            pos: 0,
        });
        log!(Notice, "Non blocking connect for SYNC fired the event.");
        self.replica().set_state(LinkState::Handshake);
        self.handshake()?;
        let server = self.server;
        // The link takes over the replication state inside its own gate, after checking that
        // REPLICAOF (which takes every gate) has not moved on meanwhile.
        let gate = || server.gates[server.master_link_gate()].read();
        let synced = match self.psync()? {
            PsyncReply::Continue { replid } => {
                log!(Notice, "Successful partial resynchronization with master.");
                let _gate = gate();
                self.check()?;
                let replication = &self.server.replication;
                if let Some(replid) = replid.filter(|id| *id != replication.ids().replid) {
                    replication.adopt(&replid, Some(replication.backlog.offset()));
                    log!(Notice, "Master replication ID changed to {replid}");
                    // This server's own replicas learn the new ID when they reconnect (their
                    // PSYNC continues from the former one), as Redis drops them for it.
                    replication.master.disconnect_replicas();
                }
                replication
                    .backlog
                    .follow_master(replication.backlog.offset());
                log!(
                    Notice,
                    "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization."
                );
                let db = self.replica().stream_db.load(Relaxed);
                self.connected(db);
                false
            }
            PsyncReply::Full { replid, offset } => {
                log!(Notice, "Full resync from master: {replid}:{offset}");
                let synced = sync::full_sync(self, &replid)?;
                {
                    let _gate = gate();
                    self.check()?;
                    let replication = &self.server.replication;
                    replication.adopt(&replid, None);
                    replication.backlog.follow_master(offset);
                    self.connected(synced.db);
                }
                if synced.ack_now {
                    // A broken socket shows in the stream's first read.
                    let _ = self.conn().send(&["REPLCONF", "ACK", &offset.to_string()]);
                }
                true
            }
        };
        if synced {
            log!(Notice, "MASTER <-> REPLICA sync: Finished with success");
            // The loaded data is in no AOF file yet: a rewrite puts it in the base.
            if self.server.aof.is_on() {
                self.server.aof.rewrite.request(false);
            }
        }
        Ok(())
    }

    /// Reads the next reply line of the handshake, skipping the newlines a master sends to
    /// keep the connection alive meanwhile.
    pub fn reply_line(&mut self, timeout: Duration, what: &str) -> Result<String, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.conn().take_line() {
                if line.is_empty() {
                    continue;
                }
                return Ok(line);
            }
            self.check()?;
            if Instant::now() >= deadline {
                return Err(LinkError::Failed(format!(
                    "Timeout connecting to the MASTER... ({what})"
                )));
            }
            self.conn().fill().map_err(|e| {
                LinkError::Failed(format!(
                    "Failed to read response from the server: {}",
                    crate::error::strerror(&e)
                ))
            })?;
        }
    }

    /// PING, then AUTH and the REPLCONFs sent together, and their replies, as Redis 7.0 does.
    fn handshake(&mut self) -> Result<(), LinkError> {
        self.conn().send(&["PING"])?;
        let reply = self.reply_line(HANDSHAKE_TIMEOUT, "PING")?;
        // Without the password a master refuses PING; AUTH comes next, so that is fine.
        let refused = reply.starts_with('-')
            && !["-NOAUTH", "-NOPERM", "-ERR operation not permitted"]
                .iter()
                .any(|prefix| reply.starts_with(prefix));
        if refused {
            return Err(LinkError::Failed(format!(
                "Error reply to PING from master: '{}'",
                &reply[1..]
            )));
        }
        log!(
            Notice,
            "Master replied to PING, replication can continue..."
        );
        let (auth, port, ip) = {
            let config = self.server.config.read();
            let auth = (!config.masterauth.is_empty()).then(|| {
                let mut auth = vec!["AUTH".to_string()];
                if !config.masteruser.is_empty() {
                    auth.push(config.masteruser.clone());
                }
                auth.push(config.masterauth.clone());
                auth
            });
            let port = match config.replica_announce_port {
                0 => self.server.identity.tcp_port.load(Relaxed),
                announced => announced as u64,
            };
            let ip = (!config.replica_announce_ip.is_empty())
                .then(|| config.replica_announce_ip.clone());
            (auth, port.to_string(), ip)
        };
        let mut batch = Vec::new();
        if let Some(auth) = &auth {
            encode_command(&mut batch, auth);
        }
        encode_command(&mut batch, &["REPLCONF", "listening-port", &port]);
        if let Some(ip) = &ip {
            encode_command(&mut batch, &["REPLCONF", "ip-address", ip]);
        }
        encode_command(&mut batch, &["REPLCONF", "capa", "eof", "capa", "psync2"]);
        self.conn().stream.write_all(&batch)?;
        if auth.is_some() {
            let reply = self.reply_line(HANDSHAKE_TIMEOUT, "AUTH")?;
            if let Some(error) = reply.strip_prefix('-') {
                return Err(LinkError::Failed(format!(
                    "Unable to AUTH to MASTER: {error}"
                )));
            }
        }
        let mut replconfs = vec!["listening-port"];
        if ip.is_some() {
            replconfs.push("ip-address");
        }
        replconfs.push("capa");
        for what in replconfs {
            let reply = self.reply_line(HANDSHAKE_TIMEOUT, "REPLCONF")?;
            if let Some(error) = reply.strip_prefix('-') {
                log!(
                    Notice,
                    "(Non critical) Master does not understand REPLCONF {what}: {error}"
                );
            }
        }
        Ok(())
    }

    /// PSYNC: asks to continue this server's history, if it has one.
    fn psync(&mut self) -> Result<PsyncReply, LinkError> {
        // A promotion during the handshake (`PSYNC ... FAILOVER` from this master) ends it.
        self.check()?;
        let history = self.replica().status.lock().history;
        let (replid, offset) = match history {
            true => {
                let replication = &self.server.replication;
                let offset = (replication.backlog.offset() + 1).to_string();
                let replid = replication.ids().replid;
                log!(
                    Notice,
                    "Trying a partial resynchronization (request {replid}:{offset})."
                );
                (replid, offset)
            }
            false => {
                log!(
                    Notice,
                    "Partial resynchronization not possible (no cached master)"
                );
                ("?".to_string(), "-1".to_string())
            }
        };
        // A master failing over asks its target to take over (see `failover`).
        let failover = &self.server.replication.failover;
        let failing_over = failover.phase() == super::failover::Phase::InProgress;
        let mut psync = vec!["PSYNC", &replid, &offset];
        if failing_over {
            psync.push("FAILOVER");
        }
        self.conn().send(&psync)?;
        // The master may take a while to start the snapshot (repl-diskless-sync-delay): it
        // sends newlines meanwhile, and repl-timeout bounds the silence.
        let timeout = Duration::from_secs(self.server.config.read().repl_timeout);
        let reply = self.reply_line(timeout, "PSYNC")?;
        let answer = psync_answer(reply);
        if failing_over {
            failover.target_answered(self.server, answer.is_ok());
        }
        answer
    }

    /// The link is up: the master client exists, in database `db`.
    fn connected(&mut self, db: usize) {
        let server = self.server;
        let conn = self.conn.as_ref().expect("connected");
        let peer = conn
            .stream
            .socket()
            .peer_addr()
            .map_or_else(|_| "?:0".to_string(), |a| a.to_string());
        let local = conn
            .stream
            .socket()
            .local_addr()
            .map_or_else(|_| "?:0".to_string(), |a| a.to_string());
        let fd = std::os::fd::AsRawFd::as_raw_fd(conn.stream.socket());
        // The master is not one of the `maxclients`, as in Redis.
        let handle = server
            .clients
            .register(u64::MAX, |id| {
                let handle = ClientHandle::new(id, peer, local, fd);
                handle.info.lock().role = ClientRole::Master;
                handle
            })
            .expect("no limit");
        let mut client = ClientState::new(handle.clone(), server.stats.workers[0].clone(), true);
        client.kind = ClientKind::Master;
        client.worker = server.master_link_gate();
        client.db = db;
        client.publish_info(None);
        let replica = self.replica();
        replica.unfed.lock().clear();
        replica.stream_db.store(db, Relaxed);
        replica.applying.store(handle.id, Relaxed);
        {
            let mut status = replica.status.lock();
            status.state = Some(LinkState::Connected);
            status.history = true;
            status.down_since = None;
            status.last_io = unix_secs();
            status.read_ahead = 0;
        }
        replica.link_up.store(true, Relaxed);
        self.client = Some(client);
    }

    /// Applies the master's stream until the link drops or is cut; sends `REPLCONF ACK`
    /// every second and answers `REPLCONF GETACK`.
    fn stream(&mut self) -> Result<(), LinkError> {
        let server = self.server;
        let mut parser = RequestParser::new(MASTER_STREAM_LIMITS);
        let mut out = Vec::new();
        let mut last_ack = Instant::now() - ACK_PERIOD;
        let mut last_io = Instant::now();
        let mut client = self.client.take().expect("the master client");
        // The parser reads the buffer from its start.
        self.conn().compact();
        let result = loop {
            if let Err(e) = self.check() {
                break Err(e);
            }
            if client.handle.is_killed() {
                break Err(LinkError::Failed(String::new()));
            }
            let timeout = Duration::from_secs(server.config.read().repl_timeout);
            if last_io.elapsed() > timeout {
                break Err(LinkError::Failed(
                    "MASTER timeout: no data nor PING received...".into(),
                ));
            }
            if last_ack.elapsed() >= ACK_PERIOD {
                last_ack = Instant::now();
                let offset = server.replication.backlog.offset().to_string();
                if let Err(e) = self.conn().send(&["REPLCONF", "ACK", &offset]) {
                    break Err(e.into());
                }
            }
            // The commands already received run first: a master that sent its snapshot's
            // stream together with it (disk-based sync) left some in the buffer.
            match self.apply_buffered(&mut parser, &mut client, &mut out) {
                Ok(()) => {}
                Err(e) => break Err(e),
            }
            match self.conn().fill() {
                Ok(0) => {}
                Ok(n) => {
                    self.server
                        .stats
                        .repl_input_bytes
                        .fetch_add(n as u64, Relaxed);
                    last_io = Instant::now();
                    let mut status = self.replica().status.lock();
                    status.last_io = unix_secs();
                    status.read_ahead += n as u64;
                }
                // CLIENT KILL cut the socket under the read ([`Replica::cut_link`]).
                Err(_) if client.handle.is_killed() => break Err(LinkError::Failed(String::new())),
                Err(e) => break Err(e.into()),
            }
        };
        let replica = self.replica();
        // What was received but not applied is dropped: PSYNC asks for it again. A
        // transaction cut short was not counted either.
        replica.applying.store(0, Relaxed);
        replica.link_up.store(false, Relaxed);
        replica.unfed.lock().clear();
        {
            let mut status = replica.status.lock();
            replica.stream_db.store(client.db, Relaxed);
            status.read_ahead = 0;
            status.down_since = Some(unix_secs());
        }
        client.unwatch_all(&server.keyspace);
        server.unregister(client.handle.id);
        result
    }

    /// Runs every whole command in the buffer.
    fn apply_buffered(
        &mut self,
        parser: &mut RequestParser,
        client: &mut ClientState,
        out: &mut Vec<u8>,
    ) -> Result<(), LinkError> {
        let server = self.server;
        let replica = &server.replication.replica;
        let conn = self.conn.as_mut().expect("connected");
        let mut frame_start = conn.pos;
        let mut ran = None;
        loop {
            let command = match parser.next(&conn.buf[..]) {
                Ok(Some(command)) => command,
                Ok(None) => break,
                Err(e) => {
                    return Err(LinkError::Failed(format!(
                        "Protocol error from MASTER: {e}"
                    )))
                }
            };
            let frame_end = command.frame_end();
            let frame = &conn.buf[frame_start..frame_end];
            frame_start = frame_end;
            let args: Vec<&[u8]> = command.iter().collect();
            let getack = args.len() == 3
                && args[0].eq_ignore_ascii_case(b"replconf")
                && args[1].eq_ignore_ascii_case(b"getack");
            // The ACK reports the offset before the GETACK itself, as Redis's does.
            let ack = getack.then(|| server.replication.backlog.offset().to_string());
            if !received(server, client, frame) {
                return Err(LinkError::Stopped);
            }
            if !getack {
                out.clear();
                let stream_before = server.replication.backlog.offset();
                let name = crate::dispatch::execute(server, client, &args, out);
                if out.first() == Some(&b'-') {
                    error_to_master(server, out, name, stream_before);
                }
                ran = name.or(ran);
            }
            drop(args);
            let unfed_left = !replica.unfed.lock().is_empty() && client.multi.is_none();
            if unfed_left {
                // A frame that ran no command (GETACK, one refused) counts all the same,
                // inside the link's own gate like the others.
                let _gate = server.gates[server.master_link_gate()].read();
                if !applies(server, client) {
                    return Err(LinkError::Stopped);
                }
                applied(server, client);
            }
            if let Some(offset) = ack {
                let mut ack = Vec::new();
                encode_command(&mut ack, &["REPLCONF", "ACK", &offset]);
                conn.stream.write_all(&ack)?;
            }
            if client.handle.is_killed() || !replica.current(self.generation) {
                break;
            }
        }
        let consumed = parser.consumed();
        parser.discard(consumed);
        conn.buf.drain(..consumed);
        conn.pos = 0;
        let pending = conn.buf.len() as u64;
        replica.status.lock().read_ahead = pending;
        client.publish_info(ran);
        Ok(())
    }

    /// Ends the session: the socket goes.
    fn close(&mut self) {
        self.replica().status.lock().socket = None;
        if let Some(conn) = self.conn.take() {
            let _ = conn.stream.socket().shutdown(Shutdown::Both);
        }
        if self.replica().current(self.generation) {
            self.replica().set_state(LinkState::Connect);
        }
    }
}

/// What a replica reads from its master after PSYNC, parsed from bytes instead of a socket,
/// for the fuzz targets (`fuzz/`), which cannot reach the link otherwise: the PSYNC reply
/// line; on `+FULLRESYNC` the snapshot's framing line, the snapshot (as an RDB stream, its
/// EOF mark checked) and then the command stream, with the link's own parsers and limits.
/// Nothing is applied. Returns the number of commands, or the link's error text.
#[doc(hidden)]
pub fn parse_master_stream_for_fuzzing(input: &[u8]) -> Result<usize, String> {
    let failed = |e: LinkError| match e {
        LinkError::Stopped => "stopped".to_string(),
        LinkError::Failed(why) => why,
    };
    let mut pos = 0;
    let next_line = |pos: &mut usize| loop {
        match take_line(input, pos) {
            Some(line) if line.is_empty() => continue,
            Some(line) => return Ok(line),
            None => return Err("Timeout connecting to the MASTER...".to_string()),
        }
    };
    let reply = next_line(&mut pos)?;
    let mut stream = &input[pos..];
    if let PsyncReply::Full { .. } = psync_answer(reply).map_err(failed)? {
        let framing = sync::parse_payload_header(&next_line(&mut pos)?).map_err(failed)?;
        let rest = &input[pos..];
        let (mut snapshot, after) = match &framing {
            sync::Framing::Length(len) => rest.split_at((*len).min(rest.len() as u64) as usize),
            sync::Framing::EofMark(_) => (rest, &rest[rest.len()..]),
        };
        let limits = redis_lite_engine::EncodingLimits::default();
        redis_lite_persist::read_rdb(&mut snapshot, limits, |_| Ok(()))
            .map_err(|e| e.to_string())?;
        stream = match &framing {
            sync::Framing::Length(_) => after,
            sync::Framing::EofMark(mark) => snapshot
                .strip_prefix(mark.as_slice())
                .ok_or("Replication stream EOF marker is broken")?,
        };
    }
    let mut parser = RequestParser::new(MASTER_STREAM_LIMITS);
    let mut commands = 0;
    loop {
        match parser.next(stream) {
            Ok(Some(_)) => commands += 1,
            Ok(None) => return Ok(commands),
            Err(e) => return Err(format!("Protocol error from MASTER: {e}")),
        }
    }
}
