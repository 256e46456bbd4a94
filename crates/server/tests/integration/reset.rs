//! RESET: everything Redis 7.0 resets about a connection (transaction, watched keys,
//! subscriptions, MONITOR, client-side caching, the database, the protocol, the name, CLIENT REPLY, authentication)
//! and what it keeps (CLIENT NO-EVICT), each checked against real Redis.

use redis_lite_testkit as testkit;
use testkit::{skipped, Launch, Program};

#[test]
fn reset_clears_connection_state_as_redis_does() {
    testkit::differential(
        &[
            // The transaction and its watched keys.
            &["WATCH", "w"],
            &["MULTI"],
            &["SET", "a", "1"],
            &["RESET"],
            &["EXEC"],
            &["SET", "w", "changed"],
            &["MULTI"],
            &["EXEC"],
            // The database and the name.
            &["SELECT", "2"],
            &["SET", "k", "in-2"],
            &["CLIENT", "SETNAME", "named"],
            &["RESET"],
            &["GET", "k"],
            &["CLIENT", "GETNAME"],
            // Subscriptions, without unsubscribe replies.
            &["SUBSCRIBE", "ch"],
            &["PSUBSCRIBE", "p*"],
            &["RESET"],
            &["PING"],
            &["PUBSUB", "NUMSUB", "ch"],
            &["PUBSUB", "NUMPAT"],
            // Client-side caching, and CLIENT CACHING's pending answer.
            &["CLIENT", "TRACKING", "ON", "OPTIN"],
            &["CLIENT", "CACHING", "YES"],
            &["RESET"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
            &["RESET"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "GETREDIR"],
            // Inside MULTI RESET runs at once.
            &["MULTI"],
            &["RESET"],
            &["PING"],
            &["COMMAND", "INFO", "RESET"],
            &["COMMAND", "DOCS", "RESET"],
        ],
        false,
    );
}

#[test]
fn reset_returns_to_resp2_and_to_unauthenticated() {
    // The differential's connections speak RESP3 before the first command.
    testkit::differential(
        &[&["GET", "missing"], &["RESET"], &["GET", "missing"]],
        true,
    );
    testkit::differential_with(
        &[
            &["AUTH", "pw"],
            &["SET", "k", "v"],
            &["RESET"],
            &["GET", "k"],
            &["AUTH", "pw"],
            &["GET", "k"],
        ],
        false,
        &["--requirepass", "pw"],
    );
}

#[test]
fn reset_turns_replies_on_ends_monitor_and_keeps_no_evict() {
    let mut programs = vec![Program::Lite];
    match Program::Redis.available() {
        true => programs.push(Program::Redis),
        false => skipped("redis-server is not on PATH (in reset_turns_replies_on_ends_monitor_and_keeps_no_evict)"),
    }
    for program in programs {
        let server = Launch::of(program)
            .args(&["--save", "", "--appendonly", "no"])
            .start();
        let mut raw = server.raw();
        // CLIENT REPLY OFF answers nothing; RESET turns replies back on.
        raw.send(&testkit::encode(&[b"CLIENT", b"REPLY", b"OFF"]));
        raw.expect_replies(&[
            (&["RESET"], "+RESET\r\n"),
            (&["CLIENT", "NO-EVICT", "ON"], "+OK\r\n"),
            (&["MONITOR"], "+OK\r\n"),
            (&["RESET"], "+RESET\r\n"),
        ]);
        // No longer a monitor: it may read keys again, and its own command is not echoed.
        raw.expect_replies(&[(&["GET", "k"], "$-1\r\n"), (&["PING"], "+PONG\r\n")]);
        let info = raw.cmd_text(&["CLIENT", "INFO"]);
        assert!(info.contains(" flags=e "), "{program:?}: {info}");
    }
}
