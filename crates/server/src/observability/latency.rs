//! The latency monitor: for each event (`command`, `expire-cycle`, `aof-fsync-always`...) the
//! worst latency of each of its last 160 seconds with one, at or above
//! `latency-monitor-threshold` milliseconds; LATENCY LATEST, HISTORY, GRAPH and DOCTOR read it.
//! An event under the threshold costs one atomic load.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

/// The event for a snapshot's longest hold of a shard's lock: the time writes to that shard
/// waited for it, redis-lite's counterpart of the pause Redis's `fork` event measures, under
/// that name so dashboards and alerts watching `fork` see it.
pub const SNAPSHOT_HOLD: &str = "fork";

/// Samples kept per event.
const HISTORY_LEN: usize = 160;
/// LATENCY GRAPH's width.
const GRAPH_COLUMNS: usize = 80;
/// LATENCY GRAPH's height, in rows of three levels each.
const GRAPH_ROWS: usize = 4;

#[derive(Clone, Copy, Default)]
pub struct Sample {
    /// Unix time in seconds; 0 for an unused slot.
    pub time: u64,
    pub latency_ms: u64,
}

/// One event's history: a ring of samples, at most one per second.
pub struct Series {
    next: usize,
    /// The worst latency since the event was first seen (or reset).
    pub max_ms: u64,
    samples: [Sample; HISTORY_LEN],
}

impl Series {
    fn new() -> Self {
        Series {
            next: 0,
            max_ms: 0,
            samples: [Sample::default(); HISTORY_LEN],
        }
    }

    /// Adds a sample, or raises this second's one.
    fn add(&mut self, time: u64, latency_ms: u64) {
        self.max_ms = self.max_ms.max(latency_ms);
        let previous = &mut self.samples[(self.next + HISTORY_LEN - 1) % HISTORY_LEN];
        if previous.time == time {
            previous.latency_ms = previous.latency_ms.max(latency_ms);
            return;
        }
        self.samples[self.next] = Sample { time, latency_ms };
        self.next = (self.next + 1) % HISTORY_LEN;
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..HISTORY_LEN)
            .map(|i| self.samples[(self.next + i) % HISTORY_LEN])
            .filter(|s| s.time != 0)
    }

    pub fn latest(&self) -> Sample {
        self.samples[(self.next + HISTORY_LEN - 1) % HISTORY_LEN]
    }
}

#[derive(Default)]
pub struct LatencyMonitor {
    /// `latency-monitor-threshold` in milliseconds; 0: off.
    threshold_ms: AtomicU64,
    /// Events in the order they were first seen.
    events: Mutex<Vec<(String, Series)>>,
}

impl LatencyMonitor {
    pub fn configure(&self, threshold_ms: i64) {
        self.threshold_ms
            .store(u64::try_from(threshold_ms).unwrap_or(0), Relaxed);
    }

    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms.load(Relaxed)
    }

    /// Records `event` if it took at least `latency-monitor-threshold` (whole milliseconds,
    /// as Redis counts them).
    #[inline]
    pub fn record(&self, event: &str, took: Duration) {
        self.record_micros(event, took.as_micros() as u64);
    }

    /// [`record`](Self::record) for a duration in microseconds: with the monitor off (the
    /// default), one load and a branch.
    #[inline]
    pub fn record_micros(&self, event: &str, micros: u64) {
        let threshold = self.threshold_ms.load(Relaxed);
        if threshold != 0 && micros / 1000 >= threshold {
            self.add(event, unix_secs(), micros / 1000);
        }
    }

    #[cold]
    fn add(&self, event: &str, time: u64, latency_ms: u64) {
        let mut events = self.events.lock();
        let index = match events.iter().position(|(name, _)| name == event) {
            Some(i) => i,
            None => {
                events.push((event.to_string(), Series::new()));
                events.len() - 1
            }
        };
        events[index].1.add(time, latency_ms);
    }

    /// Calls `f` with every event and its history.
    pub fn with_events<R>(&self, f: impl FnOnce(&[(String, Series)]) -> R) -> R {
        f(&self.events.lock())
    }

    /// Calls `f` with `event`'s history, if it has one.
    pub fn with_event<R>(&self, event: &[u8], f: impl FnOnce(&str, &Series) -> R) -> Option<R> {
        let events = self.events.lock();
        let (name, series) = events.iter().find(|(name, _)| name.as_bytes() == event)?;
        Some(f(name, series))
    }

    /// Forgets every event; returns how many there were.
    pub fn reset_all(&self) -> usize {
        std::mem::take(&mut *self.events.lock()).len()
    }

    /// Forgets `event`; returns whether it had a history.
    pub fn reset(&self, event: &[u8]) -> bool {
        let mut events = self.events.lock();
        let before = events.len();
        events.retain(|(name, _)| name.as_bytes() != event);
        events.len() != before
    }
}

pub fn unix_secs() -> u64 {
    redis_lite_engine::now_ms() / 1000
}

/// LATENCY GRAPH: a title with the high, low and all-time high, a rule, then Redis's sparkline
/// of the samples (filled, four rows), each labelled with how long ago it was, written
/// downwards (`12s`, `3m`, `2h`, `1d`).
pub fn graph(event: &str, series: &Series, now: u64) -> String {
    let samples: Vec<Sample> = series.samples().collect();
    let high = samples.iter().map(|s| s.latency_ms).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.latency_ms).min().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n",
        series.max_ms
    );
    out.push_str(&"-".repeat(GRAPH_COLUMNS));
    out.push('\n');
    let labelled: Vec<(u64, String)> = samples
        .iter()
        .map(|s| (s.latency_ms, age_label(now.saturating_sub(s.time))))
        .collect();
    for (i, part) in labelled.chunks(GRAPH_COLUMNS).enumerate() {
        if i != 0 {
            out.push('\n');
        }
        sparkline(&mut out, part, low, high);
    }
    out
}

fn age_label(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// One strip of the graph: `GRAPH_ROWS` rows where each column rises to its value's level
/// (`_`, `o`, `#` for the three levels of its top row, `|` below), a blank row, then the
/// labels one character per row. Levels scale between the whole graph's `low` and `high`.
fn sparkline(out: &mut String, samples: &[(u64, String)], low: u64, high: u64) {
    const LEVELS: [u8; 3] = [b'_', b'o', b'#'];
    let steps = (LEVELS.len() * GRAPH_ROWS) as f64;
    let range = match high - low {
        0 => 1.0,
        r => r as f64,
    };
    let step_of = |value: u64| {
        let step = (((value - low) as f64 * steps) as i64 as f64 / range) as usize;
        step.min(LEVELS.len() * GRAPH_ROWS - 1)
    };
    let mut line = vec![b' '; samples.len()];
    for row in 0..GRAPH_ROWS {
        let floor = (GRAPH_ROWS - row - 1) * LEVELS.len();
        for (cell, (value, _)) in line.iter_mut().zip(samples) {
            let step = step_of(*value);
            *cell = match step.checked_sub(floor) {
                Some(level) if level < LEVELS.len() => LEVELS[level],
                Some(_) => b'|',
                None => b' ',
            };
        }
        push_line(out, &line);
    }
    let label_rows = samples
        .iter()
        .map(|(_, label)| label.len())
        .max()
        .unwrap_or(0);
    if samples.iter().any(|(_, label)| !label.is_empty()) {
        push_line(out, &vec![b' '; samples.len()]);
    }
    for row in 0..label_rows {
        for (cell, (_, label)) in line.iter_mut().zip(samples) {
            *cell = label.as_bytes().get(row).copied().unwrap_or(b' ');
        }
        push_line(out, &line);
    }
}

fn push_line(out: &mut String, line: &[u8]) {
    out.push_str(std::str::from_utf8(line).expect("graph cells are ASCII"));
    out.push('\n');
}

/// What an event's history says, for LATENCY DOCTOR.
struct Analysis {
    samples: u64,
    avg: u64,
    /// Mean absolute deviation from `avg`.
    mad: u64,
    /// Seconds since its oldest sample (at least 1).
    period: u64,
}

fn analyze(series: &Series, now: u64) -> Analysis {
    let samples: Vec<Sample> = series.samples().collect();
    let n = samples.len() as u64;
    if n == 0 {
        return Analysis {
            samples: 0,
            avg: 0,
            mad: 0,
            period: 0,
        };
    }
    let avg = samples.iter().map(|s| s.latency_ms).sum::<u64>() / n;
    let mad = samples
        .iter()
        .map(|s| s.latency_ms.abs_diff(avg))
        .sum::<u64>()
        / n;
    let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now);
    Analysis {
        samples: n,
        avg,
        mad,
        period: now.saturating_sub(oldest).max(1),
    }
}

/// The settings LATENCY DOCTOR weighs its advice against.
pub struct DoctorSettings {
    pub threshold_ms: u64,
    pub slowlog_slower_than_us: i64,
    pub slowlog_max_len: i64,
    pub hz: u64,
}

/// Advice LATENCY DOCTOR may give, in the order it gives it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Advice {
    EnableSlowLog,
    TuneSlowLog,
    InspectSlowLog,
    LargeObjects,
    Scheduler,
    Hz,
    Eviction,
    Disk,
    Snapshot,
}

impl Advice {
    fn text(self, settings: &DoctorSettings) -> String {
        match self {
            Advice::EnableSlowLog => format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n", settings.threshold_ms * 1000),
            Advice::TuneSlowLog => format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n", settings.threshold_ms * 1000),
            Advice::InspectSlowLog => "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n".into(),
            Advice::LargeObjects => "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n".into(),
            Advice::Scheduler => "- Commands flagged as fast (O(1) or O(log N)) took longer than the threshold: the server's threads were probably not running. Check that the host is not overloaded, that the event loops have CPUs of their own (see the 'threads' setting), and that nothing pauses the process (swapping, a noisy neighbour on a virtual machine).\n".into(),
            Advice::Hz => format!("- The active expiry cycle ran long. With many keys expiring at the same moment it works harder to reclaim their memory; spreading their TTLs helps. A higher 'hz' (now {}) makes each cycle shorter.\n", settings.hz),
            Advice::Eviction => "- Eviction cycles ran long: writes arrive faster than keys can be evicted under 'maxmemory'. Consider more memory, a lower write rate, 'lazyfree-lazy-eviction yes' so large values are freed in the background, or a lower 'maxmemory-eviction-tenacity'.\n".into(),
            Advice::Disk => "- Writing or fsyncing the append only file was slow. Use a local disk (not network storage) for the AOF, avoid other processes competing for it, prefer SSDs, and consider 'appendfsync everysec', which fsyncs in the background, instead of 'always'.\n".into(),
            Advice::Snapshot => "- Taking a snapshot held a shard's lock for long. Snapshots copy a shard's table when it is first written during the save: very large keys make that copy slow. Fragmenting them, or saving less often (the 'save' setting), makes the holds shorter.\n".into(),
        }
    }
}

/// The advice an event's spikes call for.
fn advice_for(event: &str, settings: &DoctorSettings) -> Vec<Advice> {
    match event {
        "command" => {
            let mut advice = vec![Advice::InspectSlowLog, Advice::LargeObjects];
            if settings.slowlog_slower_than_us < 0 || settings.slowlog_max_len == 0 {
                advice.push(Advice::EnableSlowLog);
            } else if settings.slowlog_slower_than_us as u64 / 1000 > settings.threshold_ms {
                advice.push(Advice::TuneSlowLog);
            }
            advice
        }
        "fast-command" => vec![Advice::Scheduler],
        "expire-cycle" => vec![Advice::Hz, Advice::LargeObjects],
        "eviction-cycle" => vec![Advice::Eviction, Advice::LargeObjects],
        "aof-write" | "aof-fsync-always" => vec![Advice::Disk],
        "fork" => vec![Advice::Snapshot, Advice::LargeObjects],
        _ => Vec::new(),
    }
}

/// LATENCY DOCTOR: Redis's report. Without events it says so (or that the monitor is off);
/// with events, a line per event (spikes, average, mean deviation, period, worst), then
/// advice for the kinds of events seen.
pub fn doctor(monitor: &LatencyMonitor, settings: &DoctorSettings, now: u64) -> String {
    monitor.with_events(|events| {
        if events.is_empty() && settings.threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        if events.is_empty() {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
        }
        let mut report = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        let mut advice = Vec::new();
        for (i, (event, series)) in events.iter().enumerate() {
            let a = analyze(series, now);
            let _ = writeln!(
                report,
                "{}. {event}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
                i + 1,
                a.samples,
                a.avg,
                a.mad,
                a.period as f64 / a.samples.max(1) as f64,
                series.max_ms
            );
            advice.extend(advice_for(event, settings));
        }
        advice.sort();
        advice.dedup();
        if advice.is_empty() {
            report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        } else {
            report.push_str("\nI have a few advices for you:\n\n");
            for a in advice {
                report.push_str(&a.text(settings));
            }
        }
        report
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(samples: &[(u64, u64)]) -> Series {
        let mut series = Series::new();
        for &(time, ms) in samples {
            series.add(time, ms);
        }
        series
    }

    /// Redis 7.0.15's LATENCY GRAPH for one 30 ms sample taken this second.
    #[test]
    fn one_sample_graph_matches_redis() {
        let graph = graph("command", &series(&[(1000, 30)]), 1000);
        let rule = "-".repeat(80);
        assert_eq!(
            graph,
            format!("command - high 30 ms, low 30 ms (all time high 30 ms)\n{rule}\n \n \n \n_\n \n0\ns\n")
        );
    }

    /// Levels scale between low and high: the lowest sample sits on the bottom row's first
    /// level, the highest on the top row's last, and columns fill with `|` below their top.
    #[test]
    fn graph_levels_and_labels() {
        let s = series(&[(100, 10), (160, 16), (220, 22), (400, 130), (4055, 70)]);
        let graph = graph("expire-cycle", &s, 4100);
        let rule = "-".repeat(80);
        let expected = format!(
            "expire-cycle - high 130 ms, low 10 ms (all time high 130 ms)\n{rule}\n\
             \x20  # \n\
             \x20  |_\n\
             \x20  ||\n\
             __o||\n\
             \x20    \n\
             11114\n\
             hhhh5\n\
             \x20   s\n"
        );
        assert_eq!(graph, expected);
    }

    #[test]
    fn samples_of_one_second_merge_and_the_ring_keeps_160() {
        let mut s = series(&[(5, 3), (5, 9), (5, 4)]);
        assert_eq!(s.samples().count(), 1);
        assert_eq!(s.latest().latency_ms, 9);
        for t in 6..400 {
            s.add(t, 1);
        }
        assert_eq!(s.samples().count(), HISTORY_LEN);
        assert_eq!(s.samples().next().map(|x| x.time), Some(400 - 160));
        assert_eq!(s.max_ms, 9);
    }

    #[test]
    fn doctor_reports_events_and_advice() {
        let monitor = LatencyMonitor::default();
        let settings = DoctorSettings {
            threshold_ms: 0,
            slowlog_slower_than_us: 10_000,
            slowlog_max_len: 128,
            hz: 10,
        };
        assert!(doctor(&monitor, &settings, 0).starts_with("I'm sorry, Dave"));
        let settings = DoctorSettings {
            threshold_ms: 5,
            ..settings
        };
        assert!(doctor(&monitor, &settings, 0).starts_with("Dave, no latency spike"));
        monitor.add("command", 100, 30);
        monitor.add("command", 101, 10);
        let report = doctor(&monitor, &settings, 104);
        assert!(report.contains(
            "1. command: 2 latency spikes (average 20ms, mean deviation 10ms, period 2.00 sec). Worst all time event 30ms.\n"
        ));
        assert!(report.contains("slowlog-log-slower-than 5000"));
        assert!(report.contains("Check your Slow Log"));
    }
}
