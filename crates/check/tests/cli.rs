//! The command line: every subcommand has help text, and misuse is a usage error.
mod common;

use common::{run, stderr, stdout};

#[test]
fn every_subcommand_has_help() {
    for (sub, words) in [
        ("rdb", "checksum"),
        ("aof", "--fix"),
        ("export", "base64"),
        ("import", "atomically"),
    ] {
        let out = run(&[&sub, &"--help"]);
        assert!(out.status.success());
        assert!(stdout(&out).contains(words), "{sub}: {}", stdout(&out));
    }
}

#[test]
fn misuse_is_a_usage_error() {
    let out = run(&[&"export", &"dump.rdb"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--json"));
    let out = run(&[&"aof", &"--yes", &"x.aof"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--fix"));
}
