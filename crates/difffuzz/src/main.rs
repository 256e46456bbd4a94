//! `difffuzz`: the differential fuzzer from the command line. Needs `redis-server` on PATH and
//! redis-lite-server built beside this binary (`cargo build -p redis-lite-server` first).
//!
//! ```text
//! difffuzz [--seed N] [--seeds N] [--commands N] [--resp 2|3|both] [--digest-every N]
//!          [--episode N] [--keep-going]
//! ```
//! Each divergence is printed as it is found, with its minimised reproduction. Exits 1 when
//! there was one, 2 when it could not run.

use std::process::ExitCode;

use redis_lite_difffuzz::{run, Options};

const USAGE: &str = "usage: difffuzz [--seed N] [--seeds N] [--commands N per seed and protocol] \
[--resp 2|3|both] [--digest-every N] [--episode N] [--keep-going]";

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(report) = run(&options) else {
        eprintln!("redis-server is not on PATH: nothing to compare with");
        return ExitCode::from(2);
    };
    let always_refused: Vec<&str> = report
        .per_command
        .iter()
        .filter(|(_, (sent, refused))| sent == refused)
        .map(|(name, _)| name.as_str())
        .collect();
    println!("commands Redis refused every time: {always_refused:?}");
    println!(
        "{} commands ({} refused by Redis), seeds {}..{}, {} distinct divergences ({} repeats)",
        report.commands,
        report.refused,
        options.first_seed,
        options.first_seed + options.seeds - 1,
        report.divergences.len(),
        report.repeats
    );
    if report.divergences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        verbose: true,
        ..Options::default()
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--keep-going" {
            options.keep_going = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--seed" => options.first_seed = number()?,
            "--seeds" => options.seeds = number()?.max(1),
            "--commands" => options.commands = number()?,
            "--digest-every" => options.digest_every = number()?.max(1) as usize,
            "--episode" => options.episode = number()?.max(1) as usize,
            "--resp" => {
                options.protocols = match value.as_str() {
                    "2" => vec![2],
                    "3" => vec![3],
                    "both" => vec![2, 3],
                    _ => return Err(format!("--resp: 2, 3 or both, not {value}")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}
