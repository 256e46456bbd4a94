//! The replication backlog: the tail of this server's replication stream, numbered by Redis's
//! offsets, from which every attached replica is fed and a reconnecting one continues
//! (`PSYNC replid offset` → `+CONTINUE`).
//!
//! On a master the stream is the effect journal's (the backlog is one of its sinks, pulling the
//! journal's records when a feeder or the cron asks), plus the PINGs the master sends its
//! replicas; on a replica it is its master's stream, fed byte for byte as it is applied, so that
//! the replica's own replicas (and, after a promotion, the old master's other replicas) see the
//! same offsets as everyone else.
//!
//! Offsets: `end` is `master_repl_offset`, the number of bytes the stream has had. The bytes kept
//! are the positions `start..end`; the byte at position `p` is the one a replica that processed
//! `p` bytes reads next, so `PSYNC` asks for position `offset - 1` and INFO's
//! `repl_backlog_first_byte_offset` is `start + 1`. At least `repl-backlog-size` bytes are kept
//! (as many as there have been), and more while an attached replica still has to be sent them:
//! the backlog is also every replica's output buffer, as in Redis 7.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::journal::{Journal, Sink, SinkId};

pub struct Backlog {
    inner: Mutex<Inner>,
    /// Woken when the stream may have grown (the journal has records to pull, or bytes were fed).
    grown: Arc<Notify>,
    /// The backlog's place among the journal's sinks, once registered.
    sink: OnceLock<(Arc<Journal>, SinkId)>,
    /// `end`, readable without the lock (INFO, ROLE, the lag of replicas).
    offset: AtomicU64,
    /// Bytes the replicas' feeders hold copied out of the stream to write (see
    /// [`StreamCopies`]): the replicas' share, like what the backlog keeps for them.
    copies: AtomicU64,
}

/// The bytes one replica's feeder has copied out of the backlog to write: up to four chunks
/// waiting while the replica does not read. In Redis a replica's output is the shared
/// replication buffer, whose part beyond the backlog's size is left out of `maxmemory`; this
/// copy is the same bytes, so it is left out too (counted, it grew by up to 256 KB while the
/// writes of maxmemory.tcl's "replica buffer don't induce eviction" ran, and evicted keys).
pub struct StreamCopies<'a> {
    backlog: &'a Backlog,
    counted: u64,
}

impl StreamCopies<'_> {
    /// The feeder's buffer has `capacity` bytes now.
    pub fn hold(&mut self, capacity: usize) {
        let bytes = crate::memory::allocation_size(capacity as u64);
        if bytes != self.counted {
            self.backlog.copies.fetch_add(bytes, Relaxed);
            self.backlog.copies.fetch_sub(self.counted, Relaxed);
            self.counted = bytes;
        }
    }
}

impl Drop for StreamCopies<'_> {
    fn drop(&mut self) {
        self.backlog.copies.fetch_sub(self.counted, Relaxed);
    }
}

struct Inner {
    buf: VecDeque<u8>,
    start: u64,
    end: u64,
    /// Whether the backlog exists (`repl_backlog_active`): created when the first replica
    /// attaches (or a replica syncs with its master), freed after `repl-backlog-ttl` without
    /// replicas.
    active: bool,
    /// Whether the stream comes from the journal (a master) rather than from a master's feed.
    from_journal: bool,
    size: u64,
    /// Positions attached replicas have been sent up to; nothing at or after the lowest is
    /// dropped. A slot is None when free.
    cursors: Vec<Option<u64>>,
    scratch: Vec<u8>,
    /// Stream offset minus journal offset, the greatest since the backlog took the journal's
    /// records: between pulls the master's own PINGs and GETACKs enter the stream (raising
    /// it), and records for the AOF only are left out (lowering it). The greatest maps an
    /// older record to an offset a few bytes too far at most, never too near, so a WAIT never
    /// counts a replica that lacks the write.
    journal_delta: i64,
}

/// A replica's place in the stream, from [`Backlog::attach`]; detach it when the replica goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Cursor(usize);

/// What a reader asked for is no longer (or not yet) in the backlog.
#[derive(Debug, PartialEq, Eq)]
pub struct OutOfRange;

/// The journal wakes the backlog's feeders through this; it runs under the journal's lock,
/// so it only notifies (the pull takes the journal's lock itself).
struct JournalWaker(Arc<Notify>);

impl Sink for JournalWaker {
    fn readable(&self, _unread: u64, first: bool) {
        if first {
            self.0.notify_waiters();
        }
    }
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            inner: Mutex::new(Inner {
                buf: VecDeque::new(),
                start: 0,
                end: 0,
                active: false,
                from_journal: false,
                size: 1 << 20,
                cursors: Vec::new(),
                scratch: Vec::new(),
                journal_delta: i64::MIN,
            }),
            grown: Arc::new(Notify::new()),
            sink: OnceLock::new(),
            offset: AtomicU64::new(0),
            copies: AtomicU64::new(0),
        }
    }
}

impl Backlog {
    /// Registers the backlog as a sink of `journal` (once, at start-up; it listens only while
    /// it is active on a master).
    pub fn register(&self, journal: &Arc<Journal>) {
        let id = journal.register(Arc::new(JournalWaker(self.grown.clone())), true);
        let _ = self.sink.set((journal.clone(), id));
    }

    /// `repl-backlog-size`.
    pub fn set_size(&self, size: u64) {
        let mut inner = self.inner.lock();
        inner.size = size;
        inner.trim();
    }

    /// `master_repl_offset`: the bytes the stream has had.
    pub fn offset(&self) -> u64 {
        self.offset.load(Relaxed)
    }

    pub fn is_active(&self) -> bool {
        self.inner.lock().active
    }

    /// (first byte offset, bytes kept) for INFO's `repl_backlog_first_byte_offset` and
    /// `repl_backlog_histlen`: both 0 while there is no backlog, as in Redis.
    pub fn history(&self) -> (u64, u64) {
        let inner = self.inner.lock();
        match inner.active {
            true => (inner.start + 1, inner.end - inner.start),
            false => (0, 0),
        }
    }

    /// Memory the stream holds beyond `repl-backlog-size`: what is kept for replicas that lag
    /// (and the room the buffer grew to for them), the scratch the journal is pulled
    /// through, and the feeders' copies on their way to the replicas. Redis leaves the replicas' share of its replication buffer out of `maxmemory`:
    /// evicting keys cannot free it, and a stopped replica would have every key evicted.
    pub fn held_beyond_size(&self) -> u64 {
        let inner = self.inner.lock();
        let allocated = |capacity: usize| crate::memory::allocation_size(capacity as u64);
        allocated(inner.buf.capacity()).saturating_sub(inner.size)
            + allocated(inner.scratch.capacity())
            + self.copies.load(Relaxed)
    }

    /// The account of a replica feeder's copy of the stream, for as long as it lives.
    pub fn stream_copies(&self) -> StreamCopies<'_> {
        StreamCopies {
            backlog: self,
            counted: 0,
        }
    }

    /// Creates the backlog on a master (the first replica attaches): from now on it takes the
    /// journal's records, after its current offset. A SELECT starts what it takes, as the
    /// journal starts every new listener with one.
    pub fn activate_from_journal(&self) {
        let mut inner = self.inner.lock();
        if inner.active && inner.from_journal {
            return;
        }
        inner.active = true;
        inner.from_journal = true;
        inner.journal_delta = i64::MIN;
        if let Some((journal, id)) = self.sink.get() {
            journal.listen(*id);
        }
    }

    /// Makes the backlog a copy of a master's stream from `offset` on (a replica that just
    /// synced, or continued with its master): it stops taking the journal's records, and what
    /// it held before is dropped when the offset jumps.
    pub fn follow_master(&self, offset: u64) {
        let mut inner = self.inner.lock();
        self.stop_journal(&mut inner);
        inner.active = true;
        if inner.end != offset {
            inner.buf.clear();
            inner.start = offset;
            inner.end = offset;
            self.offset.store(offset, Relaxed);
        }
    }

    /// Puts the stream at `offset` with nothing kept: a server restarted from a snapshot that
    /// recorded its place in the stream goes on from there.
    pub fn restore_offset(&self, offset: u64) {
        let mut inner = self.inner.lock();
        inner.buf.clear();
        inner.start = offset;
        inner.end = offset;
        self.offset.store(offset, Relaxed);
    }

    /// Appends bytes of the master's stream (on a replica) or of this master's own (the PINGs
    /// it sends its replicas), and wakes the feeders.
    pub fn feed(&self, bytes: &[u8]) {
        {
            let mut inner = self.inner.lock();
            if !inner.active {
                return;
            }
            self.pull_locked(&mut inner);
            inner.buf.extend(bytes);
            inner.end += bytes.len() as u64;
            self.offset.store(inner.end, Relaxed);
            inner.trim();
        }
        self.grown.notify_waiters();
    }

    /// Moves the journal's unread records into the backlog (on a master). Returns the offset.
    pub fn pull(&self) -> u64 {
        let mut inner = self.inner.lock();
        self.pull_locked(&mut inner);
        inner.end
    }

    fn pull_locked(&self, inner: &mut Inner) {
        if !inner.from_journal {
            return;
        }
        let Some((journal, id)) = self.sink.get() else {
            return;
        };
        let mut scratch = std::mem::take(&mut inner.scratch);
        let taken = journal.read(*id, &mut scratch);
        if !scratch.is_empty() {
            inner.journal_delta = inner
                .journal_delta
                .max(inner.end as i64 - taken.start as i64);
            inner.buf.extend(&scratch);
            inner.end += scratch.len() as u64;
            self.offset.store(inner.end, Relaxed);
            scratch.clear();
            inner.trim();
        }
        inner.scratch = scratch;
    }

    /// The stream offset a replica must have processed to hold a write whose journal records
    /// end at `journal_offset` (a client's last write, for WAIT); 0 for a client that wrote
    /// nothing.
    pub fn stream_offset_of(&self, journal_offset: u64) -> u64 {
        let mut inner = self.inner.lock();
        self.pull_locked(&mut inner);
        if journal_offset == 0 {
            return 0;
        }
        (journal_offset as i64)
            .saturating_add(inner.journal_delta)
            .clamp(0, inner.end as i64) as u64
    }

    /// Frees the backlog (`repl-backlog-ttl` passed with no replica, or the server became a
    /// replica of a master it has yet to sync with): the offset stays, nothing is kept.
    pub fn deactivate(&self) {
        let mut inner = self.inner.lock();
        self.stop_journal(&mut inner);
        inner.active = false;
        inner.buf = VecDeque::new();
        inner.start = inner.end;
    }

    fn stop_journal(&self, inner: &mut Inner) {
        if !inner.from_journal {
            return;
        }
        inner.from_journal = false;
        if let Some((journal, id)) = self.sink.get() {
            let mut rest = Vec::new();
            journal.stop_listening(*id, &mut rest);
            inner.buf.extend(&rest);
            inner.end += rest.len() as u64;
            self.offset.store(inner.end, Relaxed);
        }
    }

    /// Whether a replica that asks for the stream from `psync_offset` (PSYNC's argument: the
    /// next byte it needs) can be served from what is kept.
    pub fn can_continue_from(&self, psync_offset: u64) -> bool {
        let mut inner = self.inner.lock();
        self.pull_locked(&mut inner);
        inner.active && psync_offset > inner.start && psync_offset <= inner.end + 1
    }

    /// Attaches a replica that is to be sent the stream from position `from` (the offset it
    /// has processed); the bytes from there on are kept until it has been sent them.
    pub fn attach(&self, from: u64) -> Result<Cursor, OutOfRange> {
        let mut inner = self.inner.lock();
        self.pull_locked(&mut inner);
        if from < inner.start || from > inner.end {
            return Err(OutOfRange);
        }
        let slot = match inner.cursors.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                inner.cursors.push(None);
                inner.cursors.len() - 1
            }
        };
        inner.cursors[slot] = Some(from);
        Ok(Cursor(slot))
    }

    pub fn detach(&self, cursor: Cursor) {
        let mut inner = self.inner.lock();
        inner.cursors[cursor.0] = None;
        inner.trim();
    }

    /// Appends the bytes past `cursor` to `out` (at most `max`), moving the cursor past them.
    /// Returns the cursor's new position; OutOfRange when the backlog restarted past it (this
    /// server became a replica, or followed a new stream, with the feeder still attached): the
    /// replica's place is gone and its link must end.
    pub fn read(&self, cursor: &Cursor, out: &mut Vec<u8>, max: usize) -> Result<u64, OutOfRange> {
        let mut inner = self.inner.lock();
        self.pull_locked(&mut inner);
        let at = inner.cursors[cursor.0].expect("an attached cursor");
        if at < inner.start {
            return Err(OutOfRange);
        }
        let from = (at - inner.start) as usize;
        let to = (inner.buf.len()).min(from + max);
        let (front, back) = inner.buf.as_slices();
        let split = front.len();
        out.extend_from_slice(&front[from.min(split)..to.min(split)]);
        out.extend_from_slice(&back[from.saturating_sub(split)..to.saturating_sub(split)]);
        let now = at + (to - from) as u64;
        inner.cursors[cursor.0] = Some(now);
        inner.trim();
        Ok(now)
    }

    /// Bytes past `cursor` not yet read: the replica's pending output.
    pub fn unread(&self, cursor: &Cursor) -> u64 {
        let mut inner = self.inner.lock();
        self.pull_locked(&mut inner);
        inner.end - inner.cursors[cursor.0].expect("an attached cursor")
    }

    /// Up to `max` bytes of the stream kept before offset `end` (Redis logs the latest stream
    /// when a replica fails a command of its master's).
    pub fn before(&self, end: u64, max: usize) -> Vec<u8> {
        let inner = self.inner.lock();
        let end = end.clamp(inner.start, inner.end);
        let from = end.saturating_sub(max as u64).max(inner.start);
        let range = (from - inner.start) as usize..(end - inner.start) as usize;
        inner.buf.range(range).copied().collect()
    }

    /// A future that completes when the stream may have grown. Create it before checking for
    /// new bytes, so a notification in between is not missed.
    pub fn grown(&self) -> Arc<Notify> {
        self.grown.clone()
    }
}

impl Inner {
    /// Drops what no attached replica still needs beyond the last `size` bytes.
    fn trim(&mut self) {
        let keep_from = self.end.saturating_sub(self.size);
        let needed = self.cursors.iter().flatten().copied().min();
        let drop_to = needed.map_or(keep_from, |n| n.min(keep_from));
        if drop_to > self.start {
            self.buf.drain(..(drop_to - self.start) as usize);
            self.start = drop_to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_lite_persist::aof::encode_command;

    fn resp(args: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        out
    }

    fn master() -> (Arc<Journal>, Backlog) {
        let journal = Arc::new(Journal::new());
        let backlog = Backlog::default();
        backlog.register(&journal);
        backlog.activate_from_journal();
        (journal, backlog)
    }

    #[test]
    fn a_master_backlog_takes_the_journal_and_its_own_pings_in_order() {
        let (journal, backlog) = master();
        journal.record(0, &["SET", "a", "1"], false);
        backlog.feed(&resp(&["PING"]));
        journal.record(0, &["SET", "b", "2"], false);
        let cursor = backlog.attach(0).unwrap();
        let mut out = Vec::new();
        let end = backlog.read(&cursor, &mut out, usize::MAX).unwrap();
        let mut expected = resp(&["SELECT", "0"]);
        expected.extend(resp(&["SET", "a", "1"]));
        expected.extend(resp(&["PING"]));
        expected.extend(resp(&["SET", "b", "2"]));
        assert_eq!(out, expected);
        assert_eq!(end, expected.len() as u64);
        assert_eq!(backlog.offset(), end);
    }

    #[test]
    fn journal_offsets_map_to_stream_offsets_past_the_pings() {
        let (journal, backlog) = master();
        backlog.feed(&resp(&["PING"]));
        let first = journal.record(0, &["SET", "a", "1"], false);
        let stream_end = backlog.pull();
        assert_eq!(backlog.stream_offset_of(first), stream_end);
        backlog.feed(&resp(&["PING"]));
        let second = journal.record(0, &["SET", "b", "2"], false);
        assert_eq!(backlog.stream_offset_of(second), backlog.pull());
        // An older write maps at most the PINGs since too far, never short of its own end.
        assert!(backlog.stream_offset_of(first) >= stream_end);
        assert_eq!(backlog.stream_offset_of(0), 0);
    }

    /// A sink that reads nothing, standing for the AOF.
    struct Unread;

    impl crate::journal::Sink for Unread {
        fn readable(&self, _: u64, _: bool) {}
    }

    /// Records for the AOF only (a script's `REPL_AOF` writes) are not in the stream: a write
    /// before them still maps to no less than its own end, so WAIT never counts a replica that
    /// lacks it.
    #[test]
    fn journal_offsets_map_past_records_for_the_aof_only() {
        let (journal, backlog) = master();
        let aof = journal.register(Arc::new(Unread), false);
        journal.listen(aof);
        let first = journal.record(0, &["SET", "a", "1"], false);
        let first_end = backlog.pull();
        let readers = crate::journal::Readers::Aof;
        journal.record_unit(&[], 0, &["SET", "x", "1"], &[], readers, false);
        assert_eq!(
            backlog.pull(),
            first_end,
            "the AOF's record is not streamed"
        );
        let second = journal.record(0, &["SET", "b", "2"], false);
        let second_end = backlog.pull();
        assert!(backlog.stream_offset_of(first) >= first_end);
        assert_eq!(backlog.stream_offset_of(second), second_end);
    }

    #[test]
    fn psync_offsets_are_served_only_from_what_is_kept() {
        let (journal, backlog) = master();
        backlog.set_size(100);
        for i in 0..20 {
            journal.record(0, &["SET", "key", &i.to_string()], false);
        }
        let end = backlog.pull();
        let (first, histlen) = backlog.history();
        assert_eq!(histlen, 100);
        assert_eq!(first, end - 100 + 1);
        assert!(backlog.can_continue_from(end + 1));
        assert!(backlog.can_continue_from(first));
        assert!(!backlog.can_continue_from(first - 1));
        assert!(!backlog.can_continue_from(end + 2));
    }

    #[test]
    fn an_attached_replica_keeps_what_it_has_not_been_sent() {
        let (journal, backlog) = master();
        backlog.set_size(16);
        let cursor = backlog.attach(backlog.pull()).unwrap();
        let mut written = Vec::new();
        for i in 0..10 {
            journal.record(0, &["SET", "key", &i.to_string()], false);
        }
        for i in 0..10 {
            written.extend(resp(&["SET", "key", &i.to_string()]));
        }
        let mut out = Vec::new();
        backlog.read(&cursor, &mut out, 7).unwrap();
        backlog.read(&cursor, &mut out, usize::MAX).unwrap();
        assert!(out.ends_with(&written));
        assert_eq!(backlog.unread(&cursor), 0);
        // Once sent, only the configured size is kept.
        assert_eq!(backlog.history().1, 16);
        backlog.detach(cursor);
    }

    /// Found by the legacy cluster suite (10-manual-failover): a master turned replica while a
    /// feeder still had bytes to send panicked on its next read.
    #[test]
    fn a_feeder_whose_place_was_dropped_is_told_so() {
        let (journal, backlog) = master();
        let cursor = backlog.attach(backlog.pull()).unwrap();
        journal.record(0, &["SET", "key", "1"], false);
        backlog.pull();
        backlog.deactivate();
        assert!(backlog.read(&cursor, &mut Vec::new(), usize::MAX).is_err());
        backlog.detach(cursor);
    }

    #[test]
    fn a_replica_backlog_follows_its_master_and_keeps_the_offset_when_freed() {
        let backlog = Backlog::default();
        backlog.follow_master(1000);
        backlog.feed(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(backlog.offset(), 1014);
        assert!(backlog.can_continue_from(1001));
        assert!(!backlog.can_continue_from(1000));
        backlog.deactivate();
        assert_eq!(backlog.offset(), 1014);
        assert!(!backlog.can_continue_from(1015));
        assert_eq!(backlog.attach(1000), Err(OutOfRange));
    }
}
