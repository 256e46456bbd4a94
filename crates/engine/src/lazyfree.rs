//! Lazy freeing: large values (and whole databases, for FLUSHALL/FLUSHDB ASYNC) are dropped on
//! one background thread instead of by the command or cycle that deleted them, so deleting a
//! million-element set does not stall its event loop. What is handed over is owned outright:
//! it has left its table, and a pending snapshot kept its own copy before the deletion (see
//! `snapshot.rs`), so nothing the thread frees can still be borrowed.
//!
//! Which deletions go this way follows Redis's `lazyfree-lazy-*` settings, kept here as atomics
//! so the engine's own deletions (expiry, eviction, overwrites) read them without the config
//! lock. INFO's `lazyfree_pending_objects` and `lazyfreed_objects` come from the counters.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, OnceLock};

use crate::dict::Dict;
use crate::value::Value;

/// Redis's rule: a value whose freeing takes more than this many allocations is freed in the
/// background; smaller ones cost less to free at once than to hand over.
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Why a key is deleted, which decides (with the settings) whether its value is freed lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// DEL: lazily under `lazyfree-lazy-user-del`.
    User,
    /// UNLINK: always lazily.
    Unlink,
    /// A deletion a command makes as a side effect (RENAME's or COPY REPLACE's destination,
    /// an overwritten value, an empty STORE result): `lazyfree-lazy-server-del`.
    Server,
    /// A key whose TTL passed (lookups, the active cycle, EXPIRE in the past):
    /// `lazyfree-lazy-expire`.
    Expire,
    /// A key evicted for `maxmemory`/`maxkeys`: `lazyfree-lazy-eviction`.
    Eviction,
}

/// The `lazyfree-lazy-*` settings the engine applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LazyFreeSettings {
    pub eviction: bool,
    pub expire: bool,
    pub server_del: bool,
    pub user_del: bool,
}

/// What the background thread drops (a value, emptied tables), with how many objects it
/// counts for.
type Garbage = (Box<dyn Send>, u64);

#[derive(Default)]
struct Counters {
    /// Handed to the thread, not freed yet.
    pending: AtomicU64,
    /// Freed by the thread since start-up.
    freed: AtomicU64,
}

/// The background freeing thread (started on first use), its counters and the settings.
#[derive(Default)]
pub(crate) struct LazyFree {
    eviction: AtomicBool,
    expire: AtomicBool,
    server_del: AtomicBool,
    user_del: AtomicBool,
    counters: Arc<Counters>,
    worker: OnceLock<Sender<Garbage>>,
}

impl LazyFree {
    pub(crate) fn configure(&self, settings: LazyFreeSettings) {
        self.eviction.store(settings.eviction, Ordering::Relaxed);
        self.expire.store(settings.expire, Ordering::Relaxed);
        self.server_del
            .store(settings.server_del, Ordering::Relaxed);
        self.user_del.store(settings.user_del, Ordering::Relaxed);
    }

    /// Whether a deletion for `why` may free in the background.
    fn allows(&self, why: Deletion) -> bool {
        let flag = match why {
            Deletion::Unlink => return true,
            Deletion::User => &self.user_del,
            Deletion::Server => &self.server_del,
            Deletion::Expire => &self.expire,
            Deletion::Eviction => &self.eviction,
        };
        flag.load(Ordering::Relaxed)
    }

    /// Frees a deleted value: in the background when `why` allows it and the value is large
    /// enough to be worth it, here otherwise.
    pub(crate) fn free(&self, value: Value, why: Deletion) {
        if free_effort(&value) > LAZYFREE_THRESHOLD && self.allows(why) {
            self.hand_over((Box::new(value), 1));
        }
    }

    /// Frees emptied databases in the background; each key counts as one object, as Redis
    /// counts a flushed table's keys.
    pub(crate) fn free_databases(&self, tables: Vec<Dict>) {
        let keys = tables.iter().map(|t| t.len() as u64).sum();
        if keys > 0 {
            self.hand_over((Box::new(tables), keys));
        }
    }

    fn hand_over(&self, garbage: Garbage) {
        let objects = garbage.1;
        self.counters.pending.fetch_add(objects, Ordering::Relaxed);
        if let Err(refused) = self.worker().send(garbage) {
            // The thread could not be started: the value is freed here, and is not pending.
            drop(refused);
            self.counters.pending.fetch_sub(objects, Ordering::Relaxed);
        }
    }

    fn worker(&self) -> &Sender<Garbage> {
        self.worker.get_or_init(|| {
            let (sender, receiver) = channel::<Garbage>();
            let counters = Arc::clone(&self.counters);
            // Named as Redis names its lazy-free thread, for `ps -T` and `top -H`.
            let started = std::thread::Builder::new()
                .name("bio_lazy_free".into())
                .spawn(move || {
                    for (garbage, objects) in receiver {
                        drop(garbage);
                        counters.pending.fetch_sub(objects, Ordering::Relaxed);
                        counters.freed.fetch_add(objects, Ordering::Relaxed);
                    }
                });
            // Without a thread the receiver is dropped with the closure, and every send
            // fails: `hand_over` then frees in place.
            drop(started);
            sender
        })
    }

    pub(crate) fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Relaxed)
    }

    pub(crate) fn reset_freed(&self) {
        self.counters.freed.store(0, Ordering::Relaxed);
    }
}

/// Roughly how many allocations freeing `value` takes, as Redis estimates it: the nodes of a
/// list, the elements of a hash table, set or skiplist, a stream's nodes plus its groups and
/// their pending entries; 1 for strings and compact (listpack, intset) encodings. A list's
/// nodes are counted only to just past the threshold, which is all the decision needs.
fn free_effort(value: &Value) -> usize {
    match value {
        Value::Int(_) | Value::Str(_) | Value::RawStr(_) => 1,
        Value::List(list) => list.node_shapes().take(LAZYFREE_THRESHOLD + 1).count(),
        Value::Set(set) if set.encoding() == "hashtable" => set.len(),
        Value::Hash(hash) if hash.encoding() == "hashtable" => hash.len(),
        Value::ZSet(zset) if zset.encoding() == "skiplist" => zset.len(),
        Value::Set(_) | Value::Hash(_) | Value::ZSet(_) => 1,
        Value::Stream(stream) => {
            stream.node_count()
                + stream
                    .groups
                    .values()
                    .map(|group| 1 + group.pending.len())
                    .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::Set;

    fn big_set(n: usize) -> Value {
        let mut set = Set::default();
        for i in 0..n {
            set.insert(format!("m{i}").as_bytes(), 512);
        }
        Value::Set(Box::new(set))
    }

    fn wait_freed(lazy: &LazyFree, n: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while lazy.freed() < n {
            assert!(std::time::Instant::now() < deadline, "never freed");
            std::thread::yield_now();
        }
    }

    #[test]
    fn only_large_values_go_to_the_thread_and_only_when_allowed() {
        let lazy = LazyFree::default();
        lazy.free(Value::string(b"small"), Deletion::Unlink);
        lazy.free(big_set(10), Deletion::Unlink);
        lazy.free(big_set(1000), Deletion::User);
        assert_eq!((lazy.pending(), lazy.freed()), (0, 0));
        lazy.free(big_set(1000), Deletion::Unlink);
        wait_freed(&lazy, 1);
        lazy.configure(LazyFreeSettings {
            user_del: true,
            ..Default::default()
        });
        lazy.free(big_set(1000), Deletion::User);
        wait_freed(&lazy, 2);
        assert_eq!(lazy.pending(), 0);
    }

    #[test]
    fn flushed_databases_count_their_keys() {
        let lazy = LazyFree::default();
        lazy.free_databases(vec![Dict::default()]);
        assert_eq!(lazy.freed(), 0);
        let ks = crate::Keyspace::new(1, 1);
        for i in 0..100 {
            let key = format!("k{i}");
            let mut locked = ks.lock_keys([key.as_bytes()]);
            let (db, hash) = locked.db(0, key.as_bytes());
            db.set(hash, key.as_bytes(), Value::string(b"v"), false, 0);
        }
        let tables = ks.shards[0]
            .lock()
            .dbs
            .iter_mut()
            .map(|db| db.take())
            .collect();
        lazy.free_databases(tables);
        wait_freed(&lazy, 100);
    }
}
