//! Cluster replicas and failover: CLUSTER REPLICATE through the replication link, a replica
//! serving reads after READONLY and redirecting otherwise, CLUSTER FAILOVER's checks and
//! TAKEOVER, and REPLICAOF refused in cluster mode; two redis-lite nodes that know each other
//! from a nodes.conf the test writes.

use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::{wait_until, DataDir, Launch, Raw, Reply, Server};

const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

fn myid(raw: &mut Raw) -> String {
    String::from_utf8(Reply::parse(&raw.cmd(&["CLUSTER", "MYID"])).bytes()).unwrap()
}

fn cluster_nodes(raw: &mut Raw) -> String {
    String::from_utf8(Reply::parse(&raw.cmd(&["CLUSTER", "NODES"])).bytes()).unwrap()
}

/// A master A serving every slot, and a node B that knows A from its nodes.conf, an empty
/// master.
fn master_and_empty_node(tag: &str) -> (Server, Server, String, String, DataDir) {
    let a = Launch::lite().cluster_node().start();
    let mut raw_a = a.raw();
    let reply = raw_a.cmd_text(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    assert_eq!(reply, "+OK\r\n");
    let id_a = myid(&mut raw_a);
    let id_b = "b".repeat(40);
    let dir = DataDir::new(tag);
    std::fs::write(
        dir.join("nodes.conf"),
        format!(
            "{id_b} 127.0.0.1:0@0 myself,master - 0 0 0 connected\n\
             {id_a} 127.0.0.1:{}@{} master - 0 0 1 connected 0-16383\n\
             vars currentEpoch 1 lastVoteEpoch 0\n",
            a.port,
            a.cluster_port.unwrap()
        ),
    )
    .unwrap();
    let b = Launch::lite().cluster_node().dir(&dir.0).start();
    wait_until("A serves", SYNC_TIMEOUT, || {
        raw_a.cmd_text(&["SET", "before", "1"]) == "+OK\r\n"
    });
    (a, b, id_a, id_b, dir)
}

#[test]
fn cluster_replicate_makes_a_replica_that_redirects_unless_readonly() {
    let (a, b, id_a, id_b, _dir) = master_and_empty_node("cluster-replicate");
    let mut raw_b = b.raw();
    // CLUSTER KEYSLOT after = 8964
    let moved = format!("-MOVED 8964 127.0.0.1:{}\r\n", a.port);
    raw_b.expect_replies(&[
        (
            &["CLUSTER", "REPLICATE", "nobody"],
            "-ERR Unknown node nobody\r\n",
        ),
        (
            &["CLUSTER", "REPLICATE", &id_b],
            "-ERR Can't replicate myself\r\n",
        ),
        (
            &["REPLICAOF", "127.0.0.1", &a.port.to_string()],
            "-ERR REPLICAOF not allowed in cluster mode.\r\n",
        ),
        (
            &["SLAVEOF", "NO", "ONE"],
            "-ERR REPLICAOF not allowed in cluster mode.\r\n",
        ),
        (
            &["CLUSTER", "FAILOVER"],
            "-ERR You should send CLUSTER FAILOVER to a replica\r\n",
        ),
        (&["CLUSTER", "REPLICATE", &id_a], "+OK\r\n"),
    ]);
    wait_until("B synced with A", SYNC_TIMEOUT, || {
        testkit::info_field(&mut raw_b, "replication", "master_link_status") == "up"
    });
    let mut raw_a = a.raw();
    assert_eq!(raw_a.cmd_text(&["SET", "after", "2"]), "+OK\r\n");
    wait_until("B has A's write", SYNC_TIMEOUT, || {
        raw_b.cmd_text(&["READONLY"]);
        let value = raw_b.cmd_text(&["GET", "after"]);
        raw_b.cmd_text(&["READWRITE"]);
        value == "$1\r\n2\r\n"
    });
    raw_b.expect_replies(&[
        (&["GET", "after"], &moved),
        (&["SET", "after", "3"], &moved),
        (&["READONLY"], "+OK\r\n"),
        (&["GET", "before"], "$1\r\n1\r\n"),
        (&["SET", "after", "3"], &moved),
        (&["READWRITE"], "+OK\r\n"),
        (
            &["CLUSTER", "REPLICATE", &id_b],
            "-ERR Can't replicate myself\r\n",
        ),
    ]);
    let nodes = cluster_nodes(&mut raw_b);
    assert!(
        nodes.contains(&format!("{id_b} ")) && nodes.contains(&format!("myself,slave {id_a} ")),
        "{nodes}"
    );
    let replicas = Reply::parse(&raw_b.cmd(&["CLUSTER", "REPLICAS", &id_a]));
    let Reply::Array(lines) = replicas else {
        panic!("CLUSTER REPLICAS: {replicas:?}")
    };
    assert_eq!(lines.len(), 1);
    assert!(
        String::from_utf8(lines[0].clone().bytes())
            .unwrap()
            .starts_with(&format!("{id_b} ")),
        "{lines:?}"
    );
    raw_b.expect_replies(&[(
        &["CLUSTER", "REPLICAS", &id_b],
        "-ERR The specified node is not a master\r\n",
    )]);
}

#[test]
fn cluster_failover_takeover_promotes_a_replica_under_a_new_epoch() {
    let (a, b, id_a, id_b, _dir) = master_and_empty_node("cluster-takeover");
    let mut raw_b = b.raw();
    raw_b.expect_replies(&[
        (
            &["CLUSTER", "FAILOVER", "sideways"],
            "-ERR syntax error\r\n",
        ),
        (&["CLUSTER", "REPLICATE", &id_a], "+OK\r\n"),
    ]);
    wait_until("B synced with A", SYNC_TIMEOUT, || {
        testkit::info_field(&mut raw_b, "replication", "master_link_status") == "up"
    });
    raw_b.expect_replies(&[(&["CLUSTER", "FAILOVER", "TAKEOVER"], "+OK\r\n")]);
    assert_eq!(
        testkit::info_field(&mut raw_b, "replication", "role"),
        "master"
    );
    let nodes = cluster_nodes(&mut raw_b);
    let mine = nodes.lines().find(|l| l.starts_with(&id_b)).unwrap();
    assert!(
        mine.contains("myself,master - ") && mine.ends_with(" 2 connected 0-16383"),
        "{nodes}"
    );
    let theirs = nodes.lines().find(|l| l.starts_with(&id_a)).unwrap();
    assert!(
        theirs.contains(" master - ") && !theirs.contains(" 0-16383"),
        "{nodes}"
    );
    let info = raw_b.cmd_text(&["CLUSTER", "INFO"]);
    assert!(
        info.contains("cluster_current_epoch:2") && info.contains("cluster_my_epoch:2"),
        "{info}"
    );
    // The data came along, and B now takes writes.
    raw_b.expect_replies(&[
        (&["GET", "before"], "$1\r\n1\r\n"),
        (&["SET", "before", "2"], "+OK\r\n"),
        (
            &["CLUSTER", "FAILOVER", "FORCE"],
            "-ERR You should send CLUSTER FAILOVER to a replica\r\n",
        ),
    ]);
    drop(a);
}
