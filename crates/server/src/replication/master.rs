//! The master's side of replication: replicas attach with SYNC or PSYNC, continue from the
//! backlog (`+CONTINUE`) or get a full resynchronisation (`+FULLRESYNC <replid> <offset>`, a
//! snapshot cut at exactly that offset, then the stream from it), and acknowledge what they
//! processed with `REPLCONF ACK`, which WAIT and `min-replicas-to-write` count.
//!
//! A replica's connection stays on its event loop: after SYNC/PSYNC the connection hands its
//! socket to [`serve_replica`], which writes the snapshot and then the stream from the
//! backlog, and runs what the replica sends (REPLCONF ACK) through the pipeline. The snapshot
//! is the fork-less copy-on-write one BGSAVE uses, written by a `repl-sync` thread: to a file
//! that is then sent with a `$<len>` header, or (diskless) straight to the sockets of every
//! replica that waits for it, framed by an EOF mark. Either way what crosses the wire is a
//! plain RDB, even where the file on disk is sealed.

use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis_lite_persist::{open_stream, RdbWriter, ReplicationAux};
use redis_lite_protocol::{Limits, RequestParser};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use super::backlog::Cursor;
use crate::blocking::Waiter;
use crate::client::{ClientHandle, ClientRole, ClientState, OutputCheck, OutputClass};
use crate::net::connection::{poll_now, ClientStream};
use crate::persistence::{rdb, JobKind, Progress};
use crate::server::{random_hex, Server};
use crate::{dispatch, log};

/// What a connection told with REPLCONF before its SYNC or PSYNC, and what SYNC/PSYNC asked.
#[derive(Default)]
pub struct ReplicaClient {
    pub listening_port: i64,
    pub ip_address: Option<String>,
    /// `capa eof`: it can read a diskless transfer.
    pub capa_eof: bool,
    /// `capa psync2`: it understands `+CONTINUE <replid>`.
    pub capa_psync2: bool,
    /// `rdb-only 1` (redis-cli --rdb): it wants the snapshot, not the stream after it.
    pub rdb_only: bool,
    /// `rdb-filter-only`: the parts of the snapshot it wants.
    pub filter: RdbFilter,
    /// Set by SYNC/PSYNC: the connection hands itself over to [`serve_replica`].
    pub sync: Option<SyncRequest>,
    /// The replica as the master lists it, once it synced.
    pub link: Option<Arc<Replica>>,
}

/// The parts of the snapshot a replica asked for with `REPLCONF rdb-filter-only` (Redis's
/// `SLAVE_REQ_RDB_EXCLUDE_*`; redis-cli --functions-rdb asks for the functions alone). A
/// filtered snapshot goes over the socket only, never to the RDB file, and replicas asking for
/// different parts never share a sync job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdbFilter {
    pub keys: bool,
    pub functions: bool,
}

impl Default for RdbFilter {
    fn default() -> Self {
        RdbFilter {
            keys: true,
            functions: true,
        }
    }
}

impl RdbFilter {
    pub fn is_filtered(self) -> bool {
        self != RdbFilter::default()
    }

    /// The parts of `dataset` this filter keeps.
    fn apply(self, mut dataset: rdb::Dataset) -> rdb::Dataset {
        if !self.functions {
            dataset.functions.clear();
        }
        dataset.with_keys = self.keys;
        dataset
    }
}

/// How a replica starts.
pub enum SyncRequest {
    /// From the backlog: `+CONTINUE` was the reply.
    Continue(Cursor),
    /// With a snapshot, once a sync job takes it; `sync` for the old SYNC (no `+FULLRESYNC`
    /// line before the payload).
    Full {
        old_protocol: bool,
        start: oneshot::Receiver<SyncStart>,
    },
}

/// What a sync job gives each replica it serves: the stream's place at the cut, and the
/// snapshot's bytes (ending with an empty chunk when the whole payload was sent).
pub struct SyncStart {
    replid: String,
    offset: u64,
    cursor: Cursor,
    payload: mpsc::Receiver<Vec<u8>>,
}

/// A replica's state, as INFO's `slaveN:...,state=` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    WaitBgsave = 0,
    SendBulk = 1,
    Online = 2,
}

/// An attached replica, as INFO, ROLE, WAIT and `min-replicas-to-write` see it.
pub struct Replica {
    handle: Arc<ClientHandle>,
    ip: String,
    port: i64,
    state: AtomicU8,
    ack_offset: AtomicU64,
    /// Unix ms of its last REPLCONF ACK (or of its sync's end).
    ack_ms: AtomicU64,
    /// Old SYNC replicas never acknowledge: repl-timeout does not apply to them.
    acks: bool,
    /// Whether it acknowledged since its sync. After a diskless transfer the stream waits
    /// for that first ACK, as in Redis: the replica finds the payload's end mark only at the
    /// end of what it read, so stream bytes must not follow the mark before it has loaded.
    acknowledged: AtomicBool,
}

impl Replica {
    fn state(&self) -> State {
        match self.state.load(Relaxed) {
            0 => State::WaitBgsave,
            1 => State::SendBulk,
            _ => State::Online,
        }
    }

    /// The state's name in INFO's `slaveN` lines and the log.
    fn state_name(&self) -> &'static str {
        match self.state() {
            State::WaitBgsave => "wait_bgsave",
            State::SendBulk => "send_bulk",
            State::Online => "online",
        }
    }

    /// `ip:port`, as Redis names a replica in its log.
    fn name(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    fn lag_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.ack_ms.load(Relaxed)) / 1000
    }
}

/// A replica as FAILOVER sees it: its address, whether it is online, what it acknowledged.
pub struct ReplicaAck {
    pub ip: String,
    pub port: i64,
    pub online: bool,
    pub acked: u64,
}

/// A replica waiting for a sync job.
struct PendingSync {
    eof: bool,
    filter: RdbFilter,
    since: Instant,
    start: oneshot::Sender<SyncStart>,
}

#[derive(Default)]
pub struct Master {
    replicas: Mutex<Vec<Arc<Replica>>>,
    pending: Mutex<Vec<PendingSync>>,
    /// Replicas online whose last ACK is at most `min-replicas-max-lag` old, refreshed by the
    /// cron as Redis does.
    good_replicas: AtomicU64,
    /// `min-replicas-to-write` and `min-replicas-max-lag` (both set) are not met: writes are
    /// refused. Kept outside the config lock for the write path.
    refuse_writes: AtomicBool,
    /// (`min-replicas-to-write`, `min-replicas-max-lag`), 0 when unset or on a replica.
    write_rule: Mutex<(u64, u64)>,
    /// Clients blocked in WAIT, woken at every ACK to count again.
    waits: Mutex<Vec<Weak<Waiter>>>,
    /// A `REPLCONF GETACK *` went out and no ACK came back yet.
    getack_sent: AtomicBool,
    /// When the last replica left, for `repl-backlog-ttl`.
    alone_since: Mutex<Option<Instant>>,
    /// The last PING to the replicas; the first cron tick's time before any.
    last_ping: Mutex<Option<Instant>>,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// A disk-based sync job's save and the replicas waiting for it: the cron stops the save
    /// once none waits and no `save` rule wants the file, as Redis kills its saving child.
    disk_sync: Mutex<Option<DiskSync>>,
}

/// A disk-based sync job while it saves: replicas asking for the same parts of the snapshot
/// join it (as Redis attaches them to the BGSAVE in progress for another replica) until the
/// file is written and its transfer starts.
struct DiskSync {
    progress: Arc<Progress>,
    filter: RdbFilter,
    replid: String,
    offset: u64,
    waiting: Vec<PayloadSender>,
    /// The file is written: the transfer to `waiting` started, no one joins any more.
    sending: bool,
}

/// Where a sync job sends a replica its snapshot.
type PayloadSender = mpsc::Sender<Vec<u8>>;

/// Bytes of a snapshot handed to replicas at a time.
const CHUNK: usize = 64 * 1024;

impl Master {
    /// Replicas acknowledging at least `offset` (WAIT's count).
    pub fn acknowledged(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.state() == State::Online && r.ack_offset.load(Relaxed) >= offset)
            .count()
    }

    /// CONFIG RESETSTAT: the sync counters back to zero.
    pub fn reset_stats(&self) {
        for counter in [
            &self.sync_full,
            &self.sync_partial_ok,
            &self.sync_partial_err,
        ] {
            counter.store(0, Relaxed);
        }
    }

    pub fn good_replicas(&self) -> u64 {
        self.good_replicas.load(Relaxed)
    }

    fn refuses_writes(&self) -> bool {
        self.refuse_writes.load(Relaxed)
    }

    /// -NOREPLICAS while writes are refused: for a write command, a script that may write,
    /// or a write a script calls.
    pub fn write_refusal(&self) -> Option<crate::error::CommandError> {
        self.refuses_writes().then(|| {
            crate::error::CommandError::coded("NOREPLICAS Not enough good replicas to write.")
        })
    }

    /// After the `min-replicas-*` parameters (or the role) changed.
    pub fn refresh_write_rule(&self, config: &crate::config::Config) {
        let rule = match config.replicaof {
            Some(_) => (0, 0),
            None => (config.min_replicas_to_write, config.min_replicas_max_lag),
        };
        *self.write_rule.lock() = rule;
        self.count_good_replicas(redis_lite_engine::now_ms());
    }

    /// Counts the replicas online whose last ACK is at most `min-replicas-max-lag` old, and
    /// judges the write rule by them.
    fn count_good_replicas(&self, now_ms: u64) {
        let (wanted, max_lag) = *self.write_rule.lock();
        let good = self
            .replicas
            .lock()
            .iter()
            .filter(|r| r.state() == State::Online && r.lag_secs(now_ms) <= max_lag)
            .count() as u64;
        self.good_replicas.store(good, Relaxed);
        self.refuse_writes
            .store(wanted > 0 && max_lag > 0 && good < wanted, Relaxed);
    }

    /// A WAIT that blocked: woken at each ACK. Asks the replicas for one at once.
    pub fn wait_for_acks(&self, server: &Server, waiter: &Arc<Waiter>) {
        let mut waits = self.waits.lock();
        if !waits.iter().any(|w| w.as_ptr() == Arc::as_ptr(waiter)) {
            waits.push(Arc::downgrade(waiter));
        }
        drop(waits);
        self.request_ack(server);
    }

    /// Asks the replicas for an ACK at once, as Redis does, with `REPLCONF GETACK *` in the
    /// stream (once until an answer comes). Not while writes are paused, as Redis: the
    /// stream's offset must stay where a failover saw it (the replicas' own ACK each second
    /// comes all the same).
    pub fn request_ack(&self, server: &Server) {
        if !server.pause.is_paused() && !self.getack_sent.swap(true, Relaxed) {
            server
                .replication
                .backlog
                .feed(&encode(&["REPLCONF", "GETACK", "*"]));
        }
    }

    fn acknowledged_by(&self, replica: &Replica, offset: u64) {
        replica.ack_offset.fetch_max(offset, Relaxed);
        replica.acknowledged.store(true, Relaxed);
        replica.ack_ms.store(redis_lite_engine::now_ms(), Relaxed);
        self.getack_sent.store(false, Relaxed);
        let mut waits = self.waits.lock();
        waits.retain(|w| match w.upgrade() {
            Some(waiter) => {
                waiter.wake(crate::blocking::Wake::Ready);
                true
            }
            None => false,
        });
    }

    fn attach(&self, replica: Arc<Replica>) {
        self.replicas.lock().push(replica);
        *self.alone_since.lock() = None;
    }

    /// Takes `replica` off the list (when still on it): INFO's `connected_slaves` and `slaveN`
    /// no longer show it.
    fn detach(&self, replica: &Replica) {
        let mut replicas = self.replicas.lock();
        let before = replicas.len();
        replicas.retain(|r| !std::ptr::eq(Arc::as_ptr(r), replica));
        if replicas.len() < before && replicas.is_empty() {
            *self.alone_since.lock() = Some(Instant::now());
        }
    }

    pub fn connected(&self) -> usize {
        self.replicas.lock().len()
    }

    /// A backlog restored at start-up counts `repl-backlog-ttl` from now, as one whose last
    /// replica just left.
    pub(super) fn left_alone(&self) {
        *self.alone_since.lock() = Some(Instant::now());
    }

    /// INFO's `slaveN` lines.
    pub fn info_lines(&self, lines: &mut Vec<String>) {
        let replicas = self.replicas.lock();
        let now = redis_lite_engine::now_ms();
        for (i, r) in replicas.iter().enumerate() {
            lines.push(format!(
                "slave{i}:ip={},port={},state={},offset={},lag={}",
                r.ip,
                r.port,
                r.state_name(),
                r.ack_offset.load(Relaxed),
                r.lag_secs(now)
            ));
        }
    }

    /// ROLE's list: each online replica's address and acknowledged offset.
    pub fn role_entries(&self) -> Vec<(String, i64, u64)> {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.state() == State::Online)
            .map(|r| (r.ip.clone(), r.port, r.ack_offset.load(Relaxed)))
            .collect()
    }

    /// Each replica's address, state and acknowledged offset, as FAILOVER judges them.
    pub fn acknowledgements(&self) -> Vec<ReplicaAck> {
        self.replicas
            .lock()
            .iter()
            .map(|r| ReplicaAck {
                ip: r.ip.clone(),
                port: r.port,
                online: r.state() == State::Online,
                acked: r.ack_offset.load(Relaxed),
            })
            .collect()
    }

    /// Whether every replica, whatever its state, acknowledged the stream up to `offset` (a
    /// shutdown waits for that).
    pub fn all_acknowledged(&self, offset: u64) -> bool {
        let replicas = self.replicas.lock();
        replicas
            .iter()
            .all(|r| r.ack_offset.load(Relaxed) == offset)
    }

    /// The number of replicas, and how each of those that did not acknowledge `offset` lags,
    /// as a shutdown logs it.
    pub fn lagging_behind(&self, offset: u64) -> (usize, Vec<String>) {
        let replicas = self.replicas.lock();
        let now = redis_lite_engine::now_ms();
        let lagging = replicas
            .iter()
            .filter(|r| r.ack_offset.load(Relaxed) != offset)
            .map(|r| {
                let lag = match r.state() {
                    State::Online => r.lag_secs(now),
                    _ => 0,
                };
                format!(
                    "{} reported offset {} behind master, lag={lag}, state={}",
                    r.name(),
                    offset as i64 - r.ack_offset.load(Relaxed) as i64,
                    r.state_name()
                )
            })
            .collect();
        (replicas.len(), lagging)
    }

    /// Closes every replica's connection (a master becoming a replica itself, or a replica
    /// promoted, whose replicas must learn of its new history). They leave the list at once,
    /// as Redis frees them within the command: INFO's `connected_slaves` right after it no
    /// longer counts them (a test waiting for that count to come back then waits for their
    /// partial resyncs); each connection's task then logs and cleans up as it ends.
    pub fn disconnect_replicas(&self) {
        let mut replicas = self.replicas.lock();
        if replicas.is_empty() {
            return;
        }
        for replica in replicas.drain(..) {
            replica.handle.kill();
        }
        *self.alone_since.lock() = Some(Instant::now());
    }
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    redis_lite_persist::aof::encode_command(&mut out, args);
    out
}

/// SYNC and PSYNC, after the checks: continues the replica from the backlog or queues it for a
/// full resynchronisation. The connection then hands itself to [`serve_replica`]. A PSYNC
/// offset that is not a number is refused with nothing started.
pub fn start_sync(
    server: &Arc<Server>,
    client: &mut ClientState,
    psync: Option<(&[u8], &[u8])>,
    reply: &mut redis_lite_protocol::ReplyWriter<'_>,
) -> Result<(), crate::error::CommandError> {
    let replication = &server.replication;
    let master = &replication.master;
    let conf = client.replica.get_or_insert_with(Default::default);
    let ip = conf
        .ip_address
        .clone()
        .unwrap_or_else(|| peer_ip(&client.handle.addr));
    let replica = Arc::new(Replica {
        handle: client.handle.clone(),
        ip,
        port: conf.listening_port,
        state: AtomicU8::new(State::WaitBgsave as u8),
        ack_offset: AtomicU64::new(0),
        ack_ms: AtomicU64::new(redis_lite_engine::now_ms()),
        acks: psync.is_some(),
        acknowledged: AtomicBool::new(false),
    });
    log!(
        Notice,
        "Replica {} asks for synchronization",
        replica.name()
    );
    if let Some((replid, offset)) = psync {
        let replid = String::from_utf8_lossy(replid).into_owned();
        let Some(offset) = redis_lite_protocol::number::parse_i64(offset) else {
            // Refused before anything starts, as Redis refuses it.
            log!(
                Warning,
                "Replica {} asks for synchronization but with a wrong offset",
                replica.name()
            );
            return Err(crate::error::CommandError::NotInteger);
        };
        if let Some(cursor) = try_continue(server, &replica, &replid, offset) {
            let ids = replication.ids();
            match conf.capa_psync2 {
                true => reply.simple(&format!("CONTINUE {}", ids.replid)),
                false => reply.simple("CONTINUE"),
            }
            replica.state.store(State::Online as u8, Relaxed);
            replica.acknowledged.store(true, Relaxed);
            master.attach(replica.clone());
            conf.link = Some(replica);
            conf.sync = Some(SyncRequest::Continue(cursor));
            client.handle.info.lock().role = ClientRole::Replica;
            return Ok(());
        }
        if replid != "?" {
            master.sync_partial_err.fetch_add(1, Relaxed);
        }
        log!(
            Notice,
            "Full resync requested by replica {}",
            replica.name()
        );
    }
    master.sync_full.fetch_add(1, Relaxed);
    if !conf.rdb_only && !replication.backlog.is_active() {
        replication.new_history();
        replication.backlog.activate_from_journal();
        let ids = replication.ids();
        log!(
            Notice,
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            ids.replid,
            ids.replid2
        );
    }
    let (start_tx, start_rx) = oneshot::channel();
    master.pending.lock().push(PendingSync {
        eof: conf.capa_eof,
        filter: conf.filter,
        since: Instant::now(),
        start: start_tx,
    });
    master.attach(replica.clone());
    conf.link = Some(replica);
    conf.sync = Some(SyncRequest::Full {
        old_protocol: psync.is_none(),
        start: start_rx,
    });
    client.handle.info.lock().role = ClientRole::Replica;
    start_pending_syncs(server);
    Ok(())
}

/// The peer's IP from `ip:port` (or `[v6]:port`).
fn peer_ip(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// PSYNC's attempt at continuing: the replica's history must be this server's (or the one it
/// was promoted from, up to where they part) and the backlog must still hold its offset.
fn try_continue(server: &Server, replica: &Replica, replid: &str, offset: i64) -> Option<Cursor> {
    let replication = &server.replication;
    let master = &replication.master;
    let ids = replication.ids();
    let known = replid == ids.replid || (replid == ids.replid2 && offset <= ids.second_offset);
    if !known {
        if replid != "?" {
            let reason = if replid == ids.replid2 {
                format!(
                    "Requested offset for second ID was {offset}, but I can reply up to {}",
                    ids.second_offset
                )
            } else {
                format!(
                    "Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                    ids.replid, ids.replid2
                )
            };
            log!(Notice, "Partial resynchronization not accepted: {reason}");
        }
        return None;
    }
    let cursor = (offset >= 1)
        .then(|| replication.backlog.attach(offset as u64 - 1).ok())
        .flatten();
    let Some(cursor) = cursor else {
        log!(
            Notice,
            "Unable to partial resync with replica {} for lack of backlog (Replica request was: {offset}).",
            replica.name()
        );
        return None;
    };
    master.sync_partial_ok.fetch_add(1, Relaxed);
    log!(
        Notice,
        "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {offset}.",
        replica.name(),
        replication.backlog.unread(&cursor)
    );
    Some(cursor)
}

/// Starts a sync job for the replicas waiting for one that asked for the same parts of the
/// snapshot as the first (the others wait for the next job), when the job slot is free and
/// (for a diskless sync) `repl-diskless-sync-delay` has passed or
/// `repl-diskless-sync-max-replicas` wait. Called inside a gate (a command's, or the cron's), so the cut falls between whole
/// transactions.
pub fn start_pending_syncs(server: &Arc<Server>) {
    let master = &server.replication.master;
    let mut pending = master.pending.lock();
    pending.retain(|p| !p.start.is_closed());
    join_disk_sync(server, &mut pending);
    if pending.is_empty() || server.persistence.current().is_some() {
        return;
    }
    // The first one's filter picks who this job serves: those that asked for the same parts.
    let filter = pending[0].filter;
    let group = || pending.iter().filter(|p| p.filter == filter);
    let (diskless, delay, max_replicas) = {
        let config = server.config.read();
        let eof = group().all(|p| p.eof);
        // A filtered snapshot goes over the socket, even when syncs are disk-based.
        let diskless = (config.repl_diskless_sync || filter.is_filtered()) && eof;
        let delay = match config.repl_diskless_sync && eof {
            true => Duration::from_secs(config.repl_diskless_sync_delay),
            false => Duration::ZERO,
        };
        (
            diskless,
            delay,
            config.repl_diskless_sync_max_replicas as usize,
        )
    };
    let oldest = group().map(|p| p.since).min().expect("not empty");
    let enough = max_replicas > 0 && group().count() >= max_replicas;
    if oldest.elapsed() < delay && !enough {
        return;
    }
    // On a replica the cut must not fall between a command of the master link and its bytes
    // entering the backlog; a busy link puts the sync off to the next cron tick.
    let Ok(_link_paused) = super::replica::hold_link(server) else {
        return;
    };
    let Ok(progress) = server
        .persistence
        .claim(JobKind::Snapshot { background: true })
    else {
        return;
    };
    let (waiting, others): (Vec<_>, Vec<_>) = std::mem::take(&mut *pending)
        .into_iter()
        .partition(|p| p.filter == filter);
    *pending = others;
    drop(pending);
    let backlog = &server.replication.backlog;
    let dirty_total = server.dirty() + server.persistence.dirty_at_save.load(Relaxed);
    let mut offset = 0;
    let mut cursors = Vec::new();
    let dataset = rdb::capture(server, || {
        offset = backlog.pull();
        // What follows the cut starts with a SELECT, as the replica knows no database yet.
        server.journal.cut();
        cursors = waiting
            .iter()
            .map(|_| {
                backlog
                    .attach(offset)
                    .expect("the cut is the backlog's end")
            })
            .collect();
    });
    let Some(dataset) = dataset else {
        server.persistence.release();
        master.pending.lock().extend(waiting);
        return;
    };
    let replid = server.replication.ids().replid;
    let target = if diskless { "replicas sockets" } else { "disk" };
    log!(Notice, "Starting BGSAVE for SYNC with target: {target}");
    let mut senders = Vec::new();
    for (pending, cursor) in waiting.into_iter().zip(cursors) {
        let (tx, rx) = mpsc::channel(8);
        let start = SyncStart {
            replid: replid.clone(),
            offset,
            cursor,
            payload: rx,
        };
        match pending.start.send(start) {
            Ok(()) => senders.push(tx),
            // The replica left meanwhile; its cursor goes with the dropped start.
            Err(start) => backlog.detach(start.cursor),
        }
    }
    if !diskless {
        *master.disk_sync.lock() = Some(DiskSync {
            progress: progress.clone(),
            filter,
            replid: replid.clone(),
            offset,
            waiting: std::mem::take(&mut senders),
            sending: false,
        });
    }
    let job = SyncJob {
        dataset: filter.apply(dataset),
        replid,
        offset,
        progress,
        dirty_total,
    };
    let server = server.clone();
    let spawned = std::thread::Builder::new()
        .name("repl-sync".into())
        .spawn(move || {
            let result = if diskless {
                job.send_diskless(&server, senders)
            } else {
                job.send_from_disk(&server, senders)
            };
            if let Err(e) = result {
                log!(Warning, "SYNC failed: {}", crate::error::strerror(&e));
            }
            server.replication.master.disk_sync.lock().take();
            server.persistence.release();
        });
    if spawned.is_err() {
        log!(Warning, "Can't start the sync thread");
    }
}

/// Replicas that wait for a disk-based sync job while one saves join it, when they asked for
/// the parts it saves and would get a disk-based sync themselves: their stream starts at the
/// job's cut. The others wait for the next job.
fn join_disk_sync(server: &Server, pending: &mut Vec<PendingSync>) {
    let mut disk_sync = server.replication.master.disk_sync.lock();
    let Some(job) = disk_sync.as_mut().filter(|job| !job.sending) else {
        return;
    };
    let diskless_sync = server.config.read().repl_diskless_sync;
    let backlog = &server.replication.backlog;
    let mut index = 0;
    while index < pending.len() {
        let candidate = &pending[index];
        let disk_based = !(candidate.filter.is_filtered() || diskless_sync && candidate.eof);
        if candidate.filter != job.filter || !disk_based {
            index += 1;
            continue;
        }
        let Ok(cursor) = backlog.attach(job.offset) else {
            // The stream since the job's cut is no longer all in the backlog.
            return;
        };
        let joining = pending.remove(index);
        let (tx, rx) = mpsc::channel(8);
        let start = SyncStart {
            replid: job.replid.clone(),
            offset: job.offset,
            cursor,
            payload: rx,
        };
        match joining.start.send(start) {
            Ok(()) => job.waiting.push(tx),
            Err(start) => backlog.detach(start.cursor),
        }
    }
}

/// One snapshot for the replicas that waited for it.
struct SyncJob {
    dataset: rdb::Dataset,
    replid: String,
    offset: u64,
    progress: Arc<Progress>,
    dirty_total: u64,
}

/// The RDB's aux fields for a replica: the stream's place at the cut (a SELECT starts what
/// follows it, so the database is 0).
fn stream_place(replid: &str, offset: u64) -> ReplicationAux<'_> {
    ReplicationAux {
        stream_db: 0,
        replid,
        offset,
    }
}

impl SyncJob {
    /// Diskless: the RDB goes straight to the replicas' sockets, between `$EOF:<mark>` and
    /// the mark.
    fn send_diskless(self, server: &Server, senders: Vec<mpsc::Sender<Vec<u8>>>) -> io::Result<()> {
        let mark = random_hex(40);
        let mut out = FanOut::new(senders);
        out.write_all(format!("$EOF:{mark}\r\n").as_bytes())?;
        let delay = server.config.read().rdb_key_save_delay;
        let mut w = RdbWriter::new(&mut out, rdb::write_options(server));
        w.write_header()?;
        w.write_aux_fields(
            redis_lite_engine::now_ms() / 1000,
            crate::memory::used(),
            Some(stream_place(&self.replid, self.offset)),
        )?;
        rdb::write_snapshot(server, self.dataset, &mut w, &self.progress, delay)?;
        w.finish()?;
        out.write_all(mark.as_bytes())?;
        out.finish()?;
        log!(
            Notice,
            "Diskless sync with replicas sent the whole snapshot"
        );
        Ok(())
    }

    /// Disk: the snapshot is saved as BGSAVE saves it (sealed when encryption is on), then
    /// sent as `$<len>` and the plain RDB.
    fn send_from_disk(
        self,
        server: &Server,
        senders: Vec<mpsc::Sender<Vec<u8>>>,
    ) -> io::Result<()> {
        let path = rdb::path(server);
        let aux = stream_place(&self.replid, self.offset);
        let (_, size) = rdb::save_to_file(server, self.dataset, &path, &self.progress, Some(aux))?;
        rdb::saved(server, self.dirty_total);
        // Those that joined while the file was written get it too; no one joins from now on.
        let senders = match server.replication.master.disk_sync.lock().as_mut() {
            Some(job) => {
                job.sending = true;
                job.waiting.clone()
            }
            None => senders,
        };
        log!(Notice, "Background RDB transfer started");
        let keyring = server.config.read().keyring.clone();
        let file = BufReader::new(std::fs::File::open(&path)?);
        let mut plain = open_stream(file, keyring.as_deref()).map_err(io::Error::other)?;
        let mut out = FanOut::new(senders);
        out.write_all(format!("${size}\r\n").as_bytes())?;
        let mut buf = vec![0; CHUNK];
        loop {
            let n = plain.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        out.finish()?;
        if super::deletes_sync_files(&server.config.read()) {
            log!(
                Notice,
                "Removing the RDB file used to feed replicas in a persistence-less instance"
            );
            let _ = std::fs::remove_file(&path);
        }
        Ok(())
    }
}

/// Writes one byte stream to every replica of a sync job, in chunks; a replica that went
/// away drops out, and the job fails when none is left.
struct FanOut {
    senders: Vec<Option<mpsc::Sender<Vec<u8>>>>,
    buf: Vec<u8>,
}

impl FanOut {
    fn new(senders: Vec<mpsc::Sender<Vec<u8>>>) -> FanOut {
        FanOut {
            senders: senders.into_iter().map(Some).collect(),
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        for slot in &mut self.senders {
            if let Some(tx) = slot {
                if tx.blocking_send(chunk.clone()).is_err() {
                    *slot = None;
                }
            }
        }
        match self.senders.iter().any(Option::is_some) {
            true => Ok(()),
            false => Err(io::Error::other("every replica went away")),
        }
    }

    /// Sends what is buffered, then the empty chunk that tells replicas the payload is whole.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        self.send(Vec::new())
    }
}

impl Write for FanOut {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.send(chunk)
    }
}

/// The replication part of the cron (each tick, inside the cron's gate): start waiting syncs,
/// PING the replicas every `repl-ping-replica-period`, count the good replicas, and free the
/// backlog after `repl-backlog-ttl` without replicas.
pub fn cron(server: &Arc<Server>) {
    let replication = &server.replication;
    let master = &replication.master;
    stop_unwanted_disk_sync(server);
    start_pending_syncs(server);
    replication.failover.cron(server);
    let (period, ttl) = {
        let config = server.config.read();
        (
            Duration::from_secs(config.repl_ping_replica_period),
            config.repl_backlog_ttl,
        )
    };
    master.count_good_replicas(redis_lite_engine::now_ms());
    // A replica's replicas get its master's PINGs, and its backlog is its master's.
    if replication.replica.is_replica() {
        return;
    }
    // Redis PINGs every period counted from its start (its cron's loop count), so a replica
    // that attaches meanwhile gets its first PING at the next round, not at once.
    let mut last_ping = master.last_ping.lock();
    let since_ping = last_ping.get_or_insert_with(Instant::now).elapsed();
    // No PING while writes are paused: it would move the offset a failover waits for the
    // replicas to reach.
    if master.connected() > 0 && !server.pause.is_paused() {
        if since_ping >= period {
            *last_ping = Some(Instant::now());
            replication.backlog.feed(&encode(&["PING"]));
        }
    } else {
        // Keeps the backlog current (the journal holds what it has not pulled).
        replication.backlog.pull();
    }
    drop(last_ping);
    let alone = *master.alone_since.lock();
    if let Some(since) = alone {
        if ttl > 0 && since.elapsed() >= Duration::from_secs(ttl) && replication.backlog.is_active()
        {
            replication.backlog.deactivate();
            replication.new_history();
            *master.alone_since.lock() = None;
            log!(
                Notice,
                "Replication backlog freed after {ttl} seconds without connected replicas."
            );
        }
    }
}

/// Stops a disk-based sync job's save when every replica it was for went away and no `save`
/// rule wants the file.
fn stop_unwanted_disk_sync(server: &Server) {
    let disk_sync = server.replication.master.disk_sync.lock();
    let Some(job) = disk_sync.as_ref() else {
        return;
    };
    if job.waiting.iter().all(|w| w.is_closed())
        && server.config.read().save_rules.is_empty()
        && !job.progress.abort.swap(true, Relaxed)
    {
        log!(
            Notice,
            "Stopping the RDB save for SYNC: no replica waits for it"
        );
    }
}

/// A replica's connection after SYNC/PSYNC: the snapshot (for a full sync), then the stream
/// from its cursor; meanwhile it reads what the replica sends (REPLCONF ACK) and runs it.
/// Returns when the replica goes away or must be dropped.
pub async fn serve_replica<S: ClientStream>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut ClientState,
    input: &mut Vec<u8>,
    request: SyncRequest,
) {
    let replica = client
        .replica
        .as_ref()
        .and_then(|r| r.link.clone())
        .expect("a replica has its link");
    let rdb_only = client.replica.as_ref().is_some_and(|r| r.rdb_only);
    // Commands that came in the same read as SYNC/PSYNC are the replica's.
    let name = replica.name();
    if let Err(reason) = run_replica_commands(server, client, &mut replica_parser(), input, &name) {
        log!(Warning, "{reason}");
        if let SyncRequest::Continue(cursor) = request {
            server.replication.backlog.detach(cursor);
        }
        server.replication.master.detach(&replica);
        return;
    }
    let cursor = match request {
        SyncRequest::Continue(cursor) => cursor,
        SyncRequest::Full {
            old_protocol,
            start,
        } => {
            match send_snapshot(server, stream, client, input, &replica, old_protocol, start).await
            {
                Some(cursor) if !rdb_only => cursor,
                Some(cursor) => {
                    server.replication.backlog.detach(cursor);
                    server.replication.master.detach(&replica);
                    return;
                }
                None => {
                    log!(
                        Warning,
                        "Connection with replica {} lost during the sync.",
                        replica.name()
                    );
                    server.replication.master.detach(&replica);
                    return;
                }
            }
        }
    };
    let reason = stream_to_replica(server, stream, client, input, &replica, &cursor).await;
    log!(Notice, "{reason}");
    server.replication.backlog.detach(cursor);
    server.replication.master.detach(&replica);
}

/// Waits for the sync job (sending a newline each second until the payload starts, as Redis
/// keeps the link alive), then writes `+FULLRESYNC` and the payload. Returns the replica's
/// cursor at the cut, or None when the job or the connection failed.
async fn send_snapshot<S: ClientStream>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut ClientState,
    input: &mut Vec<u8>,
    replica: &Replica,
    old_protocol: bool,
    start: oneshot::Receiver<SyncStart>,
) -> Option<Cursor> {
    // What the replica sends meanwhile is read and run, as Redis reads it: a replica that
    // leaves is noticed at once, one whose command has a reply is dropped.
    let mut parser = replica_parser();
    let mut heard = |stream: &mut S, input: &mut Vec<u8>| match read_from_replica(
        server,
        stream,
        client,
        &mut parser,
        input,
        &replica.name(),
    ) {
        Ok(()) => true,
        Err(reason) => {
            log!(Warning, "{reason}");
            false
        }
    };
    let mut start = std::pin::pin!(start);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let SyncStart {
        replid,
        offset,
        cursor,
        mut payload,
    } = loop {
        tokio::select! {
            started = start.as_mut() => break started.ok()?,
            _ = tick.tick() => stream.write_all(b"\n").await.ok()?,
            _ = replica.handle.attention() => if replica.handle.is_killed() { return None },
            ready = stream.readable() => if ready.is_err() || !heard(stream, input) { return None },
        }
    };
    if !old_protocol {
        let line = format!("+FULLRESYNC {replid} {offset}\r\n");
        if stream.write_all(line.as_bytes()).await.is_err() {
            server.replication.backlog.detach(cursor);
            return None;
        }
    }
    let mut first = true;
    replica.acknowledged.store(false, Relaxed);
    // The stream kept for the replica meanwhile counts against its output limit, as it does
    // in Redis for a replica waiting for its snapshot.
    let mut limit_check = tokio::time::interval(Duration::from_millis(100));
    loop {
        let chunk = tokio::select! {
            chunk = payload.recv() => chunk,
            _ = tick.tick(), if first => {
                if stream.write_all(b"\n").await.is_err() {
                    break;
                }
                continue;
            }
            _ = replica.handle.attention() => {
                if replica.handle.is_killed() {
                    break;
                }
                continue;
            }
            ready = stream.readable() => {
                if ready.is_err() || !heard(stream, input) {
                    break;
                }
                continue;
            }
            _ = limit_check.tick() => {
                let pending = server.replication.backlog.unread(&cursor);
                if !within_output_limit(server, replica, pending) {
                    break;
                }
                continue;
            }
        };
        match chunk {
            Some(chunk) if chunk.is_empty() => {
                replica.ack_ms.store(redis_lite_engine::now_ms(), Relaxed);
                replica.state.store(State::Online as u8, Relaxed);
                log!(
                    Notice,
                    "Synchronization with replica {} succeeded",
                    replica.name()
                );
                return Some(cursor);
            }
            Some(chunk) => {
                if first && !chunk.starts_with(b"$EOF:") {
                    // A payload with its length (the file is saved): the stream may follow it
                    // at once. Until now the replica waited for the save, as INFO says; a
                    // diskless one shows `wait_bgsave` to the end, as in Redis.
                    replica.acknowledged.store(true, Relaxed);
                    replica.state.store(State::SendBulk as u8, Relaxed);
                }
                first = false;
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
                let sent = chunk.len() as u64;
                server.stats.repl_output_bytes.fetch_add(sent, Relaxed);
            }
            None => break,
        }
    }
    server.replication.backlog.detach(cursor);
    None
}

/// Streams the backlog past `cursor` to the replica until it goes away, times out, or
/// overruns its output limit. Returns the log line saying why it ended.
async fn stream_to_replica<S: ClientStream>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut ClientState,
    input: &mut Vec<u8>,
    replica: &Replica,
    cursor: &Cursor,
) -> String {
    let backlog = &server.replication.backlog;
    let grown = backlog.grown();
    let mut parser = replica_parser();
    let mut out: Vec<u8> = Vec::new();
    let mut copies = backlog.stream_copies();
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let name = replica.name();
    loop {
        if replica.handle.is_killed() {
            return format!("Connection with replica {name} lost.");
        }
        let notified = grown.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        // After a diskless payload, nothing more until the replica's first ACK.
        if sent == out.len() && replica.acknowledged.load(Relaxed) {
            out.clear();
            sent = 0;
            if backlog.read(cursor, &mut out, CHUNK * 4).is_err() {
                return format!("Connection with replica {name} lost.");
            }
            copies.hold(out.capacity());
        }
        // The replica's pending output is what the backlog holds for it beyond what is in
        // flight here.
        let pending = backlog.unread(cursor) + (out.len() - sent) as u64;
        if !within_output_limit(server, replica, pending) {
            return format!("Connection with replica {name} lost.");
        }
        let timeout_ms = server.config.read().repl_timeout * 1000;
        if replica.acks && replica.state() == State::Online {
            let silent = redis_lite_engine::now_ms().saturating_sub(replica.ack_ms.load(Relaxed));
            if silent > timeout_ms {
                return format!("Disconnecting timedout replica (streaming sync): {name}");
            }
        }
        let writing = sent < out.len() || stream.has_unsent();
        tokio::select! {
            _ = replica.handle.attention() => {
                if replica.handle.is_killed() {
                    return format!("Connection with replica {name} lost.");
                }
            }
            ready = stream.writable(), if writing => {
                if ready.is_err() {
                    return format!("Connection with replica {name} lost.");
                }
                match poll_now(tokio::io::AsyncWriteExt::write(stream, &out[sent..])) {
                    Some(Ok(n)) => {
                        sent += n;
                        server.stats.repl_output_bytes.fetch_add(n as u64, Relaxed);
                    }
                    None => {}
                    Some(Err(_)) => return format!("Connection with replica {name} lost."),
                }
                if stream.has_unsent() && matches!(poll_now(tokio::io::AsyncWriteExt::flush(stream)), Some(Err(_))) {
                    return format!("Connection with replica {name} lost.");
                }
            }
            ready = stream.readable() => {
                if ready.is_err() {
                    return format!("Connection with replica {name} lost.");
                }
                if let Err(reason) = read_from_replica(server, stream, client, &mut parser, input, &name) {
                    return reason;
                }
            }
            _ = notified.as_mut(), if !writing => {}
            _ = tick.tick() => {}
        }
    }
}

/// Records `pending`, the replica's share of the stream not yet sent, as its output (its
/// `omem` in CLIENT LIST, INFO's client_recent_max_output_buffer, as Redis counts it) and
/// checks it against `client-output-buffer-limit replica`: false, and the replica closed, when
/// over. A hard limit below `repl-backlog-size` counts as that size, as in Redis: the bytes
/// are the backlog's anyway, and a replica must not be cut off for a partial resync the
/// backlog allowed.
fn within_output_limit(server: &Server, replica: &Replica, pending: u64) -> bool {
    replica
        .handle
        .pending_output_bytes
        .store(pending as usize, Relaxed);
    server.clients.peaks.record_output(pending);
    let limit = {
        let config = server.config.read();
        let mut limit = config.output_buffer_limits[OutputClass::Replica as usize];
        if limit.hard > 0 {
            limit.hard = limit.hard.max(config.repl_backlog_size);
        }
        limit
    };
    if replica.handle.check_output(pending, limit) == OutputCheck::Exceeded {
        // Off the list with the close, as Redis frees both at once: CLIENT LIST (which skips
        // closed clients) and INFO's connected_slaves agree from here on.
        server.replication.master.detach(replica);
        replica.handle.close_for_output_limit();
        return false;
    }
    true
}

/// A parser for what a replica sends (it is authenticated: it got as far as SYNC).
fn replica_parser() -> RequestParser {
    let mut parser = RequestParser::new(Limits::default());
    parser.authenticated = true;
    parser
}

/// Reads what the replica `name` sent, once its socket is readable, and runs it. Err with the
/// log line when the replica went away or must be dropped.
fn read_from_replica<S: ClientStream>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut ClientState,
    parser: &mut RequestParser,
    input: &mut Vec<u8>,
    name: &str,
) -> Result<(), String> {
    match poll_now(tokio::io::AsyncReadExt::read_buf(stream, input)) {
        Some(Ok(0)) | Some(Err(_)) => Err(format!("Connection with replica {name} lost.")),
        Some(Ok(_)) => run_replica_commands(server, client, parser, input, name),
        None => Ok(()),
    }
}

/// Runs what a replica sent (its REPLCONF ACKs) through the pipeline. A command that has a
/// reply gets the replica dropped, as Redis drops it (the link carries no replies). Err with
/// the log line on that or a protocol error.
fn run_replica_commands(
    server: &Arc<Server>,
    client: &mut ClientState,
    parser: &mut RequestParser,
    input: &mut Vec<u8>,
    name: &str,
) -> Result<(), String> {
    let mut reply = Vec::new();
    loop {
        match parser.next(input) {
            Ok(Some(command)) => {
                let args: Vec<&[u8]> = command.iter().collect();
                let ran = dispatch::execute(server, client, &args, &mut reply);
                client.publish_info(ran);
                if !reply.is_empty() {
                    // A refused command ran nothing but is named all the same, as Redis names it.
                    let command = ran.map_or_else(
                        || String::from_utf8_lossy(args[0]).to_lowercase(),
                        str::to_string,
                    );
                    let info = client.handle.describe(Instant::now());
                    let dropped = format!(
                        "Replica generated a reply to command '{command}', disconnecting it: {}",
                        info.trim_end()
                    );
                    if reply.first() == Some(&b'-') {
                        log!(Warning, "{dropped}");
                        super::log_error_on_link("master", "replica", &reply, &command);
                        return Err(format!("Connection with replica {name} lost."));
                    }
                    return Err(dropped);
                }
            }
            Ok(None) => break,
            Err(_) => {
                return Err(format!(
                    "Protocol error from replica {name}: connection closed."
                ))
            }
        }
    }
    let consumed = parser.consumed();
    input.drain(..consumed);
    parser.discard(consumed);
    Ok(())
}

/// REPLCONF ACK from a replica (no reply, as in Redis).
pub fn acknowledge(server: &Server, client: &ClientState, offset: u64) {
    if let Some(replica) = client.replica.as_ref().and_then(|r| r.link.as_ref()) {
        server.replication.master.acknowledged_by(replica, offset);
    }
}
