//! What this binary is: its version, the Redis version it implements, and how it was built
//! (cargo profile, static or dynamic C runtime, allocator, the optional subsystems compiled in).
//! `--version`, `--help` and the start-up log read it, so a deployed binary says what it is.

use crate::server::{LITE_VERSION, REDIS_VERSION};

/// The cargo profile the binary was built with (`dist` for the shipped binaries), from build.rs.
pub const PROFILE: &str = env!("REDIS_LITE_BUILD_PROFILE");

/// `static` when the C runtime is linked in (`+crt-static`, deploy/build-dist.sh), else
/// `dynamic`.
pub const LINKAGE: &str = env!("REDIS_LITE_LINKAGE");

/// The allocator the server counts its memory with (tikv-jemallocator's bundled jemalloc).
pub const ALLOCATOR: &str = "jemalloc-5.3.0";

/// The subsystems beyond Redis's core that this build has: TLS (rustls on ring) and encryption
/// at rest (AES-256-GCM). Both are always compiled in; listed so that a deployment can check.
pub const FEATURES: &str = "tls=rustls encryption=aes-256-gcm";

/// `redis-lite-server --version`: `redis-server --version`'s line for the Redis version it
/// implements (`Redis server v=7.0.15 sha=... malloc=jemalloc-5.3.0 bits=64 build=...`), then
/// redis-lite's own version and build. Tools and test harnesses read the server's features
/// from `v=` (redis-rs's passes `--enable-debug-command` only from 7.0 on): the version of
/// the protocol and commands served is the one they need, as INFO's `redis_version` says.
pub fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc={ALLOCATOR} bits={} build={PROFILE} redis-lite={LITE_VERSION} linkage={LINKAGE} {FEATURES}",
        usize::BITS
    )
}

/// `redis-lite-server --help`, in the shape of `redis-server --help`.
pub fn help_text(program: &str) -> String {
    format!(
        "{version}\n\
         Usage: {program} [/path/to/redis.conf] [options]\n\
         \x20      {program} -v or --version\n\
         \x20      {program} -h or --help\n\
         \n\
         Examples:\n\
         \x20      {program} (run the server with default conf)\n\
         \x20      {program} /etc/redis-lite/redis-lite.conf\n\
         \x20      {program} --port 7777\n\
         \x20      {program} --port 7777 --replicaof 127.0.0.1 8888\n\
         \x20      {program} /etc/myredis.conf --loglevel verbose\n\
         \x20      {program} --port 7000 --threads 2\n\
         \x20      {program} --appendonly yes --encryption yes --encryption-key-file /run/secrets/key\n\
         \n\
         Options are redis.conf directives as `--name value`, after the config file; Redis \
         {REDIS_VERSION}'s directives plus threads, maxkeys, encryption and \
         encryption-key-file.\n",
        version = version_line()
    )
}
