//! A value alone on its cache lines, for state that one thread writes often while others
//! touch what would otherwise sit beside it.
//!
//! Two event loops writing neighbouring atomics (each its own gate, its own counters) contend
//! as if they shared one: every write takes the whole line from the other core. Measured on
//! this project's 2-core machine (`cargo bench --bench cache_line`), a read lock and release of
//! a loop's own `RwLock` took 6.3 ns alone and 41-62 ns while a second thread did the same on
//! the lock 8 bytes away; padded apart, 6.5 ns (BENCHMARKS.md, "Session 20").

use std::ops::Deref;

/// `T` aligned (and so padded) to 128 bytes: two 64-byte lines, as x86's adjacent-line
/// prefetcher fetches lines in pairs and would otherwise keep two neighbours in contention.
#[derive(Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_never_share_a_line() {
        let pair = [CachePadded(0u8), CachePadded(1u8)];
        let first = &pair[0].0 as *const u8 as usize;
        let second = &pair[1].0 as *const u8 as usize;
        assert_eq!(second - first, 128);
        assert_eq!(first % 128, 0);
        assert_eq!(*pair[1], 1);
    }
}
