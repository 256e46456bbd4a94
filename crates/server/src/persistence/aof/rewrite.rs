//! AOF rewriting: BGREWRITEAOF, auto-rewrite, and the first base when AOF is switched on, run
//! on one background thread. At the cut (every shard locked) new records start going to a new
//! incremental file; the new base is written from the data as it was at the cut; then one
//! manifest rename switches to the new base and the old files are deleted. A crash at any
//! point leaves a manifest whose files together hold every logged write.

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use redis_lite_engine::stream::{Stream, StreamId};
use redis_lite_engine::Value;

use crate::persistence::rdb::Dataset;
use redis_lite_persist::aof::{base_name, encode_command, FileKind, ManifestFile};
use redis_lite_persist::{Keyring, OutFile, RdbWriter};

use super::Files;
use crate::error::CommandError;
use crate::log;
use crate::persistence::{JobKind, Progress};
use crate::server::Server;

/// Elements per RPUSH/SADD/HMSET/ZADD in a command-form base, as Redis's rewrite batches them.
const ITEMS_PER_COMMAND: usize = 64;

/// The rewrite thread's queue and INFO's rewrite statistics.
#[derive(Default)]
pub struct Control {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    requested: bool,
    /// The requested (or running) rewrite switches AOF on.
    enable: bool,
    /// The incremental file BGREWRITEAOF listed for the requested rewrite's cut.
    listed_incr: Option<u64>,
    running: Option<Instant>,
    /// The running rewrite's progress, once it has the background job slot: switching AOF off
    /// aborts it through this.
    progress: Option<Arc<Progress>>,
    /// BGREWRITEAOF answered that the rewrite is scheduled (it waits for a BGSAVE), not started.
    scheduled: bool,
    /// Bumped when AOF is switched off: a rewrite that began before it is discarded.
    epoch: u64,
    /// Seconds the last rewrite took; None before the first.
    last_time_sec: Option<u64>,
    last_failed: bool,
    rewrites: u64,
    consecutive_failures: u64,
}

/// Rewrite figures for INFO.
pub struct Info {
    pub in_progress: bool,
    pub scheduled: bool,
    pub last_time_sec: i64,
    pub current_time_sec: i64,
    pub last_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
}

impl Control {
    /// BGREWRITEAOF: queues a rewrite, unless one is already queued or running. One that
    /// starts `now` (no BGSAVE or transaction to wait for) lists its new incremental file
    /// first, and is refused when that fails, as Redis refuses it.
    pub fn start(&self, aof: &super::Aof, now: bool) -> Result<(), CommandError> {
        let busy =
            || CommandError::err("Background append only file rewriting already in progress");
        let idle = |state: &State| state.running.is_none() && !state.requested;
        if !idle(&self.state.lock()) {
            return Err(busy());
        }
        // Not under the state's lock: the AOF writer takes the files' lock before it.
        let listed = match now {
            true => aof.list_rewrite_incr(),
            false => Ok(None),
        };
        let mut state = self.state.lock();
        match listed {
            // Another BGREWRITEAOF got in meanwhile (the file listed stays empty).
            Ok(_) if !idle(&state) => Err(busy()),
            Ok(listed) => {
                state.listed_incr = listed;
                state.requested = true;
                state.scheduled = !now;
                self.wake.notify_one();
                Ok(())
            }
            Err(_) => {
                state.last_failed = true;
                Err(CommandError::err(
                    "Can't execute an AOF background rewriting. Please check the server logs for \
                     more information.",
                ))
            }
        }
    }

    /// Queues a rewrite, after the running one if any (a replica's full sync: the data it
    /// loaded must reach the AOF's base).
    pub(crate) fn request(&self, enable: bool) {
        let mut state = self.state.lock();
        state.requested = true;
        state.enable |= enable;
        self.wake.notify_one();
    }

    /// Running, or queued for the rewrite thread: BGREWRITEAOF's caller must see it begun, as
    /// Redis's fork has begun it before the reply.
    pub fn in_progress(&self) -> bool {
        let state = self.state.lock();
        state.running.is_some() || state.requested
    }

    /// Whether AOF is being switched on (its first base is queued or being written).
    pub fn enabling(&self) -> bool {
        let state = self.state.lock();
        state.enable && (state.requested || state.running.is_some())
    }

    pub(super) fn cancel(&self) {
        let mut state = self.state.lock();
        if let Some(progress) = &state.progress {
            progress.abort.store(true, Relaxed);
        }
        // A rewrite BGREWRITEAOF reported started is one Redis has forked, even if the thread
        // has yet to take the job slot: Redis's line (scripts and its tests watch for it). The
        // rewrite runs on a thread of this process, so the pid is this process's.
        let started = state.progress.is_some()
            || ((state.requested || state.running.is_some()) && !state.scheduled);
        if started {
            log!(
                Notice,
                "Killing running AOF rewrite child: {}",
                std::process::id()
            );
        }
        state.epoch += 1;
        state.enable = false;
        state.requested = false;
        // The file it listed stays empty; the next rewrite's base drops it from the manifest.
        state.listed_incr = None;
    }

    fn epoch(&self) -> u64 {
        self.state.lock().epoch
    }

    /// Forgets the base written at start-up for a new AOF, which Redis does not count as a
    /// rewrite (`aof_rewrites:0`, `aof_last_rewrite_time_sec:-1` after the start).
    pub(super) fn forget_startup_base(&self) {
        let mut state = self.state.lock();
        state.rewrites = 0;
        state.last_time_sec = None;
    }

    /// INFO's figures, `other_job` telling whether a BGSAVE holds the background job slot. As
    /// Redis reports them: a rewrite requested is in progress at once (Redis forks it before
    /// BGREWRITEAOF replies), unless it waits for that BGSAVE, when it is scheduled instead.
    pub fn info(&self, other_job: bool) -> Info {
        let state = self.state.lock();
        let pending = state.requested || state.running.is_some();
        let behind_other_job = pending && state.progress.is_none() && other_job;
        Info {
            in_progress: pending && !behind_other_job,
            scheduled: behind_other_job || (state.requested && state.running.is_some()),
            last_time_sec: state.last_time_sec.map_or(-1, |s| s as i64),
            current_time_sec: state.running.map_or(-1, |t| t.elapsed().as_secs() as i64),
            last_ok: !state.last_failed,
            rewrites: state.rewrites,
            consecutive_failures: state.consecutive_failures,
        }
    }
}

/// The rewrite thread: runs each requested rewrite in turn.
pub fn run(server: &Server) {
    let control = &server.aof.rewrite;
    loop {
        {
            let mut state = control.state.lock();
            while !state.requested {
                control.wake.wait(&mut state);
            }
        }
        run_requested(server, true);
    }
}

/// Runs the rewrite that was requested, on the calling thread; `announce`: with the log lines
/// of a background rewrite (not for the base a start-up creates, which Redis names instead).
/// Nothing when AOF was switched off since the request: the request and its epoch are taken
/// under one lock, or a rewrite cancelled in between would run to its end under the new epoch.
pub(super) fn run_requested(server: &Server, announce: bool) {
    let control = &server.aof.rewrite;
    let (enable, epoch) = {
        let mut state = control.state.lock();
        if !state.requested {
            return;
        }
        state.requested = false;
        state.running = Some(Instant::now());
        state.rewrites += 1;
        (state.enable, state.epoch)
    };
    let listed_incr = control.state.lock().listed_incr.take();
    if announce {
        log!(Notice, "Background append only file rewriting started");
    }
    let started = Instant::now();
    let result = rewrite(server, enable, epoch, listed_incr);
    {
        let mut state = control.state.lock();
        state.running = None;
        if enable && state.epoch == epoch {
            state.enable = false;
        }
        match result {
            Ok(true) => {
                state.last_time_sec = Some(started.elapsed().as_secs());
                state.last_failed = false;
                state.consecutive_failures = 0;
                if announce {
                    log!(Notice, "Background AOF rewrite finished successfully");
                }
            }
            Ok(false) => log!(
                Notice,
                "Background AOF rewrite discarded: AOF was switched off"
            ),
            Err(e) => {
                state.last_failed = true;
                state.consecutive_failures += 1;
                log!(
                    Warning,
                    "Background AOF rewrite failed: {}",
                    crate::error::strerror(&e)
                );
            }
        }
    }
}

/// Runs one rewrite in the background job slot it shares with BGSAVE, waiting for a BGSAVE to
/// finish first (Redis runs one child at a time, and queues the rewrite meanwhile).
fn rewrite(
    server: &Server,
    enable: bool,
    epoch: u64,
    listed_incr: Option<u64>,
) -> io::Result<bool> {
    let persistence = &server.persistence;
    let progress = loop {
        match persistence.claim(JobKind::AofRewrite) {
            Ok(progress) => break progress,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    {
        let mut state = server.aof.rewrite.state.lock();
        // Switched off while it waited for the slot: it stops at its first check.
        if state.epoch != epoch {
            progress.abort.store(true, Relaxed);
        }
        state.progress = Some(progress.clone());
        state.scheduled = false;
    }
    let result = rewrite_in_slot(server, enable, epoch, listed_incr, &progress);
    server.aof.rewrite.state.lock().progress = None;
    persistence.release();
    result
}

/// Runs one rewrite. `enable` switches AOF on at the cut, whose new incremental file is
/// `listed_incr` when BGREWRITEAOF already listed it. Returns false when AOF was switched off
/// meanwhile and the result discarded.
fn rewrite_in_slot(
    server: &Server,
    enable: bool,
    epoch: u64,
    listed_incr: Option<u64>,
    progress: &Progress,
) -> io::Result<bool> {
    let aof = &server.aof;
    let config = server.config.read().clone();
    let live = aof.is_on();
    let start = enable && !live;
    if !live {
        *aof.files.lock() = Some(Files::open_dir(&config)?);
    }
    let (base_seq, incr_seq, dir) = {
        let files = aof.files.lock();
        let Some(f) = files.as_ref() else {
            return Ok(false);
        };
        let open = f.incr.as_ref().map_or(0, |(_, seq)| *seq);
        (
            f.manifest.base_seq() + 1,
            listed_incr.unwrap_or(f.manifest.incr_seq().max(open) + 1),
            f.dir.clone(),
        )
    };
    let mut cut = false;
    let snapshot = {
        // The cron gate keeps EXEC and the commands that lock every shard from straddling the
        // cut.
        let _gate = server.gates[server.gates.len() - 1].read();
        crate::persistence::rdb::capture(server, || {
            if (live || start) && aof.rewrite.epoch() == epoch {
                aof.cut(incr_seq, live, start, config.sealing());
                cut = true;
            }
        })
    };
    let snapshot = snapshot.ok_or_else(|| io::Error::other("another snapshot is running"))?;
    let temp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let rdb = config.aof_use_rdb_preamble;
    let delay = config.rdb_key_save_delay;
    let written = write_base(
        server,
        &temp,
        snapshot,
        rdb,
        config.sealing(),
        progress,
        delay,
    );
    let discard = || {
        if start {
            aof.abandon_recording();
        }
        let _ = std::fs::remove_file(&temp);
        Ok(false)
    };
    if let Err(e) = written {
        // Aborted because AOF was switched off: discarded, not failed, as Redis counts a
        // rewrite child it killed itself.
        if aof.rewrite.epoch() != epoch {
            return discard();
        }
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    // The writer opens the new incremental file at the cut's place in the log.
    while cut && aof.is_on() {
        let files = aof.files.lock();
        if files
            .as_ref()
            .is_some_and(|f| f.incr.as_ref().is_some_and(|(_, s)| *s == incr_seq))
        {
            break;
        }
        drop(files);
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut files = aof.files.lock();
    let cancelled = aof.rewrite.epoch() != epoch;
    let Some(f) = files.as_mut().filter(|_| !cancelled) else {
        return discard();
    };
    let name = base_name(&f.prefix, base_seq, rdb);
    std::fs::rename(&temp, f.path(&name))?;
    // The files the new base replaces become history, newest first as Redis lists them (the
    // old base, then each replaced incremental file, each put in front), and are deleted at
    // once unless `aof-disable-auto-gc`.
    let mut replaced: Vec<ManifestFile> = f.manifest.base.take().into_iter().collect();
    let (kept, rewritten) = std::mem::take(&mut f.manifest.incr)
        .into_iter()
        .partition(|i| i.seq >= incr_seq && !start);
    f.manifest.incr = kept;
    replaced.extend(rewritten);
    for mut file in replaced {
        file.kind = FileKind::History;
        f.manifest.history.insert(0, file);
    }
    f.manifest.base = Some(ManifestFile {
        name,
        seq: base_seq,
        kind: FileKind::Base,
    });
    if start {
        f.manifest.incr = vec![ManifestFile {
            name: redis_lite_persist::aof::incr_name(&f.prefix, incr_seq),
            seq: incr_seq,
            kind: FileKind::Incr,
        }];
    }
    f.persist_manifest()?;
    if !config.tuning.aof_disable_auto_gc {
        f.delete_history()?;
    }
    let size = f.size();
    aof.current_size.store(size, Relaxed);
    aof.base_size.store(size, Relaxed);
    if !live && !start {
        // BGREWRITEAOF with AOF off leaves a base for a later start, and nothing open.
        *files = None;
    }
    Ok(true)
}

/// Writes the base to `path` and fsyncs it: an RDB (`aof-use-rdb-preamble yes`) or commands,
/// sealed from the first byte with `seal`, waiting `key_delay_us` after each key
/// (`rdb-key-save-delay`, which Redis's rewrite honours in both forms).
fn write_base(
    server: &Server,
    path: &std::path::Path,
    base: Dataset,
    rdb: bool,
    seal: Option<Arc<Keyring>>,
    progress: &Progress,
    key_delay_us: i64,
) -> io::Result<()> {
    let file = OutFile::new(File::create(path)?, seal.as_deref())?;
    let file = if rdb {
        let opts = crate::persistence::rdb::write_options(server);
        let mut w = RdbWriter::new(file, opts);
        w.write_header()?;
        w.write_aof_base_aux(redis_lite_engine::now_ms() / 1000, crate::memory::used())?;
        crate::persistence::rdb::write_snapshot(server, base, &mut w, progress, key_delay_us)?;
        w.finish()?
    } else {
        let Dataset {
            mut snapshot,
            functions,
            ..
        } = base;
        let mut file = file;
        let mut buf = Vec::new();
        // A command-form base opens with its time when annotations are on, as Redis's does.
        if server.config.read().aof_timestamp_enabled {
            let now_secs = redis_lite_engine::now_ms() / 1000;
            buf.extend_from_slice(format!("#TS:{now_secs}\r\n").as_bytes());
        }
        for code in &functions {
            encode_command(&mut buf, &[b"FUNCTION".as_slice(), b"LOAD", code]);
        }
        // Written now: a dataset with no key has functions all the same.
        file.write_all(&buf)?;
        buf.clear();
        let sizes = snapshot.db_sizes().to_vec();
        for (db, _) in sizes.iter().enumerate().filter(|(_, s)| s.0 > 0) {
            encode_command(&mut buf, &[b"SELECT".as_slice(), db.to_string().as_bytes()]);
            for shard in 0..snapshot.shard_count() {
                if progress.abort.load(Relaxed) {
                    return Err(io::Error::other("the rewrite was aborted"));
                }
                for e in snapshot.take_shard(shard, db) {
                    commands_for(&mut buf, &e.key, &e.value, e.expire_at_ms);
                    crate::persistence::rdb::key_delay(progress, key_delay_us)?;
                }
                file.write_all(&buf)?;
                buf.clear();
            }
        }
        // What no database's keys carried out: the annotation and functions of a base
        // without keys.
        file.write_all(&buf)?;
        server.observability.latency.record(
            crate::observability::latency::SNAPSHOT_HOLD,
            snapshot.longest_hold(),
        );
        file
    };
    file.finish()?.sync_all()
}

/// The commands that rebuild one key: SET, or RPUSH/SADD/HMSET/ZADD in batches, or a stream's
/// commands, then PEXPIREAT.
fn commands_for(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: Option<i64>) {
    let mut batched = |verb: &[u8], fields: Vec<Vec<u8>>, per_item: usize| {
        for chunk in fields.chunks(ITEMS_PER_COMMAND * per_item) {
            let mut args: Vec<&[u8]> = vec![verb, key];
            args.extend(chunk.iter().map(Vec::as_slice));
            encode_command(out, &args);
        }
    };
    match value {
        Value::List(list) => batched(b"RPUSH", list.iter().map(|e| e.to_vec()).collect(), 1),
        Value::Set(set) => batched(b"SADD", set.iter().map(|m| m.to_vec()).collect(), 1),
        Value::Hash(hash) => batched(
            b"HMSET",
            hash.iter()
                .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                .collect(),
            2,
        ),
        Value::ZSet(zset) => {
            let mut fields = Vec::with_capacity(zset.len() * 2);
            zset.range(0, zset.len(), false, |member, score| {
                fields.push(redis_lite_persist::rdb::score_text(score));
                fields.push(member.to_vec());
            });
            batched(b"ZADD", fields, 2)
        }
        Value::Stream(stream) => stream_commands(out, key, stream),
        string => {
            let bytes = string
                .string_bytes()
                .expect("the other types are matched above");
            encode_command(out, &[b"SET".as_slice(), key, &bytes]);
        }
    }
    if let Some(at) = expire_at {
        encode_command(
            out,
            &[b"PEXPIREAT".as_slice(), key, at.to_string().as_bytes()],
        );
    }
}

/// The commands that rebuild a stream, as Redis 7.0's rewrite writes them: an XADD per entry
/// (for an empty stream, an XADD its MAXLEN 0 removes at once, so that the key exists), XSETID
/// with the last ID, entries added and largest deleted ID, then per group XGROUP CREATE with its
/// entries-read (-1 when unknown) and, per consumer, an XCLAIM ... FORCE for each entry it has
/// pending (delivery time and count kept) or XGROUP CREATECONSUMER when it has none.
fn stream_commands(out: &mut Vec<u8>, key: &[u8], stream: &Stream) {
    if stream.is_empty() {
        encode_command(
            out,
            &[b"XADD".as_slice(), key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    }
    let mut args: Vec<Vec<u8>> = Vec::new();
    for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
        args.clear();
        args.push(entry.id.to_text());
        for (field, value) in entry.fields() {
            args.push(field.to_vec());
            args.push(value.to_vec());
        }
        let mut command: Vec<&[u8]> = vec![b"XADD", key];
        command.extend(args.iter().map(Vec::as_slice));
        encode_command(out, &command);
    }
    let mut digits = itoa::Buffer::new();
    encode_command(
        out,
        &[
            b"XSETID".as_slice(),
            key,
            &stream.last_id().to_text(),
            b"ENTRIESADDED",
            digits.format(stream.entries_added()).as_bytes(),
            b"MAXDELETEDID",
            &stream.max_deleted_id().to_text(),
        ],
    );
    for (name, group) in &stream.groups {
        let entries_read = group.entries_read.map_or(-1, |n| n as i64);
        encode_command(
            out,
            &[
                b"XGROUP".as_slice(),
                b"CREATE",
                key,
                name,
                &group.last_id.to_text(),
                b"ENTRIESREAD",
                digits.format(entries_read).as_bytes(),
            ],
        );
        for (consumer_name, consumer) in &group.consumers {
            if consumer.pending.is_empty() {
                encode_command(
                    out,
                    &[
                        b"XGROUP".as_slice(),
                        b"CREATECONSUMER",
                        key,
                        name,
                        consumer_name,
                    ],
                );
                continue;
            }
            for id in &consumer.pending {
                let pending = &group.pending[id];
                let mut count = itoa::Buffer::new();
                encode_command(
                    out,
                    &[
                        b"XCLAIM".as_slice(),
                        key,
                        name,
                        consumer_name,
                        b"0",
                        &id.to_text(),
                        b"TIME",
                        digits.format(pending.delivery_time).as_bytes(),
                        b"RETRYCOUNT",
                        count.format(pending.delivery_count).as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}
