//! A replica's full sync: the master's snapshot after `+FULLRESYNC`, framed `$<len>` (a
//! disk-based master) or `$EOF:<mark>` (a diskless one, the mark's 40 bytes closing the
//! stream), loaded as `repl-diskless-load` says:
//! - `disabled` (or `on-empty-db` with data): into a temporary file in `dir` first; then the
//!   old data is flushed and the file loaded (and kept as `dbfilename`, as Redis keeps it).
//! - `on-empty-db` with an empty dataset: straight from the socket into the keyspace.
//! - `swapdb`: straight from the socket into a staging area, the old data untouched (and
//!   still served, when the master's history is the one this server already had) until the
//!   whole snapshot arrived; then swapped in. A failed load leaves the old data as it was.
//!
//! The keyspace being replaced is a load (`persistence::loading`): clients wait, or get
//! `-LOADING` at its serving points. Keys already expired are loaded too: the master's DELs
//! remove them, as on a Redis replica. The snapshot's `repl-stream-db` aux field is the
//! database the master's stream continues in.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_lite_persist::{read_rdb, Event, RdbError};

use super::replica::{Link, LinkError, LinkState};
use crate::config::{DisklessLoad, LogLevel};
use crate::log;
use crate::persistence::begin_loading;
use crate::persistence::rdb::{KeyLoader, OnDuplicate};
use crate::server::Server;

/// The length of the EOF mark of a diskless master's snapshot.
pub(super) const EOF_MARK_LEN: usize = 40;

/// How the snapshot is framed.
pub(super) enum Framing {
    Length(u64),
    EofMark(Vec<u8>),
}

/// What a full sync leaves for the stream that follows.
pub(super) struct Synced {
    /// The database the master's stream continues in.
    pub db: usize,
    /// The snapshot came with an EOF mark: the master waits for a first ACK before it sends
    /// the stream (Redis's replica sends it at once).
    pub ack_now: bool,
}

/// Receives and loads the master's snapshot, whose history is `replid`.
pub(super) fn full_sync(link: &mut Link<'_>, replid: &str) -> Result<Synced, LinkError> {
    let server = link.server;
    let replica = &server.replication.replica;
    replica.set_state(LinkState::Transfer);
    replica.set_transfer(|t| {
        t.size = -1;
        t.read = 0;
        t.last_io = unix_secs();
    });
    let framing = payload_header(link)?;
    let (mode, lazy) = {
        let config = server.config.read();
        (config.repl_diskless_load, config.replica_lazy_flush)
    };
    let diskless = match mode {
        DisklessLoad::Disabled => false,
        DisklessLoad::OnEmptyDb => server.keyspace.key_count() == 0,
        DisklessLoad::Swapdb => true,
    };
    let target = if diskless { "parser" } else { "disk" };
    match &framing {
        Framing::Length(len) => {
            replica.set_transfer(|t| t.size = *len as i64);
            log!(
                Notice,
                "MASTER <-> REPLICA sync: receiving {len} bytes from master to {target}"
            );
        }
        Framing::EofMark(_) => {
            replica.set_transfer(|t| t.size = 0);
            log!(
                Notice,
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {target}"
            );
        }
    }
    let ack_now = matches!(framing, Framing::EofMark(_));
    let db = match (diskless, mode) {
        (false, _) => load_through_file(link, &framing, lazy)?,
        (true, DisklessLoad::Swapdb) => {
            // The old data is what this server had of the same history: it keeps serving it
            // meanwhile, as Redis's async loading does.
            let same_history = server.replication.ids().replid == replid;
            load_swapping(link, &framing, same_history, lazy)?
        }
        (true, _) => load_from_socket(link, &framing, lazy)?,
    };
    Ok(Synced { db, ack_now })
}

fn unix_secs() -> u64 {
    redis_lite_engine::now_ms() / 1000
}

/// Reads the `$...` line before the snapshot, skipping the newlines the master sends while it
/// prepares it.
fn payload_header(link: &mut Link<'_>) -> Result<Framing, LinkError> {
    let timeout = Duration::from_secs(link.server.config.read().repl_timeout);
    let line = link.reply_line(timeout, "waiting for the snapshot")?;
    link.server
        .replication
        .replica
        .set_transfer(|t| t.last_io = unix_secs());
    parse_payload_header(&line)
}

/// The `$<len>` or `$EOF:<mark>` line that opens the snapshot, or the master's error.
pub(super) fn parse_payload_header(line: &str) -> Result<Framing, LinkError> {
    if let Some(error) = line.strip_prefix('-') {
        return Err(LinkError::Failed(format!(
            "MASTER aborted replication with an error: {error}"
        )));
    }
    let Some(header) = line.strip_prefix('$') else {
        return Err(LinkError::Failed(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{line}'), are you sure the host and port are right?"
        )));
    };
    if let Some(mark) = header.strip_prefix("EOF:") {
        if mark.len() >= EOF_MARK_LEN {
            return Ok(Framing::EofMark(mark.as_bytes()[..EOF_MARK_LEN].to_vec()));
        }
    }
    header
        .parse::<u64>()
        .map(Framing::Length)
        .map_err(|_| LinkError::Failed(format!("Bad protocol from MASTER: '{line}'")))
}

/// The snapshot's bytes as they arrive: from the link's buffer, then its socket, bounded by the
/// payload's length when it has one, with `repl-timeout` between two reads.
struct Payload<'l, 's> {
    link: &'l mut Link<'s>,
    left: Option<u64>,
    last_io: Instant,
    timeout: Duration,
    /// Why a read failed, in the link's words (an `io::Error` loses them in the RDB reader).
    failure: Option<LinkError>,
}

impl<'l, 's> Payload<'l, 's> {
    fn new(link: &'l mut Link<'s>, framing: &Framing) -> Self {
        let timeout = Duration::from_secs(link.server.config.read().repl_timeout);
        let left = match framing {
            Framing::Length(len) => Some(*len),
            Framing::EofMark(_) => None,
        };
        Payload {
            link,
            left,
            last_io: Instant::now(),
            timeout,
            failure: None,
        }
    }

    fn fail(&mut self, why: LinkError) -> io::Error {
        let text = match &why {
            LinkError::Stopped => "the link was stopped".to_string(),
            LinkError::Failed(why) => why.clone(),
        };
        self.failure = Some(why);
        io::Error::other(text)
    }

    /// The error to report for a failed load: the link's own if a read failed.
    fn error(&mut self, fallback: String) -> LinkError {
        self.failure.take().unwrap_or(LinkError::Failed(fallback))
    }
}

impl Read for Payload<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.left == Some(0) || out.is_empty() {
            return Ok(0);
        }
        loop {
            let conn = self.link.conn();
            let available = conn.buf.len() - conn.pos;
            if available > 0 {
                let mut n = available.min(out.len());
                if let Some(left) = self.left {
                    n = n.min(left as usize);
                    self.left = Some(left - n as u64);
                }
                out[..n].copy_from_slice(&conn.buf[conn.pos..conn.pos + n]);
                conn.pos += n;
                return Ok(n);
            }
            if let Err(e) = self.link.check() {
                return Err(self.fail(e));
            }
            if self.last_io.elapsed() > self.timeout {
                return Err(self.fail(LinkError::Failed(
                    "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.".into(),
                )));
            }
            match self.link.conn().fill() {
                Ok(0) => {}
                Ok(n) => {
                    let stats = &self.link.server.stats;
                    stats.repl_input_bytes.fetch_add(n as u64, Relaxed);
                    self.last_io = Instant::now();
                    self.link.server.replication.replica.set_transfer(|t| {
                        t.read += n as i64;
                        // What came after a payload of known length is the stream.
                        if t.size > 0 {
                            t.read = t.read.min(t.size);
                        }
                        t.last_io = unix_secs();
                    });
                }
                Err(e) => {
                    let why = format!(
                        "I/O error trying to sync with MASTER: {}",
                        crate::error::strerror(&e)
                    );
                    return Err(self.fail(LinkError::Failed(why)));
                }
            }
        }
    }
}

/// Empties the dataset (keys and function libraries) for the master's.
pub(super) fn flush_old_data(server: &Server, lazy: bool) {
    server.keyspace.flush(None, lazy);
    server.tracking.flushed();
    super::replica::forget_own_volatile(server);
    server.scripting.clear_libraries();
}

/// Reads an RDB stream, handing each event to `sink`. Returns the `repl-stream-db` it names
/// (0 when it names none).
fn read_snapshot(
    server: &Server,
    input: impl Read,
    mut sink: impl FnMut(Event) -> Result<(), String>,
) -> Result<usize, String> {
    let limits = server.config.encoding.load();
    let mut stream_db = 0;
    let input = server.persistence.loading.counting(input, 0);
    read_rdb(input, limits, |event| match event {
        Event::Aux { key, value } if key == b"repl-stream-db" => {
            stream_db = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|&db: &usize| db < server.keyspace.databases())
                .unwrap_or(0);
            Ok(())
        }
        event => sink(event),
    })
    .map_err(|e| {
        // Redis's words: a snapshot cut short is taken for a broken link, anything else for
        // a bad snapshot.
        let after = if e.is_unexpected_eof() {
            ". Failure loading rdb format from socket, assuming connection error, resuming operation."
        } else {
            ". Failure loading rdb format"
        };
        if !matches!(e, RdbError::Visitor(_)) {
            crate::persistence::rdb::log_read_error(LogLevel::Warning, &e, after);
        }
        e.to_string()
    })?;
    Ok(stream_db)
}

/// Puts loaded keys in place as a replica does: already expired ones too.
fn key_loader(server: &Server) -> KeyLoader<'_> {
    KeyLoader::new(server, OnDuplicate::Fail, false)
}

/// After a load from the socket with the EOF framing: the mark must follow the snapshot.
fn check_eof_mark(payload: &mut Payload<'_, '_>, framing: &Framing) -> Result<(), LinkError> {
    let Framing::EofMark(mark) = framing else {
        return Ok(());
    };
    let mut tail = vec![0u8; EOF_MARK_LEN];
    if payload.read_exact(&mut tail).is_err() || tail != *mark {
        let error = payload.error(String::new());
        if let LinkError::Stopped = error {
            return Err(error);
        }
        return Err(LinkError::Failed(
            "Replication stream EOF marker is broken".into(),
        ));
    }
    Ok(())
}

/// `on-empty-db`: straight from the socket into the (empty) keyspace.
fn load_from_socket(
    link: &mut Link<'_>,
    framing: &Framing,
    lazy: bool,
) -> Result<usize, LinkError> {
    let server: &Arc<Server> = link.server;
    super::replica::attach_to_new_master(server);
    log!(Notice, "MASTER <-> REPLICA sync: Flushing old data");
    flush_old_data(server, lazy);
    log!(Notice, "MASTER <-> REPLICA sync: Loading DB in memory");
    let total = match framing {
        Framing::Length(len) => *len,
        Framing::EofMark(_) => 0,
    };
    let _loading = begin_loading(server, total);
    let mut payload = Payload::new(link, framing);
    let mut loader = key_loader(server);
    let loaded = read_snapshot(server, &mut payload, |event| loader.event(event));
    let result = match loaded {
        Ok(db) => check_eof_mark(&mut payload, framing).map(|()| db),
        Err(e) => Err(payload.error(e)),
    };
    match result {
        Ok(db) => {
            loader.finish();
            Ok(db)
        }
        Err(e) => {
            log!(
                Warning,
                "Failed trying to load the MASTER synchronization DB from socket, check server logs."
            );
            flush_old_data(server, lazy);
            Err(e)
        }
    }
}

/// [`Persistence::async_loading`](crate::persistence::Persistence::async_loading) for as
/// long as it lives, failures included.
struct AsyncLoading<'s>(&'s Server);

impl<'s> AsyncLoading<'s> {
    /// With INFO's `loading_*` fields from now, as Redis shows them during an async load.
    fn begin(server: &'s Server, total_bytes: u64) -> Self {
        server.persistence.loading.record_start(total_bytes);
        server.persistence.async_loading.store(true, Relaxed);
        AsyncLoading(server)
    }
}

impl Drop for AsyncLoading<'_> {
    fn drop(&mut self) {
        self.0.persistence.async_loading.store(false, Relaxed);
    }
}

/// `swapdb`: the snapshot is read whole into a staging area, then replaces the dataset.
fn load_swapping(
    link: &mut Link<'_>,
    framing: &Framing,
    same_history: bool,
    lazy: bool,
) -> Result<usize, LinkError> {
    let server: &Arc<Server> = link.server;
    log!(Notice, "MASTER <-> REPLICA sync: Loading DB in memory");
    let total = match framing {
        Framing::Length(len) => *len,
        Framing::EofMark(_) => 0,
    };
    let loading = (!same_history).then(|| begin_loading(server, total));
    let async_loading = same_history.then(|| AsyncLoading::begin(server, total));
    let mut payload = Payload::new(link, framing);
    let mut staged = Vec::new();
    let loaded = read_snapshot(server, &mut payload, |event| {
        if matches!(
            event,
            Event::SelectDb(_)
                | Event::Entry { .. }
                | Event::Function(_)
                | Event::EmptyKeySkipped(_)
        ) {
            staged.push(event);
        }
        Ok(())
    });
    let result = match loaded {
        Ok(db) => check_eof_mark(&mut payload, framing).map(|()| db),
        Err(e) => Err(payload.error(e)),
    };
    let db = match result {
        Ok(db) => db,
        Err(e) => {
            log!(
                Warning,
                "Failed trying to load the MASTER synchronization DB from socket, check server logs."
            );
            log!(
                Notice,
                "MASTER <-> REPLICA sync: Discarding the half-loaded data"
            );
            return Err(e);
        }
    };
    drop(async_loading);
    super::replica::attach_to_new_master(server);
    log!(
        Notice,
        "MASTER <-> REPLICA sync: Swapping active DB with loaded DB"
    );
    let _loading = loading.unwrap_or_else(|| begin_loading(server, total));
    flush_old_data(server, lazy);
    let mut loader = key_loader(server);
    for event in staged {
        // Keys are unique in a snapshot, and functions load the same from a staging area:
        // whatever failed here failed in the master's file too.
        if let Err(e) = loader.event(event) {
            log!(Warning, "Failed loading the MASTER synchronization DB: {e}");
            flush_old_data(server, lazy);
            return Err(LinkError::Failed(String::new()));
        }
    }
    loader.finish();
    log!(
        Notice,
        "MASTER <-> REPLICA sync: Discarding old DB in background"
    );
    Ok(db)
}

/// `disabled`: into a temporary file, then loaded from it.
fn load_through_file(
    link: &mut Link<'_>,
    framing: &Framing,
    lazy: bool,
) -> Result<usize, LinkError> {
    let server: &Arc<Server> = link.server;
    let (dir, dbfilename, sealed) = {
        let config = server.config.read();
        (
            config.dir.clone(),
            config.dbfilename.clone(),
            config.sealing().is_some(),
        )
    };
    let temp = dir.join(format!("temp-{}.{}.rdb", unix_secs(), std::process::id()));
    let received = receive_to_file(link, framing, &temp);
    if let Err(e) = received {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    super::replica::attach_to_new_master(server);
    log!(Notice, "MASTER <-> REPLICA sync: Flushing old data");
    let total = std::fs::metadata(&temp).map_or(0, |m| m.len());
    let _loading = begin_loading(server, total);
    flush_old_data(server, lazy);
    log!(Notice, "MASTER <-> REPLICA sync: Loading DB in memory");
    let mut loader = key_loader(server);
    let loaded = File::open(&temp)
        .map_err(|e| crate::error::strerror(&e))
        .and_then(|file| {
            read_snapshot(server, BufReader::with_capacity(1 << 16, file), |event| {
                loader.event(event)
            })
        });
    let db = match loaded {
        Ok(db) => db,
        Err(e) => {
            log!(Warning, "{e}");
            log!(
                Warning,
                "Failed trying to load the MASTER synchronization DB from disk, check server logs."
            );
            flush_old_data(server, lazy);
            let _ = std::fs::remove_file(&temp);
            return Err(LinkError::Failed(String::new()));
        }
    };
    loader.finish();
    // Redis keeps the master's snapshot as its own; a server that seals its files at rest
    // does not keep a plain one.
    let kept = !sealed && std::fs::rename(&temp, dir.join(&dbfilename)).is_ok();
    if !kept {
        let _ = std::fs::remove_file(&temp);
    } else if super::deletes_sync_files(&server.config.read()) {
        log!(
            Notice,
            "Removing the RDB file obtained from the master. This replica has no persistence enabled."
        );
        let _ = std::fs::remove_file(dir.join(&dbfilename));
    }
    Ok(db)
}

/// Writes the payload to `path`, fsynced. With the EOF framing the payload ends where the
/// bytes received end with the mark, which is cut off.
fn receive_to_file(
    link: &mut Link<'_>,
    framing: &Framing,
    path: &PathBuf,
) -> Result<(), LinkError> {
    let file = File::create(path).map_err(|e| {
        LinkError::Failed(format!(
            "Opening the temp file needed for MASTER <-> REPLICA synchronization: {}",
            crate::error::strerror(&e)
        ))
    })?;
    let write_error = |e: io::Error| {
        LinkError::Failed(format!(
            "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {}",
            crate::error::strerror(&e)
        ))
    };
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut payload = Payload::new(link, framing);
    let mut chunk = vec![0u8; 1 << 16];
    let mut written = 0u64;
    let mut tail: Vec<u8> = Vec::with_capacity(2 * EOF_MARK_LEN);
    loop {
        let n = match payload.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(payload.error(e.to_string())),
        };
        out.write_all(&chunk[..n]).map_err(write_error)?;
        written += n as u64;
        if let Framing::EofMark(mark) = framing {
            tail.extend_from_slice(&chunk[..n]);
            if tail.len() > EOF_MARK_LEN {
                tail.drain(..tail.len() - EOF_MARK_LEN);
            }
            if tail == *mark {
                break;
            }
        }
    }
    let file = out.into_inner().map_err(|e| write_error(e.into_error()))?;
    if matches!(framing, Framing::EofMark(_)) {
        file.set_len(written - EOF_MARK_LEN as u64)
            .map_err(write_error)?;
    }
    file.sync_all().map_err(write_error)?;
    Ok(())
}
