//! Cluster replicas and failover. On two redis-lite nodes that know each other from a nodes.conf
//! the test writes: CLUSTER REPLICATE through the replication link, a replica serving reads
//! after READONLY and redirecting otherwise, CLUSTER FAILOVER's checks and TAKEOVER. On six
//! nodes made a cluster by `redis-cli --cluster create --cluster-replicas 1`: `kill -9` of a
//! master under a write load (its replica elected, no write acknowledged by WAIT lost, redis-py's
//! RedisCluster carrying on, the old master back as a replica), and CLUSTER FAILOVER plain,
//! FORCE and TAKEOVER. Mixed clusters: a real Redis replica of a redis-lite master failing over,
//! and the reverse.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_lite_testkit as testkit;
use testkit::{skipped, wait_until, DataDir, Launch, Program, Raw, Reply, Server};

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

/// A cluster replica stopped with SHUTDOWN SAVE and started again from its nodes.conf and
/// its snapshot continues with a partial sync, as a Redis 7.0 cluster replica does.
#[test]
fn a_restarted_cluster_replica_continues_with_a_partial_sync() {
    let (a, mut b, id_a, _, _dir) = master_and_empty_node("cluster-replica-restart");
    let (mut raw_a, mut raw_b) = (a.raw(), b.raw());
    raw_b.expect_replies(&[(&["CLUSTER", "REPLICATE", &id_a], "+OK\r\n")]);
    // A restarted cluster replica is a master until its cron, having read nodes.conf, points
    // it at its master (as in Redis): no link status at all meanwhile.
    let link_up = |raw: &mut Raw| {
        raw.cmd_text(&["INFO", "replication"])
            .contains("master_link_status:up")
    };
    wait_until("B synced with A", SYNC_TIMEOUT, || link_up(&mut raw_b));
    assert_eq!(raw_a.cmd_text(&["SET", "before-restart", "1"]), "+OK\r\n");
    let a_offset = || testkit::info_field(&mut a.raw(), "replication", "master_repl_offset");
    let b_offset = |raw: &mut Raw| testkit::info_field(raw, "replication", "slave_repl_offset");
    let target = a_offset();
    wait_until("B caught up", SYNC_TIMEOUT, || {
        b_offset(&mut raw_b) == target
    });
    let stat = |name: &str| testkit::info_field(&mut a.raw(), "stats", name);
    let (full, partial) = (stat("sync_full"), stat("sync_partial_ok"));
    raw_b.send(&testkit::encode(&[b"SHUTDOWN", b"SAVE"]));
    assert!(b.wait_exit(SYNC_TIMEOUT).is_some(), "B did not exit");
    assert_eq!(raw_a.cmd_text(&["SET", "while-down", "2"]), "+OK\r\n");
    b.restart();
    let mut raw_b = b.raw();
    wait_until("B linked again", SYNC_TIMEOUT, || link_up(&mut raw_b));
    let target = a_offset();
    wait_until("B caught up again", SYNC_TIMEOUT, || {
        b_offset(&mut raw_b) == target
    });
    raw_b.expect_replies(&[
        (&["READONLY"], "+OK\r\n"),
        (&["GET", "while-down"], "$1\r\n2\r\n"),
    ]);
    assert_eq!(stat("sync_full"), full, "a full sync happened");
    assert_eq!(
        stat("sync_partial_ok").parse::<u64>().unwrap(),
        partial.parse::<u64>().unwrap() + 1
    );
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

/// The node timeout of the six-node tests: small, so failures are detected in seconds.
const NODE_TIMEOUT_MS: u64 = 2000;

/// Redis's default `cluster-replica-validity-factor`.
const VALIDITY_FACTOR: u64 = 10;

/// Slack on top of what Redis promises, for a loaded machine.
const SLACK: Duration = Duration::from_secs(20);

/// A node as CLUSTER NODES describes it.
#[derive(Clone, Debug)]
struct NodeLine {
    id: String,
    port: u16,
    flags: String,
    master: Option<String>,
    slots: Vec<(u16, u16)>,
}

impl NodeLine {
    fn is_master(&self) -> bool {
        self.flags.split(',').any(|f| f == "master")
    }
}

/// CLUSTER NODES of the node on `port`, parsed.
fn nodes_seen_by(port: u16) -> Vec<NodeLine> {
    let mut raw = Raw::new(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    cluster_nodes(&mut raw)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let address = fields[1].split('@').next().unwrap();
            let port = address.rsplit(':').next().unwrap().parse().unwrap_or(0);
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                    None => (s.parse().unwrap(), s.parse().unwrap()),
                })
                .collect();
            NodeLine {
                id: fields[0].to_string(),
                port,
                flags: fields[2].to_string(),
                master: (fields[3] != "-").then(|| fields[3].to_string()),
                slots,
            }
        })
        .collect()
}

/// Whether `redis-cli` (for `--cluster create`) and redis-py are here; says the test is
/// skipped when not.
fn tools_available(test: &str) -> bool {
    if !testkit::installed("redis-cli") {
        skipped(&format!("redis-cli is not on PATH (in {test})"));
        return false;
    }
    let redis_py = Command::new("python3")
        .args(["-c", "import redis.cluster"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !redis_py {
        skipped(&format!("redis-py is not installed (in {test})"));
        return false;
    }
    true
}

/// A cluster node with the small node timeout, each write fsynced before it is acknowledged.
fn failover_node(program: Program) -> Server {
    let timeout = NODE_TIMEOUT_MS.to_string();
    Launch::of(program)
        .cluster_node()
        .args(&["--cluster-node-timeout", &timeout])
        .durable()
        .start()
}

/// `redis-cli --cluster create` over `nodes`, with `replicas` replicas per master.
fn cluster_create(nodes: &[&Server], replicas: usize) {
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
    args.extend([
        "--cluster-replicas".into(),
        replicas.to_string(),
        "--cluster-yes".into(),
    ]);
    let out = Command::new("redis-cli").args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("[OK] All 16384 slots covered."),
        "redis-cli --cluster create: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every node in `nodes` reports the cluster ok, knows them all, and every replica
/// is in sync with its master.
fn wait_cluster_ready(nodes: &[&Server]) {
    let known = format!("cluster_known_nodes:{}", nodes.len());
    for node in nodes {
        let mut raw = node.raw();
        wait_until(
            &format!("node {} to see the whole cluster ok", node.port),
            SYNC_TIMEOUT * 2,
            || {
                let info = raw.cmd_text(&["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains(&known)
            },
        );
        wait_until(
            &format!("node {} to be in sync if a replica", node.port),
            SYNC_TIMEOUT * 2,
            || {
                testkit::info_field(&mut raw, "replication", "role") == "master"
                    || testkit::info_field(&mut raw, "replication", "master_link_status") == "up"
            },
        );
    }
}

/// Six nodes of `program`: three masters with a replica each.
fn six_node_cluster(program: Program) -> Vec<Server> {
    let nodes: Vec<Server> = (0..6).map(|_| failover_node(program)).collect();
    let refs: Vec<&Server> = nodes.iter().collect();
    cluster_create(&refs, 1);
    wait_cluster_ready(&refs);
    nodes
}

/// A key prefix whose hash tag puts every key in a slot the node on `port` serves, so that the
/// writes go where the failover happens.
fn prefix_served_by(port: u16, observer: &Server) -> String {
    let lines = nodes_seen_by(observer.port);
    let ranges = &lines.iter().find(|l| l.port == port).unwrap().slots;
    let mut raw = observer.raw();
    (0..)
        .map(|i| format!("{{w{i}}}:"))
        .find(|prefix| {
            let slot = Reply::parse(&raw.cmd(&["CLUSTER", "KEYSLOT", prefix])).int() as u16;
            ranges.iter().any(|&(a, b)| (a..=b).contains(&slot))
        })
        .unwrap()
}

/// The index in `nodes` of the node listening on `port`.
fn index_of_port(nodes: &[Server], port: u16) -> usize {
    nodes.iter().position(|n| n.port == port).unwrap()
}

/// A master and its replica, as the node at `nodes[0]` sees them, by index in `nodes`.
fn a_master_and_its_replica(nodes: &[Server]) -> (usize, usize) {
    let lines = nodes_seen_by(nodes[0].port);
    let master = lines
        .iter()
        .find(|l| l.is_master() && !l.slots.is_empty())
        .unwrap();
    let replica = lines
        .iter()
        .find(|l| l.master.as_deref() == Some(master.id.as_str()))
        .unwrap_or_else(|| panic!("{} has no replica: {lines:?}", master.id));
    (
        index_of_port(nodes, master.port),
        index_of_port(nodes, replica.port),
    )
}

/// Writes keys `<prefix><n>` through the cluster, following MOVED and skipping unreachable
/// nodes, each acknowledged only once WAIT says a replica has it; records the acknowledged ones.
struct AckedWriter {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u64>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AckedWriter {
    fn start(ports: Vec<u16>, prefix: String) -> AckedWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (stop2, acked2) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || {
            let mut connections: HashMap<u16, redis::Connection> = HashMap::new();
            let mut next = 0;
            let mut n = 0u64;
            let mut port = ports[0];
            while !stop2.load(Relaxed) {
                let key = format!("{prefix}{n}");
                match Self::write(&mut connections, port, &key, n) {
                    Ok(true) => {
                        acked2.lock().unwrap().push(n);
                        n += 1;
                    }
                    Ok(false) => n += 1,
                    Err(e) => {
                        if let Some((address, _)) = e.redirect_node() {
                            port = address.rsplit(':').next().unwrap().parse().unwrap();
                        } else {
                            connections.remove(&port);
                            next = (next + 1) % ports.len();
                            port = ports[next];
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            }
        });
        AckedWriter {
            stop,
            acked,
            thread: Some(thread),
        }
    }

    /// One SET and its WAIT: Ok(true) when a replica acknowledged it.
    fn write(
        connections: &mut HashMap<u16, redis::Connection>,
        port: u16,
        key: &str,
        value: u64,
    ) -> redis::RedisResult<bool> {
        let con = match connections.entry(port) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(slot) => {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
                let con = client.get_connection_with_timeout(Duration::from_secs(2))?;
                con.set_read_timeout(Some(Duration::from_secs(5)))?;
                slot.insert(con)
            }
        };
        redis::cmd("SET").arg(key).arg(value).query::<()>(con)?;
        let replicas: i64 = redis::cmd("WAIT").arg(1).arg(2000).query(con)?;
        Ok(replicas >= 1)
    }

    /// Stops writing; the values acknowledged.
    fn stop(mut self) -> Vec<u64> {
        self.stop.store(true, Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.acked.lock().unwrap())
    }
}

/// Every acknowledged `<prefix><n>` reads back `n` from the cluster (asked through any live
/// node, following MOVED).
fn assert_acked_writes_kept(live: &[&Server], prefix: &str, acked: &[u64]) {
    let mut connections: HashMap<u16, redis::Connection> = HashMap::new();
    let mut lost = Vec::new();
    for &n in acked {
        let key = format!("{prefix}{n}");
        let mut port = live[0].port;
        let value: Option<u64> = loop {
            let con = connections.entry(port).or_insert_with(|| {
                redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap()
            });
            match redis::cmd("GET").arg(&key).query(con) {
                Ok(value) => break value,
                Err(e) => {
                    let (address, _) = e
                        .redirect_node()
                        .unwrap_or_else(|| panic!("GET {key}: {e}"));
                    port = address.rsplit(':').next().unwrap().parse().unwrap();
                }
            }
        };
        if value != Some(n) {
            lost.push(n);
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        acked.len()
    );
}

/// redis-py's RedisCluster writing and reading through the test, in the background.
struct RedisPyLoad {
    child: std::process::Child,
    stop_file: std::path::PathBuf,
}

impl RedisPyLoad {
    fn start(port: u16, dir: &DataDir) -> RedisPyLoad {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/redis_py_cluster_failover.py");
        let stop_file = dir.join("stop");
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&stop_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        RedisPyLoad { child, stop_file }
    }

    /// Tells the client to finish, and asserts it recovered.
    fn finish(self) {
        std::fs::write(&self.stop_file, b"").unwrap();
        let out = self.child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "redis-py RedisCluster did not carry on: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Waits until the node on `port` is a master serving slots, as every node of `observers`
/// sees it; returns how long that took.
fn wait_promoted(port: u16, observers: &[&Server], timeout: Duration) {
    for observer in observers {
        wait_until(
            &format!("node {} to see {port} as a master", observer.port),
            timeout,
            || {
                nodes_seen_by(observer.port)
                    .iter()
                    .any(|l| l.port == port && l.is_master() && !l.slots.is_empty())
            },
        );
    }
}

/// Waits until the node on `port` is, as every node of `observers` sees it (itself included
/// when listed), a replica of the node on `master_port`, and is in sync with it.
fn wait_replica_of(port: u16, master_port: u16, observers: &[&Server], timeout: Duration) {
    for observer in observers {
        wait_until(
            &format!(
                "node {} to see {port} replicate {master_port}",
                observer.port
            ),
            timeout,
            || {
                let lines = nodes_seen_by(observer.port);
                let master = lines.iter().find(|l| l.port == master_port);
                let node = lines.iter().find(|l| l.port == port);
                matches!((master, node), (Some(m), Some(n)) if n.master.as_deref() == Some(m.id.as_str()))
            },
        );
    }
    let mut raw = Raw::new(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    wait_until(&format!("{port} in sync"), timeout, || {
        testkit::info_field(&mut raw, "replication", "master_port") == master_port.to_string()
            && testkit::info_field(&mut raw, "replication", "master_link_status") == "up"
    });
}

#[test]
fn a_killed_master_is_replaced_by_its_replica_without_losing_acknowledged_writes() {
    let test = "a_killed_master_is_replaced_by_its_replica_without_losing_acknowledged_writes";
    if !tools_available(test) {
        return;
    }
    let mut nodes = six_node_cluster(Program::Lite);
    let (master, replica) = a_master_and_its_replica(&nodes);
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let dir = DataDir::new("cluster-failover-py");
    let redis_py = RedisPyLoad::start(nodes[replica].port, &dir);
    let prefix = prefix_served_by(nodes[master].port, &nodes[0]);
    let writer = AckedWriter::start(ports, prefix.clone());
    std::thread::sleep(Duration::from_secs(2));

    nodes[master].kill9();
    let killed = Instant::now();
    let others: Vec<&Server> = (0..6).filter(|&i| i != master).map(|i| &nodes[i]).collect();
    let promise = Duration::from_millis(NODE_TIMEOUT_MS * VALIDITY_FACTOR);
    wait_promoted(nodes[replica].port, &others, promise + SLACK);
    let took = killed.elapsed();
    eprintln!("replica promoted {took:?} after the kill");

    // The writes go on against the new master for a while.
    std::thread::sleep(Duration::from_secs(2));
    let acked = writer.stop();
    assert!(!acked.is_empty(), "no write was acknowledged");
    assert_acked_writes_kept(&others, &prefix, &acked);
    redis_py.finish();

    // The old master comes back as a replica of its replacement.
    let replacement = nodes[replica].port;
    nodes[master].restart();
    let all: Vec<&Server> = nodes.iter().collect();
    wait_replica_of(nodes[master].port, replacement, &all, promise + SLACK);
}

/// CLUSTER FAILOVER on a replica, in each of its forms, with the master up: the replica takes
/// over, the master follows it, and a write acknowledged before is still there.
#[test]
fn cluster_failover_plain_force_and_takeover_swap_master_and_replica() {
    let test = "cluster_failover_plain_force_and_takeover_swap_master_and_replica";
    if !tools_available(test) {
        return;
    }
    let nodes = six_node_cluster(Program::Lite);
    let (mut master, mut replica) = a_master_and_its_replica(&nodes);
    let all: Vec<&Server> = nodes.iter().collect();
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let timeout = Duration::from_millis(NODE_TIMEOUT_MS * VALIDITY_FACTOR) + SLACK;
    let prefix = prefix_served_by(nodes[master].port, &nodes[0]);
    for form in [None, Some("FORCE"), Some("TAKEOVER")] {
        let writer = AckedWriter::start(ports.clone(), prefix.clone());
        std::thread::sleep(Duration::from_millis(500));
        let mut args = vec!["CLUSTER", "FAILOVER"];
        args.extend(form);
        eprintln!("{args:?} on {}", nodes[replica].port);
        nodes[replica].raw().expect_replies(&[(&args, "+OK\r\n")]);
        wait_promoted(nodes[replica].port, &all, timeout);
        wait_replica_of(nodes[master].port, nodes[replica].port, &all, timeout);
        std::thread::sleep(Duration::from_millis(500));
        let acked = writer.stop();
        assert!(!acked.is_empty(), "no write acknowledged around {args:?}");
        assert_acked_writes_kept(&all, &prefix, &acked);
        std::mem::swap(&mut master, &mut replica);
    }
}

/// Three masters of `masters` made a cluster, and a replica of `replica_program` added to
/// master `victim` with `redis-cli --cluster add-node --cluster-slave`; the victim is killed,
/// the replica must be elected by the other masters, and the victim comes back as its replica.
fn mixed_cluster_failover(test: &str, masters: [Program; 3], victim: usize, replica: Program) {
    if !tools_available(test) {
        return;
    }
    if !Program::Redis.available() {
        skipped(&format!("redis-server is not on PATH (in {test})"));
        return;
    }
    let mut nodes: Vec<Server> = masters.into_iter().map(failover_node).collect();
    cluster_create(&nodes.iter().collect::<Vec<_>>(), 0);
    wait_cluster_ready(&nodes.iter().collect::<Vec<_>>());
    nodes.push(failover_node(replica));
    let victim_id = myid(&mut nodes[victim].raw());
    let out = Command::new("redis-cli")
        .args([
            "--cluster",
            "add-node",
            &format!("127.0.0.1:{}", nodes[3].port),
            &format!("127.0.0.1:{}", nodes[0].port),
            "--cluster-slave",
            "--cluster-master-id",
            &victim_id,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis-cli --cluster add-node: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<&Server> = nodes.iter().collect();
    let timeout = Duration::from_millis(NODE_TIMEOUT_MS * VALIDITY_FACTOR) + SLACK;
    wait_replica_of(nodes[3].port, nodes[victim].port, &all, timeout);
    wait_cluster_ready(&all);

    let prefix = prefix_served_by(nodes[victim].port, &nodes[0]);
    let writer = AckedWriter::start(nodes.iter().map(|n| n.port).collect(), prefix.clone());
    std::thread::sleep(Duration::from_secs(2));
    nodes[victim].kill9();
    let others: Vec<&Server> = (0..4).filter(|&i| i != victim).map(|i| &nodes[i]).collect();
    wait_promoted(nodes[3].port, &others, timeout);
    std::thread::sleep(Duration::from_secs(1));
    let acked = writer.stop();
    assert!(!acked.is_empty(), "no write was acknowledged");
    assert_acked_writes_kept(&others, &prefix, &acked);

    let replacement = nodes[3].port;
    nodes[victim].restart();
    let all: Vec<&Server> = nodes.iter().collect();
    wait_replica_of(nodes[victim].port, replacement, &all, timeout);
    let out = Command::new("redis-cli")
        .args([
            "--cluster",
            "check",
            &format!("127.0.0.1:{}", nodes[0].port),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis-cli --cluster check: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_real_redis_replica_of_a_redis_lite_master_fails_over() {
    mixed_cluster_failover(
        "a_real_redis_replica_of_a_redis_lite_master_fails_over",
        [Program::Lite, Program::Lite, Program::Lite],
        1,
        Program::Redis,
    );
}

#[test]
fn a_redis_lite_replica_of_a_real_redis_master_fails_over() {
    mixed_cluster_failover(
        "a_redis_lite_replica_of_a_real_redis_master_fails_over",
        [Program::Lite, Program::Lite, Program::Redis],
        2,
        Program::Lite,
    );
}

#[test]
#[ignore = "checks the test itself on real Redis only"]
fn mixed_failover_harness_on_real_redis() {
    mixed_cluster_failover(
        "mixed_failover_harness_on_real_redis",
        [Program::Redis, Program::Redis, Program::Redis],
        1,
        Program::Redis,
    );
}

/// Replica migration: a seventh node joins master A as its second replica; when master B's
/// only replica is killed, B is orphaned and one of A's replicas moves to it (the barrier of 1
/// leaves A one).
#[test]
fn a_replica_migrates_to_an_orphaned_master() {
    let test = "a_replica_migrates_to_an_orphaned_master";
    if !tools_available(test) {
        return;
    }
    let mut nodes = six_node_cluster(Program::Lite);
    let lines = nodes_seen_by(nodes[0].port);
    let masters: Vec<&NodeLine> = lines.iter().filter(|l| l.is_master()).collect();
    let (a, b) = (masters[0].clone(), masters[1].clone());
    nodes.push(failover_node(Program::Lite));
    let out = Command::new("redis-cli")
        .args([
            "--cluster",
            "add-node",
            &format!("127.0.0.1:{}", nodes[6].port),
            &format!("127.0.0.1:{}", nodes[0].port),
            "--cluster-slave",
            "--cluster-master-id",
            &a.id,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let timeout = Duration::from_millis(NODE_TIMEOUT_MS * VALIDITY_FACTOR) + SLACK;
    let all: Vec<&Server> = nodes.iter().collect();
    wait_replica_of(nodes[6].port, a.port, &all, timeout);
    let b_replica = lines
        .iter()
        .find(|l| l.master.as_deref() == Some(b.id.as_str()))
        .unwrap()
        .port;
    let victim = index_of_port(&nodes, b_replica);
    nodes[victim].kill9();
    let live: Vec<&Server> = (0..7).filter(|&i| i != victim).map(|i| &nodes[i]).collect();
    wait_until("a replica of A to move to B", timeout * 2, || {
        let seen = nodes_seen_by(live[0].port);
        let replicas_of = |id: &str| {
            seen.iter()
                .filter(|l| l.master.as_deref() == Some(id) && !l.flags.contains("fail"))
                .count()
        };
        replicas_of(&b.id) == 1 && replicas_of(&a.id) == 1
    });
    let seen = nodes_seen_by(live[0].port);
    let moved = seen
        .iter()
        .find(|l| l.master.as_deref() == Some(b.id.as_str()) && !l.flags.contains("fail"))
        .unwrap();
    wait_replica_of(moved.port, b.port, &live, timeout);
}

/// A master cut off from the rest of the cluster without dying (SIGSTOP: it stops reading and
/// answering, its connections stay open, as behind a network partition): the majority fails
/// it and elects its replica, which takes writes. When the partition heals, the old master
/// runs on with its stale view and links, learns the greater epoch, becomes a replica of its
/// replacement and takes the writes it missed. Real Redis 7.0 and redis-lite alike.
#[test]
fn a_master_cut_off_by_a_partition_comes_back_as_a_replica_of_its_replacement() {
    if !testkit::installed("redis-cli") {
        skipped("redis-cli is not on PATH (in a_master_cut_off_by_a_partition_...)");
        return;
    }
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            skipped(&format!("{program:?} is not available"));
            continue;
        }
        let nodes = six_node_cluster(program);
        let (master, replica) = a_master_and_its_replica(&nodes);
        let prefix = prefix_served_by(nodes[master].port, &nodes[0]);
        let (before, during) = (format!("{prefix}before"), format!("{prefix}during"));
        let mut old_master = nodes[master].raw();
        assert_eq!(old_master.cmd_text(&["SET", &before, "1"]), "+OK\r\n");
        assert_eq!(old_master.cmd_text(&["WAIT", "1", "0"]), ":1\r\n");

        let partition = nodes[master].freeze();
        let others: Vec<&Server> = (0..6).filter(|&i| i != master).map(|i| &nodes[i]).collect();
        let promise = Duration::from_millis(NODE_TIMEOUT_MS * VALIDITY_FACTOR);
        wait_promoted(nodes[replica].port, &others, promise + SLACK);
        let mut replacement = nodes[replica].raw();
        wait_until("the replacement to take writes", SYNC_TIMEOUT, || {
            replacement.cmd_text(&["SET", &during, "2"]) == "+OK\r\n"
        });

        drop(partition);
        let all: Vec<&Server> = nodes.iter().collect();
        wait_replica_of(
            nodes[master].port,
            nodes[replica].port,
            &all,
            promise + SLACK,
        );
        let mut old_master = nodes[master].raw();
        assert_eq!(old_master.cmd_text(&["READONLY"]), "+OK\r\n");
        for (key, value) in [(&before, "1"), (&during, "2")] {
            wait_until(&format!("{key} on the old master"), SYNC_TIMEOUT, || {
                old_master.cmd_text(&["GET", key]) == format!("${}\r\n{value}\r\n", value.len())
            });
        }
        // Writes to it are redirected to its replacement.
        let moved = old_master.cmd_text(&["SET", &before, "3"]);
        assert!(
            moved.starts_with("-MOVED ")
                && moved.ends_with(&format!(":{}\r\n", nodes[replica].port)),
            "{program:?}: {moved}"
        );
    }
}

/// A master of `program` serving every slot, with one key, and a node of the same program
/// made its replica by CLUSTER MEET and CLUSTER REPLICATE, once it has the key. None (and a
/// skip message) when the program is missing.
fn master_and_replica(program: Program) -> Option<(Server, Server)> {
    if !program.available() {
        skipped(&format!("{program:?} is not available"));
        return None;
    }
    let a = Launch::of(program).cluster_node().start();
    let b = Launch::of(program).cluster_node().start();
    let (mut raw_a, mut raw_b) = (a.raw(), b.raw());
    assert_eq!(
        raw_a.cmd_text(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
        "+OK\r\n"
    );
    let (port, bus) = (a.port.to_string(), a.cluster_port.unwrap().to_string());
    raw_b.cmd(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]);
    let id_a = myid(&mut raw_a);
    wait_until("B to know A", SYNC_TIMEOUT, || {
        cluster_nodes(&mut raw_b).contains(&format!("{id_a} 127.0.0.1:{port}@{bus} master"))
    });
    wait_until("A to serve", SYNC_TIMEOUT, || {
        raw_a.cmd_text(&["SET", "{x}key", "1"]) == "+OK\r\n"
    });
    assert_eq!(raw_b.cmd_text(&["CLUSTER", "REPLICATE", &id_a]), "+OK\r\n");
    wait_until("B to have A's data", SYNC_TIMEOUT, || {
        raw_b.cmd_text(&["DBSIZE"]) == ":1\r\n"
    });
    Some((a, b))
}

/// CLUSTER RESET on a replica turns it into an empty master: replication stops and the data
/// goes, as in Redis (the legacy cluster suite resets every node, in MULTI, before each file's
/// cluster; a redis-lite replica stayed a replica at the replication level and answered the
/// writes to the slots it was given next with READONLY).
#[test]
fn cluster_reset_turns_a_replica_into_an_empty_master() {
    for program in [Program::Lite, Program::Redis] {
        let Some((_a, b)) = master_and_replica(program) else {
            continue;
        };
        let mut raw_b = b.raw();
        raw_b.expect_replies(&[
            (&["MULTI"], "+OK\r\n"),
            (&["CLUSTER", "RESET", "HARD"], "+QUEUED\r\n"),
            (&["EXEC"], "*1\r\n+OK\r\n"),
            (&["DBSIZE"], ":0\r\n"),
        ]);
        let role = raw_b.cmd_text(&["ROLE"]);
        assert!(
            role.starts_with("*3\r\n$6\r\nmaster\r\n"),
            "{program:?}: {role}"
        );
    }
}

/// On a replica, a READONLY client's script that declared flags without `no-writes` is
/// judged a write and MOVED to the master before it runs; one declared `no-writes` reads
/// here (legacy cluster suite, 16-transactions-on-replica "reply MOVED when eval from
/// replica for update"). The same on Redis and redis-lite.
#[test]
fn a_replica_moves_a_script_declared_to_write() {
    for program in [Program::Lite, Program::Redis] {
        let Some((a, b)) = master_and_replica(program) else {
            continue;
        };
        let mut raw_b = b.raw();
        // CLUSTER KEYSLOT {x}key = 16287
        let moved = format!("-MOVED 16287 127.0.0.1:{}\r\n", a.port);
        raw_b.expect_replies(&[
            (&["READONLY"], "+OK\r\n"),
            (
                &[
                    "EVAL",
                    "#!lua\nreturn redis.call('del', KEYS[1])",
                    "1",
                    "{x}key",
                ],
                &moved,
            ),
            (
                &[
                    "EVAL",
                    "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
                    "1",
                    "{x}key",
                ],
                "$1\r\n1\r\n",
            ),
            (
                &["EVAL", "return redis.call('get', KEYS[1])", "1", "{x}key"],
                "$1\r\n1\r\n",
            ),
        ]);
    }
}

/// A replica loading a full sync's snapshot announces offset 0, and CLUSTER SLOTS leaves it
/// out until it has loaded (legacy cluster suite, 22-replica-in-sync "Replica in loading state
/// is hidden"). The same on Redis and redis-lite.
#[test]
fn a_replica_loading_a_full_sync_is_hidden_from_cluster_slots() {
    for program in [Program::Lite, Program::Redis] {
        let Some((a, b)) = master_and_replica(program) else {
            continue;
        };
        let (mut raw_a, mut raw_b) = (a.raw(), b.raw());
        // Enough keys that, at 4 ms each, the load outlasts a few bus heartbeats.
        for j in 0..1000 {
            raw_a.cmd(&["SET", &format!("{{x}}k{j}"), "v"]);
        }
        let listed = |raw: &mut Raw| {
            raw.cmd_text(&["CLUSTER", "SLOTS"])
                .contains(&b.port.to_string())
        };
        wait_until("the replica to be listed", SYNC_TIMEOUT, || {
            listed(&mut raw_a)
        });
        for (param, value) in [
            ("key-load-delay", "4000"),
            ("loading-process-events-interval-bytes", "1024"),
        ] {
            assert_eq!(raw_b.cmd_text(&["CONFIG", "SET", param, value]), "+OK\r\n");
        }
        // A backlog too small for what follows: the replica reconnects to a full sync.
        assert_eq!(
            raw_a.cmd_text(&["CONFIG", "SET", "repl-backlog-size", "100"]),
            "+OK\r\n"
        );
        let value = "A".repeat(1024);
        raw_a.cmd(&["MULTI"]);
        raw_a.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
        for j in 0..100 {
            raw_a.cmd(&["SET", &format!("{{x}}{j}"), &value]);
        }
        raw_a.cmd(&["EXEC"]);
        wait_until("the loading replica to be hidden", SYNC_TIMEOUT, || {
            !listed(&mut raw_a)
        });
        assert_eq!(
            testkit::info_field(&mut raw_b, "persistence", "loading"),
            "1",
            "{program:?}"
        );
        wait_until(
            "the replica to load and be listed again",
            SYNC_TIMEOUT,
            || {
                testkit::info_field(&mut raw_b, "replication", "master_link_status") == "up"
                    && listed(&mut raw_a)
            },
        );
    }
}
