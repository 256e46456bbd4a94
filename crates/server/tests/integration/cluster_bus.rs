//! The cluster bus between live nodes: clusters of redis-lite masters, and of redis-lite and
//! real Redis 7.0 masters, created by `redis-cli --cluster create` and checked clean by
//! `redis-cli --cluster check` from every node; every node's view agrees; `redis-cli -c`
//! follows MOVED; a node killed with kill -9 goes PFAIL then FAIL everywhere and is cleared
//! when it returns; PUBLISH reaches subscribers on other nodes; CLUSTER FORGET; a cluster
//! whose bus speaks TLS (`tls-cluster yes`), redis-lite and Redis nodes together. Tests that
//! need redis-cli or redis-server say they were skipped when those are missing.

use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::pki::Pki;
use testkit::{free_port, skipped, wait_until, DataDir, Launch, Program, Raw, Reply, Server};

/// Under a loaded machine, agreement takes a few gossip rounds; generous on purpose.
const CONVERGE: Duration = Duration::from_secs(60);

/// A short node timeout, so failure detection happens within a test.
const NODE_TIMEOUT: &str = "1500";

fn node(program: Program) -> Launch {
    Launch::of(program)
        .cluster_node()
        .args(&["--save", "", "--appendonly", "no"])
        .args(&["--cluster-node-timeout", NODE_TIMEOUT])
}

fn address(server: &Server) -> String {
    format!("127.0.0.1:{}", server.port)
}

/// A bulk or verbatim reply's text.
fn text(raw: &mut Raw, args: &[&str]) -> String {
    String::from_utf8_lossy(&Reply::parse(&raw.cmd(args)).bytes()).into_owned()
}

fn cluster_info(server: &Server, field: &str) -> String {
    let info = text(&mut server.raw(), &["CLUSTER", "INFO"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

/// Starts `programs` as cluster nodes and joins them with `redis-cli --cluster create`, then
/// waits until every node says the cluster is ok and knows every node. None (and a skip
/// message) when redis-cli or a program is missing.
fn create(programs: &[Program]) -> Option<Vec<Server>> {
    if !testkit::installed("redis-cli") {
        return None;
    }
    if let Some(missing) = programs.iter().find(|p| !p.available()) {
        skipped(&format!("{missing:?} is not available"));
        return None;
    }
    let nodes: Vec<Server> = programs.iter().map(|&p| node(p).start()).collect();
    let mut args = vec!["--cluster".to_string(), "create".to_string()];
    args.extend(nodes.iter().map(address));
    args.push("--cluster-yes".to_string());
    let created = testkit::run("redis-cli", &args, b"");
    let output = testkit::text(&created.stdout);
    assert!(created.status.success(), "{output}");
    assert!(output.contains("[OK] All 16384 slots covered."), "{output}");
    wait_converged(&nodes);
    Some(nodes)
}

/// Waits until every node of `nodes` says `cluster_state:ok` and knows exactly them.
fn wait_converged(nodes: &[Server]) {
    for server in nodes {
        wait_until(
            &format!("node {} to see the whole cluster ok", server.port),
            CONVERGE,
            || {
                cluster_info(server, "cluster_state") == "ok"
                    && cluster_info(server, "cluster_known_nodes") == nodes.len().to_string()
            },
        );
    }
}

/// The flags `server` shows for the node `id` in CLUSTER NODES (empty when it does not know it).
fn flags_of(server: &Server, id: &str) -> String {
    let nodes = text(&mut server.raw(), &["CLUSTER", "NODES"]);
    nodes
        .lines()
        .find(|l| l.starts_with(id))
        .map(|l| l.split(' ').nth(2).unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// A node's view of the cluster, comparable between nodes: each node's ID, address, flags
/// without `myself`, master, config epoch, link state and slots, sorted by ID.
fn view(server: &Server) -> Vec<String> {
    let nodes = text(&mut server.raw(), &["CLUSTER", "NODES"]);
    let mut lines: Vec<String> = nodes
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let flags = fields[2].replace("myself,", "");
            let mut kept = vec![
                fields[0], fields[1], &flags, fields[3], fields[6], fields[7],
            ]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
            kept.extend(fields[8..].iter().map(|s| s.to_string()));
            kept.join(" ")
        })
        .collect();
    lines.sort();
    lines
}

/// `redis-cli --cluster check` from `server` reports a clean cluster of `count` masters.
fn assert_check_clean(server: &Server, count: usize) {
    let check = testkit::run("redis-cli", &["--cluster", "check", &address(server)], b"");
    let output = testkit::text(&check.stdout);
    assert!(check.status.success(), "{output}");
    for line in [
        format!("{count} masters."),
        "[OK] All nodes agree about slots configuration.".to_string(),
        "[OK] All 16384 slots covered.".to_string(),
    ] {
        assert!(output.contains(&line), "{line} missing from {output}");
    }
    assert!(!output.contains("[ERR]"), "{output}");
}

/// Every node's NODES agree, and so do their SLOTS (byte for byte) and SHARDS' shard count.
fn assert_views_agree(nodes: &[Server]) {
    let agreed = testkit::poll(CONVERGE, || {
        nodes
            .iter()
            .all(|n| view(n) == view(&nodes[0]))
            .then_some(())
    });
    if agreed.is_none() {
        for server in &nodes[1..] {
            assert_eq!(view(server), view(&nodes[0]), "{} disagrees", server.port);
        }
    }
    let slots = nodes[0].raw().cmd(&["CLUSTER", "SLOTS"]);
    let masters = view(&nodes[0])
        .iter()
        .filter(|line| {
            line.split(' ')
                .nth(2)
                .is_some_and(|f| f.starts_with("master"))
        })
        .count();
    for server in nodes {
        assert_eq!(
            server.raw().cmd(&["CLUSTER", "SLOTS"]),
            slots,
            "{}",
            server.port
        );
        let shards = server.raw().cmd_text(&["CLUSTER", "SHARDS"]);
        assert!(shards.starts_with(&format!("*{masters}\r\n")), "{shards}");
    }
}

#[test]
fn redis_cli_creates_a_cluster_of_three_redis_lite_masters() {
    let Some(nodes) = create(&[Program::Lite; 3]) else {
        return;
    };
    for server in &nodes {
        assert_check_clean(server, 3);
    }
    assert_views_agree(&nodes);
    for server in &nodes {
        assert_eq!(cluster_info(server, "cluster_size"), "3");
        assert_eq!(cluster_info(server, "cluster_current_epoch"), "3");
        let sent: u64 = cluster_info(server, "cluster_stats_messages_ping_sent")
            .parse()
            .unwrap();
        assert!(sent > 0, "no PING counted on {}", server.port);
        // Each node has a link to and a link from each other node.
        wait_until("two links per peer", CONVERGE, || {
            let links = server.raw().cmd_text(&["CLUSTER", "LINKS"]);
            links.starts_with("*4\r\n")
                && links.matches("$9\r\ndirection\r\n$2\r\nto\r\n").count() == 2
        });
    }
    // redis-cli -c follows MOVED from whichever node it starts at.
    let port = nodes[0].port.to_string();
    for key in ["alpha", "beta", "gamma", "delta", "epsilon"] {
        let set = testkit::run("redis-cli", &["-c", "-p", &port, "SET", key, key], b"");
        assert_eq!(testkit::text(&set.stdout), "OK\n", "SET {key}");
    }
    let other = nodes[2].port.to_string();
    for key in ["alpha", "beta", "gamma", "delta", "epsilon"] {
        let get = testkit::run("redis-cli", &["-c", "-p", &other, "GET", key], b"");
        assert_eq!(testkit::text(&get.stdout), format!("{key}\n"), "GET {key}");
    }
}

#[test]
fn a_mixed_cluster_of_redis_and_redis_lite_checks_clean_from_both() {
    let programs = [Program::Lite, Program::Redis, Program::Lite, Program::Redis];
    let Some(nodes) = create(&programs) else {
        return;
    };
    for server in &nodes {
        assert_check_clean(server, 4);
    }
    assert_views_agree(&nodes);
    // CLUSTER INFO has Redis's fields in Redis's order, and the same values where they are
    // the cluster's rather than the node's own.
    let fields = |server: &Server| -> Vec<String> {
        let info = text(&mut server.raw(), &["CLUSTER", "INFO"]);
        info.lines()
            .filter(|l| !l.starts_with("cluster_stats_messages_"))
            .map(|l| match l.split_once(':') {
                Some(("cluster_my_epoch", _)) => "cluster_my_epoch".to_string(),
                _ => l.to_string(),
            })
            .collect()
    };
    assert_eq!(fields(&nodes[0]), fields(&nodes[1]));
    assert_eq!(fields(&nodes[2]), fields(&nodes[3]));
    // PUBLISH on any node reaches a subscriber on every other, whichever kind each is. The
    // cluster has converged, so every node has its links: one PUBLISH is enough. A channel per
    // pair: a PUBLISH goes to every node, and may reach one after the next pair subscribed there.
    for (from, to) in [(0, 1), (1, 2), (2, 0), (3, 2)] {
        let channel = format!("news{from}{to}");
        let mut subscriber = nodes[to].raw();
        subscriber.cmd(&["SUBSCRIBE", &channel]);
        let message = format!("hello from {from}");
        nodes[from].raw().cmd(&["PUBLISH", &channel, &message]);
        let push = subscriber.read_reply();
        let expected = format!(
            "*3\r\n$7\r\nmessage\r\n$6\r\n{channel}\r\n${}\r\n{message}\r\n",
            message.len()
        );
        assert_eq!(String::from_utf8_lossy(&push), expected, "{from} -> {to}");
    }
}

#[test]
fn a_killed_node_goes_pfail_then_fail_everywhere_and_is_cleared_when_back() {
    let Some(mut nodes) = create(&[Program::Lite; 3]) else {
        return;
    };
    let victim = text(&mut nodes[2].raw(), &["CLUSTER", "MYID"]);
    nodes[2].kill9();
    let flags_of = |server: &Server| flags_of(server, &victim);
    for server in &nodes[..2] {
        wait_until("the killed node to be flagged fail", CONVERGE, || {
            flags_of(server) == "master,fail"
        });
        // The state follows the flag once the node has recomputed it.
        wait_until("the cluster to be down", CONVERGE, || {
            cluster_info(server, "cluster_state") == "fail"
        });
        assert_eq!(cluster_info(server, "cluster_slots_fail"), "5461");
        // Redis 7.0.15 says `fail` here, where its documentation says `failed`.
        let shards = server.raw().cmd_text(&["CLUSTER", "SHARDS"]);
        let healths = |word: &str| {
            shards
                .matches(&format!("health\r\n${}\r\n{word}\r\n", word.len()))
                .count()
        };
        assert_eq!((healths("fail"), healths("online")), (1, 2), "{shards}");
    }
    nodes[2].restart();
    wait_converged(&nodes);
    for server in &nodes[..2] {
        wait_until("the returned node's FAIL to clear", CONVERGE, || {
            flags_of(server) == "master"
        });
    }
    assert_views_agree(&nodes);
}

#[test]
fn pfail_needs_a_majority_of_masters_to_become_fail() {
    let Some(mut nodes) = create(&[Program::Lite; 3]) else {
        return;
    };
    let victim = text(&mut nodes[2].raw(), &["CLUSTER", "MYID"]);
    // With one of the two other masters also gone, the last one alone is no majority of
    // three: the victim stays PFAIL there.
    nodes[2].kill9();
    nodes[1].kill9();
    let survivor = &nodes[0];
    wait_until("the killed nodes to be flagged fail?", CONVERGE, || {
        let text = text(&mut survivor.raw(), &["CLUSTER", "NODES"]);
        text.lines().filter(|l| l.contains("master,fail?")).count() == 2
    });
    wait_until("the cluster to be down", CONVERGE, || {
        cluster_info(survivor, "cluster_state") == "fail"
    });
    let reports = survivor
        .raw()
        .cmd_text(&["CLUSTER", "COUNT-FAILURE-REPORTS", &victim]);
    assert_eq!(reports, ":0\r\n");
}

#[test]
fn forget_removes_a_node_and_gossip_does_not_bring_it_back() {
    let Some(nodes) = create(&[Program::Lite; 3]) else {
        return;
    };
    let forgotten = text(&mut nodes[2].raw(), &["CLUSTER", "MYID"]);
    let mut first = nodes[0].raw();
    assert_eq!(
        first.cmd_text(&["CLUSTER", "FORGET", &forgotten]),
        "+OK\r\n"
    );
    assert_eq!(
        first.cmd_text(&["CLUSTER", "FORGET", &forgotten]),
        format!("-ERR Unknown node {forgotten}\r\n")
    );
    let me = text(&mut first, &["CLUSTER", "MYID"]);
    assert_eq!(
        first.cmd_text(&["CLUSTER", "FORGET", &me]),
        "-ERR I tried hard but I can't forget myself...\r\n"
    );
    assert_eq!(cluster_info(&nodes[0], "cluster_known_nodes"), "2");
    // The second node still gossips about the third; for the blacklist's minute the first
    // does not take it back. Twenty more messages from the second node are gossip enough.
    let received = |server: &Server| -> u64 {
        cluster_info(server, "cluster_stats_messages_received")
            .parse()
            .unwrap()
    };
    let before = received(&nodes[0]);
    wait_until("more gossip from the second node", CONVERGE, || {
        received(&nodes[0]) >= before + 20
    });
    assert_eq!(cluster_info(&nodes[0], "cluster_known_nodes"), "2");
    assert!(!text(&mut first, &["CLUSTER", "NODES"]).contains(&forgotten));
}

#[test]
fn a_tls_cluster_of_redis_lite_and_redis_nodes_forms_over_tls_links() {
    let mut programs = vec![Program::Lite, Program::Lite];
    if Program::Redis.available() {
        programs.push(Program::Redis);
    } else {
        skipped("redis-server is not available: the TLS cluster has redis-lite nodes only");
    }
    let pki = Pki::new(DataDir::new("tls-bus"), "bus");
    let ca = pki.ca_file();
    let mut tls_ports = Vec::new();
    let nodes: Vec<Server> = programs
        .iter()
        .enumerate()
        .map(|(i, &program)| {
            let id = pki.issue(&format!("node{i}"));
            let tls_port = free_port();
            tls_ports.push(tls_port);
            let tls_port = tls_port.to_string();
            node(program)
                .args(&["--tls-port", &tls_port, "--tls-cluster", "yes"])
                .args(&["--tls-cert-file", &id.cert, "--tls-key-file", &id.key])
                .args(&["--tls-ca-cert-file", &ca])
                .start()
        })
        .collect();
    let per_node = 16384 / nodes.len();
    for (i, server) in nodes.iter().enumerate() {
        let first = (i * per_node).to_string();
        let last = if i + 1 == nodes.len() {
            16383
        } else {
            (i + 1) * per_node - 1
        };
        let reply = server
            .raw()
            .cmd_text(&["CLUSTER", "ADDSLOTSRANGE", &first, &last.to_string()]);
        assert_eq!(reply, "+OK\r\n");
    }
    let mut first = nodes[0].raw();
    for (server, tls_port) in nodes.iter().zip(&tls_ports).skip(1) {
        let bus = server.cluster_port.expect("a cluster node").to_string();
        let reply = first.cmd_text(&["CLUSTER", "MEET", "127.0.0.1", &tls_port.to_string(), &bus]);
        assert_eq!(reply, "+OK\r\n");
    }
    wait_converged(&nodes);
    assert_views_agree(&nodes);
    // Under tls-cluster the nodes announce their TLS ports; a plaintext client is shown
    // their plaintext ones.
    let view = text(&mut first, &["CLUSTER", "NODES"]);
    for server in &nodes {
        assert!(
            view.contains(&format!("127.0.0.1:{}@", server.port)),
            "{view}"
        );
    }
    // So is a redirection: "a" is in slot 15495, the last node's.
    let last = nodes.last().expect("nodes");
    assert_eq!(
        first.cmd_text(&["GET", "a"]),
        format!("-MOVED 15495 127.0.0.1:{}\r\n", last.port)
    );
    let conf = std::fs::read_to_string(nodes[0].dir.join("nodes.conf")).unwrap();
    for tls_port in &tls_ports {
        assert!(conf.contains(&format!("127.0.0.1:{tls_port}@")), "{conf}");
    }
}

#[test]
fn reset_hard_drops_the_links_and_the_others_see_the_old_id_without_address() {
    let Some(nodes) = create(&[Program::Lite; 3]) else {
        return;
    };
    let mut last = nodes[2].raw();
    let old_id = text(&mut last, &["CLUSTER", "MYID"]);
    assert_eq!(
        last.cmd_text(&["CLUSTER", "RESET", "HARD"]),
        "+OK\r\n",
        "the node holds no keys"
    );
    assert_ne!(text(&mut last, &["CLUSTER", "MYID"]), old_id);
    assert_eq!(cluster_info(&nodes[2], "cluster_known_nodes"), "1");
    wait_until("the reset node's links to close", CONVERGE, || {
        last.cmd_text(&["CLUSTER", "LINKS"]) == "*0\r\n"
    });
    // Its peers reach a node answering under another name: they keep the old ID, without
    // an address, as Redis does.
    for server in &nodes[..2] {
        wait_until("the old ID to lose its address", CONVERGE, || {
            text(&mut server.raw(), &["CLUSTER", "NODES"])
                .lines()
                .any(|l| l.starts_with(&old_id) && l.contains("master,noaddr"))
        });
    }
}

#[test]
fn spublish_reaches_a_real_redis_replica_of_a_redis_lite_master() {
    if !Program::Redis.available() {
        skipped("redis-server is not available");
        return;
    }
    let master = node(Program::Lite).start();
    let replica = node(Program::Redis).start();
    let mut raw = master.raw();
    assert_eq!(
        raw.cmd_text(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
        "+OK\r\n"
    );
    let bus = replica.cluster_port.expect("a cluster node").to_string();
    let port = replica.port.to_string();
    assert_eq!(
        raw.cmd_text(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]),
        "+OK\r\n"
    );
    let nodes = [master, replica];
    wait_converged(&nodes);
    let master_id = text(&mut raw, &["CLUSTER", "MYID"]);
    assert_eq!(
        nodes[1]
            .raw()
            .cmd_text(&["CLUSTER", "REPLICATE", &master_id]),
        "+OK\r\n"
    );
    // The master learns the new role from the replica's headers.
    wait_until("the master to see its replica", CONVERGE, || {
        text(&mut raw, &["CLUSTER", "NODES"]).contains(&format!("slave {master_id}"))
    });
    assert_views_agree(&nodes);
    let mut subscriber = nodes[1].raw();
    subscriber.cmd(&["SSUBSCRIBE", "orders"]);
    assert_eq!(raw.cmd_text(&["SPUBLISH", "orders", "one"]), ":0\r\n");
    assert_eq!(
        String::from_utf8_lossy(&subscriber.read_reply()),
        "*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$3\r\none\r\n"
    );
}

#[test]
fn redis_cli_reshards_slots_with_keys_between_redis_lite_masters() {
    let Some(nodes) = create(&[Program::Lite; 3]) else {
        return;
    };
    let port = nodes[0].port.to_string();
    let keys: Vec<String> = (0..200).map(|i| format!("key{i}")).collect();
    for key in &keys {
        let set = testkit::run("redis-cli", &["-c", "-p", &port, "SET", key, key], b"");
        assert_eq!(testkit::text(&set.stdout), "OK\n", "SET {key}");
    }
    let from = text(&mut nodes[0].raw(), &["CLUSTER", "MYID"]);
    let to = text(&mut nodes[1].raw(), &["CLUSTER", "MYID"]);
    let reshard = testkit::run(
        "redis-cli",
        &[
            "--cluster",
            "reshard",
            &address(&nodes[0]),
            "--cluster-from",
            &from,
            "--cluster-to",
            &to,
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ],
        b"",
    );
    let output = testkit::text(&reshard.stdout);
    assert!(reshard.status.success(), "{output}");
    // The new owner's bumped epoch reaches every node, which then agree again.
    assert_views_agree(&nodes);
    for server in &nodes {
        assert_check_clean(server, 3);
    }
    let view = text(&mut nodes[2].raw(), &["CLUSTER", "NODES"]);
    assert!(view.contains(" 0-299 5461-10922"), "{view}");
    let other = nodes[2].port.to_string();
    for key in &keys {
        let get = testkit::run("redis-cli", &["-c", "-p", &other, "GET", key], b"");
        assert_eq!(testkit::text(&get.stdout), format!("{key}\n"), "GET {key}");
    }
}

/// The keys a master holds in a slot that another master claims with a greater config epoch
/// are deleted (Redis's "dirty slots"); its other slots' keys stay. Run on two real Redis
/// masters and on two redis-lite masters, each with a replica of the losing master. On
/// redis-lite the replica ends with the master's data (DEBUG DIGEST), as each deletion is
/// journaled as a DEL; Redis 7.0 deletes without propagating, so its replica keeps the keys.
#[test]
fn a_master_deletes_its_keys_in_a_slot_taken_over_with_a_greater_epoch() {
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            continue;
        }
        let nodes = dirty_slot_scenario(program);
        let (a, replica) = (&nodes[0], &nodes[2]);
        let digest = |server: &Server| server.raw().cmd_text(&["DEBUG", "DIGEST"]);
        if program == Program::Lite {
            wait_until("the replica to apply the DELs", CONVERGE, || {
                digest(replica) == digest(a)
            });
        }
        let replica_keys = replica.raw().cmd_text(&["DBSIZE"]);
        let expected = if program == Program::Lite {
            ":20\r\n"
        } else {
            ":70\r\n"
        };
        assert_eq!(replica_keys, expected, "{program:?}: the replica's keys");
    }
}

/// SETSLOT NODE that closes an import broadcasts a PONG at once, as Redis 7.0 does, so the
/// source hears of the new owner's epoch before its next slot moves: without it, a source that
/// still thought its epoch the greatest took slots back from stale pings (a resharding between
/// Redis and redis-lite left two slots served by nobody). Twenty imports closed in a row must
/// show twenty PONGs sent within seconds; the other node's once-a-second pings draw a few.
#[test]
fn closing_an_import_broadcasts_a_pong_as_redis_does() {
    const IMPORTS: u64 = 20;
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            continue;
        }
        let nodes = vec![node(program).start(), node(program).start()];
        for (server, range) in nodes.iter().zip([["0", "8191"], ["8192", "16383"]]) {
            let reply = server
                .raw()
                .cmd_text(&["CLUSTER", "ADDSLOTSRANGE", range[0], range[1]]);
            assert_eq!(reply, "+OK\r\n");
        }
        let (port, bus) = (nodes[1].port.to_string(), nodes[1].cluster_port.unwrap());
        let met =
            nodes[0]
                .raw()
                .cmd_text(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus.to_string()]);
        assert_eq!(met, "+OK\r\n");
        wait_converged(&nodes);
        let source = text(&mut nodes[0].raw(), &["CLUSTER", "MYID"]);
        let target = text(&mut nodes[1].raw(), &["CLUSTER", "MYID"]);
        let pongs_sent = || -> u64 {
            cluster_info(&nodes[1], "cluster_stats_messages_pong_sent")
                .parse()
                .unwrap()
        };
        let before = pongs_sent();
        let mut raw = nodes[1].raw();
        for slot in 0..IMPORTS {
            let slot = slot.to_string();
            for action in [&["IMPORTING", &source][..], &["NODE", &target]] {
                let mut args = vec!["CLUSTER", "SETSLOT", &slot];
                args.extend_from_slice(action);
                assert_eq!(raw.cmd_text(&args), "+OK\r\n", "{program:?}: {args:?}");
            }
        }
        let sent = testkit::poll(Duration::from_secs(3), || {
            (pongs_sent() >= before + IMPORTS).then_some(())
        });
        assert!(
            sent.is_some(),
            "{program:?}: {} PONGs sent after {IMPORTS} imports closed",
            pongs_sent() - before
        );
    }
}

/// Masters A (slots 0-8191) and B (8192-16383), R a replica of A; A holds 50 keys in one of
/// its slots and 20 in others; B then claims that slot with a greater config epoch. Returns
/// [A, B, R] once A holds no key in the slot, checking it kept its others.
fn dirty_slot_scenario(program: Program) -> Vec<Server> {
    let a = node(program).start();
    let b = node(program).start();
    let r = node(program).start();
    let add = |s: &Server, range: [&str; 2]| {
        let reply = s
            .raw()
            .cmd_text(&["CLUSTER", "ADDSLOTSRANGE", range[0], range[1]]);
        assert_eq!(reply, "+OK\r\n");
    };
    add(&a, ["0", "8191"]);
    add(&b, ["8192", "16383"]);
    let mut raw_a = a.raw();
    for other in [&b, &r] {
        let port = other.port.to_string();
        let bus = other.cluster_port.unwrap().to_string();
        assert_eq!(
            raw_a.cmd_text(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]),
            "+OK\r\n"
        );
    }
    let nodes = vec![a, b, r];
    wait_converged(&nodes);
    let id_a = text(&mut raw_a, &["CLUSTER", "MYID"]);
    let id_b = text(&mut nodes[1].raw(), &["CLUSTER", "MYID"]);
    let mut raw_r = nodes[2].raw();
    assert_eq!(raw_r.cmd_text(&["CLUSTER", "REPLICATE", &id_a]), "+OK\r\n");
    wait_until("the replica's link to A", CONVERGE, || {
        testkit::info_field(&mut raw_r, "replication", "master_link_status") == "up"
    });
    // {a} hashes to slot 15495 and {b} to 3300: A serves the latter.
    let slot = "3300";
    assert_eq!(
        raw_a.cmd_text(&["CLUSTER", "KEYSLOT", "{b}"]),
        format!(":{slot}\r\n")
    );
    for i in 0..50 {
        assert_eq!(
            raw_a.cmd_text(&["SET", &format!("{{b}}{i}"), "v"]),
            "+OK\r\n"
        );
    }
    let mut others = 0;
    for i in 0.. {
        let key = format!("other{i}");
        let reply = raw_a.cmd_text(&["CLUSTER", "KEYSLOT", &key]);
        let key_slot: u32 = reply[1..].trim_end().parse().unwrap();
        if key_slot < 8192 && key_slot.to_string() != slot {
            assert_eq!(raw_a.cmd_text(&["SET", &key, "v"]), "+OK\r\n");
            others += 1;
        }
        if others == 20 {
            break;
        }
    }
    assert_eq!(raw_a.cmd_text(&["WAIT", "1", "10000"]), ":1\r\n");
    assert_eq!(raw_r.cmd_text(&["DBSIZE"]), ":70\r\n");
    // B's config epoch becomes the greatest as A sees it (BUMPEPOCH answers STILL when B's
    // already is; a tie is resolved by the bus), then B takes the slot: A, seeing B's claim
    // with a greater epoch, gives the slot up.
    let mut raw_b = nodes[1].raw();
    wait_until("B's config epoch to be the greatest", CONVERGE, || {
        text(&mut raw_b, &["CLUSTER", "BUMPEPOCH"]);
        let epochs = text(&mut raw_a, &["CLUSTER", "NODES"]);
        let epoch = |id: &str| -> u64 {
            let line = epochs.lines().find(|l| l.starts_with(id)).unwrap();
            line.split(' ').nth(6).unwrap().parse().unwrap()
        };
        epoch(&id_b) > epoch(&id_a)
    });
    assert_eq!(
        raw_b.cmd_text(&["CLUSTER", "SETSLOT", slot, "NODE", &id_b]),
        "+OK\r\n"
    );
    wait_until("A to give the slot up", CONVERGE, || {
        raw_a.cmd_text(&["CLUSTER", "COUNTKEYSINSLOT", slot]) == ":0\r\n"
    });
    assert_eq!(raw_a.cmd_text(&["DBSIZE"]), ":20\r\n");
    assert_eq!(
        raw_a.cmd_text(&["GET", "{b}1"]),
        format!("-MOVED {slot} 127.0.0.1:{}\r\n", nodes[1].port)
    );
    nodes
}

/// `cluster-link-sendbuf-limit`: when a peer stops reading its bus (SIGSTOP) and PUBLISH,
/// which goes to every node over the bus, piles up more than the limit on the link to it, the
/// cron frees the link, counts it in CLUSTER INFO's `total_cluster_links_buffer_limit_exceeded`,
/// and connects again; the cluster is whole once the peer runs again. Redis 7.0 and
/// redis-lite alike.
#[test]
fn a_link_whose_send_buffer_passes_the_limit_is_freed_and_counted() {
    for program in available_programs() {
        // A node timeout long enough that only the buffer limit frees the link.
        let launch = || {
            node_without_persistence(program)
                .args(&["--cluster-node-timeout", "120000"])
                .args(&["--cluster-link-sendbuf-limit", "1mb"])
        };
        let cluster = testkit::Cluster::start(vec![launch(), launch()]);
        let (sender, peer) = (&cluster.nodes[0], &cluster.nodes[1]);
        let peer_id = text(&mut peer.raw(), &["CLUSTER", "MYID"]);
        let exceeded = || cluster_info(sender, "total_cluster_links_buffer_limit_exceeded");
        assert_eq!(exceeded(), "0", "{program:?}");
        // INFO counts two links per other node.
        let connections = testkit::info_field(&mut sender.raw(), "clients", "cluster_connections");
        assert_eq!(connections, "2", "{program:?}");
        let first_link = link_created(sender, &peer_id).expect("a link to the peer");
        let frozen = peer.freeze();
        // The peer's socket buffers take megabytes before the sender's own queue grows.
        let message = "x".repeat(1 << 20);
        let mut raw = sender.raw();
        wait_until("the link to pass the limit", CONVERGE, || {
            assert_eq!(raw.cmd_text(&["PUBLISH", "bulk", &message]), ":0\r\n");
            exceeded() != "0"
        });
        // The freed link is replaced by a new one (the peer's kernel still accepts it).
        wait_until("a new link to the stopped peer", CONVERGE, || {
            link_created(sender, &peer_id).is_some_and(|created| created != first_link)
        });
        drop(frozen);
        wait_converged(&cluster.nodes);
        assert_ne!(exceeded(), "0", "{program:?}");
        assert_eq!(
            cluster_info(peer, "total_cluster_links_buffer_limit_exceeded"),
            "0",
            "{program:?}: the peer's links were never over the limit"
        );
    }
}

/// Found by Redis 7.0.15's own suite in harness mode (cluster/links.tcl, "Broadcast message
/// across a cluster shard while a cluster link is down"): DEBUG CLUSTERLINK KILL frees the bus
/// links to, from or both ways with a node, with what they had not sent: an SPUBLISH queued
/// right after it in the same transaction does not reach that node, and the cron connects
/// again. redis-lite refused the subcommand. Its errors are Redis's.
#[test]
fn debug_clusterlink_kill_frees_the_links_to_a_node() {
    for (who, plain) in Server::lite_and_redis(&["--enable-debug-command", "yes"]) {
        assert_eq!(
            plain
                .raw()
                .cmd_text(&["DEBUG", "CLUSTERLINK", "KILL", "TO", "x"]),
            "-ERR Debug option only available for cluster mode enabled setup!\r\n",
            "{who}"
        );
    }
    for program in available_programs() {
        let launch = || node_without_persistence(program).args(&["--enable-debug-command", "yes"]);
        let cluster = testkit::Cluster::start(vec![launch(), launch(), launch()]);
        let (node, peer) = (&cluster.nodes[0], &cluster.nodes[1]);
        let peer_id = text(&mut peer.raw(), &["CLUSTER", "MYID"]);
        let mut raw = node.raw();
        assert_eq!(
            raw.cmd_text(&["DEBUG", "CLUSTERLINK", "KILL", "TO", "nosuchnode"]),
            "-ERR Unknown node nosuchnode\r\n",
            "{program:?}"
        );
        // Redis 7.0.15 answers an unknown direction twice (the error, then +OK): redis-lite
        // answers the error alone, keeping the connection's replies in step.
        if program == Program::Lite {
            let sideways = ["DEBUG", "CLUSTERLINK", "KILL", "sideways", &peer_id];
            assert_eq!(
                raw.cmd_text(&sideways),
                "-ERR Unknown direction sideways\r\n"
            );
        }
        // PUBLISH goes to every node over the bus (links.tcl uses SPUBLISH in one shard).
        let mut listener = peer.raw();
        listener.cmd(&["SUBSCRIBE", "ch"]);
        let first_link = link_created(node, &peer_id).expect("a link to the peer");
        let replies = raw.cmd_text(&["MULTI"])
            + &raw.cmd_text(&["DEBUG", "CLUSTERLINK", "KILL", "TO", &peer_id])
            + &raw.cmd_text(&["PUBLISH", "ch", "lost"])
            + &raw.cmd_text(&["EXEC"]);
        assert_eq!(
            replies, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:0\r\n",
            "{program:?}"
        );
        wait_until("a new link to the peer", CONVERGE, || {
            link_created(node, &peer_id).is_some_and(|created| created != first_link)
        });
        assert_eq!(
            raw.cmd_text(&["PUBLISH", "ch", "after"]),
            ":0\r\n",
            "{program:?}"
        );
        // The first message the listener gets: "lost" never reached its node.
        let message = Reply::parse(&listener.read_reply()).array();
        assert_eq!(message, [&b"message"[..], b"ch", b"after"], "{program:?}");
        assert_eq!(
            raw.cmd_text(&["DEBUG", "CLUSTERLINK", "KILL", "ALL", &peer_id]),
            "+OK\r\n"
        );
        wait_converged(&cluster.nodes);
    }
}

/// Real Redis and redis-lite, those installed (saying which test is skipped otherwise).
fn available_programs() -> Vec<Program> {
    [Program::Redis, Program::Lite]
        .into_iter()
        .filter(|program| {
            let available = program.available();
            if !available {
                skipped(&format!("{program:?} is not available"));
            }
            available
        })
        .collect()
}

/// A cluster node of `program` without persistence.
fn node_without_persistence(program: Program) -> Launch {
    Launch::of(program).args(&["--save", "", "--appendonly", "no"])
}

/// The create-time of `server`'s outbound bus link to node `id`, from CLUSTER LINKS.
fn link_created(server: &Server, id: &str) -> Option<i64> {
    let Reply::Array(links) = Reply::parse(&server.raw().cmd(&["CLUSTER", "LINKS"])) else {
        panic!("CLUSTER LINKS is not an array");
    };
    links.into_iter().find_map(|link| {
        let Reply::Array(fields) = link else {
            panic!("a link is not a map");
        };
        let field = |name: &str| {
            let at = fields
                .iter()
                .position(|f| matches!(f, Reply::Bulk(Some(b)) if b == name.as_bytes()))?;
            fields.get(at + 1).cloned()
        };
        let is = |name: &str, value: &str| {
            matches!(field(name), Some(Reply::Bulk(Some(b))) if b == value.as_bytes())
        };
        if !is("direction", "to") || !is("node", id) {
            return None;
        }
        match field("create-time") {
            Some(Reply::Int(created)) => Some(created),
            other => panic!("create-time is {other:?}"),
        }
    })
}

/// DEBUG DROP-CLUSTER-PACKET-FILTER <type> (the legacy cluster suite's init sets -1 on every
/// node; 27-endpoints drops PINGs to hold a handshake): messages of that type are counted as
/// received and ignored. A node dropping MEETs never learns the node that meets it; with the
/// filter back at -1 the same MEET joins them. The same on Redis and redis-lite.
#[test]
fn drop_cluster_packet_filter_ignores_one_message_type() {
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            skipped(&format!("{program:?} is not available"));
            continue;
        }
        let filtering = node(program)
            .args(&["--enable-debug-command", "yes"])
            .start();
        let meeting = node(program).start();
        let mut raw = filtering.raw();
        assert_eq!(
            raw.cmd_text(&["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        // MEET is type 2 on the bus.
        assert_eq!(
            raw.cmd_text(&["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "2"]),
            "+OK\r\n"
        );
        let port = filtering.port.to_string();
        let bus_port = filtering.cluster_port.expect("a cluster node").to_string();
        let meet = ["CLUSTER", "MEET", "127.0.0.1", &port, &bus_port];
        assert_eq!(meeting.raw().cmd_text(&meet), "+OK\r\n");
        wait_until("the MEET to arrive", CONVERGE, || {
            !cluster_info(&filtering, "cluster_stats_messages_meet_received").is_empty()
        });
        assert_eq!(
            cluster_info(&filtering, "cluster_known_nodes"),
            "1",
            "{program:?}"
        );
        assert_eq!(
            raw.cmd_text(&["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "-1"]),
            "+OK\r\n"
        );
        // The meeting node gives up its handshake after the node timeout; then it can meet again.
        wait_until("the unanswered handshake to expire", CONVERGE, || {
            cluster_info(&meeting, "cluster_known_nodes") == "1"
        });
        assert_eq!(meeting.raw().cmd_text(&meet), "+OK\r\n");
        for server in [&filtering, &meeting] {
            wait_until("the nodes to meet", CONVERGE, || {
                cluster_info(server, "cluster_known_nodes") == "2"
            });
        }
    }
}

/// `cluster-replica-no-failover yes` puts `nofailover` in the node's own flags, and its
/// headers carry it to the others (legacy cluster suite, 13-no-failover-option "The
/// nofailover flag is propagated"); set back to no, the flag goes everywhere. The same on
/// Redis and redis-lite.
#[test]
fn the_nofailover_flag_follows_the_config_and_is_propagated() {
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            skipped(&format!("{program:?} is not available"));
            continue;
        }
        let (a, b) = (node(program).start(), node(program).start());
        let (port, bus) = (b.port.to_string(), b.cluster_port.unwrap().to_string());
        a.raw().cmd(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]);
        let id_b = text(&mut b.raw(), &["CLUSTER", "MYID"]);
        let flags_of = |server: &Server| flags_of(server, &id_b);
        for (setting, own, seen) in [
            ("yes", "myself,master,nofailover", "master,nofailover"),
            ("no", "myself,master", "master"),
        ] {
            let set = ["CONFIG", "SET", "cluster-replica-no-failover", setting];
            assert_eq!(b.raw().cmd_text(&set), "+OK\r\n");
            wait_until("the flag to follow the config", CONVERGE, || {
                flags_of(&b) == own && flags_of(&a) == seen
            });
        }
    }
}

/// A shard channel's subscribers on the node that gives its slot to another (CLUSTER SETSLOT
/// NODE) are unsubscribed, each told with an `sunsubscribe` and its remaining count (legacy
/// cluster suite, 25-pubsubshard-slot-migration), and so are those of every slot it served
/// on CLUSTER RESET; while the slot is only migrating, messages still arrive. The same on Redis and redis-lite.
#[test]
fn a_node_that_gives_away_a_slot_unsubscribes_its_shard_channels() {
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            skipped(&format!("{program:?} is not available"));
            continue;
        }
        // CLUSTER KEYSLOT mychannel = 10059, and {mychannel}2 shares it.
        let nodes = [node(program).start(), node(program).start()];
        let (from, to) = (&nodes[0], &nodes[1]);
        let ok = "+OK\r\n";
        let all = ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"];
        assert_eq!(from.raw().cmd_text(&all), ok);
        let (port, bus) = (to.port.to_string(), to.cluster_port.unwrap().to_string());
        from.raw()
            .cmd(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]);
        wait_converged(&nodes);
        let (id_from, id_to) = (
            text(&mut from.raw(), &["CLUSTER", "MYID"]),
            text(&mut to.raw(), &["CLUSTER", "MYID"]),
        );
        let mut subscriber = from.raw();
        subscriber.cmd(&["SSUBSCRIBE", "mychannel", "{mychannel}2"]);
        subscriber.read_reply();
        let mut admin = from.raw();
        admin.expect_replies(&[
            (&["CLUSTER", "SETSLOT", "10059", "MIGRATING", &id_to], ok),
            (&["SPUBLISH", "mychannel", "hello"], ":1\r\n"),
        ]);
        assert_eq!(
            to.raw()
                .cmd_text(&["CLUSTER", "SETSLOT", "10059", "IMPORTING", &id_from]),
            ok
        );
        let message = "*3\r\n$8\r\nsmessage\r\n$9\r\nmychannel\r\n$5\r\nhello\r\n";
        assert_eq!(testkit::text(&subscriber.read_reply()), message);
        admin.expect_replies(&[(&["CLUSTER", "SETSLOT", "10059", "NODE", &id_to], ok)]);
        // Which channel goes first is the hash table's order; the counts follow it: 1, then 0.
        let pushes = [subscriber.read_reply(), subscriber.read_reply()];
        let unsubscribed = |channel: &str, count: usize| {
            format!(
                "*3\r\n$12\r\nsunsubscribe\r\n${}\r\n{channel}\r\n:{count}\r\n",
                channel.len()
            )
        };
        let got: Vec<String> = pushes.iter().map(|p| testkit::text(p)).collect();
        let in_order =
            |first: &str, second: &str| got == [unsubscribed(first, 1), unsubscribed(second, 0)];
        assert!(
            in_order("mychannel", "{mychannel}2") || in_order("{mychannel}2", "mychannel"),
            "{program:?}: {got:?}"
        );
        // CLUSTER RESET unassigns every slot: the channels of those the node served go too.
        let mut other = from.raw();
        other.cmd(&["SSUBSCRIBE", "x"]);
        admin.expect_replies(&[(&["CLUSTER", "RESET", "HARD"], ok)]);
        assert_eq!(
            testkit::text(&other.read_reply()),
            "*3\r\n$12\r\nsunsubscribe\r\n$1\r\nx\r\n:0\r\n",
            "{program:?}"
        );
    }
}
