//! Statistics for INFO. Each worker thread owns one `WorkerStats`, so counting on the hot path
//! touches only that thread's cache lines; INFO adds the workers up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// The server-wide statistics: one `WorkerStats` per event loop (and one for the cron thread),
/// and what the cron thread derives from them.
pub struct ServerStats {
    pub workers: Vec<Arc<WorkerStats>>,
    pub started: Instant,
    /// Commands per second over the last sampling interval (INFO's `instantaneous_ops_per_sec`).
    pub instantaneous_ops: AtomicU64,
    /// The frequency the cron runs at now (INFO's `hz`): `hz`, or more under `dynamic-hz`.
    pub hz: AtomicU64,
    /// Network KB/s in and out over the same interval, as f64 bits
    /// (`instantaneous_input_kbps`, `instantaneous_output_kbps`).
    pub instantaneous_input_kbps: AtomicU64,
    pub instantaneous_output_kbps: AtomicU64,
    /// Replication traffic, which Redis counts apart from the clients' (`total_net_repl_*`):
    /// the stream and snapshots read from this server's master, and written to its replicas.
    pub repl_input_bytes: AtomicU64,
    pub repl_output_bytes: AtomicU64,
    pub instantaneous_input_repl_kbps: AtomicU64,
    pub instantaneous_output_repl_kbps: AtomicU64,
    /// RESTORE payloads checked in depth because `sanitize-dump-payload` asks for it
    /// (`dump_payload_sanitizations`).
    pub dump_payload_sanitizations: AtomicU64,
    /// Error replies to the master link or the AOF loader: a command that worked on the master
    /// or when it was logged failed here (`unexpected_error_replies`). Server-wide, not a
    /// worker's: neither the link nor the loader is one worker's client.
    pub unexpected_error_replies: AtomicU64,
}

/// Clients a cron tick may look at before `dynamic-hz` doubles the frequency, as in Redis.
const CLIENTS_PER_TICK: usize = 200;
/// The most `dynamic-hz` raises the frequency to.
const MAX_HZ: u32 = 500;

/// The cron's frequency: `configured`, doubled under `dynamic-hz` while each tick would have
/// more than 200 clients to look at, up to 500, as Redis does.
pub fn cron_hz(configured: u32, dynamic: bool, clients: usize) -> u32 {
    let mut hz = configured;
    if dynamic {
        while clients / hz as usize > CLIENTS_PER_TICK {
            hz *= 2;
            if hz > MAX_HZ {
                return MAX_HZ;
            }
        }
    }
    hz
}

impl ServerStats {
    pub fn new(workers: usize, command_count: usize) -> Self {
        ServerStats {
            workers: (0..workers)
                .map(|_| Arc::new(WorkerStats::new(command_count)))
                .collect(),
            started: Instant::now(),
            instantaneous_ops: AtomicU64::new(0),
            hz: AtomicU64::new(0),
            instantaneous_input_kbps: AtomicU64::new(0),
            instantaneous_output_kbps: AtomicU64::new(0),
            repl_input_bytes: AtomicU64::new(0),
            repl_output_bytes: AtomicU64::new(0),
            instantaneous_input_repl_kbps: AtomicU64::new(0),
            instantaneous_output_repl_kbps: AtomicU64::new(0),
            dump_payload_sanitizations: AtomicU64::new(0),
            unexpected_error_replies: AtomicU64::new(0),
        }
    }

    /// CONFIG RESETSTAT's part of the server-wide counters (the workers reset their own).
    pub fn reset(&self) {
        for counter in [
            &self.repl_input_bytes,
            &self.repl_output_bytes,
            &self.dump_payload_sanitizations,
            &self.unexpected_error_replies,
        ] {
            counter.store(0, Relaxed);
        }
        for worker in &self.workers {
            worker.reset();
        }
    }
}

/// The cron's previous readings of the running totals, for the instantaneous rates.
pub struct RateSampler {
    at: Instant,
    commands: u64,
    input: u64,
    output: u64,
    repl_input: u64,
    repl_output: u64,
}

impl RateSampler {
    /// How often the rates are recomputed, as Redis samples them.
    const INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

    pub fn new() -> RateSampler {
        RateSampler {
            at: Instant::now(),
            commands: 0,
            input: 0,
            output: 0,
            repl_input: 0,
            repl_output: 0,
        }
    }

    /// Recomputes the rates once an interval has passed since the last time.
    pub fn sample(&mut self, stats: &ServerStats) {
        let secs = self.at.elapsed().as_secs_f64();
        if secs < Self::INTERVAL.as_secs_f64() {
            return;
        }
        let commands = sum(&stats.workers, |w| &w.total_commands);
        let input = sum(&stats.workers, |w| &w.net_input_bytes);
        let output = sum(&stats.workers, |w| &w.net_output_bytes);
        let repl_input = stats.repl_input_bytes.load(Relaxed);
        let repl_output = stats.repl_output_bytes.load(Relaxed);
        let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
        stats
            .instantaneous_ops
            .store(rate(commands, self.commands) as u64, Relaxed);
        let kbps = |now, before| (rate(now, before) / 1024.0).to_bits();
        stats
            .instantaneous_input_kbps
            .store(kbps(input, self.input), Relaxed);
        stats
            .instantaneous_output_kbps
            .store(kbps(output, self.output), Relaxed);
        stats
            .instantaneous_input_repl_kbps
            .store(kbps(repl_input, self.repl_input), Relaxed);
        stats
            .instantaneous_output_repl_kbps
            .store(kbps(repl_output, self.repl_output), Relaxed);
        *self = RateSampler {
            at: Instant::now(),
            commands,
            input,
            output,
            repl_input,
            repl_output,
        };
    }
}

impl Default for RateSampler {
    fn default() -> Self {
        RateSampler::new()
    }
}

/// Per-command counters, as INFO commandstats reports them.
#[derive(Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// Error codes tracked in errorstats; Redis stops adding new codes past this many.
const MAX_ERROR_CODES: usize = 128;

/// One event loop's counters (or the cron thread's). Aligned as `CachePadded` is, so that one
/// loop's counting never writes a line another loop's counters share: the workers' stats were
/// allocated one after another, some 160 bytes each, and their neighbours met on a line.
#[repr(align(128))]
pub struct WorkerStats {
    pub commands: Box<[CommandStat]>,
    pub total_commands: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub dirty: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    pub error_replies: AtomicU64,
    /// Error replies by code (`ERR`, `WRONGTYPE`...). Errors are rare, so a mutex is fine.
    pub errors: Mutex<HashMap<String, u64>>,
}

impl WorkerStats {
    pub fn new(command_count: usize) -> Self {
        WorkerStats {
            commands: (0..command_count).map(|_| CommandStat::default()).collect(),
            total_commands: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            dirty: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            reads_processed: AtomicU64::new(0),
            writes_processed: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            errors: Mutex::new(HashMap::new()),
        }
    }

    pub fn count_lookup(&self, found: bool) {
        if found {
            self.keyspace_hits.fetch_add(1, Relaxed);
        } else {
            self.keyspace_misses.fetch_add(1, Relaxed);
        }
    }

    pub fn add_dirty(&self, n: u64) {
        self.dirty.fetch_add(n, Relaxed);
    }

    /// Counts an error reply under its code, the text's first word.
    pub fn count_error(&self, text: &str) {
        self.error_replies.fetch_add(1, Relaxed);
        let code = text.split(' ').next().unwrap_or("ERR");
        let mut errors = self.errors.lock();
        if let Some(n) = errors.get_mut(code) {
            *n += 1;
        } else if errors.len() < MAX_ERROR_CODES {
            errors.insert(code.to_string(), 1);
        }
    }

    /// CONFIG RESETSTAT. `dirty` is not a statistic and is kept.
    pub fn reset(&self) {
        for c in self.commands.iter() {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.rejected.store(0, Relaxed);
            c.failed.store(0, Relaxed);
        }
        for counter in [
            &self.total_commands,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.reads_processed,
            &self.writes_processed,
            &self.error_replies,
        ] {
            counter.store(0, Relaxed);
        }
        self.errors.lock().clear();
    }
}

/// Sums one counter over all workers.
pub fn sum(
    workers: &[std::sync::Arc<WorkerStats>],
    field: impl Fn(&WorkerStats) -> &AtomicU64,
) -> u64 {
    workers.iter().map(|w| field(w).load(Relaxed)).sum()
}

/// Raises `peak` to `value`, writing only when it is higher.
fn raise(peak: &AtomicU64, value: u64) {
    if value > peak.load(Relaxed) {
        peak.fetch_max(value, Relaxed);
    }
}

/// Seconds INFO's `client_recent_max_*_buffer` look back over, as Redis's.
const PEAK_SECONDS: u64 = 8;

/// The largest client query buffer and pending output seen in each of the last few seconds,
/// for INFO's `client_recent_max_input_buffer` and `client_recent_max_output_buffer`.
pub struct ClientPeaks {
    slots: [PeakSlot; PEAK_SECONDS as usize],
    /// The current Unix second, kept by the cron thread: reading the clock on every read and
    /// reply cost several percent of a pipelined workload.
    second: AtomicU64,
}

impl Default for ClientPeaks {
    fn default() -> Self {
        ClientPeaks {
            slots: Default::default(),
            second: AtomicU64::new(unix_second()),
        }
    }
}

fn unix_second() -> u64 {
    redis_lite_engine::now_ms() / 1000
}

#[derive(Default)]
struct PeakSlot {
    second: AtomicU64,
    input: AtomicU64,
    output: AtomicU64,
}

impl ClientPeaks {
    pub fn record_input(&self, bytes: usize) {
        if bytes > 0 {
            raise(&self.slot_now().input, bytes as u64);
        }
    }

    pub fn record_output(&self, bytes: u64) {
        if bytes > 0 {
            raise(&self.slot_now().output, bytes);
        }
    }

    /// The current Unix second as the cron thread last set it.
    pub fn second(&self) -> u64 {
        self.second.load(Relaxed)
    }

    /// Called by the cron thread, several times a second.
    pub fn tick(&self) {
        self.second.store(unix_second(), Relaxed);
    }

    /// This second's slot, cleared first if it still holds an older second. Every event loop
    /// calls this per read: it only reads the shared cache line unless something changes.
    fn slot_now(&self) -> &PeakSlot {
        let second = self.second.load(Relaxed);
        let slot = &self.slots[(second % PEAK_SECONDS) as usize];
        if slot.second.load(Relaxed) != second && slot.second.swap(second, Relaxed) != second {
            slot.input.store(0, Relaxed);
            slot.output.store(0, Relaxed);
        }
        slot
    }

    /// (input, output) maxima over the last `PEAK_SECONDS` seconds.
    pub fn recent(&self) -> (u64, u64) {
        let now = self.second.load(Relaxed);
        self.slots
            .iter()
            .filter(|s| now.saturating_sub(s.second.load(Relaxed)) < PEAK_SECONDS)
            .fold((0, 0), |(i, o), s| {
                (i.max(s.input.load(Relaxed)), o.max(s.output.load(Relaxed)))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::cron_hz;

    #[test]
    fn dynamic_hz_doubles_per_200_clients_up_to_500() {
        assert_eq!(cron_hz(10, true, 2000), 10);
        assert_eq!(cron_hz(10, true, 2010), 20);
        assert_eq!(cron_hz(10, true, 9000), 80);
        assert_eq!(cron_hz(10, true, 1_000_000), 500);
        assert_eq!(cron_hz(10, false, 1_000_000), 10);
    }
}
