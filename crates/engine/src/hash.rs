//! A hash: listpack when small, hashtable past `hash-max-listpack-entries/value`.

/// Owned by the hash family; its representation is filled in by that work.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Hash {
    len: usize,
}

impl Hash {
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
