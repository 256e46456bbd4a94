//! A set: intset for small integer sets, hashtable otherwise (Redis 7.0 rules).

/// Owned by the set family; its representation is filled in by that work.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Set {
    len: usize,
}

impl Set {
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
