//! Resharding with Redis's own tool, `redis-cli --cluster`: reshard and rebalance between
//! redis-lite masters under a write load with no acknowledged write lost, between real Redis
//! and redis-lite both ways, add-node and del-node, and `fix` after the importing node was
//! killed mid-migration. Each ends with `redis-cli --cluster check` clean and every key a
//! client was told OK for readable, through a cluster client, with its last value.
use redis_lite_testkit as testkit;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use testkit::{skipped, wait_until, Cluster, Launch, Program, Server};

/// Nodes without snapshot or AOF files.
const NO_PERSISTENCE: [&str; 4] = ["--save", "", "--appendonly", "no"];

/// Whether redis-cli is installed; says the test is skipped when it is not.
fn redis_cli_installed(test: &str) -> bool {
    let installed = testkit::installed("redis-cli");
    if !installed {
        skipped(&format!("redis-cli is not on PATH (in {test})"));
    }
    installed
}

/// Runs `redis-cli --cluster <args>`; panics with its output when it fails.
fn redis_cli_cluster(args: &[&str]) -> String {
    let mut all = vec!["--cluster"];
    all.extend_from_slice(args);
    let out = testkit::run("redis-cli", &all, b"");
    let text = testkit::text(&out.stdout) + &testkit::text(&out.stderr);
    assert!(out.status.success(), "redis-cli {all:?}:\n{text}");
    text
}

/// `redis-cli --cluster check` through `node` must find every node agreeing, no open slot,
/// and every slot covered; its report.
fn assert_check_clean(node: &Server) -> String {
    let address = format!("127.0.0.1:{}", node.port);
    // Nodes learn the last SETSLOTs' epochs by gossip: wait until they agree.
    let mut report = String::new();
    let clean = testkit::poll(Duration::from_secs(30), || {
        let out = testkit::run("redis-cli", &["--cluster", "check", &address], b"");
        report = testkit::text(&out.stdout);
        (out.status.success()
            && report.contains("[OK] All nodes agree about slots configuration.")
            && report.contains("[OK] All 16384 slots covered.")
            && !report.contains("[WARNING]")
            && !report.contains("[ERR]"))
        .then_some(())
    });
    assert!(
        clean.is_some(),
        "redis-cli --cluster check did not find the cluster clean in 30s; its last report:\n{report}"
    );
    report
}

/// Each node's config epoch as `server` sees it (CLUSTER NODES), by node ID.
fn config_epochs(server: &Server) -> HashMap<String, String> {
    let nodes = server.raw().cmd_text(&["CLUSTER", "NODES"]);
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let (id, epoch) = (fields.first()?, fields.get(6)?);
            Some((id.to_string(), epoch.to_string()))
        })
        .collect()
}

/// Waits until every node of `cluster` (and `more`) knows them all and says
/// `cluster_state:ok`, then until each knows every node's own config epoch, then until
/// redis-cli finds the cluster clean: the nodes have heard each other's last slot changes and
/// epochs, and each serves (imports) again. The epochs matter to the next resharding: a target
/// that does not know the source's latest takes its imported slots without a new epoch of its
/// own, which a ping of the source's sent before its SETSLOT can then take back.
fn wait_settled(cluster: &Cluster, more: Option<&Server>) {
    let nodes: Vec<&Server> = cluster.nodes.iter().chain(more).collect();
    let known = format!("cluster_known_nodes:{}", nodes.len());
    for node in &nodes {
        let mut raw = node.raw();
        wait_until(
            &format!(
                "every node to know all {} and say cluster_state:ok",
                nodes.len()
            ),
            Duration::from_secs(30),
            || {
                let info = raw.cmd_text(&["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains(&known)
            },
        );
    }
    wait_until(
        "every node to know every node's own config epoch",
        Duration::from_secs(30),
        || {
            let views: Vec<HashMap<String, String>> =
                nodes.iter().map(|node| config_epochs(node)).collect();
            let own: Vec<(String, String)> = nodes
                .iter()
                .zip(&views)
                .map(|(node, view)| {
                    let id = node.raw().cmd_text(&["CLUSTER", "MYID"]);
                    let id = id.lines().nth(1).unwrap_or_default().to_string();
                    let epoch = view.get(&id).cloned().unwrap_or_default();
                    (id, epoch)
                })
                .collect();
            views
                .iter()
                .all(|view| own.iter().all(|(id, epoch)| view.get(id) == Some(epoch)))
        },
    );
    for node in nodes {
        assert_check_clean(node);
    }
}

/// Reshards `count` slots from node `from` to node `to` of `cluster`, answering yes, once the
/// cluster has settled.
fn reshard(cluster: &Cluster, from: usize, to: usize, count: usize) {
    wait_settled(cluster, None);
    let address = format!("127.0.0.1:{}", cluster.nodes[from].port);
    let (from_id, to_id) = (cluster.node_id(from), cluster.node_id(to));
    redis_cli_cluster(&[
        "reshard",
        &address,
        "--cluster-from",
        &from_id,
        "--cluster-to",
        &to_id,
        "--cluster-slots",
        &count.to_string(),
        "--cluster-yes",
    ]);
}

/// What a writer was told: each key's last acknowledged value, and the keys whose last write
/// failed (their value is either).
#[derive(Default)]
struct Acknowledged {
    values: HashMap<String, u64>,
    uncertain: std::collections::HashSet<String>,
    errors: Vec<String>,
}

/// A thread writing `key_of(n)` = n for n = 0, 1, ... through the `redis` crate's cluster
/// client until stopped, recording what was acknowledged.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acknowledged>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(node: &Server, key_of: impl Fn(u64) -> String + Send + 'static) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Acknowledged::default()));
        let client =
            redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}", node.port)])
                .unwrap();
        let thread = {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = key_of(n);
                    let written: redis::RedisResult<()> =
                        redis::cmd("SET").arg(&key).arg(n).query(&mut con);
                    let mut acked = acked.lock().unwrap();
                    match written {
                        Ok(()) => {
                            acked.uncertain.remove(&key);
                            acked.values.insert(key, n);
                        }
                        Err(e) => {
                            acked.errors.push(e.to_string());
                            acked.uncertain.insert(key);
                        }
                    }
                    n += 1;
                }
            })
        };
        Writer {
            stop,
            acked,
            thread: Some(thread),
        }
    }

    /// Waits until `count` writes were acknowledged.
    fn wait_for(&self, count: usize) {
        wait_until(
            &format!("{count} acknowledged writes"),
            Duration::from_secs(60),
            || self.acked.lock().unwrap().values.len() >= count,
        );
    }

    /// Stops the writer and returns what it was told.
    fn stop(mut self) -> Acknowledged {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.acked.lock().unwrap())
    }
}

/// Every acknowledged key reads back with its last acknowledged value, through a new cluster
/// client of `node`'s cluster.
fn assert_nothing_lost(node: &Server, acked: &Acknowledged) {
    let lost = lost_writes(node, acked);
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

/// The acknowledged writes a cluster client reading through `node` does not find.
fn lost_writes(node: &Server, acked: &Acknowledged) -> Vec<String> {
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}", node.port)])
            .unwrap();
    let mut con = client.get_connection().unwrap();
    let mut lost = Vec::new();
    for (key, value) in &acked.values {
        if acked.uncertain.contains(key) {
            continue;
        }
        let read: Option<u64> = redis::cmd("GET").arg(key).query(&mut con).unwrap();
        if read != Some(*value) {
            lost.push(format!("{key}: {read:?} instead of {value}"));
        }
    }
    lost
}

/// The number of slots `node` serves, from redis-cli's check report.
fn slots_of(report: &str, node: &Server) -> usize {
    let address = format!("127.0.0.1:{}", node.port);
    let mut lines = report.lines().skip_while(|l| !l.ends_with(&address));
    let slots_line = lines
        .nth(1)
        .unwrap_or_else(|| panic!("{address} in {report}"));
    let count = slots_line
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split_once(' '))
        .unwrap_or_else(|| panic!("a slot count in {slots_line:?}"))
        .0;
    count.parse().unwrap()
}

#[test]
fn reshard_of_1000_slots_under_writes_loses_no_acknowledged_write() {
    if !redis_cli_installed("reshard_of_1000_slots_under_writes_loses_no_acknowledged_write") {
        return;
    }
    let Some(cluster) = Cluster::of(Program::Lite, 3) else {
        return;
    };
    let writer = Writer::start(&cluster.nodes[0], |n| format!("w:{}", n % 20_000));
    writer.wait_for(5_000);
    reshard(&cluster, 0, 1, 1000);
    let acked = writer.stop();
    let report = assert_check_clean(&cluster.nodes[0]);
    let first = cluster.slots(0).len();
    assert_eq!(slots_of(&report, &cluster.nodes[0]), first - 1000);
    assert_eq!(
        slots_of(&report, &cluster.nodes[1]),
        cluster.slots(1).len() + 1000
    );
    assert_nothing_lost(&cluster.nodes[2], &acked);
    assert!(acked.errors.is_empty(), "write errors: {:?}", acked.errors);
}

/// Writers on both event loops of the source racing the MIGRATEs of their keys' slot, moved
/// back and forth between two nodes the way redis-cli moves it. Each command waits 2ms between
/// its admission (the cluster rule found its key here) and its gate (`DEBUG FAULT
/// admission-delay`), so a MIGRATE on the other loop nearly always moves a key under a write
/// admitted to it. The write must then go to the target with ASK, as in Redis: run on the
/// source, it would create the key there again, on both nodes, and the next MIGRATE of the
/// slot fails with BUSYKEY. Every key ends on one node with its last acknowledged value.
#[test]
fn writes_racing_their_keys_migrate_follow_them_to_the_target() {
    let delayed = ["--enable-debug-command", "yes"];
    let Some(cluster) = Program::Lite.available().then(|| {
        Cluster::start(vec![
            Launch::lite().args(&NO_PERSISTENCE).args(&delayed),
            Launch::lite().args(&NO_PERSISTENCE).args(&delayed),
        ])
    }) else {
        return;
    };
    let slot = cluster.key_slot("{race}");
    let mut owner = cluster.node_for("{race}");
    let writers: Vec<Writer> = (0..4)
        .map(|writer| {
            Writer::start(&cluster.nodes[0], move |n| {
                format!("{{race}}:{writer}:{}", n % 10)
            })
        })
        .collect();
    for writer in &writers {
        writer.wait_for(10);
    }
    for node in &cluster.nodes {
        let reply = node
            .raw()
            .cmd_text(&["DEBUG", "FAULT", "admission-delay", "2000"]);
        assert_eq!(reply, "+OK\r\n");
    }
    for _ in 0..6 {
        let target = 1 - owner;
        cluster.move_slot(slot, owner, target);
        owner = target;
        std::thread::sleep(Duration::from_millis(100));
    }
    for node in &cluster.nodes {
        node.raw()
            .cmd_text(&["DEBUG", "FAULT", "admission-delay", "0"]);
    }
    let slot_text = slot.to_string();
    let mut acked = Acknowledged::default();
    for writer in writers {
        let part = writer.stop();
        acked.values.extend(part.values);
        acked.uncertain.extend(part.uncertain);
        acked.errors.extend(part.errors);
    }
    let left = cluster.nodes[1 - owner]
        .raw()
        .cmd_text(&["CLUSTER", "COUNTKEYSINSLOT", &slot_text]);
    assert_eq!(left, ":0\r\n", "keys left on the node the slot left");
    assert_nothing_lost(&cluster.nodes[0], &acked);
    assert!(acked.errors.is_empty(), "write errors: {:?}", acked.errors);
}

#[test]
fn reshard_between_redis_and_redis_lite_both_ways() {
    if !redis_cli_installed("reshard_between_redis_and_redis_lite_both_ways")
        || !Program::Redis.available()
    {
        return;
    }
    let cluster = Cluster::start(vec![
        Launch::redis().args(&NO_PERSISTENCE),
        Launch::lite().args(&NO_PERSISTENCE),
    ]);
    let writer = Writer::start(&cluster.nodes[1], |n| format!("w:{}", n % 5_000));
    writer.wait_for(5_000);
    reshard(&cluster, 0, 1, 300);
    reshard(&cluster, 1, 0, 500);
    let acked = writer.stop();
    let report = assert_check_clean(&cluster.nodes[1]);
    assert_eq!(slots_of(&report, &cluster.nodes[0]), 8192 - 300 + 500);
    assert_nothing_lost(&cluster.nodes[0], &acked);
    assert!(acked.errors.is_empty(), "write errors: {:?}", acked.errors);
}

/// Writes `{tag}:i` = `base + i` for i in `range` through `con`, recording each acknowledgment.
fn write_tagged(
    con: &mut redis::cluster::ClusterConnection,
    acked: &mut Acknowledged,
    tag: &str,
    range: std::ops::Range<u64>,
    base: u64,
) {
    for i in range {
        let key = format!("{{{tag}}}:{i}");
        let written: redis::RedisResult<()> = redis::cmd("SET").arg(&key).arg(base + i).query(con);
        match written {
            Ok(()) => {
                acked.values.insert(key, base + i);
            }
            Err(e) => panic!("SET {key}: {e}"),
        }
    }
}

/// The importing node killed with `kill -9` half-way through a slot's migration, with writes
/// acknowledged by both nodes meanwhile (the importing one's after -ASK), then restarted on its
/// AOF (`appendfsync always`) and nodes.conf: `redis-cli --cluster fix` finishes the migration
/// and nothing acknowledged is lost.
/// Run on real Redis first, so a failure on redis-lite alone is ours.
#[test]
fn fix_finishes_a_migration_whose_importing_node_was_killed() {
    if !redis_cli_installed("fix_finishes_a_migration_whose_importing_node_was_killed") {
        return;
    }
    if Program::Redis.available() {
        kill_mid_migration_then_fix(Program::Redis, Side::Importing);
    }
    kill_mid_migration_then_fix(Program::Lite, Side::Importing);
}

/// The same with the migrating (source) node killed (issue 21's faults).
#[test]
fn fix_finishes_a_migration_whose_migrating_node_was_killed() {
    if !redis_cli_installed("fix_finishes_a_migration_whose_migrating_node_was_killed") {
        return;
    }
    if Program::Redis.available() {
        kill_mid_migration_then_fix(Program::Redis, Side::Migrating);
    }
    kill_mid_migration_then_fix(Program::Lite, Side::Migrating);
}

/// Which end of a slot's migration a test kills.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Side {
    Migrating,
    Importing,
}

/// `redis-cli --cluster fix` 7.0.15 has a race of its own in this scenario, on Redis as on
/// redis-lite: the importing node holds keys of the slot, so fix sees two owners, makes the
/// one with more keys (the importing node) the owner with ADDSLOTS and BUMPEPOCH, and only
/// then takes the slot from the other master. If the new owner's next ping, with its new
/// epoch, reaches the other master first, that master, still serving the slot and holding
/// keys in it, deletes them (Redis's rule for a slot taken by a greater epoch) and fix moves
/// nothing. A run that lost exactly that way is tried again, at most three times in all; any
/// other loss fails at once.
fn kill_mid_migration_then_fix(program: Program, killed: Side) {
    for attempt in 1..=3 {
        match try_kill_mid_migration_then_fix(program, killed) {
            Ok(()) => return,
            Err(race) => eprintln!("attempt {attempt}: {race}"),
        }
    }
    panic!("{program:?}: redis-cli's fix lost its race three times in a row");
}

fn try_kill_mid_migration_then_fix(program: Program, killed: Side) -> Result<(), String> {
    // Shown with a failure: the test runs both programs.
    eprintln!("kill_mid_migration_then_fix: {program:?} cluster, the {killed:?} node killed");
    let durable = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut cluster = Cluster::start(vec![
        Launch::of(program).args(&durable),
        Launch::of(program).args(&durable),
    ]);
    let tag = "m";
    let from = cluster.node_for(tag);
    let to = 1 - from;
    let slot = cluster.key_slot(tag);
    let client = redis::cluster::ClusterClient::new(vec![format!(
        "redis://127.0.0.1:{}",
        cluster.nodes[from].port
    )])
    .unwrap();
    let mut con = client.get_connection().unwrap();
    let mut acked = Acknowledged::default();
    write_tagged(&mut con, &mut acked, tag, 0..200, 0);

    cluster.open_slot(slot, from, to);
    assert_eq!(cluster.migrate_batch(slot, from, to, 100), 100);
    // Half the keys now live on the target (-ASK there), half still on the source, and new
    // keys go to the target.
    write_tagged(&mut con, &mut acked, tag, 0..300, 1000);

    let victim = if killed == Side::Importing { to } else { from };
    cluster.nodes[victim].kill9();
    cluster.nodes[victim].restart();
    drop(con);
    let address = format!("127.0.0.1:{}", cluster.nodes[from].port);
    // The restarted node is back in the cluster before fix looks at it.
    for node in &cluster.nodes {
        let mut raw = node.raw();
        wait_until(
            "the nodes to see each other again",
            Duration::from_secs(30),
            || {
                let nodes = raw.cmd_text(&["CLUSTER", "NODES"]);
                let info = raw.cmd_text(&["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && !nodes.contains("fail")
            },
        );
    }
    let held =
        cluster.nodes[from]
            .raw()
            .cmd_text(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
    let fixed = redis_cli_cluster(&["fix", &address, "--cluster-yes"]);
    let report = assert_check_clean(&cluster.nodes[from]);
    assert_eq!(slots_of(&report, &cluster.nodes[to]), 8192 + 1, "{report}");
    let lost = lost_writes(&cluster.nodes[from], &acked);
    // The keys fix moved, one dot each after "Moving slot N from A to B: ".
    let moved = fixed
        .split_once(&format!("Moving slot {slot} from "))
        .and_then(|(_, rest)| rest.split_once(": "))
        .map_or(0, |(_, rest)| {
            rest.chars().take_while(|&c| c == '.').count()
        });
    if !lost.is_empty()
        && held != ":0\r\n"
        && moved == 0
        && fixed.contains("No single clear owner for the slot")
    {
        return Err(format!(
            "{program:?}: fix lost its race ({held:?} keys on the old owner before it, none \
             moved, {} writes lost)",
            lost.len()
        ));
    }
    if !lost.is_empty() {
        // Where the keys are, and what each node thinks, for a failure seen once in ~42 runs.
        let mut seen = String::new();
        for node in &cluster.nodes {
            let mut raw = node.raw();
            let key = lost[0].split(':').take(2).collect::<Vec<_>>().join(":");
            raw.cmd(&["ASKING"]);
            seen += &format!(
                "node {}: COUNTKEYSINSLOT {slot} {:?}, GET {key} (ASKING) {:?}, DBSIZE {:?}\n{}\n",
                node.port,
                raw.cmd_text(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]),
                raw.cmd_text(&["GET", &key]),
                raw.cmd_text(&["DBSIZE"]),
                raw.cmd_text(&["CLUSTER", "NODES"]),
            );
        }
        panic!(
            "{} acknowledged writes lost, e.g. {:?}\n{seen}fix said:\n{fixed}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
    }
    assert_eq!(
        cluster.nodes[to]
            .raw()
            .cmd_text(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]),
        ":300\r\n"
    );
    Ok(())
}

/// A third master joins with `add-node`, `rebalance --cluster-use-empty-masters` gives it its
/// share under writes, `rebalance` with its weight at 0 takes everything back, and `del-node`
/// removes it; nothing acknowledged is lost. Run on real Redis first.
#[test]
fn add_node_rebalance_and_del_node_under_writes() {
    if !redis_cli_installed("add_node_rebalance_and_del_node_under_writes") {
        return;
    }
    if Program::Redis.available() {
        grow_and_shrink(Program::Redis);
    }
    grow_and_shrink(Program::Lite);
}

fn grow_and_shrink(program: Program) {
    let cluster = Cluster::start(vec![
        Launch::of(program).args(&NO_PERSISTENCE),
        Launch::of(program).args(&NO_PERSISTENCE),
    ]);
    let newcomer = Launch::of(program)
        .args(&NO_PERSISTENCE)
        .cluster_node()
        .start();
    let seed = format!("127.0.0.1:{}", cluster.nodes[0].port);
    let new_address = format!("127.0.0.1:{}", newcomer.port);
    redis_cli_cluster(&["add-node", &new_address, &seed]);
    // Gossip tells every node about the newcomer and the newcomer who serves what.
    wait_settled(&cluster, Some(&newcomer));
    let writer = Writer::start(&cluster.nodes[0], |n| format!("w:{}", n % 5_000));
    writer.wait_for(5_000);
    let new_id = {
        let reply = newcomer.raw().cmd(&["CLUSTER", "MYID"]);
        String::from_utf8(testkit::Reply::parse(&reply).bytes()).unwrap()
    };
    // A small weight for the newcomer keeps the test short: 0.1 of 2.1, some 780 slots.
    let weight = format!("{new_id}=0.1");
    redis_cli_cluster(&[
        "rebalance",
        &seed,
        "--cluster-use-empty-masters",
        "--cluster-weight",
        &weight,
    ]);
    let report = assert_check_clean(&cluster.nodes[0]);
    let share = slots_of(&report, &newcomer);
    assert!((700..=860).contains(&share), "{share} slots\n{report}");

    let weight = format!("{new_id}=0");
    redis_cli_cluster(&["rebalance", &seed, "--cluster-weight", &weight]);
    let acked = writer.stop();
    assert_check_clean(&cluster.nodes[0]);
    // Left without slots, the newcomer replicates the node that took its last one.
    let mut raw = newcomer.raw();
    wait_until(
        "the emptied master to be a replica",
        Duration::from_secs(30),
        || raw.cmd_text(&["ROLE"]).starts_with("*5\r\n$5\r\nslave\r\n"),
    );
    redis_cli_cluster(&["del-node", &seed, &new_id]);
    let report = assert_check_clean(&cluster.nodes[0]);
    assert!(!report.contains(&new_address), "{report}");
    assert_nothing_lost(&cluster.nodes[1], &acked);
    assert!(acked.errors.is_empty(), "write errors: {:?}", acked.errors);
}
