//! Durability wired into the server: RDB snapshots ([`rdb`]) — SAVE, BGSAVE, the `save` rules
//! and loading at start-up — and the append-only file ([`aof`]): logging writes, fsync
//! policies, loading and rewriting; plus the state INFO persistence reports. A snapshot and an
//! AOF rewrite share one background job slot, as Redis's single child process is shared. The
//! file formats themselves live in the persist crate.

pub mod persistence_family;

pub mod aof;
pub mod loading;
pub mod rdb;

pub use loading::Loading;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::command::flags;
use crate::error::CommandError;
use crate::server::Server;

/// What occupies the background job slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// SAVE (in the foreground) or BGSAVE.
    Snapshot {
        background: bool,
    },
    AofRewrite,
}

/// The running background job.
pub struct Job {
    pub kind: JobKind,
    pub started: Instant,
    pub progress: Arc<Progress>,
}

/// How far a snapshot has got, and the switch that makes it give up (SHUTDOWN, FLUSHALL).
#[derive(Default)]
pub struct Progress {
    pub keys_total: AtomicU64,
    pub keys_done: AtomicU64,
    pub abort: AtomicBool,
}

pub struct Persistence {
    job: Mutex<Option<Job>>,
    /// BGSAVE SCHEDULE (or BGSAVE inside MULTI) waiting for the slot to free.
    pub bgsave_scheduled: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    /// Seconds the last BGSAVE took; -1 before the first.
    pub last_bgsave_secs: AtomicI64,
    /// Unix seconds of the last BGSAVE attempt, for the retry delay after a failure.
    pub last_bgsave_try: AtomicU64,
    pub saves: AtomicU64,
    /// Background jobs started (BGSAVE, an AOF rewrite, a replica's snapshot): where Redis
    /// forks a child, so INFO's `total_forks`.
    pub background_jobs: AtomicU64,
    pub loading: Loading,
    /// A replica reading its master's snapshot aside while it keeps serving the data it had
    /// of the same history (`repl-diskless-load swapdb`): Redis's async loading, in which the
    /// commands flagged `no-async-loading` (REPLICAOF, SAVE, ...) get `-LOADING`.
    pub async_loading: AtomicBool,
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// Unix seconds of the last successful save; start-up time until one happens.
    pub lastsave: AtomicU64,
    /// `dirty` of all workers at the last save, for `rdb_changes_since_last_save`.
    pub dirty_at_save: AtomicU64,
    /// How long each snapshot held a shard's lock at most (the metrics endpoint's).
    pub snapshot_lock_hold: crate::metrics::histogram::LatencyHistogram,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            job: Mutex::new(None),
            bgsave_scheduled: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_bgsave_try: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            background_jobs: AtomicU64::new(0),
            loading: Loading::default(),
            async_loading: AtomicBool::new(false),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            lastsave: AtomicU64::new(redis_lite_engine::now_ms() / 1000),
            dirty_at_save: AtomicU64::new(0),
            snapshot_lock_hold: Default::default(),
        }
    }
}

impl Persistence {
    /// Claims the job slot, or says what holds it.
    pub fn claim(&self, kind: JobKind) -> Result<Arc<Progress>, JobKind> {
        let mut slot = self.job.lock();
        if let Some(job) = slot.as_ref() {
            return Err(job.kind);
        }
        if kind != (JobKind::Snapshot { background: false }) {
            self.background_jobs.fetch_add(1, Relaxed);
        }
        let progress = Arc::new(Progress::default());
        *slot = Some(Job {
            kind,
            started: Instant::now(),
            progress: progress.clone(),
        });
        Ok(progress)
    }

    pub fn release(&self) {
        *self.job.lock() = None;
    }

    /// The running job's kind, start and progress.
    pub fn current(&self) -> Option<(JobKind, Instant, Arc<Progress>)> {
        self.job
            .lock()
            .as_ref()
            .map(|j| (j.kind, j.started, j.progress.clone()))
    }

    /// Asks the running job to give up, and waits until the slot is free.
    pub fn abort_and_wait(&self) {
        while let Some((_, _, progress)) = self.current() {
            progress.abort.store(true, Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_active()
    }

    /// Whether the dataset loads, in the foreground or aside ([`Persistence::async_loading`]):
    /// when Redis refuses the parameters it will not change during a load.
    pub fn is_loading_any_way(&self) -> bool {
        self.is_loading() || self.async_loading.load(Relaxed)
    }
}

/// Starts a load of `total_bytes` (0 when unknown) with the configured serving interval, on
/// the calling thread; it ends when the guard drops.
pub fn begin_loading(server: &Server, total_bytes: u64) -> LoadScope<'_> {
    LoadScope {
        _loading: server
            .persistence
            .loading
            .begin(total_bytes, loading_interval(server)),
        _busy: server.observability.watchdog.busy(),
    }
}

/// A load in progress on this thread ([`begin_loading`]): clients wait or get `-LOADING`, and
/// the watchdog counts the thread busy, as Redis's main thread is while it loads.
pub struct LoadScope<'a> {
    _loading: loading::LoadingGuard<'a>,
    _busy: crate::observability::watchdog::Busy<'a>,
}

/// `loading-process-events-interval-bytes`: how much a load reads between serving points.
pub fn loading_interval(server: &Server) -> u64 {
    server
        .config
        .read()
        .tuning
        .loading_process_events_interval_bytes as u64
}

/// The error of a command refused while the dataset loads.
pub fn loading_error() -> CommandError {
    CommandError::coded("LOADING Redis is loading the dataset in memory")
}

/// `-LOADING` while the dataset loads, for the commands not marked to run meanwhile (during
/// an async load, for those marked not to run then); also for a command woken by a load's
/// serving point that runs after the load ended (`woken_in_load`), as Redis answered it at
/// that point.
pub fn loading_refusal(
    server: &Server,
    command_flags: u32,
    woken_in_load: bool,
) -> Option<CommandError> {
    let refused = ((server.persistence.is_loading() || woken_in_load)
        && command_flags & flags::LOADING == 0)
        || (server.persistence.async_loading.load(Relaxed)
            && command_flags & flags::NO_ASYNC_LOADING != 0);
    refused.then(loading_error)
}

/// Why writes are refused after a persistence error, Redis's two cases.
pub enum DiskError {
    /// The last background save failed, with `stop-writes-on-bgsave-error` and `save` rules.
    Snapshot,
    /// The AOF's last write, or its last background fsync, failed with this errno (until one
    /// succeeds).
    Aof(i32),
}

impl DiskError {
    /// The `-MISCONF` a refused command gets (a script flagged to write too: Redis refuses it
    /// as the write command its flags make it).
    pub fn refusal(&self) -> CommandError {
        match self {
            DiskError::Snapshot => CommandError::coded(
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to \
                 disk. Commands that may modify the data set are disabled, because this instance is configured \
                 to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). \
                 Please check the Redis logs for details about the RDB error.",
            ),
            DiskError::Aof(errno) => CommandError::coded(format!(
                "MISCONF Errors writing to the AOF file: {}",
                crate::error::strerror(&std::io::Error::from_raw_os_error(*errno))
            )),
        }
    }
}

/// Whether writes are refused now, and why: a failed background save comes first, as in
/// Redis.
pub fn disk_error(server: &Server) -> Option<DiskError> {
    if !server.persistence.last_bgsave_ok.load(Relaxed) {
        let config = server.config.read();
        if config.stop_writes_on_bgsave_error && !config.save_rules.is_empty() {
            return Some(DiskError::Snapshot);
        }
    }
    server.aof.write_error().map(DiskError::Aof)
}

/// `-MISCONF` for writes while [`disk_error`] holds. PING is refused too, as Redis refuses it,
/// so a health check sees the instance cannot persist.
pub fn write_refusal(server: &Server, command_flags: u32, ping: bool) -> Option<CommandError> {
    if command_flags & flags::WRITE == 0 && !ping {
        return None;
    }
    disk_error(server).map(|e| e.refusal())
}

/// INFO's `# Persistence` fields up to the AOF's (see [`aof::info_fields`]).
pub fn info_fields(server: &Server, text: &mut String) {
    let mut lines = Vec::new();
    snapshot_fields(server, &mut lines);
    for line in lines {
        text.push_str(&line);
        text.push_str("\r\n");
    }
}

fn snapshot_fields(server: &Server, out: &mut Vec<String>) {
    let p = &server.persistence;
    let now_secs = redis_lite_engine::now_ms() / 1000;
    let loading = p.is_loading();
    out.push(format!("loading:{}", u8::from(loading)));
    out.push(format!(
        "async_loading:{}",
        u8::from(p.async_loading.load(Relaxed))
    ));
    let job = p.current();
    let snapshot = job.as_ref().filter(|(k, _, _)| *k != JobKind::AofRewrite);
    let (done, total) = snapshot.map_or((0, 0), |(_, _, progress)| {
        (
            progress.keys_done.load(Relaxed),
            progress.keys_total.load(Relaxed),
        )
    });
    // No fork, so no copy-on-write pages: writes during a snapshot copy single keys instead.
    out.push("current_cow_peak:0".into());
    out.push("current_cow_size:0".into());
    out.push("current_cow_size_age:0".into());
    let percent = if total > 0 {
        done as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    out.push(format!("current_fork_perc:{percent:.2}"));
    out.push(format!("current_save_keys_processed:{done}"));
    out.push(format!("current_save_keys_total:{total}"));
    if p.is_loading_any_way() {
        let l = &p.loading;
        let started = l.started_secs.load(Relaxed);
        let total = l.total_bytes.load(Relaxed);
        let loaded = l.loaded_bytes.load(Relaxed);
        let elapsed = now_secs.saturating_sub(started);
        let perc = if total > 0 {
            loaded as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let eta = if loaded > 0 {
            (total.saturating_sub(loaded) as f64 * elapsed as f64 / loaded as f64) as u64
        } else {
            1
        };
        out.push(format!("loading_start_time:{started}"));
        out.push(format!("loading_total_bytes:{total}"));
        out.push("loading_rdb_used_mem:0".into());
        out.push(format!("loading_loaded_bytes:{loaded}"));
        out.push(format!("loading_loaded_perc:{perc:.2}"));
        out.push(format!("loading_eta_seconds:{eta}"));
    }
    let bgsave = job
        .as_ref()
        .filter(|(k, _, _)| *k == JobKind::Snapshot { background: true });
    out.push(format!("rdb_changes_since_last_save:{}", server.dirty()));
    out.push(format!(
        "rdb_bgsave_in_progress:{}",
        u8::from(bgsave.is_some())
    ));
    out.push(format!(
        "rdb_last_save_time:{}",
        server.persistence.lastsave.load(Relaxed)
    ));
    let status = if p.last_bgsave_ok.load(Relaxed) {
        "ok"
    } else {
        "err"
    };
    out.push(format!("rdb_last_bgsave_status:{status}"));
    out.push(format!(
        "rdb_last_bgsave_time_sec:{}",
        p.last_bgsave_secs.load(Relaxed)
    ));
    let current = bgsave.map_or(-1, |(_, started, _)| started.elapsed().as_secs() as i64);
    out.push(format!("rdb_current_bgsave_time_sec:{current}"));
    out.push(format!("rdb_saves:{}", p.saves.load(Relaxed)));
    out.push("rdb_last_cow_size:0".into());
    out.push(format!(
        "rdb_last_load_keys_expired:{}",
        p.last_load_keys_expired.load(Relaxed)
    ));
    out.push(format!(
        "rdb_last_load_keys_loaded:{}",
        p.last_load_keys_loaded.load(Relaxed)
    ));
    // The id of the key new files are sealed with; never the key.
    let config = server.config.read();
    out.push(format!(
        "encryption_enabled:{}",
        u8::from(config.encryption)
    ));
    let id = config.keyring.as_ref().map_or("", |ring| ring.current_id());
    out.push(format!("encryption_key_id:{id}"));
}
