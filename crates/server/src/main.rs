//! `redis-lite-server [/path/to/redis.conf] [--directive value ...]`

// jemalloc: fast for many small allocations, and its statistics give an exact `used_memory`;
// counted on the way, so `maxmemory` can be checked before every write (see `memory`).
#[global_allocator]
static GLOBAL: redis_lite_server::memory::CountingJemalloc =
    redis_lite_server::memory::CountingJemalloc;

fn main() {
    redis_lite_server::entry::main()
}
