//! The data side of redis-lite: synchronous, no I/O, no networking.
//!
//! Layout:
//! - [`keyspace`]: [`Keyspace`], all databases split into mutex-guarded shards; per-shard
//!   [`Db`] tables with lazy expiry, and the active expiry cycle.
//! - [`digest`]: DEBUG DIGEST's dataset fingerprint, identical to Redis's.
//! - [`dict`]: [`Dict`], the chained hash table with SCAN's reverse-binary cursor; its entries
//!   sit in a slab (44 bytes a key, short keys and values packed in), linked by position.
//! - [`value`]: [`Value`], what a key holds, with Redis's encodings; the collections are in
//!   [`list`], [`hash`], [`set`] and [`zset`].
//! - [`lazyfree`]: the background thread that frees large deleted values and flushed
//!   databases, per the `lazyfree-lazy-*` settings.
//! - [`evict`]: eviction policies, LRU/LFU access tracking and the TinyLFU sketch.
//! - [`encoding`]: [`EncodingLimits`], the thresholds at which small collections convert.
//! - [`bytes`]: [`SmallBytes`], binary strings stored inline when short.
//! - [`cache_line`]: `CachePadded`, a value alone on its cache lines (for state threads write).
//! - [`snapshot`]: [`Snapshot`], point-in-time copy-on-write snapshots for BGSAVE and AOF
//!   rewrites.
//! - [`geohash`]: the geohash arithmetic of geo sets (sorted sets whose scores are 52-bit
//!   geohashes): scores, positions, distances, the cells a search scans.
//! - [`glob`]: Redis's glob matching for KEYS, SCAN MATCH and CONFIG GET.
//! - [`lzf`]: LZF compression, for compressed list nodes and RDB strings.
//! - [`slot`]: Redis Cluster's key → hash slot mapping (CRC16, hash tags).

pub mod bytes;
pub mod cache_line;
pub mod dict;
pub mod digest;
pub mod encoding;
pub mod evict;
pub mod geohash;
pub mod glob;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod lazyfree;
pub mod list;
pub mod listpack;
pub mod lzf;
pub mod set;
pub mod slot;
pub mod snapshot;
pub mod stream;
pub mod value;
pub mod zset;

pub use bytes::SmallBytes;
pub use dict::{Dict, Entry, StringRef};
pub use encoding::EncodingLimits;
pub use evict::{Evicted, Policy, Tracking};
pub use keyspace::{Db, ExpireCycle, ExpireEffort, KeyEvents, Keyspace, Locked, Shard, WatchFlag};
pub use lazyfree::{Deletion, LazyFreeSettings};
pub use snapshot::{Snapshot, SnapshotEntry};
pub use value::Value;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The current time in Unix milliseconds, as expiry (and every other reader of this clock)
/// sees it. Expiry times are absolute Unix times, as in Redis (EXPIREAT from clients, the
/// RDB's and AOF's records), so this is the wall clock, with one difference from Redis, which
/// follows `gettimeofday` wherever it goes: it never goes back.
///
/// - A step back of more than [`CLOCK_STEP_MS`] is not followed: the clock carries on from
///   where it was, at the wall clock's rate, ahead of it by the step (its *lead*). So a key
///   once found expired is never visible again (Redis shows a key it has not reclaimed yet
///   again, on a replica above all, where expired keys wait for the master's DEL), and TTLs
///   go on counting down in real time. A smaller step back holds the clock still until the
///   wall clock catches up.
/// - A step forward first takes back the lead an earlier step back left (an administrator
///   undoing a wrong setting), then is followed, as Redis follows it: the absolute deadlines
///   it passes have passed by the only clock clients and files share, so keys whose time has
///   come expire.
///
/// A step is told from time passing by the monotonic clock.
pub fn now_ms() -> u64 {
    CLOCK.now().0
}

/// [`now_ms`] in microseconds, for a caller that counts on from it with a monotonic clock (the
/// event loops' command clock): the wall clock's microseconds within that millisecond when the
/// clock shows the wall clock's millisecond, its start otherwise (held still, or ahead after a
/// step back). Counting on from a whole millisecond instead would lag the wall clock by up to
/// a millisecond more, and a client that set an absolute expiry from its own clock just before
/// would read a TTL longer than it set.
pub fn now_us() -> u64 {
    let (ms, wall_us) = CLOCK.now();
    if wall_us / 1000 == ms {
        wall_us
    } else {
        ms * 1000
    }
}

/// A wall-clock step larger than this is treated as a step, not as the scheduler's jitter.
pub const CLOCK_STEP_MS: u64 = 1000;

static CLOCK: Clock = Clock {
    latest: AtomicU64::new(0),
    latest_mono: AtomicU64::new(0),
    lead: AtomicU64::new(0),
};

/// The state behind [`now_ms`].
struct Clock {
    /// The latest time returned.
    latest: AtomicU64,
    /// [`monotonic_ms`] when `latest` was set.
    latest_mono: AtomicU64,
    /// How far this clock runs ahead of the wall clock after steps back.
    lead: AtomicU64,
}

impl Clock {
    /// The time in milliseconds, and the wall clock in microseconds it was taken from.
    fn now(&self) -> (u64, u64) {
        let wall_us = wall_clock_us();
        let wall = wall_us / 1000;
        let mono = monotonic_ms();
        let latest = self.latest.load(Relaxed);
        // Where the clock would be had it run at the monotonic clock's rate since its latest
        // reading: what a step is measured against (callers that extrapolate from a reading
        // of their own, as the event loops do, are at most there too).
        let projected = latest + mono.saturating_sub(self.latest_mono.load(Relaxed));
        let lead = self.lead.load(Relaxed);
        let mut now = wall + lead;
        if now + CLOCK_STEP_MS < projected {
            self.lead.fetch_max(projected - wall, Relaxed);
            now = projected;
        } else if lead > 0 && now > projected + CLOCK_STEP_MS {
            let taken_back = (now - projected).min(lead);
            // Taken back once, by whichever thread wins; the others read the new lead.
            let _ = self
                .lead
                .compare_exchange(lead, lead - taken_back, Relaxed, Relaxed);
            now = wall + self.lead.load(Relaxed);
        }
        if now <= latest {
            return (latest, wall_us);
        }
        // Written at most once a millisecond, so event loops do not contend on the lines.
        self.latest_mono.store(mono, Relaxed);
        (self.latest.fetch_max(now, Relaxed).max(now), wall_us)
    }
}

/// Milliseconds on the monotonic clock since its first reading.
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// The system clock in Unix microseconds (moved by [`step_wall_clock`] in debug builds).
fn wall_clock_us() -> u64 {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    #[cfg(debug_assertions)]
    let us = us.saturating_add_signed(WALL_CLOCK_STEP_MS.load(Relaxed) * 1000);
    us
}

/// How far the fault tests have stepped the wall clock (debug builds only: the server's
/// `DEBUG FAULT clock-step`, see its `faults` module for why).
#[cfg(debug_assertions)]
static WALL_CLOCK_STEP_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Steps the wall clock this crate reads by `ms` (back when negative), as an administrator or
/// NTP stepping the system clock would. Debug builds only.
#[cfg(debug_assertions)]
pub fn step_wall_clock(ms: i64) {
    WALL_CLOCK_STEP_MS.fetch_add(ms, Relaxed);
}
