//! The command line: where to connect, the offered load (rate, connections, arrivals), the
//! requests (mix, keyspace, value size) and the run's timing.

use std::time::Duration;

use clap::Parser;

use crate::schedule::Arrivals;
use crate::workload::Mix;

/// An open-loop load generator for Redis servers: requests go out at a fixed total rate on a
/// schedule, whatever the replies do, and each reply's latency counts from its request's
/// intended send time. Prints a text report and, as its last line, the same as one JSON object.
#[derive(Parser, Clone, Debug)]
#[command(name = "redis-lite-loadgen", version)]
pub struct Options {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(short, long, default_value_t = 6379)]
    pub port: u16,
    /// Connections the requests are spread over.
    #[arg(short, long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Total requests per second, over all connections.
    #[arg(long, value_parser = positive)]
    pub rate: f64,
    /// How requests are spaced: poisson (exponential gaps, random connection) or uniform.
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// SETs to GETs, as SETS:GETS.
    #[arg(long, default_value = "1:1")]
    pub ratio: Mix,
    /// Keys are drawn from this many (`key:000000000000` up).
    #[arg(short = 'r', long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub keyspace: u64,
    /// SET value size in bytes.
    #[arg(short = 'd', long, default_value_t = 16)]
    pub data_size: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub duration: Duration,
    /// Seconds sent at the rate before measuring (not in the histogram).
    #[arg(long, default_value = "2", value_parser = seconds_or_zero)]
    pub warmup: Duration,
    /// After the last request, how long to wait for replies still due.
    #[arg(long, default_value = "10", value_parser = seconds_or_zero)]
    pub drain: Duration,
    /// Seed of the schedule's and the requests' random draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Threads that read replies (the schedule is kept by one more).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// The run is flagged as unreliable when the sender's p99 lag behind its schedule exceeds
    /// this many milliseconds (the lag is charged to the server as latency).
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub max_send_lag_ms: f64,
    /// Print only the JSON line.
    #[arg(long)]
    pub json: bool,
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("'{text}' is not a positive number")),
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    positive(text).map(Duration::from_secs_f64)
}

fn seconds_or_zero(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => seconds(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let options = Options::try_parse_from(["loadgen", "--rate", "1000"]).unwrap();
        assert_eq!(options.connections, 50);
        assert_eq!(options.arrivals, Arrivals::Poisson);
        assert_eq!(options.ratio, Mix { sets: 1, gets: 1 });
        assert_eq!(options.warmup, Duration::from_secs(2));
        let options = Options::try_parse_from([
            "loadgen",
            "--rate",
            "5e4",
            "-c",
            "1000",
            "--arrivals",
            "uniform",
            "--ratio",
            "1:10",
            "--duration",
            "0.5",
            "--warmup",
            "0",
        ])
        .unwrap();
        assert_eq!(options.rate, 50_000.0);
        assert_eq!(options.duration, Duration::from_millis(500));
        assert_eq!(options.warmup, Duration::ZERO);
        for bad in [
            &["--rate", "0"][..],
            &["--rate", "-5"],
            &["--rate", "nan"],
            &[],
            &["--rate", "1", "-c", "0"],
            &["--rate", "1", "--duration", "0"],
            &["--rate", "1", "--ratio", "0:0"],
            &["--rate", "1", "-r", "0"],
        ] {
            let args = std::iter::once(&"loadgen").chain(bad);
            assert!(Options::try_parse_from(args).is_err(), "{bad:?}");
        }
    }
}
