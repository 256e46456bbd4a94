//! redis-lite's own metrics, beyond what INFO says: each thread's CPU time and each event
//! loop's commands (the load per thread that one Redis thread has no need for), how long
//! snapshots hold a shard's lock, how long the AOF's fsyncs take, whether files are sealed, and
//! each command's latency histogram.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::exposition::Scrape;
use super::histogram::Reading;
use crate::server::Server;

pub fn add(server: &Server, scrape: &mut Scrape) {
    for (thread, seconds) in thread_cpu_seconds() {
        let help = "CPU time (user and system) per thread, by thread name";
        scrape.counter(
            "redis_lite_thread_cpu_seconds",
            help,
            vec![("thread", thread)],
            seconds,
        );
    }
    for (index, worker) in server.stats.workers.iter().enumerate() {
        let commands = worker.total_commands.load(Relaxed) as f64;
        let help = "Commands run per event loop";
        let labels = vec![(
            "thread",
            format!("{}{index}", crate::server::EVENT_LOOP_THREAD),
        )];
        scrape.counter("redis_lite_thread_commands", help, labels, commands);
    }
    let encryption = f64::from(u8::from(server.config.read().encryption));
    let help = "Whether new snapshots and AOF files are sealed (encryption yes)";
    scrape.gauge("redis_lite_encryption_enabled", help, vec![], encryption);
    add_histogram(
        scrape,
        "redis_lite_snapshot_lock_hold_seconds",
        "Longest time each snapshot held one shard's lock",
        server.persistence.snapshot_lock_hold.read(),
    );
    add_histogram(
        scrape,
        "redis_lite_aof_fsync_seconds",
        "Duration of the AOF's fsyncs",
        server.aof.fsync_latency(),
    );
    add_command_histograms(server, scrape);
}

/// Each called command's latency histogram (`latency-tracking`), in Redis's power-of-two
/// buckets; the sum is the command's time in commandstats.
fn add_command_histograms(server: &Server, scrape: &mut Scrape) {
    let help = "Command latency (latency-tracking), per command";
    for (entry, histogram) in server.observability.histograms.called() {
        let usec: u64 = server
            .stats
            .workers
            .iter()
            .map(|w| w.commands[entry.id].usec.load(Relaxed))
            .sum();
        let buckets = histogram
            .buckets()
            .into_iter()
            .map(|(bound_usec, count)| (bound_usec as f64 / 1e6, count))
            .collect();
        scrape.histogram(
            "redis_lite_command_latency_seconds",
            help,
            vec![("cmd", entry.full_name.clone())],
            usec as f64 / 1e6,
            histogram.calls(),
            buckets,
        );
    }
}

fn add_histogram(scrape: &mut Scrape, name: &str, help: &str, reading: Reading) {
    scrape.histogram(
        name,
        help,
        vec![],
        reading.sum_seconds,
        reading.count,
        reading.buckets,
    );
}

/// CPU seconds by thread name, from `/proc/self/task`; threads that share a name (one per
/// background job) are added up, so each name is one series.
fn thread_cpu_seconds() -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    for (name, user, system) in threads_cpu_seconds() {
        *by_name.entry(name).or_insert(0.0) += user + system;
    }
    by_name
}

/// Each thread's name with its user and system CPU seconds, from `/proc/self/task`.
pub(crate) fn threads_cpu_seconds() -> Vec<(String, f64, f64)> {
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut threads = Vec::new();
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue;
        };
        if let Some((user, system)) = cpu_ticks(&stat) {
            threads.push((
                name.trim_end().to_string(),
                user as f64 / ticks_per_second,
                system as f64 / ticks_per_second,
            ));
        }
    }
    threads
}

/// utime and stime from a `/proc/<pid>/task/<tid>/stat` line: the 14th and 15th fields,
/// counted after the command name in parentheses (which may hold spaces or parentheses itself).
fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user, system))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_a_tricky_name() {
        let stat =
            "4242 (loop (1) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 5 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some((250, 30)));
    }

    #[test]
    fn this_threads_cpu_time_is_read() {
        let threads = thread_cpu_seconds();
        assert!(!threads.is_empty());
    }
}
