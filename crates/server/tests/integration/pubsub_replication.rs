//! PUBLISH and SPUBLISH reach the subscribers of replicas, as Redis propagates them to
//! replicas (and not to the AOF): a redis-lite replica and a real Redis replica of a
//! redis-lite master.

use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{wait_until, DataDir, Launch, Program, Raw, Replicated, Reply, Server};

/// Subscribes on `replica` to the classic channel `news` and the shard channel `shard`.
fn subscriber(replica: &Server) -> Raw {
    let mut raw = replica.raw();
    raw.cmd(&["SUBSCRIBE", "news"]);
    raw.cmd(&["SSUBSCRIBE", "shard"]);
    raw
}

/// Publishes on the master and returns what the replica's subscriber got.
fn published_through(set: &Replicated) -> Vec<Vec<Vec<u8>>> {
    let mut sub = subscriber(&set.replicas[0]);
    let mut master = set.master.raw();
    // Wait until the subscriptions are in place on the replica.
    wait_until(
        "the replica's subscriptions",
        Duration::from_secs(5),
        || {
            set.replicas[0]
                .raw()
                .cmd_text(&["PUBSUB", "NUMSUB", "news"])
                == "*2\r\n$4\r\nnews\r\n:1\r\n"
        },
    );
    master.cmd(&["PUBLISH", "news", "hello"]);
    master.cmd(&["MULTI"]);
    master.cmd(&["SET", "k", "v"]);
    master.cmd(&["PUBLISH", "news", "in a transaction"]);
    master.cmd(&["EXEC"]);
    master.cmd(&["SPUBLISH", "shard", "sharded"]);
    (0..3)
        .map(|_| Reply::parse(&sub.read_reply()).array())
        .collect()
}

fn expected() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![b"message".to_vec(), b"news".to_vec(), b"hello".to_vec()],
        vec![
            b"message".to_vec(),
            b"news".to_vec(),
            b"in a transaction".to_vec(),
        ],
        vec![b"smessage".to_vec(), b"shard".to_vec(), b"sharded".to_vec()],
    ]
}

#[test]
fn publish_reaches_the_subscribers_of_a_redis_lite_replica() {
    let set = Replicated::of(Program::Lite, &[Program::Lite]).unwrap();
    assert_eq!(published_through(&set), expected());
}

#[test]
fn publish_reaches_the_subscribers_of_a_redis_replica() {
    let Some(set) = Replicated::of(Program::Lite, &[Program::Redis]) else {
        return;
    };
    assert_eq!(published_through(&set), expected());
}

/// The master's AOF keeps the writes and not the messages, as Redis's does.
#[test]
fn publish_is_not_written_to_the_aof() {
    let dir = DataDir::new("publish-aof");
    let master = Launch::lite().dir(&dir.0).args(&[
        "--appendonly",
        "yes",
        "--save",
        "",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let replica = Launch::lite().args(&["--save", "", "--appendonly", "no"]);
    let set = Replicated::start(master, vec![replica]);
    let mut raw = set.master.raw();
    raw.cmd(&["PUBLISH", "news", "not-in-the-aof"]);
    raw.cmd(&["SET", "k", "in-the-aof"]);
    set.wait_replicated();
    let mut aof = Vec::new();
    for entry in std::fs::read_dir(dir.join("appendonlydir")).unwrap() {
        aof.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let aof = String::from_utf8_lossy(&aof);
    assert!(aof.contains("in-the-aof"), "{aof}");
    assert!(!aof.contains("not-in-the-aof"), "{aof}");
}
