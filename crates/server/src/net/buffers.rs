//! Each event loop's pool of I/O buffers. A connection takes a buffer only while it has bytes
//! in it (a request being parsed, replies not yet written) and gives it back as soon as it is
//! empty, so an idle connection holds no buffer at all, and busy ones reuse the same few
//! buffers instead of allocating per request. A pooled buffer is free memory kept at hand:
//! `used_memory` leaves it out (`memory::idle_in_cache`), as Redis's leaves out what jemalloc
//! keeps cached.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Free space offered to each read; a buffer grows beyond it for large requests and replies.
pub const CHUNK: usize = 16 * 1024;
/// A reply buffer grown past this goes back to the pool even while resizing is off.
const KEEP: usize = 64 * 1024;
/// Buffers kept per event loop: enough for every connection of a burst that waits on the AOF
/// at once, without holding much memory after it (at most `MAX_POOLED` × `CHUNK`). Every
/// pooled buffer is `CHUNK` long: as pooled bytes are left out of `used_memory`, a connection
/// taking one adds the same to it each time (a grown one handed to a small request made the
/// count jump 64 KB, and evict keys under a limit set a few KB above it).
const MAX_POOLED: usize = 64;

/// Whether a reply buffer that grew goes back to the pool once empty (DEBUG REPLYBUFFER
/// RESIZING, on by default): off, it stays with its connection at the size its largest reply
/// gave it, as Redis then leaves each client's reply buffer its size.
static RESIZING: AtomicBool = AtomicBool::new(true);

/// DEBUG REPLYBUFFER RESIZING <0|1>.
pub fn set_resizing(on: bool) {
    RESIZING.store(on, Relaxed);
}

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with at least `CHUNK` bytes of capacity.
fn take() -> Vec<u8> {
    match POOL.with_borrow_mut(Vec::pop) {
        Some(buf) => {
            crate::memory::idle_in_cache(CHUNK, false);
            buf
        }
        None => Vec::with_capacity(CHUNK),
    }
}

/// Returns `buf` to the pool (it is cleared first, and shrunk to `CHUNK` if it grew: no
/// connection inherits another's large buffer), or frees it when the pool is full or it is
/// smaller: every pooled buffer is exactly `CHUNK`, a jemalloc size class, which is what
/// `used_memory` leaves out for it.
pub fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() < CHUNK {
        return;
    }
    buf.clear();
    if buf.capacity() > CHUNK {
        buf.shrink_to(CHUNK);
    }
    POOL.with_borrow_mut(|pool| {
        if pool.len() < MAX_POOLED {
            crate::memory::idle_in_cache(CHUNK, true);
            pool.push(buf);
        }
    });
}

/// Gives `buf` a pooled buffer when it has none allocated.
pub fn ensure(buf: &mut Vec<u8>) {
    if buf.capacity() == 0 {
        *buf = take();
    }
}

/// Gives `buf` back when it is empty, leaving an unallocated `Vec` in its place.
pub fn release_if_empty(buf: &mut Vec<u8>) {
    if buf.is_empty() && buf.capacity() > 0 {
        give_back(std::mem::take(buf));
    }
}

/// [`release_if_empty`] for a reply buffer, which keeps its grown size while resizing is off.
pub fn release_output_if_empty(buf: &mut Vec<u8>) {
    if buf.capacity() <= KEEP || RESIZING.load(Relaxed) {
        release_if_empty(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pooled_buffer_is_a_size_class_of_its_own() {
        assert_eq!(crate::memory::allocation_size(CHUNK as u64), CHUNK as u64);
        give_back(Vec::with_capacity(CHUNK - 1));
        give_back(Vec::with_capacity(3 * CHUNK));
        POOL.with_borrow(|pool| assert!(pool.iter().all(|buf| buf.capacity() == CHUNK)));
    }

    #[test]
    fn buffers_are_reused_and_shrunk() {
        let mut a = take();
        assert!(a.capacity() >= CHUNK);
        a.extend_from_slice(&[1; 200_000]);
        give_back(a);
        let b = take();
        assert!(b.is_empty());
        assert!(
            b.capacity() >= CHUNK && b.capacity() <= KEEP,
            "{}",
            b.capacity()
        );
        let mut c = b;
        c.push(1);
        release_if_empty(&mut c);
        assert_eq!(
            c.capacity(),
            CHUNK.max(c.capacity()),
            "a non-empty buffer is kept"
        );
        c.clear();
        release_if_empty(&mut c);
        assert_eq!(c.capacity(), 0);
        ensure(&mut c);
        assert!(c.capacity() >= CHUNK);

        // DEBUG REPLYBUFFER RESIZING 0: a grown reply buffer stays with its connection, and
        // is shrunk when the connection gives it back at last.
        set_resizing(false);
        c.extend_from_slice(&[1; 200_000]);
        c.clear();
        release_output_if_empty(&mut c);
        set_resizing(true);
        assert!(c.capacity() >= 200_000, "{}", c.capacity());
        give_back(c);
        assert!(take().capacity() <= KEEP);
    }
}
