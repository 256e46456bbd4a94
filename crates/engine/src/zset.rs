//! A sorted set: listpack when small, skiplist (O(log n) rank) past `zset-max-listpack-entries/value`.

/// Owned by the zset family; its representation is filled in by that work.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ZSet {
    len: usize,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
