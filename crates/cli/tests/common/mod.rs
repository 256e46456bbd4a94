//! What the tests comparing redis-lite-cli with Debian's redis-cli share.

use redis_lite_testkit::{run, text};

/// The client under test, as cargo built it for these tests.
const CLI: &str = env!("CARGO_BIN_EXE_redis-lite-cli");

/// Runs both clients with the arguments `all` and `stdin`: stdout, stderr and exit status must
/// be identical.
pub fn assert_same_as_redis_cli(all: &[&str], stdin: &[u8]) {
    let theirs = run("redis-cli", all, stdin);
    let ours = run(CLI, all, stdin);
    assert_eq!(
        (text(&ours.stdout), text(&ours.stderr), ours.status.code()),
        (
            text(&theirs.stdout),
            text(&theirs.stderr),
            theirs.status.code()
        ),
        "redis-lite-cli {all:?}"
    );
}
