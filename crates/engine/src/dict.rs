//! `Dict`: the keyspace's hash table. Chained buckets in a power-of-two array, so SCAN can walk
//! buckets with Redis's reverse-binary cursor and still return every key that was present for
//! the whole scan, even when the table grows or shrinks between calls.
//!
//! Memory is what shapes it. Entries are not boxed one by one: they sit densely packed in a
//! slab of fixed-size chunks, and chains link slab positions (`u32`), so a key costs its 56-byte
//! entry and about one 4-byte bucket, with no allocator rounding per entry and no pointer-sized
//! links; a key with a TTL adds one 32-byte allocation (see [`Stored`]). Removal keeps the slab dense by moving the last entry into the hole (and relinking it),
//! so the slab never holds free slots and gives chunks back as the table shrinks.

use crate::bytes::SmallBytes;
use crate::value::Value;

/// One key with its value and metadata. Only the key is a public field: the value, expiry and
/// access time are reached through methods, so that how an entry stores them (inline, out of
/// line, only when present) is this module's business and no command's.
pub struct Entry {
    pub key: SmallBytes,
    stored: Stored,
    /// Last access: the LRU clock in seconds, or an LFU counter and minutes (see `evict`).
    access: u32,
    /// The slab position of the next entry in this entry's bucket chain, or [`END`]. Meaningless
    /// outside a table.
    next: u32,
}

/// A key's value, and its expiry when it has one. Most keys have none, so the expiry is not a
/// field of every entry: a key with a TTL keeps its value out of line beside the expiry, one
/// 32-byte allocation, and every other key saves 8 bytes. `Stored` is as small as `Value`
/// (24 bytes): the box fits around `Value`'s tag byte.
enum Stored {
    Plain(Value),
    Expiring(Box<Expiring>),
}

struct Expiring {
    value: Value,
    /// Absolute expiry in Unix milliseconds, never 0.
    at: u64,
}

impl Stored {
    fn new(value: Value, expire_at: u64) -> Stored {
        if expire_at == 0 {
            Stored::Plain(value)
        } else {
            Stored::Expiring(Box::new(Expiring {
                value,
                at: expire_at,
            }))
        }
    }

    fn into_parts(self) -> (Value, u64) {
        match self {
            Stored::Plain(value) => (value, 0),
            Stored::Expiring(e) => (e.value, e.at),
        }
    }
}

impl Entry {
    pub fn new(key: SmallBytes, value: Value) -> Self {
        Entry {
            key,
            stored: Stored::Plain(value),
            access: 0,
            next: END,
        }
    }

    /// This (new, not yet stored) entry with an absolute expiry in Unix milliseconds (0: none).
    /// Only on an entry outside a table: a stored key's TTL changes through `Db::set_expire`,
    /// which keeps the count of keys with a TTL.
    pub fn expiring_at(mut self, expire_at: u64) -> Self {
        self.set_expire_at(expire_at);
        self
    }

    #[inline]
    pub fn value(&self) -> &Value {
        match &self.stored {
            Stored::Plain(value) => value,
            Stored::Expiring(e) => &e.value,
        }
    }

    #[inline]
    pub fn value_mut(&mut self) -> &mut Value {
        match &mut self.stored {
            Stored::Plain(value) => value,
            Stored::Expiring(e) => &mut e.value,
        }
    }

    /// Stores `value` in place of the current one, which it returns (the TTL stays).
    pub fn replace_value(&mut self, value: Value) -> Value {
        std::mem::replace(self.value_mut(), value)
    }

    pub fn into_value(self) -> Value {
        self.stored.into_parts().0
    }

    /// The key, the value and the expiry (0: none), taken apart.
    pub fn into_parts(self) -> (SmallBytes, Value, u64) {
        let (value, expire_at) = self.stored.into_parts();
        (self.key, value, expire_at)
    }

    /// Absolute expiry in Unix milliseconds; 0 means none.
    #[inline]
    pub fn expire_at(&self) -> u64 {
        match &self.stored {
            Stored::Plain(_) => 0,
            Stored::Expiring(e) => e.at,
        }
    }

    #[inline]
    pub fn has_ttl(&self) -> bool {
        matches!(self.stored, Stored::Expiring(_))
    }

    /// Changes the expiry of an entry: only through `Db`, which counts keys with a TTL.
    pub(crate) fn set_expire_at(&mut self, expire_at: u64) {
        match (&mut self.stored, expire_at) {
            (Stored::Expiring(e), at) if at != 0 => e.at = at,
            (Stored::Plain(_), 0) => {}
            _ => {
                let placeholder = Stored::Plain(Value::Int(0));
                let (value, _) = std::mem::replace(&mut self.stored, placeholder).into_parts();
                self.stored = Stored::new(value, expire_at);
            }
        }
    }

    /// The access field: the LRU clock in seconds, or an LFU counter and minutes.
    #[inline]
    pub fn access(&self) -> u32 {
        self.access
    }

    #[inline]
    pub fn set_access(&mut self, access: u32) {
        self.access = access;
    }

    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        match &self.stored {
            Stored::Plain(_) => false,
            Stored::Expiring(e) => e.at <= now_ms,
        }
    }

    /// Heap bytes the entry owns beyond its own size: a long key's, the value's, the expiry's.
    pub fn heap_size(&self) -> usize {
        let expiry = match &self.stored {
            Stored::Plain(_) => 0,
            Stored::Expiring(_) => std::mem::size_of::<Expiring>(),
        };
        self.key.heap_size() + self.value().heap_size() + expiry
    }

    /// A copy of this entry's value and TTL under another key (COPY). The copy is a new object,
    /// so its access time is `access`, not the original's.
    pub fn duplicate(&self, key: &[u8], access: u32) -> Entry {
        Entry {
            key: SmallBytes::new(key),
            stored: Stored::new(self.value().clone(), self.expire_at()),
            access,
            next: END,
        }
    }
}

/// The end of a bucket chain (and an empty bucket).
const END: u32 = u32::MAX;
const MIN_BUCKETS: usize = 4;
/// Entries per slab chunk: 7 KiB chunks, so a table's partly filled last chunk wastes little
/// even when a keyspace has hundreds of tables. 7 KiB (128 entries of 56 bytes) is one of
/// jemalloc's small size classes exactly; from 16 KiB its allocations are "large" and each
/// takes an extra page (its cache-oblivious offset), which cost 25% more resident memory than
/// the entries it held.
const CHUNK: usize = 128;

/// A hash table of [`Entry`]. The caller supplies each key's hash and a hasher for rehashing.
#[derive(Default)]
pub struct Dict {
    /// Per bucket, the slab position of its chain's first entry, or [`END`].
    buckets: Vec<u32>,
    /// Every entry, at positions `0..len`: position `p` is `slab[p / CHUNK][p % CHUNK]`. Every
    /// chunk but the last is full; the first grows by doubling until it holds `CHUNK`.
    slab: Vec<Vec<Entry>>,
    len: usize,
}

impl Dict {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the bucket array, for memory reporting.
    pub fn bucket_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<u32>()
    }

    #[inline]
    fn index(&self, hash: u64) -> usize {
        (hash as usize) & (self.buckets.len() - 1)
    }

    /// The entry at slab position `pos` (from [`Dict::position`], the table unchanged since).
    #[inline]
    pub(crate) fn at(&self, pos: u32) -> &Entry {
        let pos = pos as usize;
        &self.slab[pos / CHUNK][pos % CHUNK]
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, pos: u32) -> &mut Entry {
        let pos = pos as usize;
        &mut self.slab[pos / CHUNK][pos % CHUNK]
    }

    /// Appends `entry` to the slab and returns its position.
    fn push(&mut self, entry: Entry) -> u32 {
        let pos = u32::try_from(self.len)
            .ok()
            .filter(|&p| p != END)
            .expect("a table holds fewer than 2^32 - 1 keys");
        match self.slab.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(entry),
            _ => {
                // The first chunk starts small (a table of a few keys stays small); later ones
                // are allocated whole.
                let mut chunk = if self.slab.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(entry);
                self.slab.push(chunk);
            }
        }
        self.len += 1;
        pos
    }

    /// Takes the slab's last entry out, giving back its chunk when that empties.
    fn pop_last(&mut self) -> Entry {
        let lone = self.slab.len() == 1;
        let chunk = self.slab.last_mut().expect("not empty");
        let entry = chunk.pop().expect("chunks are never empty");
        if chunk.is_empty() {
            self.slab.pop();
        } else if lone && chunk.len() * 4 <= chunk.capacity() {
            // A lone first chunk shrinks with the table, as the bucket array does.
            chunk.shrink_to(chunk.capacity() / 2);
        }
        self.len -= 1;
        entry
    }

    /// The slab position of `key`'s entry, and of the entry before it in its chain (or
    /// [`END`] when it heads the chain). Inlined: it is most of every command's lookup.
    #[inline]
    fn find(&self, hash: u64, key: &[u8]) -> Option<(u32, u32)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut prev = END;
        let mut pos = self.buckets[self.index(hash)];
        while pos != END {
            let entry = self.at(pos);
            if *entry.key == *key {
                return Some((pos, prev));
            }
            prev = pos;
            pos = entry.next;
        }
        None
    }

    #[inline]
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        let (pos, _) = self.find(hash, key)?;
        Some(self.at(pos))
    }

    /// Where `key`'s entry is in the slab, for a caller that must reach it again after other
    /// borrows of the table's owner ([`Dict::at_mut`]) without a second lookup.
    /// Valid until the table next changes shape (an insertion or removal).
    #[inline]
    pub(crate) fn position(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.find(hash, key).map(|(pos, _)| pos)
    }

    #[inline]
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        let (pos, _) = self.find(hash, key)?;
        Some(self.at_mut(pos))
    }

    /// Inserts an entry whose key is known to be absent, and returns it.
    pub fn insert_new(
        &mut self,
        hash: u64,
        mut entry: Entry,
        rehash: impl Fn(&[u8]) -> u64,
    ) -> &mut Entry {
        if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS), &rehash);
        }
        let idx = self.index(hash);
        entry.next = self.buckets[idx];
        let pos = self.push(entry);
        self.buckets[idx] = pos;
        self.at_mut(pos)
    }

    pub fn remove(
        &mut self,
        hash: u64,
        key: &[u8],
        rehash: impl Fn(&[u8]) -> u64,
    ) -> Option<Entry> {
        let (pos, prev) = self.find(hash, key)?;
        let next = self.at(pos).next;
        self.set_link(self.index(hash), prev, next);
        let last = (self.len - 1) as u32;
        let entry = if pos == last {
            self.pop_last()
        } else {
            // Fill the hole with the last entry: whatever linked to it now links to `pos`.
            let moved_bucket = self.index(rehash(&self.at(last).key));
            let mut before = END;
            let mut walk = self.buckets[moved_bucket];
            while walk != last {
                before = walk;
                walk = self.at(walk).next;
            }
            self.set_link(moved_bucket, before, pos);
            let moved = self.pop_last();
            std::mem::replace(self.at_mut(pos), moved)
        };
        // Shrink below 1/8 full, as Redis does, so a table that emptied gives its memory back.
        if self.len * 8 < self.buckets.len() && self.buckets.len() > MIN_BUCKETS {
            let target = self.len.next_power_of_two().max(MIN_BUCKETS);
            self.resize(target, &rehash);
        }
        if self.len == 0 {
            self.buckets = Vec::new();
        }
        Some(entry)
    }

    /// Points the link after `prev` (or bucket `bucket`'s head when `prev` is [`END`]) at `to`.
    fn set_link(&mut self, bucket: usize, prev: u32, to: u32) {
        if prev == END {
            self.buckets[bucket] = to;
        } else {
            self.at_mut(prev).next = to;
        }
    }

    fn resize(&mut self, size: usize, rehash: &impl Fn(&[u8]) -> u64) {
        self.buckets = vec![END; size];
        for pos in 0..self.len as u32 {
            let idx = self.index(rehash(&self.at(pos).key));
            let head = std::mem::replace(&mut self.buckets[idx], pos);
            self.at_mut(pos).next = head;
        }
    }

    pub fn clear(&mut self) {
        *self = Dict::default();
    }

    /// Empties the table, handing each entry to `f`.
    pub fn drain(self, f: impl FnMut(Entry)) {
        self.slab.into_iter().flatten().for_each(f);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slab.iter().flatten()
    }

    /// The entries of bucket `idx`'s chain.
    fn chain(&self, idx: usize) -> impl Iterator<Item = &Entry> {
        let mut pos = self.buckets[idx];
        std::iter::from_fn(move || {
            (pos != END).then(|| {
                let entry = self.at(pos);
                pos = entry.next;
                entry
            })
        })
    }

    /// Visits the entries of the bucket that `cursor` names and returns the next cursor (0 when
    /// the walk is complete). Cursor bits are reversed before incrementing, so buckets that split
    /// or merge on resize are visited exactly in the order that keeps the SCAN guarantee.
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&Entry)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        self.chain((cursor & mask) as usize).for_each(visit);
        let mut v = cursor | !mask;
        v = v.reverse_bits().wrapping_add(1).reverse_bits();
        v
    }

    /// Up to `n` entries (only those with a TTL when `volatile_only`) from consecutive buckets
    /// after a random one, as Redis's `dictGetSomeKeys`: cheap, and random enough for eviction.
    pub fn sample(
        &self,
        n: usize,
        volatile_only: bool,
        rng: &mut impl rand::Rng,
        mut f: impl FnMut(&Entry),
    ) {
        if self.len == 0 || n == 0 {
            return;
        }
        let buckets = self.buckets.len();
        let start = rng.gen_range(0..buckets);
        let mut taken = 0;
        // Enough buckets to find `n` keys in a sparse table, bounded for one with few TTLs.
        for step in 0..buckets.min(n.saturating_mul(20).max(64)) {
            for entry in self.chain((start + step) % buckets) {
                if !volatile_only || entry.has_ttl() {
                    f(entry);
                    taken += 1;
                    if taken == n {
                        return;
                    }
                }
            }
        }
    }

    /// A uniformly chosen entry: the slab is dense, so one draw is enough.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&Entry> {
        (self.len > 0).then(|| self.at(rng.gen_range(0..self.len) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn hash(k: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(7).hash_one(k)
    }

    fn add(d: &mut Dict, k: &[u8]) {
        d.insert_new(hash(k), Entry::new(k.into(), Value::Int(0)), hash);
    }

    #[test]
    fn duplicate_copies_value_and_ttl_under_new_key() {
        let mut e = Entry::new(b"a"[..].into(), Value::string(b"v")).expiring_at(1234);
        e.access = 1;
        let copy = e.duplicate(b"b", 9);
        assert_eq!(&*copy.key, b"b");
        assert!(copy.value() == e.value());
        assert_eq!((copy.expire_at(), copy.access), (1234, 9));
        assert_eq!(copy.next, END);
    }

    #[test]
    fn an_entry_is_56_bytes() {
        // What a key costs besides its bucket; a field that grows it shows here first.
        assert_eq!(std::mem::size_of::<Entry>(), 56);
        assert_eq!(std::mem::size_of::<Stored>(), std::mem::size_of::<Value>());
    }

    #[test]
    fn an_expiry_comes_and_goes_with_the_value_kept() {
        let mut e = Entry::new(b"k"[..].into(), Value::string(b"v"));
        assert!(!e.has_ttl() && !e.is_expired(u64::MAX));
        e.set_expire_at(100);
        assert!(e.has_ttl() && !e.is_expired(99) && e.is_expired(100));
        assert_eq!(e.expire_at(), 100);
        e.set_expire_at(200);
        assert_eq!(e.replace_value(Value::Int(7)), Value::string(b"v"));
        assert_eq!(e.expire_at(), 200, "replacing the value keeps the TTL");
        e.set_expire_at(0);
        assert!(!e.has_ttl());
        assert_eq!(e.expire_at(), 0);
        assert_eq!(e.into_parts().1, Value::Int(7));
    }

    /// Every link and the slab agree: each position is reachable from exactly one bucket,
    /// the one its key hashes to.
    fn assert_consistent(d: &Dict) {
        let mut reached = vec![false; d.len()];
        for idx in 0..d.buckets.len() {
            let mut pos = d.buckets[idx];
            while pos != END {
                assert!(!std::mem::replace(&mut reached[pos as usize], true));
                assert_eq!(d.index(hash(&d.at(pos).key)), idx);
                pos = d.at(pos).next;
            }
        }
        assert!(reached.iter().all(|&r| r));
        assert_eq!(d.iter().count(), d.len());
    }

    #[test]
    fn random_inserts_and_removals_keep_slab_and_chains_in_step() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(20);
        let mut d = Dict::default();
        let mut model = HashSet::new();
        for round in 0..20_000u32 {
            let k = rng.gen_range(0..3000u32).to_be_bytes();
            // Phases of growth and shrinkage, so chunks come and go.
            let grow = (round / 5000) % 2 == 0;
            if rng.gen_ratio(if grow { 3 } else { 1 }, 4) {
                if model.insert(k) {
                    add(&mut d, &k);
                }
            } else {
                assert_eq!(d.remove(hash(&k), &k, hash).is_some(), model.remove(&k));
            }
            if round % 997 == 0 {
                assert_consistent(&d);
            }
        }
        assert_consistent(&d);
        assert_eq!(d.len(), model.len());
        for k in &model {
            assert_eq!(&*d.get(hash(k), k).expect("present").key, k);
        }
        assert!(d.slab.len() <= d.len().div_ceil(CHUNK).max(1));
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::default();
        for i in 0..1000u32 {
            add(&mut d, &i.to_be_bytes());
        }
        assert_eq!(d.len(), 1000);
        for i in 0..1000u32 {
            assert!(d.get(hash(&i.to_be_bytes()), &i.to_be_bytes()).is_some());
        }
        for i in 0..990u32 {
            assert!(d
                .remove(hash(&i.to_be_bytes()), &i.to_be_bytes(), hash)
                .is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets.len() <= 16, "table shrank: {}", d.buckets.len());
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_returns_every_stable_key_across_resizes() {
        let mut d = Dict::default();
        let stable: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("stable{i}").into_bytes())
            .collect();
        for k in &stable {
            add(&mut d, k);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = d.scan(cursor, |e| {
                seen.insert(e.key.to_vec());
            });
            // Grow and shrink the table while the scan is under way.
            step += 1;
            if step.is_multiple_of(3) {
                for j in 0..300u32 {
                    add(&mut d, format!("churn{step}-{j}").as_bytes());
                }
            } else if step % 3 == 1 {
                let churn: Vec<Vec<u8>> = d
                    .iter()
                    .filter(|e| e.key.starts_with(b"churn"))
                    .map(|e| e.key.to_vec())
                    .collect();
                for k in churn {
                    d.remove(hash(&k), &k, hash);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for k in &stable {
            assert!(seen.contains(k), "missing {:?}", String::from_utf8_lossy(k));
        }
    }
}
