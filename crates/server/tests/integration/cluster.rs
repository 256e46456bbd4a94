//! Cluster mode on one node and on two nodes without a bus: CLUSTER's replies and errors
//! against a real Redis cluster node (node IDs and ports masked), nodes.conf across a kill -9,
//! a locked or corrupted nodes.conf, and the pipeline's redirections (MOVED, ASK, TRYAGAIN,
//! CROSSSLOT, CLUSTERDOWN) with a second node known from a nodes.conf the test writes.

use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::{skipped, wait_until, DataDir, Launch, Program, Raw, Reply, Server};

/// Slots of the keys used below, as Redis's CLUSTER KEYSLOT gives them.
const SLOT_A: u16 = 15495; // "a" and "{a}x"
const SLOT_B: u16 = 3300; // "b"

fn cluster_info(raw: &mut Raw) -> String {
    raw.cmd_text(&["CLUSTER", "INFO"])
}

/// Waits until a master is past its start-up delay (Redis's 2 s before `cluster_size` and
/// `cluster_state` are computed), seen as the state it reports.
fn wait_state(raw: &mut Raw, field: &str) {
    wait_until(
        &format!("CLUSTER INFO shows {field}"),
        Duration::from_secs(10),
        || cluster_info(raw).contains(field),
    );
}

/// A reply with node IDs (any 40 hex digits) and the node's ports replaced by placeholders,
/// so two nodes compare.
fn masked(reply: &[u8], server: &Server) -> String {
    let text = mask_ids(&String::from_utf8_lossy(reply));
    let bus = server.cluster_port.expect("a cluster node");
    let text = text
        .replace(&format!(":{}@{bus}", server.port), ":<PORT>@<BUS>")
        .replace(&format!(":{}\r\n", server.port), ":<PORT>\r\n")
        .replace(&format!(":{}", server.port), ":<PORT>");
    // A verbatim string's length counts the ports' digits.
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    for line in lines.iter_mut() {
        let length = (line.starts_with('$') || line.starts_with('='))
            && line.len() > 1
            && line[1..].parse::<u64>().is_ok();
        if length {
            *line = format!("{}<LEN>", &line[..1]);
        }
    }
    lines.join("\r\n")
}

/// Sends a command that must succeed.
fn ok(raw: &mut Raw, args: &[&str]) {
    let reply = raw.cmd_text(args);
    assert!(reply.starts_with('+'), "{args:?}: {reply}");
}

fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    let mut hex_run = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            hex_run.push(c);
            continue;
        }
        out.push_str(if hex_run.len() == 40 {
            "<ID>"
        } else {
            &hex_run
        });
        hex_run.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn myid(raw: &mut Raw) -> String {
    String::from_utf8(Reply::parse(&raw.cmd(&["CLUSTER", "MYID"])).bytes()).unwrap()
}

/// Runs `script` on a real Redis cluster node and a redis-lite one; `<ID>` in a command
/// stands for the node's own ID. Replies must match once IDs and ports are masked.
fn differential_cluster(script: &[&[&str]], before: impl Fn(&mut Raw)) -> bool {
    let Some(redis) = Launch::redis().cluster_node().start_if_available() else {
        return false;
    };
    let lite = Launch::lite().cluster_node().start();
    let mut mismatches = Vec::new();
    let (mut a, mut b) = (redis.raw(), lite.raw());
    before(&mut a);
    before(&mut b);
    let (id_a, id_b) = (myid(&mut a), myid(&mut b));
    for command in script {
        let with_id = |id: &str| -> Vec<String> {
            command.iter().map(|arg| arg.replace("<ID>", id)).collect()
        };
        let (args_a, args_b) = (with_id(&id_a), with_id(&id_b));
        let expected = masked(
            &a.cmd(&args_a.iter().map(String::as_str).collect::<Vec<_>>()),
            &redis,
        );
        let actual = masked(
            &b.cmd(&args_b.iter().map(String::as_str).collect::<Vec<_>>()),
            &lite,
        );
        if expected != actual {
            mismatches.push(format!(
                "{:?}\n    redis: {expected:?}\n    lite:  {actual:?}",
                command.join(" ")
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "replies differ from real Redis:\n{}",
        mismatches.join("\n")
    );
    true
}

#[test]
fn cluster_subcommands_match_redis_on_one_node() {
    let script: &[&[&str]] = &[
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "LINKS"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "ADDSLOTS", "0", "1", "2"],
        &["CLUSTER", "ADDSLOTSRANGE", "100", "200", "300", "300"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "INFO"],
        &["CLUSTER", "ADDSLOTS", "0"],
        &["CLUSTER", "ADDSLOTS", "16384"],
        &["CLUSTER", "ADDSLOTS", "x"],
        &["CLUSTER", "ADDSLOTS", "5", "5"],
        &["CLUSTER", "ADDSLOTS", "5", "x"],
        &["CLUSTER", "DELSLOTS", "9000"],
        &["CLUSTER", "ADDSLOTSRANGE", "10", "5"],
        &["CLUSTER", "ADDSLOTSRANGE", "10"],
        &["CLUSTER", "ADDSLOTSRANGE", "10", "11", "12"],
        &["CLUSTER", "ADDSLOTSRANGE", "400", "410", "405", "420"],
        &["CLUSTER", "DELSLOTSRANGE", "100", "150"],
        &["CLUSTER", "DELSLOTSRANGE", "100", "150"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "<ID>"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "nobody"],
        &["CLUSTER", "REPLICAS", "<ID>"],
        &["CLUSTER", "SLAVES", "nobody"],
        &["CLUSTER", "FORGET", "<ID>"],
        &["CLUSTER", "FORGET", "nobody"],
        &["CLUSTER", "MEET", "1.2.3.4"],
        &["CLUSTER", "MEET", "1.2.3.4", "x"],
        &["CLUSTER", "MEET", "1.2.3.4", "70000"],
        &["CLUSTER", "MEET", "1.2.3.4", "100", "x"],
        &["CLUSTER", "MEET", "1.2.3.4", "100", "200", "300"],
        &["CLUSTER", "MEET", "not-an-ip", "100"],
        &["CLUSTER", "REPLICATE", "nobody"],
        &["CLUSTER", "REPLICATE", "<ID>"],
        &["CLUSTER", "FAILOVER"],
        &["CLUSTER", "FAILOVER", "sideways"],
        &["CLUSTER", "FAILOVER", "TAKEOVER"],
        &["CLUSTER", "FAILOVER", "FORCE", "x"],
        &["CLUSTER", "FAILOVER", "FORCE"],
        &["REPLICAOF", "127.0.0.1", "1"],
        &["SLAVEOF", "NO", "ONE"],
        &["FAILOVER"],
        &["FAILOVER", "ABORT"],
        &["CLUSTER", "BUMPEPOCH"],
        &["CLUSTER", "BUMPEPOCH"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "5"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "-1"],
        &["CLUSTER", "SET-CONFIG-EPOCH", "x"],
        &["CLUSTER", "SETSLOT", "3", "STABLE"],
        &["CLUSTER", "SETSLOT", "3", "IMPORTING", "nobody"],
        &["CLUSTER", "SETSLOT", "0", "MIGRATING", "nobody"],
        &["CLUSTER", "SETSLOT", "0", "MIGRATING", "<ID>"],
        &["CLUSTER", "SETSLOT", "3", "IMPORTING", "<ID>"],
        &["CLUSTER", "SETSLOT", "0", "IMPORTING", "<ID>"],
        &["CLUSTER", "SETSLOT", "9", "MIGRATING", "<ID>"],
        &["CLUSTER", "SETSLOT", "3", "NODE", "nobody"],
        &["CLUSTER", "SETSLOT", "3", "sideways"],
        &["CLUSTER", "SETSLOT", "3"],
        &["CLUSTER", "SETSLOT", "3", "STABLE", "x"],
        &["CLUSTER", "SETSLOT", "99999", "STABLE"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SETSLOT", "3", "NODE", "<ID>"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "INFO"],
        &["CLUSTER", "SAVECONFIG"],
        &["CLUSTER", "RESET", "sideways"],
        &["CLUSTER", "RESET", "SOFT", "x"],
        &["CLUSTER", "MYID", "x"],
        &["CLUSTER", "sideways"],
        &["CLUSTER"],
        &["CLUSTER", "HELP"],
        &["ASKING", "x"],
        &["ASKING"],
        &["READONLY"],
        &["READWRITE"],
        &["SELECT", "0"],
        &["SELECT", "1"],
        &["SELECT", "-1"],
        &["SELECT", "x"],
        &["SELECT", "99"],
        &["MOVE", "a", "1"],
        &["SWAPDB", "0", "1"],
        &["COPY", "a", "b", "DB", "1"],
        &["COPY", "a", "b", "DB", "99"],
        &["COPY", "a", "b", "DB", "0"],
        &["CLUSTER", "FLUSHSLOTS"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "RESET"],
        &["CLUSTER", "RESET", "HARD"],
        &["CLUSTER", "INFO"],
    ];
    // Past the start-up delay, so that both report the computed cluster size.
    if !differential_cluster(script, |raw| wait_state(raw, "cluster_size:0")) {
        skipped("redis-server is not on PATH (in cluster_subcommands_match_redis_on_one_node)");
    }
}

#[test]
fn cluster_replies_match_redis_in_resp3() {
    let script: &[&[&str]] = &[
        &["CLUSTER", "ADDSLOTSRANGE", "0", "5"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "INFO"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "LINKS"],
    ];
    let before = |raw: &mut Raw| {
        raw.cmd(&["HELLO", "3"]);
        wait_state(raw, "cluster_size:0");
    };
    if !differential_cluster(script, before) {
        skipped("redis-server is not on PATH (in cluster_replies_match_redis_in_resp3)");
    }
}

#[test]
fn the_cluster_rule_matches_redis_on_a_node_serving_every_slot() {
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["MSET", "a", "1", "b", "2"],
        &["MSET", "a", "1", "{a}x", "2"],
        &["MGET", "a", "{a}x"],
        &["SPUBLISH", "a", "m"],
        // Queued commands pass one by one; EXEC judges them together.
        &["MULTI"],
        &["SET", "a", "1"],
        &["SET", "b", "1"],
        &["EXEC"],
        &["EXEC"],
        &["MULTI"],
        &["SET", "a", "1"],
        &["GET", "{a}x"],
        &["EXEC"],
        // A slot migrating (here to the node itself): keys missing here are sent on with ASK.
        &["CLUSTER", "SETSLOT", "15495", "MIGRATING", "<ID>"],
        &["GET", "a"],
        &["GET", "{a}missing"],
        &["MGET", "a", "{a}missing"],
        &["MGET", "{a}missing", "{a}gone"],
        &["CLUSTER", "SETSLOT", "15495", "STABLE"],
        &["EVAL", "return redis.call('get', KEYS[1])", "2", "a", "b"],
        // An unassigned slot, and the cluster down without it.
        &["CLUSTER", "DELSLOTS", "3300"],
        &["GET", "b"],
        &["GET", "a"],
        &["PING"],
        &["SPUBLISH", "a", "m"],
        &["CONFIG", "SET", "cluster-allow-pubsubshard-when-down", "no"],
        &["SPUBLISH", "a", "m"],
        &["CONFIG", "SET", "cluster-allow-reads-when-down", "yes"],
        &["GET", "a"],
        &["SET", "a", "2"],
        &["CLUSTER", "ADDSLOTS", "3300"],
        &["CLUSTER", "FLUSHSLOTS"],
        &["FLUSHALL"],
        &["CLUSTER", "FLUSHSLOTS"],
        &["GET", "a"],
    ];
    let before = |raw: &mut Raw| {
        ok(raw, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        wait_state(raw, "cluster_state:ok");
    };
    if !differential_cluster(script, before) {
        skipped(
            "redis-server is not on PATH (in the_cluster_rule_matches_redis_on_a_node_serving_every_slot)",
        );
    }
}

#[test]
fn announced_addresses_and_endpoint_types_match_redis() {
    let script: &[&[&str]] = &[
        &["CONFIG", "SET", "cluster-announce-hostname", "host-1"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SLOTS"],
        &[
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "hostname",
        ],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &[
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "unknown-endpoint",
        ],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CONFIG", "SET", "cluster-announce-ip", "10.1.2.3"],
        &["CONFIG", "SET", "cluster-announce-hostname", ""],
        &["CONFIG", "SET", "cluster-preferred-endpoint-type", "ip"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SLOTS"],
        &["CONFIG", "SET", "cluster-announce-port", "7777"],
        &["CONFIG", "SET", "cluster-announce-bus-port", "8888"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SHARDS"],
    ];
    let before = |raw: &mut Raw| ok(raw, &["CLUSTER", "ADDSLOTSRANGE", "0", "5"]);
    if !differential_cluster(script, before) {
        skipped(
            "redis-server is not on PATH (in announced_addresses_and_endpoint_types_match_redis)",
        );
    }
}

#[test]
fn scripts_reach_only_keys_this_node_serves() {
    let script: &[&[&str]] = &[
        &["EVAL", "return redis.call('get', 'a')", "0"],
        &["EVAL", "return redis.pcall('get', 'a')", "0"],
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "a"],
        // Keys in different slots, both served here: Redis 7.0 lets a script reach them.
        &[
            "EVAL",
            "redis.call('set', 'b', 1) return redis.call('set', 'c', 1)",
            "0",
        ],
        &["EVAL", "return redis.call('mget', 'b', 'c')", "0"],
        &["EVAL", "return redis.call('get', 'c')", "1", "b"],
        &["GET", "a"],
        &["MGET", "b", "c"],
    ];
    let before = |raw: &mut Raw| {
        ok(
            raw,
            &["CONFIG", "SET", "cluster-require-full-coverage", "no"],
        );
        ok(raw, &["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]);
        wait_state(raw, "cluster_state:ok");
    };
    if !differential_cluster(script, before) {
        skipped("redis-server is not on PATH (in scripts_reach_only_keys_this_node_serves)");
    }
}

/// A script with a shebang, or a function, keeps its calls' keys in one slot: the slot of
/// its declared keys (inside EXEC, the transaction's), or else of the first keys it used; no
/// shebang or `allow-cross-slot-keys` lifts the rule (suite: cluster-scripting.tcl).
#[test]
fn flagged_scripts_keep_their_calls_in_one_slot() {
    let cross = "redis.call('set', 'foo', 'bar') redis.call('set', 'bar', 'foo') return 'OK'";
    let with = |shebang: &str, body: &str| format!("{shebang}\n{body}");
    let (plain, allowed) = (
        with("#!lua", cross),
        with("#!lua flags=allow-cross-slot-keys", cross),
    );
    let pcalled = with(
        "#!lua",
        "redis.call('set', 'foo', 'x') return redis.pcall('get', 'bar')",
    );
    let declared = with("#!lua", "return redis.call('set', 'foo', 'bar')");
    let touches_bar = with("#!lua", "return redis.call('set', 'bar', 'x')");
    let same = with(
        "#!lua",
        "redis.call('set', 'foo', 'x') return redis.call('get', 'foo')",
    );
    let library = |flags: &str| {
        format!(
            "#!lua name=crossslot\nredis.register_function{{function_name='cross', \
             callback=function(keys, args) {cross} end, flags={{{flags}}}}}"
        )
    };
    let (strict, lenient) = (library(""), library("'allow-cross-slot-keys'"));
    let script: &[&[&str]] = &[
        &["EVAL", &plain, "0"],
        &["EVAL", &allowed, "0"],
        &["EVAL", cross, "0"],
        &["EVAL", &pcalled, "0"],
        &["EVAL", &declared, "1", "bar"],
        &["EVAL", &declared, "1", "foo"],
        &["EVAL", &same, "0"],
        &["FUNCTION", "LOAD", "REPLACE", &strict],
        &["FCALL", "cross", "0"],
        &["FUNCTION", "LOAD", "REPLACE", &lenient],
        &["FCALL", "cross", "0"],
        // Inside EXEC the transaction's keys set the slot, and a script's first keys set it
        // for the scripts after it.
        &["MULTI"],
        &["SET", "foo", "1"],
        &["EVAL", &touches_bar, "0"],
        &["EXEC"],
        &["MULTI"],
        &["EVAL", &touches_bar, "0"],
        &["EVAL", &declared, "0"],
        &["EXEC"],
    ];
    let before = |raw: &mut Raw| {
        ok(raw, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        wait_state(raw, "cluster_state:ok");
    };
    if !differential_cluster(script, before) {
        skipped("redis-server is not on PATH (in flagged_scripts_keep_their_calls_in_one_slot)");
    }
}

/// A script or function flagged `no-cluster` is refused on a cluster node before it runs,
/// even read-only and with the cluster down, and counted as an error (legacy cluster suite,
/// 00-base "Function no-cluster flag", "Script no-cluster flag").
#[test]
fn no_cluster_scripts_and_functions_are_refused_in_cluster_mode() {
    let script = "#!lua flags=no-cluster\nreturn 1";
    let read_only = "#!lua flags=no-cluster,no-writes\nreturn 1";
    let library = "#!lua name=nocluster\nredis.register_function{function_name='f1', \
                   callback=function() return 'hello' end, flags={'no-cluster'}}";
    let commands: &[&[&str]] = &[
        &["CONFIG", "RESETSTAT"],
        &["EVAL", script, "0"],
        &["EVAL_RO", read_only, "0"],
        &["FUNCTION", "LOAD", library],
        &["FCALL", "f1", "0"],
        &["FCALL_RO", "f1", "0"],
        &["EVAL", "return 1", "0"],
        &["INFO", "errorstats"],
    ];
    if !differential_cluster(commands, |_| {}) {
        skipped("redis-server is not on PATH (in no_cluster_scripts_and_functions_are_refused_in_cluster_mode)");
    }
}

#[test]
fn cluster_commands_are_refused_without_cluster_mode() {
    let server = Launch::lite().start();
    let mut raw = server.raw();
    let disabled = "-ERR This instance has cluster support disabled\r\n";
    raw.expect_replies(&[
        (&["CLUSTER", "INFO"], disabled),
        (&["CLUSTER", "MYID"], disabled),
        (&["ASKING"], disabled),
        (&["READONLY"], disabled),
        (&["READWRITE"], disabled),
        (&["SELECT", "1"], "+OK\r\n"),
        (&["MSET", "a", "1", "b", "2"], "+OK\r\n"),
    ]);
}

#[test]
fn nodes_conf_keeps_the_node_across_kill_9() {
    let dir = DataDir::new("cluster-restart");
    let mut server = Launch::lite()
        .cluster_node()
        .dir(&dir.0)
        .args(&["--logfile", "node.log"])
        .start();
    let mut raw = server.raw();
    for command in [
        &["CLUSTER", "ADDSLOTSRANGE", "0", "99", "200", "16383"][..],
        &["CLUSTER", "BUMPEPOCH"],
        &["CLUSTER", "SETSLOT", "5", "MIGRATING", "<ID>"],
    ] {
        let id = myid(&mut raw);
        let args: Vec<String> = command.iter().map(|a| a.replace("<ID>", &id)).collect();
        let reply = raw.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(reply.starts_with(b"+"), "{command:?}: {reply:?}");
    }
    let nodes = |raw: &mut Raw| {
        String::from_utf8(Reply::parse(&raw.cmd(&["CLUSTER", "NODES"])).bytes()).unwrap()
    };
    let before = (myid(&mut raw), nodes(&mut raw));
    let file = std::fs::read_to_string(dir.join("nodes.conf")).unwrap();
    assert_eq!(
        file,
        format!("{}vars currentEpoch 1 lastVoteEpoch 0\n", before.1),
        "nodes.conf holds CLUSTER NODES and the epochs"
    );
    assert!(before.1.contains(" 0 0 1 connected 0-99 200-16383 [5->-"));

    server.restart();
    let mut raw = server.raw();
    assert_eq!((myid(&mut raw), nodes(&mut raw)), before);
    let log = std::fs::read_to_string(dir.join("node.log")).unwrap();
    for line in [
        format!("No cluster configuration found, I'm {}", before.0),
        format!("Node configuration loaded, I'm {}", before.0),
        "Running mode=cluster, port=".to_string(),
    ] {
        assert!(log.contains(&line), "{line} missing from {log}");
    }
    let info = cluster_info(&mut raw);
    assert!(
        info.contains("cluster_current_epoch:1\r\ncluster_my_epoch:1"),
        "{info}"
    );
    assert!(info.contains("cluster_slots_assigned:16284"), "{info}");
    let info = raw.cmd_text(&["INFO"]);
    assert!(
        info.contains("redis_mode:cluster\r\n") && info.contains("cluster_enabled:1\r\n"),
        "{info}"
    );
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nodes.conf"))
        .collect();
    assert_eq!(names, ["nodes.conf"]);
}

/// A pipeline of SETSLOT NODE for every slot is saved (once per batch, before the replies go
/// out, as Redis saves before it sleeps): nodes.conf holds all of them once the last reply is
/// read, and survives a kill -9.
#[test]
fn a_pipeline_of_setslots_is_in_nodes_conf_when_its_replies_arrive() {
    let dir = DataDir::new("cluster-setslot-pipeline");
    let mut server = Launch::lite().cluster_node().dir(&dir.0).start();
    let mut raw = server.raw();
    let id = myid(&mut raw);
    let mut pipeline = Vec::new();
    for slot in 0..16384 {
        let slot = slot.to_string();
        let args = ["CLUSTER", "SETSLOT", &slot, "NODE", &id];
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        pipeline.extend(testkit::encode(&args));
    }
    raw.send(&pipeline);
    for _ in 0..16384 {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
    }
    let file = std::fs::read_to_string(dir.join("nodes.conf")).unwrap();
    assert!(file.contains(" connected 0-16383\n"), "{file}");
    server.restart();
    let info = cluster_info(&mut server.raw());
    assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
}

#[test]
fn a_corrupted_or_locked_nodes_conf_stops_the_node() {
    let dir = DataDir::new("cluster-bad-conf");
    std::fs::write(dir.join("nodes.conf"), "this is not a nodes file\n").unwrap();
    let (status, output) = Launch::lite()
        .dir(&dir.0)
        .args(&["--cluster-enabled", "yes"])
        .run_until_exit();
    assert!(!status.success());
    assert!(
        output.contains(
            "Unrecoverable error: corrupted cluster config file \"this is not a nodes file\"."
        ),
        "{output}"
    );

    let shared = DataDir::new("cluster-shared-conf");
    let _first = Launch::lite().cluster_node().dir(&shared.0).start();
    let (status, output) = Launch::lite()
        .dir(&shared.0)
        .args(&[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ])
        .run_until_exit();
    assert!(!status.success());
    assert!(
        output.contains("Sorry, the cluster configuration file nodes.conf is already used by a different Redis Cluster node."),
        "{output}"
    );
}

/// Node A serves slots 0-8191 and knows node B (from the nodes.conf the test wrote) for
/// 8192-16382; slot 16383 is given to B with SETSLOT NODE.
#[test]
fn redirections_follow_the_slot_table() {
    let b = Launch::lite().cluster_node().start();
    let id_b = myid(&mut b.raw());
    let id_a = "a".repeat(40);
    let dir = DataDir::new("cluster-two-nodes");
    std::fs::write(
        dir.join("nodes.conf"),
        format!(
            "{id_a} 127.0.0.1:0@0 myself,master - 0 0 1 connected 0-8191\n\
             {id_b} 127.0.0.1:{}@{} master - 0 0 2 disconnected 8192-16382\n\
             vars currentEpoch 2 lastVoteEpoch 0\n",
            b.port,
            b.cluster_port.unwrap()
        ),
    )
    .unwrap();
    let a = Launch::lite().cluster_node().dir(&dir.0).start();
    let mut raw = a.raw();
    let moved = |slot: u16| format!("-MOVED {slot} 127.0.0.1:{}\r\n", b.port);
    let exchanges: &[(&[&str], &str)] = &[
        (&["CLUSTER", "SETSLOT", "16383", "NODE", &id_b], "+OK\r\n"),
        (
            &["CLUSTER", "SETSLOT", "16383", "NODE", "nobody"],
            "-ERR Unknown node nobody\r\n",
        ),
    ];
    raw.expect_replies(exchanges);
    wait_state(&mut raw, "cluster_state:ok");
    let info = cluster_info(&mut raw);
    assert!(
        info.contains("cluster_known_nodes:2\r\ncluster_size:2"),
        "{info}"
    );
    let slots = raw.cmd_text(&["CLUSTER", "SLOTS"]);
    assert!(
        slots.contains(&format!(
            "*3\r\n:8192\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:{}\r\n$40\r\n{id_b}\r\n",
            b.port
        )),
        "{slots}"
    );

    // A client blocked on a key of slot 3300 (served here): it waits while the slot is being
    // migrated, and is sent to B once B serves the slot.
    let mut blocked = a.raw();
    blocked.send(&testkit::encode(&[b"BLPOP", b"{b}list", b"0"]));
    wait_until("the BLPOP blocks", Duration::from_secs(5), || {
        testkit::info_field(&mut raw, "clients", "blocked_clients") == "1"
    });
    let (slot_a, slot_b) = (SLOT_A.to_string(), SLOT_B.to_string());
    let exchanges: &[(&[&str], &str)] = &[
        (&["SET", "b", "1"], "+OK\r\n"),
        (&["GET", "a"], &moved(SLOT_A)),
        (&["GET", "x"], &moved(16287)),
        (&["MGET", "a", "{a}x"], &moved(SLOT_A)),
        (
            &["MGET", "a", "b"],
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
        ),
        (&["PING"], "+PONG\r\n"),
        // Queued commands are judged one by one; the transaction is then refused.
        (&["MULTI"], "+OK\r\n"),
        (&["SET", "b", "2"], "+QUEUED\r\n"),
        (&["SET", "a", "2"], &moved(SLOT_A)),
        (
            &["EXEC"],
            "-EXECABORT Transaction discarded because of previous errors.\r\n",
        ),
        // A slot being imported from B is served only after ASKING, for one command.
        (&["CLUSTER", "SETSLOT", &slot_a, "IMPORTING", &id_b], "+OK\r\n"),
        (&["GET", "a"], &moved(SLOT_A)),
        (&["ASKING"], "+OK\r\n"),
        (&["SET", "a", "here"], "+OK\r\n"),
        (&["GET", "a"], &moved(SLOT_A)),
        (&["ASKING"], "+OK\r\n"),
        (
            &["MGET", "a", "{a}missing"],
            "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
        ),
        (&["ASKING"], "+OK\r\n"),
        (&["MULTI"], "+OK\r\n"),
        (&["GET", "a"], "+QUEUED\r\n"),
        (&["EXEC"], "*1\r\n$4\r\nhere\r\n"),
        (&["GET", "a"], &moved(SLOT_A)),
        // A slot this node migrates to B: keys still here are served, missing ones asked of B.
        (&["CLUSTER", "SETSLOT", &slot_b, "MIGRATING", &id_b], "+OK\r\n"),
        (&["GET", "b"], "$1\r\n1\r\n"),
        (&["GET", "{b}missing"], &format!("-ASK {SLOT_B} 127.0.0.1:{}\r\n", b.port)),
        (
            &["MGET", "b", "{b}missing"],
            "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
        ),
        (
            &["CLUSTER", "SETSLOT", &slot_b, "NODE", &id_b],
            &format!("-ERR Can't assign hashslot {SLOT_B} to a different node while I still hold keys for this hash slot.\r\n"),
        ),
        (&["DEL", "b"], ":1\r\n"),
        (&["CLUSTER", "SETSLOT", &slot_b, "NODE", &id_b], "+OK\r\n"),
        (&["GET", "b"], &moved(SLOT_B)),
    ];
    raw.expect_replies(exchanges);
    // Read before FORGET below: woken on its own event loop, the blocked client would see
    // the cluster down if it ran after it.
    assert_eq!(
        String::from_utf8(blocked.read_reply()).unwrap(),
        moved(SLOT_B),
        "the blocked client is redirected"
    );
    raw.expect_replies(&[
        // A forgotten node's slots are unbound.
        (&["CLUSTER", "FORGET", &id_b], "+OK\r\n"),
        (&["GET", "a"], "-CLUSTERDOWN Hash slot not served\r\n"),
        (&["GET", "c"], "-CLUSTERDOWN The cluster is down\r\n"),
    ]);
    let nodes = |raw: &mut Raw| {
        String::from_utf8(Reply::parse(&raw.cmd(&["CLUSTER", "NODES"])).bytes()).unwrap()
    };
    let a_nodes = nodes(&mut raw);
    assert_eq!(a_nodes.lines().count(), 1, "{a_nodes}");
    // B, without a bus, learned nothing: it knows only itself.
    let b_nodes = nodes(&mut b.raw());
    assert!(
        b_nodes.starts_with(&id_b) && b_nodes.lines().count() == 1,
        "{b_nodes}"
    );
}

#[test]
fn a_real_redis_node_and_redis_lite_read_each_others_nodes_conf() {
    if !Program::Redis.available() {
        skipped("redis-server is not on PATH (in a_real_redis_node_and_redis_lite_read_each_others_nodes_conf)");
        return;
    }
    let dir = DataDir::new("cluster-conf-exchange");
    let redis = Launch::redis().cluster_node().dir(&dir.0).start();
    let mut raw = redis.raw();
    ok(
        &mut raw,
        &["CLUSTER", "ADDSLOTSRANGE", "0", "10", "20", "16383"],
    );
    ok(&mut raw, &["CLUSTER", "BUMPEPOCH"]);
    let id = myid(&mut raw);
    ok(&mut raw, &["CLUSTER", "SETSLOT", "7", "MIGRATING", &id]);
    let expected = masked(&raw.cmd(&["CLUSTER", "NODES"]), &redis);
    drop(raw);
    drop(redis);
    let lite = Launch::lite().cluster_node().dir(&dir.0).start();
    let mut raw = lite.raw();
    assert_eq!(myid(&mut raw), id);
    assert_eq!(masked(&raw.cmd(&["CLUSTER", "NODES"]), &lite), expected);
    assert!(cluster_info(&mut raw).contains("cluster_current_epoch:1"));
}

#[test]
fn redis_cli_checks_and_follows_a_redis_lite_node() {
    if !testkit::installed("redis-cli") {
        skipped("redis-cli is not on PATH (in redis_cli_checks_and_follows_a_redis_lite_node)");
        return;
    }
    let server = Launch::lite().cluster_node().start();
    let mut raw = server.raw();
    ok(&mut raw, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    wait_state(&mut raw, "cluster_state:ok");
    let address = format!("127.0.0.1:{}", server.port);
    let check = testkit::run("redis-cli", &["--cluster", "check", &address], b"");
    let output = testkit::text(&check.stdout);
    assert!(check.status.success(), "{output}");
    for line in [
        "slots:[0-16383] (16384 slots) master",
        "[OK] All nodes agree about slots configuration.",
        "[OK] All 16384 slots covered.",
    ] {
        assert!(output.contains(line), "{line} missing from {output}");
    }
    let port = server.port.to_string();
    let set = testkit::run("redis-cli", &["-c", "-p", &port, "SET", "foo", "bar"], b"");
    assert_eq!(testkit::text(&set.stdout), "OK\n");
}

/// READONLY shows as CLIENT LIST's `r` flag, and RESET clears it, as in Redis.
#[test]
fn readonly_flag_shows_and_reset_clears_it() {
    let flags = |server: &Server| -> Vec<String> {
        let mut raw = server.raw();
        let mut seen = Vec::new();
        for step in [&["READONLY"][..], &["RESET"], &["READONLY"], &["READWRITE"]] {
            raw.cmd(step);
            let info = raw.cmd_text(&["CLIENT", "INFO"]);
            let flags = info
                .split(' ')
                .find_map(|field| field.strip_prefix("flags="))
                .unwrap_or("?")
                .to_string();
            seen.push(format!("{}: {flags}", step[0]));
        }
        seen
    };
    let lite = Launch::lite().cluster_node().start();
    let ours = flags(&lite);
    assert_eq!(
        ours,
        ["READONLY: r", "RESET: N", "READONLY: r", "READWRITE: N"]
    );
    match Launch::redis().cluster_node().start_if_available() {
        Some(redis) => assert_eq!(ours, flags(&redis)),
        None => skipped("redis-server is not on PATH"),
    }
}

/// A client blocked on a node whose cluster then fails (a master stops answering, its slots
/// are lost) is ended with CLUSTERDOWN, as Redis's clients cron ends it, instead of staying
/// blocked (suite: cluster.tcl, "Verify command got unblocked after cluster failure").
#[test]
fn a_blocked_client_ends_with_clusterdown_when_the_cluster_fails() {
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            skipped("redis-server is not on PATH (in a_blocked_client_ends_with_clusterdown_when_the_cluster_fails)");
            continue;
        }
        let nodes = (0..3)
            .map(|_| {
                Launch::of(program)
                    .args(&["--save", "", "--appendonly", "no"])
                    .args(&["--cluster-node-timeout", "500"])
            })
            .collect();
        let cluster = testkit::Cluster::start(nodes);
        let key = (0..)
            .map(|i| format!("list{i}"))
            .find(|key| cluster.node_for(key) == 0)
            .expect("a key of node 0");
        let mut blocked = cluster.nodes[0].raw();
        blocked.send(&testkit::encode(&[b"BLPOP", key.as_bytes(), b"0"]));
        let mut observer = cluster.nodes[0].raw();
        wait_until("the client to block", Duration::from_secs(10), || {
            testkit::info_field(&mut observer, "clients", "blocked_clients") == "1"
        });
        let _stopped = cluster.nodes[2].freeze();
        wait_state(&mut observer, "cluster_state:fail");
        blocked.set_read_timeout(Duration::from_secs(10));
        assert_eq!(
            String::from_utf8_lossy(&blocked.read_reply()),
            "-CLUSTERDOWN The cluster is down\r\n",
            "{program:?}"
        );
    }
}

/// A node's bus links leave from `bind-source-addr`: a node it meets learns it at that
/// address, as from a Redis node with the same setting.
#[test]
fn cluster_bus_links_leave_from_bind_source_addr() {
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            skipped(
                "redis-server is not on PATH (in cluster_bus_links_leave_from_bind_source_addr)",
            );
            continue;
        }
        let a = Launch::of(program)
            .cluster_node()
            .args(&["--bind", "127.0.0.1", "127.0.0.2"])
            .args(&["--bind-source-addr", "127.0.0.2"])
            .start();
        let b = Launch::of(program).cluster_node().start();
        let (port, bus) = (b.port.to_string(), b.cluster_port.unwrap().to_string());
        ok(&mut a.raw(), &["CLUSTER", "MEET", "127.0.0.1", &port, &bus]);
        let a_id = myid(&mut a.raw());
        let seen_at = format!("{a_id} 127.0.0.2:{}@", a.port);
        let mut raw = b.raw();
        wait_until(
            &format!("{program:?}: the met node to list the other at 127.0.0.2"),
            Duration::from_secs(10),
            || raw.cmd_text(&["CLUSTER", "NODES"]).contains(&seen_at),
        );
    }
}

/// Redis's start-up check of the data against nodes.conf: a master restarted with keys in a
/// slot another node serves imports that slot from it, and takes a slot nobody serves, saying
/// so in its log and nodes.conf (so `redis-cli --cluster fix` sees an open slot, not keys
/// nobody claims). The same files on a real Redis node give the same slot table.
#[test]
fn keys_in_slots_a_restarted_node_does_not_serve_are_imported_or_claimed() {
    let Some(redis) = restarted_with_keys_beyond_its_slots(Program::Redis) else {
        skipped("redis-server is not on PATH (in keys_in_slots_a_restarted_node_does_not_serve_are_imported_or_claimed)");
        return;
    };
    let lite = restarted_with_keys_beyond_its_slots(Program::Lite).unwrap();
    assert_eq!(lite, redis);
}

/// Saves "foo" (slot 12182) and "a" (slot 15495) on a node serving every slot, then restarts
/// it with a nodes.conf in which it serves only 0-100, another master 12182, nobody 15495.
/// Returns the node's sorted CLUSTER NODES lines (IDs, ports and times masked), its log
/// lines about the two slots, nodes.conf's slot fields and DBSIZE.
fn restarted_with_keys_beyond_its_slots(program: Program) -> Option<Vec<String>> {
    if !program.available() {
        return None;
    }
    let dir = DataDir::new("cluster-keys-beyond-slots");
    let me = "c".repeat(40);
    let other = "e".repeat(40);
    let conf = |slots: &str, others: &str, epoch: u32| {
        std::fs::write(
            dir.join("nodes.conf"),
            format!(
                "{me} 127.0.0.1:0@0 myself,master - 0 0 1 connected {slots}\n{others}\
                 vars currentEpoch {epoch} lastVoteEpoch 0\n"
            ),
        )
        .unwrap();
    };
    conf("0-16383", "", 1);
    let launch = || {
        Launch::of(program)
            .cluster_node()
            .dir(&dir.0)
            .args(&["--logfile", "node.log"])
            .start()
    };
    let server = launch();
    let mut raw = server.raw();
    wait_state(&mut raw, "cluster_state:ok");
    ok(&mut raw, &["SET", "foo", "bar"]);
    ok(&mut raw, &["SET", "a", "1"]);
    ok(&mut raw, &["SAVE"]);
    drop(raw);
    drop(server);
    conf(
        "0-100",
        &format!("{other} 127.0.0.1:1@2 master - 0 0 5 disconnected 12182\n"),
        5,
    );
    let server = launch();
    let mut raw = server.raw();
    let nodes = String::from_utf8(Reply::parse(&raw.cmd(&["CLUSTER", "NODES"])).bytes()).unwrap();
    let mut seen: Vec<String> = nodes
        .lines()
        .map(|line| {
            // id addr flags master ping_sent pong_recv epoch link slots...: the times vary.
            let mut fields: Vec<&str> = line.split(' ').collect();
            fields[4] = "<T>";
            masked(fields.join(" ").as_bytes(), &server)
        })
        .collect();
    seen.sort();
    let log = std::fs::read_to_string(dir.join("node.log")).unwrap();
    seen.extend(
        log.lines()
            .filter_map(|line| line.split_once(" # ").map(|(_, text)| text))
            .filter(|text| text.starts_with("I have keys"))
            .map(str::to_string),
    );
    let saved = std::fs::read_to_string(dir.join("nodes.conf")).unwrap();
    // Redis writes its nodes in its dictionary's order.
    let mut saved_slots: Vec<String> = saved
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.get(8..).unwrap_or_default().join(" ")
        })
        .collect();
    saved_slots.sort();
    seen.extend(saved_slots);
    seen.push(raw.cmd_text(&["DBSIZE"]));
    Some(seen)
}

/// The changes of `cluster_state` are logged as Redis logs them, "Cluster state changed: ok"
/// once the slots are covered (the state starts as fail, unlogged), "... fail" once one is
/// not: redis-rs's test harness waits for the first line before it uses a cluster it built,
/// and redis-lite logged neither.
#[test]
fn cluster_state_changes_are_logged() {
    for program in [Program::Redis, Program::Lite] {
        let dir = DataDir::new("cluster-state-log");
        let Some(server) = Launch::of(program)
            .no_persistence()
            .cluster_node()
            .dir(&dir.0)
            .args(&["--logfile", "node.log"])
            .start_if_available()
        else {
            continue;
        };
        let log = || std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
        let changes = || -> Vec<String> {
            log()
                .lines()
                .filter_map(|line| line.split_once(" # Cluster state changed: "))
                .map(|(_, state)| state.to_string())
                .collect()
        };
        let mut raw = server.raw();
        assert_eq!(
            raw.cmd_text(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
            "+OK\r\n"
        );
        wait_until("the state's change to ok", Duration::from_secs(30), || {
            !changes().is_empty()
        });
        assert_eq!(changes(), ["ok"], "{program:?}: {}", log());
        assert_eq!(raw.cmd_text(&["CLUSTER", "DELSLOTS", "0"]), "+OK\r\n");
        wait_until(
            "the state's change to fail",
            Duration::from_secs(30),
            || changes().len() == 2,
        );
        assert_eq!(changes(), ["ok", "fail"], "{program:?}: {}", log());
    }
}
