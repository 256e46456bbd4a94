//! The differential fuzzer (`crates/difffuzz`), bounded for CI: a few seeds of random commands
//! in RESP2 and RESP3, every reply and `DEBUG DIGEST` compared with real Redis. Any divergence
//! outside the fuzzer's documented intended differences fails, with its minimised reproduction.
use redis_lite_difffuzz::{run, Options};

/// Runs seeds `first_seed..first_seed + seeds`, 5,000 commands each in RESP2 and in RESP3,
/// with `config` set on both servers, and fails on any divergence.
fn fuzz(first_seed: u64, seeds: u64, config: &[(&str, &str)]) {
    let options = Options {
        first_seed,
        seeds,
        commands: 5_000,
        protocols: vec![2, 3],
        keep_going: true,
        config: config
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        ..Options::default()
    };
    let Some(report) = run(&options) else {
        return; // run() said why: redis-server is not on PATH
    };
    assert!(
        report.divergences.is_empty(),
        "{} commands, divergences from real Redis:\n{}",
        report.commands,
        report.divergences.join("\n")
    );
    assert_eq!(report.commands, seeds * 2 * 5_000);
}

/// Seeds 1 to 4: 40,000 commands, a few seconds here.
#[test]
fn random_commands_match_redis() {
    fuzz(1, 4, &[]);
}

/// Seeds 5 and 6 with encoding limits of 4 entries (8 bytes), list nodes of 4 entries and
/// compressed inner nodes, so that every conversion and node split happens often.
#[test]
fn random_commands_match_redis_with_small_encodings() {
    fuzz(
        5,
        2,
        &[
            ("hash-max-listpack-entries", "4"),
            ("hash-max-listpack-value", "8"),
            ("zset-max-listpack-entries", "4"),
            ("zset-max-listpack-value", "8"),
            ("set-max-intset-entries", "4"),
            ("list-max-listpack-size", "4"),
            ("list-compress-depth", "1"),
            ("stream-node-max-entries", "4"),
        ],
    );
}
