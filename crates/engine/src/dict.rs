//! `Dict`: the keyspace's hash table. Chained buckets in a power-of-two array, so SCAN can walk
//! buckets with Redis's reverse-binary cursor and still return every key that was present for
//! the whole scan, even when the table grows or shrinks between calls.

use crate::bytes::SmallBytes;
use crate::value::Value;

/// One key with its value and metadata.
pub struct Entry {
    pub key: SmallBytes,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means none.
    pub expire_at: u64,
    /// Last access, in seconds of the server's LRU clock.
    pub access: u32,
    next: Option<Box<Entry>>,
}

impl Entry {
    pub fn new(key: SmallBytes, value: Value) -> Self {
        Entry {
            key,
            value,
            expire_at: 0,
            access: 0,
            next: None,
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    /// A copy of this entry's value and TTL under another key (COPY). The copy is a new object,
    /// so its access time is `access`, not the original's.
    pub fn duplicate(&self, key: &[u8], access: u32) -> Box<Entry> {
        Box::new(Entry {
            key: SmallBytes::new(key),
            value: self.value.clone(),
            expire_at: self.expire_at,
            access,
            next: None,
        })
    }
}

const MIN_BUCKETS: usize = 4;

/// A hash table of [`Entry`]. The caller supplies each key's hash and a hasher for rehashing.
#[derive(Default)]
pub struct Dict {
    buckets: Vec<Option<Box<Entry>>>,
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
        self.buckets.capacity() * std::mem::size_of::<Option<Box<Entry>>>()
    }

    fn index(&self, hash: u64) -> usize {
        (hash as usize) & (self.buckets.len() - 1)
    }

    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut node = self.buckets[self.index(hash)].as_deref();
        while let Some(n) = node {
            if *n.key == *key {
                return Some(n);
            }
            node = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        if self.buckets.is_empty() {
            return None;
        }
        let idx = self.index(hash);
        let mut node = self.buckets[idx].as_deref_mut();
        while let Some(n) = node {
            if *n.key == *key {
                return Some(n);
            }
            node = n.next.as_deref_mut();
        }
        None
    }

    /// Inserts an entry whose key is known to be absent, and returns it.
    pub fn insert_new(
        &mut self,
        hash: u64,
        mut entry: Box<Entry>,
        rehash: impl Fn(&[u8]) -> u64,
    ) -> &mut Entry {
        if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS), &rehash);
        }
        let idx = self.index(hash);
        entry.next = self.buckets[idx].take();
        self.len += 1;
        self.buckets[idx].insert(entry)
    }

    pub fn remove(
        &mut self,
        hash: u64,
        key: &[u8],
        rehash: impl Fn(&[u8]) -> u64,
    ) -> Option<Box<Entry>> {
        if self.buckets.is_empty() {
            return None;
        }
        let idx = self.index(hash);
        let mut link = &mut self.buckets[idx];
        while link.as_ref().is_some_and(|n| *n.key != *key) {
            link = &mut link.as_mut().expect("checked above").next;
        }
        let mut entry = link.take()?;
        *link = entry.next.take();
        self.len -= 1;
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

    fn resize(&mut self, size: usize, rehash: &impl Fn(&[u8]) -> u64) {
        let old = std::mem::replace(&mut self.buckets, (0..size).map(|_| None).collect());
        for mut chain in old {
            while let Some(mut entry) = chain {
                chain = entry.next.take();
                let idx = self.index(rehash(&entry.key));
                entry.next = self.buckets[idx].take();
                self.buckets[idx] = Some(entry);
            }
        }
    }

    pub fn clear(&mut self) {
        self.drain_each(drop);
    }

    /// Empties the table, handing each entry to `f`.
    pub fn drain(mut self, f: impl FnMut(Box<Entry>)) {
        self.drain_each(f);
    }

    fn drain_each(&mut self, mut f: impl FnMut(Box<Entry>)) {
        // Unlink chains iteratively: dropping a long chain recursively could overflow the stack.
        for bucket in &mut self.buckets {
            let mut chain = bucket.take();
            while let Some(mut entry) = chain {
                chain = entry.next.take();
                f(entry);
            }
        }
        self.buckets = Vec::new();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.buckets
            .iter()
            .flat_map(|bucket| std::iter::successors(bucket.as_deref(), |n| n.next.as_deref()))
    }

    /// Visits the entries of the bucket that `cursor` names and returns the next cursor (0 when
    /// the walk is complete). Cursor bits are reversed before incrementing, so buckets that split
    /// or merge on resize are visited exactly in the order that keeps the SCAN guarantee.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&Entry)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut node = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(n) = node {
            visit(n);
            node = n.next.as_deref();
        }
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
            let chain = self.buckets[(start + step) % buckets].as_deref();
            for entry in std::iter::successors(chain, |e| e.next.as_deref()) {
                if !volatile_only || entry.expire_at != 0 {
                    f(entry);
                    taken += 1;
                    if taken == n {
                        return;
                    }
                }
            }
        }
    }

    /// A uniformly chosen bucket's random entry, as Redis's `dictGetRandomKey`.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        loop {
            let bucket = self.buckets[rng.gen_range(0..self.buckets.len())].as_deref();
            let Some(head) = bucket else { continue };
            let chain: Vec<&Entry> =
                std::iter::successors(Some(head), |n| n.next.as_deref()).collect();
            return Some(chain[rng.gen_range(0..chain.len())]);
        }
    }
}

impl Drop for Dict {
    fn drop(&mut self) {
        self.clear();
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
        d.insert_new(hash(k), Box::new(Entry::new(k.into(), Value::Int(0))), hash);
    }

    #[test]
    fn duplicate_copies_value_and_ttl_under_new_key() {
        let mut e = Entry::new(b"a"[..].into(), Value::string(b"v"));
        e.expire_at = 1234;
        e.access = 1;
        let copy = e.duplicate(b"b", 9);
        assert_eq!(&*copy.key, b"b");
        assert!(copy.value == e.value);
        assert_eq!((copy.expire_at, copy.access), (1234, 9));
        assert!(copy.next.is_none());
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
