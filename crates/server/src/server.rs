//! The running server: shared state, listeners, event-loop threads and the cron thread.
//!
//! Threads: `threads` event loops (tokio current-thread runtimes), each serving its own
//! connections start to finish; the main thread accepts connections and hands each to the next
//! loop in turn; a cron thread runs active expiry and periodic sampling. Commands run inline on
//! their connection's loop against the sharded keyspace, so nothing is handed between threads on
//! the request path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use redis_lite_engine::cache_line::CachePadded;
use redis_lite_engine::{Keyspace, LazyFreeSettings};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::client::{ClientHandle, Clients, OutputClass};
use crate::config::{Apply, Config, LiveConfig, Startup};
use crate::journal::Journal;
use crate::net::{connection, fdlimit};
use crate::notify::Notifier;
use crate::persistence::aof::Aof;
use crate::pubsub::PubSub;
use crate::stats::ServerStats;
use crate::{command, log};

/// The event loops' thread names start with this, their index after it (`loop-0`...).
pub const EVENT_LOOP_THREAD: &str = "loop-";

/// The version of Redis whose behaviour redis-lite implements; clients check it for features.
pub const REDIS_VERSION: &str = "7.0.15";
pub const LITE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Shards per event loop: enough that two loops rarely want the same shard at once.
const SHARDS_PER_THREAD: usize = 64;

const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

pub struct Server {
    pub keyspace: Keyspace,
    pub config: LiveConfig,
    pub identity: Identity,
    pub clients: Clients,
    pub stats: ServerStats,
    pub active_expiry: ActiveExpiry,
    /// DEBUG PAUSE-CRON: while set, the cron thread skips its rounds.
    pub cron_paused: AtomicBool,
    pub memory: crate::memory::Marks,
    pub pubsub: Arc<PubSub>,
    pub notifier: Arc<Notifier>,
    /// One gate per event loop, then one for a replica's master link, then one for the cron
    /// thread (the last). Each holds its own gate shared while it runs a command; EXEC takes
    /// them all exclusively, which pauses every other client for the transaction. Each gate
    /// sits alone on its cache lines, so uncontended it costs an atomic on a line no other
    /// thread writes (packed 8 bytes apart, every loop's commands wrote one shared line).
    pub gates: Vec<CachePadded<RwLock<()>>>,
    pub blocking: Arc<crate::blocking::Blocking>,
    /// Paused clients (CLIENT PAUSE, FAILOVER): held commands wait until the pause lifts.
    pub pause: crate::dispatch::pause::ClientPause,
    pub persistence: crate::persistence::Persistence,
    pub limits: crate::eviction::Limits,
    pub scripting: crate::scripting::Scripting,
    pub aof: Arc<Aof>,
    /// The ordered stream of every write's records, which the AOF and the replication
    /// backlog read.
    pub journal: Arc<Journal>,
    pub replication: crate::replication::Replication,
    /// The slow log, the latency monitor, per-command latency histograms.
    pub observability: crate::observability::Observability,
    /// MIGRATE's connections to target instances.
    pub migrate: crate::admin::migrate::SocketCache,
    /// Client-side caching: who read which keys, and their invalidations.
    pub tracking: Arc<crate::tracking::Tracking>,
    /// The clients in MONITOR mode.
    pub monitors: crate::monitor::Monitors,
    /// The TCP listeners, which CONFIG SET port/bind move.
    pub listeners: crate::net::listeners::Listeners,
    /// Redis Cluster: this node's view of the cluster, when `cluster-enabled yes`.
    pub cluster: crate::cluster::Cluster,
    /// Access control: the users and their permissions, ACL LOG.
    pub acl: crate::acl::Acl,
    /// The TLS listeners, which CONFIG SET tls-port/bind move.
    pub tls_listeners: crate::net::listeners::Listeners,
    /// The TLS contexts new connections and links use, which CONFIG SET tls-* rebuilds.
    pub tls: crate::net::tls::Tls,
    pub shutdown: crate::shutdown::Shutdown,
}

/// What names this server instance to clients.
pub struct Identity {
    pub run_id: String,
    /// The TCP port listened on, for INFO.
    pub tcp_port: AtomicU64,
}

/// The cron thread's active expiry: DEBUG SET-ACTIVE-EXPIRE's switch, how often a cycle
/// stopped at its time limit (INFO's `expired_time_cap_reached_count`) and the time its cycles
/// took (`expire_cycle_cpu_milliseconds`), and the share of sampled keys found expired, averaged
/// over cycles as Redis averages it (`expired_stale_perc`, f64 bits).
pub struct ActiveExpiry {
    pub enabled: AtomicBool,
    pub time_cap_reached: AtomicU64,
    pub cycle_usec: AtomicU64,
    pub stale_share: AtomicU64,
}

impl ActiveExpiry {
    /// Folds a cycle into the average: 5% weight for the newest, as Redis weighs it (a cycle
    /// that found nothing to sample counts as 0, so the average decays).
    fn record(&self, cycle: redis_lite_engine::ExpireCycle) {
        let share = cycle.expired as f64 / cycle.sampled.max(1) as f64;
        let average = f64::from_bits(self.stale_share.load(Relaxed));
        self.stale_share
            .store((share * 0.05 + average * 0.95).to_bits(), Relaxed);
    }
}

/// Where the engine's own changes (expirations, evictions) go: keyspace notifications, a
/// `DEL` in the journal, appended while the engine still holds the key's shard lock (a client
/// command's lazy expiries join its unit, see `journal::lazy_expiry`), and the
/// stream readers blocked on the key, woken to find it gone. Keys created get their `new`
/// notification here too, from the one place every command adds a key through.
struct EngineEvents {
    tracking: Arc<crate::tracking::Tracking>,
    notifier: Arc<Notifier>,
    journal: Arc<Journal>,
    blocking: Arc<crate::blocking::Blocking>,
    latency: Arc<crate::observability::latency::LatencyMonitor>,
}

impl redis_lite_engine::KeyEvents for EngineEvents {
    fn expired(&self, db: usize, key: &[u8], deletion: Duration) {
        self.latency.record("expire-del", deletion);
        self.tracking.key_changed(key);
        self.notifier
            .emit(db, key, crate::notify::Class::Expired, "expired");
        if !self.journal.is_recording() || !crate::journal::lazy_expiry::hold(db, key) {
            self.journal.record(db, &[b"DEL".as_slice(), key], false);
        }
        self.blocking.key_changed(db, key);
    }

    fn expiries_unlocking(&self) {
        crate::journal::lazy_expiry::release(&self.journal);
    }

    fn evicting(&self) {
        crate::eviction::deletion_starts();
    }

    fn evicted(&self, db: usize, key: &[u8]) {
        crate::eviction::deletion_done();
        self.tracking.key_changed(key);
        self.notifier
            .emit(db, key, crate::notify::Class::Evicted, "evicted");
        self.journal.record(db, &[b"DEL".as_slice(), key], false);
        self.blocking.key_changed(db, key);
    }

    fn created(&self, db: usize, key: &[u8]) {
        self.notifier
            .emit(db, key, crate::notify::Class::NewKey, "new");
    }
}

pub(crate) fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).expect("hex digit"))
        .collect()
}

impl Server {
    pub fn new(config: Config, config_file: Option<PathBuf>) -> Self {
        let shards = (config.threads * SHARDS_PER_THREAD).max(SHARDS_PER_THREAD);
        let pubsub = Arc::new(PubSub::default());
        let notifier = Arc::new(Notifier::new(pubsub.clone()));
        let journal = Arc::new(Journal::new());
        let latency = Arc::new(crate::observability::latency::LatencyMonitor::default());
        let aof = Arc::new(Aof::new(&config, journal.clone(), latency.clone()));
        let blocking = Arc::new(crate::blocking::Blocking::default());
        let tracking = Arc::new(crate::tracking::Tracking::new(pubsub.clone()));
        let events: Arc<dyn redis_lite_engine::KeyEvents> = Arc::new(EngineEvents {
            tracking: tracking.clone(),
            notifier: notifier.clone(),
            journal: journal.clone(),
            blocking: blocking.clone(),
            latency: latency.clone(),
        });
        let server = Server {
            // A cluster node's keyspace is sharded by slot and counts each slot's keys; a
            // standalone server's pays nothing for that.
            keyspace: if config.cluster.enabled {
                Keyspace::for_cluster(config.databases, Some(events))
            } else {
                Keyspace::with_events(shards, config.databases, Some(events))
            },
            identity: Identity {
                run_id: random_hex(40),
                tcp_port: AtomicU64::new(config.port as u64),
            },
            clients: Clients::default(),
            stats: ServerStats::new(config.threads, command::table().entries.len()),
            active_expiry: ActiveExpiry {
                enabled: AtomicBool::new(true),
                time_cap_reached: AtomicU64::new(0),
                cycle_usec: AtomicU64::new(0),
                stale_share: AtomicU64::new(0),
            },
            cron_paused: AtomicBool::new(false),
            memory: Default::default(),
            pubsub,
            notifier,
            gates: (0..config.threads + 2)
                .map(|_| CachePadded(RwLock::new(())))
                .collect(),
            // One set of histograms per gate: the event loops, the master link, the AOF loader.
            observability: crate::observability::Observability::new(config.threads + 2, latency),
            blocking,
            pause: Default::default(),
            persistence: Default::default(),
            limits: Default::default(),
            scripting: Default::default(),
            aof,
            journal,
            replication: Default::default(),
            migrate: Default::default(),
            tracking,
            monitors: Default::default(),
            listeners: Default::default(),
            cluster: Default::default(),
            acl: crate::acl::Acl::new(&config.requirepass),
            tls_listeners: crate::net::listeners::Listeners::tls(),
            tls: Default::default(),
            shutdown: Default::default(),
            config: LiveConfig::new(config, config_file),
        };
        server
            .stats
            .hz
            .store(server.config.read().hz as u64, Relaxed);
        server.replication.backlog.register(&server.journal);
        server.apply_config();
        server
    }

    /// Tells every part of the server that keeps its own copy of parameters about all of them:
    /// at start-up.
    pub fn apply_config(&self) {
        self.apply(Apply::ALL);
    }

    /// Tells `parts` the parameters they keep (after CONFIG SET: those of the parameters set).
    pub fn apply(&self, parts: &[Apply]) {
        let config = self.config.read();
        for part in parts {
            match part {
                Apply::Encoding => self.config.encoding.store(config.encoding),
                Apply::Notifications => {
                    let flags = config.notify_keyspace_events;
                    self.notifier.set_flags(flags);
                    self.keyspace
                        .report_created_keys(flags & crate::notify::Class::NewKey.bit() != 0);
                }
                Apply::PubSubLimit => self
                    .pubsub
                    .set_limit(config.output_buffer_limits[OutputClass::PubSub as usize]),
                Apply::LogLevel => crate::log::set_level(config.loglevel),
                Apply::Aof => self.aof.configure(&config),
                Apply::EvictionLimits => {
                    self.limits.store(&config);
                    // Connections recount their share of client memory only while there
                    // is a limit.
                    crate::memory::clients::recount(self);
                }
                Apply::EvictionPolicy => self.keyspace.set_policy(
                    config.maxmemory_policy,
                    config.lfu_log_factor,
                    config.lfu_decay_time,
                ),
                // Connections re-read their settings when they see the epoch move.
                Apply::Connections => {
                    self.config.epoch.fetch_add(1, Relaxed);
                }
                Apply::Replication => {
                    self.replication.backlog.set_size(config.repl_backlog_size);
                    self.replication.master.refresh_write_rule(&config);
                }
                Apply::Process => crate::process::apply(&config, self.config.file.as_deref()),
                Apply::Allocator => {
                    crate::memory::set_background_purge(config.process.jemalloc_bg_thread)
                }
                Apply::Observability => self.observability.configure(&config),
                Apply::LazyFree => self.keyspace.configure_lazyfree(LazyFreeSettings {
                    eviction: config.tuning.lazyfree_lazy_eviction,
                    expire: config.tuning.lazyfree_lazy_expire,
                    server_del: config.tuning.lazyfree_lazy_server_del,
                    user_del: config.tuning.lazyfree_lazy_user_del,
                }),
                Apply::Tracking => self.tracking.configure(
                    config.tuning.tracking_table_max_keys as u64,
                    config.output_buffer_limits[OutputClass::Normal as usize],
                ),
                Apply::DefaultUserPassword => self.acl.set_default_password(&config.requirepass),
                Apply::WorkingDir => enter_dir(&config.dir),
            }
        }
    }

    /// The gate of a replica's master link (see `gates`).
    pub fn master_link_gate(&self) -> usize {
        self.gates.len() - 2
    }

    /// Changes since the last save, summed over the workers.
    pub fn dirty(&self) -> u64 {
        crate::stats::sum(&self.stats.workers, |w| &w.dirty)
            - self.persistence.dirty_at_save.load(Relaxed)
    }

    pub fn unregister(&self, id: u64) {
        self.pubsub.remove_client(id);
        self.tracking.remove_client(id);
        self.monitors.remove(id);
        self.clients.remove(id);
    }

    /// Stops the process (a shutdown's last step, see `shutdown`): a background snapshot is
    /// abandoned and, with `save`, the dataset is saved first. Returns only when that save or
    /// an initial AOF still being written stops it and `force` is off: the server then keeps
    /// running, as Redis does.
    pub fn exit(&self, save: bool, force: bool) {
        crate::process::notify("STOPPING=1\n");
        if self.aof.rewrite.enabling() {
            if !force {
                log!(Warning, "Writing initial AOF, can't exit.");
                return;
            }
            log!(Warning, "Writing initial AOF. Exit anyway.");
        }
        if self.persistence.current().is_some() {
            log!(
                Warning,
                "There is a background save in progress. Stopping it!"
            );
            self.persistence.abort_and_wait();
        }
        if self.aof.is_on() {
            log!(Notice, "Calling fsync() on the AOF file.");
            self.aof.stop();
        }
        if save {
            log!(Notice, "Saving the final RDB snapshot before exiting.");
            if crate::persistence::rdb::save(self).is_err() && !force {
                log!(Warning, "Error trying to save the DB, can't exit.");
                return;
            }
        }
        // A cluster change made earlier in SHUTDOWN's own batch is saved after the batch,
        // which this process will not reach.
        if let Some(node) = self.cluster.node() {
            node.before_sleep();
        }
        {
            let config = self.config.read();
            crate::process::remove_files_at_exit(&config.process.pidfile, &config.unixsocket);
        }
        log!(Notice, "redis-lite is now ready to exit, bye bye...");
        self.listeners.refuse_at_exit();
        self.tls_listeners.refuse_at_exit();
        std::process::exit(0)
    }

    /// Counts a connection refused because the descriptors ran out (see `AcceptErrors`).
    fn refuse_for_lack_of_descriptors(&self) {
        self.clients.connections_received.fetch_add(1, Relaxed);
        self.clients.rejected_connections.fetch_add(1, Relaxed);
    }

    /// Checks an accepted connection against `maxclients` and protected mode, and registers it.
    /// Returns the refusal to send otherwise.
    fn admit(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        fd: i32,
    ) -> Result<Arc<ClientHandle>, &'static str> {
        // Redis's test for a local client (protected mode, `enable-*-command local`): exactly
        // 127.0.0.1 or ::1, not the rest of 127.0.0.0/8.
        let loopback = [
            IpAddr::from(Ipv4Addr::LOCALHOST),
            IpAddr::from(Ipv6Addr::LOCALHOST),
        ];
        self.admit_named(
            loopback.contains(&peer.ip()),
            false,
            peer.to_string(),
            local.to_string(),
            fd,
        )
    }

    /// [`Self::admit`] for any kind of socket: `loopback` is whether the peer is on this host
    /// (always, for the unix socket).
    fn admit_named(
        &self,
        loopback: bool,
        unix_socket: bool,
        peer: String,
        local: String,
        fd: i32,
    ) -> Result<Arc<ClientHandle>, &'static str> {
        self.clients.connections_received.fetch_add(1, Relaxed);
        let config = self.config.read();
        if config.protected_mode && self.acl.default_user().read().nopass && !loopback {
            self.clients.rejected_connections.fetch_add(1, Relaxed);
            return Err(DENIED);
        }
        let registered = self.clients.register(config.maxclients, |id| {
            let mut handle = ClientHandle::new(id, peer, local, fd);
            handle.local = loopback;
            handle.unix_socket = unix_socket;
            handle
        });
        registered.ok_or_else(|| {
            self.clients.rejected_connections.fetch_add(1, Relaxed);
            MAX_CLIENTS_REACHED
        })
    }
}

const MAX_CLIENTS_REACHED: &str = "-ERR max number of clients reached\r\n";

/// How long an acceptor waits after a failed accept before it tries again.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// An acceptor's failures, mostly running out of descriptors. A failed accept leaves the
/// connection in the backlog, so the acceptor fails again at once: the log gets at most one
/// line a second, counting the failures it did not log. One descriptor is held in reserve:
/// when the others run out, it is let go to accept the waiting connection and refuse it, so the
/// client gets an answer instead of waiting unanswered, and then it is taken back.
struct AcceptErrors {
    last_logged: Option<Instant>,
    unlogged: u64,
    reserve: Option<std::fs::File>,
}

impl AcceptErrors {
    fn new() -> Self {
        AcceptErrors {
            last_logged: None,
            unlogged: 0,
            reserve: std::fs::File::open("/dev/null").ok(),
        }
    }

    /// Records a failed accept. Returns true when the reserve descriptor was let go, for the
    /// caller to accept and refuse one connection and then call [`Self::restore_reserve`].
    fn failed(&mut self, e: &std::io::Error) -> bool {
        // accept(2) fails with EINVAL only on a listener shut as the process exits
        // (`refuse_at_exit`): nothing went wrong, and Redis logs nothing then.
        if e.raw_os_error() == Some(libc::EINVAL) {
            return false;
        }
        let now = Instant::now();
        if self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            if self.unlogged > 0 {
                log!(
                    Warning,
                    "Accepting client connection: {e} ({} more like it in the last second not logged)",
                    self.unlogged
                );
            } else {
                log!(Warning, "Accepting client connection: {e}");
            }
            self.last_logged = Some(now);
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        let out_of_descriptors = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
        out_of_descriptors && self.reserve.take().is_some()
    }

    fn restore_reserve(&mut self) {
        self.reserve = std::fs::File::open("/dev/null").ok();
    }
}

/// A connection on its way from the acceptor to an event loop.
pub(crate) struct Accepted {
    stream: AcceptedStream,
    handle: Arc<ClientHandle>,
}

enum AcceptedStream {
    Tcp(std::net::TcpStream),
    /// From the TLS port: the handshake is still to come.
    Tls(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

/// Binds `unixsocket`, replacing a stale socket file, and applies `unixsocketperm`.
fn bind_unix(config: &Config) -> Result<Option<std::os::unix::net::UnixListener>, String> {
    if config.unixsocket.is_empty() {
        return Ok(None);
    }
    let path = std::path::Path::new(&config.unixsocket);
    let failed = |e: std::io::Error| format!("Failed opening Unix socket: {e}");
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(failed)?;
    if config.unixsocketperm != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.unixsocketperm))
            .map_err(failed)?;
    }
    listener.set_nonblocking(true).map_err(failed)?;
    Ok(Some(listener))
}

/// Makes `dir` the working directory after CONFIG SET dir, as Redis does: a relative path
/// named later is taken from there (start-up enters it in [`run`]).
fn enter_dir(dir: &std::path::Path) {
    if let Err(e) = std::env::set_current_dir(dir) {
        log!(
            Warning,
            "Can't chdir to '{}': {}",
            dir.display(),
            crate::error::strerror(&e)
        );
    }
}

/// Why the server did not start.
#[derive(Debug)]
pub enum StartFailure {
    /// Before the log is open (the log file itself): for standard error.
    BeforeLog(String),
    /// Told in the log already: Redis writes every later reason there and nothing on standard
    /// error (the Sentinel suite counts anything a server writes there as a failure).
    Logged,
}

/// Starts the server and serves until shutdown.
pub fn run(startup: Startup) -> Result<(), StartFailure> {
    let config = &startup.config;
    // Redis moves into `dir` as it reads it, so a relative `logfile`, `pidfile`, `unixsocket`,
    // `aclfile` or TLS file is found there (the Sentinel suite looks for each server's log in
    // its `dir`); `dir` is already absolute, so nothing else depends on the process's.
    std::env::set_current_dir(&config.dir).map_err(|e| {
        StartFailure::BeforeLog(format!("Can't chdir to '{}': {e}", config.dir.display()))
    })?;
    log::init(config.loglevel, &config.logfile)
        .map_err(|e| StartFailure::BeforeLog(format!("Can't open the log file: {e}")))?;
    serve(startup).map_err(|reason| {
        log!(Warning, "{reason}");
        StartFailure::Logged
    })
}

/// Opens the listeners, loads the data and serves until shutdown, once the log is open.
fn serve(startup: Startup) -> Result<(), String> {
    let mut config = startup.config;
    if config.process.syslog_enabled {
        log::open_syslog(&config.process.syslog_ident, config.process.syslog_facility);
    }
    crate::process::write_pidfile(&config.process.pidfile);
    // Before the listeners open, as in Redis: clients past the descriptor limit would wait
    // unanswered in the backlog, so the limit is raised or `maxclients` lowered to fit it.
    match fdlimit::adjust(config.maxclients) {
        fdlimit::Adjusted::Clients(n) => config.maxclients = n,
        // Already logged, in Redis's words.
        fdlimit::Adjusted::TooLow(_) => std::process::exit(1),
    }
    let listeners = crate::net::listeners::bind_at_startup(&config, config.port, "TCP")?;
    let metrics_listeners = crate::net::listeners::bind_at_startup(
        &config,
        config.observability.metrics_port,
        "metrics",
    )?;
    let tls_listeners =
        crate::net::listeners::bind_at_startup(&config, config.tls.port as u16, "TLS")?;
    let unix_listener = bind_unix(&config)?;
    if listeners.is_empty() && tls_listeners.is_empty() && unix_listener.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    let port =
        crate::net::listeners::Listeners::first_port(&listeners).map_err(|e| e.to_string())?;
    let threads = config.threads;
    let server = Arc::new(Server::new(config, startup.config_file.clone()));
    let (dir, acl_config) = {
        let config = server.config.read();
        (config.dir.clone(), config.acl.clone())
    };
    server.acl.load_at_startup(&dir, &acl_config)?;
    crate::net::tls::configure_at_startup(&server.tls, &server.config.read())?;
    server.identity.tcp_port.store(port as u64, Relaxed);
    // Before the data loads, as Redis's clusterInit: a node that cannot lock or read its
    // nodes.conf does not serve.
    server.cluster.start(&server.config.read(), port)?;
    let bus_listeners = if server.cluster.enabled() {
        crate::cluster::bus::bind(&server.config.read(), port)?
    } else {
        Vec::new()
    };
    log!(
        Notice,
        "redis-lite {LITE_VERSION} (Redis {REDIS_VERSION} compatible), build={} linkage={} {}, pid={}, port={port}, threads={threads}, config={}",
        crate::build_info::PROFILE,
        crate::build_info::LINKAGE,
        crate::build_info::FEATURES,
        std::process::id(),
        startup.config_file.as_ref().map_or("none".to_string(), |p| p.display().to_string())
    );
    let mode = if server.cluster.enabled() {
        "cluster"
    } else {
        "standalone"
    };
    // Before the data loads, as Redis: a load that fails (and exits) comes after the
    // banner, whose PID line tells supervisors and test harnesses the server started.
    crate::log::banner(server.config.read().process.always_show_logo, port, mode);
    server.memory.startup.store(crate::memory::used(), Relaxed);
    // A replica (by `replicaof`, or a cluster replica by its nodes.conf) expires nothing itself
    // from the start, as Redis's `iAmMaster` says: its master's DELs follow once the link is
    // up. Set before the load, so that no expiry runs as a master's between the load and the
    // link's start.
    if !crate::persistence::rdb::loads_as_master(&server) {
        server.keyspace.set_replica(true);
    }
    let listening_on_tcp = !listeners.is_empty() || !tls_listeners.is_empty();
    crate::persistence::rdb::load_at_startup(&server, move |server| {
        announce_ready(server, listening_on_tcp)
    });
    let master = server.config.read().replicaof.clone();
    if let Some((host, port)) = master {
        crate::replication::replica::start(&server, host, port);
    }

    crate::metrics::start(server.clone(), metrics_listeners)?;

    let mut senders = Vec::new();
    for index in 0..threads {
        let (tx, rx) = mpsc::unbounded_channel::<Accepted>();
        senders.push(tx);
        let server = server.clone();
        std::thread::Builder::new()
            .name(format!("{EVENT_LOOP_THREAD}{index}"))
            .spawn(move || event_loop(server, index, rx))
            .map_err(|e| e.to_string())?;
    }
    {
        let server = server.clone();
        std::thread::Builder::new()
            .name("cron".into())
            .spawn(move || cron(server))
            .map_err(|e| e.to_string())?;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        server.listeners.serve(&server, senders.clone(), listeners);
        server
            .tls_listeners
            .serve(&server, senders.clone(), tls_listeners);
        crate::cluster::bus::start(&server, bus_listeners);
        if let Some(listener) = unix_listener {
            let listener = tokio::net::UnixListener::from_std(listener)
                .expect("listener registers with the runtime");
            tokio::spawn(accept_unix_loop(server.clone(), listener, senders.clone()));
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("SIGINT handler");
        loop {
            let reason = tokio::select! {
                _ = term.recv() => "Received SIGTERM scheduling shutdown...",
                _ = int.recv() => "Received SIGINT scheduling shutdown...",
            };
            let (plan, now) = {
                let config = server.config.read();
                let flags = if reason.contains("SIGTERM") {
                    &config.process.shutdown_on_sigterm
                } else {
                    &config.process.shutdown_on_sigint
                };
                // `shutdown-on-sig*`: SHUTDOWN's flags; `default` saves when there are save
                // points.
                let has = |flag: &str| flags.split(' ').any(|f| f == flag);
                let save = has("save") || (!has("nosave") && !config.save_rules.is_empty());
                (
                    crate::shutdown::Plan {
                        save,
                        force: has("force"),
                    },
                    has("now"),
                )
            };
            log!(Warning, "{reason}");
            // A second SIGINT while the first shutdown is scheduled or waits for the replicas
            // ends the process at once, as a second Ctrl-C does Redis; a second SIGTERM
            // changes nothing.
            if server.shutdown.in_progress() && reason.contains("SIGINT") {
                log!(Warning, "You insist... exiting now.");
                crate::persistence::rdb::remove_temp_files(&server);
                std::process::exit(1);
            }
            server.shutdown.schedule(plan, now);
        }
    })
}

/// Once the start-up load is done, as Redis: "Ready to accept connections" in the log (what
/// supervisors and Redis's own test harness wait for: the dataset is in place) and READY=1 to
/// systemd. The sockets listen from the start, and the clients of the load's time are answered
/// at its serving points.
fn announce_ready(server: &Server, listening_on_tcp: bool) {
    let config = server.config.read();
    if listening_on_tcp {
        log!(Notice, "Ready to accept connections");
    }
    if !config.unixsocket.is_empty() {
        log!(
            Notice,
            "The server is now ready to accept connections at {}",
            config.unixsocket
        );
    }
    crate::process::notify(if config.replicaof.is_none() {
        "STATUS=Ready to accept connections\n"
    } else {
        "STATUS=Ready to accept connections in read-only mode. Waiting for MASTER <-> REPLICA sync\n"
    });
    crate::process::notify("READY=1\n");
}

/// Accepts on one TCP listener until `stop` fires (CONFIG SET port/bind moved it), then drops
/// the listener. The clients of a `tls` listener shake hands on their event loop.
pub(crate) async fn accept_loop(
    server: Arc<Server>,
    listener: tokio::net::TcpListener,
    loops: Vec<mpsc::UnboundedSender<Accepted>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    tls: bool,
) {
    let mut next = 0;
    let mut errors = AcceptErrors::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                let waiting = async { listener.accept().await.map(|(stream, _)| stream) };
                after_accept_error(&server, &mut errors, &e, waiting).await;
                continue;
            }
        };
        let local = stream.local_addr().unwrap_or(peer);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        match server.admit(peer, local, fd) {
            Ok(handle) => {
                let _ = stream.set_nodelay(true);
                let keepalive = server.config.read().tcp_keepalive;
                let Ok(stream) = stream.into_std() else {
                    continue;
                };
                if keepalive > 0 {
                    let socket = socket2::SockRef::from(&stream);
                    let _ = socket.set_tcp_keepalive(
                        &socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive)),
                    );
                }
                let stream = match tls {
                    true => AcceptedStream::Tls(stream),
                    false => AcceptedStream::Tcp(stream),
                };
                hand_off(&server, &loops, &mut next, stream, handle);
            }
            Err(refusal) => {
                let mut stream = stream;
                let _ = stream.write_all(refusal.as_bytes()).await;
            }
        }
    }
}

/// After a failed accept: logs it (rate-limited) and, when descriptors ran out, gives up the
/// spare one to accept a `waiting` connection and refuse it, so clients get an answer instead
/// of hanging in the backlog; then backs off.
async fn after_accept_error<S: tokio::io::AsyncWrite + Unpin>(
    server: &Server,
    errors: &mut AcceptErrors,
    e: &std::io::Error,
    waiting: impl std::future::Future<Output = std::io::Result<S>>,
) {
    if errors.failed(e) {
        if let Ok(Ok(mut stream)) = tokio::time::timeout(ACCEPT_RETRY, waiting).await {
            server.refuse_for_lack_of_descriptors();
            let _ = connection::poll_now(stream.write(MAX_CLIENTS_REACHED.as_bytes()));
        }
        errors.restore_reserve();
    }
    tokio::time::sleep(ACCEPT_RETRY).await;
}

/// Gives an admitted connection to the next event loop, round robin.
fn hand_off(
    server: &Server,
    loops: &[mpsc::UnboundedSender<Accepted>],
    next: &mut usize,
    stream: AcceptedStream,
    handle: Arc<ClientHandle>,
) {
    let id = handle.id;
    let accepted = Accepted { stream, handle };
    if loops[*next % loops.len()].send(accepted).is_err() {
        server.unregister(id);
    }
    *next += 1;
}

/// Accepts on `unixsocket`. Such clients are local, and named as Redis names them
/// (`addr=/path:0`).
async fn accept_unix_loop(
    server: Arc<Server>,
    listener: tokio::net::UnixListener,
    loops: Vec<mpsc::UnboundedSender<Accepted>>,
) {
    let mut next = 0;
    let path = server.config.read().unixsocket.clone();
    let mut errors = AcceptErrors::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                let waiting = async { listener.accept().await.map(|(stream, _)| stream) };
                after_accept_error(&server, &mut errors, &e, waiting).await;
                continue;
            }
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let name = format!("{path}:0");
        match server.admit_named(true, true, name.clone(), name, fd) {
            Ok(handle) => {
                let Ok(stream) = stream.into_std() else {
                    continue;
                };
                hand_off(
                    &server,
                    &loops,
                    &mut next,
                    AcceptedStream::Unix(stream),
                    handle,
                );
            }
            Err(refusal) => {
                let mut stream = stream;
                let _ = stream.write_all(refusal.as_bytes()).await;
            }
        }
    }
}

fn event_loop(server: Arc<Server>, index: usize, mut incoming: mpsc::UnboundedReceiver<Accepted>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("event loop runtime");
    runtime.block_on(async move {
        let watchdog = server.clone();
        tokio::spawn(async move { watchdog.observability.watchdog.heartbeat().await });
        while let Some(Accepted { stream, handle }) = incoming.recv().await {
            let id = handle.id;
            let served = match stream {
                AcceptedStream::Tcp(s) => tokio::net::TcpStream::from_std(s).map(|s| {
                    tokio::spawn(connection::serve(server.clone(), s, handle, index));
                }),
                AcceptedStream::Unix(s) => tokio::net::UnixStream::from_std(s).map(|s| {
                    tokio::spawn(connection::serve(server.clone(), s, handle, index));
                }),
                AcceptedStream::Tls(s) => tokio::net::TcpStream::from_std(s).map(|s| {
                    let server = server.clone();
                    tokio::spawn(async move {
                        match server.tls.accept(s, &handle.addr).await {
                            Some(s) => connection::serve(server, s, handle, index).await,
                            None => server.unregister(handle.id),
                        }
                    });
                }),
            };
            if served.is_err() {
                server.unregister(id);
            }
        }
    });
}

/// Periodic work at `hz` (raised with the number of clients under `dynamic-hz`): active
/// expiry within Redis's CPU budget for `active-expire-effort` (25% at the default), the `save`
/// rules, the instantaneous rates (ops/sec, network KB/s) and the memory peak.
fn cron(server: Arc<Server>) {
    let mut rates = crate::stats::RateSampler::new();
    loop {
        let (hz, effort) = {
            let config = server.config.read();
            let hz = crate::stats::cron_hz(
                config.hz.max(1),
                config.tuning.dynamic_hz,
                server.clients.count(),
            );
            let effort =
                redis_lite_engine::ExpireEffort::level(config.tuning.active_expire_effort as u32);
            (hz, effort)
        };
        server.stats.hz.store(hz as u64, Relaxed);
        let period = Duration::from_millis(1000 / hz as u64);
        if server.cron_paused.load(Relaxed) {
            std::thread::sleep(period);
            continue;
        }
        let tick = Instant::now();
        server.clients.peaks.tick();
        {
            let _gate = server.gates[server.gates.len() - 1].read();
            // A replica leaves expiring to its master, which sends a DEL for each key, but
            // for the keys its own clients wrote.
            let expiring =
                server.active_expiry.enabled.load(Relaxed) && !server.persistence.is_loading();
            if expiring && server.keyspace.is_replica() {
                crate::replication::replica::expire_own_keys(&server);
            } else if expiring {
                let budget = period * effort.time_percent / 100;
                let started = Instant::now();
                let cycle =
                    server
                        .keyspace
                        .active_expire(redis_lite_engine::now_ms(), budget, effort);
                let expiry = &server.active_expiry;
                expiry
                    .cycle_usec
                    .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
                expiry.record(cycle);
                server
                    .observability
                    .latency
                    .record("expire-cycle", started.elapsed());
                if tick.elapsed() >= budget {
                    server.active_expiry.time_cap_reached.fetch_add(1, Relaxed);
                }
            }
            server
                .keyspace
                .measure(crate::net::connection::core_cache_bytes());
            crate::persistence::rdb::cron(&server);
            server.pause.expire(&server);
            crate::eviction::cron(&server, period / 4);
            crate::replication::master::cron(&server);
        }
        server.shutdown.cron(&server);
        server.tracking.after_batch();
        crate::memory::clients::cron(&server);
        if !server.persistence.is_loading() {
            server.aof.cron(&server.config.read());
        }
        server.migrate.close_idle();
        rates.sample(&server.stats);
        server.memory.peak.fetch_max(crate::memory::used(), Relaxed);
        std::thread::sleep(period.saturating_sub(tick.elapsed()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn protected_mode_refuses_remote_clients_without_a_password() {
        let server = Server::new(Config::default(), None);
        let local = addr("10.0.0.1:6379");
        assert!(server.admit(addr("127.0.0.1:5000"), local, 0).is_ok());
        assert!(server.admit(addr("[::1]:5000"), local, 0).is_ok());
        assert_eq!(
            server.admit(addr("10.0.0.2:5000"), local, 0).err(),
            Some(DENIED)
        );
        server.acl.set_default_password("pw");
        assert!(
            server.admit(addr("10.0.0.2:5000"), local, 0).is_ok(),
            "a password lifts protected mode"
        );
        server.acl.set_default_password("");
        server.config.write().protected_mode = false;
        assert!(server.admit(addr("10.0.0.2:5000"), local, 0).is_ok());
        assert_eq!(server.clients.rejected_connections.load(Relaxed), 1);
    }

    #[test]
    fn maxclients_refuses_the_connection_over_the_limit() {
        let server = Server::new(
            Config {
                maxclients: 2,
                ..Config::default()
            },
            None,
        );
        let (peer, local) = (addr("127.0.0.1:5000"), addr("127.0.0.1:6379"));
        let first = server.admit(peer, local, 0).unwrap();
        server.admit(peer, local, 0).unwrap();
        assert_eq!(
            server.admit(peer, local, 0).err(),
            Some("-ERR max number of clients reached\r\n")
        );
        server.unregister(first.id);
        assert!(
            server.admit(peer, local, 0).is_ok(),
            "a slot frees when a client leaves"
        );
    }
}
