//! `difffuzz`: the differential fuzzer from the command line. Needs `redis-server` on PATH and
//! redis-lite-server built beside this binary (`cargo build -p redis-lite-server` first).
//!
//! ```text
//! difffuzz [--seed N] [--seeds N] [--commands N] [--resp 2|3|both] [--digest-every N]
//!          [--episode N] [--keep-going] [--config "name value"]... [--coverage]
//! difffuzz --list      # what is not fuzzed, and the intended differences, with reasons
//! ```
//! Each divergence is printed as it is found, with its minimised reproduction. Exits 1 when
//! there was one, 2 when it could not run.

use std::process::ExitCode;

use redis_lite_difffuzz::policy::{
    CONDITIONAL_DIFFERENCES, DETERMINISTIC_HERE, INTENDED_DIFFERENCES, NOT_FUZZED,
    SORT_STALE_ERRNO, TOKENS_NOT_GENERATED,
};
use redis_lite_difffuzz::{run, Options};

const USAGE: &str = "usage: difffuzz [--seed N] [--seeds N] [--commands N per seed and protocol] \
[--resp 2|3|both] [--digest-every N] [--episode N] [--keep-going] [--config \"name value\"]... \
[--coverage] | difffuzz --list";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--list") {
        list_rules();
        return ExitCode::SUCCESS;
    }
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
    if options_coverage() {
        for (name, (sent, refused)) in &report.per_command {
            println!(
                "{name:>24} {sent:>8} sent {:>5.1}% refused",
                100.0 * *refused as f64 / *sent as f64
            );
        }
    }
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

/// `--coverage`: a line per command, how often it was sent and refused.
fn options_coverage() -> bool {
    std::env::args().any(|a| a == "--coverage")
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
        if flag == "--coverage" {
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        if flag == "--config" {
            let (name, setting) = value
                .split_once(' ')
                .ok_or(format!("--config: \"name value\", not {value}"))?;
            options.config.push((name.to_string(), setting.to_string()));
            continue;
        }
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

/// Prints what is not fuzzed and what is not compared byte for byte, with the reasons.
fn list_rules() {
    println!("Not fuzzed (besides blocking commands; XREAD and XREADGROUP without BLOCK):");
    for (name, why) in NOT_FUZZED {
        println!("  {name}: {why}");
    }
    println!("Tokens never generated:");
    for (command, token, why) in TOKENS_NOT_GENERATED {
        println!("  {command} {token}: {why}");
    }
    println!("Replies not compared byte for byte:");
    for (name, check, why) in INTENDED_DIFFERENCES {
        println!("  {name} ({check:?}): {why}");
    }
    for (names, why) in CONDITIONAL_DIFFERENCES {
        println!("  {names}: {why}");
    }
    println!("  sort, sort_ro by numeric weights: {SORT_STALE_ERRNO}");
    println!(
        "  every command Redis marks nondeterministic_output_order (KEYS, SMEMBERS, HGETALL, \
         SUNION...): compared with the elements (a map's pairs) sorted"
    );
    println!("Marked nondeterministic by Redis, deterministic as generated (compared exactly):");
    for (name, why) in DETERMINISTIC_HERE {
        println!("  {name}: {why}");
    }
}
