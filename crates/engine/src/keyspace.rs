//! The keyspace: every database, split into shards by key hash. Each shard sits behind its own
//! mutex and holds its slice of all databases, so a single-key command locks one shard, a
//! multi-key command locks its shards in index order (no deadlock, and atomic to every other
//! client), and SWAPDB/FLUSHALL lock them all.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use rand::Rng;
use smallvec::{smallvec, SmallVec};

use crate::bytes::SmallBytes;
use crate::cache_line::CachePadded;
use crate::dict::{Dict, Entry};
use crate::evict::{Evictor, Frequencies, Policy, Tracking};
use crate::lazyfree::{Deletion, LazyFree, LazyFreeSettings};
use crate::slot::{key_slot, SLOTS, SLOT_BITS};
use crate::snapshot::Pending;
use crate::value::Value;

/// How keys hash. In cluster mode the hash's top 14 bits are the key's slot, so the shard
/// (chosen by the high bits) holds whole slots and each shard's tables count their slots' keys
/// (see [`SlotCounts`]); the bits below still come from foldhash, so the tables inside a shard
/// (which use the low bits) spread a slot's keys, hash tags included, as evenly as any others.
#[derive(Clone, Copy)]
struct KeyHasher {
    seeded: foldhash::fast::FixedState,
    cluster: bool,
}

impl KeyHasher {
    #[inline]
    fn hash_one(&self, key: &[u8]) -> u64 {
        let table_bits = self.table_bits(key);
        if self.cluster {
            (u64::from(key_slot(key)) << (64 - SLOT_BITS)) | table_bits
        } else {
            table_bits
        }
    }

    /// The bits of [`KeyHasher::hash_one`] a table's index uses, which never reach the slot's:
    /// growing a cluster-mode table then costs no CRC16 per key.
    #[inline]
    fn table_bits(&self, key: &[u8]) -> u64 {
        let hash = self.seeded.hash_one(key);
        if self.cluster {
            hash >> SLOT_BITS
        } else {
            hash
        }
    }
}

/// The slot a cluster-mode key hash carries in its top bits.
fn slot_of_hash(hash: u64) -> usize {
    (hash >> (64 - SLOT_BITS)) as usize
}

/// Shards in a cluster-mode keyspace: 16 slots each, so walking one slot's keys (GETKEYSINSLOT,
/// slot migration) reads one shard's table, a 1/1024th of the keyspace, without any per-key
/// index: no memory per key, and nothing to maintain on the write path but a counter.
pub const CLUSTER_SHARDS: usize = 1024;

/// Per slot, the keys one table holds: the slots of its shard, which form one range.
#[derive(Clone)]
struct SlotCounts {
    /// The shard's first slot.
    first: usize,
    counts: Box<[u32]>,
}

impl SlotCounts {
    fn new(first: usize, len: usize) -> Self {
        SlotCounts {
            first,
            counts: vec![0; len].into_boxed_slice(),
        }
    }

    fn add(&mut self, hash: u64, delta: i32) {
        let count = &mut self.counts[slot_of_hash(hash) - self.first];
        *count = count.wrapping_add_signed(delta);
    }

    fn get(&self, slot: usize) -> usize {
        self.counts[slot - self.first] as usize
    }

    fn clear(&mut self) {
        self.counts.fill(0);
    }
}

/// How lookups treat a key whose TTL has passed. A master deletes it (`Delete`); a replica
/// leaves that to its master's DEL, as Redis does: its clients' reads see the key as gone
/// (`Hide`), and its master's commands see it as stored (`Show`), so they apply as they did on
/// the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpiredView {
    Delete,
    Hide,
    Show,
}

/// What a lookup found: see `Db::presence`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Presence {
    Absent,
    /// Stored, but its TTL had passed: now removed.
    Expired,
    /// Stored and live, at this slab position (valid until the table next changes shape), so
    /// the caller reaches the entry without probing the table again.
    Live(u32),
    /// Stored at this position with its TTL passed, but left in place and hidden from reads
    /// (`ExpiredView::Hide`); a write still replaces it where it is.
    Hidden(u32),
}

/// One database's keys within one shard.
pub struct Db {
    pub(crate) dict: Dict,
    hasher: KeyHasher,
    /// Keys with a TTL, for INFO keyspace and to skip idle databases in the expiry cycle.
    volatile: usize,
    /// Where the active expiry cycle resumes its walk.
    expire_cursor: u64,
    /// Running estimate of the TTL of volatile keys, as Redis reports in `avg_ttl`.
    avg_ttl_ms: u64,
    pub expired_keys: u64,
    /// How the current lock's lookups treat expired keys (set by `Locked::db`).
    expired_view: ExpiredView,
    /// This database's index; it stays with the index across SWAPDB, as WATCHes do.
    index: usize,
    /// WATCHed keys and the flags of the transactions watching them.
    watched: HashMap<SmallBytes, Vec<WatchFlag>>,
    shared: Arc<Shared>,
    /// Access frequencies, for the `allkeys-tinylfu` policy.
    pub(crate) frequencies: Frequencies,
    /// Keys per slot, in a cluster-mode keyspace only.
    slot_counts: Option<SlotCounts>,
}

/// What every table of a keyspace shares.
pub(crate) struct Shared {
    events: Option<Arc<dyn KeyEvents>>,
    pub(crate) tracking: Tracking,
    /// Keys in all databases, for `maxkeys`. Every key created or removed on any thread writes
    /// it: alone on its line, it leaves the fields beside it, which commands read, in place.
    keys: CachePadded<AtomicI64>,
    /// The server is a replica: expired keys wait for the master's DEL (see [`ExpiredView`]).
    replica: AtomicBool,
    /// Whether `events` hears of each key created ([`KeyEvents::created`]): only while someone
    /// listens, so that creating a key costs one load otherwise.
    report_created: AtomicBool,
    /// Where deleted values are freed: here, or on the background thread.
    pub(crate) lazyfree: LazyFree,
}

/// Set when a watched key changes; EXEC then aborts. One per client, shared by its WATCHes.
pub type WatchFlag = Arc<AtomicBool>;

/// Told about changes the engine makes on its own, outside any command: keys expiring. The
/// server turns them into keyspace notifications (and, later, log entries).
pub trait KeyEvents: Send + Sync {
    /// `key` expired and was deleted; the deletion took `deletion` (Redis's `expire-del`
    /// latency event).
    fn expired(&self, db: usize, key: &[u8], deletion: Duration);
    /// An eviction is about to delete a key ([`KeyEvents::evicted`] follows at once): with
    /// the two, the listener can measure what the deletion itself frees.
    fn evicting(&self);
    fn evicted(&self, db: usize, key: &[u8]);
    /// A [`Locked`] through which keys expired is about to release its shards: what the
    /// listener held back of those expirations can still be ordered before any other thread's
    /// change to the keys.
    fn expiries_unlocking(&self);
    /// A key was added to a table (not overwritten): Redis's `new` keyspace event, which it
    /// sends from its one "add a key" path. Told only while
    /// [`Keyspace::report_created_keys`] asks for it.
    fn created(&self, db: usize, key: &[u8]);
}

impl Db {
    fn new(
        hasher: KeyHasher,
        index: usize,
        shared: Arc<Shared>,
        slot_counts: Option<SlotCounts>,
    ) -> Self {
        Db {
            slot_counts,
            index,
            shared,
            frequencies: Frequencies::default(),
            watched: HashMap::new(),
            dict: Dict::default(),
            hasher,
            volatile: 0,
            expire_cursor: 0,
            avg_ttl_ms: 0,
            expired_keys: 0,
            expired_view: ExpiredView::Delete,
        }
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// WATCH: `flag` is set when `key` is next modified, expires or is flushed.
    pub fn watch(&mut self, key: &[u8], flag: &WatchFlag) {
        let watchers = self.watched.entry(SmallBytes::new(key)).or_default();
        if !watchers.iter().any(|f| Arc::ptr_eq(f, flag)) {
            watchers.push(flag.clone());
        }
    }

    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(watchers) = self.watched.get_mut(key) {
            watchers.retain(|f| !Arc::ptr_eq(f, flag));
            if watchers.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// After a key expired and was removed: counted, watchers flagged, listeners told.
    fn expired(&mut self, key: &[u8], deletion: Duration) {
        self.expired_keys += 1;
        self.signal_modified(key);
        if let Some(events) = &self.shared.events {
            events.expired(self.index, key, deletion);
            EXPIRED_UNDER_LOCK.set(true);
        }
    }

    /// Before a key is added to the table, by whatever command adds it.
    #[inline]
    fn created(&self, key: &[u8]) {
        if self.shared.report_created.load(Ordering::Relaxed) {
            if let Some(events) = &self.shared.events {
                events.created(self.index, key);
            }
        }
    }

    /// Marks `key` as modified for the transactions watching it. Every write calls this.
    pub fn signal_modified(&mut self, key: &[u8]) {
        if let Some(watchers) = self.watched.get(key) {
            for flag in watchers {
                flag.store(true, Ordering::Release);
            }
        }
    }

    /// Flags the watchers of every watched key that exists here (or in `other`): what FLUSHDB
    /// and SWAPDB do to transactions.
    fn signal_existing(&mut self, other: Option<&Db>) {
        for (key, watchers) in &self.watched {
            let hash = self.hasher.hash_one(key);
            let exists = self.dict.get(hash, key).is_some()
                || other.is_some_and(|o| o.dict.get(hash, key).is_some());
            if exists {
                for flag in watchers {
                    flag.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Before SWAPDB brings `incoming`'s keys here: a key watched here that is missing here
    /// and whose TTL passed in `incoming` is expired there first. As in Redis, a missing key
    /// replaced by an expired one is no change for its watchers (Redis marks the watch as of
    /// an expired key); expiring it keeps EXEC from seeing a TTL pass since WATCH.
    fn expire_arriving_watched(&self, incoming: &mut Db, now_ms: u64) {
        for key in self.watched.keys() {
            let hash = self.hasher.hash_one(key);
            if self.dict.get(hash, key).is_none() {
                let hash = incoming.hasher.hash_one(key);
                incoming.expire_if_due(hash, key, now_ms);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Whether `key` is stored with a TTL, passed or not (a writable replica tracks its own
    /// clients' volatile keys by this).
    pub fn has_ttl(&self, key: &[u8]) -> bool {
        let hash = self.hasher.hash_one(key);
        self.dict.get(hash, key).is_some_and(|e| e.has_ttl())
    }

    pub fn volatile(&self) -> usize {
        self.volatile
    }

    pub fn avg_ttl_ms(&self) -> u64 {
        self.avg_ttl_ms
    }

    /// Bytes the table itself uses beyond its entries.
    pub fn overhead_bytes(&self) -> usize {
        self.dict.bucket_bytes()
    }

    fn rehasher(&self) -> impl Fn(&[u8]) -> u64 {
        let hasher = self.hasher;
        move |k: &[u8]| hasher.table_bits(k)
    }

    /// Removes `key` if its TTL has passed. Returns true when it did.
    fn expire_if_due(&mut self, hash: u64, key: &[u8], now_ms: u64) -> bool {
        self.presence(hash, key, now_ms) == Presence::Expired
    }

    /// Whether `key` is stored and live, with one probe of the table; a key whose TTL has
    /// passed is removed, and counted as expired, on the way (on a master: see
    /// [`ExpiredView`]).
    #[inline]
    fn presence(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Presence {
        let Some(pos) = self.dict.position(hash, key) else {
            return Presence::Absent;
        };
        if !self.dict.at(pos).is_expired(now_ms) {
            return Presence::Live(pos);
        }
        self.presence_of_expired(hash, key, pos)
    }

    /// [`Db::presence`] for a stored key whose TTL has passed (off the hot path).
    #[cold]
    fn presence_of_expired(&mut self, hash: u64, key: &[u8], pos: u32) -> Presence {
        match self.expired_view {
            ExpiredView::Delete => {
                let started = Instant::now();
                self.delete(hash, key, Deletion::Expire);
                self.expired(key, started.elapsed());
                Presence::Expired
            }
            ExpiredView::Hide => Presence::Hidden(pos),
            ExpiredView::Show => Presence::Live(pos),
        }
    }

    /// Looks a key up for a command, expiring it lazily and recording the access.
    #[inline]
    pub fn get(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let pos = self.lookup_live(hash, key, now_ms)?;
        Some(self.touched(pos, now_ms))
    }

    /// Looks a key up for a write that creates it when missing (HSET, SADD, LPUSH...): as
    /// [`Db::get`], then on a miss stores `make()` as [`Db::set`] does. One lookup counts as
    /// one access, as Redis's lookupKeyWrite followed by dbAdd; a live key is probed no more
    /// often than by `get`.
    pub fn get_or_insert_with(
        &mut self,
        hash: u64,
        key: &[u8],
        now_ms: u64,
        make: impl FnOnce() -> Value,
    ) -> &mut Entry {
        match self.lookup_live(hash, key, now_ms) {
            Some(pos) => self.touched(pos, now_ms),
            None => self.set(hash, key, make(), false, now_ms),
        }
    }

    /// The first half of a command's lookup: counts it for `allkeys-tinylfu` (misses count
    /// too: a key read-through caches misses first, then writes) and expires the key if due.
    /// The key's slab position when it is there now.
    #[inline]
    fn lookup_live(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<u32> {
        if self.shared.tracking.policy() == Policy::AllKeysTinyLfu {
            self.frequencies.record(hash, self.dict.len());
        }
        match self.presence(hash, key, now_ms) {
            Presence::Live(pos) => Some(pos),
            Presence::Absent | Presence::Expired | Presence::Hidden(_) => None,
        }
    }

    /// The second half: the entry at `pos`, its access time updated.
    #[inline]
    fn touched(&mut self, pos: u32, now_ms: u64) -> &mut Entry {
        let entry = self.dict.at_mut(pos);
        entry.set_access(self.shared.tracking.touched(entry.access(), now_ms));
        entry
    }

    /// Looks a key up without counting it as an access (OBJECT, TYPE-like inspection).
    pub fn peek(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<&Entry> {
        match self.presence(hash, key, now_ms) {
            Presence::Live(pos) => Some(self.dict.at(pos)),
            Presence::Absent | Presence::Expired | Presence::Hidden(_) => None,
        }
    }

    /// The `allkeys-tinylfu` sketch's access count for a key's hash (0–15).
    pub fn frequency_estimate(&self, hash: u64) -> u8 {
        self.frequencies.estimate(hash)
    }

    /// The stored entry even if its TTL has passed (DEBUG DIGEST-VALUE looks at it as stored).
    pub fn peek_stored(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.dict.get(hash, key)
    }

    /// Stores `value` under `key`, replacing any previous value. The TTL is cleared unless
    /// `keep_ttl`.
    pub fn set(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        keep_ttl: bool,
        now_ms: u64,
    ) -> &mut Entry {
        // One lookup for the overwrite: the expiry check hands over the position, which is
        // reused to hand the entry back once the old value is freed (a reference could not
        // outlive the other borrows of `self`). A key whose TTL has passed is gone, even if
        // still stored: this write creates it anew (no TTL to keep) and the old one counts as
        // expired, as in Redis.
        if let Presence::Live(pos) | Presence::Hidden(pos) = self.presence(hash, key, now_ms) {
            let entry = self.dict.at_mut(pos);
            if !keep_ttl && entry.has_ttl() {
                entry.set_expire_at(0);
                self.volatile -= 1;
            }
            let out_of_line = entry.set_value(value);
            entry.set_access(self.shared.tracking.touched(entry.access(), now_ms));
            if let Some(old) = out_of_line {
                self.shared.lazyfree.free(old, Deletion::Server);
            }
            return self.dict.at_mut(pos);
        }
        self.created(key);
        let mut entry = Entry::new(key, value);
        entry.set_access(self.shared.tracking.initial(now_ms));
        self.counted(hash, 1);
        let rehash = self.rehasher();
        self.dict.insert_new(hash, entry, rehash)
    }

    /// Inserts a whole entry (RENAME, MOVE, COPY), keeping its TTL. The key must be absent.
    pub fn insert_entry(&mut self, hash: u64, entry: Entry) {
        self.created(entry.key());
        self.load_entry(hash, entry);
    }

    /// Inserts an entry read from a snapshot, keeping its TTL, with no event: loading adds keys
    /// silently, as in Redis. The key must be absent.
    pub fn load_entry(&mut self, hash: u64, entry: Entry) {
        if entry.has_ttl() {
            self.volatile += 1;
        }
        self.counted(hash, 1);
        let rehash = self.rehasher();
        self.dict.insert_new(hash, entry, rehash);
    }

    /// Takes `key`'s entry out of the table (to move it, as RENAME and MOVE do, or to drop it
    /// at once); [`Db::delete`] is the deletion that may free it in the background.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let rehash = self.rehasher();
        let entry = self.dict.remove(hash, key, rehash)?;
        if entry.has_ttl() {
            self.volatile -= 1;
        }
        self.counted(hash, -1);
        Some(entry)
    }

    /// Counts a key stored (1) or removed (-1): in all databases, and in its slot.
    #[inline]
    fn counted(&mut self, hash: u64, delta: i32) {
        self.shared
            .keys
            .fetch_add(i64::from(delta), Ordering::Relaxed);
        if let Some(slots) = &mut self.slot_counts {
            slots.add(hash, delta);
        }
    }

    /// Keys stored in `slot` (expired ones not yet removed included, as Redis counts them).
    /// 0 in a keyspace not made for cluster mode; `slot` must belong to this table's shard.
    pub fn keys_in_slot(&self, slot: usize) -> usize {
        self.slot_counts.as_ref().map_or(0, |s| s.get(slot))
    }

    /// Removes `key` and frees its value, in the background when `why` and the
    /// `lazyfree-lazy-*` settings allow it for a value this large. Returns whether it existed.
    pub fn delete(&mut self, hash: u64, key: &[u8], why: Deletion) -> bool {
        let Some(entry) = self.remove(hash, key) else {
            return false;
        };
        self.shared.lazyfree.free(entry.into_value(), why);
        true
    }

    /// Sets (or with 0, clears) the absolute expiry of an existing key.
    pub fn set_expire(&mut self, hash: u64, key: &[u8], at_ms: u64) {
        if let Some(entry) = self.dict.get_mut(hash, key) {
            match (entry.has_ttl(), at_ms != 0) {
                (false, true) => self.volatile += 1,
                (true, false) => self.volatile -= 1,
                _ => {}
            }
            entry.set_expire_at(at_ms);
        }
    }

    pub fn clear(&mut self) {
        self.signal_existing(None);
        self.shared
            .keys
            .fetch_sub(self.dict.len() as i64, Ordering::Relaxed);
        self.dict.clear();
        self.forget_counts();
    }

    /// After the table was emptied: nothing volatile, no key in any slot.
    fn forget_counts(&mut self) {
        self.volatile = 0;
        self.avg_ttl_ms = 0;
        if let Some(slots) = &mut self.slot_counts {
            slots.clear();
        }
    }

    pub(crate) fn take(&mut self) -> Dict {
        self.signal_existing(None);
        self.shared
            .keys
            .fetch_sub(self.dict.len() as i64, Ordering::Relaxed);
        self.forget_counts();
        std::mem::take(&mut self.dict)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.dict.iter()
    }

    pub fn random(&self, rng: &mut impl Rng) -> Option<&Entry> {
        self.dict.random(rng)
    }

    /// One step of the active expiry cycle: samples volatile keys from where the last step
    /// stopped and deletes the expired ones. Returns (sampled, expired).
    fn expire_step(&mut self, now_ms: u64, sample: usize) -> (usize, usize) {
        let mut due = Vec::new();
        let mut sampled = 0;
        // Wide enough for a full sample of expiries as far out as PEXPIREAT allows (i64::MAX).
        let mut ttl_sum = 0u128;
        let mut cursor = self.expire_cursor;
        // Bound the buckets walked, so a database with few volatile keys costs little per step.
        for _ in 0..sample * 20 {
            cursor = self.dict.scan(cursor, |e| {
                if e.has_ttl() {
                    sampled += 1;
                    if e.is_expired(now_ms) {
                        due.push(SmallBytes::new(e.key()));
                    } else {
                        ttl_sum += u128::from(e.expire_at() - now_ms);
                    }
                }
            });
            if cursor == 0 || sampled >= sample {
                break;
            }
        }
        self.expire_cursor = cursor;
        let live = sampled - due.len();
        if live > 0 {
            // Redis's smoothing: each sample moves the estimate 2% of the way.
            let sample_avg = (ttl_sum / live as u128) as u64;
            self.avg_ttl_ms = if self.avg_ttl_ms == 0 {
                sample_avg
            } else {
                self.avg_ttl_ms / 50 * 49 + sample_avg / 50
            };
        }
        for key in &due {
            let hash = self.hasher.hash_one(key);
            let started = Instant::now();
            self.delete(hash, key, Deletion::Expire);
            self.expired(key, started.elapsed());
        }
        (sampled, due.len())
    }
}

/// How many expired keys RANDOMKEY draws on a replica before it returns one, as Redis.
const REPLICA_RANDOM_TRIES: u32 = 100;

/// Seconds resolution is enough for OBJECT IDLETIME and LRU eviction, and fits in 32 bits.
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// One shard: its slice of every database.
pub struct Shard {
    pub(crate) dbs: Box<[Db]>,
    /// This shard's part of a running snapshot, if any.
    pub(crate) pending: Option<Box<Pending>>,
}

impl Shard {
    /// Removes `key` to make room: a write like any other for a pending snapshot, WATCH and the
    /// listeners (an `evicted` notification, a DEL in the AOF).
    pub(crate) fn evict(&mut self, db: usize, hash: u64, key: &[u8]) {
        self.preserve(db, hash, key);
        let table = &mut self.dbs[db];
        if let Some(events) = &table.shared.events {
            events.evicting();
        }
        table.delete(hash, key, Deletion::Eviction);
        table.signal_modified(key);
        if let Some(events) = &table.shared.events {
            events.evicted(table.index, key);
        }
    }

    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }
}

/// Up to this many keys, `Keyspace::lock_keys` sorts their shard indexes; beyond it, a bitmap
/// of the shards orders them.
const SORTED_KEYS: usize = 16;

/// `Locked::positions` of a shard that is not locked.
const NOT_LOCKED: u32 = u32::MAX;

/// See `Keyspace::guard_positions`.
const POSITIONS_PER_GUARD: usize = 16;

/// Up to this many shards locked, `Locked::db` finds a key's guard by scanning them; beyond it,
/// through `Locked::positions`.
const SCANNED_GUARDS: usize = 8;

/// All databases. See the module docs.
pub struct Keyspace {
    pub(crate) shards: Arc<[Mutex<Shard>]>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) evictor: Evictor,
    hasher: KeyHasher,
    databases: usize,
    /// Where the next active expiry cycle starts, so every shard gets its turn.
    expire_next: AtomicUsize,
    pub(crate) snapshot_running: Arc<AtomicBool>,
    /// See [`Keyspace::snapshot_held_bytes`].
    pub(crate) snapshot_held: Arc<AtomicU64>,
    /// See [`Keyspace::outgrows_cache`].
    outgrows_cache: AtomicBool,
}

thread_local! {
    /// Whether a key expired on this thread since a [`Locked`] last released its shards, so
    /// that only a release after expirations calls [`KeyEvents::expiries_unlocking`].
    static EXPIRED_UNDER_LOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Shards locked for one command, in index order.
pub struct Locked<'a> {
    keyspace: &'a Keyspace,
    /// Most commands touch one or two keys: those guards stay inline, with no allocation.
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); 2]>,
    /// With many shards locked (see `Keyspace::guard_positions`), each shard's position in
    /// `guards` (`NOT_LOCKED` for the others): an MGET or MSET of 100 keys (about 70 of 128
    /// shards) finds each key's guard in one step, where halving took a tenth of its
    /// instructions.
    positions: Option<Box<[u32]>>,
    /// Keys looked up through this lock may be modified: a pending snapshot keeps their
    /// cut-time values first.
    write: bool,
    /// Lookups see expired keys as stored (a replica applying its master's stream).
    show_expired: bool,
}

impl Drop for Locked<'_> {
    /// Runs before the guards are released.
    fn drop(&mut self) {
        if EXPIRED_UNDER_LOCK.replace(false) {
            if let Some(events) = &self.keyspace.shared.events {
                events.expiries_unlocking();
            }
        }
    }
}

impl<'a> Locked<'a> {
    /// Marks this lock as a write command's (see [`crate::snapshot`]).
    pub fn for_write(mut self) -> Self {
        self.write = true;
        self
    }

    /// Lookups through this lock see keys whose TTL passed as still there: a replica's master
    /// link, whose commands must apply as they did on the master (which sends a DEL for each
    /// key it expires).
    pub fn showing_expired(mut self) -> Self {
        self.show_expired = true;
        self
    }

    /// The shard that owns `key`, and the key's hash. The shard must be among those locked.
    pub fn db(&mut self, db: usize, key: &[u8]) -> (&mut Db, u64) {
        let hash = self.keyspace.hash(key);
        let shard = self.keyspace.shard_index(hash);
        // The guards ascend by shard.
        let position = match &self.positions {
            Some(positions) => Some(positions[shard])
                .filter(|&p| p != NOT_LOCKED)
                .map(|p| p as usize),
            None if self.guards.len() <= SCANNED_GUARDS => {
                self.guards.iter().position(|(i, _)| *i == shard)
            }
            None => self.guards.binary_search_by_key(&shard, |(i, _)| *i).ok(),
        };
        let guard = match position {
            Some(position) => &mut self.guards[position].1,
            None => panic!("shard {shard} was not locked for this key"),
        };
        if self.write {
            guard.preserve(db, hash, key);
        }
        let replica = self.keyspace.shared.replica.load(Ordering::Relaxed);
        let table = guard.db(db);
        // Redis deletes an expired key on a writable replica's own writes, so that they
        // behave as on a master; reads only hide it.
        table.expired_view = match (self.show_expired, replica && !self.write) {
            (true, _) => ExpiredView::Show,
            (false, true) => ExpiredView::Hide,
            (false, false) => ExpiredView::Delete,
        };
        (table, hash)
    }

    /// Deletes each of `keys` in `db` whose TTL has passed, now. A write command calls this
    /// before it changes anything: its journal record is appended at its first change, so a
    /// key found expired later in the command would have its `DEL` journaled after the
    /// command (MSET of a live and an expired key replayed as MSET then DEL), while Redis
    /// propagates the expiry first.
    pub fn expire_due<'k>(
        &mut self,
        db: usize,
        keys: impl IntoIterator<Item = &'k [u8]>,
        now_ms: u64,
    ) {
        for key in keys {
            let (table, hash) = self.db(db, key);
            table.expire_if_due(hash, key, now_ms);
        }
    }

    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }
}

impl Keyspace {
    pub fn new(shard_count: usize, databases: usize) -> Self {
        Self::with_events(shard_count, databases, None)
    }

    /// A keyspace whose expirations are reported to `events`.
    pub fn with_events(
        shard_count: usize,
        databases: usize,
        events: Option<Arc<dyn KeyEvents>>,
    ) -> Self {
        Self::build(shard_count, databases, events, false)
    }

    /// A keyspace for a cluster node: sharded by hash slot ([`CLUSTER_SHARDS`] shards), with
    /// each table counting its keys per slot, so [`Keyspace::keys_in_slot`] is O(1) and
    /// [`Keyspace::slot_keys`] walks one shard, not the whole keyspace.
    pub fn for_cluster(databases: usize, events: Option<Arc<dyn KeyEvents>>) -> Self {
        Self::build(CLUSTER_SHARDS, databases, events, true)
    }

    fn build(
        shard_count: usize,
        databases: usize,
        events: Option<Arc<dyn KeyEvents>>,
        cluster: bool,
    ) -> Self {
        let shard_count = shard_count.next_power_of_two();
        assert!(
            !cluster || shard_count <= SLOTS,
            "a shard holds whole slots"
        );
        let hasher = KeyHasher {
            seeded: foldhash::fast::FixedState::with_seed(rand::random()),
            cluster,
        };
        let shared = Arc::new(Shared {
            events,
            tracking: Tracking::default(),
            keys: CachePadded(AtomicI64::new(0)),
            replica: AtomicBool::new(false),
            report_created: AtomicBool::new(false),
            lazyfree: LazyFree::default(),
        });
        let slots_per_shard = SLOTS / shard_count;
        let shards = (0..shard_count)
            .map(|shard| {
                let counts =
                    cluster.then(|| SlotCounts::new(shard * slots_per_shard, slots_per_shard));
                Mutex::new(Shard {
                    dbs: (0..databases)
                        .map(|i| Db::new(hasher, i, shared.clone(), counts.clone()))
                        .collect(),
                    pending: None,
                })
            })
            .collect();
        Keyspace {
            shards,
            hasher,
            databases,
            expire_next: AtomicUsize::new(0),
            snapshot_running: Arc::new(AtomicBool::new(false)),
            snapshot_held: Arc::new(AtomicU64::new(0)),
            outgrows_cache: AtomicBool::new(false),
            shared,
            evictor: Evictor::default(),
        }
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    /// A replica leaves expired keys to its master (see [`ExpiredView`]); the server stops the
    /// active expiry cycle meanwhile.
    pub fn set_replica(&self, replica: bool) {
        self.shared.replica.store(replica, Ordering::Relaxed);
    }

    /// Whether the keyspace's [`KeyEvents`] hear of every key created (`notify-keyspace-events`
    /// with `n`).
    pub fn report_created_keys(&self, report: bool) {
        self.shared.report_created.store(report, Ordering::Relaxed);
    }

    pub fn is_replica(&self) -> bool {
        self.shared.replica.load(Ordering::Relaxed)
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Whether the key tables were larger than the cache at the last [`Keyspace::measure`]:
    /// only then do lookups wait on memory, and [`Keyspace::warm`] pays for itself.
    pub fn outgrows_cache(&self) -> bool {
        self.outgrows_cache.load(Ordering::Relaxed)
    }

    /// Compares the key tables' bytes (buckets and entries, every database) with
    /// `cache_bytes`, for [`Keyspace::outgrows_cache`]; the cron calls it.
    pub fn measure(&self, cache_bytes: usize) {
        let bytes: usize = self
            .shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .dbs
                    .iter()
                    .map(|db| db.dict.table_bytes())
                    .sum::<usize>()
            })
            .sum();
        self.outgrows_cache
            .store(bytes > cache_bytes, Ordering::Relaxed);
    }

    /// Loads the table slots of `keys` (in database `db`) into the cache before the commands
    /// that name them run. A pipeline's lookups each wait for two loads from memory (the bucket,
    /// then the entry it points to); loading every key's bucket first and then every entry lets
    /// those waits overlap. The shards are locked before any of it: taking a lock orders the
    /// loads before it (x86's locked instructions are full barriers), which would wait out each
    /// load in turn. Shards another thread holds are skipped: this is only a hint.
    pub fn warm(&self, db: usize, keys: &[&[u8]]) {
        if db >= self.databases {
            return;
        }
        let mut held: SmallVec<[(MutexGuard<'_, Shard>, u64); 16]> = SmallVec::new();
        for key in keys {
            let hash = self.hash(key);
            if let Some(shard) = self.shards[self.shard_index(hash)].try_lock() {
                held.push((shard, hash));
            }
        }
        for (shard, hash) in &held {
            shard.dbs[db].dict.touch_bucket(*hash);
        }
        for (shard, hash) in &held {
            shard.dbs[db].dict.touch_chain(*hash);
        }
    }

    /// Whether this keyspace was made for cluster mode ([`Keyspace::for_cluster`]).
    pub fn is_cluster(&self) -> bool {
        self.hasher.cluster
    }

    /// The shard holding `slot`'s keys in a cluster-mode keyspace.
    fn slot_shard(&self, slot: usize) -> usize {
        slot / (SLOTS / self.shards.len())
    }

    /// Keys of database `db` in `slot` (below [`SLOTS`]): COUNTKEYSINSLOT. Always 0 in a
    /// keyspace not made for cluster mode.
    pub fn keys_in_slot(&self, db: usize, slot: usize) -> usize {
        if !self.is_cluster() {
            return 0;
        }
        self.shards[self.slot_shard(slot)].lock().dbs[db].keys_in_slot(slot)
    }

    /// One batch of the keys of database `db` in `slot` (below [`SLOTS`]), for GETKEYSINSLOT
    /// and slot migration: walks the slot's shard from `cursor` (0 to start) until at least
    /// `count` keys were visited or the walk is done, and returns the cursor to go on from (0
    /// when done). As SCAN, a walk visits every key that stays in the slot from its start to
    /// its end at least once, even if the table is resized between batches; keys whose TTL
    /// passed are visited too, as Redis lists them until they are removed. Nothing in a
    /// keyspace not made for cluster mode.
    pub fn slot_keys(
        &self,
        db: usize,
        slot: usize,
        mut cursor: u64,
        count: usize,
        mut visit: impl FnMut(&Entry),
    ) -> u64 {
        if !self.is_cluster() {
            return 0;
        }
        let shard = self.shards[self.slot_shard(slot)].lock();
        let table = &shard.dbs[db];
        if table.keys_in_slot(slot) == 0 {
            return 0;
        }
        let mut visited = 0;
        loop {
            cursor = table.dict.scan(cursor, |entry| {
                if usize::from(key_slot(entry.key())) == slot {
                    visited += 1;
                    visit(entry);
                }
            });
            if cursor == 0 || visited >= count {
                return cursor;
            }
        }
    }

    /// Deletes every key of database `db` in `slot` (below [`SLOTS`]), as a cluster master does
    /// with a slot another master took over: each a write like any other for a pending
    /// snapshot and WATCH, and `deleted` told of each while the slot's shard is still locked
    /// (so its DEL takes its place in the journal). Returns how many were deleted; nothing in
    /// a keyspace not made for cluster mode.
    pub fn delete_slot_keys(
        &self,
        db: usize,
        slot: usize,
        mut deleted: impl FnMut(&[u8]),
    ) -> usize {
        if !self.is_cluster() {
            return 0;
        }
        let mut shard = self.shards[self.slot_shard(slot)].lock();
        if shard.dbs[db].keys_in_slot(slot) == 0 {
            return 0;
        }
        let mut keys = Vec::with_capacity(shard.dbs[db].keys_in_slot(slot));
        let mut cursor = 0;
        loop {
            cursor = shard.dbs[db].dict.scan(cursor, |entry| {
                if usize::from(key_slot(entry.key())) == slot {
                    keys.push(entry.key().to_vec());
                }
            });
            if cursor == 0 {
                break;
            }
        }
        for key in &keys {
            let hash = self.hash(key);
            shard.preserve(db, hash, key);
            let table = &mut shard.dbs[db];
            table.delete(hash, key, Deletion::Server);
            table.signal_modified(key);
            deleted(key);
        }
        keys.len()
    }

    /// Shards are chosen by the hash's high bits; the table inside a shard uses the low bits.
    pub(crate) fn shard_index(&self, hash: u64) -> usize {
        let bits = self.shards.len().trailing_zeros();
        if bits == 0 {
            0
        } else {
            (hash >> (64 - bits)) as usize
        }
    }

    pub fn lock_shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.shards[index].lock()
    }

    /// Locks the shards of all `keys`, in index order.
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        // Pushed one by one rather than collected: `collect` into a SmallVec is not always
        // inlined into a single-key command, and then costs it a tenth of its instructions.
        let mut indexes: SmallVec<[usize; 4]> = SmallVec::new();
        for key in keys {
            indexes.push(self.shard_index(self.hash(key)));
        }
        if indexes.len() > SORTED_KEYS {
            self.order_by_bitmap(&mut indexes);
        } else {
            indexes.sort_unstable();
            indexes.dedup();
        }
        self.lock_indexes(indexes)
    }

    /// Puts shard `indexes` in ascending order without repeats by marking them in a bitmap of
    /// the shards and reading it back: linear, where sorting the 100 shards of an MGET or MSET
    /// of 100 keys cost about 5,000 instructions.
    fn order_by_bitmap(&self, indexes: &mut SmallVec<[usize; 4]>) {
        let mut marked: SmallVec<[u64; 16]> = smallvec![0; self.shards.len().div_ceil(64)];
        for &index in indexes.iter() {
            marked[index / 64] |= 1 << (index % 64);
        }
        indexes.clear();
        for (word, mut bits) in marked.into_iter().enumerate() {
            while bits != 0 {
                indexes.push(word * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }

    pub fn lock_all(&self) -> Locked<'_> {
        self.lock_indexes(0..self.shards.len())
    }

    /// Locks the shards at `indexes`, which ascend without repeats (the one lock order that
    /// keeps two commands from deadlocking).
    #[inline]
    fn lock_indexes(&self, indexes: impl IntoIterator<Item = usize>) -> Locked<'_> {
        let guards: SmallVec<_> = indexes
            .into_iter()
            .map(|i| (i, self.shards[i].lock()))
            .collect();
        let positions = self.guard_positions(&guards);
        Locked {
            keyspace: self,
            guards,
            positions,
            write: false,
            show_expired: false,
        }
    }

    /// `Locked::positions` for `guards`, when there are more than `SCANNED_GUARDS` and the
    /// table is small beside them (at most `POSITIONS_PER_GUARD` entries a guard: all the
    /// multi-key commands of a server with 128 shards, while a cluster node's 1,024 need 64
    /// guards); fewer guards are scanned or halved.
    fn guard_positions(&self, guards: &[(usize, MutexGuard<'_, Shard>)]) -> Option<Box<[u32]>> {
        if guards.len() <= SCANNED_GUARDS || self.shards.len() > guards.len() * POSITIONS_PER_GUARD
        {
            return None;
        }
        let mut positions = vec![NOT_LOCKED; self.shards.len()].into_boxed_slice();
        for (position, (shard, _)) in guards.iter().enumerate() {
            positions[*shard] = position as u32;
        }
        Some(positions)
    }

    /// Keys in a database: DBSIZE.
    pub fn db_len(&self, db: usize) -> usize {
        self.shards.iter().map(|s| s.lock().dbs[db].len()).sum()
    }

    /// Per database: (keys, volatile keys, average TTL in ms), for INFO keyspace.
    pub fn db_stats(&self) -> Vec<(usize, usize, u64)> {
        // TTL sums are 128-bit: each shard's average can be as large as i64::MAX.
        let mut stats = vec![(0usize, 0usize, 0u128, 0usize); self.databases];
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (i, db) in shard.dbs.iter().enumerate() {
                stats[i].0 += db.len();
                stats[i].1 += db.volatile();
                if db.avg_ttl_ms() > 0 && db.volatile() > 0 {
                    stats[i].2 += u128::from(db.avg_ttl_ms());
                    stats[i].3 += 1;
                }
            }
        }
        stats
            .into_iter()
            .map(|(k, v, ttl, n)| (k, v, if n > 0 { (ttl / n as u128) as u64 } else { 0 }))
            .collect()
    }

    /// Per database: (keys, bytes of the tables' bucket arrays), for MEMORY STATS.
    pub fn table_sizes(&self) -> Vec<(u64, u64)> {
        let mut sizes = vec![(0u64, 0u64); self.databases];
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (size, db) in sizes.iter_mut().zip(shard.dbs.iter()) {
                size.0 += db.len() as u64;
                size.1 += db.overhead_bytes() as u64;
            }
        }
        sizes
    }

    /// Keys in all databases (`maxkeys`), without taking any lock.
    pub fn key_count(&self) -> u64 {
        self.shared.keys.load(Ordering::Relaxed).max(0) as u64
    }

    /// The access-tracking settings in force (OBJECT FREQ, RESTORE's IDLETIME/FREQ).
    pub fn tracking(&self) -> &Tracking {
        &self.shared.tracking
    }

    pub fn expired_keys(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().dbs.iter().map(|d| d.expired_keys).sum::<u64>())
            .sum()
    }

    /// Empties one database (or all, with `None`). With `lazy`, the memory is freed on another
    /// thread so the locks are held only for the swap.
    pub fn flush(&self, db: Option<usize>, lazy: bool) {
        let mut garbage = Vec::new();
        {
            let mut all = self.lock_all();
            for shard in all.shards() {
                let range = match db {
                    Some(i) => i..i + 1,
                    None => 0..shard.dbs.len(),
                };
                for i in range {
                    if shard.pending.is_none() && !lazy {
                        shard.dbs[i].clear();
                        continue;
                    }
                    // A pending snapshot that has yet to walk this database keeps its entries;
                    // otherwise they are garbage, freed here or in the background.
                    let dict = shard.dbs[i].take();
                    if let Some(unneeded) = shard.preserve_all(i, dict) {
                        if lazy {
                            garbage.push(unneeded);
                        }
                    }
                }
            }
        }
        self.shared.lazyfree.free_databases(garbage);
    }

    /// Applies the `lazyfree-lazy-*` settings to the engine's deletions.
    pub fn configure_lazyfree(&self, settings: LazyFreeSettings) {
        self.shared.lazyfree.configure(settings);
    }

    /// Values handed to the background thread and not freed yet (`lazyfree_pending_objects`).
    pub fn lazyfree_pending_objects(&self) -> u64 {
        self.shared.lazyfree.pending()
    }

    /// Values the background thread has freed (`lazyfreed_objects`).
    pub fn lazyfreed_objects(&self) -> u64 {
        self.shared.lazyfree.freed()
    }

    /// CONFIG RESETSTAT: `expired_keys`, `evicted_keys` and `lazyfreed_objects` start again
    /// from 0 (pending frees stay counted).
    pub fn reset_stats(&self) {
        self.shared.lazyfree.reset_freed();
        self.evictor.evicted.store(0, Ordering::Relaxed);
        for shard in self.shards.iter() {
            for db in shard.lock().dbs.iter_mut() {
                db.expired_keys = 0;
            }
        }
    }

    pub fn swap_databases(&self, a: usize, b: usize) {
        let now_ms = crate::now_ms();
        let mut all = self.lock_all();
        if a == b {
            return;
        }
        for shard in all.shards() {
            let (low, high) = shard.dbs.split_at_mut(a.max(b));
            let (x, y) = (&mut low[a.min(b)], &mut high[0]);
            x.expire_arriving_watched(y, now_ms);
            y.expire_arriving_watched(x, now_ms);
            x.signal_existing(Some(y));
            y.signal_existing(Some(x));
            // The data changes places; index and WATCHes stay with the database number.
            std::mem::swap(&mut x.dict, &mut y.dict);
            std::mem::swap(&mut x.volatile, &mut y.volatile);
            std::mem::swap(&mut x.expire_cursor, &mut y.expire_cursor);
            std::mem::swap(&mut x.avg_ttl_ms, &mut y.avg_ttl_ms);
            std::mem::swap(&mut x.slot_counts, &mut y.slot_counts);
            shard.swap_origins(a, b);
        }
    }

    /// One call of SCAN over a database. The cursor packs the shard index in its low bits and
    /// the shard table's reverse-binary cursor above them.
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&Entry, u64),
    ) -> u64 {
        let bits = self.shards.len().trailing_zeros();
        let mut shard = (cursor & ((1u64 << bits) - 1)) as usize;
        let mut inner = cursor >> bits;
        let now = crate::now_ms();
        let mut visited = 0;
        // As in Redis: stop after `count` keys or 10×count buckets, whichever comes first.
        let mut budget = count.saturating_mul(10).max(1);
        loop {
            let mut guard = self.shards[shard].lock();
            let table = &mut guard.dbs[db];
            // An empty shard costs nothing to pass, so it does not use up the bucket budget:
            // otherwise a small database would need several calls where Redis needs one.
            if table.is_empty() {
                inner = 0;
            } else {
                loop {
                    let mut expired: Vec<SmallBytes> = Vec::new();
                    inner = table.dict.scan(inner, |e| {
                        if e.is_expired(now) {
                            expired.push(SmallBytes::new(e.key()));
                        } else {
                            visited += 1;
                            visit(e, now);
                        }
                    });
                    // As Redis's SCAN: an expired key it passes is reclaimed (deleted, counted
                    // and propagated as an expiry), once the bucket has been read.
                    for key in expired {
                        table.expire_if_due(self.hash(&key), &key, now);
                    }
                    budget -= 1;
                    if inner == 0 || visited >= count || budget == 0 {
                        break;
                    }
                }
            }
            drop(guard);
            if inner == 0 {
                shard += 1;
                if shard == self.shards.len() {
                    return 0;
                }
            }
            if visited >= count || budget == 0 {
                return (inner << bits) | shard as u64;
            }
        }
    }

    /// A random live key of a database, or None when it is empty.
    pub fn random_key(&self, db: usize, now_ms: u64) -> Option<SmallBytes> {
        let mut rng = rand::thread_rng();
        // Weight shards by size so every key is about equally likely. Each round returns a live
        // key or deletes an expired one, so this ends, and it does not give up while live keys
        // remain behind many expired ones (Redis does not either). A replica deletes nothing:
        // after as many tries as Redis makes, it returns an expired key rather than loop on.
        let replica = self.is_replica();
        let mut tries = 0;
        loop {
            let sizes: Vec<usize> = self.shards.iter().map(|s| s.lock().dbs[db].len()).collect();
            let total: usize = sizes.iter().sum();
            if total == 0 {
                return None;
            }
            let mut pick = rng.gen_range(0..total);
            let index = sizes.iter().position(|&n| {
                if pick < n {
                    true
                } else {
                    pick -= n;
                    false
                }
            })?;
            let mut shard = self.shards[index].lock();
            let table = &mut shard.dbs[db];
            let Some(entry) = table.random(&mut rng) else {
                continue;
            };
            tries += 1;
            if !entry.is_expired(now_ms) || (replica && tries >= REPLICA_RANDOM_TRIES) {
                return Some(SmallBytes::new(entry.key()));
            }
            if replica {
                continue;
            }
            let key = SmallBytes::new(entry.key());
            table.expired_view = ExpiredView::Delete;
            table.expire_if_due(table.hasher.hash_one(&key), &key, now_ms);
        }
    }

    /// Runs Redis's adaptive active expiry for up to `budget`: per database, sample 20 volatile
    /// keys, delete the expired ones, and go on while more than 10% of a sample had expired.
    /// Each step holds one shard's lock briefly.
    pub fn active_expire(
        &self,
        now_ms: u64,
        budget: Duration,
        effort: ExpireEffort,
    ) -> ExpireCycle {
        let start = Instant::now();
        let first = self.expire_next.fetch_add(1, Ordering::Relaxed);
        let mut cycle = ExpireCycle::default();
        for offset in 0..self.shards.len() {
            let index = (first + offset) % self.shards.len();
            // One lock to find the databases with keys to expire: a cluster keyspace has many
            // shards, most databases are empty, and each step below locks again anyway.
            let volatile: SmallVec<[usize; 16]> = {
                let mut shard = self.shards[index].lock();
                let mut volatile = SmallVec::new();
                for (db, table) in shard.dbs.iter_mut().enumerate() {
                    if table.volatile == 0 {
                        // Nothing volatile left: no TTL to average, as Redis reports.
                        table.avg_ttl_ms = 0;
                    } else {
                        volatile.push(db);
                    }
                }
                volatile
            };
            for db in volatile {
                loop {
                    let mut shard = self.shards[index].lock();
                    if shard.dbs[db].volatile == 0 {
                        shard.dbs[db].avg_ttl_ms = 0;
                        break;
                    }
                    let (sampled, gone) = shard.dbs[db].expire_step(now_ms, effort.keys_per_step);
                    drop(shard);
                    cycle.sampled += sampled;
                    cycle.expired += gone;
                    if start.elapsed() >= budget {
                        self.expire_next.store(index, Ordering::Relaxed);
                        return cycle;
                    }
                    if sampled == 0 || gone * 100 <= sampled * effort.acceptable_stale_percent {
                        break;
                    }
                }
            }
        }
        cycle
    }
}

/// How hard active expiry works, from `active-expire-effort` (1 to 10) as Redis scales it:
/// each level samples 5 more keys per step, accepts one point less of expired keys left in a
/// database before moving on, and may use 2% more of the cron's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireEffort {
    /// Keys with a TTL sampled per step.
    pub keys_per_step: usize,
    /// A database is left once a step finds at most this percentage of its sample expired.
    pub acceptable_stale_percent: usize,
    /// The share of each cron period active expiry may use, in percent.
    pub time_percent: u32,
}

impl ExpireEffort {
    /// Redis's default, `active-expire-effort 1`.
    pub const DEFAULT: ExpireEffort = ExpireEffort::level(1);

    /// The effort of `active-expire-effort level` (clamped to 1..=10).
    pub const fn level(level: u32) -> ExpireEffort {
        let extra = if level < 1 {
            0
        } else if level > 10 {
            9
        } else {
            level - 1
        };
        ExpireEffort {
            keys_per_step: 20 + 5 * extra as usize,
            acceptable_stale_percent: 10 - extra as usize,
            time_percent: 25 + 2 * extra,
        }
    }
}

/// What one active expiry cycle did: volatile keys looked at, and how many of them had expired
/// (their ratio is the "stale" share INFO's `expired_stale_perc` averages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCycle {
    pub sampled: usize,
    pub expired: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ks: &Keyspace, key: &str, ttl_at: u64) {
        let mut locked = ks.lock_keys([key.as_bytes()]);
        let (db, hash) = locked.db(0, key.as_bytes());
        db.set(hash, key.as_bytes(), Value::string(b"v"), false, 0);
        db.set_expire(hash, key.as_bytes(), ttl_at);
    }

    /// Each way `Locked::db` finds a key's guard: a scan of a few, the position table of many
    /// (MGET of 100 keys over 128 shards), halving when the table would be large beside them.
    #[test]
    fn many_keys_lock_each_shard_once_in_order() {
        for (shards, key_count, table) in [(128, 100, true), (1024, 20, false), (128, 4, false)] {
            let ks = Keyspace::new(shards, 1);
            let keys: Vec<String> = (0..key_count).map(|i| format!("key:{i}")).collect();
            let mut locked = ks.lock_keys(keys.iter().map(String::as_bytes));
            let held: Vec<usize> = locked.guards.iter().map(|(i, _)| *i).collect();
            let mut expected: Vec<usize> = keys
                .iter()
                .map(|k| ks.shard_index(ks.hash(k.as_bytes())))
                .collect();
            expected.sort_unstable();
            expected.dedup();
            assert_eq!(held, expected, "{shards} shards");
            assert_eq!(locked.positions.is_some(), table, "{shards} shards");
            if key_count > 8 {
                assert!(expected.len() > SCANNED_GUARDS, "more than a scan serves");
            }
            for key in &keys {
                let (db, hash) = locked.db(0, key.as_bytes());
                db.set(hash, key.as_bytes(), Value::string(b"v"), false, 0);
            }
            drop(locked);
            assert_eq!(ks.db_len(0), key_count, "{shards} shards");
        }
    }

    /// Warming is a hint: a shard held elsewhere (here by the caller itself, where waiting
    /// would never end), a database past the last, keys absent or repeated: it returns, and
    /// the data is as it was.
    #[test]
    fn warming_skips_held_shards_and_changes_nothing() {
        let ks = Keyspace::new(4, 2);
        let keys: Vec<String> = (0..64).map(|i| format!("key:{i}")).collect();
        for key in &keys[..32] {
            set(&ks, key, 0);
        }
        let mut names: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
        names.push(names[0]);
        let held = ks.lock_keys([names[0]]);
        for db in 0..3 {
            ks.warm(db, &names);
        }
        drop(held);
        ks.warm(0, &names);
        assert_eq!(ks.db_len(0), 32);
        assert_eq!(ks.db_len(1), 0);
        // 32 entries and their buckets: over 1 KB, under 1 MB.
        ks.measure(1 << 20);
        assert!(!ks.outgrows_cache());
        ks.measure(1 << 10);
        assert!(ks.outgrows_cache());
    }

    #[test]
    #[should_panic(expected = "was not locked")]
    fn a_key_whose_shard_is_not_locked_is_refused() {
        let ks = Keyspace::new(128, 1);
        let keys: Vec<String> = (0..100).map(|i| format!("key:{i}")).collect();
        let mut locked = ks.lock_keys(keys.iter().map(String::as_bytes));
        assert!(locked.positions.is_some());
        let unlocked = (0..)
            .map(|i| format!("other:{i}"))
            .find(|k| {
                locked.positions.as_ref().unwrap()[ks.shard_index(ks.hash(k.as_bytes()))]
                    == NOT_LOCKED
            })
            .unwrap();
        locked.db(0, unlocked.as_bytes());
    }

    #[test]
    fn expire_effort_scales_as_redis() {
        assert_eq!(
            ExpireEffort::DEFAULT,
            ExpireEffort {
                keys_per_step: 20,
                acceptable_stale_percent: 10,
                time_percent: 25
            }
        );
        assert_eq!(
            ExpireEffort::level(10),
            ExpireEffort {
                keys_per_step: 65,
                acceptable_stale_percent: 1,
                time_percent: 43
            }
        );
        assert_eq!(ExpireEffort::level(0), ExpireEffort::DEFAULT);
    }

    #[test]
    fn lazy_and_active_expiry() {
        let ks = Keyspace::new(4, 16);
        for i in 0..1000 {
            set(&ks, &format!("k{i}"), if i % 2 == 0 { 1000 } else { 0 });
        }
        assert_eq!(ks.db_stats()[0], (1000, 500, 0));
        {
            let mut locked = ks.lock_keys([&b"k0"[..]]);
            let (db, hash) = locked.db(0, b"k0");
            assert!(db.get(hash, b"k0", 999).is_some());
            assert!(db.get(hash, b"k0", 1000).is_none());
        }
        let mut total = 1;
        for _ in 0..100 {
            total += ks
                .active_expire(2000, Duration::from_secs(1), ExpireEffort::DEFAULT)
                .expired;
        }
        assert_eq!(total, 500);
        assert_eq!(ks.db_stats()[0], (500, 0, 0));
        assert_eq!(ks.expired_keys(), 500);
    }

    #[test]
    fn a_replica_hides_expired_keys_from_reads_and_shows_them_to_its_master() {
        let ks = Keyspace::new(4, 16);
        set(&ks, "k", 1000);
        ks.set_replica(true);
        {
            let mut locked = ks.lock_keys([&b"k"[..]]);
            let (db, hash) = locked.db(0, b"k");
            assert!(db.get(hash, b"k", 2000).is_none(), "a read sees it gone");
            assert!(db.peek(hash, b"k", 2000).is_none());
            assert!(
                db.peek_stored(hash, b"k").is_some(),
                "but it is not deleted"
            );
            // A write through the same view replaces the hidden key where it is stored, never
            // beside it (the lookup's position is reused).
            db.set(hash, b"k", Value::string(b"again"), true, 2000);
            assert_eq!(db.len(), 1);
            assert_eq!(db.peek_stored(hash, b"k").unwrap().expire_at(), 1000);
        }
        {
            let mut locked = ks.lock_keys([&b"k"[..]]).showing_expired();
            let (db, hash) = locked.db(0, b"k");
            assert!(
                db.get(hash, b"k", 2000).is_some(),
                "the master's commands see it"
            );
        }
        assert_eq!(ks.random_key(0, 2000).as_deref(), Some(&b"k"[..]));
        assert_eq!(ks.db_len(0), 1);
        {
            // A write on a writable replica deletes it, as Redis does.
            let mut locked = ks.lock_keys([&b"k"[..]]).for_write();
            let (db, hash) = locked.db(0, b"k");
            assert!(db.get(hash, b"k", 2000).is_none());
        }
        assert_eq!(ks.db_len(0), 0);
    }

    #[test]
    fn get_or_insert_creates_only_a_missing_or_expired_key() {
        let ks = Keyspace::new(4, 16);
        set(&ks, "kept", 0);
        set(&ks, "expired", 1000);
        let mut locked = ks.lock_keys([&b"kept"[..], b"expired", b"new"]);
        for (key, created) in [("kept", false), ("expired", true), ("new", true)] {
            let (db, hash) = locked.db(0, key.as_bytes());
            let mut made = false;
            let entry = db.get_or_insert_with(hash, key.as_bytes(), 2000, || {
                made = true;
                Value::string(b"fresh")
            });
            let expected: &[u8] = if created { b"fresh" } else { b"v" };
            assert_eq!(
                entry.value().string_bytes().unwrap().as_ref(),
                expected,
                "{key}"
            );
            assert_eq!(entry.expire_at(), 0, "{key}");
            assert_eq!(made, created, "{key}");
        }
        drop(locked);
        assert_eq!(ks.db_stats()[0], (3, 0, 0));
        assert_eq!(ks.expired_keys(), 1);
    }

    #[test]
    fn scan_covers_all_shards() {
        let ks = Keyspace::new(8, 16);
        for i in 0..500 {
            set(&ks, &format!("k{i}"), 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = ks.scan(0, cursor, 10, |e, _| {
                seen.insert(e.key().to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 500);
    }

    #[test]
    fn lookups_record_the_access_time() {
        let ks = Keyspace::new(4, 16);
        set(&ks, "k", 0);
        let mut locked = ks.lock_keys([&b"k"[..]]);
        let (db, hash) = locked.db(0, b"k");
        assert_eq!(db.get(hash, b"k", 5_000_000).unwrap().access(), 5000);
    }

    #[test]
    fn scan_of_small_database_finishes_in_one_call() {
        let ks = Keyspace::new(256, 16);
        assert_eq!(ks.scan(0, 0, 10, |_, _| {}), 0);
        for i in 0..5 {
            set(&ks, &format!("k{i}"), 0);
        }
        let mut seen = 0;
        assert_eq!(ks.scan(0, 0, 10, |_, _| seen += 1), 0);
        assert_eq!(seen, 5);
    }

    #[test]
    fn active_expiry_copes_with_far_future_expiries() {
        // PEXPIREAT accepts up to i64::MAX; the TTL estimate must not overflow on such keys.
        let ks = Keyspace::new(8, 16);
        for i in 0..200 {
            set(&ks, &format!("k{i}"), i64::MAX as u64);
        }
        for _ in 0..8 {
            ks.active_expire(1000, Duration::from_secs(1), ExpireEffort::DEFAULT);
        }
        let (keys, volatile, avg_ttl) = ks.db_stats()[0];
        assert_eq!((keys, volatile), (200, 200));
        assert!(avg_ttl > i64::MAX as u64 / 2, "{avg_ttl}");
    }

    #[test]
    fn random_key_finds_a_live_key_among_many_expired() {
        let ks = Keyspace::new(8, 16);
        assert_eq!(ks.random_key(0, 1000), None);
        for i in 0..500 {
            set(&ks, &format!("gone{i}"), 1);
        }
        set(&ks, "live", 0);
        assert_eq!(ks.random_key(0, 1000).as_deref(), Some(&b"live"[..]));
        let mut locked = ks.lock_keys([&b"live"[..]]);
        let (db, hash) = locked.db(0, b"live");
        db.remove(hash, b"live");
        drop(locked);
        assert_eq!(ks.random_key(0, 1000), None);
        assert_eq!(ks.db_len(0), 0);
    }

    #[test]
    fn watches_are_flagged_by_writes_expiry_flush_and_swap() {
        let ks = Keyspace::new(4, 16);
        let flag: WatchFlag = Arc::new(AtomicBool::new(false));
        let watch = |db: usize, key: &str| {
            let mut locked = ks.lock_keys([key.as_bytes()]);
            locked.db(db, key.as_bytes()).0.watch(key.as_bytes(), &flag);
        };
        let take = || flag.swap(false, Ordering::AcqRel);
        set(&ks, "k", 0);
        watch(0, "k");
        {
            let mut locked = ks.lock_keys([&b"other"[..]]);
            locked.db(0, b"other").0.signal_modified(b"other");
        }
        assert!(!take(), "another key's change does not flag");
        {
            let mut locked = ks.lock_keys([&b"k"[..]]);
            locked.db(0, b"k").0.signal_modified(b"k");
        }
        assert!(take());
        set(&ks, "k", 100);
        {
            let mut locked = ks.lock_keys([&b"k"[..]]);
            let (db, hash) = locked.db(0, b"k");
            assert!(db.get(hash, b"k", 1000).is_none());
        }
        assert!(take(), "lazy expiry flags");
        set(&ks, "k", 100);
        ks.active_expire(1000, Duration::from_secs(1), ExpireEffort::DEFAULT);
        assert!(take(), "active expiry flags");
        watch(3, "absent");
        ks.flush(Some(3), false);
        assert!(
            !take(),
            "flushing a database where the key is absent leaves the watch intact"
        );
        set(&ks, "k", 0);
        ks.swap_databases(0, 3);
        assert!(take(), "SWAPDB flags keys present in either database");
        assert_eq!((ks.db_len(0), ks.db_len(3)), (0, 1));
        let mut locked = ks.lock_keys([&b"k"[..]]);
        assert_eq!(locked.db(3, b"k").0.index(), 3);
    }

    #[test]
    fn swap_and_flush() {
        let ks = Keyspace::new(4, 16);
        set(&ks, "a", 0);
        ks.swap_databases(0, 3);
        assert_eq!((ks.db_len(0), ks.db_len(3)), (0, 1));
        ks.flush(Some(3), true);
        assert_eq!(ks.db_len(3), 0);
    }

    /// Every key of every slot, as GETKEYSINSLOT lists them: walks each slot in small batches.
    fn keys_by_slot(ks: &Keyspace, db: usize) -> std::collections::BTreeMap<usize, Vec<Vec<u8>>> {
        let mut all = std::collections::BTreeMap::new();
        for slot in 0..SLOTS {
            let mut keys = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = ks.slot_keys(db, slot, cursor, 3, |e| keys.push(e.key().to_vec()));
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(keys.len(), ks.keys_in_slot(db, slot), "slot {slot}");
            if !keys.is_empty() {
                keys.sort();
                all.insert(slot, keys);
            }
        }
        all
    }

    fn model_by_slot<'k>(
        keys: impl IntoIterator<Item = &'k Vec<u8>>,
    ) -> std::collections::BTreeMap<usize, Vec<Vec<u8>>> {
        let mut all = std::collections::BTreeMap::<usize, Vec<Vec<u8>>>::new();
        for key in keys {
            all.entry(usize::from(key_slot(key)))
                .or_default()
                .push(key.clone());
        }
        for keys in all.values_mut() {
            keys.sort();
        }
        all
    }

    #[test]
    fn the_slot_index_follows_every_way_keys_come_and_go() {
        let ks = Keyspace::for_cluster(16, None);
        let mut model = std::collections::BTreeSet::<Vec<u8>>::new();
        let mut rng = rand::thread_rng();
        let key = |i: u32| -> Vec<u8> {
            // Plain keys, tagged keys sharing slots, and braces that are no tag.
            match i % 4 {
                0 => format!("k{i}").into_bytes(),
                1 => format!("{{user{}}}:{i}", i % 7).into_bytes(),
                2 => format!("{{}}{i}").into_bytes(),
                _ => format!("}}{{{i}").into_bytes(),
            }
        };
        for round in 0..4000u32 {
            let k = key(rng.gen_range(0..600));
            let mut locked = ks.lock_keys([&k[..]]);
            let (db, hash) = locked.db(0, &k);
            match rng.gen_range(0..10) {
                0..=4 => {
                    db.set(hash, &k, Value::string(b"v"), false, 0);
                    model.insert(k);
                }
                5 | 6 => {
                    assert_eq!(db.delete(hash, &k, Deletion::User), model.remove(&k));
                }
                7 => {
                    // RENAME: the entry leaves one slot for another.
                    drop(locked);
                    let to = key(rng.gen_range(0..600));
                    let mut locked = ks.lock_keys([&k[..], &to[..]]);
                    let (db, hash) = locked.db(0, &k);
                    if let Some(entry) = db.remove(hash, &k) {
                        model.remove(&k);
                        let entry = entry.renamed(&to);
                        let (db, hash) = locked.db(0, &to);
                        db.delete(hash, &to, Deletion::User);
                        db.insert_entry(hash, entry);
                        model.insert(to);
                    }
                }
                8 => {
                    // Expiry, lazy: the key is read after its TTL.
                    if db.get(hash, &k, 0).is_some() {
                        db.set_expire(hash, &k, 10);
                        assert!(db.get(hash, &k, 20).is_none());
                        model.remove(&k);
                    }
                }
                _ => {
                    if db.get(hash, &k, 0).is_some() {
                        db.set_expire(hash, &k, 10);
                    }
                    drop(locked);
                    if round % 50 == 0 {
                        while ks
                            .active_expire(20, Duration::from_secs(1), ExpireEffort::DEFAULT)
                            .expired
                            > 0
                        {}
                        let expired: Vec<_> = model
                            .iter()
                            .filter(|k| {
                                let mut locked = ks.lock_keys([&k[..]]);
                                let (db, hash) = locked.db(0, k);
                                db.peek_stored(hash, k).is_none()
                            })
                            .cloned()
                            .collect();
                        for k in expired {
                            model.remove(&k);
                        }
                    }
                }
            }
        }
        assert!(!model.is_empty());
        assert_eq!(keys_by_slot(&ks, 0), model_by_slot(&model));

        // SWAPDB carries the counts with the data; FLUSHDB (lazy or not) clears them.
        ks.swap_databases(0, 5);
        assert!(keys_by_slot(&ks, 0).is_empty());
        assert_eq!(keys_by_slot(&ks, 5), model_by_slot(&model));
        ks.swap_databases(0, 5);
        assert_eq!(keys_by_slot(&ks, 0), model_by_slot(&model));
        ks.flush(Some(0), true);
        assert!(keys_by_slot(&ks, 0).is_empty());
        set(&ks, "again", 0);
        ks.flush(None, false);
        assert_eq!(ks.keys_in_slot(0, usize::from(key_slot(b"again"))), 0);
    }

    #[test]
    fn a_slot_walk_survives_the_table_growing_between_batches() {
        let ks = Keyspace::for_cluster(16, None);
        let tagged = |i: usize| format!("{{t}}{i}");
        for i in 0..100 {
            set(&ks, &tagged(i), 0);
        }
        let slot = usize::from(key_slot(b"t"));
        let mut seen = std::collections::HashSet::new();
        let mut cursor = ks.slot_keys(0, slot, 0, 10, |e| {
            seen.insert(e.key().to_vec());
        });
        for i in 100..5000 {
            set(&ks, &tagged(i), 0);
        }
        while cursor != 0 {
            cursor = ks.slot_keys(0, slot, cursor, 10, |e| {
                seen.insert(e.key().to_vec());
            });
        }
        assert!((0..100).all(|i| seen.contains(tagged(i).as_bytes())));
        assert_eq!(ks.keys_in_slot(0, slot), 5000);
    }

    #[test]
    fn a_standalone_keyspace_keeps_no_slot_index() {
        let ks = Keyspace::new(4, 16);
        set(&ks, "k", 0);
        assert!(!ks.is_cluster());
        let slot = usize::from(key_slot(b"k"));
        assert_eq!(ks.keys_in_slot(0, slot), 0);
        assert_eq!(ks.slot_keys(0, slot, 0, 10, |_| panic!("no index")), 0);
    }

    #[test]
    fn deleting_a_slot_removes_its_keys_only_and_reports_each() {
        let ks = Keyspace::for_cluster(16, None);
        for i in 0..300 {
            set(&ks, &format!("{{gone}}{i}"), 0);
        }
        set(&ks, "stays", 0);
        let slot = usize::from(key_slot(b"gone"));
        let mut reported = std::collections::HashSet::new();
        let deleted = ks.delete_slot_keys(0, slot, |key| {
            reported.insert(key.to_vec());
        });
        assert_eq!(deleted, 300);
        assert_eq!(reported.len(), 300);
        assert!(reported.contains(b"{gone}7".as_slice()));
        assert_eq!(ks.keys_in_slot(0, slot), 0);
        assert_eq!(ks.keys_in_slot(0, usize::from(key_slot(b"stays"))), 1);
        assert_eq!(ks.delete_slot_keys(0, slot, |_| panic!("none left")), 0);
    }

    #[test]
    fn eviction_removes_a_key_from_its_slot() {
        let ks = Keyspace::for_cluster(1, None);
        set(&ks, "victim", 0);
        let slot = usize::from(key_slot(b"victim"));
        assert_eq!(ks.keys_in_slot(0, slot), 1);
        let hash = ks.hash(b"victim");
        ks.lock_shard(ks.shard_index(hash))
            .evict(0, hash, b"victim");
        assert_eq!(ks.keys_in_slot(0, slot), 0);
    }
}
