//! The thresholds at which small collections leave their compact encoding, as Redis 7.0's
//! `*-max-listpack-*`, `set-max-intset-entries` and `list-compress-depth` settings. The server
//! updates them on CONFIG SET; commands read a snapshot, so the hot path never takes the config
//! lock.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

/// A snapshot of the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `list-max-listpack-size`: positive = entries per node; -1..-5 = 4..64 KiB per node.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: nodes kept plain at each end of a list (0 = no compression).
    pub list_compress_depth: i64,
    pub hash_max_listpack_entries: i64,
    pub hash_max_listpack_value: i64,
    pub set_max_intset_entries: i64,
    pub zset_max_listpack_entries: i64,
    pub zset_max_listpack_value: i64,
    /// `stream-node-max-bytes` and `stream-node-max-entries` (0 = unlimited).
    pub stream_node_max_bytes: i64,
    pub stream_node_max_entries: i64,
}

impl EncodingLimits {
    /// Where stream nodes split.
    pub fn stream_nodes(&self) -> crate::stream::NodeLimits {
        crate::stream::NodeLimits {
            max_bytes: self.stream_node_max_bytes as usize,
            max_entries: self.stream_node_max_entries as usize,
        }
    }
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

/// Shared, atomically updated limits.
#[derive(Debug)]
pub struct SharedEncodingLimits([AtomicI64; 9]);

impl Default for SharedEncodingLimits {
    fn default() -> Self {
        let shared = SharedEncodingLimits(Default::default());
        shared.store(EncodingLimits::default());
        shared
    }
}

impl SharedEncodingLimits {
    pub fn store(&self, l: EncodingLimits) {
        let values = [
            l.list_max_listpack_size,
            l.hash_max_listpack_entries,
            l.hash_max_listpack_value,
            l.set_max_intset_entries,
            l.zset_max_listpack_entries,
            l.zset_max_listpack_value,
            l.stream_node_max_bytes,
            l.stream_node_max_entries,
            l.list_compress_depth,
        ];
        for (slot, v) in self.0.iter().zip(values) {
            slot.store(v, Relaxed);
        }
    }

    pub fn load(&self) -> EncodingLimits {
        let v = |i: usize| self.0[i].load(Relaxed);
        EncodingLimits {
            list_max_listpack_size: v(0),
            hash_max_listpack_entries: v(1),
            hash_max_listpack_value: v(2),
            set_max_intset_entries: v(3),
            zset_max_listpack_entries: v(4),
            zset_max_listpack_value: v(5),
            stream_node_max_bytes: v(6),
            stream_node_max_entries: v(7),
            list_compress_depth: v(8),
        }
    }
}
