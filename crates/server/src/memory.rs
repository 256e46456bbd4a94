//! Memory figures from the allocator itself (jemalloc), not estimates from key sizes.

use tikv_jemalloc_ctl::{epoch, stats};

/// Bytes allocated by the process right now (`used_memory`).
pub fn allocated() -> u64 {
    // jemalloc caches its statistics; advancing the epoch refreshes them.
    let _ = epoch::advance();
    stats::allocated::read().map_or(0, |n| n as u64)
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
