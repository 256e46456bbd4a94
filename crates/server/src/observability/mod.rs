//! What the server tells operators about its own speed: the slow log, the latency monitor
//! (latency events: commands, expiry and eviction cycles, AOF writes, snapshot holds) and the
//! per-command latency histograms behind LATENCY HISTOGRAM and INFO latencystats; and the
//! watchdog, which reports where a stuck thread is.
//! `dispatch::call` calls [`after_call`] once per command; under the thresholds that costs a
//! few atomic loads and, with `latency-tracking` on, one counter increment on the event loop's
//! own histogram.

pub mod histogram;
pub mod latency;
pub mod observability_family;
pub mod slowlog;
pub mod watchdog;

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use crate::client::{ClientKind, ClientState};
use crate::command::{self, flags, CommandEntry};
use crate::config::Config;
use crate::server::Server;

use histogram::CommandHistograms;
use latency::LatencyMonitor;
use slowlog::SlowLog;

pub struct Observability {
    pub slowlog: SlowLog,
    /// Shared with the parts that report events from their own threads (the AOF writer).
    pub latency: Arc<LatencyMonitor>,
    pub histograms: CommandHistograms,
    /// `latency-tracking`.
    tracking: AtomicBool,
    pub watchdog: Arc<watchdog::Watchdog>,
}

impl Observability {
    /// Histograms for `workers` command-running threads (the event loops, the master link, the
    /// AOF loader: `ClientState::worker`).
    pub fn new(workers: usize, latency: Arc<LatencyMonitor>) -> Self {
        Observability {
            slowlog: SlowLog::default(),
            latency,
            histograms: CommandHistograms::new(workers, command::table().entries.len()),
            tracking: AtomicBool::new(true),
            watchdog: Arc::default(),
        }
    }

    /// Takes the running values of the slow log, latency monitor and tracking parameters.
    pub fn configure(&self, config: &Config) {
        let c = &config.observability;
        self.slowlog
            .configure(c.slowlog_log_slower_than, c.slowlog_max_len);
        self.latency.configure(c.latency_monitor_threshold);
        self.tracking.store(c.latency_tracking, Relaxed);
        self.watchdog
            .configure(config.process.watchdog_period as u64);
    }
}

/// After a command ran for `micros`: the slow log, the `command` / `fast-command` latency event
/// and the command's histogram. A command that blocked is recorded when it completes; the AOF
/// loader's replay is not recorded, as Redis does not while loading.
#[inline]
pub fn after_call(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
    micros: u64,
) {
    if client.blocked.is_some() || client.kind == ClientKind::AofLoader {
        return;
    }
    let observability = &server.observability;
    if observability.slowlog.is_slow(micros) && !entry.spec.has(flags::SKIP_SLOWLOG) {
        log_slow(server, client, entry, args, micros);
    }
    let event = match entry.spec.has(flags::FAST) {
        true => "fast-command",
        false => "command",
    };
    observability.latency.record_micros(event, micros);
    if observability.tracking.load(Relaxed) {
        // Whole microseconds, as Redis measures them, so percentiles print as Redis's.
        observability
            .histograms
            .record(client.worker, entry.id, micros * 1000);
    }
}

#[cold]
fn log_slow(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
    micros: u64,
) {
    // A script's calls come from Redis's script client, which has no address or name.
    let (addr, name) = match client.mode.nested() && server.scripting.running.is_running() {
        true => ("?:0".to_string(), Vec::new()),
        false => (
            client.handle.addr.clone(),
            client.handle.info.lock().name.clone(),
        ),
    };
    let redacted = redacted_args(&entry.full_name, args);
    server
        .observability
        .slowlog
        .push(args, &redacted, micros, latency::unix_secs(), addr, name);
}

/// Parameters whose values CONFIG SET hides from the slow log (Redis's sensitive configs).
const SENSITIVE_PARAMS: &[&str] = &[
    "masterauth",
    "masteruser",
    "requirepass",
    "tls-key-file-pass",
    "tls-client-key-file-pass",
];

/// The positions of the arguments Redis shows as `(redacted)` in the slow log and MONITOR, as
/// its handlers find them: AUTH's (unless it has too many), HELLO's AUTH pair (for the options
/// read before a syntax error), MIGRATE's AUTH password or AUTH2 pair (up to KEYS or the first
/// unknown option), sensitive CONFIG SET values, and everything after ACL SETUSER (the user
/// and its rules, hidden before they are parsed, so a refused one is hidden too).
pub fn redacted_args(full_name: &str, args: &[&[u8]]) -> Vec<usize> {
    let is = |i: usize, word: &str| args[i].eq_ignore_ascii_case(word.as_bytes());
    let mut positions = Vec::new();
    match full_name {
        "auth" if args.len() <= 3 => positions.extend(1..args.len()),
        "hello" => {
            let version_ok = args.len() < 2
                || matches!(redis_lite_protocol::number::parse_i64(args[1]), Some(2..=3));
            let mut i = 2;
            while version_ok && i < args.len() {
                let more = args.len() - 1 - i;
                if is(i, "auth") && more >= 2 {
                    positions.extend([i + 1, i + 2]);
                    i += 3;
                } else if is(i, "setname") && more >= 1 {
                    i += 2;
                } else {
                    break;
                }
            }
        }
        "migrate" => {
            let mut i = 6;
            while i < args.len() {
                let more = args.len() - 1 - i;
                if is(i, "copy") || is(i, "replace") {
                    i += 1;
                } else if is(i, "auth") && more >= 1 {
                    positions.push(i + 1);
                    i += 2;
                } else if is(i, "auth2") && more >= 2 {
                    positions.extend([i + 1, i + 2]);
                    i += 3;
                } else {
                    break;
                }
            }
        }
        "acl|setuser" => positions.extend(2..args.len()),
        "config|set" => {
            for i in (2..args.len().saturating_sub(1)).step_by(2) {
                if SENSITIVE_PARAMS.iter().any(|p| is(i, p)) {
                    positions.push(i + 1);
                }
            }
        }
        _ => {}
    }
    positions
}

/// A percentile as Redis prints it in INFO and CONFIG GET: C's `%f`, trailing zeros dropped.
pub fn percentile_label(percentile: f64) -> String {
    let text = format!("{percentile:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// INFO latencystats: each called command's `latency-tracking-info-percentiles`, in
/// microseconds with three decimals; empty while tracking is off.
pub fn write_info_section(server: &Server, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let observability = &server.observability;
    if !observability.tracking.load(Relaxed) {
        return;
    }
    let percentiles = server
        .config
        .read()
        .observability
        .latency_tracking_info_percentiles
        .clone();
    for (entry, histogram) in observability.histograms.called() {
        let _ = write!(out, "latency_percentiles_usec_{}:", entry.full_name);
        for (i, &p) in percentiles.iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            let usec = histogram.percentile_ns(p) as f64 / 1000.0;
            let _ = write!(out, "{separator}p{}={usec:.3}", percentile_label(p));
        }
        out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_where_redis_redacts_them() {
        let args =
            |s: &str| -> Vec<Vec<u8>> { s.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
        let check = |name: &str, line: &str| {
            let owned = args(line);
            let borrowed: Vec<&[u8]> = owned.iter().map(|a| a.as_slice()).collect();
            redacted_args(name, &borrowed)
        };
        assert_eq!(check("auth", "auth u p"), vec![1, 2]);
        assert_eq!(check("hello", "hello 3 setname n auth u p"), vec![5, 6]);
        assert_eq!(check("hello", "hello 3 auth u"), Vec::<usize>::new());
        assert_eq!(
            check("migrate", "migrate h 1 k 0 10 copy auth2 u p keys a"),
            vec![8, 9]
        );
        assert_eq!(check("migrate", "migrate h 1 k 0 10 AUTH p"), vec![7]);
        assert_eq!(
            check(
                "config|set",
                "config set maxmemory 1 MasterAuth x requirepass y"
            ),
            vec![5, 7]
        );
        assert_eq!(check("set", "set auth x"), Vec::<usize>::new());
        assert_eq!(check("acl|setuser", "acl setuser u on +get"), [2, 3, 4]);
        assert_eq!(check("auth", "AUTH pw"), [1]);
        assert_eq!(check("auth", "AUTH a b c"), Vec::<usize>::new());
        assert_eq!(check("hello", "HELLO 3 AUTH u p SETNAME n"), [3, 4]);
        assert_eq!(check("hello", "HELLO 4 AUTH u p"), Vec::<usize>::new());
        assert_eq!(
            check("hello", "HELLO 3 BOGUS AUTH u p"),
            Vec::<usize>::new()
        );
        assert_eq!(
            check("migrate", "MIGRATE h 1 \"\" 0 5 AUTH2 u p KEYS a"),
            [7, 8]
        );
        assert_eq!(
            check("migrate", "MIGRATE h 1 k 0 5 KEYS auth x"),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn percentiles_print_as_c_does() {
        assert_eq!(percentile_label(50.0), "50");
        assert_eq!(percentile_label(99.9), "99.9");
        assert_eq!(percentile_label(99.99999), "99.99999");
        assert_eq!(percentile_label(0.0), "0");
        assert_eq!(percentile_label(1.5), "1.5");
    }
}
