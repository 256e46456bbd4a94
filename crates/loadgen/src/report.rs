//! The report of a run: rates, errors, latency percentiles and the generator's own health (how
//! late it sent, how much CPU it used), as text for people and as one JSON line for scripts.

use crate::generator::Outcome;
use crate::latency::Percentiles;
use crate::options::Options;
use crate::schedule::Arrivals;
use crate::workload::Mix;

/// Above this share of a core, a thread of the generator (the sender or a reader) may be what
/// limits the run.
const BUSY_THREAD_CPU: f64 = 0.9;

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub host: String,
    pub port: u16,
    pub connections: u32,
    pub arrivals: Arrivals,
    pub ratio: Mix,
    pub keyspace: u64,
    pub data_size: usize,
    /// Requests per second asked for.
    pub target_rate: f64,
    /// Seconds measured (the warm-up excluded).
    pub duration_s: f64,
    /// Requests meant for the measured window, and their rate.
    pub sent: u64,
    pub sent_rate: f64,
    /// Replies that arrived within the window, per second: the throughput served.
    pub reply_rate: f64,
    /// Every request that went wrong: error replies, unanswered and unsent requests.
    pub errors: u64,
    pub error_replies: u64,
    pub unanswered: u64,
    pub unsent: u64,
    pub connection_errors: u64,
    /// Latency of the window's requests, from each one's intended send time.
    pub latency: Percentiles,
    /// How late the sender wrote the window's requests, behind their intended times.
    pub send_lag: Percentiles,
    /// The generator's CPU over the window, in cores (1.0: one core busy all the time).
    pub generator_cpu: f64,
    /// The same of its busiest thread, the sender or a reader.
    pub busiest_thread_cpu: f64,
    /// The send lag's p99 went over `--max-send-lag-ms`, or a thread of the generator was
    /// nearly saturated: the generator, not only the server, may be in these numbers.
    pub generator_behind: bool,
}

impl Report {
    pub fn new(options: &Options, outcome: &Outcome) -> Report {
        let seconds = outcome.window.seconds();
        let tally = &outcome.tally;
        let send_lag = Percentiles::of(&outcome.send_lag);
        let busiest_thread_cpu = outcome.busiest_thread_cpu_seconds / seconds;
        Report {
            host: options.host.clone(),
            port: options.port,
            connections: options.connections,
            arrivals: options.arrivals,
            ratio: options.ratio,
            keyspace: options.keyspace,
            data_size: options.data_size,
            target_rate: options.rate,
            duration_s: seconds,
            sent: outcome.sent_in_window,
            sent_rate: outcome.sent_in_window as f64 / seconds,
            reply_rate: tally.replies_in_window as f64 / seconds,
            errors: tally.error_replies + tally.unanswered + outcome.unsent,
            error_replies: tally.error_replies,
            unanswered: tally.unanswered,
            unsent: outcome.unsent,
            connection_errors: outcome.connection_errors,
            latency: Percentiles::of(&tally.latency),
            send_lag,
            generator_cpu: outcome.cpu_seconds / seconds,
            busiest_thread_cpu,
            generator_behind: send_lag.p99_ms > options.max_send_lag_ms
                || busiest_thread_cpu > BUSY_THREAD_CPU,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }

    pub fn text(&self) -> String {
        let percentiles = |p: &Percentiles| {
            format!(
                "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  p99.99 {:.3}  max {:.3}",
                p.p50_ms, p.p90_ms, p.p99_ms, p.p99_9_ms, p.p99_99_ms, p.max_ms
            )
        };
        let mut text = format!(
            "{}:{}, {} connections, {} arrivals at {} requests/s, SET:GET {}:{}, {} keys, \
             {}-byte values\n\
             measured {:.1} s: sent {} ({:.0}/s), replies {:.0}/s\n\
             errors {} (error replies {}, unanswered {}, unsent {}; failed connections {})\n\
             latency from intended send (ms):  {}\n\
             sender lag behind schedule (ms): {}\n\
             generator CPU: {:.2} cores, its busiest thread {:.2}\n",
            self.host,
            self.port,
            self.connections,
            // The name the command line takes.
            clap::ValueEnum::to_possible_value(&self.arrivals)
                .expect("every arrival kind has a name")
                .get_name(),
            self.target_rate,
            self.ratio.sets,
            self.ratio.gets,
            self.keyspace,
            self.data_size,
            self.duration_s,
            self.sent,
            self.sent_rate,
            self.reply_rate,
            self.errors,
            self.error_replies,
            self.unanswered,
            self.unsent,
            self.connection_errors,
            percentiles(&self.latency),
            percentiles(&self.send_lag),
            self.generator_cpu,
            self.busiest_thread_cpu,
        );
        if self.generator_behind {
            text.push_str(
                "WARNING: the generator fell behind its schedule or was nearly saturated: \
                 these latencies include its own delays\n",
            );
        }
        text
    }
}
