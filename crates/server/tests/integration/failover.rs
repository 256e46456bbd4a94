//! FAILOVER: a master hands its role to a replica. Without TO the first replica to catch up
//! takes over and the other follows it through the old master (chained, as in Redis); TO names
//! the replica; a TIMEOUT aborts while the target lags, or with FORCE fails over anyway; ABORT
//! stops it. Writes wait while it runs (reads do not) and then get READONLY or run, as the
//! outcome says. The error texts are compared with real Redis, and real Redis takes part on
//! either side (a Redis master failing over to a redis-lite replica, and the reverse).

use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::{info_field, skipped, wait_until, Launch, Program, Raw, Replicated, Server};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A master and replicas of the given programs, with DEBUG on and no persistence; None (the
/// test says it is skipped) when one is missing.
fn group(test: &str, master: Program, replicas: &[Program]) -> Option<Replicated> {
    let launch = |program| {
        Launch::of(program).args(&[
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ])
    };
    if !master.available() || !replicas.iter().all(|p| p.available()) {
        skipped(&format!("redis-server is not on PATH (in {test})"));
        return None;
    }
    Some(Replicated::start(
        launch(master),
        replicas.iter().map(|&p| launch(p)).collect(),
    ))
}

fn failover_state(server: &Server) -> String {
    info_field(&mut server.raw(), "replication", "master_failover_state")
}

fn role(server: &Server) -> String {
    info_field(&mut server.raw(), "replication", "role")
}

fn wait_failover_ended(server: &Server) {
    wait_until("the failover to end", TIMEOUT, || {
        failover_state(server) == "no-failover"
    });
}

fn wait_link_up(replica: &Server) {
    wait_until("the replica's link to be up", TIMEOUT, || {
        info_field(&mut replica.raw(), "replication", "master_link_status") == "up"
    });
}

fn signal(server: &Server, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[track_caller]
fn ok(raw: &mut Raw, args: &[&str]) {
    assert_eq!(raw.cmd_text(args), "+OK\r\n", "{args:?}");
}

fn writes(server: &Server, round: usize) {
    let mut raw = server.raw();
    for i in 0..50 {
        ok(
            &mut raw,
            &["SET", &format!("k:{round}:{i}"), &i.to_string()],
        );
    }
    raw.cmd_text(&["RPUSH", "list", &round.to_string()]);
    raw.cmd_text(&["HSET", "hash", &round.to_string(), "v"]);
    raw.cmd_text(&["SET", "ttl", "v", "PX", "100000"]);
}

/// Every node has the same data (their DEBUG DIGEST agree), once the stream reached them.
fn wait_digests_equal(nodes: &[&Server]) {
    wait_until("equal DEBUG DIGEST on every node", TIMEOUT, || {
        let digests: Vec<String> = nodes
            .iter()
            .map(|n| n.raw().cmd_text(&["DEBUG", "DIGEST"]))
            .collect();
        digests.iter().all(|d| *d == digests[0])
    });
}

fn port(server: &Server) -> String {
    server.port.to_string()
}

/// FAILOVER without TO: the replicas are caught up, one takes over (the old master becomes
/// its replica, the other replica follows through the old master), states go
/// waiting-for-sync then no-failover, a write on the old master gets READONLY, a write on the
/// new master reaches everyone, and no node needed a full sync.
#[test]
fn failover_to_any_replica_promotes_one_and_chains_the_rest() {
    let Some(set) = group(
        "failover_to_any_replica_promotes_one_and_chains_the_rest",
        Program::Lite,
        &[Program::Lite, Program::Lite],
    ) else {
        return;
    };
    writes(&set.master, 1);
    set.wait_replicated();
    let full_syncs = info_field(&mut set.master.raw(), "stats", "sync_full");
    let mut master = set.master.raw();
    ok(&mut master, &["FAILOVER"]);
    wait_failover_ended(&set.master);
    assert_eq!(role(&set.master), "slave");
    let promoted: Vec<&Server> = set
        .replicas
        .iter()
        .filter(|r| role(r) == "master")
        .collect();
    assert_eq!(promoted.len(), 1, "exactly one replica took over");
    let new_master = promoted[0];
    let other = set
        .replicas
        .iter()
        .find(|r| r.port != new_master.port)
        .unwrap();
    assert_eq!(
        info_field(&mut set.master.raw(), "replication", "master_port"),
        port(new_master)
    );
    assert_eq!(
        master.cmd_text(&["SET", "x", "1"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    wait_link_up(&set.master);
    wait_link_up(other);
    writes(new_master, 2);
    wait_digests_equal(&[new_master, &set.master, other]);
    assert_eq!(
        info_field(&mut other.raw(), "replication", "master_port"),
        port(&set.master),
        "Redis does not move the other replicas"
    );
    assert_eq!(info_field(&mut new_master.raw(), "stats", "sync_full"), "0");
    assert_eq!(
        info_field(&mut set.master.raw(), "stats", "sync_full"),
        full_syncs
    );
    assert_eq!(
        info_field(&mut new_master.raw(), "stats", "sync_partial_ok"),
        "1"
    );
}

/// FAILOVER TO a replica that is stopped: the master waits for it (waiting-for-sync), serving
/// reads but holding writes; once it runs again and catches up it takes over, and the held
/// write is answered READONLY by what is now a replica.
#[test]
fn failover_to_a_named_replica_holds_writes_until_it_took_over() {
    let Some(set) = group(
        "failover_to_a_named_replica_holds_writes_until_it_took_over",
        Program::Lite,
        &[Program::Lite, Program::Lite],
    ) else {
        return;
    };
    let target = &set.replicas[1];
    signal(target, "STOP");
    writes(&set.master, 1);
    let mut master = set.master.raw();
    ok(&mut master, &["FAILOVER", "TO", "127.0.0.1", &port(target)]);
    assert_eq!(failover_state(&set.master), "waiting-for-sync");
    assert_eq!(
        master.cmd_text(&["FAILOVER"]),
        "-ERR FAILOVER already in progress.\r\n"
    );
    assert_eq!(master.cmd_text(&["GET", "k:1:7"]), "$1\r\n7\r\n");
    let mut writer = set.master.raw();
    writer.send(&testkit::encode(&[b"SET", b"held", b"1"]));
    // Reads go on while the write waits.
    assert_eq!(master.cmd_text(&["EXISTS", "held"]), ":0\r\n");
    signal(target, "CONT");
    wait_failover_ended(&set.master);
    assert_eq!(
        String::from_utf8(writer.read_reply()).unwrap(),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(role(target), "master");
    assert_eq!(role(&set.master), "slave");
    wait_link_up(&set.master);
    wait_link_up(&set.replicas[0]);
    writes(target, 2);
    wait_digests_equal(&[target, &set.master, &set.replicas[0]]);
    assert_eq!(info_field(&mut target.raw(), "stats", "sync_full"), "0");
}

/// A TIMEOUT that passes while the target is stopped aborts the failover: the master stays a
/// master and the write held meanwhile runs.
#[test]
fn a_timeout_aborts_and_the_held_writes_run() {
    let Some(set) = group(
        "a_timeout_aborts_and_the_held_writes_run",
        Program::Lite,
        &[Program::Lite],
    ) else {
        return;
    };
    let replica = &set.replicas[0];
    signal(replica, "STOP");
    let mut master = set.master.raw();
    ok(&mut master, &["SET", "before", "1"]);
    ok(
        &mut master,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &port(replica),
            "TIMEOUT",
            "300",
        ],
    );
    let mut writer = set.master.raw();
    writer.send(&testkit::encode(&[b"INCR", b"held"]));
    wait_failover_ended(&set.master);
    assert_eq!(String::from_utf8(writer.read_reply()).unwrap(), ":1\r\n");
    assert_eq!(role(&set.master), "master");
    signal(replica, "CONT");
    set.wait_replicated();
    wait_digests_equal(&[&set.master, replica]);
    assert_eq!(role(replica), "slave");
}

/// FAILOVER ABORT while waiting: back to normal at once, writes run again; ABORT with no
/// failover is an error.
#[test]
fn abort_ends_the_wait_and_resumes_writes() {
    let Some(set) = group(
        "abort_ends_the_wait_and_resumes_writes",
        Program::Lite,
        &[Program::Lite],
    ) else {
        return;
    };
    let replica = &set.replicas[0];
    signal(replica, "STOP");
    let mut master = set.master.raw();
    ok(&mut master, &["SET", "before", "1"]);
    ok(
        &mut master,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &port(replica),
            "TIMEOUT",
            "60000",
        ],
    );
    assert_eq!(failover_state(&set.master), "waiting-for-sync");
    let mut writer = set.master.raw();
    writer.send(&testkit::encode(&[b"SET", b"held", b"1"]));
    ok(&mut master, &["FAILOVER", "ABORT"]);
    assert_eq!(failover_state(&set.master), "no-failover");
    assert_eq!(String::from_utf8(writer.read_reply()).unwrap(), "+OK\r\n");
    assert_eq!(
        master.cmd_text(&["FAILOVER", "ABORT"]),
        "-ERR No failover in progress.\r\n"
    );
    signal(replica, "CONT");
    set.wait_replicated();
    wait_digests_equal(&[&set.master, replica]);
}

/// FORCE: the timeout passes with the target stopped, and the master fails over anyway
/// (failover-in-progress until the target answers); everyone ends with the same data.
#[test]
fn force_fails_over_when_the_timeout_passes() {
    let Some(set) = group(
        "force_fails_over_when_the_timeout_passes",
        Program::Lite,
        &[Program::Lite],
    ) else {
        return;
    };
    let replica = &set.replicas[0];
    signal(replica, "STOP");
    let mut master = set.master.raw();
    ok(&mut master, &["SET", "unacknowledged", "1"]);
    ok(
        &mut master,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &port(replica),
            "TIMEOUT",
            "100",
            "FORCE",
        ],
    );
    wait_until("the failover to start", TIMEOUT, || {
        failover_state(&set.master) == "failover-in-progress"
    });
    assert_eq!(role(&set.master), "slave");
    signal(replica, "CONT");
    wait_failover_ended(&set.master);
    assert_eq!(role(replica), "master");
    wait_link_up(&set.master);
    ok(&mut replica.raw(), &["SET", "after", "1"]);
    wait_digests_equal(&[&set.master, replica]);
}

/// The replies to each command of `script`, in order.
fn replies(raw: &mut Raw, script: &[Vec<String>]) -> Vec<String> {
    script
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            raw.cmd_text(&args)
        })
        .collect()
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// The errors of every check, in Redis's order, compared with a real Redis group set up the
/// same way: alone (no replicas), then with a stopped replica while a failover waits.
#[test]
fn errors_match_redis() {
    let alone: Vec<Vec<String>> = [
        "FAILOVER ABORT",
        "FAILOVER",
        "FAILOVER TIMEOUT 0",
        "FAILOVER TIMEOUT -5",
        "FAILOVER TIMEOUT abc",
        "FAILOVER TO host notaport",
        "FAILOVER TO host",
        "FAILOVER FORCE",
        "FAILOVER TIMEOUT 5 TIMEOUT 5",
        "FAILOVER FORCE FORCE",
        "FAILOVER TO h 1 TO h 2",
        "FAILOVER ABORT TIMEOUT 5",
        "FAILOVER bogus",
        "FAILOVER TO 127.0.0.1 1 TIMEOUT 10 FORCE",
    ]
    .iter()
    .map(|l| words(l))
    .collect();
    let mut got = Vec::new();
    for program in [Program::Lite, Program::Redis] {
        let Some(set) = group("errors_match_redis", program, &[program]) else {
            return;
        };
        let replica = &set.replicas[0];
        let mut raw = set.master.raw();
        let mut before = Vec::new();
        // Alone: the replica leaves first.
        ok(&mut replica.raw(), &["REPLICAOF", "NO", "ONE"]);
        wait_until("the replica to leave", TIMEOUT, || {
            info_field(&mut raw, "replication", "connected_slaves") == "0"
        });
        before.extend(replies(&mut raw, &alone));
        ok(
            &mut replica.raw(),
            &["REPLICAOF", "127.0.0.1", &port(&set.master)],
        );
        set.wait_replicated();
        wait_until("the replica to be online", TIMEOUT, || {
            raw.cmd_text(&["INFO", "replication"])
                .contains("state=online")
        });
        let target = format!("FAILOVER TO 127.0.0.1 {}", port(replica));
        let with_replica: Vec<Vec<String>> = [
            "FAILOVER FORCE TIMEOUT 100".to_string(),
            format!("{target} FORCE"),
            "FAILOVER TO 127.0.0.1 1".to_string(),
            "FAILOVER TO localhost 1 TIMEOUT 5".to_string(),
        ]
        .iter()
        .map(|l| words(l))
        .collect();
        before.extend(replies(&mut raw, &with_replica));
        before.push(replica.raw().cmd_text(&["FAILOVER"]));
        before.push(replica.raw().cmd_text(&["PSYNC", "nope", "1", "FAILOVER"]));
        signal(replica, "STOP");
        ok(&mut raw, &["SET", "k", "v"]);
        before.extend(replies(
            &mut raw,
            &[words(&format!("{target} TIMEOUT 60000"))],
        ));
        let waiting: Vec<Vec<String>> = [
            "FAILOVER",
            "FAILOVER TO 127.0.0.1 1",
            "REPLICAOF NO ONE",
            "REPLICAOF 127.0.0.1 1",
            "SLAVEOF 127.0.0.1 1",
            "PSYNC ? -1",
            "SYNC",
            "GET k",
            "FAILOVER ABORT",
            "FAILOVER ABORT",
        ]
        .iter()
        .map(|l| words(l))
        .collect();
        before.extend(replies(&mut raw, &waiting));
        signal(replica, "CONT");
        got.push(before);
    }
    assert_eq!(got[0], got[1]);
    for expected in [
        "-ERR FAILOVER requires connected replicas.\r\n",
        "-ERR FAILOVER target HOST and PORT is not a replica.\r\n",
        "-ERR PSYNC FAILOVER replid must match my replid.\r\n",
        "-ERR FAILOVER already in progress.\r\n",
        "-ERR REPLICAOF not allowed while failing over.\r\n",
        "-NOMASTERLINK Can't SYNC while failing over\r\n",
    ] {
        assert!(
            got[0].iter().any(|r| r == expected),
            "{expected} in {got:?}"
        );
    }
}

/// A real Redis master fails over to a redis-lite replica (which answers its
/// `PSYNC ... FAILOVER`), and the same between a redis-lite master and a real Redis replica;
/// the data agrees after each, and the new master's writes reach the old one.
#[test]
fn failover_between_redis_and_redis_lite_both_ways() {
    for (master, replica) in [
        (Program::Redis, Program::Lite),
        (Program::Lite, Program::Redis),
    ] {
        let Some(set) = group(
            "failover_between_redis_and_redis_lite_both_ways",
            master,
            &[replica],
        ) else {
            return;
        };
        let target = &set.replicas[0];
        writes(&set.master, 1);
        set.wait_replicated();
        ok(
            &mut set.master.raw(),
            &[
                "FAILOVER",
                "TO",
                "127.0.0.1",
                &port(target),
                "TIMEOUT",
                "10000",
            ],
        );
        wait_failover_ended(&set.master);
        assert_eq!(role(target), "master", "{master:?} to {replica:?}");
        assert_eq!(role(&set.master), "slave", "{master:?} to {replica:?}");
        wait_link_up(&set.master);
        writes(target, 2);
        wait_digests_equal(&[target, &set.master]);
        assert_eq!(info_field(&mut target.raw(), "stats", "sync_full"), "0");
    }
}

/// What the pause holds, as Redis's write pause does: a write queued in MULTI, a legacy EVAL
/// (it may write), PUBLISH; not a script that declared `no-writes`, nor EVAL_RO, nor reads.
/// Held commands run once the failover is aborted.
#[test]
fn the_pause_holds_writes_scripts_that_may_write_and_publish() {
    let Some(set) = group(
        "the_pause_holds_writes_scripts_that_may_write_and_publish",
        Program::Lite,
        &[Program::Lite],
    ) else {
        return;
    };
    let replica = &set.replicas[0];
    signal(replica, "STOP");
    let mut master = set.master.raw();
    ok(&mut master, &["SET", "k", "v"]);
    ok(
        &mut master,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &port(replica),
            "TIMEOUT",
            "60000",
        ],
    );
    let mut subscriber = set.master.raw();
    subscriber.cmd_text(&["SUBSCRIBE", "ch"]);
    let mut multi = set.master.raw();
    ok(&mut multi, &["MULTI"]);
    multi.send(&testkit::encode(&[b"SET", b"m", b"1"]));
    let mut eval = set.master.raw();
    eval.send(&testkit::encode(&[
        b"EVAL",
        b"return redis.call('set', 'e', '1')",
        b"0",
    ]));
    let mut publish = set.master.raw();
    publish.send(&testkit::encode(&[b"PUBLISH", b"ch", b"hello"]));
    // Not held: they answer while the others wait.
    let mut reads = set.master.raw();
    assert_eq!(
        reads.cmd_text(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get', 'k')",
            "0"
        ]),
        "$1\r\nv\r\n"
    );
    assert_eq!(
        reads.cmd_text(&["EVAL_RO", "return redis.call('get', 'k')", "0"]),
        "$1\r\nv\r\n"
    );
    assert_eq!(reads.cmd_text(&["EXISTS", "m", "e"]), ":0\r\n");
    ok(&mut master, &["FAILOVER", "ABORT"]);
    assert_eq!(
        String::from_utf8(multi.read_reply()).unwrap(),
        "+QUEUED\r\n"
    );
    assert_eq!(multi.cmd_text(&["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(String::from_utf8(eval.read_reply()).unwrap(), "+OK\r\n");
    assert_eq!(String::from_utf8(publish.read_reply()).unwrap(), ":1\r\n");
    assert_eq!(
        String::from_utf8(subscriber.read_reply()).unwrap(),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
    );
    signal(replica, "CONT");
    set.wait_replicated();
    wait_digests_equal(&[&set.master, replica]);
}

#[test]
fn command_docs_and_info_match_redis() {
    testkit::differential(
        &[
            &["COMMAND", "DOCS", "FAILOVER"],
            &["COMMAND", "INFO", "FAILOVER", "PSYNC"],
        ],
        false,
    );
}
