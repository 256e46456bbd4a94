//! A latency histogram for rare, slow operations (an fsync, a snapshot's shard lock): fixed
//! buckets of atomic counts that the operation's own thread bumps and a scrape reads.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds in seconds, 100µs to 2.5s: an fsync on a fast SSD takes about a millisecond,
/// one that stalls a disk takes seconds.
pub const BOUNDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative); the last one is past every bound.
    counts: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A histogram as a scrape shows it.
pub struct Reading {
    pub sum_seconds: f64,
    pub count: u64,
    /// Cumulative counts by upper bound, without `+Inf` (that is `count`).
    pub buckets: Vec<(f64, u64)>,
}

impl LatencyHistogram {
    pub fn record(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BOUNDS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(took.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    pub fn read(&self) -> Reading {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(BOUNDS.len());
        for (bound, count) in BOUNDS.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            buckets.push((*bound, cumulative));
        }
        let count = cumulative + self.counts[BOUNDS.len()].load(Relaxed);
        Reading {
            sum_seconds: self.sum_nanos.load(Relaxed) as f64 / 1e9,
            count,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_overflow_counts() {
        let h = LatencyHistogram::default();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(10));
        let r = h.read();
        assert_eq!(r.count, 3);
        assert_eq!(r.buckets[0], (0.0001, 1));
        assert_eq!(r.buckets[5], (0.005, 2));
        assert_eq!(r.buckets.last(), Some(&(2.5, 2)));
        assert!((r.sum_seconds - 10.00305).abs() < 1e-9);
    }
}
