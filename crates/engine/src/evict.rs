//! Eviction: what each key's access field means (LRU clock or LFU counter), the frequency
//! sketch of the `allkeys-tinylfu` policy, and choosing and removing victims when the server is
//! over `maxmemory` or `maxkeys`.
//!
//! Victims are chosen as Redis does: sample `maxmemory-samples` keys, keep the best candidates
//! in a pool of 16 across calls, evict the best. Here each call samples one random shard (all
//! its databases), so no call holds more than one shard lock.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

use parking_lot::Mutex;
use rand::Rng;

use crate::bytes::SmallBytes;
use crate::dict::Entry;
use crate::keyspace::{lru_clock, Db, Keyspace};

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
    /// redis-lite's own: evict the sampled key with the lowest frequency in a count-min sketch
    /// of all recent accesses, misses included (TinyLFU). A key's history outlives its
    /// eviction, so a hot key that comes back is known at once, and keys seen once (a scan)
    /// are the first to go.
    AllKeysTinyLfu,
}

impl Policy {
    /// Names as `maxmemory-policy` takes them.
    pub const NAMES: &'static [(&'static str, Policy)] = &[
        ("volatile-lru", Policy::VolatileLru),
        ("volatile-lfu", Policy::VolatileLfu),
        ("volatile-random", Policy::VolatileRandom),
        ("volatile-ttl", Policy::VolatileTtl),
        ("allkeys-lru", Policy::AllKeysLru),
        ("allkeys-lfu", Policy::AllKeysLfu),
        ("allkeys-random", Policy::AllKeysRandom),
        ("noeviction", Policy::NoEviction),
        ("allkeys-tinylfu", Policy::AllKeysTinyLfu),
    ];

    /// Only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// The access field holds an LFU counter rather than an LRU clock.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    fn code(self) -> u8 {
        Policy::NAMES
            .iter()
            .position(|(_, p)| *p == self)
            .expect("every policy is named") as u8
    }

    fn from_code(code: u8) -> Policy {
        Policy::NAMES[code as usize].1
    }
}

/// Redis's starting LFU counter, so a new key is not the first to go.
const LFU_INIT: u32 = 5;

/// Access-tracking settings shared by every table: the policy in force and the LFU tuning.
pub struct Tracking {
    policy: AtomicU8,
    lfu_log_factor: AtomicU32,
    lfu_decay_minutes: AtomicU32,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            policy: AtomicU8::new(Policy::NoEviction.code()),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_minutes: AtomicU32::new(1),
        }
    }
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

impl Tracking {
    pub fn configure(&self, policy: Policy, lfu_log_factor: u32, lfu_decay_minutes: u32) {
        self.policy.store(policy.code(), Relaxed);
        self.lfu_log_factor.store(lfu_log_factor, Relaxed);
        self.lfu_decay_minutes.store(lfu_decay_minutes, Relaxed);
    }

    pub fn policy(&self) -> Policy {
        Policy::from_code(self.policy.load(Relaxed))
    }

    /// The access field of a new key.
    pub fn initial(&self, now_ms: u64) -> u32 {
        if self.policy().is_lfu() {
            lfu_minutes(now_ms) << 8 | LFU_INIT
        } else {
            lru_clock(now_ms)
        }
    }

    /// The access field after an access to a key whose field was `access`: the LRU clock, or
    /// Redis's decayed, logarithmic LFU counter.
    pub fn touched(&self, access: u32, now_ms: u64) -> u32 {
        if !self.policy().is_lfu() {
            return lru_clock(now_ms);
        }
        let mut counter = self.frequency(access, now_ms);
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT as u8) as f64;
            let p = 1.0 / (base * self.lfu_log_factor.load(Relaxed) as f64 + 1.0);
            if rand::thread_rng().gen::<f64>() < p {
                counter += 1;
            }
        }
        lfu_minutes(now_ms) << 8 | counter as u32
    }

    /// An LFU access field's counter after decay: one step down per `lfu-decay-time` minutes
    /// since the last access (OBJECT FREQ).
    pub fn frequency(&self, access: u32, now_ms: u64) -> u8 {
        let counter = (access & 0xFF) as u8;
        let decay = self.lfu_decay_minutes.load(Relaxed);
        if decay == 0 {
            return counter;
        }
        // The minutes stamp is the 16 bits above the counter, as in Redis's 24-bit field: a
        // field written under an LRU policy (whole seconds, 32 bits) then reads as Redis reads
        // its LRU clock after a switch to LFU, instead of a stamp past 65535 that underflows.
        let (now, then) = (lfu_minutes(now_ms), (access >> 8) & 0xFFFF);
        let elapsed = if now >= then {
            now - then
        } else {
            65535 - then + now
        };
        counter.saturating_sub((elapsed / decay).min(255) as u8)
    }

    /// An access field for RESTORE's FREQ (under LFU) or IDLETIME (otherwise); None leaves the
    /// new key's default.
    pub fn restored(&self, idle_secs: Option<u64>, freq: Option<u8>, now_ms: u64) -> Option<u32> {
        if self.policy().is_lfu() {
            freq.map(|f| lfu_minutes(now_ms) << 8 | f as u32)
        } else {
            idle_secs.map(|s| lru_clock(now_ms.saturating_sub(s.saturating_mul(1000))))
        }
    }
}

/// A count-min sketch of 4-bit counters, 4 rows, halved every 10 × width additions so old
/// popularity fades (TinyLFU's reset). Sized to the table it sits beside.
pub(crate) struct Sketch {
    /// 4 rows × `width` counters, 16 to a word.
    words: Vec<u64>,
    width_bits: u32,
    additions: u64,
}

const SKETCH_ROWS: usize = 4;
const SKETCH_SEEDS: [u64; SKETCH_ROWS] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];

impl Sketch {
    fn new(keys: usize) -> Sketch {
        let width_bits = keys.max(64).next_power_of_two().trailing_zeros();
        let width = 1usize << width_bits;
        Sketch {
            words: vec![0; SKETCH_ROWS * width / 16],
            width_bits,
            additions: 0,
        }
    }

    fn width(&self) -> usize {
        1 << self.width_bits
    }

    /// (word, shift) of the counter for `hash` in `row`.
    fn slot(&self, hash: u64, row: usize) -> (usize, u32) {
        let index = (hash.wrapping_mul(SKETCH_SEEDS[row]) >> (64 - self.width_bits)) as usize;
        let flat = row * self.width() + index;
        (flat / 16, (flat % 16) as u32 * 4)
    }

    fn estimate(&self, hash: u64) -> u8 {
        (0..SKETCH_ROWS)
            .map(|row| {
                let (word, shift) = self.slot(hash, row);
                ((self.words[word] >> shift) & 0xF) as u8
            })
            .min()
            .unwrap_or(0)
    }

    /// Counts one access; only the smallest counters grow (conservative update).
    fn record(&mut self, hash: u64) {
        let least = self.estimate(hash);
        if least < 15 {
            for row in 0..SKETCH_ROWS {
                let (word, shift) = self.slot(hash, row);
                if (self.words[word] >> shift) & 0xF == least as u64 {
                    self.words[word] += 1 << shift;
                }
            }
        }
        self.additions += 1;
        if self.additions >= 10 * self.width() as u64 {
            for w in &mut self.words {
                *w = (*w >> 1) & 0x7777_7777_7777_7777;
            }
            self.additions /= 2;
        }
    }
}

/// Per table: the sketch, when the policy uses one.
#[derive(Default)]
pub(crate) struct Frequencies {
    sketch: Option<Box<Sketch>>,
}

impl Frequencies {
    /// Records an access to `hash` in a table of `keys` keys, growing the sketch with the table
    /// (a grown sketch starts afresh: its counters could not be split).
    pub(crate) fn record(&mut self, hash: u64, keys: usize) {
        let sketch = match &mut self.sketch {
            Some(s) if s.width() >= keys => s,
            slot => slot.insert(Box::new(Sketch::new(keys.saturating_mul(2)))),
        };
        sketch.record(hash);
    }

    pub(crate) fn estimate(&self, hash: u64) -> u8 {
        self.sketch.as_ref().map_or(0, |s| s.estimate(hash))
    }

    /// Drops the sketch when the policy no longer uses it.
    pub(crate) fn clear(&mut self) {
        self.sketch = None;
    }
}

/// Redis's eviction pool size.
const POOL_SIZE: usize = 16;

/// One eviction candidate: higher `score` goes first.
#[derive(Clone)]
struct Candidate {
    score: u64,
    shard: usize,
    db: usize,
    key: SmallBytes,
}

/// Eviction state kept across calls.
#[derive(Default)]
pub(crate) struct Evictor {
    pool: Mutex<Vec<Candidate>>,
    pub(crate) evicted: AtomicU64,
}

/// What `evict_one` removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted {
    pub db: usize,
    pub key: SmallBytes,
}

impl Keyspace {
    /// Evicts one key by `policy`, sampling `samples` keys per database of one random shard.
    /// None when nothing can be evicted (empty, no volatile keys, or `noeviction`).
    pub fn evict_one(&self, policy: Policy, samples: usize, now_ms: u64) -> Option<Evicted> {
        self.evict_or_reject(policy, samples, now_ms, None)
    }

    /// TinyLFU's admission: room is needed right after `newcomer` (db, key) was written. The
    /// newcomer itself goes if it is no more frequent than the best victim the sample offers,
    /// so keys seen once (a scan) do not push out keys that are read again.
    pub fn evict_or_reject(
        &self,
        policy: Policy,
        samples: usize,
        now_ms: u64,
        newcomer: Option<(usize, &[u8])>,
    ) -> Option<Evicted> {
        if policy == Policy::NoEviction {
            return None;
        }
        let shards = self.shard_count();
        let start = rand::thread_rng().gen_range(0..shards);
        // Each round either evicts or samples one more shard; a full lap finding nothing to
        // sample and an empty pool means there is nothing to evict.
        let mut empty_in_a_row = 0;
        let mut index = start;
        while empty_in_a_row < shards {
            index = (index + 1) % shards;
            if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
                match self.evict_random(index, policy) {
                    Some(evicted) => return Some(evicted),
                    None => {
                        empty_in_a_row += 1;
                        continue;
                    }
                }
            }
            let sampled = self.sample_into_pool(index, policy, samples, now_ms);
            if let Some((db, key)) = newcomer.filter(|_| policy == Policy::AllKeysTinyLfu) {
                if let Some(evicted) = self.reject(db, key) {
                    return Some(evicted);
                }
            }
            if let Some(evicted) = self.evict_best(policy, now_ms) {
                return Some(evicted);
            }
            empty_in_a_row = if sampled { 0 } else { empty_in_a_row + 1 };
        }
        None
    }

    /// The score (higher = evict first) of an entry under `policy`.
    fn score(&self, policy: Policy, table: &Db, hash: u64, entry: &Entry, now_ms: u64) -> u64 {
        let idle = u64::from(lru_clock(now_ms).wrapping_sub(entry.access()));
        match policy {
            Policy::AllKeysLru | Policy::VolatileLru => idle,
            Policy::AllKeysLfu | Policy::VolatileLfu => {
                255 - u64::from(self.shared.tracking.frequency(entry.access(), now_ms))
            }
            Policy::VolatileTtl => u64::MAX - entry.expire_at(),
            Policy::AllKeysTinyLfu => {
                let freq = u64::from(table.frequencies.estimate(hash));
                // Least frequent first; among equals, the least recently used.
                (15 - freq) << 32 | idle.min(u32::MAX as u64)
            }
            Policy::NoEviction | Policy::AllKeysRandom | Policy::VolatileRandom => 0,
        }
    }

    /// Samples shard `index` into the pool. Returns whether it had any candidate.
    fn sample_into_pool(&self, index: usize, policy: Policy, samples: usize, now_ms: u64) -> bool {
        let mut found = Vec::new();
        {
            let shard = self.lock_shard(index);
            let mut rng = rand::thread_rng();
            for (db, table) in shard.dbs.iter().enumerate() {
                if table.is_empty() || (policy.volatile_only() && table.volatile() == 0) {
                    continue;
                }
                table
                    .dict
                    .sample(samples, policy.volatile_only(), &mut rng, |entry| {
                        let hash = self.hash(entry.key());
                        found.push(Candidate {
                            score: self.score(policy, table, hash, entry, now_ms),
                            shard: index,
                            db,
                            key: SmallBytes::new(entry.key()),
                        });
                    });
            }
        }
        if found.is_empty() {
            return false;
        }
        let mut pool = self.evictor.pool.lock();
        for candidate in found {
            if pool
                .iter()
                .any(|c| c.db == candidate.db && c.key == candidate.key)
            {
                continue;
            }
            pool.push(candidate);
        }
        pool.sort_by_key(|c| std::cmp::Reverse(c.score));
        pool.truncate(POOL_SIZE);
        true
    }

    /// Evicts `key` if it is no more frequent than the pool's best candidate.
    fn reject(&self, db: usize, key: &[u8]) -> Option<Evicted> {
        let victim_freq = {
            let pool = self.evictor.pool.lock();
            15 - (pool.first()?.score >> 32)
        };
        let hash = self.hash(key);
        let mut shard = self.lock_shard(self.shard_index(hash));
        let freq = shard.dbs[db].frequencies.estimate(hash);
        if u64::from(freq) >= victim_freq || shard.dbs[db].dict.get(hash, key).is_none() {
            return None;
        }
        shard.evict(db, hash, key);
        self.evictor.evicted.fetch_add(1, Relaxed);
        Some(Evicted {
            db,
            key: SmallBytes::new(key),
        })
    }

    /// Evicts the pool's best candidate that still exists (and, for volatile policies, still
    /// has a TTL).
    fn evict_best(&self, policy: Policy, now_ms: u64) -> Option<Evicted> {
        loop {
            let candidate = {
                let mut pool = self.evictor.pool.lock();
                if pool.is_empty() {
                    return None;
                }
                pool.remove(0)
            };
            let mut shard = self.lock_shard(candidate.shard);
            let hash = self.hash(&candidate.key);
            let table = &shard.dbs[candidate.db];
            let present = table.dict.get(hash, &candidate.key).is_some_and(|e| {
                // Redis evicts a pooled candidate as it was scored; the TinyLFU policy first
                // checks it did not become popular while it waited in the pool.
                let still = policy != Policy::AllKeysTinyLfu
                    || self.score(policy, table, hash, e, now_ms) >= candidate.score;
                still && (!policy.volatile_only() || e.has_ttl())
            });
            if present {
                shard.evict(candidate.db, hash, &candidate.key);
                self.evictor.evicted.fetch_add(1, Relaxed);
                return Some(Evicted {
                    db: candidate.db,
                    key: candidate.key,
                });
            }
        }
    }

    /// A random key of shard `index` (with a TTL, for volatile-random).
    fn evict_random(&self, index: usize, policy: Policy) -> Option<Evicted> {
        let mut shard = self.lock_shard(index);
        let mut rng = rand::thread_rng();
        let dbs: Vec<usize> = (0..shard.dbs.len())
            .filter(|&db| {
                let t = &shard.dbs[db];
                !t.is_empty() && (!policy.volatile_only() || t.volatile() > 0)
            })
            .collect();
        let db = *dbs.get(rng.gen_range(0..dbs.len().max(1)))?;
        let mut key = None;
        shard.dbs[db]
            .dict
            .sample(1, policy.volatile_only(), &mut rng, |e| {
                key = Some(SmallBytes::new(e.key()))
            });
        let key = key?;
        let hash = self.hash(&key);
        shard.evict(db, hash, &key);
        self.evictor.evicted.fetch_add(1, Relaxed);
        Some(Evicted { db, key })
    }

    /// Keys evicted since start-up (INFO's `evicted_keys`).
    pub fn evicted_keys(&self) -> u64 {
        self.evictor.evicted.load(Relaxed)
    }

    /// Applies `maxmemory-policy` and the LFU settings. On a change of what the access field
    /// means, the candidates pooled under the old meaning are dropped; sketches are dropped when
    /// the new policy does not use them.
    pub fn set_policy(&self, policy: Policy, lfu_log_factor: u32, lfu_decay_minutes: u32) {
        let tracking = &self.shared.tracking;
        let old = tracking.policy();
        tracking.configure(policy, lfu_log_factor, lfu_decay_minutes);
        if old == policy {
            return;
        }
        self.evictor.pool.lock().clear();
        if old == Policy::AllKeysTinyLfu {
            for index in 0..self.shard_count() {
                let mut shard = self.lock_shard(index);
                for table in shard.dbs.iter_mut() {
                    table.frequencies.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn fill(ks: &Keyspace, n: usize, ttl_every: usize) {
        for i in 0..n {
            let key = format!("k{i}");
            let mut locked = ks.lock_keys([key.as_bytes()]);
            let (db, hash) = locked.db(0, key.as_bytes());
            db.set(hash, key.as_bytes(), Value::string(b"v"), false, 0);
            if ttl_every > 0 && i % ttl_every == 0 {
                db.set_expire(hash, key.as_bytes(), 10_000_000 + i as u64);
            }
        }
    }

    #[test]
    fn every_policy_evicts_until_nothing_is_left() {
        for &(name, policy) in Policy::NAMES {
            let ks = Keyspace::new(8, 2);
            ks.set_policy(policy, 10, 1);
            fill(&ks, 100, 4);
            let mut evicted = 0;
            while ks.evict_one(policy, 5, 1000).is_some() {
                evicted += 1;
                assert!(evicted <= 100, "{name}");
            }
            let expected = match policy {
                Policy::NoEviction => 0,
                p if p.volatile_only() => 25,
                _ => 100,
            };
            assert_eq!(evicted, expected, "{name}");
            assert_eq!(ks.evicted_keys(), expected as u64, "{name}");
        }
    }

    #[test]
    fn lru_evicts_the_idle_keys_first() {
        let ks = Keyspace::new(4, 1);
        ks.set_policy(Policy::AllKeysLru, 10, 1);
        fill(&ks, 200, 0);
        // Touch the first half much later: the untouched half should go first.
        for i in 0..100 {
            let key = format!("k{i}");
            let mut locked = ks.lock_keys([key.as_bytes()]);
            let (db, hash) = locked.db(0, key.as_bytes());
            db.get(hash, key.as_bytes(), 500_000);
        }
        let mut old_first = 0;
        for _ in 0..50 {
            let e = ks.evict_one(Policy::AllKeysLru, 5, 500_000).unwrap();
            let n: usize = std::str::from_utf8(&e.key[1..]).unwrap().parse().unwrap();
            if n >= 100 {
                old_first += 1;
            }
        }
        assert!(old_first >= 45, "{old_first} of 50 were idle keys");
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let t = Tracking::default();
        t.configure(Policy::AllKeysLfu, 10, 1);
        let mut access = t.initial(0);
        assert_eq!(t.frequency(access, 0), 5);
        for _ in 0..1000 {
            access = t.touched(access, 0);
        }
        let hot = t.frequency(access, 0);
        assert!((10..40).contains(&hot), "{hot}");
        // Ten minutes later, decayed by one per minute.
        assert_eq!(t.frequency(access, 600_000), hot - 10);
    }

    #[test]
    fn sketch_counts_and_ages() {
        let mut s = Sketch::new(64);
        for _ in 0..20 {
            s.record(42);
        }
        s.record(7);
        assert_eq!(s.estimate(42), 15, "saturates at 15");
        assert_eq!(s.estimate(7), 1);
        assert_eq!(s.estimate(1234), 0);
        for i in 0..10 * 128u64 {
            s.record(1_000_000 + i);
        }
        assert!(s.estimate(42) < 15, "halved by the reset");
    }

    #[test]
    fn tinylfu_keeps_the_frequently_read_keys() {
        let ks = Keyspace::new(4, 1);
        ks.set_policy(Policy::AllKeysTinyLfu, 10, 1);
        fill(&ks, 200, 0);
        for round in 0..5 {
            for i in 0..20 {
                let key = format!("k{i}");
                let mut locked = ks.lock_keys([key.as_bytes()]);
                let (db, hash) = locked.db(0, key.as_bytes());
                db.get(hash, key.as_bytes(), 1000 + round);
            }
        }
        for _ in 0..150 {
            let e = ks.evict_one(Policy::AllKeysTinyLfu, 5, 2000).unwrap();
            let n: usize = std::str::from_utf8(&e.key[1..]).unwrap().parse().unwrap();
            assert!(n >= 20, "hot key k{n} evicted");
        }
    }
}
