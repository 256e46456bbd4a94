//! redis-lite-loadgen: an open-loop load generator for tail-latency benchmarks (issue 20, goal
//! 4). Requests go out at a fixed total rate on a schedule set in advance, whatever the server's
//! replies do, and each reply's latency is counted from its request's intended send time: a
//! closed-loop tool such as redis-benchmark waits for each reply before the next request, so a
//! stall delays requests it then never counts (coordinated omission). A bench tool only: not in
//! the shipped binaries or the image (`deploy/build-dist.sh` names the packages it builds).
//!
//! Layout:
//! - [`options`]: the command line.
//! - [`schedule`]: intended send times and connections (Poisson or uniform, seeded).
//! - [`workload`]: the SET/GET mix over a keyspace, encoded as RESP2.
//! - [`latency`]: charging replies to intended times, inside the measured window.
//! - [`generator`]: connections, the sender thread and the reply readers.
//! - [`report`]: text and JSON.

pub mod generator;
pub mod latency;
pub mod options;
pub mod report;
pub mod schedule;
pub mod workload;

use std::process::ExitCode;

use clap::Parser;

/// The program: runs the load the command line describes and prints the report (the text,
/// then the JSON line, or only the JSON line with `--json`).
pub fn main() -> ExitCode {
    let options = options::Options::parse();
    match generator::run(&options) {
        Ok(outcome) => {
            let report = report::Report::new(&options, &outcome);
            if !options.json {
                print!("{}", report.text());
            }
            println!("{}", report.json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("redis-lite-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
