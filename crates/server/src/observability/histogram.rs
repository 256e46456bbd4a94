//! Per-command latency histograms: LATENCY HISTOGRAM, INFO latencystats, and the Prometheus
//! export. Each event loop records into its own counters (no lock, no shared cache line), and
//! a reader adds the loops up.
//!
//! The counters are laid out as Redis's HDR histogram (1 ns to 1 s, two significant digits:
//! 256 exact values, then 128 sub-buckets per doubling), so percentiles and the power-of-two
//! buckets come out as Redis prints them, to the nanosecond.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::command::CommandEntry;

/// The smallest and largest recorded values: Redis clamps a duration into this range.
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;
/// Values below this are exact; above, each doubling has `SUB_BUCKETS` equal slots.
const EXACT: u64 = 256;
const SUB_BUCKETS: u64 = 128;
/// Slots from 0 to the doubling that holds `MAX_NS` (2^29..2^30, 22 doublings past `EXACT`).
const SLOTS: usize = (EXACT + 22 * SUB_BUCKETS) as usize;
/// Counters are allocated a doubling's worth at a time, when a duration first falls there: a
/// command's calls span a few doublings, so it costs some 3 KiB per event loop instead of 24.
const CHUNK: usize = SUB_BUCKETS as usize;
const CHUNKS: usize = SLOTS / CHUNK;
/// LATENCY HISTOGRAM's first bucket (1024 ns), doubled for each next one.
const FIRST_BUCKET_NS: u64 = 1024;

/// The slot counting `ns` (clamped to the recorded range).
fn slot_of(ns: u64) -> usize {
    let value = ns.clamp(MIN_NS, MAX_NS);
    let doublings = (u64::BITS - value.leading_zeros()).saturating_sub(EXACT.trailing_zeros());
    (doublings as u64 * SUB_BUCKETS + (value >> doublings)) as usize
}

/// The lowest value `slot` counts, and how many values it counts.
fn slot_range(slot: usize) -> (u64, u64) {
    let slot = slot as u64;
    let doublings = if slot < EXACT {
        0
    } else {
        slot / SUB_BUCKETS - 1
    };
    (
        (slot - doublings * SUB_BUCKETS) << doublings,
        1 << doublings,
    )
}

fn highest_in(slot: usize) -> u64 {
    let (lowest, width) = slot_range(slot);
    lowest + width - 1
}

/// The histograms of every command, one set per event loop (and one each for the master link
/// and the AOF loader, which run commands too). A command's counters are allocated at its
/// first call on a loop, as Redis allocates a command's histogram at its first call, and only
/// for the doublings its durations reach.
pub struct CommandHistograms {
    /// Per worker, per command id.
    workers: Box<[Box<[Slots]>]>,
}

/// One command's counters on one worker: `CHUNKS` chunks of `CHUNK` slots, each allocated at
/// its first count.
type Slots = OnceLock<Box<[Chunk]>>;
type Chunk = OnceLock<Box<[AtomicU64]>>;

fn zeroed<T: Default>(n: usize) -> Box<[T]> {
    (0..n).map(|_| T::default()).collect()
}

impl CommandHistograms {
    pub fn new(workers: usize, commands: usize) -> Self {
        CommandHistograms {
            workers: (0..workers)
                .map(|_| (0..commands).map(|_| OnceLock::new()).collect())
                .collect(),
        }
    }

    /// Counts one call of `command` (its table id) that took `ns`, on `worker`'s counters.
    /// Only the worker's own thread writes them (a connection's commands, its scripts' calls
    /// and its blocked commands' re-runs all run on its event loop), so the count is a plain
    /// load and store, without a locked instruction; readers may see it a moment late, and a
    /// CONFIG RESETSTAT racing with it may leave that one call counted.
    #[inline]
    pub fn record(&self, worker: usize, command: usize, ns: u64) {
        let chunks = self.workers[worker][command].get_or_init(|| zeroed(CHUNKS));
        let slot = slot_of(ns);
        let counts = chunks[slot / CHUNK].get_or_init(|| zeroed(CHUNK));
        let count = &counts[slot % CHUNK];
        count.store(count.load(Relaxed) + 1, Relaxed);
    }

    /// Each allocated chunk of `command`'s counters on every worker, with its first slot.
    fn chunks(&self, command: usize) -> impl Iterator<Item = (usize, &[AtomicU64])> + '_ {
        self.workers
            .iter()
            .filter_map(move |worker| worker[command].get())
            .flat_map(|chunks| chunks.iter().enumerate())
            .filter_map(|(i, chunk)| Some((i * CHUNK, &chunk.get()?[..])))
    }

    /// CONFIG RESETSTAT: every count back to zero; a command without calls is not listed.
    pub fn reset(&self) {
        for command in 0..self.workers.first().map_or(0, |w| w.len()) {
            for (_, counts) in self.chunks(command) {
                for count in counts {
                    count.store(0, Relaxed);
                }
            }
        }
    }

    /// Every command with calls and its histogram, in the command table's order: what LATENCY
    /// HISTOGRAM, INFO latencystats and the metrics export list.
    pub fn called(&self) -> impl Iterator<Item = (&'static CommandEntry, LatencyHistogram)> + '_ {
        crate::command::table()
            .entries
            .iter()
            .filter_map(|entry| Some((entry, self.read(entry.id)?)))
    }

    /// The histogram of `command` (its table id) summed over the event loops; None before its
    /// first call (or since CONFIG RESETSTAT).
    pub fn read(&self, command: usize) -> Option<LatencyHistogram> {
        let mut counts = vec![0u64; SLOTS];
        let mut calls = 0;
        for (first, chunk) in self.chunks(command) {
            for (sum, count) in counts[first..].iter_mut().zip(chunk) {
                let n = count.load(Relaxed);
                *sum += n;
                calls += n;
            }
        }
        (calls > 0).then_some(LatencyHistogram { calls, counts })
    }
}

/// One command's latencies, read at one moment: the reading API that LATENCY HISTOGRAM, INFO
/// and the metrics export share.
pub struct LatencyHistogram {
    calls: u64,
    counts: Vec<u64>,
}

impl LatencyHistogram {
    /// Calls recorded.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Redis's power-of-two buckets, every one up to the last call: each bucket's upper bound
    /// in microseconds (1, 2, 4, 8, 16, 33, 66... as Redis rounds them) and how many calls took
    /// at most that long (cumulative).
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        let mut buckets = Vec::new();
        let mut cumulative = 0;
        let mut counted = 0;
        let mut level = FIRST_BUCKET_NS;
        while cumulative < self.calls {
            let last = slot_of(level);
            cumulative += self.counts[counted..=last].iter().sum::<u64>();
            counted = last + 1;
            buckets.push((highest_in(last) / 1000, cumulative));
            level *= 2;
        }
        buckets
    }

    /// The latency under which `percentile` percent of the calls fall, in nanoseconds, as HDR
    /// histograms report it: the highest value of the slot holding that call (the lowest for
    /// the 0th percentile).
    pub fn percentile_ns(&self, percentile: f64) -> u64 {
        let wanted = ((percentile.min(100.0) / 100.0 * self.calls as f64 + 0.5) as u64).max(1);
        let mut cumulative = 0;
        let slot = self
            .counts
            .iter()
            .position(|&n| {
                cumulative += n;
                cumulative >= wanted
            })
            .unwrap_or(0);
        match percentile == 0.0 {
            true => slot_range(slot).0,
            false => highest_in(slot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_of(durations_ns: &[u64]) -> LatencyHistogram {
        let histograms = CommandHistograms::new(2, 1);
        for (i, &ns) in durations_ns.iter().enumerate() {
            histograms.record(i % 2, 0, ns);
        }
        histograms.read(0).expect("calls were recorded")
    }

    #[test]
    fn slots_cover_the_range_in_order() {
        assert_eq!(slot_of(0), 1);
        assert_eq!(slot_of(255), 255);
        assert_eq!(slot_of(256), 256);
        assert_eq!(slot_of(MAX_NS * 5), slot_of(MAX_NS));
        assert!(slot_of(MAX_NS) < SLOTS);
        for slot in 1..=slot_of(MAX_NS) {
            let (lowest, width) = slot_range(slot);
            assert_eq!(slot_of(lowest), slot);
            assert_eq!(slot_of(lowest + width - 1), slot);
            assert_eq!(highest_in(slot - 1) + 1, lowest);
        }
    }

    /// Figures read from Redis 7.0.15: a 3µs SET and a 7µs SET give buckets 4 and 8; a 53µs
    /// CONFIG RESETSTAT bucket 66; percentiles of 3µs print as 2.992 (p0) and 3.007.
    #[test]
    fn buckets_and_percentiles_match_redis() {
        let h = histogram_of(&[3000, 7000]);
        assert_eq!(h.calls(), 2);
        assert_eq!(h.buckets(), vec![(1, 0), (2, 0), (4, 1), (8, 2)]);
        assert_eq!(histogram_of(&[53_000]).buckets().last(), Some(&(66, 1)));
        assert_eq!(h.percentile_ns(0.0), 2992);
        assert_eq!(h.percentile_ns(50.0), 3007);
        assert_eq!(h.percentile_ns(99.0), 7007);
        assert_eq!(histogram_of(&[26_000]).percentile_ns(99.9), 26_111);
        assert_eq!(histogram_of(&[59_904]).percentile_ns(100.0), 60_159);
        assert_eq!(histogram_of(&[1000]).percentile_ns(50.0), 1003);
        assert_eq!(histogram_of(&[0]).percentile_ns(50.0), 1);
    }

    #[test]
    fn reset_forgets_every_call() {
        let histograms = CommandHistograms::new(1, 2);
        histograms.record(0, 1, 5000);
        assert!(histograms.read(0).is_none());
        histograms.reset();
        assert!(histograms.read(1).is_none());
    }
}
