//! Clients. `ClientState` is owned by the connection's task and read on every command;
//! `ClientHandle` is the shared part that CLIENT LIST, CLIENT KILL and INFO see from other
//! threads.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::Mutex;
use redis_lite_protocol::Protocol;

use redis_lite_engine::{Keyspace, WatchFlag};

use crate::blocking::{BlockedCommand, Waiter};
use crate::pubsub::Push;
use crate::stats::{ClientPeaks, WorkerStats};
use crate::txn::Multi;

/// CLIENT REPLY modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply to the next command.
    SkipNext,
    /// Skipping the reply of the command being run now.
    Skip,
}

/// Every connected client, by id (CLIENT LIST's order), and the connection counters.
pub struct Clients {
    by_id: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    pub peaks: ClientPeaks,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Clients disconnected by client eviction (INFO's `evicted_clients`).
    pub evicted: AtomicU64,
    /// What normal and pub/sub clients hold: the running total client eviction checks before
    /// every command without walking the client list.
    pub memory: Arc<MemoryTotal>,
}

/// What normal and pub/sub clients hold, as each last recounted its `tot-mem`
/// ([`ClientHandle::recount_memory`]), kept while `maxmemory-clients` is set (`counting`).
#[derive(Default)]
pub struct MemoryTotal {
    pub bytes: AtomicUsize,
    pub counting: AtomicBool,
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            by_id: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            peaks: ClientPeaks::default(),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            memory: Arc::default(),
        }
    }
}

impl Clients {
    /// Registers the client `make` builds with the next id, unless `maxclients` are already
    /// connected.
    pub fn register(
        &self,
        maxclients: u64,
        make: impl FnOnce(u64) -> ClientHandle,
    ) -> Option<Arc<ClientHandle>> {
        let mut clients = self.by_id.lock();
        if clients.len() as u64 >= maxclients {
            return None;
        }
        let mut handle = make(self.next_id.fetch_add(1, Ordering::Relaxed));
        handle.memory.all_clients = self.memory.clone();
        let handle = Arc::new(handle);
        clients.insert(handle.id, handle.clone());
        Some(handle)
    }

    pub fn remove(&self, id: u64) {
        self.by_id.lock().remove(&id);
    }

    pub fn count(&self) -> usize {
        self.by_id.lock().len()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.by_id.lock().get(&id).cloned()
    }

    /// Every client, in id order, as of now.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.by_id.lock().values().cloned().collect()
    }
}

/// A wake-up for the one task that serves a client, raised from any thread: a flag and the
/// waiting task's waker. Raised while nobody waits, it is kept for the next wait (several
/// raises make one wake-up). tokio's `Notify` did the same with a list of waiters locked on
/// every poll: 180 of the 6,300 user-space instructions of an unpipelined GET.
#[derive(Default)]
struct Attention {
    raised: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Attention {
    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        if let Some(waker) = self.waker.lock().take() {
            waker.wake();
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        let taken =
            || self.raised.load(Ordering::Acquire) && self.raised.swap(false, Ordering::Acquire);
        if taken() {
            return Poll::Ready(());
        }
        {
            let mut waker = self.waker.lock();
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
        }
        // A raise between the first look and the registration found no waker to wake.
        if taken() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The part of a client other threads may read.
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    /// Whether the peer is on this host (loopback TCP or the unix socket): what `local` means
    /// in `enable-debug-command`, `enable-module-command` and `enable-protected-configs`.
    pub local: bool,
    /// Connected through `unixsocket` (MONITOR shows such clients as `unix:<path>`).
    pub unix_socket: bool,
    pub fd: i32,
    pub created: Instant,
    pub info: Mutex<ClientInfo>,
    killed: AtomicBool,
    /// Whether `fd` is the connection's open socket: set while the connection's task serves
    /// it, cleared before the task drops it, so a kill never shuts down a descriptor that was
    /// closed and reused (see `kill`).
    socket_open: Mutex<bool>,
    /// Its buffers when it was killed, until they are freed (see [`KILLED_NOT_YET_FREED`]).
    killed_buffers: AtomicU64,
    /// The client ran MONITOR (CLIENT LIST's `O` flag); RESET ends it.
    monitor: AtomicBool,
    /// Wakes the connection for a kill or for queued pushes: one notification for both, so the
    /// connection's wait polls one future instead of two.
    attention: Attention,
    /// Pub/sub messages for the connection to write; a queue allocates only once one arrives,
    /// so an idle connection holds none.
    pushes: Mutex<VecDeque<Push>>,
    /// Bytes of pushes queued for the connection and not yet in its output (`send_push`,
    /// `push_written`).
    pending_push_bytes: AtomicUsize,
    /// Bytes of replies in the connection's output, not yet written to the socket.
    pub pending_output_bytes: AtomicUsize,
    /// What the client's buffers hold, besides the pending output above.
    pub memory: ClientMemory,
    /// When the client's pending output went over the soft limit (Unix ms; 0 = it is not over).
    pub soft_limit_since_ms: AtomicU64,
    /// The waiter of the blocking command this client is blocked in, for CLIENT UNBLOCK.
    pub blocked: Mutex<Option<Arc<Waiter>>>,
    /// CLIENT TRACKING's REDIRECT target (0: none; -1: tracking off), CLIENT LIST's `redir`.
    pub tracking_redirect: AtomicI64,
    /// CLIENT LIST's tracking flags, [`TRACKING_ON`] | [`TRACKING_BROKEN`] | [`TRACKING_BCAST`].
    pub tracking_flags: AtomicU8,
}

/// Tracking is on (`t` in CLIENT LIST).
pub const TRACKING_ON: u8 = 1;
/// Its redirect target went away (`R`).
pub const TRACKING_BROKEN: u8 = 2;
/// It tracks by prefixes (`B`).
pub const TRACKING_BCAST: u8 = 4;

/// What CLIENT LIST's flags show besides [`ClientInfo`]'s own state.
struct HandleFlags {
    blocked: bool,
    killed: bool,
    monitor: bool,
    unix_socket: bool,
    tracking: u8,
}

/// Fields of CLIENT LIST that change as the client works; updated once per batch of commands.
pub struct ClientInfo {
    pub name: Vec<u8>,
    /// The user the client authenticated as; `None` is the default user.
    pub user: Option<Arc<crate::acl::UserSlot>>,
    pub db: usize,
    pub last_command: &'static str,
    pub last_active: Instant,
    pub resp: u8,
    /// Commands queued in MULTI; None outside a transaction (CLIENT LIST's `multi`, `x` flag).
    pub multi: Option<usize>,
    /// A watched key changed, so EXEC will fail (the `d` flag).
    pub dirty_cas: bool,
    /// The connection closes once its replies are written (QUIT; the `c` flag).
    pub close_after_reply: bool,
    pub no_evict: bool,
    /// Cluster READONLY: a replica node serves this client's reads (the `r` flag).
    pub readonly: bool,
    /// Channel, pattern and shard channel subscriptions.
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// What the connection is to replication: a replica of this server, or this server's link
    /// to its master.
    pub role: ClientRole,
}

/// A connection's part in replication (CLIENT LIST's `S` and `M` flags and TYPE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientRole {
    #[default]
    Normal,
    /// A replica of this server, after its SYNC or PSYNC.
    Replica,
    /// This server's link to its master.
    Master,
}

impl ClientInfo {
    /// CLIENT LIST's `flags`, in Redis's order: `O` monitor (a replica to Redis, hence in `S`'s
    /// place), `S` replica, `M` master, `P` subscriber, `x` in MULTI, `b` blocked, `t`/`R`/`B`
    /// tracking, its redirect broken, BCAST, `d` a watched key changed, `c` closing after the
    /// reply, `A` closing at once (killed), `U` unix socket, `r` cluster READONLY, `e` no-evict;
    /// `N` for none.
    fn flags(&self, handle: HandleFlags) -> String {
        let mut flags = String::new();
        let mut flag = |on: bool, letter: char| {
            if on {
                flags.push(letter);
            }
        };
        flag(handle.monitor, 'O');
        flag(self.role == ClientRole::Replica && !handle.monitor, 'S');
        flag(self.role == ClientRole::Master, 'M');
        flag(self.is_subscriber(), 'P');
        flag(self.multi.is_some(), 'x');
        flag(handle.blocked, 'b');
        flag(handle.tracking & TRACKING_ON != 0, 't');
        flag(handle.tracking & TRACKING_BROKEN != 0, 'R');
        flag(handle.tracking & TRACKING_BCAST != 0, 'B');
        flag(self.dirty_cas, 'd');
        flag(self.close_after_reply, 'c');
        flag(handle.killed, 'A');
        flag(handle.unix_socket, 'U');
        flag(self.readonly, 'r');
        flag(self.no_evict, 'e');
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    pub fn is_subscriber(&self) -> bool {
        self.sub + self.psub + self.ssub > 0
    }
}

/// What the pushes queued for every connection and not yet in its output take (the
/// allocations of their encoded sizes, as the allocator counts them): messages on their
/// way from the thread that produced them to the connection's own thread. Eviction leaves them
/// out (see `eviction::not_counted_for_evict`). Process-wide, as the allocator's count is.
static PUSHES_IN_TRANSIT: AtomicU64 = AtomicU64::new(0);

pub fn pushes_in_transit() -> u64 {
    PUSHES_IN_TRANSIT.load(Ordering::Relaxed)
}

/// The buffers of killed clients whose connections have not closed yet (each client's
/// [`ClientMemory::buffers`] when it was killed). Redis frees a client it kills, client
/// eviction's included, on the spot; here its connection's thread frees them a moment later,
/// and until then a key eviction would pay for memory already given up (maxmemory.tcl's MGET
/// clients: keys evicted although client eviction had made room). Eviction leaves them out.
static KILLED_NOT_YET_FREED: AtomicU64 = AtomicU64::new(0);

pub fn killed_not_yet_freed() -> u64 {
    KILLED_NOT_YET_FREED.load(Ordering::Relaxed)
}

/// What a push of `bytes` encoded bytes counts for in [`PUSHES_IN_TRANSIT`]: the same on the
/// way in and out, so the total returns to 0.
fn in_transit(bytes: usize) -> u64 {
    crate::memory::allocation_size(bytes as u64)
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        // Pushes never taken go with the client.
        for push in self.pushes.get_mut().iter() {
            PUSHES_IN_TRANSIT.fetch_sub(in_transit(push.size()), Ordering::Relaxed);
        }
        self.buffers_freed();
    }
}

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32) -> Self {
        let now = Instant::now();
        ClientHandle {
            pushes: Mutex::new(VecDeque::new()),
            pending_push_bytes: AtomicUsize::new(0),
            pending_output_bytes: AtomicUsize::new(0),
            memory: ClientMemory::default(),
            soft_limit_since_ms: AtomicU64::new(0),
            blocked: Mutex::new(None),
            tracking_redirect: AtomicI64::new(-1),
            tracking_flags: AtomicU8::new(0),
            id,
            addr,
            laddr,
            local: false,
            unix_socket: false,
            fd,
            created: now,
            info: Mutex::new(ClientInfo {
                name: Vec::new(),
                user: None,
                db: 0,
                last_command: "NULL",
                last_active: now,
                resp: 2,
                multi: None,
                dirty_cas: false,
                close_after_reply: false,
                no_evict: false,
                readonly: false,
                sub: 0,
                psub: 0,
                ssub: 0,
                role: ClientRole::Normal,
            }),
            killed: AtomicBool::new(false),
            socket_open: Mutex::new(false),
            killed_buffers: AtomicU64::new(0),
            monitor: AtomicBool::new(false),
            attention: Attention::default(),
        }
    }

    /// Queues a message for this client's connection to write, counted in its pending output.
    pub fn send_push(&self, push: Push) {
        let bytes = push.size();
        self.pending_push_bytes.fetch_add(bytes, Ordering::Relaxed);
        PUSHES_IN_TRANSIT.fetch_add(in_transit(bytes), Ordering::Relaxed);
        self.pushes.lock().push_back(push);
        self.attention.raise();
    }

    /// The connection wrote `bytes` of a queued push (its `Push::write`) into its output.
    pub fn push_written(&self, bytes: usize) {
        self.pending_push_bytes.fetch_sub(bytes, Ordering::Relaxed);
        PUSHES_IN_TRANSIT.fetch_sub(in_transit(bytes), Ordering::Relaxed);
    }

    /// Completes when the client was killed or messages were queued since the connection last
    /// looked (`is_killed`, `take_pushes`).
    pub async fn attention(&self) {
        std::future::poll_fn(|cx| self.attention.poll(cx)).await
    }

    /// Moves the queued messages into `into` (empty), keeping both queues' memory.
    pub fn take_pushes(&self, into: &mut VecDeque<Push>) {
        std::mem::swap(&mut *self.pushes.lock(), into);
    }

    /// Closes the client (CLIENT KILL, ACL changes, client eviction, output limits, dropped
    /// replicas). What it holds leaves the clients' running total at once, and its buffers
    /// leave what `maxmemory` counts until the connection frees them: it is as good as gone.
    /// Its socket is shut down here, as Redis frees a killed client within the command: the
    /// peer reads the end of the connection before the killer's next command is answered
    /// (a replica whose link a master killed is down by then), not whenever the connection's
    /// own thread next runs.
    pub fn kill(&self) {
        self.kill_reporting(|| {});
    }

    /// [`Self::kill`], running `report` only in the call that kills the client, not in one
    /// that finds it killed already (perhaps at the same moment, by another thread), and
    /// before its socket is shut down: what `report` counts or logs is there for whoever saw
    /// the connection end (a test's INFO after the EOF).
    pub fn kill_reporting(&self, report: impl FnOnce()) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            report();
            let buffers = self.memory.buffers() as u64;
            self.killed_buffers.store(buffers, Ordering::Relaxed);
            KILLED_NOT_YET_FREED.fetch_add(buffers, Ordering::Relaxed);
        }
        self.recount_memory();
        let open = self.socket_open.lock();
        if *open {
            // SAFETY: `fd` is the connection's socket while `socket_open` says so, and the
            // connection clears it (under this lock) before it closes the descriptor.
            unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        }
        drop(open);
        self.attention.raise();
    }

    /// The connection's task serves the socket `fd` from now on, or (`false`) is about to close
    /// it.
    pub fn set_socket_open(&self, open: bool) {
        *self.socket_open.lock() = open;
    }

    /// The connection freed its buffers (or the client is gone): a killed client's leave
    /// [`KILLED_NOT_YET_FREED`].
    pub fn buffers_freed(&self) {
        let buffers = self.killed_buffers.swap(0, Ordering::Relaxed);
        KILLED_NOT_YET_FREED.fetch_sub(buffers, Ordering::Relaxed);
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Whether the client is in MONITOR mode (see `crate::monitor`).
    pub fn is_monitor(&self) -> bool {
        self.monitor.load(Ordering::Relaxed)
    }

    pub(crate) fn set_monitor(&self, monitor: bool) {
        self.monitor.store(monitor, Ordering::Relaxed);
    }

    /// Output not yet written: replies in the connection's buffer plus queued pushes. This is
    /// what `client-output-buffer-limit` bounds.
    pub fn pending_output(&self) -> u64 {
        (self.pending_output_bytes.load(Ordering::Relaxed)
            + self.pending_push_bytes.load(Ordering::Relaxed)) as u64
    }

    /// CLIENT LIST's `tot-mem`: everything the client holds (what `maxmemory-clients` bounds).
    pub fn total_memory(&self) -> u64 {
        self.memory
            .total(self.pending_push_bytes.load(Ordering::Relaxed)) as u64
    }

    /// Brings this client's share of the running total of client memory (`Clients::memory`)
    /// up to what it holds now, nothing once it was killed; nothing to do while the total is
    /// not kept.
    pub fn recount_memory(&self) {
        if !self.memory.all_clients.counting.load(Ordering::Relaxed) {
            return;
        }
        let now = match self.is_killed() {
            true => 0,
            false => self.total_memory() as usize,
        };
        self.memory.count_as(now);
    }

    /// Takes this client out of the running total: it closed, or became a replica (replicas
    /// do not count toward `maxmemory-clients`).
    pub fn uncount_memory(&self) {
        self.memory.count_as(0);
    }

    /// Checks `pending` bytes of output against `limit`: the hard limit is exceeded at once, the
    /// soft one after it has stayed over for more than its seconds.
    pub fn check_output(&self, pending: u64, limit: BufferLimit) -> OutputCheck {
        if limit.hard > 0 && pending > limit.hard {
            return OutputCheck::Exceeded;
        }
        if limit.soft == 0 || pending <= limit.soft {
            self.soft_limit_since_ms.store(0, Ordering::Relaxed);
            return OutputCheck::Within;
        }
        let now = redis_lite_engine::now_ms();
        let since = match self.soft_limit_since_ms.compare_exchange(
            0,
            now,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => now,
            Err(since) => since,
        };
        let close_at_ms = since + limit.soft_seconds * 1000;
        if now > close_at_ms {
            OutputCheck::Exceeded
        } else {
            OutputCheck::OverSoft { close_at_ms }
        }
    }

    /// Whether the client is authenticated as the user `name` (the master link is no user).
    pub fn user_is(&self, name: &[u8]) -> bool {
        let info = self.info.lock();
        info.role != ClientRole::Master
            && info
                .user
                .as_ref()
                .map_or(b"default".as_slice(), |u| &u.name)
                == name
    }

    /// Closes a client whose output went over its limit, with Redis's log line, written once
    /// (see [`Self::kill_reporting`]).
    pub fn close_for_output_limit(&self) {
        if self.is_killed() {
            return;
        }
        let description = self.describe(Instant::now());
        self.kill_reporting(|| {
            crate::log!(
                Warning,
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                description.trim_end()
            );
        });
    }

    /// One line of CLIENT LIST / CLIENT INFO, Redis 7.0's fields in its order.
    pub fn describe(&self, now: Instant) -> String {
        let info = self.info.lock();
        let memory = &self.memory;
        let load = |field: &AtomicUsize| field.load(Ordering::Relaxed);
        // Redis keeps the first 16 KB of replies in the client's own buffer (`obl`) and the
        // rest in a list of blocks (`oll`, `omem`); the same split of the pending bytes here.
        // A replica is sent only the replication stream, all of it from the shared blocks it
        // references, so its own buffer stays empty.
        let pending = self.pending_output() as usize;
        let obl = match info.role {
            ClientRole::Replica => 0,
            _ => pending.min(REPLY_BLOCK),
        };
        let omem = pending - obl;
        let oll = omem.div_ceil(REPLY_BLOCK);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
             multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={obl} oll={oll} \
             omem={omem} tot-mem={} events={} cmd={} user={} redir={} resp={}\n",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&info.name),
            now.duration_since(self.created).as_secs(),
            now.saturating_duration_since(info.last_active).as_secs(),
            info.flags(HandleFlags {
                blocked: self.blocked.lock().is_some(),
                killed: self.is_killed(),
                monitor: self.is_monitor(),
                unix_socket: self.unix_socket,
                tracking: self.tracking_flags.load(Ordering::Relaxed),
            }),
            info.db,
            info.sub,
            info.psub,
            info.ssub,
            info.multi.map_or(-1, |queued| queued as i64),
            load(&memory.query_buffer),
            load(&memory.query_buffer_free),
            load(&memory.argv),
            load(&memory.multi),
            load(&memory.output_capacity),
            load(&memory.output_peak),
            self.total_memory(),
            if pending > 0 { "rw" } else { "r" },
            info.last_command,
            // The master link runs as no user, which Redis shows so.
            if info.role == ClientRole::Master {
                "(superuser)".into()
            } else {
                String::from_utf8_lossy(info.user.as_ref().map_or(b"default", |u| &u.name))
            },
            self.tracking_redirect.load(Ordering::Relaxed),
            info.resp,
        )
    }
}

/// What a client's buffers and pending command state hold, in CLIENT LIST's terms. The
/// connection stores each where it already handles that buffer (after a read, after a batch of
/// commands, after a write), so other threads read them without asking it and the hot path pays
/// a few uncontended stores per batch.
#[derive(Default)]
pub struct ClientMemory {
    /// `qbuf`: bytes received and not yet parsed into arguments.
    pub query_buffer: AtomicUsize,
    /// `qbuf-free`: the query buffer's unused capacity.
    pub query_buffer_free: AtomicUsize,
    /// `argv-mem`: arguments held outside the query buffer: those of a command still being
    /// received, of a blocked command, or of the command running now.
    pub argv: AtomicUsize,
    /// `multi-mem`: the commands queued in MULTI, arguments and their references.
    pub multi: AtomicUsize,
    /// `rbs`: the capacity of the reply buffer (it holds every pending reply).
    pub output_capacity: AtomicUsize,
    /// `rbp`: the most reply bytes the buffer held recently (reset every few seconds).
    pub output_peak: AtomicUsize,
    /// The client's entries in shared tables, which Redis counts in `tot-mem` by their
    /// overhead: watched keys, subscriptions, tracking prefixes
    /// ([`ClientState::bookkeeping_memory`]).
    pub bookkeeping: AtomicUsize,
    /// This client's share of `all_clients`, the running total it belongs to.
    counted: AtomicUsize,
    all_clients: Arc<MemoryTotal>,
}

/// What a connection costs besides its buffers: its state, its shared handle, its task, its
/// parser and its socket's registration. `used_memory` grows by about 5 KB per idle connection
/// (1,000 connections opened, each after one PING), which this rounds to.
pub const CONNECTION_OVERHEAD: usize = 5 * 1024;

impl ClientMemory {
    /// `tot-mem`: the buffers, the queued pushes (`pending_pushes` bytes), the arguments and
    /// transaction held, and the connection's fixed cost.
    pub fn total(&self, pending_pushes: usize) -> usize {
        self.input_side()
            + self.output_capacity.load(Ordering::Relaxed)
            + self.bookkeeping.load(Ordering::Relaxed)
            + pending_pushes
            + CONNECTION_OVERHEAD
    }

    /// What its buffers hold, which closing the connection frees: the input side and the
    /// reply buffer (at its allocation's size).
    pub fn buffers(&self) -> usize {
        let output = self.output_capacity.load(Ordering::Relaxed) as u64;
        self.input_side() + crate::memory::allocation_size(output) as usize
    }

    /// The query buffer (used and free), the arguments and the queued transaction.
    fn input_side(&self) -> usize {
        let load = |field: &AtomicUsize| field.load(Ordering::Relaxed);
        load(&self.query_buffer)
            + load(&self.query_buffer_free)
            + load(&self.argv)
            + load(&self.multi)
    }

    /// Makes `bytes` this client's share of the running total.
    fn count_as(&self, bytes: usize) {
        let before = self.counted.swap(bytes, Ordering::Relaxed);
        if before != bytes {
            // Wrapping: a share that shrank subtracts.
            self.all_clients
                .bytes
                .fetch_add(bytes.wrapping_sub(before), Ordering::Relaxed);
        }
    }
}

/// Size of a block of pending replies in CLIENT LIST's accounting, as Redis's.
const REPLY_BLOCK: usize = 16 * 1024;

/// `client-output-buffer-limit` of one class: hard bytes, soft bytes, soft seconds (0 = none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// The classes of `client-output-buffer-limit`, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputClass {
    Normal = 0,
    Replica = 1,
    PubSub = 2,
}

/// A client's pending output against its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputCheck {
    Within,
    /// Over the soft limit; the client is closed if it still is at this time (Unix ms).
    OverSoft {
        close_at_ms: u64,
    },
    /// Over the hard limit, or the soft one for too long: the client is to be closed.
    Exceeded,
}

/// How the command a client runs now was started.
#[derive(Clone, Default)]
pub enum ExecMode {
    /// Sent by the client (or replayed by the AOF loader).
    #[default]
    Direct,
    /// Run by EXEC or by a script, inside one atomic unit: every event loop is paused already,
    /// blocking commands do not block, the records are framed as one unit, and the clock
    /// stands at the unit's start (Redis's nested calls share one time, so a key cannot expire
    /// halfway through).
    Nested {
        now_ms: u64,
        /// Which of the journal's sinks the unit's writes go to, if any: a script's
        /// `redis.set_repl` chooses (`REPL_AOF`, `REPL_REPLICA`, `REPL_NONE`...) and can change
        /// it between writes.
        journaled: Option<crate::journal::Readers>,
    },
    /// A blocked command woken for data, run again: its waiter and deadline, so that blocking
    /// again keeps its place in line.
    Rerun {
        waiter: Arc<Waiter>,
        deadline: Option<Instant>,
    },
}

impl ExecMode {
    pub fn nested(&self) -> bool {
        matches!(self, ExecMode::Nested { .. })
    }
}

/// Who runs commands through a client: the pipeline treats some differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// A connection.
    Normal,
    /// The AOF loader's replay: it runs while everyone else gets -LOADING, is never refused
    /// for memory, and time stands still for it (see `persistence::aof::load`).
    AofLoader,
    /// A replica's link to its master, applying the master's stream (see
    /// `replication::replica`): obeyed as Redis obeys its master (never refused for memory,
    /// a read-only replica, a stale link or a busy script), its replies dropped, and it sees
    /// keys whose TTL passed until the master's DEL removes them.
    Master,
}

impl ClientKind {
    /// Whether commands from this client are applied whatever the server's own rules say
    /// (Redis's `mustObeyClient`): they were already admitted where they came from.
    pub fn obeyed(self) -> bool {
        self != ClientKind::Normal
    }
}

/// The connection's own view of its client.
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    /// The command table's entry this client used last (see `LastCommand`).
    pub last_command: crate::command::LastCommand,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// The user this client authenticated as; `None` is the default user.
    pub user: Option<Arc<crate::acl::UserSlot>>,
    pub reply_mode: ReplyMode,
    /// The command's output is pushes only (subscribe confirmations, arrays in RESP2): not a
    /// reply, so CLIENT REPLY OFF or SKIP leaves it, as Redis does.
    pub output_is_push: bool,
    /// Close once the pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Cluster mode: ASKING was sent, so the next command may use a slot being imported.
    pub asking: bool,
    /// Cluster mode: READONLY, so a replica serves reads of its master's slots.
    pub readonly: bool,
    /// Cluster mode, during EXEC: the slot of the transaction's keys, which the scripts it
    /// runs are held to unless they allow cross-slot keys (the first such script's keys set
    /// it when the transaction has none), as Redis holds them to EXEC's client's slot.
    pub exec_slot: Option<u16>,
    pub stats: Arc<WorkerStats>,
    /// Channels, patterns and shard channels this client is subscribed to, in subscription
    /// order.
    pub channels: Vec<Box<[u8]>>,
    pub patterns: Vec<Box<[u8]>>,
    pub shard_channels: Vec<Box<[u8]>>,
    /// Keys this command made non-empty that blocked clients may be waiting on, as (db, key).
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// Blocked clients this client's commands woke: its connection waits for their re-runs
    /// before it runs the next command (see `blocking`).
    pub woken: Vec<crate::blocking::Woken>,
    /// The transaction being queued, between MULTI and EXEC.
    pub multi: Option<Multi>,
    /// Set when a WATCHed key changes; shared with every watched key's entry in the engine.
    pub watch_flag: WatchFlag,
    pub watched: Vec<(usize, Vec<u8>)>,
    /// How the command being run was started.
    pub mode: ExecMode,
    /// Index of the event loop serving this client.
    pub worker: usize,
    /// The blocking command this client waits on, set by `Ctx::block`.
    pub blocked: Option<BlockedCommand>,
    /// Where it stands with a running load's serving points (`persistence::loading`).
    pub loading_rounds: crate::persistence::loading::ClientRounds,
    /// The MIGRATE exchange this client waits on, which its re-run completes.
    pub migration: Option<Arc<crate::admin::migrate::Transfer>>,
    /// Journal offset of the end of this client's latest records: its replies wait until the
    /// AOF is written (with `appendfsync always`, fsynced) up to it.
    pub journal_offset: u64,
    pub kind: ClientKind,
    /// What REPLCONF and SYNC/PSYNC said, once the client is (becoming) a replica.
    pub replica: Option<Box<crate::replication::master::ReplicaClient>>,
    /// CLIENT TRACKING's state as the connection sees it.
    pub tracking: crate::tracking::ClientTracking,
    /// SCRIPT DEBUG YES or SYNC: the next EVAL runs under the Lua debugger.
    pub script_debug: Option<crate::scripting::debugger::DebugMode>,
    /// The connection's plain socket (TCP or unix; None for TLS), which a Lua debugging session
    /// reads and writes directly while it holds the server.
    pub socket_fd: Option<std::os::fd::RawFd>,
}

impl ClientState {
    /// The name of the user this client is authenticated as.
    pub fn user_name(&self) -> &[u8] {
        self.user.as_ref().map_or(b"default", |user| &user.name)
    }

    /// Authenticated as `user` (`None`: the default user), for this connection and CLIENT LIST.
    pub fn set_user(&mut self, user: Option<Arc<crate::acl::UserSlot>>) {
        self.handle.info.lock().user = user.clone();
        self.user = user;
    }

    pub fn new(handle: Arc<ClientHandle>, stats: Arc<WorkerStats>, authenticated: bool) -> Self {
        ClientState {
            handle,
            last_command: Default::default(),
            db: 0,
            protocol: Protocol::Resp2,
            authenticated,
            user: None,
            reply_mode: ReplyMode::On,
            output_is_push: false,
            close_after_reply: false,
            asking: false,
            readonly: false,
            exec_slot: None,
            stats,
            channels: Vec::new(),
            patterns: Vec::new(),
            shard_channels: Vec::new(),
            ready_keys: Vec::new(),
            woken: Vec::new(),
            multi: None,
            watch_flag: WatchFlag::default(),
            watched: Vec::new(),
            mode: ExecMode::Direct,
            worker: 0,
            blocked: None,
            loading_rounds: Default::default(),
            migration: None,
            journal_offset: 0,
            kind: ClientKind::Normal,
            replica: None,
            tracking: Default::default(),
            script_debug: None,
            socket_fd: None,
        }
    }

    /// Forgets every watched key and clears the flag (EXEC, DISCARD, UNWATCH, RESET, close).
    pub fn unwatch_all(&mut self, keyspace: &Keyspace) {
        for (db, key) in std::mem::take(&mut self.watched) {
            let mut locked = keyspace.lock_keys([key.as_slice()]);
            locked.db(db, &key).0.unwatch(&key, &self.watch_flag);
        }
        self.watch_flag.store(false, Ordering::Release);
    }

    /// Copies the state other clients see (CLIENT LIST) into the shared handle.
    pub fn publish_info(&self, last_command: Option<&'static str>) {
        let multi = self.multi.as_ref();
        self.handle
            .memory
            .multi
            .store(multi.map_or(0, |m| m.memory), Ordering::Relaxed);
        let mut info = self.handle.info.lock();
        if let Some(name) = last_command {
            info.last_command = name;
        }
        info.last_active = Instant::now();
        info.db = self.db;
        info.multi = multi.map(|m| m.queue.len());
        info.dirty_cas = !self.watched.is_empty() && self.watch_flag.load(Ordering::Relaxed);
        info.close_after_reply = self.close_after_reply;
        info.readonly = self.readonly;
        info.sub = self.channels.len();
        info.psub = self.patterns.len();
        info.ssub = self.shard_channels.len();
    }

    /// Channel and pattern subscriptions, the count (P)SUBSCRIBE replies report.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// What the client's entries in shared tables cost in Redis's `tot-mem`: each watched key a
    /// list node and its record (56 bytes), each channel or shard channel a dictionary entry
    /// and its bucket (32), each pattern a list node (24), each tracking prefix a radix tree
    /// node (32), as Redis 7.0 counts them.
    pub fn bookkeeping_memory(&self) -> usize {
        self.watched.len() * 56
            + (self.channels.len() + self.shard_channels.len()) * 32
            + self.patterns.len() * 24
            + self.tracking.prefixes * 32
    }

    /// Whether the client has any subscription, shard channels included: Redis's subscriber
    /// state (RESP2's restricted context, the pubsub output class, no idle timeout).
    pub fn is_subscriber(&self) -> bool {
        self.subscriptions() + self.shard_channels.len() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replicas_pending_stream_is_in_blocks_not_in_its_own_buffer() {
        let handle = ClientHandle::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), 5);
        handle.pending_output_bytes.store(20_000, Ordering::Relaxed);
        let line = handle.describe(Instant::now());
        assert!(line.contains(" obl=16384 oll=1 omem=3616 "), "{line}");
        handle.info.lock().role = ClientRole::Replica;
        let line = handle.describe(Instant::now());
        assert!(line.contains(" obl=0 oll=2 omem=20000 "), "{line}");
    }
}
