//! The differential fuzzer (`crates/difffuzz`), bounded for CI: a few seeds of random commands
//! in RESP2 and RESP3, every reply and `DEBUG DIGEST` compared with real Redis. Any divergence
//! outside the fuzzer's documented intended differences fails, with its minimised reproduction.
use redis_lite_difffuzz::{run, Options};

/// Seeds 1 to 4, 5,000 commands each per protocol: 40,000 commands, a few seconds here.
#[test]
fn random_commands_match_redis() {
    let options = Options {
        first_seed: 1,
        seeds: 4,
        commands: 5_000,
        protocols: vec![2, 3],
        keep_going: true,
        ..Options::default()
    };
    let Some(report) = run(&options) else {
        return; // run() said why (redis-server is not on PATH)
    };
    assert!(
        report.divergences.is_empty(),
        "{} commands, divergences from real Redis:\n{}",
        report.commands,
        report.divergences.join("\n")
    );
    assert_eq!(report.commands, 40_000);
}
