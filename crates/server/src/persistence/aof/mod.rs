//! The append-only file. Each write's record is appended to a shared buffer while the command
//! still holds its shard locks (see `Ctx::propagate`). The buffer is moved to the current
//! incremental file by the event loops whose replies wait on it (`everysec`, `no`) or by a
//! writer thread that also fsyncs (`always`); how far the log is written (and, under `always`,
//! fsynced) is published, and every reply waits for its records, so a write is acknowledged
//! only once it would survive the process dying (one write(2) or fsync serves every waiting
//! client). `everysec`'s fsync runs on a thread of its own.
//! With `encryption yes` an incremental file is a sealed log: each write batch is one sealed
//! batch, so a batch never splits a command or a MULTI/EXEC block.
//! Loading is in [`mod@load`], rewriting (and switching AOF on) in [`rewrite`].

pub mod load;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use redis_lite_persist::aof::{encode_command, incr_name, manifest_name, temp_manifest_name};
use redis_lite_persist::aof::{FileKind, Manifest, ManifestFile};
use redis_lite_persist::{is_sealed, read_log, Keyring, SealedAppender};
use tokio::sync::watch;

use crate::config::{Config, Fsync};
use crate::log;
use crate::server::Server;

pub use load::{load, LoadError, LoadStats};

/// What commands append, waiting for the writer thread.
#[derive(Default)]
struct Log {
    buf: Vec<u8>,
    /// Sequence number of the last record appended.
    seq: u64,
    /// The database the last record ran in; a SELECT precedes a record in another one.
    selected_db: Option<usize>,
    /// A MULTI was logged for the EXEC running now, at this offset of `buf` and after record
    /// this sequence number: the writer leaves the open block for a later batch.
    multi_open: Option<(usize, u64)>,
    /// Set at a rewrite's cut: the first `at` bytes of `buf` belong to the old incremental file,
    /// the rest to a new one.
    cut: Option<Cut>,
}

#[derive(Clone)]
struct Cut {
    at: usize,
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

impl Log {
    /// Bytes the writer may take: all but a MULTI block still open.
    fn writable(&self) -> usize {
        self.multi_open.map_or(self.buf.len(), |(at, _)| at)
    }

    /// Takes what the writer may write, the sequence number it ends with, and the cut.
    fn take_batch(&mut self) -> (Vec<u8>, u64, Option<Cut>) {
        let cut = self.cut.take();
        match self.multi_open.as_mut() {
            Some((at, seq)) => {
                let rest = self.buf.split_off(*at);
                *at = 0;
                (std::mem::replace(&mut self.buf, rest), *seq, cut)
            }
            None => (std::mem::take(&mut self.buf), self.seq, cut),
        }
    }
}

/// The AOF directory as the writer sees it.
struct Files {
    dir: PathBuf,
    prefix: String,
    manifest: Manifest,
    /// The incremental file being appended to.
    incr: Option<(Incr, u64)>,
    last_fsync: Instant,
    unsynced: bool,
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
            last_fsync: Instant::now(),
            unsynced: false,
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
            self.manifest.incr.push(ManifestFile {
                name,
                seq,
                kind: FileKind::Incr,
            });
            self.persist_manifest()?;
        } else {
            sync_dir(&self.dir)?;
        }
        self.incr = Some((file, seq));
        Ok(())
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

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let (file, _) = self.incr.as_mut().expect("an incremental file is open");
        file.write(bytes)?;
        self.unsynced = true;
        Ok(())
    }

    /// `everysec`'s fsync: handed to the background fsync thread with a duplicate of the file,
    /// so writes (and the replies waiting on them) go on while the disk catches up.
    fn sync_in_background(&mut self, fsync: &BackgroundFsync) -> io::Result<()> {
        let Some((file, _)) = self.incr.as_ref().filter(|_| self.unsynced) else {
            return Ok(());
        };
        if fsync.request(file.file().try_clone()?) {
            self.unsynced = false;
            self.last_fsync = Instant::now();
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some((file, _)) = self.incr.as_mut().filter(|_| self.unsynced) {
            file.file().sync_data()?;
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

    fn run(&self) {
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
            if let Err(e) = file.sync_data() {
                log!(
                    Warning,
                    "Error fsyncing the AOF file in the background: {e}"
                );
            }
            self.busy.store(false, Relaxed);
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

pub struct Aof {
    /// Whether writes are logged. It changes only at a rewrite's cut (every shard locked) or
    /// when AOF is switched off, so each write is either in the log or in the base.
    on: AtomicBool,
    /// `encryption` as last applied, to notice when CONFIG SET switches it.
    encryption: AtomicBool,
    fsync: AtomicU8,
    /// `no-appendfsync-on-rewrite`.
    no_fsync_on_rewrite: AtomicBool,
    log: Mutex<Log>,
    /// Bytes held by records not yet written (the buffer and a batch being written): INFO's
    /// `mem_aof_buffer`, which `maxmemory` does not count, as in Redis.
    buffered: AtomicU64,
    background_fsync: BackgroundFsync,
    /// Wakes the writer when records arrive.
    wake: Condvar,
    /// The sequence number up to which records are written (and, with `always`, fsynced).
    durable: watch::Sender<u64>,
    /// Lock order: `files` before `log`. None while AOF is off.
    files: Mutex<Option<Files>>,
    pub rewrite: rewrite::Control,
    /// Set once the writer and rewrite threads run; before that (loading) nothing is logged.
    started: AtomicBool,
    last_write_ok: AtomicBool,
    current_size: AtomicU64,
    /// Size of the AOF after the last rewrite, which auto-rewrite's percentage is relative to.
    base_size: AtomicU64,
}

/// Buffered records past this size are written at once, whatever the policy.
const WRITE_EARLY_BYTES: usize = 1 << 20;

fn fsync_code(f: Fsync) -> u8 {
    f as u8
}

impl Aof {
    pub fn new(config: &Config) -> Aof {
        Aof {
            on: AtomicBool::new(false),
            encryption: AtomicBool::new(config.encryption),
            fsync: AtomicU8::new(fsync_code(config.appendfsync)),
            no_fsync_on_rewrite: AtomicBool::new(config.no_appendfsync_on_rewrite),
            log: Mutex::new(Log::default()),
            buffered: AtomicU64::new(0),
            background_fsync: BackgroundFsync::default(),
            wake: Condvar::new(),
            durable: watch::Sender::new(0),
            files: Mutex::new(None),
            rewrite: rewrite::Control::default(),
            started: AtomicBool::new(false),
            last_write_ok: AtomicBool::new(true),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
        }
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    fn policy(&self) -> Fsync {
        match self.fsync.load(Relaxed) {
            x if x == fsync_code(Fsync::Always) => Fsync::Always,
            x if x == fsync_code(Fsync::Everysec) => Fsync::Everysec,
            _ => Fsync::No,
        }
    }

    /// Appends one record run in `db`, preceded by SELECT when the log was in another database
    /// and by MULTI when it is the first write of an EXEC. Callers hold the shard locks of the
    /// keys it touches, so records of one key are in the order the writes were applied.
    /// Returns its sequence number (0 when AOF is off).
    pub fn append<A: AsRef<[u8]>>(&self, db: usize, args: &[A], in_exec: bool) -> u64 {
        if !self.is_on() {
            return 0;
        }
        let mut log = self.log.lock();
        let first = log.buf.is_empty();
        if log.selected_db != Some(db) {
            let index = db.to_string();
            encode_command(&mut log.buf, &["SELECT", &index]);
            log.selected_db = Some(db);
        }
        if in_exec && log.multi_open.is_none() {
            log.multi_open = Some((log.buf.len(), log.seq));
            encode_command(&mut log.buf, &["MULTI"]);
        }
        encode_command(&mut log.buf, args);
        log.seq += 1;
        let seq = log.seq;
        self.buffered.store(log.buf.capacity() as u64, Relaxed);
        let urgent =
            (first && self.policy() == Fsync::Always) || log.buf.len() >= WRITE_EARLY_BYTES;
        drop(log);
        self.nudge(urgent);
        seq
    }

    /// Wakes the writer thread: under `always` for the first record of a batch (records that
    /// arrive while it is busy join the next batch without waking it, so concurrent clients
    /// share one fsync), under any policy when many records piled up. Otherwise the event loops
    /// whose replies wait write the log (see `wait_durable`), and the writer only picks up,
    /// within a second, records nobody waits on (expiry and eviction DELs).
    fn nudge(&self, urgent: bool) {
        if urgent {
            self.wake.notify_one();
        }
    }

    /// Closes the MULTI block of an EXEC that logged writes. Returns the EXEC record's
    /// sequence number, which the transaction's reply waits for (0 when nothing was logged).
    pub fn end_exec(&self) -> u64 {
        let mut log = self.log.lock();
        if log.multi_open.take().is_none() {
            return 0;
        }
        encode_command(&mut log.buf, &["EXEC"]);
        log.seq += 1;
        let seq = log.seq;
        drop(log);
        // The block was held back from the writer until now.
        self.nudge(self.policy() == Fsync::Always);
        seq
    }

    /// The cut of a rewrite, run while every shard is locked and no EXEC is running: records
    /// from here on go to incremental file `incr_seq`. With `start`, logging begins here (AOF
    /// being switched on); the new file is listed at once when `list`.
    fn cut(&self, incr_seq: u64, list: bool, start: bool, seal: Option<Arc<Keyring>>) {
        let mut log = self.log.lock();
        if start {
            // Whatever is left from before AOF was switched off belongs to no file.
            log.buf.clear();
            self.on.store(true, Relaxed);
        }
        log.cut = Some(Cut {
            at: log.buf.len(),
            incr_seq,
            list,
            seal,
        });
        // A new file starts in database 0 for the loader.
        log.selected_db = None;
        drop(log);
        self.wake.notify_one();
    }

    /// Whether record `seq` is where a reply acknowledging it may go out: handed to the kernel
    /// (`write(2)`) under `everysec` and `no`, on disk under `always`. So only an operating
    /// system crash can lose an acknowledged write (up to a second of them under `everysec`),
    /// never the process dying, as with Redis.
    pub fn is_durable(&self, seq: u64) -> bool {
        seq == 0 || *self.durable.borrow() >= seq
    }

    /// Waits until [`is_durable`](Self::is_durable) holds for `seq`. Under `everysec` and `no`
    /// the waiting event loop writes the log itself, once the other tasks ready to run on it
    /// have appended their records: as Redis writes its AOF buffer before each event-loop sleep,
    /// one write(2) carries a whole round of replies, with no hand-off to another thread. Under
    /// `always` the writer thread writes and fsyncs, so an fsync never stalls an event loop.
    pub async fn wait_durable(&self, seq: u64) {
        if self.is_durable(seq) {
            return;
        }
        if self.policy() != Fsync::Always {
            tokio::task::yield_now().await;
            // After a write error the records wait for the writer thread's next try.
            if !self.is_durable(seq) && self.write_pending().is_err() {
                self.wake.notify_one();
            }
        }
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|done| *done >= seq).await;
    }

    /// The writer thread: moves appended records to the file and fsyncs by policy. Records that
    /// arrive during a write or fsync are taken together in the next round, which is what
    /// batches the fsyncs of concurrent clients under `always`.
    fn writer(&self) {
        loop {
            {
                let mut log = self.log.lock();
                // Under `everysec` and `no` the event loops write what their replies wait on;
                // this thread takes only a cut, a pile-up, and (once a second, which is also
                // `everysec`'s fsync tick) what nobody waits on.
                let due = log.cut.is_some()
                    || log.writable() >= WRITE_EARLY_BYTES
                    || (self.policy() == Fsync::Always && log.writable() > 0);
                if !due {
                    self.wake.wait_for(&mut log, Duration::from_secs(1));
                }
            }
            if self.write_pending().is_err() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Writes every record appended so far (fsyncing it by policy) and publishes how far the
    /// log is durable. On a write error the records stay queued, ahead of newer ones, for the
    /// writer thread's next try.
    fn write_pending(&self) -> Result<(), ()> {
        let mut files = self.files.lock();
        let (bytes, seq, cut) = self.log.lock().take_batch();
        let result = self.write_batch(&mut files, bytes, seq, cut);
        let left = self.log.lock().buf.capacity();
        self.buffered.store(left as u64, Relaxed);
        result
    }

    /// Bytes held by records not yet written.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered.load(Relaxed)
    }

    fn write_batch(
        &self,
        files: &mut Option<Files>,
        bytes: Vec<u8>,
        seq: u64,
        cut: Option<Cut>,
    ) -> Result<(), ()> {
        let Some(f) = files.as_mut() else {
            self.durable.send_replace(seq);
            return Ok(());
        };
        match self.write_out(f, &bytes, cut) {
            Ok(()) => {
                self.last_write_ok.store(true, Relaxed);
                self.current_size.fetch_add(bytes.len() as u64, Relaxed);
                self.durable.send_replace(seq);
                Ok(())
            }
            Err(e) if self.policy() == Fsync::Always => {
                // Acknowledged writes would be lost: stop, as Redis does.
                log!(
                    Warning,
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({e})"
                );
                std::process::exit(1);
            }
            Err(e) => {
                log!(Warning, "Error writing to the AOF file: {e}");
                self.last_write_ok.store(false, Relaxed);
                let mut log = self.log.lock();
                let newer = std::mem::replace(&mut log.buf, bytes);
                let held = log.buf.len();
                if let Some((at, _)) = log.multi_open.as_mut() {
                    *at += held;
                }
                log.buf.extend_from_slice(&newer);
                Err(())
            }
        }
    }

    fn write_out(&self, f: &mut Files, bytes: &[u8], cut: Option<Cut>) -> io::Result<()> {
        let (before, after) = bytes.split_at(cut.as_ref().map_or(bytes.len(), |c| c.at));
        let len_before = f
            .incr
            .as_ref()
            .and_then(|(file, _)| file.file().metadata().ok())
            .map(|m| m.len());
        if let Err(e) = f.write(before) {
            if let (Some((file, seq)), Some(len)) = (f.incr.as_mut(), len_before) {
                let path = f.dir.join(incr_name(&f.prefix, *seq));
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
        if let Some(cut) = cut {
            // The old file is complete: close it and make it durable before anything goes to
            // the new one.
            f.close_incr()?;
            f.open_incr(cut.incr_seq, cut.list, cut.seal)?;
        }
        f.write(after)?;
        let skip = self.no_fsync_on_rewrite.load(Relaxed) && self.rewrite.in_progress();
        match self.policy() {
            Fsync::Always if !skip => f.sync(),
            Fsync::Everysec if !skip && f.last_fsync.elapsed() >= Duration::from_secs(1) => {
                f.sync_in_background(&self.background_fsync)
            }
            _ => Ok(()),
        }
    }

    /// Switches logging off: what is buffered is written and fsynced, and the file closed.
    pub fn stop(&self) {
        let mut files = self.files.lock();
        self.on.store(false, Relaxed);
        self.rewrite.cancel();
        let (bytes, seq) = {
            let mut log = self.log.lock();
            // A MULTI block still open never completes in this file: leave it out, so the
            // file (a sealed batch above all) ends on a whole command.
            let (bytes, _, _) = log.take_batch();
            log.buf.clear();
            log.multi_open = None;
            (bytes, log.seq)
        };
        if let Some(f) = files.as_mut().filter(|f| f.incr.is_some()) {
            if let Err(e) = f.write(&bytes).and_then(|()| f.close_incr()) {
                log!(
                    Warning,
                    "Error writing the AOF file while switching it off: {e}"
                );
            }
        }
        *files = None;
        self.durable.send_replace(seq);
        log!(Notice, "Background append only file logging stopped");
    }

    /// Applies `appendonly`, `appendfsync` and `no-appendfsync-on-rewrite` after CONFIG SET.
    pub fn configure(&self, config: &Config) {
        self.fsync.store(fsync_code(config.appendfsync), Relaxed);
        self.no_fsync_on_rewrite
            .store(config.no_appendfsync_on_rewrite, Relaxed);
        let encryption_switched =
            self.encryption.swap(config.encryption, Relaxed) != config.encryption;
        if !self.started.load(Relaxed) {
            return;
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
        .spawn(move || aof.background_fsync.run())?;
    let config = server.config.read().clone();
    if config.appendonly {
        let mut files = Files::open_dir(&config)?;
        if files.manifest.base.is_some() || !files.manifest.incr.is_empty() {
            files.resume(&config)?;
            server.aof.current_size.store(files.size(), Relaxed);
            server.aof.base_size.store(files.size(), Relaxed);
            *server.aof.files.lock() = Some(files);
            server.aof.on.store(true, Relaxed);
        } else {
            server.aof.rewrite.request(true);
            rewrite::run_requested(server);
            if !server.aof.is_on() {
                return Err(io::Error::other(
                    "creating the AOF base failed (see the log)",
                ));
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
    let r = aof.rewrite.info();
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
    field(format_args!(
        "aof_last_write_status:{}",
        ok(aof.last_write_ok.load(Relaxed))
    ));
    // No fork, so no copy-on-write.
    field(format_args!("aof_last_cow_size:0"));
    field(format_args!("module_fork_in_progress:0"));
    field(format_args!("module_fork_last_cow_size:0"));
    if aof.is_on() {
        let buffered = aof.log.lock().buf.len();
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
        field(format_args!("aof_delayed_fsync:0"));
    }
}
