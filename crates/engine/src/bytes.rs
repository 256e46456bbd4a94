//! `SmallBytes`: a binary string that keeps up to 22 bytes inline, so short keys and values cost
//! no separate allocation.

use std::fmt;
use std::ops::Deref;

/// The longest string kept inline (also the longest string `dict::Entry` packs beside its key,
/// so that rebuilding it as a `SmallBytes` never allocates).
pub const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

/// An immutable byte string. See the module docs.
#[derive(Clone)]
pub struct SmallBytes(Repr);

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..bytes.len()].copy_from_slice(bytes);
            SmallBytes(Repr::Inline {
                len: bytes.len() as u8,
                data,
            })
        } else {
            SmallBytes(Repr::Heap(bytes.into()))
        }
    }

    /// The heap allocation of a string longer than [`INLINE`] (`dict::Entry` keeps it by
    /// address; `SmallBytes::from(Vec::from(it))` gives it back); a short one comes back as it
    /// was.
    pub(crate) fn into_heap(self) -> Result<Box<[u8]>, SmallBytes> {
        match self.0 {
            Repr::Heap(bytes) => Ok(bytes),
            inline @ Repr::Inline { .. } => Err(SmallBytes(inline)),
        }
    }

    /// Heap bytes this string owns beyond its own size.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE {
            SmallBytes::new(&v)
        } else {
            SmallBytes(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(v: &[u8]) -> Self {
        SmallBytes::new(v)
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..*len as usize],
            Repr::Heap(b) => b,
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SmallBytes {}

impl std::hash::Hash for SmallBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl std::borrow::Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_round_trip() {
        for len in [0, 1, 22, 23, 100] {
            let v: Vec<u8> = (0..len as u8).collect();
            assert_eq!(&*SmallBytes::new(&v), &v[..]);
            assert_eq!(&*SmallBytes::from(v.clone()), &v[..]);
        }
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
    }
}
