//! The keyspace table without the network: insert, get (hit and miss), delete and a full SCAN
//! over one million keys, the shape of `bench/run.sh`'s memory test (16-byte keys
//! `key:%012d`, 16-byte values). One shard and one database, so each operation is one table
//! operation; the shard lock is taken once per batch, not per operation.
//!
//! Run: `cargo bench -p redis-lite-engine --bench table` (add `-- get` to pick benchmarks).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redis_lite_engine::{Deletion, Keyspace, Value};

const KEYS: usize = 1_000_000;
/// Operations per timed batch of the per-key benchmarks.
const BATCH: usize = 10_000;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// Keys in an order unrelated to insertion, so lookups do not walk memory sequentially, with
/// their hashes under `ks`'s hasher (each keyspace seeds its own: a hash from another keyspace
/// would look in the wrong bucket).
fn shuffled_keys(ks: &Keyspace, range: std::ops::Range<usize>) -> Vec<(Vec<u8>, u64)> {
    use rand::seq::SliceRandom;
    let mut keys: Vec<(Vec<u8>, u64)> = range
        .map(|i| {
            let k = key(i);
            (k.clone(), ks.hash(&k))
        })
        .collect();
    keys.shuffle(&mut rand::thread_rng());
    keys
}

fn value() -> Value {
    Value::string(&[b'v'; 16])
}

/// A keyspace holding keys `0..KEYS`.
fn filled() -> Keyspace {
    let ks = Keyspace::new(1, 1);
    {
        let mut shard = ks.lock_shard(0);
        let db = shard.db(0);
        for i in 0..KEYS {
            let k = key(i);
            db.set(ks.hash(&k), &k, value(), false, 0);
        }
    }
    ks
}

fn insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert");
    group.sample_size(10);
    group.throughput(Throughput::Elements(KEYS as u64));
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    group.bench_function("1M keys into an empty table", |b| {
        b.iter_batched(
            || Keyspace::new(1, 1),
            |ks| {
                {
                    let mut shard = ks.lock_shard(0);
                    let db = shard.db(0);
                    for k in &keys {
                        db.set(ks.hash(k), k, value(), false, 0);
                    }
                }
                ks
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn get(c: &mut Criterion) {
    let ks = filled();
    let hits = shuffled_keys(&ks, 0..KEYS);
    let misses = shuffled_keys(&ks, KEYS..2 * KEYS);
    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, keys) in [("hit", &hits), ("miss", &misses)] {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut shard = ks.lock_shard(0);
                let db = shard.db(0);
                let mut found = 0;
                for (k, hash) in &keys[next..next + BATCH] {
                    found += usize::from(db.get(*hash, k, 0).is_some());
                }
                next = (next + BATCH) % (KEYS - BATCH);
                // A hit that misses means the hashes are not the table's.
                assert_eq!(found, if name == "hit" { BATCH } else { 0 });
                black_box(found)
            })
        });
    }
    group.finish();
}

fn delete(c: &mut Criterion) {
    let ks = filled();
    let keys = shuffled_keys(&ks, 0..KEYS);
    let mut group = c.benchmark_group("delete");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0;
    group.bench_function("hit", |b| {
        // Only the deletions are timed; the keys go back in afterwards, so every batch deletes
        // from a table of a million keys.
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let batch = &keys[next..next + BATCH];
                next = (next + BATCH) % (KEYS - BATCH);
                let mut shard = ks.lock_shard(0);
                let db = shard.db(0);
                let start = Instant::now();
                for (k, hash) in batch {
                    black_box(db.delete(*hash, k, Deletion::User));
                }
                timed += start.elapsed();
                for (k, hash) in batch {
                    db.set(*hash, k, value(), false, 0);
                }
            }
            timed
        })
    });
    group.finish();
}

fn scan(c: &mut Criterion) {
    let ks = filled();
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.throughput(Throughput::Elements(KEYS as u64));
    group.bench_function("1M keys, COUNT 1000", |b| {
        b.iter(|| {
            let mut seen = 0usize;
            let mut cursor = 0;
            loop {
                cursor = ks.scan(0, cursor, 1000, |entry, _| seen += entry.key().len());
                if cursor == 0 {
                    break;
                }
            }
            black_box(seen)
        })
    });
    group.finish();
}

criterion_group! {
    name = table;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = insert, get, delete, scan
}
criterion_main!(table);
