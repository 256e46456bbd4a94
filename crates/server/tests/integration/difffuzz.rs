//! The differential fuzzer (`crates/difffuzz`), bounded for CI: a few seeds of random commands
//! in RESP2 and RESP3, every reply and `DEBUG DIGEST` compared with real Redis. Any divergence
//! outside the fuzzer's documented intended differences fails, with its minimised reproduction.
use redis_lite_difffuzz::{run, Options};

/// Runs `options` and fails on any divergence; returns how many commands ran (none when
/// redis-server is missing, which `run` reports as a skip).
fn fuzz(options: Options) -> u64 {
    let Some(report) = run(&options) else {
        return 0;
    };
    assert!(
        report.divergences.is_empty(),
        "{} commands, divergences from real Redis:\n{}",
        report.commands,
        report.divergences.join("\n")
    );
    report.commands
}

/// Seeds 1 to 4, 5,000 commands each per protocol: 40,000 commands, a few seconds here.
#[test]
fn random_commands_match_redis() {
    let commands = fuzz(Options {
        first_seed: 1,
        seeds: 4,
        commands: 5_000,
        protocols: vec![2, 3],
        keep_going: true,
        ..Options::default()
    });
    assert!(commands == 0 || commands == 40_000, "{commands} commands");
}

/// Seeds 5 and 6 with encoding limits of 4 entries (8 bytes), list nodes of 4 entries and
/// compressed inner nodes, so that every conversion and node split happens often.
#[test]
fn random_commands_match_redis_with_small_encodings() {
    let config = [
        ("hash-max-listpack-entries", "4"),
        ("hash-max-listpack-value", "8"),
        ("zset-max-listpack-entries", "4"),
        ("zset-max-listpack-value", "8"),
        ("set-max-intset-entries", "4"),
        ("list-max-listpack-size", "4"),
        ("list-compress-depth", "1"),
        ("stream-node-max-entries", "4"),
    ];
    let commands = fuzz(Options {
        first_seed: 5,
        seeds: 2,
        commands: 5_000,
        protocols: vec![2, 3],
        keep_going: true,
        config: config
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        ..Options::default()
    });
    assert!(commands == 0 || commands == 20_000, "{commands} commands");
}
