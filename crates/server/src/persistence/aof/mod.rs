//! The append-only file: the first sink of the effect journal ([`crate::journal`]), which holds
//! every write's record in apply order with its framing. The journal's stream is moved to the
//! current incremental file by the event loops whose replies wait on it (`everysec`, `no`) or by
//! a writer thread that also fsyncs (`always`); how far it is written (and, under `always`,
//! fsynced) is published as a journal offset, and every reply waits for its records, so a write
//! is acknowledged only once it would survive the process dying (one write(2) or fsync serves
//! every waiting client). `everysec`'s fsync runs on a thread of its own.
//! With `encryption yes` an incremental file is a sealed log: each write batch is one sealed
//! batch, so a batch never splits a command or a MULTI/EXEC block.
//! Loading is in [`mod@load`], rewriting (and switching AOF on) in [`rewrite`].

pub mod load;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use redis_lite_persist::aof::{incr_name, manifest_name, temp_manifest_name};
use redis_lite_persist::aof::{FileKind, Manifest, ManifestFile};
use redis_lite_persist::{is_sealed, read_log, Keyring, SealedAppender};
use tokio::sync::watch;

use crate::config::{Config, Fsync};
use crate::error::strerror;
use crate::faults::{self, Point};
use crate::journal::{Journal, Sink, SinkId};
use crate::log;
use crate::metrics::histogram::LatencyHistogram;
use crate::observability::latency::LatencyMonitor;
use crate::server::Server;

pub use load::{load, LoadError, LoadStats};

/// A rewrite's cut: the journal's stream before offset `at` belongs to the old incremental
/// file, the rest to a new one.
#[derive(Clone)]
struct Cut {
    at: u64,
    incr_seq: u64,
    /// Whether the manifest lists the new file at once (a rewrite of a live AOF), or only when
    /// the new base is in place (AOF being switched on).
    list: bool,
    /// Seal the new file with this keyring (`encryption yes` at the rewrite).
    seal: Option<Arc<Keyring>>,
}

/// An incremental file being appended to.
enum Incr {
    Plain(File),
    /// A sealed log, and the keyring to reopen it with after a failed write.
    Sealed(Box<SealedAppender<File>>, Arc<Keyring>),
}

impl Incr {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        faults::inject(Point::AofWrite)?;
        match self {
            Incr::Plain(file) => file.write_all(bytes),
            Incr::Sealed(log, _) => Ok(log.append(bytes)?),
        }
    }

    fn file(&self) -> &File {
        match self {
            Incr::Plain(file) => file,
            Incr::Sealed(log, _) => log.get_ref(),
        }
    }

    /// Cuts off a partly written batch, back to `len` bytes. A sealed log refuses appends
    /// after a failed one, so it is verified again and resumed in a new epoch.
    fn rollback(&mut self, len: u64, path: &Path) -> io::Result<()> {
        self.file().set_len(len)?;
        if let Incr::Sealed(log, ring) = self {
            let file = log.get_ref().try_clone()?;
            let summary = read_log(BufReader::new(File::open(path)?), ring, |_| Ok(()))?;
            **log = SealedAppender::resume(file, ring, &summary)?;
        }
        Ok(())
    }

    /// Closes the file in order (a sealed log gets its final segment) and fsyncs it.
    fn close(self) -> io::Result<()> {
        let file = match self {
            Incr::Plain(file) => file,
            Incr::Sealed(log, _) => log.close()?,
        };
        file.sync_data()
    }
}

/// The AOF directory as the writer sees it.
struct Files {
    dir: PathBuf,
    prefix: String,
    manifest: Manifest,
    /// The incremental file being appended to.
    incr: Option<(Incr, u64)>,
    /// What was taken from the journal and is not written yet, starting at journal offset
    /// `unwritten_from`. After a failed write it stays here, ahead of newer records, for the
    /// next try.
    unwritten: Vec<u8>,
    unwritten_from: u64,
    last_fsync: Instant,
    unsynced: bool,
    /// Since when writes wait for a background fsync still running (`everysec`), at most
    /// [`FSYNC_POSTPONE_LIMIT`].
    postponed_since: Option<Instant>,
    /// When a write error was last logged, to log one a while as Redis does.
    error_logged: Option<Instant>,
    /// `aof-timestamp-enabled`, as the writer last read it.
    annotate: bool,
    /// The Unix second of the last `#TS:` annotation: one goes before the first write of
    /// each new second, as Redis writes them.
    annotated_secs: u64,
}

impl Files {
    /// The directory of `config`, with its manifest if there is one (or an empty one).
    fn open_dir(config: &Config) -> io::Result<Files> {
        let dir = aof_dir(config);
        std::fs::create_dir_all(&dir)?;
        let prefix = config.appendfilename.clone();
        let manifest = match std::fs::read(dir.join(manifest_name(&prefix))) {
            Ok(text) => Manifest::parse(&text).map_err(io::Error::other)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(e),
        };
        Ok(Files {
            dir,
            prefix,
            manifest,
            incr: None,
            unwritten: Vec::new(),
            unwritten_from: 0,
            last_fsync: Instant::now(),
            unsynced: false,
            postponed_since: None,
            error_logged: None,
            annotate: false,
            annotated_secs: 0,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the manifest as Redis does: to a temporary file, fsynced, renamed over the old
    /// one, and the directory fsynced so the rename survives a crash.
    fn persist_manifest(&self) -> io::Result<()> {
        let temp = self.path(&temp_manifest_name(&self.prefix));
        let mut file = File::create(&temp)?;
        file.write_all(self.manifest.to_text().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, self.path(&manifest_name(&self.prefix)))?;
        sync_dir(&self.dir)
    }

    /// Deletes the history files (what rewrites replaced) and drops them from the manifest, as
    /// Redis's automatic clean-up does.
    fn delete_history(&mut self) -> io::Result<()> {
        if self.manifest.history.is_empty() {
            return Ok(());
        }
        for file in std::mem::take(&mut self.manifest.history) {
            // A name the manifest lists again (a rewrite reusing it) is live, not history.
            if self
                .manifest
                .load_order()
                .any(|live| live.name == file.name)
            {
                continue;
            }
            log!(
                Notice,
                "Removing the history file {} in the background",
                file.name
            );
            let _ = std::fs::remove_file(self.path(&file.name));
        }
        self.persist_manifest()
    }

    /// Starts appending to incremental file `seq` (creating it, sealed with `seal`), listing
    /// it in the manifest when `list`.
    fn open_incr(&mut self, seq: u64, list: bool, seal: Option<Arc<Keyring>>) -> io::Result<()> {
        let name = incr_name(&self.prefix, seq);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(&name))?;
        let file = match seal {
            Some(ring) => Incr::Sealed(Box::new(SealedAppender::create(file, &ring)?), ring),
            None => Incr::Plain(file),
        };
        if list && self.manifest.incr_seq() < seq {
            self.list_incr(name, seq)?;
        } else {
            sync_dir(&self.dir)?;
        }
        self.incr = Some((file, seq));
        Ok(())
    }

    /// Lists incremental file `name` in the manifest, on disk too. Listed only once it is on
    /// disk: a retry after a failed write (a full disk) must write the manifest again, or the
    /// records appended to the file would not be loaded.
    fn list_incr(&mut self, name: String, seq: u64) -> io::Result<()> {
        self.manifest.incr.push(ManifestFile {
            name,
            seq,
            kind: FileKind::Incr,
        });
        let persisted = self.persist_manifest();
        if persisted.is_err() {
            self.manifest.incr.pop();
        }
        persisted
    }

    /// Creates the incremental file after the open one and lists it in the manifest, for a
    /// rewrite's cut to switch to. Returns its sequence number; on failure nothing is listed.
    fn list_next_incr(&mut self) -> io::Result<u64> {
        let open = self.incr.as_ref().map_or(0, |(_, seq)| *seq);
        let seq = self.manifest.incr_seq().max(open) + 1;
        let name = incr_name(&self.prefix, seq);
        File::create(self.path(&name))?;
        if let Err(e) = self.list_incr(name, seq) {
            log!(
                Warning,
                "Error trying to write the temporary AOF manifest file {}: {}",
                temp_manifest_name(&self.prefix),
                strerror(&e)
            );
            return Err(e);
        }
        Ok(seq)
    }

    /// Opens the AOF found at start-up (and loaded) for appending: its last incremental file
    /// when that is sealed or not as `config` says, else a new one. A sealed file gets a new
    /// epoch; a sealed file left behind is closed in order first, as rotation does.
    fn resume(&mut self, config: &Config) -> io::Result<()> {
        let seal = config.sealing();
        let next = self.manifest.incr_seq() + 1;
        let Some(last) = self.manifest.incr.last() else {
            return self.open_incr(next, true, seal);
        };
        let (path, seq) = (self.path(&last.name), last.seq);
        let mut file = OpenOptions::new().read(true).append(true).open(&path)?;
        let mut head = [0u8; 7];
        let len = file.metadata()?.len();
        let sealed = len > 0 && {
            file.read_exact(&mut head)?;
            is_sealed(&head)
        };
        let resume_sealed = |file: File, ring: Arc<Keyring>| -> io::Result<Incr> {
            let summary = read_log(BufReader::new(File::open(&path)?), &ring, |_| Ok(()))?;
            let log = SealedAppender::resume(file, &ring, &summary)?;
            Ok(Incr::Sealed(Box::new(log), ring))
        };
        match (sealed || len == 0, seal) {
            (true, Some(ring)) => {
                self.incr = Some((resume_sealed(file, ring)?, seq));
                Ok(())
            }
            (false, None) => {
                self.incr = Some((Incr::Plain(file), seq));
                Ok(())
            }
            (_, seal) => {
                if let (true, Some(ring)) = (sealed, config.keyring.clone()) {
                    resume_sealed(file, ring)?.close()?;
                }
                self.open_incr(next, true, seal)
            }
        }
    }

    /// Writes the first `n` unwritten bytes (whole records) to the incremental file. A failed
    /// write is cut off the file again, and the bytes stay unwritten.
    fn write_unwritten(&mut self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let now_secs = redis_lite_engine::now_ms() / 1000;
        let annotated = (self.annotate && now_secs > self.annotated_secs).then(|| {
            let mut batch = format!("#TS:{now_secs}\r\n").into_bytes();
            batch.extend_from_slice(&self.unwritten[..n]);
            batch
        });
        let (file, seq) = self.incr.as_mut().expect("an incremental file is open");
        let len_before = file.file().metadata().ok().map(|m| m.len());
        if let Err(e) = file.write(annotated.as_deref().unwrap_or(&self.unwritten[..n])) {
            if let Some(len) = len_before {
                let path = self.dir.join(incr_name(&self.prefix, *seq));
                if let Err(e) = file.rollback(len, &path) {
                    log!(
                        Warning,
                        "Can't cut the failed AOF write off {}: {e}",
                        path.display()
                    );
                }
            }
            return Err(e);
        }
        self.unsynced = true;
        if annotated.is_some() {
            self.annotated_secs = now_secs;
        }
        self.unwritten_from += n as u64;
        if n == self.unwritten.len() {
            // Dropped rather than kept: the journal's buffer grows again from empty, so a burst
            // does not pin its peak size.
            self.unwritten = Vec::new();
        } else {
            self.unwritten.drain(..n);
        }
        Ok(())
    }

    fn unwritten_end(&self) -> u64 {
        self.unwritten_from + self.unwritten.len() as u64
    }

    /// `everysec`'s fsync: handed to the background fsync thread with a duplicate of the file,
    /// so writes (and the replies waiting on them) go on while the disk catches up. After a
    /// failed one it is tried again each second, even with nothing new written (writes are
    /// refused meanwhile), until one succeeds.
    fn sync_in_background(&mut self, fsync: &BackgroundFsync) -> io::Result<()> {
        let wanted = self.unsynced || fsync.errno.load(Relaxed) != 0;
        let Some((file, _)) = self.incr.as_ref().filter(|_| wanted) else {
            return Ok(());
        };
        if fsync.request(file.file().try_clone()?) {
            self.unsynced = false;
            self.last_fsync = Instant::now();
        }
        Ok(())
    }

    fn sync(&mut self, latency: &LatencyHistogram) -> io::Result<()> {
        if let Some((file, _)) = self.incr.as_mut().filter(|_| self.unsynced) {
            let started = Instant::now();
            let synced = faults::inject(Point::AofFsync).and_then(|()| file.file().sync_data());
            latency.record(started.elapsed());
            synced?;
        }
        self.unsynced = false;
        self.last_fsync = Instant::now();
        Ok(())
    }

    /// Closes the incremental file in order, if one is open.
    fn close_incr(&mut self) -> io::Result<()> {
        self.unsynced = false;
        match self.incr.take() {
            Some((file, _)) => file.close(),
            None => Ok(()),
        }
    }

    /// Bytes of the files the manifest lists.
    fn size(&self) -> u64 {
        self.manifest
            .load_order()
            .filter_map(|f| std::fs::metadata(self.path(&f.name)).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// The thread that runs `everysec`'s fsyncs, as Redis runs them in a background thread.
#[derive(Default)]
struct BackgroundFsync {
    queued: Mutex<Option<File>>,
    wake: Condvar,
    /// An fsync is queued or running (INFO's `aof_pending_bio_fsync`).
    busy: AtomicBool,
    /// The errno of the last fsync when it failed, else 0: writes are refused until one
    /// succeeds, as Redis refuses them.
    errno: AtomicI32,
    /// How long each fsync took, this thread's and `always`'s (the metrics endpoint's).
    latency: LatencyHistogram,
}

impl BackgroundFsync {
    /// Queues an fsync of `file`; false, and nothing queued, while the previous one still runs.
    fn request(&self, file: File) -> bool {
        if self.busy.swap(true, Relaxed) {
            return false;
        }
        *self.queued.lock() = Some(file);
        self.wake.notify_one();
        true
    }

    /// Runs the fsyncs requested, ringing `writer` after each: writes postponed while it ran
    /// (see `Aof::postpone_for_fsync`) go out at once, not at the writer's next tick.
    fn run(&self, writer: &Doorbell) {
        loop {
            let file = {
                let mut queued = self.queued.lock();
                loop {
                    if let Some(file) = queued.take() {
                        break file;
                    }
                    self.wake.wait(&mut queued);
                }
            };
            let started = Instant::now();
            let synced = faults::inject(Point::AofFsync).and_then(|()| file.sync_data());
            self.latency.record(started.elapsed());
            let errno = match synced {
                Ok(()) => 0,
                Err(e) => {
                    if self.errno.load(Relaxed) == 0 {
                        log!(Warning, "Fail to fsync the AOF file: {}", strerror(&e));
                    }
                    e.raw_os_error().unwrap_or(libc::EIO)
                }
            };
            self.errno.store(errno, Relaxed);
            self.busy.store(false, Relaxed);
            writer.ring();
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `dir/appenddirname`.
pub fn aof_dir(config: &Config) -> PathBuf {
    Path::new(&config.dir).join(&config.appenddirname)
}

/// An AOF of Redis before 7.0 (`dir/appendfilename`, which no manifest lists yet) becomes the
/// base of the AOF directory, as Redis 7.0 upgrades one: the manifest names it, then it moves
/// into the directory. Redis's three cases: no directory, a directory whose manifest lists no
/// file, or one whose only file is that base, missing from the directory (an upgrade cut
/// short between the manifest and the move).
fn upgrade_old_style(config: &Config) -> io::Result<()> {
    let old = Path::new(&config.dir).join(&config.appendfilename);
    if !old.is_file() {
        return Ok(());
    }
    let dir_existed = aof_dir(config).is_dir();
    let mut files = Files::open_dir(config)?;
    let manifest = &files.manifest;
    let lists_nothing = manifest.base.is_none() && manifest.incr.is_empty();
    let cut_short = manifest.incr.is_empty()
        && manifest
            .base
            .as_ref()
            .is_some_and(|base| base.name == config.appendfilename)
        && !files.path(&config.appendfilename).exists();
    if dir_existed && !lists_nothing && !cut_short {
        return Ok(());
    }
    files.manifest.base = Some(ManifestFile {
        name: config.appendfilename.clone(),
        seq: 1,
        kind: FileKind::Base,
    });
    files.persist_manifest()?;
    std::fs::rename(&old, files.path(&config.appendfilename))?;
    log!(
        Notice,
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        config.appendfilename,
        config.appenddirname
    );
    Ok(())
}

pub struct Aof {
    /// Whether writes are logged. It changes only at a rewrite's cut (every shard locked) or
    /// when AOF is switched off, so each write is either in the log or in the base. The
    /// journal records while it is on (see `begin_recording`).
    on: AtomicBool,
    /// `encryption` as last applied, to notice when CONFIG SET switches it.
    encryption: AtomicBool,
    /// `no-appendfsync-on-rewrite`.
    no_fsync_on_rewrite: AtomicBool,
    journal: Arc<Journal>,
    /// This AOF's cursor in the journal.
    sink: SinkId,
    /// How the journal wakes the writer thread; it also holds `appendfsync`.
    doorbell: Arc<Doorbell>,
    /// The cut of the rewrite running now, until the writer has opened its new file.
    cut: Mutex<Option<Cut>>,
    background_fsync: BackgroundFsync,
    /// The journal offset up to which records are written (and, with `always`, fsynced).
    durable: watch::Sender<u64>,
    /// Lock order: `files` before the journal's lock. None while AOF is off.
    files: Mutex<Option<Files>>,
    pub rewrite: rewrite::Control,
    /// Set once the writer and rewrite threads run; before that (loading) nothing is logged.
    started: AtomicBool,
    /// `aof-disable-auto-gc` as last applied, to notice when it is switched off.
    auto_gc_disabled: AtomicBool,
    /// `aof-timestamp-enabled`: a `#TS:<unix time>` line before each new second's writes.
    timestamps: AtomicBool,
    /// The errno of the last write when it failed, else 0.
    write_errno: AtomicI32,
    /// Writes made without waiting any longer for a background fsync (`aof_delayed_fsync`).
    delayed_fsyncs: AtomicU64,
    current_size: AtomicU64,
    /// Size of the AOF after the last rewrite, which auto-rewrite's percentage is relative to.
    base_size: AtomicU64,
    /// Where slow writes (`aof-write`) and `always` fsyncs (`aof-fsync-always`) are reported.
    latency: Arc<LatencyMonitor>,
}

/// How long `everysec` holds writes back while a background fsync still runs, as Redis does:
/// write(2) to a file being fsynced can block until the fsync ends, and the event loops write
/// the log themselves. Past this the write goes ahead anyway.
const FSYNC_POSTPONE_LIMIT: Duration = Duration::from_secs(2);

/// A write error is logged once in this long, as Redis logs it.
const WRITE_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// Unwritten records past this size are written at once, whatever the policy.
const WRITE_EARLY_BYTES: u64 = 1 << 20;

fn fsync_code(f: Fsync) -> u8 {
    f as u8
}

/// The AOF's sink in the journal: wakes the writer thread under `always` for the first record
/// of a batch (records that arrive while it is busy join the next batch without waking it, so
/// concurrent clients share one fsync), under any policy when many records piled up.
/// Otherwise the event loops whose replies wait write the log (see `wait_durable`), and the
/// writer only picks up, within a second, records nobody waits on (expiry and eviction DELs).
struct Doorbell {
    fsync: AtomicU8,
    /// Set when the writer is wanted; it waits on `ring` under this lock, so no ring is lost
    /// between its last look and its wait. Taken inside the journal's lock, never around it.
    rung: Mutex<bool>,
    ring: Condvar,
}

impl Doorbell {
    fn policy(&self) -> Fsync {
        match self.fsync.load(Relaxed) {
            x if x == fsync_code(Fsync::Always) => Fsync::Always,
            x if x == fsync_code(Fsync::Everysec) => Fsync::Everysec,
            _ => Fsync::No,
        }
    }

    fn ring(&self) {
        *self.rung.lock() = true;
        self.ring.notify_one();
    }

    /// Waits until rung, or a second (`everysec`'s fsync tick, and the pick-up of records
    /// nobody waits on).
    fn wait(&self) {
        let mut rung = self.rung.lock();
        if !*rung {
            self.ring.wait_for(&mut rung, Duration::from_secs(1));
        }
        *rung = false;
    }
}

impl Sink for Doorbell {
    fn readable(&self, unread: u64, first: bool) {
        if (first && self.policy() == Fsync::Always) || unread >= WRITE_EARLY_BYTES {
            self.ring();
        }
    }
}

impl Aof {
    pub fn new(config: &Config, journal: Arc<Journal>, latency: Arc<LatencyMonitor>) -> Aof {
        let doorbell = Arc::new(Doorbell {
            fsync: AtomicU8::new(fsync_code(config.appendfsync)),
            rung: Mutex::new(false),
            ring: Condvar::new(),
        });
        Aof {
            on: AtomicBool::new(false),
            encryption: AtomicBool::new(config.encryption),
            no_fsync_on_rewrite: AtomicBool::new(config.no_appendfsync_on_rewrite),
            sink: journal.register(doorbell.clone(), false),
            journal,
            doorbell,
            cut: Mutex::new(None),
            background_fsync: BackgroundFsync::default(),
            durable: watch::Sender::new(0),
            files: Mutex::new(None),
            rewrite: rewrite::Control::default(),
            started: AtomicBool::new(false),
            auto_gc_disabled: AtomicBool::new(false),
            timestamps: AtomicBool::new(false),
            write_errno: AtomicI32::new(0),
            delayed_fsyncs: AtomicU64::new(0),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            latency,
        }
    }

    /// The AOF's fsync durations so far, whichever thread ran them.
    pub fn fsync_latency(&self) -> crate::metrics::histogram::Reading {
        self.background_fsync.latency.read()
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    fn policy(&self) -> Fsync {
        self.doorbell.policy()
    }

    /// BGREWRITEAOF's first step while the AOF is on, taken before it answers as Redis takes
    /// it: the incremental file the rewrite's cut will switch to is created and listed in the
    /// manifest now, so that a full disk refuses the rewrite at once (and the AOF goes on in
    /// its current file) instead of failing it in the background. Returns the file's sequence
    /// number, for the rewrite; None with the AOF off.
    pub fn list_rewrite_incr(&self) -> io::Result<Option<u64>> {
        match self.files.lock().as_mut() {
            Some(files) if self.is_on() => files.list_next_incr().map(Some),
            _ => Ok(None),
        }
    }

    /// Switches logging on: the journal records from here on, for this AOF to read.
    fn begin_recording(&self) {
        self.journal.listen(self.sink);
        self.on.store(true, Relaxed);
    }

    /// The cut of a rewrite, run while every shard is locked and no EXEC is running: records
    /// from here on go to incremental file `incr_seq`, which starts with a SELECT of its own
    /// (the loader starts each file in database 0). With `start`, logging begins here (AOF
    /// being switched on); the new file is listed at once when `list`.
    fn cut(&self, incr_seq: u64, list: bool, start: bool, seal: Option<Arc<Keyring>>) {
        if start {
            self.begin_recording();
        }
        let at = self.journal.cut();
        *self.cut.lock() = Some(Cut {
            at,
            incr_seq,
            list,
            seal,
        });
        self.doorbell.ring();
    }

    /// Whether journal offset `offset` is where a reply acknowledging it may go out: handed to
    /// the kernel (`write(2)`) under `everysec` and `no`, on disk under `always`. So only an
    /// operating system crash can lose an acknowledged write (up to a second of them under
    /// `everysec`), never the process dying, as with Redis.
    ///
    /// Keyed by offset rather than a count of records: the offset is what the journal already
    /// keeps, and what replicas will acknowledge, so a WAIT can later compare the two.
    pub fn is_durable(&self, offset: u64) -> bool {
        // With the AOF off the journal may still record (for replicas): nothing to wait for.
        offset == 0 || !self.is_on() || *self.durable.borrow() >= offset
    }

    /// Waits until [`is_durable`](Self::is_durable) holds for `offset`. Under `everysec` and
    /// `no` the waiting event loop writes the log itself, once the other tasks ready to run on
    /// it have appended their records: as Redis writes its AOF buffer before each event-loop
    /// sleep, one write(2) carries a whole round of replies, with no hand-off to another thread.
    /// Under `always` the writer thread writes and fsyncs, so an fsync never stalls an event
    /// loop.
    pub async fn wait_durable(&self, offset: u64) {
        if self.is_durable(offset) {
            return;
        }
        if self.policy() != Fsync::Always {
            tokio::task::yield_now().await;
            // After a write error the records wait for the writer thread's next try.
            if !self.is_durable(offset) && self.write_pending().is_err() {
                self.doorbell.ring();
            }
        }
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|done| *done >= offset).await;
    }

    /// Writes what the journal holds for the AOF now (DEBUG LOADAOF, before reading the files
    /// back). A failed write leaves the records for the writer thread's next try.
    pub fn write_now(&self) {
        if self.write_pending().is_err() {
            self.doorbell.ring();
        }
    }

    /// Publishes that the log is durable up to `offset`.
    fn publish_durable(&self, offset: u64) {
        self.durable.send_if_modified(|done| {
            let advanced = offset > *done;
            *done = (*done).max(offset);
            advanced
        });
    }

    /// The writer thread: moves the journal's records to the file and fsyncs by policy. Records
    /// that arrive during a write or fsync are taken together in the next round, which is what
    /// batches the fsyncs of concurrent clients under `always`.
    fn writer(&self) {
        loop {
            // Under `everysec` and `no` the event loops write what their replies wait on; this
            // thread takes only a cut, a pile-up, and (once a second, which is also
            // `everysec`'s fsync tick) what nobody waits on.
            self.doorbell.wait();
            if self.write_pending().is_err() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Writes every record the journal holds for this AOF (fsyncing it by policy) and publishes
    /// how far the log is durable. On a write error the records (and a cut among them) stay
    /// unwritten, ahead of newer ones, for the next try.
    fn write_pending(&self) -> Result<(), ()> {
        let mut files = self.files.lock();
        let Some(f) = files.as_mut() else {
            return Ok(());
        };
        let retrying = !f.unwritten.is_empty();
        let taken = self.journal.read(self.sink, &mut f.unwritten);
        if !retrying {
            f.unwritten_from = taken.start;
        }
        let written_before = f.unwritten_from;
        let result = self.write_out(f);
        self.current_size
            .fetch_add(f.unwritten_from - written_before, Relaxed);
        match result {
            Ok(()) => {
                if self.write_errno.swap(0, Relaxed) != 0 {
                    log!(
                        Warning,
                        "AOF write error looks solved, Redis can write again."
                    );
                }
                self.publish_durable(f.unwritten_from);
                Ok(())
            }
            Err(e) if self.policy() == Fsync::Always => {
                // Acknowledged writes would be lost: stop, as Redis does.
                log!(
                    Warning,
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({})",
                    strerror(&e)
                );
                std::process::exit(1);
            }
            Err(e) => {
                if f.error_logged
                    .is_none_or(|at| at.elapsed() > WRITE_ERROR_LOG_INTERVAL)
                {
                    log!(Warning, "Error writing to the AOF file: {}", strerror(&e));
                    f.error_logged = Some(Instant::now());
                }
                self.write_errno
                    .store(e.raw_os_error().unwrap_or(libc::EIO), Relaxed);
                Err(())
            }
        }
    }

    /// Writes the unwritten records, switching files at a rewrite's cut among them, then
    /// fsyncs by policy. The cut is forgotten only once the new file is open, so a failed write
    /// retries it.
    fn write_out(&self, f: &mut Files) -> io::Result<()> {
        f.annotate = self.timestamps.load(Relaxed);
        let cut = self.cut.lock().clone();
        if let Some(cut) = cut.filter(|c| c.at <= f.unwritten_end()) {
            f.write_unwritten((cut.at - f.unwritten_from) as usize)?;
            // The old file is complete: close it and make it durable before anything goes to
            // the new one.
            f.close_incr()?;
            f.open_incr(cut.incr_seq, cut.list, cut.seal)?;
            *self.cut.lock() = None;
        }
        if !f.unwritten.is_empty() && self.postpone_for_fsync(f) {
            return Ok(());
        }
        let writing = Instant::now();
        f.write_unwritten(f.unwritten.len())?;
        self.latency.record("aof-write", writing.elapsed());
        let skip = self.no_fsync_on_rewrite.load(Relaxed) && self.rewrite.in_progress();
        match self.policy() {
            Fsync::Always if !skip => {
                let syncing = Instant::now();
                let synced = f.sync(&self.background_fsync.latency);
                self.latency.record("aof-fsync-always", syncing.elapsed());
                if let Err(e) = synced {
                    // The write is in the kernel but may never reach the disk: stop, as Redis
                    // does, rather than acknowledge it.
                    log!(
                        Warning,
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                        strerror(&e)
                    );
                    std::process::exit(1);
                }
                Ok(())
            }
            Fsync::Everysec if !skip && f.last_fsync.elapsed() >= Duration::from_secs(1) => {
                f.sync_in_background(&self.background_fsync)
            }
            _ => Ok(()),
        }
    }

    /// `everysec`'s rule while a background fsync runs: the first write waits, later ones too
    /// until [`FSYNC_POSTPONE_LIMIT`] has passed since, then it goes ahead (counted in
    /// `aof_delayed_fsync`, and logged as Redis logs it). The replies waiting on it wait, but
    /// no event loop does: the writer thread writes when the fsync ends, or after the limit.
    fn postpone_for_fsync(&self, f: &mut Files) -> bool {
        if self.policy() != Fsync::Everysec || !self.background_fsync.busy.load(Relaxed) {
            f.postponed_since = None;
            return false;
        }
        match f.postponed_since {
            None => {
                f.postponed_since = Some(Instant::now());
                true
            }
            Some(since) if since.elapsed() < FSYNC_POSTPONE_LIMIT => true,
            Some(_) => {
                f.postponed_since = None;
                self.delayed_fsyncs.fetch_add(1, Relaxed);
                log!(
                    Notice,
                    "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis."
                );
                false
            }
        }
    }

    /// The errno that makes writes refused (`-MISCONF`): the AOF's last write or background
    /// fsync failed. None while the AOF is off.
    pub fn write_error(&self) -> Option<i32> {
        if !self.is_on() {
            return None;
        }
        [&self.write_errno, &self.background_fsync.errno]
            .into_iter()
            .map(|errno| errno.load(Relaxed))
            .find(|&errno| errno != 0)
    }

    /// Switches logging off: what the journal holds for this AOF is written and fsynced, and
    /// the file closed. A transaction still open never completes in this file: it is left out,
    /// so the file (a sealed batch above all) ends on a whole command.
    pub fn stop(&self) {
        let mut files = self.files.lock();
        self.on.store(false, Relaxed);
        self.rewrite.cancel();
        *self.cut.lock() = None;
        let mut rest = Vec::new();
        let offset = self.journal.stop_listening(self.sink, &mut rest).end;
        if let Some(f) = files.as_mut().filter(|f| f.incr.is_some()) {
            f.unwritten.extend_from_slice(&rest);
            let all = f.unwritten.len();
            if let Err(e) = f.write_unwritten(all).and_then(|()| f.close_incr()) {
                log!(
                    Warning,
                    "Error writing the AOF file while switching it off: {e}"
                );
            }
        }
        *files = None;
        self.publish_durable(offset);
        log!(Notice, "Background append only file logging stopped");
    }

    /// Stops recording after a rewrite that was to switch AOF on was cancelled.
    fn abandon_recording(&self) {
        self.on.store(false, Relaxed);
        self.journal.stop_listening(self.sink, &mut Vec::new());
    }

    /// Applies `appendonly`, `appendfsync` and `no-appendfsync-on-rewrite` after CONFIG SET.
    pub fn configure(&self, config: &Config) {
        self.doorbell
            .fsync
            .store(fsync_code(config.appendfsync), Relaxed);
        self.no_fsync_on_rewrite
            .store(config.no_appendfsync_on_rewrite, Relaxed);
        let encryption_switched =
            self.encryption.swap(config.encryption, Relaxed) != config.encryption;
        self.timestamps.store(config.aof_timestamp_enabled, Relaxed);
        let gc_disabled = config.tuning.aof_disable_auto_gc;
        let gc_enabled_now = self.auto_gc_disabled.swap(gc_disabled, Relaxed) && !gc_disabled;
        if !self.started.load(Relaxed) {
            return;
        }
        if gc_enabled_now {
            if let Some(files) = self.files.lock().as_mut() {
                if let Err(e) = files.delete_history() {
                    log!(Warning, "Error deleting the AOF history files: {e}");
                }
            }
        }
        if encryption_switched && self.is_on() {
            // An open file cannot change between plaintext and sealed; a rewrite switches
            // every file at once rather than leave the data as it was until some later one.
            log!(Notice, "Encryption switched: rewriting the AOF");
            self.rewrite.request(false);
        }
        if config.appendonly && !self.is_on() {
            self.rewrite.request(true);
        } else if !config.appendonly && (self.is_on() || self.rewrite.enabling()) {
            self.stop();
        }
    }

    /// Auto-rewrite: once the AOF has grown by `auto-aof-rewrite-percentage` since the last
    /// rewrite and is past `auto-aof-rewrite-min-size`. Called by the cron thread.
    pub fn cron(&self, config: &Config) {
        let percentage = config.auto_aof_rewrite_percentage;
        if !self.is_on() || percentage == 0 || self.rewrite.in_progress() {
            return;
        }
        let size = self.current_size.load(Relaxed);
        let base = self.base_size.load(Relaxed).max(1);
        if size > config.auto_aof_rewrite_min_size
            && (size - base.min(size)) * 100 / base >= percentage
        {
            log!(
                Notice,
                "Starting automatic rewriting of AOF on {}% growth",
                (size - base.min(size)) * 100 / base
            );
            self.rewrite.request(false);
        }
    }
}

/// Starts the writer and rewrite threads, and opens the AOF when `appendonly yes`: the one
/// loaded at start-up, or a new one. A new one's base is written before clients are served, so
/// no acknowledged write depends on a base still being written.
pub fn start(server: &Arc<Server>) -> io::Result<()> {
    let aof = server.aof.clone();
    std::thread::Builder::new()
        .name("aof-writer".into())
        .spawn(move || aof.writer())?;
    let aof = server.aof.clone();
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || aof.background_fsync.run(&aof.doorbell))?;
    let config = server.config.read().clone();
    if config.appendonly {
        let mut files = Files::open_dir(&config)?;
        if files.manifest.base.is_some() || !files.manifest.incr.is_empty() {
            let had_incr = !files.manifest.incr.is_empty();
            files.resume(&config)?;
            if let Some(incr) = files.manifest.incr.last() {
                let verb = if had_incr { "Opening" } else { "Creating" };
                log!(Notice, "{verb} AOF incr file {} on server start", incr.name);
            }
            if !config.tuning.aof_disable_auto_gc {
                files.delete_history()?;
            }
            server.aof.current_size.store(files.size(), Relaxed);
            server.aof.base_size.store(files.size(), Relaxed);
            *server.aof.files.lock() = Some(files);
            server.aof.begin_recording();
        } else {
            server.aof.rewrite.request(true);
            rewrite::run_requested(server, false);
            if !server.aof.is_on() {
                return Err(io::Error::other(
                    "creating the AOF base failed (see the log)",
                ));
            }
            server.aof.rewrite.forget_startup_base();
            if let Some(files) = server.aof.files.lock().as_ref() {
                let manifest = &files.manifest;
                for (kind, file) in [
                    ("base", manifest.base.as_ref()),
                    ("incr", manifest.incr.last()),
                ] {
                    if let Some(file) = file {
                        log!(
                            Notice,
                            "Creating AOF {kind} file {} on server start",
                            file.name
                        );
                    }
                }
            }
        }
    }
    let rewriter = server.clone();
    std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || rewrite::run(&rewriter))?;
    server.aof.started.store(true, Relaxed);
    Ok(())
}

/// The AOF fields of INFO persistence, as Redis 7.0 prints them.
pub fn info_fields(server: &Server, out: &mut String) {
    use std::fmt::Write;
    let mut field = |line: std::fmt::Arguments<'_>| {
        let _ = out.write_fmt(line);
        out.push_str("\r\n");
    };
    let aof = &server.aof;
    let bgsave = server
        .persistence
        .current()
        .is_some_and(|(kind, ..)| kind != crate::persistence::JobKind::AofRewrite);
    let r = aof.rewrite.info(bgsave);
    let ok = |b: bool| if b { "ok" } else { "err" };
    field(format_args!("aof_enabled:{}", aof.is_on() as u8));
    field(format_args!(
        "aof_rewrite_in_progress:{}",
        r.in_progress as u8
    ));
    field(format_args!("aof_rewrite_scheduled:{}", r.scheduled as u8));
    field(format_args!(
        "aof_last_rewrite_time_sec:{}",
        r.last_time_sec
    ));
    field(format_args!(
        "aof_current_rewrite_time_sec:{}",
        r.current_time_sec
    ));
    field(format_args!("aof_last_bgrewrite_status:{}", ok(r.last_ok)));
    field(format_args!("aof_rewrites:{}", r.rewrites));
    field(format_args!(
        "aof_rewrites_consecutive_failures:{}",
        r.consecutive_failures
    ));
    // A failed background fsync shows here too, as in Redis.
    field(format_args!(
        "aof_last_write_status:{}",
        ok(aof.write_error().is_none())
    ));
    // No fork, so no copy-on-write.
    field(format_args!("aof_last_cow_size:0"));
    field(format_args!("module_fork_in_progress:0"));
    field(format_args!("module_fork_last_cow_size:0"));
    if aof.is_on() {
        // Records a failed write left for the next try count too, as Redis's buffer keeps
        // them. Not waited for: a write holding the files may be slow.
        let unwritten = aof
            .files
            .try_lock()
            .and_then(|files| files.as_ref().map(|f| f.unwritten.len() as u64))
            .unwrap_or(0);
        let buffered = aof.journal.unread(aof.sink) + unwritten;
        field(format_args!(
            "aof_current_size:{}",
            aof.current_size.load(Relaxed)
        ));
        field(format_args!(
            "aof_base_size:{}",
            aof.base_size.load(Relaxed)
        ));
        field(format_args!("aof_pending_rewrite:{}", r.scheduled as u8));
        field(format_args!("aof_buffer_length:{buffered}"));
        field(format_args!(
            "aof_pending_bio_fsync:{}",
            aof.background_fsync.busy.load(Relaxed) as u8
        ));
        field(format_args!(
            "aof_delayed_fsync:{}",
            aof.delayed_fsyncs.load(Relaxed)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_lite_persist::aof::encode_command;

    fn resp(commands: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for command in commands {
            encode_command(&mut out, command);
        }
        out
    }

    /// An AOF writing to a fresh directory's incremental file 1, opened read-only so every
    /// write to it fails until the test swaps in a writable one.
    fn failing_aof(dir: &Path) -> (Aof, Arc<Journal>) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let config = Config {
            dir: dir.to_path_buf(),
            ..Config::default()
        };
        let journal = Arc::new(Journal::new());
        let aof = Aof::new(&config, journal.clone(), Default::default());
        let mut files = Files::open_dir(&config).unwrap();
        let first = files.path(&incr_name(&files.prefix, 1));
        File::create(&first).unwrap();
        files.incr = Some((Incr::Plain(File::open(&first).unwrap()), 1));
        *aof.files.lock() = Some(files);
        aof.begin_recording();
        (aof, journal)
    }

    /// Regression: a rewrite's cut taken in a batch whose write failed was lost, and the
    /// records after it went to the old file.
    #[test]
    fn a_failed_write_is_retried_with_its_cut() {
        let dir = std::env::temp_dir().join(format!("redis-lite-aof-cut-{}", std::process::id()));
        let (aof, journal) = failing_aof(&dir);
        let before = journal.record(0, &["SET", "a", "1"], false);
        aof.cut(2, false, false, None);
        let after = journal.record(0, &["SET", "b", "2"], false);
        assert!(aof.write_pending().is_err());
        assert!(!aof.is_durable(before));
        // A newer record arrives while the failed batch waits.
        let newest = journal.record(0, &["SET", "c", "3"], false);
        {
            let mut files = aof.files.lock();
            let f = files.as_mut().unwrap();
            let first = f.path(&incr_name(&f.prefix, 1));
            let writable = OpenOptions::new().append(true).open(first).unwrap();
            f.incr = Some((Incr::Plain(writable), 1));
        }
        assert!(aof.write_pending().is_ok());
        assert!(aof.is_durable(newest) && after < newest);
        let read = |seq| {
            let files = aof.files.lock();
            let f = files.as_ref().unwrap();
            std::fs::read(f.path(&incr_name(&f.prefix, seq))).unwrap()
        };
        assert_eq!(read(1), resp(&[&["SELECT", "0"], &["SET", "a", "1"]]));
        assert_eq!(
            read(2),
            resp(&[&["SELECT", "0"], &["SET", "b", "2"], &["SET", "c", "3"]])
        );
        assert!(aof.cut.lock().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
