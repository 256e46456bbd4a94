//! Cluster clients against a three-master cluster: redis-py's `RedisCluster`, the `redis`
//! crate's async cluster client, ioredis's `Cluster` and node-redis's `createCluster`. Each
//! writes and reads one key in every hash slot, then the test moves two slots to other nodes
//! (as `redis-cli --cluster reshard` would) and the client, whose slot map is now stale, must
//! follow -MOVED to read and rewrite their keys. Run against real Redis first, so a failure
//! on redis-lite alone is ours. The Python and Node.js programs live in `tests/clients` and
//! `tests/js` and print `written`, then (after the test's `moved` line) `ok`.
use redis_lite_testkit as testkit;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use redis_lite_engine::slot::{key_slot, SLOTS};
use testkit::{Cluster, Program};

/// The slots moved while a client runs, and the nodes they move between: the first slot of the
/// first node's range to the second node, the last slot of the third node's to the first.
const MOVES: [(u16, usize, usize); 2] = [(0, 0, 1), (16383, 2, 0)];

/// Three-master clusters of each program the clients run against: real Redis first when it
/// is installed, then redis-lite.
fn clusters() -> Vec<Cluster> {
    [Program::Redis, Program::Lite]
        .into_iter()
        .filter_map(|program| Cluster::of(program, 3))
        .collect()
}

fn move_slots(cluster: &Cluster) -> String {
    let mut line = "moved".to_string();
    for (slot, from, to) in MOVES {
        cluster.move_slot(slot, from, to);
        line.push_str(&format!(" {slot}"));
    }
    line
}

/// Runs `program script PORT` against each cluster: once it printed `written`, the slots are
/// moved and it is told which; it must then succeed and print `ok`.
fn run_client_program(program: &str, script: &Path) {
    for cluster in clusters() {
        let mut child = Command::new(program)
            .arg(script)
            .arg(cluster.nodes[0].port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if line == "written\n" {
            let moved = move_slots(&cluster);
            writeln!(child.stdin.take().unwrap(), "{moved}").unwrap();
            line.clear();
            stdout.read_line(&mut line).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && line == "ok\n",
            "{} against {}: {line}\n{}",
            script.display(),
            cluster.nodes[0].executable().display(),
            testkit::text(&out.stderr)
        );
    }
}

#[test]
fn redis_py_cluster_follows_moved_after_a_reshard() {
    if !crate::client_scripts::redis_py_installed() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_cluster.py");
    run_client_program("python3", &script);
}

#[test]
fn ioredis_cluster_follows_moved_after_a_reshard() {
    let Some(dir) = crate::client_scripts::node_package("ioredis") else {
        return;
    };
    run_client_program("node", &dir.join("ioredis_cluster.js"));
}

#[test]
fn node_redis_cluster_follows_moved_after_a_reshard() {
    let Some(dir) = crate::client_scripts::node_package("redis") else {
        return;
    };
    run_client_program("node", &dir.join("node_redis_cluster.js"));
}

/// The first key of the form `key:N` in each slot, indexed by slot.
fn slot_keys() -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; SLOTS];
    let mut found = 0;
    for n in 0.. {
        let key = format!("key:{n}");
        let slot = &mut keys[usize::from(key_slot(key.as_bytes()))];
        if slot.is_none() {
            *slot = Some(key);
            found += 1;
            if found == SLOTS {
                break;
            }
        }
    }
    keys.into_iter().map(Option::unwrap).collect()
}

#[test]
fn redis_crate_cluster_client_follows_moved_after_a_reshard() {
    use redis::AsyncCommands;
    let keys = slot_keys();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for cluster in clusters() {
        let seed = format!("redis://127.0.0.1:{}", cluster.nodes[0].port);
        let client = redis::cluster::ClusterClient::new(vec![seed]).unwrap();
        runtime.block_on(async {
            let mut con = client.get_async_connection().await.unwrap();
            for key in &keys {
                let () = con.set(key, key).await.unwrap();
            }
            for key in &keys {
                let value: String = con.get(key).await.unwrap();
                assert_eq!(&value, key);
            }
            move_slots(&cluster);
            for (slot, _, _) in MOVES {
                let key = &keys[usize::from(slot)];
                let value: String = con.get(key).await.unwrap();
                assert_eq!(&value, key, "slot {slot} after the move");
                let () = con.set(key, format!("{key}+")).await.unwrap();
            }
            for (slot, key) in keys.iter().enumerate() {
                let moved = MOVES.iter().any(|&(s, _, _)| usize::from(s) == slot);
                let expected = if moved {
                    format!("{key}+")
                } else {
                    key.clone()
                };
                let value: String = con.get(key).await.unwrap();
                assert_eq!(value, expected, "slot {slot}");
            }
        });
    }
}
