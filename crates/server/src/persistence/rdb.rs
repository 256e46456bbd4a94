//! RDB snapshots of the live keyspace: SAVE and BGSAVE write a point-in-time, copy-on-write
//! [`Snapshot`] (no fork, no pause beyond one shard's walk) through a temporary file that is
//! fsynced and renamed into place; the `save` rules start BGSAVEs from the cron thread; and
//! [`load`] reads a snapshot back, at start-up or for DEBUG RELOAD.

use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_lite_engine::{Entry, Snapshot};
use redis_lite_persist::{
    open_stream, read_rdb, save_atomically, seal_error, Event, RdbError, RdbWriter, ReplicationAux,
    ReplicationPlace, SavedReplication, WriteOptions,
};

use super::{aof, JobKind, Progress};
use crate::config::LogLevel;
use crate::error::strerror;
use crate::log;
use crate::observability::latency::SNAPSHOT_HOLD;
use crate::replication::replica;
use crate::server::Server;

/// Why a save did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum Busy {
    Snapshot,
    AofRewrite,
}

impl From<JobKind> for Busy {
    fn from(kind: JobKind) -> Self {
        match kind {
            JobKind::Snapshot { .. } => Busy::Snapshot,
            JobKind::AofRewrite => Busy::AofRewrite,
        }
    }
}

/// Where SAVE writes: `dir`/`dbfilename`.
pub fn path(server: &Server) -> PathBuf {
    let config = server.config.read();
    config.dir.join(&config.dbfilename)
}

pub fn write_options(server: &Server) -> WriteOptions {
    let config = server.config.read();
    WriteOptions {
        compression: config.rdbcompression,
        checksum: config.rdbchecksum,
    }
}

/// Writes the function libraries, then every database of `snapshot` (SELECTDB, RESIZEDB, keys)
/// unless the dataset is without its keys, to `w`. Each shard's keys are
/// copied under its lock, then encoded, compressed and written with no lock held, so clients
/// never wait on LZF or the disk.
pub fn write_snapshot<W: Write>(
    server: &Server,
    Dataset {
        mut snapshot,
        functions,
        with_keys,
    }: Dataset,
    w: &mut RdbWriter<W>,
    progress: &Progress,
    key_delay_us: i64,
) -> io::Result<Duration> {
    for code in &functions {
        w.function(code)?;
    }
    let sizes = match with_keys {
        true => snapshot.db_sizes().to_vec(),
        false => Vec::new(),
    };
    progress
        .keys_total
        .store(sizes.iter().map(|s| s.0).sum(), Relaxed);
    for (db, &(keys, expires)) in sizes.iter().enumerate() {
        if keys == 0 {
            continue;
        }
        w.select_db(db as u64, keys, expires)?;
        for shard in 0..snapshot.shard_count() {
            if progress.abort.load(Relaxed) {
                return Err(aborted());
            }
            for e in snapshot.take_shard(shard, db) {
                w.entry(&e.key, &e.value, e.expire_at_ms)?;
                progress.keys_done.fetch_add(1, Relaxed);
                key_delay(progress, key_delay_us)?;
            }
        }
    }
    let hold = snapshot.longest_hold();
    server.observability.latency.record(SNAPSHOT_HOLD, hold);
    Ok(hold)
}

fn aborted() -> io::Error {
    io::Error::other("the save was aborted")
}

/// `rdb-key-save-delay` after a key, as Redis's saving child sleeps after each: an abort
/// (shutdown, FLUSHALL, AOF switched off) is seen within a few milliseconds of it, not at the
/// end of a whole delay (tests set it to seconds).
pub(crate) fn key_delay(progress: &Progress, key_delay_us: i64) -> io::Result<()> {
    if key_delay_us <= 0 {
        return Ok(());
    }
    let until = Instant::now() + Duration::from_micros(key_delay_us as u64);
    loop {
        if progress.abort.load(Relaxed) {
            return Err(aborted());
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(10)));
    }
}

/// Writes `dataset` to `path` as a complete RDB file, atomically (with the replication
/// stream's place when it is for a replica). Returns the longest time a shard was locked for
/// it, and the RDB's size (before any sealing).
pub fn save_to_file(
    server: &Server,
    dataset: Dataset,
    path: &Path,
    progress: &Progress,
    replication: Option<ReplicationAux<'_>>,
) -> io::Result<(Duration, u64)> {
    let opts = write_options(server);
    let (delay, keyring) = {
        let config = server.config.read();
        (config.rdb_key_save_delay, config.sealing())
    };
    let mut longest_hold = Duration::ZERO;
    let size = save_atomically(path, opts, keyring.as_deref(), |w| {
        crate::faults::inject(crate::faults::Point::RdbSave)?;
        w.write_aux_fields(
            redis_lite_engine::now_ms() / 1000,
            crate::memory::used(),
            replication,
        )?;
        longest_hold = write_snapshot(server, dataset, w, progress, delay)?;
        Ok(())
    })?;
    server.persistence.snapshot_lock_hold.record(longest_hold);
    Ok((longest_hold, size))
}

/// What a save or an AOF rewrite writes: the keyspace and the function libraries, both as
/// they were at one instant.
pub struct Dataset {
    pub snapshot: Snapshot,
    pub functions: Vec<Vec<u8>>,
    /// Whether the keys are written: not for a replica that asked for the functions alone.
    pub with_keys: bool,
}

/// Captures the dataset, running `at_cut` at its instant (while every shard is locked). FUNCTION's
/// changes take every gate, so the libraries cannot change between the cut and its log
/// position either.
pub fn capture(server: &Server, at_cut: impl FnOnce()) -> Option<Dataset> {
    let mut functions = Vec::new();
    let snapshot = server.keyspace.begin_snapshot(|| {
        functions = server.scripting.library_codes();
        at_cut();
    })?;
    Some(Dataset {
        snapshot,
        functions,
        with_keys: true,
    })
}

/// What a save writes: the dataset and its place in the replication stream, taken at one cut,
/// and the change count that is saved once it succeeds.
struct Cut {
    dataset: Dataset,
    place: Option<ReplicationPlace>,
    dirty_total: u64,
}

/// How many times (a millisecond apart) a save tries to hold a replica's busy master link
/// still; past that it goes without its replication place, and a restart syncs in full.
const LINK_HOLD_TRIES: u32 = 100;

/// Takes the snapshot's cut, with the replication place when the server has one.
fn begin(server: &Server) -> Option<Cut> {
    let dirty_total = server.dirty() + server.persistence.dirty_at_save.load(Relaxed);
    let mut link = replica::hold_link(server);
    for _ in 1..LINK_HOLD_TRIES {
        if link.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
        link = replica::hold_link(server);
    }
    let mut place = None;
    let dataset = capture(server, || {
        if link.is_ok() {
            place = crate::replication::save_place(server);
        }
    })?;
    Some(Cut {
        dataset,
        place,
        dirty_total,
    })
}

/// After a successful save whose cut saw `dirty_total` changes.
pub fn saved(server: &Server, dirty_total: u64) {
    server.persistence.dirty_at_save.store(dirty_total, Relaxed);
    server
        .persistence
        .lastsave
        .store(redis_lite_engine::now_ms() / 1000, Relaxed);
    server.persistence.saves.fetch_add(1, Relaxed);
    server.persistence.last_bgsave_ok.store(true, Relaxed);
}

/// SAVE: a snapshot written by the calling thread. Other clients keep running meanwhile; only
/// the caller waits.
pub fn save(server: &Server) -> Result<(), SaveError> {
    let persistence = &server.persistence;
    let progress = persistence
        .claim(JobKind::Snapshot { background: false })
        .map_err(|kind| SaveError::Busy(kind.into()))?;
    let result = match begin(server) {
        Some(cut) => {
            let path = path(server);
            let place = cut.place.as_ref().map(ReplicationPlace::aux);
            save_to_file(server, cut.dataset, &path, &progress, place).map(|_| cut.dirty_total)
        }
        None => Err(io::Error::other("another snapshot is running")),
    };
    persistence.release();
    match result {
        Ok(dirty_total) => {
            saved(server, dirty_total);
            log!(Notice, "DB saved on disk");
            Ok(())
        }
        Err(e) => {
            log!(Warning, "Failed saving the DB: {}", strerror(&e));
            Err(SaveError::Io(strerror(&e)))
        }
    }
}

#[derive(Debug)]
pub enum SaveError {
    Busy(Busy),
    Io(String),
}

/// BGSAVE: takes the cut now and writes the file on a background thread.
pub fn bgsave(server: &Arc<Server>) -> Result<(), Busy> {
    let persistence = &server.persistence;
    let progress = persistence.claim(JobKind::Snapshot { background: true })?;
    persistence
        .last_bgsave_try
        .store(redis_lite_engine::now_ms() / 1000, Relaxed);
    let Some(cut) = begin(server) else {
        persistence.release();
        return Err(Busy::Snapshot);
    };
    let path = path(server);
    log!(Notice, "Background saving started");
    let server = server.clone();
    let started = Instant::now();
    std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            let place = cut.place.as_ref().map(ReplicationPlace::aux);
            let result =
                save_to_file(&server, cut.dataset, &path, &progress, place).map(|(hold, _)| hold);
            let p = &server.persistence;
            p.last_bgsave_secs
                .store(started.elapsed().as_secs() as i64, Relaxed);
            match result {
                Ok(longest_hold) => {
                    saved(&server, cut.dirty_total);
                    log!(
                        Notice,
                        "Background saving terminated with success (a shard was locked for at most {:.2} ms)",
                        longest_hold.as_secs_f64() * 1000.0
                    );
                }
                Err(e) => {
                    p.last_bgsave_ok.store(false, Relaxed);
                    log!(Warning, "Background saving error: {}", strerror(&e));
                }
            }
            p.release();
        })
        .map_err(|_| Busy::Snapshot)?;
    Ok(())
}

/// Redis waits this long after a failed BGSAVE before the `save` rules try again.
const RETRY_DELAY_SECS: u64 = 5;

/// The cron thread's part: a scheduled BGSAVE, or one the `save` rules call for. Runs inside
/// the cron gate, so a cut never falls inside a transaction.
/// Removes the snapshot this process is writing (`temp-<pid>*.rdb` in `dir`), as Redis does when
/// a second SIGINT ends a shutdown's save.
pub fn remove_temp_files(server: &Server) {
    let dir = server.config.read().dir.clone();
    let prefix = redis_lite_persist::rdb::temp_file_prefix();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.strip_prefix(&prefix).is_some_and(|rest| {
            rest == ".rdb" || (rest.starts_with('-') && rest.ends_with(".rdb"))
        });
        if ours {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub fn cron(server: &Arc<Server>) {
    let persistence = &server.persistence;
    if persistence.is_loading() || persistence.current().is_some() {
        return;
    }
    if persistence.bgsave_scheduled.swap(false, Relaxed) {
        let _ = bgsave(server);
        return;
    }
    let now = redis_lite_engine::now_ms() / 1000;
    let dirty = server.dirty();
    let since_save = now.saturating_sub(server.persistence.lastsave.load(Relaxed));
    let may_retry = persistence.last_bgsave_ok.load(Relaxed)
        || now.saturating_sub(persistence.last_bgsave_try.load(Relaxed)) > RETRY_DELAY_SECS;
    let rules = server.config.read().save_rules.clone();
    let due = rules
        .iter()
        .find(|(secs, changes)| dirty >= *changes && since_save >= *secs);
    if let (Some((secs, changes)), true) = (due, may_retry) {
        log!(Notice, "{changes} changes in {secs} seconds. Saving...");
        let _ = bgsave(server);
    }
}

/// What a load did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadStats {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    /// Empty collections in the file, left out as Redis leaves them out.
    pub empty_keys_skipped: u64,
    /// The keys dropped for a TTL that had passed (database, key): a master that takes up the
    /// file's replication place sends its replicas their deletion.
    pub expired_keys: Vec<(usize, Vec<u8>)>,
    /// The replication place the file recorded, if complete.
    pub replication: Option<ReplicationPlace>,
}

/// The lines Redis logs for a snapshot's auxiliary fields as it loads: which version wrote it,
/// how old it is, how much memory the writer used, and whether it is an AOF's base.
fn log_aux_field(key: &[u8], value: &[u8]) {
    // Read as Redis reads them, with `strtoll`'s leniency.
    let number = || crate::args::atoi(value);
    match key {
        b"redis-ver" => log!(
            Notice,
            "Loading RDB produced by version {}",
            String::from_utf8_lossy(value)
        ),
        b"ctime" => {
            let now = redis_lite_engine::now_ms() as i64 / 1000;
            log!(Notice, "RDB age {} seconds", (now - number()).max(0));
        }
        b"used-mem" => log!(
            Notice,
            "RDB memory usage when created {:.2} Mb",
            number() as f64 / (1024.0 * 1024.0)
        ),
        b"aof-base" if number() != 0 => log!(Notice, "RDB is base AOF"),
        _ => {}
    }
}

/// What to do with a key that is already in the keyspace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// The loaded value wins (DEBUG RELOAD MERGE).
    Replace,
    /// The load fails, as Redis's does.
    Fail,
}

/// Puts the keys of an RDB stream into the keyspace: a snapshot's, or an AOF's RDB preamble.
pub struct KeyLoader<'s> {
    server: &'s Server,
    on_duplicate: OnDuplicate,
    /// A snapshot's keys whose TTL passed are dropped, as a master does; an AOF preamble's are
    /// kept, because the commands after it were logged when the keys still existed.
    skip_expired: bool,
    db: usize,
    now: u64,
    /// `key-load-delay` (microseconds): a pause after each key, as Redis makes in every load
    /// (start-up, DEBUG RELOAD, an AOF preamble, a replica's sync), for tests of slow loads.
    key_delay: Option<Duration>,
    pub stats: LoadStats,
    replication: SavedReplication,
}

impl<'s> KeyLoader<'s> {
    pub fn new(server: &'s Server, on_duplicate: OnDuplicate, skip_expired: bool) -> Self {
        KeyLoader {
            server,
            on_duplicate,
            skip_expired,
            db: 0,
            now: redis_lite_engine::now_ms(),
            key_delay: u64::try_from(server.config.read().key_load_delay)
                .ok()
                .filter(|&micros| micros > 0)
                .map(Duration::from_micros),
            stats: LoadStats::default(),
            replication: SavedReplication::default(),
        }
    }

    /// One event of [`read_rdb`]; errors stop the load.
    pub fn event(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::SelectDb(index) => {
                let databases = self.server.keyspace.databases();
                self.db = usize::try_from(index)
                    .ok()
                    .filter(|&i| i < databases)
                    .ok_or_else(|| {
                        format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than \
                             {databases} databases. Exiting"
                        )
                    })?;
            }
            Event::Entry {
                key,
                value,
                expire_at_ms,
            } => {
                if let Some(delay) = self.key_delay {
                    std::thread::sleep(delay);
                }
                let expire_at = expire_at_ms.map_or(0, |ms| ms.max(1) as u64);
                if self.skip_expired && expire_at != 0 && expire_at <= self.now {
                    self.stats.keys_expired += 1;
                    self.stats.expired_keys.push((self.db, key));
                    return Ok(());
                }
                let mut locked = self.server.keyspace.lock_keys([key.as_slice()]);
                let (table, hash) = locked.db(self.db, &key);
                if table.peek_stored(hash, &key).is_some() {
                    if self.on_duplicate == OnDuplicate::Fail {
                        return Err(format!(
                            "RDB has duplicated key '{}' in DB {}",
                            String::from_utf8_lossy(&key),
                            self.db
                        ));
                    }
                    table.remove(hash, &key);
                }
                let mut entry = Entry::new(&key, value).expiring_at(expire_at);
                entry.set_access(redis_lite_engine::keyspace::lru_clock(self.now));
                table.load_entry(hash, entry);
                self.stats.keys_loaded += 1;
            }
            // A library already loaded is a duplicate as a key is (DEBUG RELOAD NOFLUSH).
            Event::Function(code) => self
                .server
                .scripting
                .restore_library(&code, self.on_duplicate == OnDuplicate::Replace)
                .map_err(|e| format!("Failed loading library: {e}"))?,
            Event::Aux { key, value } => {
                log_aux_field(&key, &value);
                self.replication.take_aux(&key, &value)
            }
            Event::EmptyKeySkipped(key) => {
                // Redis names the first ten only.
                if self.stats.empty_keys_skipped < 10 {
                    log!(
                        Warning,
                        "rdbLoadObject skipping empty key: {}",
                        String::from_utf8_lossy(&key)
                    );
                }
                self.stats.empty_keys_skipped += 1;
            }
            _ => {}
        }
        Ok(())
    }

    /// After the last event: records the counts for INFO and logs them as Redis does.
    pub fn finish(&self) {
        let p = &self.server.persistence;
        let stats = &self.stats;
        p.last_load_keys_loaded.store(stats.keys_loaded, Relaxed);
        p.last_load_keys_expired.store(stats.keys_expired, Relaxed);
        if stats.empty_keys_skipped > 0 {
            log!(
                Warning,
                "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
                stats.keys_loaded,
                stats.keys_expired,
                stats.empty_keys_skipped
            );
        } else {
            log!(
                Notice,
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                stats.keys_loaded,
                stats.keys_expired
            );
        }
    }
}

/// Why a snapshot did not load.
#[derive(Debug)]
pub enum LoadFailure {
    /// The file could not be opened or decrypted; the message says why.
    Unreadable(String),
    /// What it holds is not a valid snapshot: already logged in Redis's words, with the offset.
    Corrupt(String),
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadFailure::Unreadable(why) | LoadFailure::Corrupt(why) => f.write_str(why),
        }
    }
}

/// Whether a load drops the keys already expired, as a master's does (a replica keeps them:
/// its master's DELs remove them), by Redis's `iAmMaster`: in cluster mode the role nodes.conf
/// gives, else `replicaof`.
fn loads_as_master(server: &Server) -> bool {
    match server.cluster.node() {
        Some(node) => !node.read().myself().is_replica(),
        None => server.config.read().replicaof.is_none(),
    }
}

/// Loads the snapshot at `path` into the keyspace. Keys already expired are skipped on a
/// master ([`loads_as_master`]). Ok(None) when there is no file.
pub fn load(
    server: &Server,
    path: &Path,
    on_duplicate: OnDuplicate,
) -> Result<Option<LoadStats>, LoadFailure> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            let why = format!("can't open {}: {}", path.display(), strerror(&e));
            return Err(LoadFailure::Unreadable(why));
        }
    };
    let loading = &server.persistence.loading;
    loading
        .total_bytes
        .store(file.metadata().map_or(0, |m| m.len()), Relaxed);
    let input = BufReader::with_capacity(1 << 16, file);
    let (limits, keyring) = {
        let config = server.config.read();
        (config.encoding, config.keyring.clone())
    };
    let input = open_stream(input, keyring.as_deref())
        .map_err(|e| LoadFailure::Unreadable(format!("{}: {e}", path.display())))?;
    let input = loading.counting(input, 0);
    let mut keys = KeyLoader::new(server, on_duplicate, loads_as_master(server));
    read_rdb(input, limits, |event| keys.event(event)).map_err(|e| match e {
        // The envelope's own message names the offset in the sealed file.
        RdbError::Io { source, .. } if seal_error(&source).is_some() => {
            LoadFailure::Unreadable(format!("{}: {source}", path.display()))
        }
        // What the data asks for cannot be done (too many databases, a duplicate key).
        RdbError::Visitor(why) => LoadFailure::Unreadable(format!("{why} ({})", path.display())),
        e => {
            match &e {
                RdbError::Checksum {
                    expected, computed, ..
                } => log!(
                    Warning,
                    "Wrong RDB checksum expected: ({computed:x}) but got ({expected:x}). Aborting now."
                ),
                e if e.is_unexpected_eof() => log!(
                    Warning,
                    "Short read or OOM loading DB. Unrecoverable error, aborting now."
                ),
                _ => {}
            }
            log_read_error(LogLevel::Warning, &e, "");
            LoadFailure::Corrupt(format!("{} ({})", e, path.display()))
        }
    })?;
    keys.finish();
    let mut stats = keys.stats;
    stats.replication = keys.replication.place();
    Ok(Some(stats))
}

/// Logs an RDB that could not be read with the line Redis logs for it, which tools and tests
/// look for: "Internal error in RDB reading offset <n> -> <reason>", then `after`.
pub fn log_read_error(level: LogLevel, e: &RdbError, after: &str) {
    crate::log::write(
        level,
        format_args!(
            "Internal error in RDB reading offset {} -> {}{after}",
            e.offset().unwrap_or(0),
            e.reason()
        ),
    );
}

/// Loads the dataset at start-up (the AOF if there is one, else the snapshot) on a thread of its
/// own, while clients wait or get `-LOADING` (see [`super::loading`]), then starts the AOF. A
/// file that cannot be loaded stops the server: starting empty would look like data loss.
pub fn load_at_startup(server: &Arc<Server>, loaded: impl FnOnce(&Server) + Send + 'static) {
    server
        .persistence
        .loading
        .start(0, super::loading_interval(server));
    let server = server.clone();
    let spawned = std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let busy = server.observability.watchdog.busy();
            let fatal = |what: &str, e: &dyn std::fmt::Display| -> ! {
                log!(Warning, "Fatal error loading the {what}: {e}. Exiting.");
                std::process::exit(1)
            };
            // As in Redis, with `appendonly yes` the AOF is the dataset: a snapshot is not
            // loaded even when there is no AOF yet (the server starts empty and creates one),
            // which is why Redis's documentation switches a running server to AOF with CONFIG
            // SET appendonly yes.
            match aof::load(&server) {
                Ok(Some(_)) => {}
                Ok(None) if server.config.read().appendonly => {}
                Ok(None) => {
                    let started = Instant::now();
                    match load(&server, &path(&server), OnDuplicate::Fail) {
                        Ok(Some(stats)) => {
                            log!(
                                Notice,
                                "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
                                started.elapsed().as_secs_f64(),
                                stats.keys_loaded,
                                stats.keys_expired
                            );
                            // Only a snapshot's place is taken up, not an AOF preamble's,
                            // as in Redis.
                            if let Some(place) = stats.replication {
                                crate::replication::restore_place(
                                    &server,
                                    place,
                                    &stats.expired_keys,
                                );
                            }
                        }
                        Ok(None) => {}
                        Err(e @ LoadFailure::Unreadable(_)) => fatal("DB", &e),
                        // The reason and its offset are logged already, in Redis's words;
                        // this names the file too.
                        Err(LoadFailure::Corrupt(why)) => {
                            log!(Warning, "{why}");
                            log!(Warning, "Terminating server after rdb file reading failure.");
                            std::process::exit(1)
                        }
                    }
                }
                Err(e) => fatal("append only file", &e),
            }
            // Logging starts from the loaded state (a new AOF gets its base first).
            if let Err(e) = aof::start(&server) {
                fatal("append only file", &format!("can't open it: {e}"));
            }
            crate::cluster::claim_slots_of_loaded_keys(&server);
            server.persistence.loading.finish();
            drop(busy);
            loaded(&server);
        });
    if let Err(e) = spawned {
        log!(Warning, "Can't start the loader thread: {e}. Exiting.");
        std::process::exit(1);
    }
}
