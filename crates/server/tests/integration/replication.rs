//! Replication, the replica's side: redis-lite replicating a real Redis 7.0 master. The full
//! sync in every transfer and load mode, the stream (every data type, TTLs, expiries,
//! MULTI/EXEC, scripts, functions, other databases) with `DEBUG DIGEST` equal on both sides,
//! a dropped link ending in a partial resync, a replica killed under load catching up,
//! promotion, the replica's expiry rules, its errors, and INFO/ROLE/CLIENT LIST against a real
//! Redis replica of the same master.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis_lite_testkit::{info_field, wait_until, Launch, Program, Raw, Server};

const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// A real Redis master that starts a full sync at once, or None (the test is skipped).
fn redis_master(args: &[&str]) -> Option<Server> {
    Server::redis(&[&["--repl-diskless-sync-delay", "0"], args].concat())
}

/// A redis-lite replica of `master`, without persistence, once its link is up.
fn lite_replica(master: &Server, args: &[&str]) -> Server {
    let port = master.port.to_string();
    let replica = Launch::lite()
        .args(&["--save", "", "--appendonly", "no"])
        .args(&["--enable-debug-command", "yes"])
        .args(&["--replicaof", "127.0.0.1", &port])
        .args(args)
        .start();
    wait_link_up(&replica);
    replica
}

fn wait_link_up(replica: &Server) {
    let mut raw = replica.raw();
    wait_until("the replica's link to be up", SYNC_TIMEOUT, || {
        info_field(&mut raw, "replication", "master_link_status") == "up"
    });
}

/// The programs a chain test runs on, Redis first, each missing one said to be skipped.
fn chain_programs(test: &str) -> Vec<Program> {
    [Program::Redis, Program::Lite]
        .into_iter()
        .filter(|program| {
            let available = program.available();
            if !available {
                println!("SKIPPED: {program:?} is not available (in {test})");
            }
            available
        })
        .collect()
}

/// A node of a replication chain: no persistence, a full sync started at once.
fn chain_node(program: Program, args: &[&str]) -> Server {
    Launch::of(program)
        .args(&["--save", "", "--appendonly", "no"])
        .args(&["--repl-diskless-sync-delay", "0"])
        .args(args)
        .start()
}

fn replicaof(server: &Server, master: &Server) {
    let port = master.port.to_string();
    ok(&mut server.raw(), &["REPLICAOF", "127.0.0.1", &port]);
}

/// Sends `command` and INFO replication in one write: the command's reply, and what INFO
/// said right after it.
fn info_right_after(raw: &mut Raw, command: &[&[u8]]) -> (Vec<u8>, String) {
    let mut pipeline = redis_lite_testkit::encode(command);
    pipeline.extend(redis_lite_testkit::encode(&[b"INFO", b"replication"]));
    raw.send(&pipeline);
    let reply = raw.read_reply();
    let info = redis_lite_testkit::Reply::parse(&raw.read_reply()).bytes();
    (reply, String::from_utf8(info).unwrap())
}

/// Makes `replica` a replica of `master` and `sub_replica` one of `replica`, each link up.
fn link_chain(master: &Server, replica: &Server, sub_replica: &Server) {
    replicaof(replica, master);
    wait_link_up(replica);
    replicaof(sub_replica, replica);
    wait_link_up(sub_replica);
}

fn offset(server: &Server, field: &str) -> u64 {
    info_field(&mut server.raw(), "replication", field)
        .parse()
        .unwrap()
}

/// Waits until the replica processed everything the master wrote so far, and then until
/// their digests agree (the master may still be expiring keys, whose DELs follow).
fn wait_in_sync(master: &Server, replica: &Server) {
    wait_until(
        "the replica to reach the master's offset",
        SYNC_TIMEOUT,
        || offset(replica, "slave_repl_offset") >= offset(master, "master_repl_offset"),
    );
    let (mut m, mut r) = (master.raw(), replica.raw());
    wait_until(
        "equal DEBUG DIGEST on master and replica",
        SYNC_TIMEOUT,
        || {
            let digest = m.cmd_text(&["DEBUG", "DIGEST"]);
            assert!(digest.starts_with('+'), "DEBUG DIGEST: {digest}");
            digest == r.cmd_text(&["DEBUG", "DIGEST"])
        },
    );
}

#[track_caller]
fn ok(raw: &mut Raw, args: &[&str]) {
    let reply = raw.cmd_text(args);
    assert!(!reply.starts_with('-'), "{args:?}: {reply}");
}

const LIBRARY: &str = "#!lua name=replib\n\
    redis.register_function('setit', function(keys, args) return redis.call('set', keys[1], args[1]) end)";

/// Writes of every kind the master propagates, tagged `round` so rounds add up.
fn write_load(master: &Server, round: usize) {
    let mut raw = master.raw();
    ok(&mut raw, &["FUNCTION", "LOAD", "REPLACE", LIBRARY]);
    let r = round.to_string();
    let key = |name: &str| format!("{name}:{r}");
    for i in 0..50 {
        let i = i.to_string();
        ok(&mut raw, &["SET", &key(&format!("s{i}")), &format!("v{i}")]);
        ok(&mut raw, &["RPUSH", &key("list"), &i]);
        ok(&mut raw, &["HSET", &key("hash"), &format!("f{i}"), &i]);
        ok(&mut raw, &["SADD", &key("ints"), &i]);
        ok(&mut raw, &["SADD", &key("words"), &format!("w{i}")]);
        ok(&mut raw, &["ZADD", &key("zset"), &i, &format!("m{i}")]);
        ok(&mut raw, &["PFADD", &key("hll"), &format!("e{i}")]);
        ok(
            &mut raw,
            &[
                "SETBIT",
                &key("bits"),
                &(i.parse::<u32>().unwrap() * 7).to_string(),
                "1",
            ],
        );
    }
    // Past the listpack limits: other encodings on both sides.
    for i in 0..300 {
        let i = i.to_string();
        ok(
            &mut raw,
            &[
                "HSET",
                &key("bighash"),
                &format!("field{i}"),
                &"x".repeat(80),
            ],
        );
        ok(
            &mut raw,
            &["ZADD", &key("bigzset"), &i, &format!("member{i}")],
        );
        ok(&mut raw, &["RPUSH", &key("biglist"), &"y".repeat(100)]);
    }
    ok(&mut raw, &["APPEND", &key("s1"), "-appended"]);
    ok(&mut raw, &["INCRBYFLOAT", &key("float"), "1.5"]);
    ok(&mut raw, &["INCR", &key("counter")]);
    ok(&mut raw, &["LPOP", &key("list")]);
    ok(&mut raw, &["SPOP", &key("words")]);
    ok(&mut raw, &["SREM", &key("ints"), "7"]);
    ok(&mut raw, &["ZINCRBY", &key("zset"), "2.5", "m3"]);
    ok(&mut raw, &["HDEL", &key("hash"), "f4"]);
    ok(&mut raw, &["DEL", &key("s2")]);
    ok(&mut raw, &["RENAME", &key("s3"), &key("renamed")]);
    // TTLs: some far away, some that pass at once (the master's DELs remove them).
    ok(&mut raw, &["SET", &key("ttl"), "v", "EX", "1000"]);
    ok(&mut raw, &["EXPIRE", &key("list"), "2000"]);
    ok(&mut raw, &["SET", &key("persisted"), "v", "EX", "100"]);
    ok(&mut raw, &["PERSIST", &key("persisted")]);
    for i in 0..10 {
        ok(
            &mut raw,
            &["SET", &key(&format!("gone{i}")), "v", "PX", "1"],
        );
    }
    // Other databases.
    ok(&mut raw, &["SELECT", "5"]);
    ok(&mut raw, &["SET", &key("in5"), "five"]);
    ok(&mut raw, &["HSET", &key("hash5"), "a", "b"]);
    ok(&mut raw, &["SELECT", "0"]);
    ok(&mut raw, &["SET", &key("back-in-0"), "zero"]);
    // A transaction, and one in another database.
    for command in [
        &["MULTI"][..],
        &["INCR", &key("counter")],
        &["LPUSH", &key("txlist"), "a", "b"],
        &["SELECT", "3"],
        &["SET", &key("tx3"), "three"],
    ] {
        ok(&mut raw, command);
    }
    assert!(raw.cmd_text(&["EXEC"]).starts_with('*'));
    ok(&mut raw, &["SELECT", "0"]);
    // Scripts and functions (propagated as their effects).
    ok(
        &mut raw,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]); redis.call('pexpire', KEYS[1], 500000); return redis.call('spop', KEYS[2])",
            "2",
            &key("scripted"),
            &key("ints"),
            "from-lua",
        ],
    );
    ok(&mut raw, &["FCALL", "setit", "1", &key("by-function"), "f"]);
}

/// One run: a master in `diskless_sync` mode with data before the replica starts (the
/// snapshot) and after (the stream), a replica loading as `diskless_load` says.
fn sync_and_stream(diskless_sync: &str, diskless_load: &str) {
    let Some(master) = redis_master(&["--repl-diskless-sync", diskless_sync]) else {
        return;
    };
    write_load(&master, 0);
    let replica = lite_replica(&master, &["--repl-diskless-load", diskless_load]);
    write_load(&master, 1);
    wait_in_sync(&master, &replica);
    let (mut m, mut r) = (master.raw(), replica.raw());
    for key in [
        "hash:0",
        "bigzset:1",
        "list:1",
        "txlist:1",
        "scripted:1",
        "ints:0",
    ] {
        assert_eq!(
            m.cmd_text(&["DEBUG", "DIGEST-VALUE", key]),
            r.cmd_text(&["DEBUG", "DIGEST-VALUE", key]),
            "{key} ({diskless_sync} sync, {diskless_load} load)"
        );
    }
    assert_eq!(
        r.cmd_text(&["FUNCTION", "LIST"]),
        m.cmd_text(&["FUNCTION", "LIST"])
    );
    for db in ["5", "3"] {
        ok(&mut m, &["SELECT", db]);
        ok(&mut r, &["SELECT", db]);
        assert_eq!(r.cmd_text(&["DBSIZE"]), m.cmd_text(&["DBSIZE"]), "db {db}");
    }
}

#[test]
fn a_lite_replica_of_a_disk_based_redis_master_loads_through_a_file() {
    sync_and_stream("no", "disabled");
}

#[test]
fn a_lite_replica_of_a_diskless_redis_master_loads_through_a_file() {
    sync_and_stream("yes", "disabled");
}

#[test]
fn a_lite_replica_loads_straight_from_the_socket_when_empty() {
    sync_and_stream("yes", "on-empty-db");
    sync_and_stream("no", "on-empty-db");
}

#[test]
fn a_lite_replica_loads_aside_and_swaps_with_swapdb() {
    sync_and_stream("yes", "swapdb");
    sync_and_stream("no", "swapdb");
}

#[test]
fn a_full_sync_replaces_what_the_replica_had() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    ok(&mut master.raw(), &["SET", "from-master", "1"]);
    for load in ["disabled", "on-empty-db", "swapdb"] {
        let replica = Launch::lite()
            .args(&["--save", "", "--enable-debug-command", "yes"])
            .args(&["--repl-diskless-load", load])
            .start();
        let mut raw = replica.raw();
        ok(&mut raw, &["SET", "own", "1"]);
        ok(&mut raw, &["SELECT", "9"]);
        ok(&mut raw, &["SET", "own9", "1"]);
        let port = master.port.to_string();
        assert_eq!(raw.cmd_text(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
        wait_link_up(&replica);
        wait_in_sync(&master, &replica);
        assert_eq!(raw.cmd_text(&["DBSIZE"]), ":0\r\n", "{load}");
        ok(&mut raw, &["SELECT", "0"]);
        assert_eq!(raw.cmd_text(&["GET", "own"]), "$-1\r\n", "{load}");
        assert_eq!(
            raw.cmd_text(&["GET", "from-master"]),
            "$1\r\n1\r\n",
            "{load}"
        );
    }
}

#[test]
fn a_replica_refuses_writes_and_stale_reads_with_redis_errors() {
    let Some(mut master) = redis_master(&[]) else {
        return;
    };
    let replica = lite_replica(&master, &["--replica-serve-stale-data", "no"]);
    let mut raw = replica.raw();
    raw.expect_replies(&[
        (
            &["SET", "k", "v"],
            "-READONLY You can't write against a read only replica.\r\n",
        ),
        (&["GET", "k"], "$-1\r\n"),
        (&["MULTI"], "+OK\r\n"),
        (
            &["INCR", "k"],
            "-READONLY You can't write against a read only replica.\r\n",
        ),
        (
            &["EXEC"],
            "-EXECABORT Transaction discarded because of previous errors.\r\n",
        ),
        (&["CONFIG", "SET", "replica-read-only", "no"], "+OK\r\n"),
        (&["SET", "own", "v"], "+OK\r\n"),
        (&["CONFIG", "SET", "replica-read-only", "yes"], "+OK\r\n"),
    ]);
    master.kill9();
    wait_until("the link to go down", SYNC_TIMEOUT, || {
        info_field(&mut raw, "replication", "master_link_status") == "down"
    });
    raw.expect_replies(&[
        (
            &["GET", "k"],
            "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
        ),
        // PING is not marked `stale` either, in Redis 7.0.
        (
            &["PING"],
            "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
        ),
        (
            &["CONFIG", "SET", "replica-serve-stale-data", "yes"],
            "+OK\r\n",
        ),
        (&["GET", "own"], "$1\r\nv\r\n"),
    ]);
}

#[test]
fn client_kill_type_master_ends_in_a_partial_resync() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    let replica = lite_replica(&master, &[]);
    write_load(&master, 0);
    wait_in_sync(&master, &replica);
    let mut raw = replica.raw();
    let list = raw.cmd_text(&["CLIENT", "LIST", "TYPE", "master"]);
    assert!(list.contains(" flags=M "), "{list}");
    let partial = |m: &Server| info_field(&mut m.raw(), "stats", "sync_partial_ok");
    let before = partial(&master);
    assert_eq!(
        raw.cmd_text(&["CLIENT", "KILL", "TYPE", "master"]),
        ":1\r\n"
    );
    wait_until("a partial resync", SYNC_TIMEOUT, || {
        partial(&master) != before
    });
    assert_eq!(
        info_field(&mut master.raw(), "stats", "sync_full"),
        "1",
        "no second full sync"
    );
    wait_link_up(&replica);
    write_load(&master, 1);
    wait_in_sync(&master, &replica);
}

#[test]
fn a_replica_killed_under_load_catches_up_after_a_restart() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    let mut replica = lite_replica(&master, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut raw = master.raw();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let n = i.to_string();
                ok(&mut raw, &["SET", &format!("k{}", i % 5000), &n]);
                ok(
                    &mut raw,
                    &["HINCRBY", "counts", &format!("f{}", i % 100), "1"],
                );
                ok(&mut raw, &["LPUSH", "log", &n]);
                ok(&mut raw, &["LTRIM", "log", "0", "999"]);
                i += 1;
            }
        })
    };
    let mut raw = replica.raw();
    wait_until(
        "the replica to apply some of the load",
        SYNC_TIMEOUT,
        || offset(&replica, "slave_repl_offset") > 100_000,
    );
    drop(raw);
    replica.restart();
    wait_link_up(&replica);
    raw = replica.raw();
    wait_until("more of the load after the restart", SYNC_TIMEOUT, || {
        raw.cmd_text(&["LLEN", "log"]) == ":1000\r\n"
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    wait_in_sync(&master, &replica);
}

#[test]
fn replicaof_no_one_makes_a_writable_master_that_keeps_the_data() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    let replica = lite_replica(&master, &[]);
    // No DEL of an expired key arrives while the digests are compared.
    ok(&mut master.raw(), &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    write_load(&master, 0);
    wait_in_sync(&master, &replica);
    let digest = master.raw().cmd_text(&["DEBUG", "DIGEST"]);
    let synced_at = offset(&replica, "slave_repl_offset");
    let master_id = info_field(&mut master.raw(), "replication", "master_replid");
    let port = master.port.to_string();
    let mut raw = replica.raw();
    // Once promoted, the replica expires keys itself: the load's `PX 1` keys would go by the
    // time its digest is taken.
    ok(&mut raw, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    raw.expect_replies(&[
        (
            &["REPLICAOF", "127.0.0.1", &port],
            "+OK Already connected to specified master\r\n",
        ),
        (
            &["REPLICAOF", "127.0.0.1", "port"],
            "-ERR Invalid master port\r\n",
        ),
        (
            &["REPLICAOF", "127.0.0.1", "65536"],
            "-ERR Invalid master port\r\n",
        ),
        (&["REPLICAOF", "no", "two"], "-ERR Invalid master port\r\n"),
        (&["REPLICAOF", "NO", "ONE"], "+OK\r\n"),
    ]);
    assert_eq!(raw.cmd_text(&["DEBUG", "DIGEST"]), digest);
    raw.expect_replies(&[(&["SET", "now", "writable"], "+OK\r\n")]);
    let info = raw.cmd_text(&["INFO", "replication"]);
    assert!(info.contains("role:master\r\n"), "{info}");
    assert!(
        info.contains(&format!("master_replid2:{master_id}\r\n")),
        "{info}"
    );
    assert!(
        info.contains(&format!("second_repl_offset:{}\r\n", synced_at + 1)),
        "{info}"
    );
    assert_eq!(raw.cmd_text(&["ROLE"]).lines().nth(1), Some("$6"));
    raw.expect_replies(&[(&["REPLICAOF", "NO", "ONE"], "+OK\r\n")]);
    // CONFIG GET follows REPLICAOF both ways.
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "replicaof"]),
        "*2\r\n$9\r\nreplicaof\r\n$0\r\n\r\n"
    );
    assert_eq!(raw.cmd_text(&["SLAVEOF", "127.0.0.1", &port]), "+OK\r\n");
    let expected = format!("127.0.0.1 {port}");
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "replicaof"]),
        format!(
            "*2\r\n$9\r\nreplicaof\r\n${}\r\n{expected}\r\n",
            expected.len()
        )
    );
    wait_link_up(&replica);
    wait_in_sync(&master, &replica);
    assert_eq!(
        raw.cmd_text(&["GET", "now"]),
        "$-1\r\n",
        "the master's data again"
    );
}

#[test]
fn a_replica_leaves_expiry_to_its_master() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    let replica = lite_replica(&master, &[]);
    let (mut m, mut r) = (master.raw(), replica.raw());
    ok(&mut m, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    ok(&mut m, &["SET", "short", "v", "PX", "300"]);
    ok(&mut m, &["SET", "long", "v", "EX", "1000"]);
    wait_in_sync(&master, &replica);
    wait_until("the key's TTL to pass on the replica", SYNC_TIMEOUT, || {
        r.cmd_text(&["EXISTS", "short"]) == ":0\r\n"
    });
    // Gone for reads, but still stored until the master says so.
    r.expect_replies(&[
        (&["GET", "short"], "$-1\r\n"),
        (&["TTL", "short"], ":-2\r\n"),
        (&["DBSIZE"], ":2\r\n"),
        (&["GET", "long"], "$1\r\nv\r\n"),
    ]);
    // The master expires it on access and sends the DEL.
    assert_eq!(m.cmd_text(&["GET", "short"]), "$-1\r\n");
    wait_until("the master's DEL to arrive", SYNC_TIMEOUT, || {
        r.cmd_text(&["DBSIZE"]) == ":1\r\n"
    });
    wait_in_sync(&master, &replica);
}

#[test]
fn a_writable_replica_expires_the_keys_its_own_clients_wrote() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    let port = master.port.to_string();
    let writable = ["--replica-read-only", "no"];
    let Some(redis) =
        Server::redis(&[&["--replicaof", "127.0.0.1", &port][..], &writable].concat())
    else {
        return;
    };
    wait_link_up(&redis);
    let lite = lite_replica(&master, &writable);
    for replica in [&redis, &lite] {
        let mut r = replica.raw();
        ok(&mut r, &["SET", "own", "v", "PX", "200"]);
        ok(&mut r, &["SET", "later", "v", "EX", "1000"]);
        ok(&mut r, &["SET", "persisted", "v", "PX", "200"]);
        ok(&mut r, &["PERSIST", "persisted"]);
    }
    // Its master sends no DEL for them: the replica's own active expiry deletes them, as
    // Redis's replica does (it never reads them, so no lazy expiry either).
    for replica in [&redis, &lite] {
        let mut r = replica.raw();
        wait_until("the replica to expire its own key", SYNC_TIMEOUT, || {
            r.cmd_text(&["DBSIZE"]) == ":2\r\n"
        });
    }
    let keyspace = |server: &Server| info_field(&mut server.raw(), "keyspace", "db0");
    assert_eq!(keyspace(&lite), keyspace(&redis));
    for field in ["expired_keys", "slave_expires_tracked_keys"] {
        assert_eq!(
            info_field(&mut lite.raw(), "stats", field),
            info_field(&mut redis.raw(), "stats", field),
            "{field}"
        );
    }
}

/// replication-4.tcl, "Data divergence is allowed on writable replicas": a command of the
/// master's stream that fails on the replica is logged as Redis logs it (the critical line,
/// the stream before it) and counted in INFO's `unexpected_error_replies`. redis-lite said
/// nothing.
#[test]
fn a_master_command_failing_on_the_replica_is_logged_and_counted() {
    let Some(master) = redis_master(&[]) else {
        return;
    };
    let lite = lite_replica(
        &master,
        &["--replica-read-only", "no", "--logfile", "replica.log"],
    );
    let mut m = master.raw();
    ok(&mut m, &["SET", "foo", "bar"]);
    wait_in_sync(&master, &lite);
    let mut r = lite.raw();
    ok(&mut r, &["SET", "number", "foo"]);
    assert_eq!(m.cmd_text(&["INCRBY", "number", "1"]), ":1\r\n");
    wait_until("the replica to count the error", SYNC_TIMEOUT, || {
        info_field(&mut r, "stats", "unexpected_error_replies") == "1"
    });
    assert_eq!(r.cmd_text(&["GET", "number"]), "$3\r\nfoo\r\n");
    let log = std::fs::read_to_string(lite.dir.join("replica.log")).unwrap();
    let critical: Vec<&str> = log.lines().filter(|l| l.contains("CRITICAL")).collect();
    assert_eq!(critical.len(), 1, "{log}");
    assert!(
        critical[0].ends_with(
            "# == CRITICAL == This replica is sending an error to its master: \
             'value is not an integer or out of range' after processing the command 'incrby'"
        ),
        "{log}"
    );
    // The stream before the command (the SET), not the command itself.
    let latest = log
        .lines()
        .find(|l| l.contains("Latest backlog is: '\""))
        .expect(&log);
    assert!(latest.contains("foo\\r\\n$3\\r\\nbar\\r\\n\"'"), "{latest}");
    assert!(
        !latest.contains("INCRBY") && !latest.contains("incrby"),
        "{latest}"
    );
}

/// INFO replication's fields of `server`, in order, and their values.
fn replication_fields(server: &Server) -> Vec<(String, String)> {
    let info = server.raw().cmd_text(&["INFO", "replication"]);
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn info_role_and_client_list_match_a_redis_replica_of_the_same_master() {
    let Some(master) = redis_master(&["--requirepass", "secret"]) else {
        return;
    };
    let port = master.port.to_string();
    let auth = ["--masterauth", "secret"];
    let redis = Launch::redis()
        .args(&["--save", "", "--appendonly", "no"])
        .args(&auth)
        .args(&["--replicaof", "127.0.0.1", &port])
        .start();
    wait_link_up(&redis);
    let lite = lite_replica(&master, &auth);
    let mut m = master.raw();
    ok(&mut m, &["AUTH", "secret"]);
    ok(&mut m, &["SET", "k", "v"]);
    let target: u64 = info_field(&mut m, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    for replica in [&redis, &lite] {
        wait_until("the replica to catch up", SYNC_TIMEOUT, || {
            offset(replica, "slave_repl_offset") >= target
        });
    }
    let (theirs, ours) = (replication_fields(&redis), replication_fields(&lite));
    let names =
        |fields: &[(String, String)]| fields.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    // Values that do not depend on timing or on when each replica synced.
    let varying = [
        "master_last_io_seconds_ago",
        "repl_backlog_first_byte_offset",
        "repl_backlog_histlen",
    ];
    for ((name, value), (_, expected)) in ours.iter().zip(&theirs) {
        if !varying.contains(&name.as_str()) {
            assert_eq!(value, expected, "{name}");
        }
    }
    assert_eq!(lite.raw().cmd(&["ROLE"]), redis.raw().cmd(&["ROLE"]));
    let master_link = |server: &Server| {
        let list = server.raw().cmd_text(&["CLIENT", "LIST", "TYPE", "master"]);
        let fields: Vec<String> = list
            .split_whitespace()
            .filter(|f| {
                ["flags=", "db=", "user=", "addr="]
                    .iter()
                    .any(|p| f.starts_with(p))
            })
            .map(str::to_string)
            .collect();
        fields
    };
    assert_eq!(master_link(&lite), master_link(&redis));
}

#[test]
fn info_during_a_full_sync_matches_a_redis_replica() {
    // A slow snapshot (0.2 s a key), which both replicas join within the master's delay.
    let Some(master) = Server::redis(&[
        "--repl-diskless-sync-delay",
        "1",
        "--rdb-key-save-delay",
        "200000",
    ]) else {
        return;
    };
    let mut m = master.raw();
    for i in 0..10 {
        ok(&mut m, &["SET", &format!("k{i}"), "v"]);
    }
    let port = master.port.to_string();
    let replica = |launch: Launch| {
        launch
            .args(&["--save", "", "--appendonly", "no"])
            .args(&["--replicaof", "127.0.0.1", &port])
            .start()
    };
    let (redis, lite) = (replica(Launch::redis()), replica(Launch::lite()));
    for server in [&redis, &lite] {
        let mut raw = server.raw();
        wait_until("the transfer to start", SYNC_TIMEOUT, || {
            info_field(&mut raw, "replication", "master_sync_in_progress") == "1"
        });
    }
    let (theirs, ours) = (replication_fields(&redis), replication_fields(&lite));
    let names =
        |fields: &[(String, String)]| fields.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    let value = |fields: &[(String, String)], name: &str| {
        fields.iter().find(|f| f.0 == name).map(|f| f.1.clone())
    };
    for name in [
        "master_link_status",
        "master_sync_total_bytes",
        "master_sync_perc",
        "slave_repl_offset",
    ] {
        assert_eq!(value(&ours, name), value(&theirs, name), "{name}");
    }
    let state = |server: &Server| Raw::cmd_text(&mut server.raw(), &["ROLE"]);
    assert_eq!(state(&lite), state(&redis));
    wait_link_up(&lite);
}

/// `bind-source-addr` is the address a replica's link leaves from, so its master lists the
/// replica there, as it lists a Redis replica with the same setting (suite: networking.tcl,
/// "CONFIG SET bind-source-addr"). Set at run time, it applies from the next link. (Protected
/// mode would refuse the replicas: only 127.0.0.1 and ::1 count as loopback there.)
#[test]
fn a_replica_connects_from_bind_source_addr() {
    let Some(master) = redis_master(&["--protected-mode", "no"]) else {
        println!(
            "SKIPPED: redis-server is not on PATH (in a_replica_connects_from_bind_source_addr)"
        );
        return;
    };
    let port = master.port.to_string();
    let redis = Launch::redis()
        .args(&["--save", "", "--appendonly", "no"])
        .args(&["--bind-source-addr", "127.0.0.2"])
        .args(&["--replicaof", "127.0.0.1", &port])
        .start();
    wait_link_up(&redis);
    let lite = lite_replica(&master, &[]);
    ok(
        &mut lite.raw(),
        &["CONFIG", "SET", "bind-source-addr", "127.0.0.3"],
    );
    ok(&mut lite.raw(), &["CLIENT", "KILL", "TYPE", "master"]);
    wait_until(
        "the replica to reconnect from 127.0.0.3",
        SYNC_TIMEOUT,
        || {
            let replicas = master
                .raw()
                .cmd_text(&["CLIENT", "LIST", "TYPE", "replica"]);
            replicas.contains("addr=127.0.0.2:") && replicas.contains("addr=127.0.0.3:")
        },
    );
    let mut m = master.raw();
    wait_until("both replicas listed by INFO", SYNC_TIMEOUT, || {
        let info = m.cmd_text(&["INFO", "replication"]);
        info.contains("ip=127.0.0.2,") && info.contains("ip=127.0.0.3,")
    });
}

/// replication.tcl's "Don't disconnect with replicas before loading transferred RDB when full
/// sync" and "Discard cache master before loading transferred RDB when full sync": a replica R
/// (with its own replica S) of master M1 is pointed at M2, which dies while it still prepares
/// the snapshot. As Redis 7.0 does, R keeps S (no "Connection with master lost" in S's log)
/// and M1's history (the replication ID along the chain unchanged); pointed back at M1 it
/// continues with a partial sync, and S never needed a second sync. The same chain of Redis
/// servers first, then of redis-lite servers.
#[test]
fn a_replica_keeps_its_replicas_until_a_new_masters_snapshot_loads() {
    for program in chain_programs("a_replica_keeps_its_replicas_until_a_new_masters_snapshot_loads")
    {
        let launch = || {
            chain_node(
                program,
                &["--enable-debug-command", "yes", "--logfile", "server.log"],
            )
        };
        let (m1, m2, r, s) = (launch(), launch(), launch(), launch());
        ok(&mut m1.raw(), &["SET", "a", "b"]);
        // Ten keys at a second each: M2's snapshot takes ten seconds.
        ok(&mut m2.raw(), &["DEBUG", "POPULATE", "10", "master2", "10"]);
        ok(
            &mut m2.raw(),
            &["CONFIG", "SET", "rdb-key-save-delay", "1000000"],
        );
        link_chain(&m1, &r, &s);
        // R counts S online only from S's first acknowledgement on.
        let mut raw_r = r.raw();
        wait_until("R to count S online", SYNC_TIMEOUT, || {
            info_field(&mut raw_r, "replication", "slave0").contains("state=online")
        });
        assert_eq!(s.raw().cmd_text(&["GET", "a"]), "$1\r\nb\r\n");
        replicaof(&r, &m2);
        let mut raw_m2 = m2.raw();
        wait_until("M2's snapshot for R to start", SYNC_TIMEOUT, || {
            info_field(&mut raw_m2, "persistence", "rdb_bgsave_in_progress") == "1"
        });
        raw_m2.send(&redis_lite_testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
        wait_until("M2 to be gone", SYNC_TIMEOUT, || {
            std::net::TcpStream::connect(("127.0.0.1", m2.port)).is_err()
        });
        let replid =
            |server: &Server| info_field(&mut server.raw(), "replication", "master_replid");
        let log = |server: &Server| {
            std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default()
        };
        let assert_s_kept = || {
            assert!(
                !log(&s).contains("Connection with master lost"),
                "{program:?}: S's log:\n{}\nR's log:\n{}",
                log(&s),
                log(&r)
            );
        };
        assert_s_kept();
        assert_eq!(replid(&r), replid(&m1), "{program:?}");
        assert_eq!(replid(&s), replid(&m1), "{program:?}");

        let stat = |server: &Server, field: &str| info_field(&mut server.raw(), "stats", field);
        let (full, partial) = (stat(&m1, "sync_full"), stat(&m1, "sync_partial_ok"));
        replicaof(&r, &m1);
        wait_link_up(&r);
        assert_eq!(
            stat(&m1, "sync_full"),
            full,
            "{program:?}: M1 made a full sync"
        );
        let partial: u64 = partial.parse().unwrap();
        assert_eq!(
            stat(&m1, "sync_partial_ok"),
            (partial + 1).to_string(),
            "{program:?}"
        );
        assert_eq!(replid(&r), replid(&m1), "{program:?}");
        assert_eq!(replid(&s), replid(&m1), "{program:?}");
        assert_s_kept();
        assert_eq!(stat(&r, "sync_full"), "1", "{program:?}: S synced again");
        assert_eq!(stat(&r, "sync_partial_ok"), "0", "{program:?}");
    }
}

/// A replica R with a replica S of its own is promoted: REPLICAOF NO ONE drops S (to learn of
/// R's new history) and INFO pipelined right after it no longer counts S, as Redis frees it
/// within the command; redis-lite counted S until S's connection ended (REDIS_SUITE item
/// 250). S then continues from R's backlog. Redis and redis-lite alike.
#[test]
fn a_promoted_replica_stops_counting_its_dropped_replicas_at_once() {
    for program in chain_programs("a_promoted_replica_stops_counting_its_dropped_replicas_at_once")
    {
        let (m, r, s) = (
            chain_node(program, &[]),
            chain_node(program, &[]),
            chain_node(program, &[]),
        );
        link_chain(&m, &r, &s);
        let mut raw_r = r.raw();
        wait_until("R to count S", SYNC_TIMEOUT, || {
            info_field(&mut raw_r, "replication", "connected_slaves") == "1"
        });
        let stat = |field: &str| info_field(&mut r.raw(), "stats", field);
        let (full, partial) = (stat("sync_full"), stat("sync_partial_ok"));

        let (reply, info) = info_right_after(&mut raw_r, &[b"REPLICAOF", b"NO", b"ONE"]);
        assert_eq!(reply, b"+OK\r\n", "{program:?}");
        assert!(
            info.contains("\r\nconnected_slaves:0\r\n"),
            "{program:?}: INFO right after REPLICAOF NO ONE:\n{info}"
        );

        wait_until("S to continue with R", SYNC_TIMEOUT, || {
            info_field(&mut raw_r, "replication", "connected_slaves") == "1"
                && info_field(&mut s.raw(), "replication", "master_link_status") == "up"
        });
        assert_eq!(stat("sync_full"), full, "{program:?}: S synced in full");
        let partial: u64 = partial.parse().unwrap();
        assert_eq!(
            stat("sync_partial_ok"),
            (partial + 1).to_string(),
            "{program:?}"
        );
    }
}

/// psync2.tcl, "Partial resync after restart using RDB aux fields" again: its load step sends
/// CLIENT KILL TYPE MASTER to a random replica each second. Redis frees the master's client
/// within the command, so INFO right after it says the link is down, and the test's wait for
/// every link up covers the partial resync that follows; redis-lite's link noticed the kill at
/// its next read timeout (up to 100 ms later) and INFO said up till then, so the test counted
/// that resync after its wait. Redis and redis-lite alike.
#[test]
fn client_kill_type_master_takes_the_link_down_at_once() {
    for program in chain_programs("client_kill_type_master_takes_the_link_down_at_once") {
        let (m, r) = (chain_node(program, &[]), chain_node(program, &[]));
        replicaof(&r, &m);
        wait_link_up(&r);
        let partial = || info_field(&mut m.raw(), "stats", "sync_partial_ok");
        let before: u64 = partial().parse().unwrap();
        let (reply, info) =
            info_right_after(&mut r.raw(), &[b"CLIENT", b"KILL", b"TYPE", b"MASTER"]);
        assert_eq!(reply, b":1\r\n", "{program:?}");
        assert!(
            info.contains("\r\nmaster_link_status:down\r\n"),
            "{program:?}: INFO right after CLIENT KILL TYPE MASTER:\n{info}"
        );
        wait_link_up(&r);
        assert_eq!(partial(), (before + 1).to_string(), "{program:?}");
    }
}

/// REPLICAOF NO ONE on a master answers +OK and changes nothing: Redis logs "MASTER MODE
/// enabled" only when a replica is promoted (psync2.tcl sends it to its master every cycle;
/// redis-lite logged the line each time). Redis and redis-lite alike.
#[test]
fn replicaof_no_one_on_a_master_logs_nothing() {
    for program in chain_programs("replicaof_no_one_on_a_master_logs_nothing") {
        let server = chain_node(program, &["--logfile", "server.log"]);
        let mut raw = server.raw();
        raw.expect_replies(&[(&["REPLICAOF", "NO", "ONE"], "+OK\r\n")]);
        // Logged once the command returned, if at all: the PING after it is answered later.
        raw.expect_replies(&[(&["PING"], "+PONG\r\n")]);
        let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap();
        assert!(!log.contains("MASTER MODE"), "{program:?}: {log}");
    }
}

/// replication.tcl, "Diskless load swapdb (async_loading)": a replica with `repl-diskless-load
/// swapdb` that full-syncs again from the master whose history it has (the same replication
/// ID) reads the snapshot aside while it keeps serving its data: INFO says `async_loading:1`
/// and `loading:0`, reads are served, and the commands Redis flags `no-async-loading`
/// (REPLICAOF, SAVE) and CONFIG SET of `appendonly` get `-LOADING`; the master aborting the
/// sync ends it with the old data in place. A real Redis replica of a real Redis master beside.
#[test]
fn a_swapdb_resync_of_the_same_history_loads_asynchronously() {
    let Some(master) = redis_master(&["--repl-diskless-sync", "yes", "--save", ""]) else {
        println!("SKIPPED: redis-server is not on PATH (in a_swapdb_resync_of_the_same_history_loads_asynchronously)");
        return;
    };
    let port = master.port.to_string();
    let replica = |launch: Launch| {
        let server = launch
            .args(&["--save", "", "--appendonly", "no"])
            .args(&[
                "--repl-diskless-load",
                "swapdb",
                "--replica-read-only",
                "no",
            ])
            .args(&["--replicaof", "127.0.0.1", &port])
            .start();
        wait_link_up(&server);
        server
    };
    let (redis, lite) = (replica(Launch::redis()), replica(Launch::lite()));
    let mut m = master.raw();
    // Redis's replica answers its clients during a load only every 2 MB it reads: keys of
    // 1 MB, left uncompressed, make that every other key.
    ok(&mut m, &["DEBUG", "POPULATE", "60", "master", "1000000"]);
    ok(&mut m, &["CONFIG", "SET", "rdbcompression", "no"]);
    for server in [&redis, &lite] {
        ok(&mut server.raw(), &["SET", "mykey", "myvalue"]);
    }
    // The next full sync of the same history is slow (0.2 s a key), and a partial one is
    // impossible: the backlog is too small for what follows.
    ok(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "200000"]);
    ok(&mut m, &["CONFIG", "SET", "repl-backlog-size", "16384"]);
    // Both replicas come back within the master's delay and share one transfer.
    ok(&mut m, &["CONFIG", "SET", "repl-diskless-sync-delay", "2"]);
    ok(&mut m, &["MULTI"]);
    ok(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    for i in 0..4 {
        ok(&mut m, &["SET", &format!("big{i}"), &"A".repeat(16384)]);
    }
    ok(&mut m, &["EXEC"]);
    let mut seen = Vec::new();
    for server in [&redis, &lite] {
        let mut raw = server.raw();
        wait_until("the replica to load asynchronously", SYNC_TIMEOUT, || {
            info_field(&mut raw, "persistence", "async_loading") == "1"
        });
        let started = info_field(&mut raw, "persistence", "loading_start_time");
        assert!(started.parse::<u64>().is_ok_and(|s| s > 0), "{started}");
        seen.push(vec![
            info_field(&mut raw, "persistence", "loading"),
            raw.cmd_text(&["GET", "mykey"]),
            raw.cmd_text(&["REPLICAOF", "NO", "ONE"]),
            raw.cmd_text(&["SAVE"]),
            raw.cmd_text(&["CONFIG", "SET", "appendonly", "no"]),
            raw.cmd_text(&["CONFIG", "SET", "maxmemory-samples", "5"]),
            info_field(&mut raw, "persistence", "async_loading"),
        ]);
    }
    assert_eq!(
        seen[0][2],
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert_eq!(seen[1], seen[0]);
    // The master gives the sync up: the old data stays.
    ok(&mut m, &["CONFIG", "SET", "repl-diskless-sync-delay", "30"]);
    ok(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    for (who, server) in [("redis", &redis), ("lite", &lite)] {
        let mut raw = server.raw();
        wait_until("the aborted load to end", SYNC_TIMEOUT, || {
            info_field(&mut raw, "persistence", "async_loading") == "0"
        });
        assert_eq!(
            raw.cmd_text(&["GET", "mykey"]),
            "$7\r\nmyvalue\r\n",
            "{who}"
        );
    }
    ok(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
}

/// A master played by the test: it answers a replica's handshake, sends an empty snapshot
/// with `+FULLRESYNC`, and then streams whatever the test writes, so that a replica can be fed
/// commands no real master would send as they are.
struct ScriptedMaster {
    stream: std::net::TcpStream,
    /// Bytes streamed after the snapshot: the replica's offset once it has applied them.
    streamed: u64,
}

impl ScriptedMaster {
    /// Waits for `replica`'s connection on `listener` and completes its full sync.
    fn accept(listener: &std::net::TcpListener) -> ScriptedMaster {
        use std::io::Write;
        let (mut stream, _) = listener.accept().unwrap();
        let mut raw = Raw::new(stream.try_clone().unwrap());
        loop {
            let request = redis_lite_testkit::Reply::parse(&raw.read_reply()).array();
            let verb = String::from_utf8_lossy(&request[0]).to_ascii_uppercase();
            match verb.as_str() {
                "PING" => stream.write_all(b"+PONG\r\n").unwrap(),
                "PSYNC" | "SYNC" => break,
                _ => stream.write_all(b"+OK\r\n").unwrap(),
            }
        }
        // An empty RDB (version 9, then EOF and a zero checksum, which means "not computed").
        let mut rdb = b"REDIS0009\xff".to_vec();
        rdb.extend_from_slice(&[0; 8]);
        let header = format!("+FULLRESYNC {} 0\r\n${}\r\n", "a".repeat(40), rdb.len());
        stream
            .write_all(&[header.into_bytes(), rdb].concat())
            .unwrap();
        ScriptedMaster {
            stream,
            streamed: 0,
        }
    }

    /// Streams `commands` and waits until `replica` has applied them.
    fn stream(&mut self, replica: &Server, commands: &[&[&str]]) {
        use std::io::Write;
        for args in commands {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            let bytes = redis_lite_testkit::encode(&args);
            self.stream.write_all(&bytes).unwrap();
            self.streamed += bytes.len() as u64;
        }
        let mut raw = replica.raw();
        let target = self.streamed.to_string();
        wait_until("the replica to apply the stream", SYNC_TIMEOUT, || {
            info_field(&mut raw, "replication", "master_link_status") == "up"
                && info_field(&mut raw, "replication", "slave_repl_offset") == target
        });
    }
}

/// A replica applying its master's EXPIRE, PEXPIREAT or GETEX with a time already past keeps
/// the key with that TTL (item 221), as Redis's `checkAlreadyExpired` does: hidden from its
/// clients' reads, but in DBSIZE and DEBUG DIGEST, until the master's DEL. redis-lite deleted
/// such keys at once.
#[test]
fn a_replica_keeps_keys_its_master_expired_in_the_past_until_the_del() {
    let mut seen = Vec::new();
    for program in [Program::Redis, Program::Lite] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let master_port = listener.local_addr().unwrap().port().to_string();
        let Some(replica) = Launch::of(program)
            .args(&["--save", "", "--appendonly", "no"])
            .args(&["--enable-debug-command", "yes"])
            .args(&["--replicaof", "127.0.0.1", &master_port])
            .start_if_available()
        else {
            redis_lite_testkit::skipped("redis-server is not on PATH");
            return;
        };
        let mut master = ScriptedMaster::accept(&listener);
        master.stream(
            &replica,
            &[
                &["SET", "absolute", "v"],
                &["PEXPIREAT", "absolute", "1000"],
                &["SET", "relative", "v"],
                &["EXPIRE", "relative", "-10"],
                &["SET", "getex", "v"],
                &["GETEX", "getex", "PXAT", "1000"],
            ],
        );
        let mut raw = replica.raw();
        let kept = [
            raw.cmd_text(&["DBSIZE"]),
            raw.cmd_text(&["EXISTS", "absolute", "relative", "getex"]),
            raw.cmd_text(&["DEBUG", "DIGEST"]),
        ];
        master.stream(&replica, &[&["DEL", "absolute", "relative", "getex"]]);
        let after_del = raw.cmd_text(&["DBSIZE"]);
        seen.push((kept, after_del));
    }
    assert_eq!(seen[0].0[0], ":3\r\n", "Redis changed: {:?}", seen[0]);
    assert_eq!(seen[0].0[1], ":0\r\n", "Redis changed");
    assert_eq!(seen[0].1, ":0\r\n", "Redis changed");
    assert_eq!(seen[1], seen[0]);
}
