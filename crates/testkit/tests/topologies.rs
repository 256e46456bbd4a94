//! The multi-node set-ups themselves: what a replication or cluster test will rely on holds
//! once `start` returns, against real Redis and, for the cluster, redis-lite nodes joined by
//! the cluster bus. Each test says it was skipped when redis-server is not installed.

use redis_lite_testkit::{Cluster, Program, Replicated};

#[test]
fn a_write_on_the_master_is_readable_on_every_replica() {
    let Some(set) = Replicated::of(Program::Redis, &[Program::Redis, Program::Redis]) else {
        return;
    };
    assert_eq!(set.replicas.len(), 2);
    let mut master = set.master.raw();
    assert_eq!(master.cmd_text(&["SET", "greeting", "hello"]), "+OK\r\n");
    set.wait_replicated();
    for replica in &set.replicas {
        let mut raw = replica.raw();
        assert_eq!(raw.cmd_text(&["GET", "greeting"]), "$5\r\nhello\r\n");
        assert!(raw.cmd_text(&["ROLE"]).starts_with("*5\r\n$5\r\nslave\r\n"));
        // A replica refuses writes: the link, not the test, is what put the key there.
        assert_eq!(
            raw.cmd_text(&["SET", "greeting", "changed"]),
            "-READONLY You can't write against a read only replica.\r\n"
        );
    }
}

#[test]
fn a_cluster_serves_each_key_on_its_node_and_redirects_from_the_others() {
    for program in [Program::Redis, Program::Lite] {
        serves_and_redirects(program);
    }
}

fn serves_and_redirects(program: Program) {
    let Some(cluster) = Cluster::of(program, 3) else {
        return;
    };
    // The nodes' ranges follow each other and cover every slot once.
    let mut next = 0u32;
    for i in 0..cluster.nodes.len() {
        let slots = cluster.slots(i);
        assert_eq!(u32::from(*slots.start()), next);
        next = u32::from(*slots.end()) + 1;
    }
    assert_eq!(next, 16384);
    // Every node knows all three ranges.
    for node in &cluster.nodes {
        let reply = node.raw().cmd_text(&["CLUSTER", "SLOTS"]);
        assert!(reply.starts_with("*3\r\n"), "{reply}");
    }
    for key in ["user:1", "user:2", "{user}:cart", "counter"] {
        let slot = cluster.key_slot(key);
        let owner = cluster.node_for(key);
        assert!(cluster.slots(owner).contains(&slot));
        let mut right = cluster.nodes[owner].raw();
        assert_eq!(right.cmd_text(&["SET", key, "v"]), "+OK\r\n", "{key}");
        assert_eq!(right.cmd_text(&["GET", key]), "$1\r\nv\r\n", "{key}");
        let moved = format!("-MOVED {slot} 127.0.0.1:{}\r\n", cluster.nodes[owner].port);
        for (i, node) in cluster.nodes.iter().enumerate() {
            if i != owner {
                assert_eq!(
                    node.raw().cmd_text(&["GET", key]),
                    moved,
                    "{key} on node {i}"
                );
            }
        }
    }
}
