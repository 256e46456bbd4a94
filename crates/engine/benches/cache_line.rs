//! What sharing a cache line costs threads that each write only their own state: every
//! thread takes and releases a read lock on its own `RwLock` (as each event loop does on its
//! gate for every command), with the locks packed 8 bytes apart (as the gates were until
//! session 20) and with each in a [`CachePadded`]. The time is per lock and release, per
//! thread, all threads running at once; with one thread the two layouts cost the same.
//!
//! Run: `cargo bench -p redis-lite-engine --bench cache_line`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use parking_lot::RwLock;
use redis_lite_engine::cache_line::CachePadded;

/// Runs `iters` lock-and-release rounds on each of `locks` at once, one thread per lock;
/// returns the wall time.
fn rounds<L: Sync>(locks: &[L], lock: fn(&L) -> &RwLock<()>, iters: u64) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for own in locks {
            scope.spawn(move || {
                for _ in 0..iters {
                    black_box(lock(own).try_read());
                }
            });
        }
    });
    started.elapsed()
}

fn own_locks(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut group = c.benchmark_group("own read lock per thread");
    let mut counts = vec![1, 2, cores.min(8)];
    counts.dedup();
    for threads in counts {
        let packed: Vec<RwLock<()>> = (0..threads).map(|_| RwLock::new(())).collect();
        let padded: Vec<CachePadded<RwLock<()>>> =
            (0..threads).map(|_| CachePadded(RwLock::new(()))).collect();
        group.bench_function(format!("packed, {threads} threads"), |b| {
            b.iter_custom(|iters| rounds(&packed, |l| l, iters))
        });
        group.bench_function(format!("padded, {threads} threads"), |b| {
            b.iter_custom(|iters| rounds(&padded, |l| &l.0, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, own_locks);
criterion_main!(benches);
