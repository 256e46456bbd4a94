//! The effect journal: the one ordered stream of every write's records, RESP-encoded, in the
//! order the writes were applied (commands append while they hold their shard locks, see
//! `Ctx::propagate`; the engine's expiry and eviction DELs under the key's lock). It owns the
//! framing: a `SELECT` before a record in another database than the last one, and `MULTI` ...
//! `EXEC` around a unit of several records (a transaction, a script, or one command that emits
//! several, as Redis 7 wraps multi-record propagation); a unit of one record goes bare, as
//! Redis 7.0 propagates a transaction or script that wrote once. Its offset counts the bytes
//! appended since start, as Redis's `master_repl_offset`.
//!
//! Sinks read the stream, each from its own cursor: the AOF writer now, a replication backlog
//! later. The journal records only while at least one sink listens, so with the AOF off (and
//! no other sink) a write pays one relaxed atomic load here: no encoding, no lock, and the
//! offset stands still (INFO's replication section does not read it).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use redis_lite_persist::aof::encode_command;

pub mod lazy_expiry;

/// What a sink is told when records become readable past its cursor. It runs with the
/// journal's lock held, so it must be quick and take no lock that is held while appending.
pub trait Sink: Send + Sync {
    /// `unread` bytes now wait past the sink's cursor; `first` when there were none before
    /// (the sink had read everything).
    fn readable(&self, unread: u64, first: bool);
}

/// A sink's handle, from [`Journal::register`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkId(usize);

pub struct Journal {
    /// Whether any sink listens: the one check on the hot path when none does.
    recording: AtomicBool,
    /// Capacity of the stream's buffer: INFO's `mem_aof_buffer`, which `maxmemory` does not
    /// count, as in Redis.
    buffered: AtomicU64,
    stream: Mutex<Stream>,
}

/// Which sinks read a record, as Redis's propagation targets (`PROPAGATE_AOF`,
/// `PROPAGATE_REPL`): every sink, or only the non-replicating ones (the AOF), or only the
/// replicating ones (the backlog).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readers {
    All,
    Aof,
    Replicas,
}

impl Readers {
    /// The readers of `flags` (a script's `redis.set_repl`): None for neither.
    pub fn of(aof: bool, replicas: bool) -> Option<Readers> {
        match (aof, replicas) {
            (true, true) => Some(Readers::All),
            (true, false) => Some(Readers::Aof),
            (false, true) => Some(Readers::Replicas),
            (false, false) => None,
        }
    }

    pub fn aof(self) -> bool {
        self != Readers::Replicas
    }

    pub fn replicas(self) -> bool {
        self != Readers::Aof
    }

    /// The sinks both `self` and `other` name (PUBLISH, for replicas only, in a script that
    /// writes to the AOF only reaches nobody).
    pub fn and(self, other: Readers) -> Option<Readers> {
        Readers::of(
            self.aof() && other.aof(),
            self.replicas() && other.replicas(),
        )
    }
}

/// A sink and how far it has read (None while it does not listen).
struct Reader {
    sink: Arc<dyn Sink>,
    cursor: Option<u64>,
    /// Whether it is a replicating sink (the backlog): it reads the records meant for
    /// replicas only and skips those meant for the AOF only; the others the other way round.
    replicates: bool,
}

/// The stream's byte ranges (absolute offsets, in order) that one kind of sink skips.
#[derive(Default)]
struct Skipped(Vec<Range<u64>>);

impl Skipped {
    /// Marks `from..to`, at the end of the stream, as skipped.
    fn mark(&mut self, from: u64, to: u64) {
        match self.0.last_mut() {
            Some(last) if last.end >= from => last.end = last.end.max(to),
            _ => self.0.push(from..to),
        }
    }

    /// Marks `range`, just inserted before the end (by [`Skipped::inserted`]), as skipped.
    fn mark_inserted(&mut self, range: Range<u64>) {
        let at = self.0.partition_point(|r| r.start < range.start);
        self.0.insert(at, range);
    }

    /// `shift` bytes were inserted at `at`: the ranges after it move up, and a range running
    /// across it is split around it.
    fn inserted(&mut self, at: u64, shift: u64) {
        let mut ranges = Vec::with_capacity(self.0.len() + 1);
        for range in self.0.drain(..) {
            if range.end <= at {
                ranges.push(range);
                continue;
            }
            if range.start < at {
                ranges.push(range.start..at);
            }
            ranges.push(range.start.max(at) + shift..range.end + shift);
        }
        self.0 = ranges;
    }

    /// Whether some skipped byte lies past `cursor`.
    fn any_after(&self, cursor: u64) -> bool {
        self.0.iter().any(|r| r.end > cursor)
    }

    /// Forgets the ranges every sink has read past.
    fn forget_before(&mut self, lowest: u64) {
        self.0.retain(|r| r.end > lowest);
    }
}

#[derive(Default)]
struct Stream {
    /// The stream from offset `start` on: what some listening sink has not read yet, then the
    /// open unit's block, if any.
    buf: Vec<u8>,
    start: u64,
    /// The end of what sinks may read: bytes appended since start, open units excepted.
    offset: u64,
    /// The database the non-replicating sinks (the AOF) last had selected; a SELECT precedes
    /// their next record in another one.
    aof_db: Option<usize>,
    /// The database replicating sinks last had selected. Each kind has its own SELECTs when
    /// they differ, after a record for one kind only (Redis keeps one selected database per
    /// sink kind too).
    replicas_db: Option<usize>,
    /// A unit is open (an EXEC or a script is running, or a multi-record command is being
    /// appended).
    unit_open: bool,
    /// Where the open unit's block starts in `buf`, once the unit has a record: its first
    /// record, and the MULTI put before it when a second one comes. Sinks do not see the block
    /// until the unit closes, so no sink (and no file) ever holds half a unit.
    held_from: Option<usize>,
    /// Records in the open unit: with two or more it is framed in MULTI/EXEC.
    unit_records: usize,
    /// The database of the open unit's first record, which its MULTI is selected in.
    unit_db: usize,
    /// What only replicating sinks read: PUBLISH, which Redis sends to replicas and not to
    /// the AOF, and a script's writes after `redis.set_repl(redis.REPL_REPLICA)`.
    replication_only: Skipped,
    /// What only the AOF reads: a script's writes after `redis.set_repl(redis.REPL_AOF)`.
    /// The backlog skips them, so the replication offsets count none of their bytes.
    aof_only: Skipped,
    readers: Vec<Reader>,
}

impl Stream {
    /// The absolute offset of the end of what was appended.
    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Appends one record in `db` for `readers`: first a SELECT for those of them that had
    /// another database selected (in a unit of several, the first record's SELECT before the
    /// MULTI, as Redis frames it).
    fn append<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A], readers: Readers) {
        if self.unit_open && self.unit_records == 1 {
            self.insert_multi();
        }
        let aof_selects = readers.aof() && self.aof_db != Some(db);
        let replicas_select = readers.replicas() && self.replicas_db != Some(db);
        if aof_selects || replicas_select {
            let from = self.end();
            encode_command(&mut self.buf, &["SELECT", &db.to_string()]);
            self.mark(from, Readers::of(aof_selects, replicas_select));
        }
        if readers.aof() {
            self.aof_db = Some(db);
        }
        if readers.replicas() {
            self.replicas_db = Some(db);
        }
        self.count_unit_record(db);
        let from = self.end();
        encode_command(&mut self.buf, args);
        self.mark(from, Some(readers));
    }

    /// Marks the bytes from `from` to the end as read by `readers` only.
    fn mark(&mut self, from: u64, readers: Option<Readers>) {
        let to = self.end();
        match readers {
            Some(Readers::Aof) => self.aof_only.mark(from, to),
            Some(Readers::Replicas) => self.replication_only.mark(from, to),
            Some(Readers::All) | None => {}
        }
    }

    /// Inside an open unit, counts the record about to be appended; the first one starts the
    /// unit's block.
    fn count_unit_record(&mut self, db: usize) {
        if !self.unit_open {
            return;
        }
        if self.unit_records == 0 {
            self.held_from = Some(self.buf.len());
            self.unit_db = db;
        }
        self.unit_records += 1;
    }

    /// Puts MULTI before the open unit's first record, now that a second one comes: a unit of
    /// one record stays bare. The MULTI (and the EXEC) are for every sink, whichever sinks
    /// the records are for, as Redis frames a unit's effects: a sink that had another database
    /// selected than the first record's gets a SELECT of it before the MULTI. The first
    /// record's bytes move up, and so do their ranges.
    fn insert_multi(&mut self) {
        let at = self.held_from.expect("a unit with a record has a block");
        let db = self.unit_db;
        let aof_selects = self.aof_db != Some(db);
        let replicas_select = self.replicas_db != Some(db);
        let mut head = Vec::new();
        if aof_selects || replicas_select {
            encode_command(&mut head, &["SELECT", &db.to_string()]);
        }
        let select = head.len() as u64;
        encode_command(&mut head, &["MULTI"]);
        let (shift, from) = (head.len() as u64, self.start + at as u64);
        self.buf.splice(at..at, head);
        self.replication_only.inserted(from, shift);
        self.aof_only.inserted(from, shift);
        match Readers::of(aof_selects, replicas_select) {
            Some(Readers::Aof) => self.aof_only.mark_inserted(from..from + select),
            Some(Readers::Replicas) => self.replication_only.mark_inserted(from..from + select),
            Some(Readers::All) | None => {}
        }
        self.aof_db = Some(db);
        self.replicas_db = Some(db);
    }

    /// Whether a listening sink of the kind reads.
    fn listening(&self, replicates: bool) -> bool {
        self.readers
            .iter()
            .any(|r| r.replicates == replicates && r.cursor.is_some())
    }

    /// Closes the open unit: its block (with its EXEC when it has several records) becomes
    /// readable. Returns whether it had a record (an empty unit leaves nothing in the stream).
    fn close_unit(&mut self) -> bool {
        self.unit_open = false;
        let records = std::mem::take(&mut self.unit_records);
        if self.held_from.take().is_none() {
            return false;
        }
        if records > 1 {
            encode_command(&mut self.buf, &["EXEC"]);
        }
        true
    }

    /// Moves the end of the readable stream past what was appended outside an open unit, and
    /// tells every listening sink.
    fn publish(&mut self) {
        let end = self.start + self.held_from.unwrap_or(self.buf.len()) as u64;
        if end == self.offset {
            return;
        }
        let before = self.offset;
        self.offset = end;
        for reader in &self.readers {
            if let Some(cursor) = reader.cursor {
                reader.sink.readable(end - cursor, cursor == before);
            }
        }
    }

    /// Drops the bytes every listening sink has read.
    fn trim(&mut self) {
        let Some(lowest) = self.readers.iter().filter_map(|r| r.cursor).min() else {
            return;
        };
        let done = (lowest - self.start) as usize;
        self.replication_only.forget_before(lowest);
        self.aof_only.forget_before(lowest);
        if done > 0 {
            self.buf.drain(..done);
            self.start = lowest;
            if let Some(at) = self.held_from.as_mut() {
                *at -= done;
            }
        }
    }
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new()
    }
}

impl Journal {
    pub fn new() -> Journal {
        Journal {
            recording: AtomicBool::new(false),
            buffered: AtomicU64::new(0),
            stream: Mutex::new(Stream::default()),
        }
    }

    /// Adds a sink, not listening yet; `replicates`: it also reads the records meant for
    /// replicas only (see [`record_for_replicas`](Self::record_for_replicas)).
    pub fn register(&self, sink: Arc<dyn Sink>, replicates: bool) -> SinkId {
        let mut stream = self.stream.lock();
        stream.readers.push(Reader {
            sink,
            cursor: None,
            replicates,
        });
        SinkId(stream.readers.len() - 1)
    }

    /// Whether records are being taken (some sink listens).
    pub fn is_recording(&self) -> bool {
        self.recording.load(Relaxed)
    }

    /// Starts `sink` reading at the current offset. The next record is preceded by a SELECT,
    /// since the sink has seen none.
    pub fn listen(&self, sink: SinkId) {
        let mut stream = self.stream.lock();
        if !self.is_recording() {
            // Nothing is kept while nobody listens: the stream resumes at its offset.
            stream.start = stream.offset;
            stream.buf.clear();
        }
        stream.readers[sink.0].cursor = Some(stream.offset);
        stream.aof_db = None;
        stream.replicas_db = None;
        self.recording.store(true, Relaxed);
    }

    /// Stops `sink` reading, handing it what it has not read yet (as [`read`](Self::read)
    /// does). When it was the last sink, recording stops, and an open unit is dropped with its
    /// block: no sink will ever read it whole. So while nothing records, no unit is open.
    pub fn stop_listening(&self, sink: SinkId, into: &mut Vec<u8>) -> Range<u64> {
        let mut stream = self.stream.lock();
        let taken = Self::take_unread(&mut stream, sink, into);
        stream.readers[sink.0].cursor = None;
        if stream.readers.iter().all(|r| r.cursor.is_none()) {
            self.recording.store(false, Relaxed);
            stream.buf = Vec::new();
            stream.start = stream.offset;
            stream.held_from = None;
            stream.unit_records = 0;
            // Records appended later, once a sink listens again, belong to no unit of now.
            stream.unit_open = false;
        } else {
            stream.trim();
        }
        self.buffered.store(stream.buf.capacity() as u64, Relaxed);
        taken
    }

    /// Appends one record of a write run in `db`. With `in_unit` (a command run by EXEC) it
    /// joins the transaction's unit, which its first record opens and
    /// [`close_unit`](Self::close_unit) closes; EXEC keeps every other writer out meanwhile
    /// (it closes every gate), and anything appended while a unit is open joins it. Callers
    /// hold the shard locks of the keys it touches, so per key the stream's order is the order
    /// the writes were applied. Returns the offset a reply acknowledging it waits for: its end,
    /// or 0 when nothing was recorded or the record waits in a unit (whose close gives the
    /// offset to wait for).
    pub fn record<A: AsRef<[u8]>>(&self, db: usize, args: &[A], in_unit: bool) -> u64 {
        self.record_unit(&[], db, args, &[], Readers::All, in_unit)
    }

    /// Appends a command's record and the records it emits besides (`also`, in order) as one
    /// unit, after the DELs of the keys it found expired (`expired`, see [`lazy_expiry`]):
    /// MULTI/EXEC around them when there are several (in the transaction's block, not a
    /// nested one, with `in_unit`). The whole unit is appended under one lock, so no other
    /// thread's record falls inside it. The command's records are for `readers` (a script's
    /// `redis.set_repl`), the DELs for every sink, as Redis propagates expiries.
    /// Returns what [`record`](Self::record) returns.
    pub fn record_unit<A: AsRef<[u8]>>(
        &self,
        expired: &[lazy_expiry::ExpiredKey],
        db: usize,
        args: &[A],
        also: &[Vec<Vec<u8>>],
        readers: Readers,
        in_unit: bool,
    ) -> u64 {
        self.append_unit(expired, Some((db, args, readers)), also, in_unit)
    }

    /// Appends the DELs of keys a command found expired and did not write after (one unit
    /// when several). Returns what [`record`](Self::record) returns.
    pub fn record_expired(&self, expired: &[lazy_expiry::ExpiredKey]) -> u64 {
        self.append_unit::<&[u8]>(expired, None, &[], false)
    }

    fn append_unit<A: AsRef<[u8]>>(
        &self,
        expired: &[lazy_expiry::ExpiredKey],
        command: Option<(usize, &[A], Readers)>,
        also: &[Vec<Vec<u8>>],
        in_unit: bool,
    ) -> u64 {
        if !self.is_recording() {
            return 0;
        }
        let mut stream = self.stream.lock();
        // Records for a kind of sink none of which listens are left out, as Redis does not
        // propagate what no target takes (they would still count towards a MULTI).
        let command = match command {
            Some((_, _, readers))
                if readers != Readers::All && !stream.listening(readers == Readers::Replicas) =>
            {
                if expired.is_empty() {
                    return 0;
                }
                None
            }
            command => command,
        };
        let records = expired.len() + usize::from(command.is_some()) * (1 + also.len());
        let own_unit = records > 1 && !stream.unit_open;
        stream.unit_open |= in_unit || own_unit;
        for (db, key) in expired {
            stream.append(*db, &[b"DEL".as_slice(), key], Readers::All);
        }
        if let Some((db, args, readers)) = command {
            stream.append(db, args, readers);
            for record in also {
                stream.append(db, record, readers);
            }
        }
        if own_unit {
            stream.close_unit();
        }
        self.finish_append(&mut stream)
    }

    /// Appends a record in `db` that replicas get and the AOF does not (PUBLISH, SPUBLISH), as
    /// Redis propagates them. Nothing is appended while no replicating sink listens. `in_unit`
    /// and the offset returned are as for [`record`](Self::record).
    pub fn record_for_replicas<A: AsRef<[u8]>>(&self, db: usize, args: &[A], in_unit: bool) -> u64 {
        self.append_unit(&[], Some((db, args, Readers::Replicas)), &[], in_unit)
    }

    /// Opens a unit for an EXEC or a script that starts: whatever it appends until
    /// [`close_unit`](Self::close_unit) joins it, the DELs of keys its lookups find expired
    /// included, as Redis counts those among a transaction's effects. Nothing happens while
    /// nothing records (a record with `in_unit` opens it then).
    pub fn open_unit(&self) {
        if self.is_recording() {
            self.stream.lock().unit_open = true;
        }
    }

    /// Closes the transaction's unit, making its block readable. Returns the offset of its end, which
    /// the reply acknowledging it waits for; 0 when the unit had no record (nothing is
    /// emitted, as Redis emits no empty MULTI/EXEC) or nothing is recorded.
    pub fn close_unit(&self) -> u64 {
        let mut stream = self.stream.lock();
        if !stream.close_unit() {
            return 0;
        }
        self.finish_append(&mut stream)
    }

    /// After an append: publishes what became readable (up to an open unit's MULTI) and
    /// returns the offset to wait for.
    fn finish_append(&self, stream: &mut Stream) -> u64 {
        self.buffered.store(stream.buf.capacity() as u64, Relaxed);
        stream.publish();
        match stream.held_from {
            Some(_) => 0,
            None => stream.offset,
        }
    }

    /// Takes what `sink` has not read (up to the open unit, if any) onto the end of `into`,
    /// moving its cursor to the end. Returns the offsets of the bytes taken. The buffer itself
    /// is handed over when no other sink still needs it, so the usual single-sink read copies
    /// nothing.
    pub fn read(&self, sink: SinkId, into: &mut Vec<u8>) -> Range<u64> {
        let mut stream = self.stream.lock();
        let taken = Self::take_unread(&mut stream, sink, into);
        stream.trim();
        self.buffered.store(stream.buf.capacity() as u64, Relaxed);
        taken
    }

    fn take_unread(stream: &mut Stream, sink: SinkId, into: &mut Vec<u8>) -> Range<u64> {
        let Some(cursor) = stream.readers[sink.0].cursor else {
            return 0..0;
        };
        let end = stream.offset;
        let skipped = match stream.readers[sink.0].replicates {
            true => &stream.aof_only,
            false => &stream.replication_only,
        };
        if skipped.any_after(cursor) {
            Self::copy_read(stream, skipped, cursor..end, into);
            stream.readers[sink.0].cursor = Some(end);
            return cursor..end;
        }
        let others_done = stream
            .readers
            .iter()
            .enumerate()
            .all(|(i, r)| i == sink.0 || r.cursor.is_none_or(|c| c >= end));
        let (from, to) = (
            (cursor - stream.start) as usize,
            (end - stream.start) as usize,
        );
        if into.is_empty() && from == 0 && to == stream.buf.len() && others_done {
            std::mem::swap(into, &mut stream.buf);
            stream.start = end;
        } else {
            into.extend_from_slice(&stream.buf[from..to]);
        }
        stream.readers[sink.0].cursor = Some(end);
        cursor..end
    }

    /// Copies the bytes of `range` onto `into`, leaving out the `skipped` ones.
    fn copy_read(stream: &Stream, skipped: &Skipped, range: Range<u64>, into: &mut Vec<u8>) {
        let mut at = range.start;
        for skip in &skipped.0 {
            if skip.end <= at {
                continue;
            }
            let until = skip.start.clamp(at, range.end);
            into.extend_from_slice(
                &stream.buf[(at - stream.start) as usize..(until - stream.start) as usize],
            );
            at = skip.end.min(range.end);
            if at == range.end {
                return;
            }
        }
        into.extend_from_slice(
            &stream.buf[(at - stream.start) as usize..(range.end - stream.start) as usize],
        );
    }

    /// Marks a point where a sink splits the stream (the AOF's rewrite cut): the next record
    /// is preceded by a SELECT, so what follows stands on its own. Returns its offset. The
    /// caller keeps writers out (every shard locked) and no unit is open.
    pub fn cut(&self) -> u64 {
        let mut stream = self.stream.lock();
        stream.aof_db = None;
        stream.replicas_db = None;
        stream.offset
    }

    /// The database replicating sinks last had selected (Redis's `slaveseldb`); None when the
    /// next record starts with a SELECT anyway.
    pub fn replicas_selected_db(&self) -> Option<usize> {
        self.stream.lock().replicas_db
    }

    /// Bytes `sink` has not read, an open unit's included (INFO's `aof_buffer_length`).
    pub fn unread(&self, sink: SinkId) -> u64 {
        let stream = self.stream.lock();
        stream.readers[sink.0]
            .cursor
            .map_or(0, |c| stream.start + stream.buf.len() as u64 - c)
    }

    /// Bytes held by records some sink has not read yet.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A sink that counts its wake-ups.
    #[derive(Default)]
    struct Counting {
        first: AtomicUsize,
        later: AtomicUsize,
    }

    impl Sink for Counting {
        fn readable(&self, _unread: u64, first: bool) {
            let counter = if first { &self.first } else { &self.later };
            counter.fetch_add(1, Relaxed);
        }
    }

    fn listening() -> (Journal, SinkId, Arc<Counting>) {
        let journal = Journal::new();
        let sink = Arc::new(Counting::default());
        let id = journal.register(sink.clone(), false);
        journal.listen(id);
        (journal, id, sink)
    }

    fn resp(commands: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for command in commands {
            encode_command(&mut out, command);
        }
        out
    }

    fn read_all(journal: &Journal, id: SinkId) -> Vec<u8> {
        let mut out = Vec::new();
        journal.read(id, &mut out);
        out
    }

    #[test]
    fn replication_only_records_reach_replicating_sinks_alone() {
        let (journal, aof, _) = listening();
        assert_eq!(
            journal.record_for_replicas(2, &["PUBLISH", "c", "m"], false),
            0
        );
        let backlog = journal.register(Arc::new(Counting::default()), true);
        journal.listen(backlog);
        journal.record(2, &["SET", "a", "1"], false);
        journal.record_for_replicas(2, &["PUBLISH", "c", "m"], false);
        // A transaction with both kinds, then one of PUBLISH alone, in another database: only
        // the replicas see that database selected, and selected back.
        journal.record_for_replicas(2, &["PUBLISH", "c", "1"], true);
        journal.record(2, &["SET", "b", "2"], true);
        journal.close_unit();
        journal.record_for_replicas(5, &["PUBLISH", "c", "2"], true);
        journal.close_unit();
        journal.record(2, &["SET", "c", "3"], false);
        let aof_bytes = read_all(&journal, aof);
        assert_eq!(
            aof_bytes,
            resp(&[
                &["SELECT", "2"],
                &["SET", "a", "1"],
                &["MULTI"],
                &["SET", "b", "2"],
                &["EXEC"],
                &["SET", "c", "3"],
            ])
        );
        assert_eq!(
            read_all(&journal, backlog),
            resp(&[
                &["SELECT", "2"],
                &["SET", "a", "1"],
                &["PUBLISH", "c", "m"],
                &["MULTI"],
                &["PUBLISH", "c", "1"],
                &["SET", "b", "2"],
                &["EXEC"],
                &["SELECT", "5"],
                &["PUBLISH", "c", "2"],
                &["SELECT", "2"],
                &["SET", "c", "3"],
            ])
        );
    }

    /// A script's writes after `redis.set_repl` reach the AOF alone or the replicas alone; a
    /// unit of several is framed for both (an empty MULTI/EXEC for a sink that has none of its
    /// records, as Redis propagates it), its MULTI after a SELECT of the first record's
    /// database for each sink that had another one selected.
    #[test]
    fn records_for_one_kind_of_sink_reach_it_alone_framed_for_both() {
        let (journal, aof, _) = listening();
        let backlog = journal.register(Arc::new(Counting::default()), true);
        journal.listen(backlog);
        let unit = |records: &[(usize, &str, Readers)]| {
            journal.open_unit();
            for &(db, key, readers) in records {
                journal.record_unit(&[], db, &["SET", key, "1"], &[], readers, true);
            }
            journal.close_unit();
        };
        unit(&[(0, "a", Readers::Aof)]);
        unit(&[(0, "b", Readers::Replicas)]);
        unit(&[(3, "c", Readers::Aof), (3, "d", Readers::Replicas)]);
        unit(&[(3, "e", Readers::Aof), (3, "f", Readers::Aof)]);
        journal.record(3, &["SET", "g", "1"], false);
        assert_eq!(
            read_all(&journal, aof),
            resp(&[
                &["SELECT", "0"],
                &["SET", "a", "1"],
                &["SELECT", "3"],
                &["MULTI"],
                &["SET", "c", "1"],
                &["EXEC"],
                &["MULTI"],
                &["SET", "e", "1"],
                &["SET", "f", "1"],
                &["EXEC"],
                &["SET", "g", "1"],
            ])
        );
        assert_eq!(
            read_all(&journal, backlog),
            resp(&[
                &["SELECT", "0"],
                &["SET", "b", "1"],
                &["SELECT", "3"],
                &["MULTI"],
                &["SET", "d", "1"],
                &["EXEC"],
                &["MULTI"],
                &["EXEC"],
                &["SET", "g", "1"],
            ])
        );
    }

    #[test]
    fn nothing_is_recorded_while_no_sink_listens() {
        let journal = Journal::new();
        let id = journal.register(Arc::new(Counting::default()), false);
        assert_eq!(journal.record(0, &["SET", "k", "v"], false), 0);
        assert!(!journal.is_recording());
        journal.listen(id);
        assert_eq!(read_all(&journal, id), b"");
        journal.stop_listening(id, &mut Vec::new());
        assert_eq!(journal.record(0, &["SET", "k", "v"], false), 0);
    }

    #[test]
    fn select_precedes_a_record_in_another_database() {
        let (journal, id, _) = listening();
        journal.record(0, &["SET", "a", "1"], false);
        journal.record(0, &["SET", "b", "2"], false);
        journal.record(3, &["DEL", "c"], false);
        journal.record(0, &["SET", "d", "4"], false);
        let expected = resp(&[
            &["SELECT", "0"],
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["SELECT", "3"],
            &["DEL", "c"],
            &["SELECT", "0"],
            &["SET", "d", "4"],
        ]);
        assert_eq!(read_all(&journal, id), expected);
    }

    #[test]
    fn offsets_advance_by_exactly_the_bytes_appended() {
        let (journal, id, _) = listening();
        let first = journal.record(2, &["SET", "k", "v"], false);
        assert_eq!(
            first as usize,
            resp(&[&["SELECT", "2"], &["SET", "k", "v"]]).len()
        );
        let second = journal.record(2, &["INCR", "n"], false);
        assert_eq!(second - first, resp(&[&["INCR", "n"]]).len() as u64);
        let taken = journal.read(id, &mut Vec::new());
        assert_eq!(taken, 0..second);
        // The offset keeps counting across reads, and a sink stopping and listening again
        // resumes where it stood.
        let third = journal.record(2, &["DEL", "k"], false);
        assert_eq!(third - second, resp(&[&["DEL", "k"]]).len() as u64);
        let mut rest = Vec::new();
        assert_eq!(journal.stop_listening(id, &mut rest), second..third);
        assert_eq!(rest, resp(&[&["DEL", "k"]]));
        journal.listen(id);
        let fourth = journal.record(2, &["DEL", "n"], false);
        assert_eq!(
            fourth - third,
            resp(&[&["SELECT", "2"], &["DEL", "n"]]).len() as u64
        );
        assert_eq!(journal.read(id, &mut Vec::new()), third..fourth);
    }

    #[test]
    fn a_transaction_is_framed_and_held_back_until_it_closes() {
        let (journal, id, sink) = listening();
        journal.record(0, &["SET", "before", "1"], false);
        assert_eq!(journal.record(1, &["SET", "a", "1"], true), 0);
        assert_eq!(journal.record(1, &["SET", "b", "2"], true), 0);
        // Nothing of the open unit is readable; the SELECT before its MULTI is.
        let visible = resp(&[&["SELECT", "0"], &["SET", "before", "1"], &["SELECT", "1"]]);
        assert_eq!(read_all(&journal, id), visible);
        let woken = sink.first.load(Relaxed) + sink.later.load(Relaxed);
        let end = journal.close_unit();
        assert_eq!(
            sink.first.load(Relaxed) + sink.later.load(Relaxed),
            woken + 1
        );
        let block = resp(&[
            &["MULTI"],
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["EXEC"],
        ]);
        assert_eq!(end as usize, visible.len() + block.len());
        assert_eq!(read_all(&journal, id), block);
    }

    #[test]
    fn a_unit_of_one_record_goes_bare() {
        let (journal, id, _) = listening();
        journal.open_unit();
        assert_eq!(journal.record(1, &["SET", "a", "1"], true), 0);
        let end = journal.close_unit();
        let expected = resp(&[&["SELECT", "1"], &["SET", "a", "1"]]);
        assert_eq!(end as usize, expected.len());
        assert_eq!(read_all(&journal, id), expected);
        // A record appended from outside the transaction while it runs (an expired key's DEL)
        // joins it, and the second record brings the MULTI before the first; a change of
        // database inside is selected inside.
        journal.open_unit();
        journal.record(1, &["DEL", "gone"], false);
        journal.record(2, &["SET", "b", "2"], true);
        journal.close_unit();
        let expected = resp(&[
            &["MULTI"],
            &["DEL", "gone"],
            &["SELECT", "2"],
            &["SET", "b", "2"],
            &["EXEC"],
        ]);
        assert_eq!(read_all(&journal, id), expected);
    }

    #[test]
    fn a_unit_without_records_emits_nothing() {
        let (journal, id, _) = listening();
        // An EXEC whose commands wrote nothing closes a unit that never opened.
        assert_eq!(journal.close_unit(), 0);
        assert_eq!(read_all(&journal, id), b"");
        let end = journal.record(0, &["SET", "k", "v"], false);
        let expected = resp(&[&["SELECT", "0"], &["SET", "k", "v"]]);
        assert_eq!(end as usize, expected.len());
        assert_eq!(read_all(&journal, id), expected);
    }

    #[test]
    fn a_command_with_several_records_is_one_unit() {
        let (journal, id, _) = listening();
        let also = vec![vec![b"SREM".to_vec(), b"s".to_vec(), b"m".to_vec()]];
        let end = journal.record_unit(&[], 0, &["SADD", "t", "m"], &also, Readers::All, false);
        let expected = resp(&[
            &["SELECT", "0"],
            &["MULTI"],
            &["SADD", "t", "m"],
            &["SREM", "s", "m"],
            &["EXEC"],
        ]);
        assert_eq!(end as usize, expected.len());
        assert_eq!(read_all(&journal, id), expected);
        // Inside a transaction its records join the transaction's block: no nested MULTI.
        journal.record_unit(&[], 0, &["SADD", "t", "m"], &also, Readers::All, true);
        journal.close_unit();
        let expected = resp(&[
            &["MULTI"],
            &["SADD", "t", "m"],
            &["SREM", "s", "m"],
            &["EXEC"],
        ]);
        assert_eq!(read_all(&journal, id), expected);
    }

    #[test]
    fn keys_a_command_found_expired_are_deleted_first_in_its_unit() {
        let (journal, id, _) = listening();
        let expired = [(0, b"k".to_vec()), (1, b"j".to_vec())];
        journal.record_unit(
            &expired[..1],
            0,
            &["SET", "k", "v"],
            &[],
            Readers::All,
            false,
        );
        // Found expired by a command that wrote nothing: one DEL bare, two in a unit.
        journal.record_expired(&expired[..1]);
        journal.record_expired(&expired);
        let expected = resp(&[
            &["SELECT", "0"],
            &["MULTI"],
            &["DEL", "k"],
            &["SET", "k", "v"],
            &["EXEC"],
            &["DEL", "k"],
            &["MULTI"],
            &["DEL", "k"],
            &["SELECT", "1"],
            &["DEL", "j"],
            &["EXEC"],
        ]);
        assert_eq!(read_all(&journal, id), expected);
    }

    #[test]
    fn the_last_sink_stopping_drops_an_open_unit() {
        let (journal, id, _) = listening();
        journal.record(0, &["SET", "a", "1"], true);
        let mut rest = Vec::new();
        let stopped = journal.stop_listening(id, &mut rest).end;
        assert_eq!(rest, resp(&[&["SELECT", "0"]]));
        assert_eq!(journal.close_unit(), 0);
        journal.listen(id);
        let end = journal.record(0, &["SET", "b", "2"], false);
        assert_eq!(journal.read(id, &mut Vec::new()), stopped..end);
    }

    #[test]
    fn a_sink_is_woken_at_its_first_unread_record() {
        let (journal, id, sink) = listening();
        journal.record(0, &["SET", "a", "1"], false);
        journal.record(0, &["SET", "b", "2"], false);
        assert_eq!((sink.first.load(Relaxed), sink.later.load(Relaxed)), (1, 1));
        read_all(&journal, id);
        journal.record(0, &["SET", "c", "3"], false);
        assert_eq!(sink.first.load(Relaxed), 2);
    }

    #[test]
    fn each_sink_reads_the_whole_stream_from_its_own_cursor() {
        let (journal, aof, _) = listening();
        journal.record(0, &["SET", "a", "1"], false);
        let backlog = journal.register(Arc::new(Counting::default()), false);
        journal.listen(backlog);
        journal.record(0, &["SET", "b", "2"], false);
        assert_eq!(
            read_all(&journal, aof),
            resp(&[
                &["SELECT", "0"],
                &["SET", "a", "1"],
                &["SELECT", "0"],
                &["SET", "b", "2"]
            ])
        );
        // The later sink starts at the offset it joined at, with a SELECT of its own.
        journal.record(0, &["SET", "c", "3"], false);
        assert_eq!(
            read_all(&journal, backlog),
            resp(&[&["SELECT", "0"], &["SET", "b", "2"], &["SET", "c", "3"]])
        );
        assert_eq!(read_all(&journal, aof), resp(&[&["SET", "c", "3"]]));
        assert_eq!(journal.unread(aof), 0);
        assert_eq!(journal.unread(backlog), 0);
    }
}
