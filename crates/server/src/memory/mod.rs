//! Memory figures from the allocator itself (jemalloc), not estimates from key sizes.
//!
//! `maxmemory` is checked before every command, far too often to ask jemalloc for fresh
//! statistics (that takes a global lock). So the global allocator also counts, as Redis's
//! zmalloc does: each allocation adds the size jemalloc really gives it (its size class, from
//! `nallocx`), per thread, published to one atomic every 16 KiB. That count is `used_memory`.
//! jemalloc's own `stats.allocated` is reported beside it as `allocator_allocated`; it is a
//! little higher, as it also holds freed blocks waiting in threads' caches.

pub mod clients;
pub mod memory_family;

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use tikv_jemalloc_ctl::{epoch, stats};
use tikv_jemallocator::Jemalloc;

/// Memory levels the server remembers, for INFO and MEMORY STATS.
#[derive(Default)]
pub struct Marks {
    /// The most `used_memory` seen (`used_memory_peak`), sampled by the cron and by readers.
    pub peak: AtomicU64,
    /// `used_memory` once the server was set up, before any data (`used_memory_startup`).
    pub startup: AtomicU64,
}

/// The server's global allocator: jemalloc, counted.
pub struct CountingJemalloc;

/// Net bytes allocated, as counted (published part).
static COUNTED: AtomicI64 = AtomicI64::new(0);

/// A thread publishes its count when it has moved this far; also the most a thread that exits
/// can leave uncounted.
const PUBLISH_EVERY: i64 = 16 << 10;

thread_local! {
    // Const-initialized and without a destructor: safe to touch from inside the allocator.
    static PENDING: Cell<i64> = const { Cell::new(0) };
    /// What this thread has published, for [`thread_net`].
    static PUBLISHED: Cell<i64> = const { Cell::new(0) };
}

fn account(delta: i64) {
    let published = PENDING.try_with(|pending| {
        let total = pending.get() + delta;
        if total.abs() >= PUBLISH_EVERY {
            COUNTED.fetch_add(total, Relaxed);
            let _ = PUBLISHED.try_with(|published| published.set(published.get() + total));
            pending.set(0);
        } else {
            pending.set(total);
        }
    });
    if published.is_err() {
        COUNTED.fetch_add(delta, Relaxed);
    }
}

/// The bytes jemalloc really hands out for `layout` (its size class). Never inlined: every
/// allocation and free in the program calls it, and inlined at each of them it made the
/// dist server 276 KB larger.
#[inline(never)]
fn real_size(layout: Layout) -> i64 {
    const MIN_ALIGN: usize = 16;
    let natural = layout.align() <= MIN_ALIGN && layout.align() <= layout.size();
    if natural && layout.size() <= COMPUTED_CLASS_LIMIT {
        return computed_size_class(layout.size()) as i64;
    }
    let flags = if natural {
        0
    } else {
        tikv_jemalloc_sys::MALLOCX_ALIGN(layout.align())
    };
    // SAFETY: nallocx only computes a size class; a zero size is not passed (callers' layouts
    // come from the allocator API, which never asks for zero bytes).
    unsafe { tikv_jemalloc_sys::nallocx(layout.size().max(1), flags) as i64 }
}

/// Sizes up to here have their jemalloc size class computed by [`computed_size_class`] instead of
/// asked of `nallocx`, which costs about 36 instructions on each allocation and free (a
/// pipelined LPOP makes four of them, an unpipelined request's I/O buffer two more).
const COMPUTED_CLASS_LIMIT: usize = 1 << 20;

/// jemalloc's size class for `size` (1 to [`COMPUTED_CLASS_LIMIT`]) with its default 16-byte
/// quantum: 8, then multiples of 16 up to 128, then four classes per doubling (160, 192, 224,
/// 256, 320...). A unit test checks every size against `nallocx`.
fn computed_size_class(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    if size <= 128 {
        return (size + 15) & !15;
    }
    let log2 = usize::BITS - 1 - (size - 1).leading_zeros();
    let step = 1usize << (log2 - 2);
    (size + step - 1) & !(step - 1)
}

// SAFETY: every call is forwarded to jemalloc unchanged; the counting has no effect on the
// memory handed out.
unsafe impl GlobalAlloc for CountingJemalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc(layout);
        if !ptr.is_null() {
            account(real_size(layout));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc_zeroed(layout);
        if !ptr.is_null() {
            account(real_size(layout));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-real_size(layout));
        Jemalloc.dealloc(ptr, layout);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Jemalloc.realloc(ptr, layout, new_size);
        if !new.is_null() {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            account(real_size(new_layout) - real_size(layout));
        }
        new
    }
}

/// Publishes this thread's uncounted remainder, and its pooled buffers' change, now (after
/// evicting, so the next check sees the memory it freed).
pub fn publish_thread() {
    let _ = IDLE_PENDING.try_with(|pending| {
        let total = pending.replace(0);
        if total != 0 {
            IDLE_IN_CACHES.fetch_add(total, Relaxed);
        }
    });
    let _ = PENDING.try_with(|pending| {
        let total = pending.replace(0);
        if total == 0 {
            return;
        }
        COUNTED.fetch_add(total, Relaxed);
        let _ = PUBLISHED.try_with(|published| published.set(published.get() + total));
    });
}

/// Net bytes this thread has allocated since it started: the difference of two readings is
/// what the code between them allocated (negative: freed) on this thread.
pub fn thread_net() -> i64 {
    PUBLISHED.try_with(Cell::get).unwrap_or(0) + PENDING.try_with(Cell::get).unwrap_or(0)
}

/// The bytes jemalloc hands out for a buffer of `capacity` bytes, as `used_memory` counts it
/// (large buffers round up to a size class: up to a quarter more).
pub fn allocation_size(capacity: u64) -> u64 {
    match Layout::from_size_align(capacity as usize, 1) {
        Ok(layout) if capacity > 0 => real_size(layout) as u64,
        _ => 0,
    }
}

/// The header of a Redis sds string with room for `capacity` bytes: the smallest of its
/// `sdshdr5`..`sdshdr64` that holds the length (MEMORY USAGE's estimate lays strings out as
/// Redis does).
pub fn sds_header(capacity: usize) -> u64 {
    match capacity as u64 {
        0..32 => 1,
        32..256 => 3,
        256..65_536 => 5,
        65_536..0x1_0000_0000 => 9,
        _ => 17,
    }
}

/// Bytes allocated but idle in the server's own caches of free buffers (the event loops' I/O
/// buffer pools): memory freed as far as Redis's accounting goes, which leaves what sits in
/// jemalloc's caches out of `used_memory`. Counting it made a burst of output (invalidations
/// for ten tracking clients) look like lasting growth once written, and evict more keys.
static IDLE_IN_CACHES: AtomicI64 = AtomicI64::new(0);

/// A thread publishes its change to [`IDLE_IN_CACHES`] once it has moved by more than two
/// pooled buffers: an unpipelined request takes a buffer for its input and one for its reply
/// and gives both back, so a steady loop publishes nothing, where four shared read-modify-
/// writes per request made every event loop contend for one cache line.
const IDLE_PUBLISH_EVERY: i64 = 2 * crate::net::buffers::CHUNK as i64;

thread_local! {
    /// This thread's change to [`IDLE_IN_CACHES`] not yet published.
    static IDLE_PENDING: Cell<i64> = const { Cell::new(0) };
}

/// A free buffer went into (`true`) or out of (`false`) a cache of the server's own; `bytes` is
/// its allocation's size (its size class); see [`IDLE_IN_CACHES`].
pub fn idle_in_cache(bytes: usize, cached: bool) {
    let delta = if cached {
        bytes as i64
    } else {
        -(bytes as i64)
    };
    let pending = IDLE_PENDING.try_with(|pending| {
        let total = pending.get() + delta;
        if total.abs() > IDLE_PUBLISH_EVERY {
            IDLE_IN_CACHES.fetch_add(total, Relaxed);
            pending.set(0);
        } else {
            pending.set(total);
        }
    });
    if pending.is_err() {
        IDLE_IN_CACHES.fetch_add(delta, Relaxed);
    }
}

/// Bytes in use right now (`used_memory`), cheap enough to check before every command. This
/// thread's own count is published first, so that two readings on one event loop (INFO, then
/// the eviction that CONFIG SET maxmemory starts) differ by what happened between them, not by
/// up to `PUBLISH_EVERY` that one of them had not seen: maxmemory.tcl's tracking test set a
/// limit 40 KB under INFO's figure and the eviction found 55 KB to free.
pub fn used() -> u64 {
    publish_thread();
    (COUNTED.load(Relaxed) - IDLE_IN_CACHES.load(Relaxed)).max(0) as u64
}

/// jemalloc's own `stats.allocated`, freshly read (INFO's `allocator_allocated`).
pub fn allocator_allocated() -> u64 {
    let _ = epoch::advance();
    stats::allocated::read().map_or(0, |n| n as u64)
}

/// jemalloc's `stats.active`: bytes in the pages of active runs (INFO's `allocator_active`);
/// what it has above `allocated` is fragmentation inside those pages.
pub fn allocator_active() -> u64 {
    let _ = epoch::advance();
    stats::active::read().map_or(0, |n| n as u64)
}

/// Starts or stops jemalloc's background purging thread (`jemalloc-bg-thread`, on by default
/// as in Redis): with it, memory freed when a burst of clients or keys goes away returns to the
/// system within seconds, not only at the next allocation in the same arena.
pub fn set_background_purge(enabled: bool) {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(enabled) {
        crate::log!(Warning, "Can't set jemalloc's background thread: {e}");
    }
}

/// MEMORY PURGE: hands the pages of freed memory in every arena back to the system.
pub fn purge() {
    // MALLCTL_ARENAS_ALL: the purge applies to all arenas.
    let name = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated mallctl name with no old or new value, as "purge" takes none.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// MEMORY MALLOC-STATS: jemalloc's statistics report, as text.
pub fn malloc_stats() -> String {
    extern "C" fn write(out: *mut std::ffi::c_void, text: *const std::ffi::c_char) {
        // SAFETY: jemalloc passes back the String given below and a NUL-terminated message.
        let (out, text) = unsafe { (&mut *out.cast::<String>(), std::ffi::CStr::from_ptr(text)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut report = String::new();
    // SAFETY: the callback only appends to `report`, which outlives the call.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(write),
            (&mut report as *mut String).cast(),
            std::ptr::null(),
        );
    }
    report
}

/// Bytes in pages the allocator has mapped and touched (an estimate of RSS from the allocator's
/// view; `used_memory_rss` reads the kernel's own figure).
pub fn resident() -> u64 {
    let _ = epoch::advance();
    stats::resident::read().map_or(0, |n| n as u64)
}

/// The process's resident set size from /proc, in bytes.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_size_classes_are_jemallocs() {
        for size in 1..=COMPUTED_CLASS_LIMIT {
            // SAFETY: nallocx only computes a size class.
            let jemalloc = unsafe { tikv_jemalloc_sys::nallocx(size, 0) };
            assert_eq!(computed_size_class(size), jemalloc, "size {size}");
        }
    }
}
