//! Keeping to `maxmemory` and `maxkeys`. Before each command, as Redis does, keys are evicted
//! by `maxmemory-policy` until the server is under its limits, for at most the time
//! `maxmemory-eviction-tenacity` allows, and in CONFIG SET maxmemory itself; when that time
//! runs out the cron thread carries on from there (Redis's eviction timer), so lowering a limit
//! at runtime never stalls a client for long. A
//! command flagged `denyoom` is refused only when nothing more can be evicted.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use redis_lite_engine::Policy;

use crate::command::CommandSpec;
use crate::config::Config;
use crate::server::Server;

/// The limits, kept out of the config lock for the check before every command.
#[derive(Default)]
pub struct Limits {
    maxmemory: AtomicU64,
    maxkeys: AtomicU64,
    samples: AtomicUsize,
    tenacity: AtomicU32,
    /// `maxmemory-clients` in bytes (0: none), for client eviction's check before every
    /// command (`memory::clients::enforce`).
    client_memory: AtomicU64,
    /// The last eviction ran out of time still over the limits: the cron goes on with it. As
    /// Redis's eviction timer, only then: memory that grows between commands (replies and
    /// invalidations being written) waits for the next command's check, which it would
    /// otherwise make evict key after key while those buffers drain.
    unfinished: AtomicBool,
    pub exceeded: ExceededTime,
}

/// How long the server has stayed over its limits, for INFO's `total_eviction_exceeded_time`
/// and `current_eviction_exceeded_time`: a stretch begins when eviction finds the server over
/// a limit and ends when a check finds it under again, as Redis times it.
#[derive(Default)]
pub struct ExceededTime {
    /// When the current stretch began, in µs since [`clock_origin`]; 0 while under the limits.
    since_us: AtomicU64,
    /// The finished stretches, added up.
    total_us: AtomicU64,
}

fn clock_origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// µs since [`clock_origin`], never 0 (which means "not over").
fn now_us() -> u64 {
    (clock_origin().elapsed().as_micros() as u64).max(1)
}

impl ExceededTime {
    fn begin(&self) {
        if self.since_us.load(Relaxed) == 0 {
            let _ = self
                .since_us
                .compare_exchange(0, now_us(), Relaxed, Relaxed);
        }
    }

    fn end(&self) {
        // One relaxed load on the path before every command; a write only at a stretch's end.
        if self.since_us.load(Relaxed) == 0 {
            return;
        }
        let since = self.since_us.swap(0, Relaxed);
        if since != 0 {
            self.total_us
                .fetch_add(now_us().saturating_sub(since), Relaxed);
        }
    }

    /// (total of finished stretches, the current stretch so far), in milliseconds.
    pub fn millis(&self) -> (u64, u64) {
        let since = self.since_us.load(Relaxed);
        let current = match since {
            0 => 0,
            since => now_us().saturating_sub(since),
        };
        (self.total_us.load(Relaxed) / 1000, current / 1000)
    }

    /// CONFIG RESETSTAT: the finished stretches are forgotten; a current one goes on.
    pub fn reset(&self) {
        self.total_us.store(0, Relaxed);
    }
}

impl Limits {
    pub fn maxmemory_set(&self) -> bool {
        self.maxmemory.load(Relaxed) > 0
    }

    pub fn store(&self, config: &Config) {
        self.maxmemory.store(config.maxmemory, Relaxed);
        self.maxkeys.store(config.maxkeys, Relaxed);
        self.samples.store(config.maxmemory_samples, Relaxed);
        self.tenacity
            .store(config.maxmemory_eviction_tenacity, Relaxed);
        self.client_memory
            .store(crate::memory::clients::limit(config), Relaxed);
    }

    pub fn client_memory(&self) -> u64 {
        self.client_memory.load(Relaxed)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Under the limits.
    Within,
    /// Still over, out of time for now; eviction goes on later.
    Running,
    /// Still over, and nothing left that the policy may evict.
    Stuck,
}

/// Memory left out of `maxmemory` (INFO's `mem_not_counted_for_evict`). As in Redis, AOF
/// records waiting to be written: evicting keys for them would only add DELs to the same
/// buffer; and the replication stream kept beyond the backlog's size for replicas that lag.
/// Pushes on their way to their connections' threads (tracking's invalidations, pub/sub
/// messages): Redis writes them into its clients' output buffers and out to their sockets
/// before it reads the next command, so a write that evicts next finds them gone; here each
/// connection takes its own on its own thread, and counting them meanwhile made the command
/// after an eviction evict again to pay for the invalidations of the first. What a connection
/// took but could not write counts, in its output buffer, as in Redis. The buffers of killed
/// clients (client eviction's too) whose connections have not closed yet: Redis frees a client
/// when it kills it. And the values a
/// running snapshot keeps aside, which Redis's forked child holds
/// outside `used_memory`: evicting cannot free them, so counting them made every BGSAVE or
/// rewrite under `maxmemory` evict nearly every evictable key, then refuse writes with OOM.
pub fn not_counted_for_evict(server: &Server) -> u64 {
    crate::memory::allocation_size(server.journal.buffered_bytes())
        + crate::client::pushes_in_transit()
        + crate::client::killed_not_yet_freed()
        + server.replication.backlog.held_beyond_size()
        + server.keyspace.snapshot_held_bytes()
}

/// Bytes used over `maxmemory` (0 when under it, or unset).
fn bytes_over(server: &Server) -> u64 {
    let maxmemory = server.limits.maxmemory.load(Relaxed);
    if maxmemory == 0 {
        return 0;
    }
    let counted = crate::memory::used().saturating_sub(not_counted_for_evict(server));
    counted.saturating_sub(maxmemory)
}

fn keys_over(server: &Server) -> bool {
    let maxkeys = server.limits.maxkeys.load(Relaxed);
    maxkeys > 0 && server.keyspace.key_count() > maxkeys
}

fn over(server: &Server) -> bool {
    bytes_over(server) > 0 || keys_over(server)
}

thread_local! {
    /// This thread's net allocation when the running eviction's deletion began, then (after
    /// it) the bytes the deletion freed.
    static DELETION: Cell<i64> = const { Cell::new(0) };
}

/// Told by the engine right before an eviction deletes its key.
pub fn deletion_starts() {
    DELETION.set(crate::memory::thread_net());
}

/// Told by the engine right after the deletion, before the eviction's listeners allocate
/// (invalidation messages for tracking clients, notifications): what this thread's
/// allocations moved by in between is what the deletion freed, as Redis measures it.
pub fn deletion_done() {
    DELETION.set(DELETION.get() - crate::memory::thread_net());
}

/// Evicts until under the limits, for at most `budget`. A `newcomer` (db, key) just written
/// may itself be refused (see `Keyspace::evict_or_reject`).
fn make_room(server: &Server, budget: Duration, newcomer: Option<(usize, &[u8])>) -> Outcome {
    let outcome = evict_if_over(server, budget, newcomer);
    server
        .limits
        .unfinished
        .store(outcome == Outcome::Running, Relaxed);
    outcome
}

fn evict_if_over(server: &Server, budget: Duration, newcomer: Option<(usize, &[u8])>) -> Outcome {
    // Paused clients (CLIENT PAUSE, FAILOVER) pause eviction too, as in Redis: its DELs would
    // move the offset the replicas must reach.
    if !over(server) || server.pause.is_paused() {
        server.limits.exceeded.end();
        return Outcome::Within;
    }
    // A replica's dataset is its master's: with `replica-ignore-maxmemory` (the default) it
    // evicts nothing, and the master's DELs keep it in bounds, as in Redis.
    if server.keyspace.is_replica() && server.config.read().replica_ignore_maxmemory {
        return Outcome::Within;
    }
    server.limits.exceeded.begin();
    let started = Instant::now();
    let outcome = evict(server, budget, newcomer, started);
    server
        .observability
        .latency
        .record("eviction-cycle", started.elapsed());
    outcome
}

/// Evicts keys until under the limits or past `budget` since `started`. As Redis, the bytes to
/// free are measured once, and each eviction counts what its deletion itself freed: the
/// invalidation messages it queues for tracking clients (which their connections soon write
/// out) must not make the loop evict key after key to pay for them. It also stops as soon as
/// the total is under the limits (which sees values freed lazily on the background thread).
fn evict(
    server: &Server,
    budget: Duration,
    newcomer: Option<(usize, &[u8])>,
    started: Instant,
) -> Outcome {
    let keyspace = &server.keyspace;
    let policy = keyspace.tracking().policy();
    let samples = server.limits.samples.load(Relaxed);
    let to_free = bytes_over(server) as i64;
    let mut freed = 0i64;
    let mut evicted = 0u32;
    while freed < to_free || keys_over(server) {
        DELETION.set(0);
        if keyspace
            .evict_or_reject(policy, samples, redis_lite_engine::now_ms(), newcomer)
            .is_none()
        {
            return settle_lazy_frees(server, budget);
        }
        freed += DELETION.get();
        // What this thread freed counts at once, so the next check sees it.
        crate::memory::publish_thread();
        if !over(server) {
            break;
        }
        evicted += 1;
        if evicted.is_multiple_of(16) && started.elapsed() >= budget {
            return Outcome::Running;
        }
    }
    server.limits.exceeded.end();
    Outcome::Within
}

/// Nothing left to evict: if values evicted (or deleted) lazily are still being freed on the
/// background thread, waits for them a little, as Redis does, before calling the server stuck.
fn settle_lazy_frees(server: &Server, budget: Duration) -> Outcome {
    if server.keyspace.lazyfree_pending_objects() > 0 {
        std::thread::sleep(budget.min(Duration::from_millis(1)));
        if !over(server) {
            return Outcome::Within;
        }
    }
    Outcome::Stuck
}

/// Redis's eviction time limit per command for a `maxmemory-eviction-tenacity` (0-100).
fn time_limit(tenacity: u32) -> Duration {
    let micros = match tenacity {
        0..=10 => 50.0 * tenacity as f64,
        11..=99 => 500.0 * 1.15f64.powi(tenacity as i32 - 10),
        _ => return Duration::MAX,
    };
    Duration::from_micros(micros as u64)
}

/// Before a command: makes room under `maxmemory`/`maxkeys`. False when the server is still
/// over them; admission decides what that refuses.
pub fn make_room_before_command(server: &Server) -> bool {
    let budget = time_limit(server.limits.tenacity.load(Relaxed));
    make_room(server, budget, None) != Outcome::Stuck
}

/// CONFIG SET maxmemory: a limit under what is used evicts at once, inside the command, as
/// Redis 7.0 does, so the invalidations and replies of the evictions go out before the next
/// command is read (evicting before that command instead counted what its arrival allocated
/// in the bytes to free). Inside EXEC it waits for the next command: Redis does not evict in
/// the middle of a transaction that has written (its writes and the DELs would interleave in
/// the stream); one that has only read does evict there, a difference kept.
pub fn limit_changed(server: &Server, in_exec: bool) {
    if !in_exec && server.limits.maxmemory_set() {
        make_room_before_command(server);
    }
}

/// After a write: a `maxkeys` cap holds after every command, not just before the next; and
/// under `allkeys-tinylfu` room is made right away, so the key just written can be the one
/// refused (TinyLFU's admission).
pub fn after_write(server: &Server, spec: &CommandSpec, args: &[&[u8]], db: usize) {
    let tinylfu = server.keyspace.tracking().policy() == Policy::AllKeysTinyLfu;
    if !(keys_over(server) || (tinylfu && over(server))) {
        return;
    }
    let newcomer = spec
        .key_positions(args)
        .and_then(|positions| positions.first().map(|&i| (db, args[i])));
    let budget = time_limit(server.limits.tenacity.load(Relaxed));
    make_room(server, budget, newcomer);
}

/// The cron thread's share: eviction that commands left unfinished.
pub fn cron(server: &Server, budget: Duration) {
    if server.limits.unfinished.load(Relaxed) {
        make_room(server, budget, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_follow_redis() {
        assert_eq!(time_limit(0), Duration::ZERO);
        assert_eq!(time_limit(10), Duration::from_micros(500));
        assert_eq!(time_limit(20), Duration::from_micros(2022));
        assert_eq!(time_limit(100), Duration::MAX);
    }
}
