//! `-c`, cluster mode: redis-lite-cli and Debian's redis-cli run the same commands against the
//! same two-master cluster, following -MOVED to the node that serves a key and -ASK (with
//! ASKING) to the node importing a slot; stdout, stderr and exit status must be identical, in
//! one-shot mode and with commands piped in (where redis-cli says where it was redirected).

mod common;

use common::assert_same_as_redis_cli;
use redis_lite_testkit::{installed, skipped, Cluster, Program};

/// Runs `args` (after `-c -p port`) through both clients and compares everything.
fn same(port: u16, args: &[&str], stdin: &[u8]) {
    let port = port.to_string();
    let mut all = vec!["-c", "-p", &port];
    all.extend_from_slice(args);
    assert_same_as_redis_cli(&all, stdin);
}

/// Both clients through MOVED and ASK on `cluster`, whose node 0 serves slots 0-8191 and node 1
/// the rest.
fn follow_redirections(cluster: &Cluster) {
    let (first, second) = (&cluster.nodes[0], &cluster.nodes[1]);
    // "b" and "c" hash to node 0's slots, "a" to node 1's: checked, not assumed.
    assert_eq!(cluster.node_for("b"), 0);
    assert_eq!(cluster.node_for("a"), 1);
    assert_eq!(cluster.node_for("c"), 0);
    let p = first.port;
    same(p, &["SET", "a", "on-the-second"], b"");
    same(p, &["GET", "a"], b"");
    same(p, &["--no-raw", "GET", "a"], b"");
    same(p, &["-r", "2", "GET", "a"], b"");
    same(p, &["SET", "b", "on-the-first"], b"");
    same(p, &[], b"SET a again\nGET a\nGET b\nGET a\nMGET a b\n");

    // Slot of "c" half-way from node 0 to node 1: "c" already moved, "{c}stays" not yet.
    let slot = cluster.key_slot("c").to_string();
    let id = |node: &redis_lite_testkit::Server| {
        let mut raw = node.raw();
        let reply = raw.cmd(&["CLUSTER", "MYID"]);
        redis_lite_testkit::Reply::parse(&reply).bytes()
    };
    let (id_first, id_second) = (id(first), id(second));
    let (id_first, id_second) = (
        std::str::from_utf8(&id_first).unwrap(),
        std::str::from_utf8(&id_second).unwrap(),
    );
    let mut raw_first = first.raw();
    let mut raw_second = second.raw();
    raw_first.expect_replies(&[
        (&["SET", "c", "moving"], "+OK\r\n"),
        (&["SET", "{c}stays", "here"], "+OK\r\n"),
    ]);
    raw_second.expect_replies(&[(
        &["CLUSTER", "SETSLOT", &slot, "IMPORTING", id_first],
        "+OK\r\n",
    )]);
    let port_second = second.port.to_string();
    raw_first.expect_replies(&[
        (
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", id_second],
            "+OK\r\n",
        ),
        (
            &[
                "MIGRATE",
                "127.0.0.1",
                &port_second,
                "",
                "0",
                "5000",
                "KEYS",
                "c",
            ],
            "+OK\r\n",
        ),
    ]);
    same(p, &["GET", "c"], b"");
    same(p, &["GET", "{c}stays"], b"");
    same(p, &[], b"GET c\nGET c\nGET {c}stays\nGET b\n");
}

#[test]
fn cluster_mode_follows_moved_and_ask_like_redis_cli_on_redis() {
    if !installed("redis-cli") {
        skipped("redis-cli is not on PATH (in cluster_mode_follows_moved_and_ask_like_redis_cli_on_redis)");
        return;
    }
    let Some(cluster) = Cluster::of(Program::Redis, 2) else {
        return;
    };
    follow_redirections(&cluster);
}

#[test]
fn cluster_mode_follows_moved_and_ask_like_redis_cli_on_redis_lite() {
    if !installed("redis-cli") {
        skipped("redis-cli is not on PATH (in cluster_mode_follows_moved_and_ask_like_redis_cli_on_redis_lite)");
        return;
    }
    let Some(cluster) = Cluster::of(Program::Lite, 2) else {
        return;
    };
    follow_redirections(&cluster);
}
