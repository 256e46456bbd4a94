//! The data side of redis-lite: synchronous, no I/O, no networking.
//!
//! Layout:
//! - [`keyspace`]: [`Keyspace`], all databases split into mutex-guarded shards; per-shard
//!   [`Db`] tables with lazy expiry, and the active expiry cycle.
//! - [`digest`]: DEBUG DIGEST's dataset fingerprint, identical to Redis's.
//! - [`dict`]: [`Dict`], the chained hash table with SCAN's reverse-binary cursor; its entries
//!   sit packed in a slab (64 bytes a key), linked by position.
//! - [`value`]: [`Value`], what a key holds, with Redis's encodings; the collections are in
//!   [`list`], [`hash`], [`set`] and [`zset`].
//! - [`lazyfree`]: the background thread that frees large deleted values and flushed
//!   databases, per the `lazyfree-lazy-*` settings.
//! - [`evict`]: eviction policies, LRU/LFU access tracking and the TinyLFU sketch.
//! - [`encoding`]: [`EncodingLimits`], the thresholds at which small collections convert.
//! - [`bytes`]: [`SmallBytes`], binary strings stored inline when short.
//! - [`snapshot`]: [`Snapshot`], point-in-time copy-on-write snapshots for BGSAVE and AOF
//!   rewrites.
//! - [`geohash`]: the geohash arithmetic of geo sets (sorted sets whose scores are 52-bit
//!   geohashes): scores, positions, distances, the cells a search scans.
//! - [`glob`]: Redis's glob matching for KEYS, SCAN MATCH and CONFIG GET.
//! - [`lzf`]: LZF compression, for compressed list nodes and RDB strings.
//! - [`slot`]: Redis Cluster's key → hash slot mapping (CRC16, hash tags).

pub mod bytes;
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
pub use dict::{Dict, Entry};
pub use encoding::EncodingLimits;
pub use evict::{Evicted, Policy, Tracking};
pub use keyspace::{Db, ExpireCycle, ExpireEffort, KeyEvents, Keyspace, Locked, Shard, WatchFlag};
pub use lazyfree::{Deletion, LazyFreeSettings};
pub use snapshot::{Snapshot, SnapshotEntry};
pub use value::Value;

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
