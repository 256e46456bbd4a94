//! What a master propagates (its replication stream, which the AOF gets too), compared with
//! real Redis 7.0.15 through the same patterns: the framing of transactions and scripts, and
//! the DELs of keys found expired around blocked clients. Each scenario ends with a marker
//! write, so nothing extra slips through unseen.
use redis_lite_testkit as testkit;

use std::time::Duration;

use crate::blocking::{client_id, wait_blocked};
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
                &[
                    "EVAL",
                    "redis.call('set', 'a', '4') redis.call('set', 'b', '4')",
                    "0",
                ],
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

/// A client's command streams the DELs of the keys its lookups find expired in its own unit,
/// as Redis 7 does: a write on its expired key goes `multi`, `del k`, the write, `exec`; a
/// read that expired two keys wraps their DELs, one goes bare, and so does a write that ends
/// up changing nothing. redis-lite used to stream each DEL on its own, before the write.
#[test]
fn a_command_streams_the_dels_of_keys_it_finds_expired_in_its_unit() {
    for (who, server) in masters() {
        let mut raw = server.raw();
        let mut stream = ReplicationStream::attach(&server);
        run(&mut raw, &[&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]]);
        // The keys given a 1 ms TTL, the command, and the records it streams after their SETs.
        let scenarios: [(&[&str], &[&str], &[&str]); 7] = [
            (
                &["k"],
                &["SET", "k", "2"],
                &["multi", "del k", "set k 2", "exec"],
            ),
            (
                &["k"],
                &["INCR", "k"],
                &["multi", "del k", "incr k", "exec"],
            ),
            (
                &["k"],
                &["LPUSH", "k", "a"],
                &["multi", "del k", "lpush k a", "exec"],
            ),
            (
                &["k", "j"],
                &["MSET", "k", "1", "j", "2"],
                &["multi", "del k", "del j", "mset k 1 j 2", "exec"],
            ),
            (
                &["k", "j"],
                &["MGET", "k", "j"],
                &["multi", "del k", "del j", "exec"],
            ),
            (&["k"], &["GET", "k"], &["del k"]),
            (&["k"], &["EXPIRE", "k", "100"], &["del k"]),
        ];
        let mut expected = vec!["select 0"];
        for (keys, command, records) in scenarios {
            for key in keys {
                run(&mut raw, &[&["SET", key, "1", "PX", "1"]]);
                expected.push(if *key == "k" {
                    "set k 1 pxat *"
                } else {
                    "set j 1 pxat *"
                });
            }
            // Not a race: the TTLs are over once this much time has passed, however loaded.
            std::thread::sleep(Duration::from_millis(20));
            run(&mut raw, &[command]);
            expected.extend(records);
        }
        run(&mut raw, &[&["SET", "end", "1"]]);
        expected.push("set end 1");
        stream.expect(who, &expected);
    }
}

/// Waits until a lookup deleted an expired key (active expiry is off in these scenarios): on
/// redis-lite a woken client re-runs its command on its own event loop, after the command that
/// woke it has replied.
fn wait_expired(raw: &mut Raw) {
    wait_until(
        "the expired key's deletion",
        Duration::from_secs(10),
        || testkit::info_field(raw, "stats", "expired_keys") == "1",
    );
}

/// Checks that the client `id` (blocked in BRPOP on `waiter`) is still blocked, then unblocks
/// it: it gets the timeout's null reply.
fn assert_still_blocked(raw: &mut Raw, waiter: &mut Raw, id: &str) {
    let entry = raw.cmd_text(&["CLIENT", "LIST", "ID", id]);
    assert!(entry.contains(" flags=b "), "{entry}");
    assert_eq!(raw.cmd_text(&["CLIENT", "UNBLOCK", id]), ":1\r\n");
    assert_eq!(waiter.read_reply(), b"*-1\r\n");
}

/// A scenario of Redis's suite, on each master: a client in database `waiter_db` blocks in
/// `BRPOP k 0`, then `wake` (after `setup`, with active expiry off) brings it a key whose TTL
/// is over. The client stays blocked (it is unblocked at the end), the key's DEL is made by its
/// lookup, and the stream is `expected` (the end marker, `set end 1`, included).
fn expired_key_for_a_blocked_client(
    setup: &[&[&str]],
    waiter_db: &str,
    wake: &[&[&str]],
    expected: &[&str],
) {
    for (who, server) in masters() {
        let mut raw = server.raw();
        let mut stream = ReplicationStream::attach(&server);
        run(
            &mut raw,
            &[&["FLUSHALL"], &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]],
        );
        run(&mut raw, setup);
        let mut waiter = server.raw();
        let id = client_id(&mut waiter);
        run(&mut waiter, &[&["SELECT", waiter_db]]);
        waiter.send(&testkit::encode(&[b"BRPOP", b"k", b"0"]));
        wait_blocked(&mut raw, 1);
        // Not a race: a TTL `setup` set is over once this much time has passed, however loaded.
        std::thread::sleep(Duration::from_millis(150));
        run(&mut raw, wake);
        wait_expired(&mut raw);
        assert_still_blocked(&mut raw, &mut waiter, &id);
        run(&mut raw, &[&["SET", "end", "1"]]);
        stream.expect(who, expected);
    }
}

/// SWAPDB brings a key whose TTL passed to a client blocked on it: Redis streams the SWAPDB in
/// the database already selected, then the DEL the woken client's lookup makes (the client
/// stays blocked). redis-lite used to expire the key while looking for waiters, streaming its
/// DEL (and a SELECT back) before the SWAPDB.
#[test]
fn swapdb_onto_a_blocked_client_streams_the_expired_keys_del_after_it() {
    expired_key_for_a_blocked_client(
        &[
            &["SELECT", "1"],
            &["RPUSH", "k", "hello"],
            &["PEXPIRE", "k", "100"],
        ],
        "9",
        &[&["SWAPDB", "1", "9"]],
        &[
            "select *",
            "flushall",
            "select 1",
            "rpush k hello",
            "pexpireat k *",
            "swapdb 1 9",
            "select 9",
            "del k",
            "select 1",
            "set end 1",
        ],
    );
}

/// A transaction pushes to a key a client is blocked on and gives it a TTL that is over when
/// the transaction ends: the woken client's lookup deletes the key, and its DEL follows the
/// transaction's EXEC in the stream.
#[test]
fn a_key_expired_when_exec_wakes_its_blocked_client_is_deleted_after_the_exec() {
    expired_key_for_a_blocked_client(
        &[],
        "0",
        &[
            &["MULTI"],
            &["RPUSH", "k", "hello"],
            &["PEXPIRE", "k", "100"],
            &["DEBUG", "SLEEP", "0.2"],
            &["EXEC"],
        ],
        &[
            "select *",
            "flushall",
            "multi",
            "rpush k hello",
            "pexpireat k *",
            "exec",
            "del k",
            "set end 1",
        ],
    );
}

/// PUBLISH reaches replicas (not the AOF) after a SELECT of its client's database when the
/// stream had another one selected, as Redis streams it, alone or as a transaction's one
/// record.
#[test]
fn publish_is_streamed_after_its_databases_select() {
    for (who, server) in masters() {
        let mut raw = server.raw();
        let mut stream = ReplicationStream::attach(&server);
        run(
            &mut raw,
            &[
                &["MULTI"],
                &["PUBLISH", "bla", "bla"],
                &["EXEC"],
                &["SELECT", "3"],
                &["PUBLISH", "bla", "in 3"],
                &["SELECT", "0"],
                &["SET", "end", "1"],
            ],
        );
        stream.expect(
            who,
            &[
                "select 0",
                "publish bla bla",
                "select 3",
                "publish bla in 3",
                "select 0",
                "set end 1",
            ],
        );
    }
}

/// SPOP with a count streams one `srem key member` per member popped, framed in MULTI/EXEC
/// when there are several (in a transaction, inside its own), and DEL when it took the whole
/// set, as Redis 7.0 does; redis-lite used to stream one SREM of all the members. The other
/// pops of several elements stream one pop of the count actually popped.
#[test]
fn spop_with_a_count_streams_one_srem_per_member() {
    for (who, server) in masters() {
        let mut raw = server.raw();
        let mut stream = ReplicationStream::attach(&server);
        run(
            &mut raw,
            &[
                &["SADD", "s", "a", "b", "c", "d", "e"],
                &["SPOP", "s", "3"],
                &["SPOP", "s", "1"],
                &["SPOP", "s", "0"],
                &["SPOP", "s"],
                &["SADD", "t", "1", "2", "3"],
                &["SPOP", "t", "3"],
                &["SADD", "t", "1", "2"],
                &["SPOP", "t", "5"],
                &["MULTI"],
                &["SADD", "u", "x", "y", "z"],
                &["SPOP", "u", "2"],
                &["EXEC"],
                &["RPUSH", "l", "a", "b", "c"],
                &["LMPOP", "2", "none", "l", "LEFT", "COUNT", "5"],
                &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
                &["ZMPOP", "1", "z", "MAX", "COUNT", "2"],
                &["SET", "end", "1"],
            ],
        );
        stream.expect(
            who,
            &[
                "select 0",
                "sadd s a b c d e",
                "multi",
                "srem s *",
                "srem s *",
                "srem s *",
                "exec",
                "srem s *",
                "srem s *",
                "sadd t 1 2 3",
                "del t",
                "sadd t 1 2",
                "del t",
                "multi",
                "sadd u x y z",
                "srem u *",
                "srem u *",
                "exec",
                "rpush l a b c",
                "lpop l 3",
                "zadd z 1 a 2 b 3 c",
                "zpopmax z 2",
                "set end 1",
            ],
        );
    }
}

/// Found by Redis 7.0.15's own suite in harness mode (expire.tcl, "SCAN: Lazy-expire should not
/// be wrapped in MULTI/EXEC", and RANDOMKEY's): the DELs of the keys SCAN and RANDOMKEY find
/// expired go bare, one by one, where other reads wrap several in MULTI/EXEC (see
/// `a_command_streams_the_dels_of_keys_it_finds_expired_in_its_unit`); redis-lite wrapped them.
#[test]
fn scan_and_randomkey_stream_the_dels_of_expired_keys_bare() {
    for (who, server) in masters() {
        let mut raw = server.raw();
        let mut stream = ReplicationStream::attach(&server);
        run(&mut raw, &[&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]]);
        let mut expected = vec!["select 0"];
        // Each finds both keys expired (they are the only ones), and deletes them.
        for command in [&["SCAN", "0"][..], &["RANDOMKEY"]] {
            run(
                &mut raw,
                &[
                    &["SET", "foo1", "1", "PX", "1"],
                    &["SET", "foo2", "1", "PX", "1"],
                ],
            );
            // Not a race: the TTLs are over once this much time has passed, however loaded.
            std::thread::sleep(Duration::from_millis(20));
            run(&mut raw, &[command]);
            expected.extend([
                "set foo1 1 pxat *",
                "set foo2 1 pxat *",
                "del foo*",
                "del foo*",
            ]);
        }
        run(&mut raw, &[&["SET", "end", "1"]]);
        expected.push("set end 1");
        stream.expect(who, &expected);
    }
}
