//! Point-in-time snapshots without a fork: copy-on-write at key granularity.
//!
//! [`Keyspace::begin_snapshot`] marks every shard pending while all shards are locked: that
//! instant is the cut. Until the snapshot has visited a shard's database, a write command that
//! touches a key there first saves the key's entry as it was at the cut (or its absence). The
//! snapshot then walks one shard at a time, under that shard's lock only: the live entries that
//! were not saved aside, then the saved ones. Extra memory is the old values of keys written
//! during the walk, not a copy of the dataset; no client waits longer than one shard's walk.
//! Those saved values are counted (estimated by `heap_size`) in
//! [`Keyspace::snapshot_held_bytes`]: like the pages a forked Redis child keeps, they are not
//! data the server could free by evicting, so eviction leaves them out of `maxmemory`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::bytes::SmallBytes;
use crate::dict::{Dict, Entry};
use crate::keyspace::{Keyspace, Shard};
use crate::value::Value;

/// An entry as it was at the cut.
struct SavedEntry {
    value: Value,
    expire_at: u64,
}

/// A shard's part of a running snapshot.
pub(crate) struct Pending {
    /// Per database, numbered as at the cut: whether the snapshot has walked it here yet.
    visited: Vec<bool>,
    /// For each database index now, the database (numbered as at the cut) whose data it holds:
    /// SWAPDB during a snapshot moves data between numbers.
    origin: Vec<usize>,
    /// Per database as at the cut: keys written before the walk reached them, with their entry
    /// at the cut (None: the key did not exist then).
    saved: Vec<HashMap<SmallBytes, Option<SavedEntry>>>,
    /// Per database as at the cut: the estimated bytes of its saved entries.
    held: Vec<u64>,
    /// The keyspace's sum of `held` over every shard (`Keyspace::snapshot_held_bytes`).
    held_total: Arc<AtomicU64>,
}

impl Pending {
    fn new(databases: usize, held_total: Arc<AtomicU64>) -> Self {
        Pending {
            visited: vec![false; databases],
            origin: (0..databases).collect(),
            saved: (0..databases).map(|_| HashMap::new()).collect(),
            held: vec![0; databases],
            held_total,
        }
    }

    /// Counts a value saved aside for database `origin`.
    fn hold(&mut self, origin: usize, key: &[u8], value: &Value) {
        let bytes = (key.len() + std::mem::size_of::<SavedEntry>() + value.heap_size()) as u64;
        self.held[origin] += bytes;
        self.held_total.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The saved entries of database `origin` leave the shard (to the walk, or dropped).
    fn release(&mut self, origin: usize) {
        let bytes = std::mem::take(&mut self.held[origin]);
        self.held_total.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The cut-time database that current database `db` holds, if the walk has yet to reach it.
    fn unvisited_origin(&self, db: usize) -> Option<usize> {
        let origin = self.origin[db];
        (!self.visited[origin]).then_some(origin)
    }
}

impl Drop for Pending {
    /// A snapshot ended (finished or abandoned): what it still kept aside is freed.
    fn drop(&mut self) {
        for origin in 0..self.held.len() {
            self.release(origin);
        }
    }
}

impl Shard {
    /// Before a write touches `key` in `db`: keeps its cut-time entry for a pending snapshot.
    pub(crate) fn preserve(&mut self, db: usize, hash: u64, key: &[u8]) {
        let Some(pending) = self.pending.as_deref_mut() else {
            return;
        };
        let Some(origin) = pending.unvisited_origin(db) else {
            return;
        };
        if pending.saved[origin].contains_key(key) {
            return;
        }
        let entry = self.dbs[db].dict.get(hash, key).map(|e| SavedEntry {
            value: e.value().into_owned(),
            expire_at: e.expire_at(),
        });
        if let Some(saved) = &entry {
            pending.hold(origin, key, &saved.value);
        }
        pending.saved[origin].insert(SmallBytes::new(key), entry);
    }

    /// Before database `db` is emptied: its entries move aside for a pending snapshot. The
    /// table comes back when no snapshot needs it.
    pub(crate) fn preserve_all(&mut self, db: usize, dict: Dict) -> Option<Dict> {
        let Some(pending) = self.pending.as_deref_mut() else {
            return Some(dict);
        };
        let Some(origin) = pending.unvisited_origin(db) else {
            return Some(dict);
        };
        let mut saved = std::mem::take(&mut pending.saved[origin]);
        dict.drain(|entry: Entry| {
            if !saved.contains_key(entry.key()) {
                let (key, value, expire_at) = entry.into_parts();
                pending.hold(origin, &key, &value);
                saved.insert(key, Some(SavedEntry { value, expire_at }));
            }
        });
        pending.saved[origin] = saved;
        None
    }

    /// SWAPDB: the data of `a` and `b` change places, so does their cut-time identity.
    pub(crate) fn swap_origins(&mut self, a: usize, b: usize) {
        if let Some(pending) = self.pending.as_deref_mut() {
            pending.origin.swap(a, b);
        }
    }
}

/// A running point-in-time snapshot. Dropping it (finished or not) ends it.
pub struct Snapshot {
    shards: Arc<[Mutex<Shard>]>,
    running: Arc<AtomicBool>,
    /// Per database at the cut: (keys, keys with an expiry).
    sizes: Vec<(u64, u64)>,
    /// The longest a shard was locked for copying: the most a client could wait on the walk.
    longest_hold: Duration,
}

impl Keyspace {
    /// Starts a snapshot of every database as it is now, or None while another is running.
    /// `at_cut` runs with every shard locked, at the exact point in the stream of writes where
    /// the snapshot is taken (a rewrite switches its log file there).
    pub fn begin_snapshot(&self, at_cut: impl FnOnce()) -> Option<Snapshot> {
        if self.snapshot_running.swap(true, Ordering::AcqRel) {
            return None;
        }
        let mut sizes = vec![(0u64, 0u64); self.databases()];
        let mut all = self.lock_all();
        for shard in all.shards() {
            for (db, size) in shard.dbs.iter().zip(sizes.iter_mut()) {
                size.0 += db.len() as u64;
                size.1 += db.volatile() as u64;
            }
            shard.pending = Some(Box::new(Pending::new(
                self.databases(),
                self.snapshot_held.clone(),
            )));
        }
        at_cut();
        drop(all);
        Some(Snapshot {
            shards: self.shards.clone(),
            running: self.snapshot_running.clone(),
            sizes,
            longest_hold: Duration::ZERO,
        })
    }

    /// Estimated bytes of the values a running snapshot keeps aside for itself (the cut-time
    /// values of keys written, deleted or evicted since): memory eviction cannot free.
    pub fn snapshot_held_bytes(&self) -> u64 {
        self.snapshot_held.load(Ordering::Relaxed)
    }

    /// Whether a snapshot is being taken (BGSAVE or a rewrite in progress).
    pub fn snapshot_running(&self) -> bool {
        self.snapshot_running.load(Ordering::Acquire)
    }
}

impl Snapshot {
    /// Per database at the cut: (keys, keys with an expiry).
    pub fn db_sizes(&self) -> &[(u64, u64)] {
        &self.sizes
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The longest time one shard was locked by the walk so far.
    pub fn longest_hold(&self) -> Duration {
        self.longest_hold
    }

    /// The keys that shard `shard` held in database `db` at the cut, with their values and
    /// expiries (absolute Unix ms) as they were then. Only copying happens under the shard's
    /// lock (keys saved aside are moved out, not copied): encoding them, compressing and writing
    /// are the caller's, with no lock held, so clients wait at most for one shard's copy.
    pub fn take_shard(&mut self, shard: usize, db: usize) -> Vec<SnapshotEntry> {
        let mut guard = self.shards[shard].lock();
        let locked_at = Instant::now();
        let shard = &mut *guard;
        let Some(pending) = shard.pending.as_deref_mut() else {
            return Vec::new();
        };
        if pending.visited[db] {
            return Vec::new();
        }
        pending.visited[db] = true;
        let saved = std::mem::take(&mut pending.saved[db]);
        pending.release(db);
        let current = pending
            .origin
            .iter()
            .position(|&o| o == db)
            .expect("origin is a permutation");
        let expiry = |at: u64| (at != 0).then_some(at as i64);
        let table = &shard.dbs[current];
        let mut entries = Vec::with_capacity(table.len() + saved.len());
        entries.extend(
            table
                .dict
                .iter()
                .filter(|e| saved.is_empty() || !saved.contains_key(e.key()))
                .map(|e| SnapshotEntry {
                    key: SmallBytes::new(e.key()),
                    value: e.value().into_owned(),
                    expire_at_ms: expiry(e.expire_at()),
                }),
        );
        if pending.visited.iter().all(|&v| v) {
            shard.pending = None;
        }
        drop(guard);
        self.longest_hold = self.longest_hold.max(locked_at.elapsed());
        entries.extend(saved.into_iter().filter_map(|(key, entry)| {
            entry.map(|e| SnapshotEntry {
                key,
                value: e.value,
                expire_at_ms: expiry(e.expire_at),
            })
        }));
        entries
    }
}

/// One key as it was at a snapshot's cut.
pub struct SnapshotEntry {
    pub key: SmallBytes,
    pub value: Value,
    pub expire_at_ms: Option<i64>,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        for shard in self.shards.iter() {
            let stale = shard.lock().pending.take();
            drop(stale);
        }
        self.running.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(ks: &Keyspace, db: usize, key: &str, value: Option<&str>) {
        let mut locked = ks.lock_keys([key.as_bytes()]).for_write();
        let (table, hash) = locked.db(db, key.as_bytes());
        match value {
            Some(v) => {
                table.set(hash, key.as_bytes(), Value::string(v.as_bytes()), false, 0);
            }
            None => {
                table.remove(hash, key.as_bytes());
            }
        }
    }

    fn collect(snapshot: &mut Snapshot, db: usize) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for shard in 0..snapshot.shard_count() {
            for e in snapshot.take_shard(shard, db) {
                let text = match e.value {
                    Value::Int(n) => n.to_string().into_bytes(),
                    Value::Str(s) => s.to_vec(),
                    other => format!("{other:?}").into_bytes(),
                };
                out.push((String::from_utf8_lossy(&e.key).into_owned(), text));
            }
        }
        out.sort();
        out
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn writes_after_the_cut_are_not_seen() {
        let ks = Keyspace::new(8, 4);
        for i in 0..50 {
            write(&ks, 0, &format!("k{i}"), Some("old"));
        }
        let mut snap = ks.begin_snapshot(|| {}).unwrap();
        assert!(ks.begin_snapshot(|| {}).is_none(), "one at a time");
        write(&ks, 0, "k1", Some("new"));
        write(&ks, 0, "k2", None);
        write(&ks, 0, "fresh", Some("x"));
        write(&ks, 0, "k1", Some("newer"));
        let seen = collect(&mut snap, 0);
        assert_eq!(seen.len(), 50);
        assert!(seen.iter().all(|(k, v)| k.starts_with('k') && v == b"old"));
        drop(snap);
        assert!(!ks.snapshot_running());
        let mut again = ks.begin_snapshot(|| {}).unwrap();
        let seen = collect(&mut again, 0);
        assert_eq!(seen.len(), 50, "k2 gone, fresh added");
        assert!(seen.contains(&("k1".into(), b"newer".to_vec())));
    }

    #[test]
    fn values_kept_aside_are_counted_until_the_snapshot_ends() {
        let ks = Keyspace::new(8, 2);
        write(&ks, 0, "k", Some("old"));
        let snap = ks.begin_snapshot(|| {}).unwrap();
        assert_eq!(ks.snapshot_held_bytes(), 0);
        write(&ks, 0, "k", Some("new"));
        write(&ks, 0, "fresh", Some("x"));
        let held = ks.snapshot_held_bytes();
        assert!(held > 0, "the cut-time value of k");
        write(&ks, 0, "k", Some("newer"));
        assert_eq!(ks.snapshot_held_bytes(), held, "saved once");
        drop(snap);
        assert_eq!(ks.snapshot_held_bytes(), 0);
    }

    #[test]
    fn values_freed_lazily_during_a_snapshot_are_still_seen_by_it() {
        use crate::lazyfree::Deletion;
        let ks = Keyspace::new(4, 2);
        let mut set = crate::set::Set::default();
        for i in 0..1000 {
            set.insert(format!("m{i}").as_bytes(), 512);
        }
        {
            let mut locked = ks.lock_keys([&b"big"[..]]);
            let (table, hash) = locked.db(0, b"big");
            table.set(hash, b"big", Value::Set(Box::new(set)), false, 0);
        }
        for i in 0..10 {
            write(&ks, 1, &format!("k{i}"), Some("v"));
        }
        let mut snap = ks.begin_snapshot(|| {}).unwrap();
        {
            let mut locked = ks.lock_keys([&b"big"[..]]).for_write();
            let (table, hash) = locked.db(0, b"big");
            assert!(table.delete(hash, b"big", Deletion::Unlink));
        }
        ks.flush(Some(1), true);
        let big: Vec<SnapshotEntry> = (0..snap.shard_count())
            .flat_map(|shard| snap.take_shard(shard, 0))
            .collect();
        assert_eq!(big.len(), 1);
        assert!(matches!(&big[0].value, Value::Set(s) if s.len() == 1000));
        assert_eq!(collect(&mut snap, 1).len(), 10);
        drop(snap);
        // The unlinked value was the engine's to free: the snapshot kept a copy of its own.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ks.lazyfreed_objects() < 1 {
            assert!(std::time::Instant::now() < deadline, "never freed");
            std::thread::yield_now();
        }
        assert_eq!(ks.db_len(0) + ks.db_len(1), 0);
    }

    #[test]
    fn flush_and_swapdb_during_a_snapshot() {
        let ks = Keyspace::new(4, 4);
        write(&ks, 0, "a", Some("0"));
        write(&ks, 1, "b", Some("1"));
        write(&ks, 2, "c", Some("2"));
        let mut snap = ks.begin_snapshot(|| {}).unwrap();
        assert_eq!(&snap.db_sizes()[..3], &[(1, 0), (1, 0), (1, 0)]);
        ks.swap_databases(0, 1);
        write(&ks, 0, "b", Some("changed"));
        ks.flush(Some(2), false);
        ks.flush(None, true);
        write(&ks, 3, "d", Some("late"));
        assert_eq!(collect(&mut snap, 0), pairs(&[("a", "0")]));
        assert_eq!(collect(&mut snap, 1), pairs(&[("b", "1")]));
        assert_eq!(collect(&mut snap, 2), pairs(&[("c", "2")]));
        assert_eq!(collect(&mut snap, 3), pairs(&[]));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(usize, u8, u8),
        Del(usize, u8),
        Flush(Option<usize>),
        Swap(usize, usize),
        /// Walk one more (shard, db) of the snapshot.
        Visit,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            8 => (0..3usize, 0..40u8, any::<u8>()).prop_map(|(d, k, v)| Op::Set(d, k, v)),
            4 => (0..3usize, 0..40u8).prop_map(|(d, k)| Op::Del(d, k)),
            1 => proptest::option::of(0..3usize).prop_map(Op::Flush),
            1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Swap(a, b)),
            6 => Just(Op::Visit),
        ]
    }

    type Model = Vec<std::collections::BTreeMap<String, Vec<u8>>>;

    fn apply(ks: &Keyspace, model: &mut Model, op: &Op) {
        match *op {
            Op::Set(db, k, v) => {
                let key = format!("k{k}");
                write(ks, db, &key, Some(&v.to_string()));
                model[db].insert(key, v.to_string().into_bytes());
            }
            Op::Del(db, k) => {
                let key = format!("k{k}");
                write(ks, db, &key, None);
                model[db].remove(&key);
            }
            Op::Flush(db) => {
                ks.flush(db, false);
                match db {
                    Some(d) => model[d].clear(),
                    None => model.iter_mut().for_each(|m| m.clear()),
                }
            }
            Op::Swap(a, b) => {
                ks.swap_databases(a, b);
                model.swap(a, b);
            }
            Op::Visit => {}
        }
    }

    proptest::proptest! {
        /// Whatever writes, flushes and swaps interleave with the walk, the snapshot holds
        /// exactly the data at the cut.
        #[test]
        fn the_snapshot_is_the_state_at_the_cut(
            before in proptest::collection::vec(op(), 0..60),
            during in proptest::collection::vec(op(), 0..120),
        ) {
            let ks = Keyspace::new(4, 3);
            let mut model: Model = vec![Default::default(); 3];
            for op in &before {
                apply(&ks, &mut model, op);
            }
            let at_cut = model.clone();
            let mut snap = ks.begin_snapshot(|| {}).unwrap();
            let mut seen: Model = vec![Default::default(); 3];
            let mut next = 0;
            let visit = |snap: &mut Snapshot, seen: &mut Model, step: usize| {
                let (db, shard) = (step / 4, step % 4);
                for e in snap.take_shard(shard, db) {
                    let Value::Int(n) = e.value else { panic!("{:?}", e.value) };
                    let key = String::from_utf8_lossy(&e.key).into_owned();
                    assert!(seen[db].insert(key, n.to_string().into_bytes()).is_none());
                }
            };
            for op in &during {
                if matches!(op, Op::Visit) && next < 12 {
                    visit(&mut snap, &mut seen, next);
                    next += 1;
                }
                apply(&ks, &mut model, op);
            }
            while next < 12 {
                visit(&mut snap, &mut seen, next);
                next += 1;
            }
            proptest::prop_assert_eq!(seen, at_cut);
        }
    }

    #[test]
    fn writes_after_a_shard_was_visited_need_no_copy() {
        let ks = Keyspace::new(1, 1);
        write(&ks, 0, "a", Some("0"));
        let mut snap = ks.begin_snapshot(|| {}).unwrap();
        assert_eq!(collect(&mut snap, 0), pairs(&[("a", "0")]));
        assert!(ks.lock_shard(0).pending.is_none(), "fully visited shard");
        write(&ks, 0, "a", Some("1"));
    }
}
