//! A list: listpack when small, quicklist past `list-max-listpack-size`.

/// Owned by the list family; its representation is filled in by that work.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct List {
    len: usize,
}

impl List {
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
