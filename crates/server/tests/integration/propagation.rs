//! What a master propagates (its replication stream, which the AOF gets too), compared with
//! real Redis 7.0.15 through the same patterns: the framing of transactions and scripts, and
//! the DELs of keys found expired around blocked clients. Each scenario ends with a marker
//! write, so nothing extra slips through unseen.
use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{wait_until, Raw, ReplicationStream, Server};

/// redis-lite and real Redis (when installed), PINGing their replicas only once an hour.
fn masters() -> Vec<(&'static str, Server)> {
    Server::lite_and_redis(&[
        "--repl-ping-replica-period",
        "3600",
        "--enable-debug-command",
        "yes",
    ])
}

/// Runs `commands` on `raw`, each reply checked not to be an error.
fn run(raw: &mut Raw, commands: &[&[&str]]) {
    for command in commands {
        let reply = raw.cmd_text(command);
        assert!(!reply.starts_with('-'), "{command:?}: {reply}");
    }
}

/// Waits until `count` clients are blocked.
fn wait_blocked(raw: &mut Raw, count: usize) {
    wait_until("the client to block", Duration::from_secs(10), || {
        testkit::info_field(raw, "clients", "blocked_clients") == count.to_string()
    });
}

/// Redis 7.0 wraps a unit's effects in MULTI/EXEC only when there are several: a transaction
/// or a script that wrote once propagates that write bare, one that wrote nothing propagates
/// nothing, and the DEL of a key a transaction's lookup found expired counts among its effects.
#[test]
fn a_transaction_or_script_of_one_write_propagates_it_bare() {
    for (who, server) in masters() {
        let mut raw = server.raw();
        let mut stream = ReplicationStream::attach(&server);
        run(
            &mut raw,
            &[
                &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
                &["MULTI"],
                &["SET", "a", "1"],
                &["EXEC"],
                &["MULTI"],
                &["SET", "a", "2"],
                &["SET", "b", "2"],
                &["EXEC"],
                // Reads only, or nothing: no record at all.
                &["MULTI"],
                &["GET", "a"],
                &["EXEC"],
                &["MULTI"],
                &["EXEC"],
                &["EVAL", "redis.call('set', 'a', '3')", "0"],
                &["EVAL", "redis.call('set', 'a', '4') redis.call('set', 'b', '4')", "0"],
                &["EVAL", "return redis.call('get', 'a')", "0"],
                // A script inside a transaction: one write in all.
                &["MULTI"],
                &["EVAL", "redis.call('set', 'a', '5')", "0"],
                &["EXEC"],
                // A database change inside a one-write transaction: SELECT, then the write.
                &["MULTI"],
                &["SELECT", "1"],
                &["SET", "c", "1"],
                &["EXEC"],
                &["SELECT", "0"],
                // A key the transaction finds expired: its DEL and the write, wrapped.
                &["SET", "expiring", "v", "PX", "1"],
                &["MULTI"],
                &["SET", "a", "6"],
                &["EXEC"],
            ],
        );
        // Not a race: the TTL is over once this much time has passed, however loaded.
        std::thread::sleep(Duration::from_millis(20));
        run(
            &mut raw,
            &[
                &["MULTI"],
                &["GET", "expiring"],
                &["SET", "a", "7"],
                &["EXEC"],
                &["SET", "end", "1"],
            ],
        );
        stream.expect(
            who,
            &[
                "select 0",
                "set a 1",
                "multi",
                "set a 2",
                "set b 2",
                "exec",
                "set a 3",
                "multi",
                "set a 4",
                "set b 4",
                "exec",
                "set a 5",
                "select 1",
                "set c 1",
                "select 0",
                "set expiring v pxat *",
                "set a 6",
                "multi",
                "del expiring",
                "set a 7",
                "exec",
                "set end 1",
            ],
        );
    }
}
