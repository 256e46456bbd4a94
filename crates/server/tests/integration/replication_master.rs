//! redis-lite as a master: real Redis replicas sync from it (full sync from disk and diskless,
//! partial resync from the backlog after a dropped link, a full one after the backlog was
//! overrun), WAIT and min-replicas-to-write count their acknowledgements, and redis-cli --rdb
//! fetches a snapshot over SYNC. Every check compares DEBUG DIGEST of master and replicas.

use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::{info_field, skipped, wait_until, Launch, Program, Raw, Replicated, Server};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A master launch with DEBUG enabled and no snapshots of its own.
fn lite_master(args: &[&str]) -> Launch {
    Launch::lite()
        .args(&["--enable-debug-command", "yes", "--save", ""])
        .args(args)
}

fn redis_replica() -> Launch {
    Launch::redis().args(&["--save", ""])
}

/// Writes that cover every data type, TTLs, expiries, several databases, MULTI/EXEC and
/// scripts.
fn write_load(raw: &mut Raw, round: usize) {
    let r = round.to_string();
    let commands: Vec<Vec<String>> = vec![
        vec!["SET".into(), format!("s:{r}"), "value".into()],
        vec!["INCRBY".into(), "counter".into(), "7".into()],
        vec!["APPEND".into(), "log".into(), r.clone()],
        vec![
            "RPUSH".into(),
            format!("l:{r}"),
            "a".into(),
            "b".into(),
            "c".into(),
        ],
        vec!["LPOP".into(), format!("l:{r}")],
        vec![
            "HSET".into(),
            format!("h:{r}"),
            "f1".into(),
            "v1".into(),
            "f2".into(),
            "2".into(),
        ],
        vec!["HINCRBY".into(), format!("h:{r}"), "f2".into(), "3".into()],
        vec![
            "SADD".into(),
            format!("set:{r}"),
            "x".into(),
            "y".into(),
            "z".into(),
        ],
        vec!["SPOP".into(), format!("set:{r}")],
        vec![
            "ZADD".into(),
            format!("z:{r}"),
            "1.5".into(),
            "m1".into(),
            "2".into(),
            "m2".into(),
        ],
        vec!["ZINCRBY".into(), format!("z:{r}"), "3".into(), "m1".into()],
        vec![
            "SETBIT".into(),
            "bits".into(),
            (round * 3).to_string(),
            "1".into(),
        ],
        vec!["PFADD".into(), "hll".into(), format!("e{r}")],
        vec![
            "SET".into(),
            format!("ttl:{r}"),
            "v".into(),
            "EX".into(),
            "1000".into(),
        ],
        vec![
            "SET".into(),
            format!("gone:{r}"),
            "v".into(),
            "PX".into(),
            "1".into(),
        ],
        vec!["EXPIRE".into(), format!("s:{r}"), "5000".into()],
        vec!["SELECT".into(), "5".into()],
        vec!["SET".into(), format!("db5:{r}"), r.clone()],
        vec!["SELECT".into(), "0".into()],
        vec![
            "EVAL".into(),
            "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])".into(),
            "2".into(),
            format!("script:{r}"),
            "script-counter".into(),
            r.clone(),
        ],
    ];
    for command in &commands {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let reply = raw.cmd_text(&args);
        assert!(!reply.starts_with('-'), "{args:?}: {reply}");
    }
    raw.expect_replies(&[
        (&["MULTI"][..], "+OK\r\n"),
        (&["INCR", "in-multi"][..], "+QUEUED\r\n"),
        (&["DEL", "l:0"][..], "+QUEUED\r\n"),
    ]);
    let exec = raw.cmd_text(&["EXEC"]);
    assert!(exec.starts_with("*2\r\n"), "{exec}");
}

fn digest(server: &Server) -> String {
    server.raw().cmd_text(&["DEBUG", "DIGEST"])
}

/// Waits until every replica has the master's dataset: same offset, same digest.
fn assert_converged(set: &Replicated) {
    set.wait_replicated();
    // The master's digest is read again each time: its expiry may still delete keys.
    for replica in &set.replicas {
        wait_until(
            "the replica's digest to match the master's",
            TIMEOUT,
            || digest(replica) == digest(&set.master),
        );
    }
}

fn stat(server: &Server, name: &str) -> u64 {
    info_field(&mut server.raw(), "stats", name)
        .parse()
        .unwrap()
}

/// Real Redis replicas of a redis-lite master, with `master_args`; None when redis-server is
/// missing.
fn redis_replicas_of_lite(test: &str, master_args: &[&str], replicas: usize) -> Option<Replicated> {
    if !Program::Redis.available() {
        skipped(&format!("redis-server is not on PATH (in {test})"));
        return None;
    }
    let master = lite_master(master_args);
    let replicas = (0..replicas).map(|_| redis_replica()).collect();
    Some(Replicated::start(master, replicas))
}

#[test]
fn real_redis_replicas_sync_diskless_and_follow_every_kind_of_write() {
    let Some(set) = redis_replicas_of_lite(
        "real_redis_replicas_sync_diskless_and_follow_every_kind_of_write",
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-max-replicas",
            "2",
        ],
        2,
    ) else {
        return;
    };
    let mut raw = set.master.raw();
    for round in 0..20 {
        write_load(&mut raw, round);
    }
    assert_converged(&set);
    // Both replicas synced in full (with repl-diskless-sync-max-replicas 2 they waited for
    // one snapshot together).
    assert_eq!(stat(&set.master, "sync_full"), 2);
    let mut master = set.master.raw();
    assert_eq!(
        info_field(&mut master, "replication", "connected_slaves"),
        "2"
    );
    let role = master.cmd_text(&["ROLE"]);
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{role}");
}

#[test]
fn a_real_redis_replica_syncs_from_disk_with_the_file_sealed() {
    let dir = testkit::DataDir::new("repl-disk-sealed");
    let key_file = dir.join("key");
    std::fs::write(&key_file, format!("k1:{}\n", "ab".repeat(32))).unwrap();
    set_private(&key_file);
    if !Program::Redis.available() {
        skipped("redis-server is not on PATH (in a_real_redis_replica_syncs_from_disk_with_the_file_sealed)");
        return;
    }
    let master = lite_master(&[
        "--repl-diskless-sync",
        "no",
        "--encryption",
        "yes",
        "--encryption-key-file",
        key_file.to_str().unwrap(),
    ])
    .dir(&dir.0);
    let master = master.start();
    let mut raw = master.raw();
    for round in 0..10 {
        write_load(&mut raw, round);
    }
    let port = master.port.to_string();
    let replica = redis_replica()
        .args(&["--replicaof", "127.0.0.1", &port])
        .start();
    let set = Replicated {
        master,
        replicas: vec![replica],
    };
    wait_until("the replica's link to come up", TIMEOUT, || {
        info_field(
            &mut set.replicas[0].raw(),
            "replication",
            "master_link_status",
        ) == "up"
    });
    write_load(&mut raw, 99);
    assert_converged(&set);
    // The snapshot written for the sync is the master's dump.rdb, sealed on disk.
    let on_disk = std::fs::read(dir.join("dump.rdb")).unwrap();
    assert!(!on_disk.starts_with(b"REDIS"), "dump.rdb is plaintext");
}

fn set_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_dropped_link_continues_from_the_backlog() {
    let Some(set) = redis_replicas_of_lite(
        "a_dropped_link_continues_from_the_backlog",
        &["--repl-diskless-sync-delay", "0"],
        1,
    ) else {
        return;
    };
    let mut raw = set.master.raw();
    write_load(&mut raw, 0);
    assert_converged(&set);
    let killed = set.replicas[0]
        .raw()
        .cmd_text(&["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(killed, ":1\r\n");
    write_load(&mut raw, 1);
    wait_until("the replica to reconnect", TIMEOUT, || {
        stat(&set.master, "sync_partial_ok") == 1
    });
    assert_converged(&set);
    assert_eq!(stat(&set.master, "sync_full"), 1);
}

#[test]
fn a_replica_that_fell_out_of_the_backlog_syncs_in_full() {
    let Some(set) = redis_replicas_of_lite(
        "a_replica_that_fell_out_of_the_backlog_syncs_in_full",
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-backlog-size",
            "16kb",
        ],
        1,
    ) else {
        return;
    };
    // The link goes while the replica is stopped, so it cannot come back before the writes
    // below push its offset out of the 16 KB backlog.
    let replica_pid = set.replicas[0].pid();
    signal(replica_pid, "STOP");
    let mut raw = set.master.raw();
    assert_eq!(
        raw.cmd_text(&["CLIENT", "KILL", "TYPE", "replica"]),
        ":1\r\n"
    );
    let big = "x".repeat(1000);
    for i in 0..100 {
        assert_eq!(raw.cmd_text(&["SET", &format!("big:{i}"), &big]), "+OK\r\n");
    }
    signal(replica_pid, "CONT");
    wait_until("the second full sync", TIMEOUT, || {
        stat(&set.master, "sync_full") == 2
    });
    assert_eq!(stat(&set.master, "sync_partial_err"), 1);
    assert_converged(&set);
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn wait_counts_replicas_that_acknowledged_the_clients_writes() {
    let Some(set) = redis_replicas_of_lite(
        "wait_counts_replicas_that_acknowledged_the_clients_writes",
        &["--repl-diskless-sync-delay", "0"],
        1,
    ) else {
        return;
    };
    let mut raw = set.master.raw();
    assert_eq!(raw.cmd_text(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(raw.cmd_text(&["WAIT", "1", "5000"]), ":1\r\n");
    // Inside MULTI it answers at once with what is acknowledged.
    raw.expect_replies(&[
        (&["MULTI"][..], "+OK\r\n"),
        (&["WAIT", "5", "0"][..], "+QUEUED\r\n"),
        (&["EXEC"][..], "*1\r\n:1\r\n"),
    ]);
    // A stopped replica acknowledges nothing: WAIT gives up at its timeout with 0.
    let pid = set.replicas[0].pid();
    signal(pid, "STOP");
    assert_eq!(raw.cmd_text(&["SET", "k", "v2"]), "+OK\r\n");
    let started = std::time::Instant::now();
    assert_eq!(raw.cmd_text(&["WAIT", "1", "300"]), ":0\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));
    signal(pid, "CONT");
    assert_eq!(raw.cmd_text(&["WAIT", "1", "0"]), ":1\r\n");
    for (args, reply) in [
        (
            &["WAIT", "x", "0"][..],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["WAIT", "1", "x"][..],
            "-ERR timeout is not an integer or out of range\r\n",
        ),
        (&["WAIT", "1", "-1"][..], "-ERR timeout is negative\r\n"),
    ] {
        assert_eq!(raw.cmd_text(args), reply, "{args:?}");
    }
}

#[test]
fn min_replicas_to_write_refuses_writes_without_enough_good_replicas() {
    let Some(set) = redis_replicas_of_lite(
        "min_replicas_to_write_refuses_writes_without_enough_good_replicas",
        &["--repl-diskless-sync-delay", "0"],
        1,
    ) else {
        return;
    };
    let mut raw = set.master.raw();
    raw.expect_replies(&[
        (
            &["CONFIG", "SET", "min-replicas-to-write", "2"][..],
            "+OK\r\n",
        ),
        (
            &["SET", "k", "v"][..],
            "-NOREPLICAS Not enough good replicas to write.\r\n",
        ),
        (&["GET", "k"][..], "$-1\r\n"),
        (
            &["CONFIG", "SET", "min-replicas-to-write", "1"][..],
            "+OK\r\n",
        ),
        (&["SET", "k", "v"][..], "+OK\r\n"),
    ]);
    assert_eq!(
        info_field(&mut raw, "replication", "min_slaves_good_slaves"),
        "1"
    );
}

#[test]
fn info_replication_of_a_master_has_redis_fields_in_order() {
    if !Program::Redis.available() {
        skipped("redis-server is not on PATH (in info_replication_of_a_master_has_redis_fields_in_order)");
        return;
    }
    let field_names = |set: &Replicated| -> Vec<String> {
        set.master
            .raw()
            .cmd_text(&["INFO", "replication"])
            .lines()
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_string()))
            .collect()
    };
    let lite = Replicated::of(Program::Lite, &[Program::Redis]).unwrap();
    let redis = Replicated::of(Program::Redis, &[Program::Redis]).unwrap();
    assert_eq!(field_names(&lite), field_names(&redis));
    let slave_line = |set: &Replicated| {
        let info = set.master.raw().cmd_text(&["INFO", "replication"]);
        let line = info
            .lines()
            .find(|l| l.starts_with("slave0:"))
            .unwrap()
            .to_string();
        line.split(',')
            .map(|kv| kv.split('=').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(slave_line(&lite), slave_line(&redis));
}

#[test]
fn redis_cli_rdb_fetches_a_snapshot_over_sync() {
    if !testkit::installed("redis-cli") || !Program::Redis.available() {
        skipped("redis-cli or redis-server is not on PATH (in redis_cli_rdb_fetches_a_snapshot_over_sync)");
        return;
    }
    let master = lite_master(&[]).start();
    let mut raw = master.raw();
    for round in 0..5 {
        write_load(&mut raw, round);
    }
    let dir = testkit::DataDir::new("repl-cli-rdb");
    let file = dir.join("fetched.rdb");
    let output = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &master.port.to_string(),
            "--rdb",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    // Real Redis loads the fetched file into the same dataset.
    std::fs::rename(&file, dir.join("dump.rdb")).unwrap();
    let loaded = Launch::redis().dir(&dir.0).start();
    assert_eq!(digest(&loaded), digest(&master));
    // The snapshot's replica is gone, and it made no backlog.
    wait_until("the rdb-only replica to leave", TIMEOUT, || {
        info_field(&mut raw, "replication", "connected_slaves") == "0"
    });
}

#[test]
fn replconf_rdb_filter_only_and_its_errors_match_redis() {
    testkit::differential(
        testkit::script!("replication/replconf_rdb_filter_only_matches_redis"),
        false,
    );
}

/// A library for the `--functions-rdb` tests.
const LIBRARY: &str = "#!lua name=fetched\nredis.register_function('one', function() return 1 end)";

/// Loads [`LIBRARY`] and writes keys in databases 0 and 3.
fn functions_and_keys(server: &Server) {
    let mut raw = server.raw();
    raw.ok(&[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]);
    raw.ok(&[b"SET", b"plain", b"1"]);
    raw.ok(&[b"HSET", b"hash", b"f", b"v"]);
    raw.ok(&[b"SELECT", b"3"]);
    raw.ok(&[b"SET", b"elsewhere", b"2"]);
}

/// Runs `redis-cli <mode> <file>` against `server` (`--rdb` or `--functions-rdb`).
fn fetch_rdb(server: &Server, mode: &str, file: &std::path::Path) -> std::process::Child {
    std::process::Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), mode, file.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn fetched(child: std::process::Child) {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// An RDB file's records, the values of the aux fields that name a time, a memory size or a
/// replication history left out.
fn records(file: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut records = Vec::new();
    let limits = redis_lite_engine::EncodingLimits::default();
    redis_lite_persist::read_rdb(&bytes[..], limits, |event| {
        records.push(match event {
            redis_lite_persist::Event::Aux { key, value } => {
                let key = String::from_utf8_lossy(&key).into_owned();
                match key.as_str() {
                    "ctime" | "used-mem" | "repl-id" | "repl-offset" => format!("aux {key}"),
                    _ => format!("aux {key} {}", String::from_utf8_lossy(&value)),
                }
            }
            other => format!("{other:?}"),
        });
        Ok(())
    })
    .unwrap();
    records
}

/// redis-cli --functions-rdb (`REPLCONF rdb-only 1`, `REPLCONF rdb-filter-only functions`,
/// SYNC): the file has the aux fields and the functions of real Redis's, and no key; real
/// Redis loads it with the library and no key, redis-lite-check accepts it; a `--rdb` fetched
/// at the same time (a replica that asked for everything, so another sync job) still has the
/// keys; a master with disk-based syncs sends it over the socket all the same.
#[test]
fn redis_cli_functions_rdb_fetches_the_functions_alone() {
    if !testkit::installed("redis-cli") || !Program::Redis.available() {
        return;
    }
    let dir = testkit::DataDir::new("repl-cli-functions-rdb");
    let redis = Launch::redis()
        .args(&["--save", "", "--repl-diskless-sync-delay", "0"])
        .start();
    functions_and_keys(&redis);
    let expected = dir.join("redis.rdb");
    fetched(fetch_rdb(&redis, "--functions-rdb", &expected));
    // Both replicas wait for the delay, so they are there together when the sync starts.
    let master = lite_master(&["--repl-diskless-sync-delay", "1"]).start();
    functions_and_keys(&master);
    let (functions_only, everything) = (dir.join("functions.rdb"), dir.join("everything.rdb"));
    let fetches = [
        fetch_rdb(&master, "--functions-rdb", &functions_only),
        fetch_rdb(&master, "--rdb", &everything),
    ];
    fetches.into_iter().for_each(fetched);
    assert_eq!(records(&functions_only), records(&expected));
    assert!(records(&functions_only)
        .iter()
        .any(|r| r.starts_with("Function(")));
    // With disk-based syncs too it goes over the socket, and no file is written.
    let disk_dir = testkit::DataDir::new("repl-cli-functions-rdb-disk");
    let disk_master = lite_master(&["--repl-diskless-sync", "no"])
        .dir(&disk_dir.0)
        .start();
    functions_and_keys(&disk_master);
    let from_disk_master = dir.join("from-disk-master.rdb");
    fetched(fetch_rdb(
        &disk_master,
        "--functions-rdb",
        &from_disk_master,
    ));
    assert_eq!(records(&from_disk_master), records(&expected));
    assert!(!disk_dir.join("dump.rdb").exists());

    let check = std::path::Path::new(env!("CARGO_BIN_EXE_redis-lite-server"))
        .with_file_name("redis-lite-check");
    if check.is_file() {
        let output = std::process::Command::new(&check)
            .args(["rdb", functions_only.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    } else {
        skipped("redis-lite-check is not built, so it did not check the file");
    }

    for (file, keys) in [(&functions_only, 0), (&everything, 3)] {
        let load_dir = testkit::DataDir::new("repl-cli-functions-rdb-load");
        std::fs::copy(file, load_dir.join("dump.rdb")).unwrap();
        let loaded = Launch::redis().dir(&load_dir.0).start();
        let mut raw = loaded.raw();
        let libraries = raw.cmd_text(&["FUNCTION", "LIST"]);
        assert!(libraries.contains("fetched"), "{libraries}");
        let total: i64 = [b"0", b"3"]
            .iter()
            .map(|db| {
                raw.ok(&[b"SELECT", *db]);
                raw.ok(&[b"DBSIZE"]).int()
            })
            .sum();
        assert_eq!(total, keys, "keys loaded from {}", file.display());
    }
}

/// A replica of `master` (any program), started and synced.
fn replica_of(launch: Launch, master: &Server) -> Server {
    let port = master.port.to_string();
    let replica = launch
        .args(&["--save", "", "--replicaof", "127.0.0.1", &port])
        .start();
    wait_until("a replica's link to come up", TIMEOUT, || {
        info_field(&mut replica.raw(), "replication", "master_link_status") == "up"
    });
    replica
}

fn repl_offset(server: &Server, field: &str) -> u64 {
    info_field(&mut server.raw(), "replication", field)
        .parse()
        .unwrap()
}

/// Waits until `replica` processed `master`'s stream and holds the same dataset.
fn assert_same(master: &Server, replica: &Server) {
    let target = repl_offset(master, "master_repl_offset");
    wait_until("the replica to reach the master's offset", TIMEOUT, || {
        repl_offset(replica, "slave_repl_offset") >= target
    });
    wait_until("the replica's digest to match", TIMEOUT, || {
        digest(replica) == digest(master)
    });
}

#[test]
fn a_chain_of_replicas_carries_the_masters_stream_unchanged() {
    let master = lite_master(&["--repl-diskless-sync-delay", "0"]).start();
    let mut raw = master.raw();
    write_load(&mut raw, 0);
    let middle = replica_of(lite_master(&["--repl-diskless-sync-delay", "0"]), &master);
    let leaf = replica_of(lite_master(&[]), &middle);
    let real_leaf = Program::Redis
        .available()
        .then(|| replica_of(redis_replica(), &middle));
    for round in 1..10 {
        write_load(&mut raw, round);
    }
    assert_same(&master, &middle);
    assert_same(&master, &leaf);
    // The same history all along the chain: the leaf's offsets are the master's (the waits
    // above compare them) under the master's replication ID.
    let replid = |server: &Server| info_field(&mut server.raw(), "replication", "master_replid");
    assert_eq!(replid(&leaf), replid(&master));
    match real_leaf {
        Some(real_leaf) => assert_same(&master, &real_leaf),
        None => skipped("redis-server is not on PATH (in a_chain_of_replicas_carries_the_masters_stream_unchanged, the real Redis leaf)"),
    }
}

#[test]
fn a_promoted_replica_continues_its_siblings_without_a_full_sync() {
    let master = lite_master(&["--repl-diskless-sync-delay", "0"]).start();
    let mut raw = master.raw();
    write_load(&mut raw, 0);
    let promoted = replica_of(lite_master(&["--repl-diskless-sync-delay", "0"]), &master);
    let sibling = replica_of(lite_master(&[]), &master);
    write_load(&mut raw, 1);
    assert_same(&master, &promoted);
    assert_same(&master, &sibling);
    let old_id = info_field(&mut master.raw(), "replication", "master_replid");
    drop(master);
    let mut new_master = promoted.raw();
    assert_eq!(new_master.cmd_text(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(
        info_field(&mut new_master, "replication", "master_replid2"),
        old_id
    );
    let port = promoted.port.to_string();
    assert_eq!(
        sibling.raw().cmd_text(&["REPLICAOF", "127.0.0.1", &port]),
        "+OK\r\n"
    );
    wait_until(
        "the sibling to continue with the promoted replica",
        TIMEOUT,
        || stat(&promoted, "sync_partial_ok") == 1,
    );
    assert_eq!(stat(&promoted, "sync_full"), 0);
    write_load(&mut new_master, 2);
    assert_same(&promoted, &sibling);
}

#[test]
fn a_killed_lite_replica_restarts_and_catches_up() {
    let master = lite_master(&["--repl-diskless-sync-delay", "0"]).start();
    let mut replica = replica_of(lite_master(&[]), &master);
    let writer_port = master.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut raw =
                Raw::new(std::net::TcpStream::connect(("127.0.0.1", writer_port)).unwrap());
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                write_load(&mut raw, round % 50);
                round += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    replica.kill9();
    std::thread::sleep(Duration::from_millis(300));
    replica.restart();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_same(&master, &replica);
}

#[test]
fn evictions_and_expiries_on_the_master_reach_its_replicas() {
    let Some(set) = redis_replicas_of_lite(
        "evictions_and_expiries_on_the_master_reach_its_replicas",
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--maxmemory",
            "4mb",
            "--maxmemory-policy",
            "allkeys-random",
        ],
        1,
    ) else {
        return;
    };
    let mut raw = set.master.raw();
    let value = "v".repeat(1000);
    // Half the keys expire within 400 ms; the other half outgrow maxmemory.
    for i in 0..20_000 {
        let key = format!("big:{i}");
        let ttl = (1 + i % 400).to_string();
        let reply = match i % 2 {
            0 => raw.cmd_text(&["SET", &key, &value]),
            _ => raw.cmd_text(&["SET", &key, &value, "PX", &ttl]),
        };
        assert_eq!(reply, "+OK\r\n");
    }
    for round in 0..5 {
        write_load(&mut raw, round);
    }
    assert!(stat(&set.master, "evicted_keys") > 0, "nothing was evicted");
    assert!(stat(&set.master, "expired_keys") > 0, "nothing expired");
    assert_converged(&set);
}

#[test]
fn the_master_pings_drops_silent_replicas_and_frees_an_unused_backlog() {
    let Some(set) = redis_replicas_of_lite(
        "the_master_pings_drops_silent_replicas_and_frees_an_unused_backlog",
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-ping-replica-period",
            "1",
            "--repl-timeout",
            "2",
            "--repl-backlog-ttl",
            "1",
        ],
        1,
    ) else {
        return;
    };
    let mut raw = set.master.raw();
    // With no writes the stream still grows: a PING (14 bytes) every second.
    let before = repl_offset(&set.master, "master_repl_offset");
    wait_until("a PING in the stream", TIMEOUT, || {
        repl_offset(&set.master, "master_repl_offset") >= before + 14
    });
    assert_converged(&set);
    // A replica that stops acknowledging is dropped after repl-timeout.
    let pid = set.replicas[0].pid();
    signal(pid, "STOP");
    wait_until("the master to drop the silent replica", TIMEOUT, || {
        info_field(&mut raw, "replication", "connected_slaves") == "0"
    });
    // And a backlog without replicas is freed after repl-backlog-ttl, with a new history.
    let replid = info_field(&mut raw, "replication", "master_replid");
    wait_until("the backlog to be freed", TIMEOUT, || {
        info_field(&mut raw, "replication", "repl_backlog_active") == "0"
    });
    assert_ne!(info_field(&mut raw, "replication", "master_replid"), replid);
    signal(pid, "CONT");
}

/// Redis's own suite reads the stream a `SYNC` connection gets after setting
/// `repl-ping-replica-period 3600`, and expects the first write first: Redis PINGs its replicas
/// every period counted from its start, so a replica that attaches meanwhile gets no PING at
/// once.
#[test]
fn a_new_replica_gets_no_ping_before_the_next_period() {
    use std::io::{Read, Write};
    let mut servers = vec![("redis-lite", lite_master(&[]).start())];
    match Server::redis(&["--save", ""]) {
        Some(redis) => servers.push(("redis", redis)),
        None => skipped("redis-server is not installed: redis-lite only"),
    }
    let expected = [
        testkit::encode(&[b"SELECT", b"0"]),
        testkit::encode(&[b"SET", b"k", b"v"]),
    ]
    .concat();
    for (who, server) in &servers {
        let mut control = server.raw();
        control.cmd(&["CONFIG", "SET", "repl-ping-replica-period", "3600"]);
        let mut replica = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        replica.set_read_timeout(Some(TIMEOUT)).unwrap();
        replica.write_all(b"SYNC\r\n").unwrap();
        testkit::skip_sync_snapshot(&mut replica);
        wait_until("the replica is online", TIMEOUT, || {
            info_field(&mut control, "replication", "slave0").contains("state=online")
        });
        // Not for correctness: a few cron ticks, in which a PING sent at once would go out.
        std::thread::sleep(Duration::from_millis(300));
        control.cmd(&["SET", "k", "v"]);
        let mut got = vec![0; expected.len()];
        replica.read_exact(&mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{who}"
        );
    }
}

/// A master of each kind with `args`: redis-lite, and real Redis (none when it is missing).
fn lite_and_redis_masters(test: &str, args: &[&str]) -> Vec<(&'static str, Server)> {
    if !Program::Redis.available() {
        skipped(&format!("redis-server is not on PATH (in {test})"));
        return Vec::new();
    }
    vec![
        ("redis-lite", lite_master(args).start()),
        ("redis", Launch::redis().args(args).start()),
    ]
}

/// A real Redis replica of `master`; its link may still be syncing.
fn attach_redis_replica(master: &Server) -> Server {
    let port = master.port.to_string();
    redis_replica()
        .args(&["--replicaof", "127.0.0.1", &port])
        .start()
}

/// Master args for a disk-based full sync whose save takes a second per key.
const SLOW_DISK_SYNC: [&str; 4] = [
    "--repl-diskless-sync",
    "no",
    "--rdb-key-save-delay",
    "1000000",
];

/// Fills `master` with `keys` keys, attaches a real Redis replica and waits until the save for
/// its full sync runs (a second per key with [`SLOW_DISK_SYNC`]). Returns the replica.
fn replica_waiting_for_a_slow_save(who: &str, master: &Server, keys: &str) -> Server {
    master.raw().ok(&[b"DEBUG", b"POPULATE", keys.as_bytes()]);
    let replica = attach_redis_replica(master);
    let mut m = master.raw();
    wait_until(&format!("{who}: the sync's save to start"), TIMEOUT, || {
        info_field(&mut m, "persistence", "rdb_bgsave_in_progress") == "1"
            && info_field(&mut m, "replication", "connected_slaves") == "1"
    });
    replica
}

/// Waits until `master` dropped its only replica, which may have asked again already (a
/// second full sync).
fn wait_replica_dropped(who: &str, master: &Server) {
    let mut m = master.raw();
    wait_until(
        &format!("{who}: the replica to be dropped"),
        TIMEOUT,
        || {
            info_field(&mut m, "replication", "connected_slaves") == "0"
                || stat(master, "sync_full") >= 2
        },
    );
}

/// replication-buffer.tcl, "Replication backlog memory will become smaller if disconnecting
/// with replica": a replica waiting for its snapshot (a slow BGSAVE) is dropped once the
/// stream kept for it passes its output limit, as Redis drops it. redis-lite kept it until the
/// snapshot was sent.
#[test]
fn a_replica_waiting_for_its_snapshot_is_dropped_at_its_output_limit() {
    let limits = [
        "--repl-backlog-size",
        "16384",
        "--client-output-buffer-limit",
        "replica 128kb 0 0",
    ];
    let args = [&SLOW_DISK_SYNC[..], &limits].concat();
    for (who, master) in lite_and_redis_masters("a_replica_waiting_for_its_snapshot", &args) {
        // The snapshot outlasts the test.
        let _replica = replica_waiting_for_a_slow_save(who, &master, "1000");
        let mut m = master.raw();
        // INFO says it waits for the save (redis-lite said `send_bulk` from its start).
        let slave0 = info_field(&mut m, "replication", "slave0");
        assert!(slave0.contains(",state=wait_bgsave,"), "{who}: {slave0}");
        let value = "x".repeat(100_000);
        for key in [b"a", b"b"] {
            m.ok(&[b"SET", key, value.as_bytes()]);
        }
        wait_replica_dropped(who, &master);
    }
}

/// replication-buffer.tcl, "Partial resynchronization is successful even
/// client-output-buffer-limit is less than repl-backlog-size": a replica's hard output limit
/// below `repl-backlog-size` counts as that size, so a 4 MB write does not drop a replica
/// limited to 512 KB while the backlog holds 100 MB. redis-lite dropped it (and it came back
/// with a partial resync).
#[test]
fn a_replica_hard_limit_below_the_backlog_size_counts_as_the_backlog_size() {
    let args = [
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "100mb",
        "--client-output-buffer-limit",
        "replica 512kb 0 0",
    ];
    for (who, master) in lite_and_redis_masters("a_replica_hard_limit_below_the_backlog", &args) {
        let replica = attach_redis_replica(&master);
        wait_until("the replica's link to come up", TIMEOUT, || {
            info_field(&mut replica.raw(), "replication", "master_link_status") == "up"
        });
        let mut m = master.raw();
        m.ok(&[b"SET", b"big", "A".repeat(4 << 20).as_bytes()]);
        assert_same(&master, &replica);
        assert_eq!(
            (stat(&master, "sync_full"), stat(&master, "sync_partial_ok")),
            (1, 0),
            "{who}: the replica stayed connected"
        );
    }
}

/// replication-4.tcl, "Data divergence can happen under default conditions": DEBUG REPLICATE
/// sends a command to the replicas without running it on the master (redis-lite refused it).
#[test]
fn debug_replicate_reaches_the_replicas_only() {
    for (who, master) in
        lite_and_redis_masters("debug_replicate", &["--repl-diskless-sync-delay", "0"])
    {
        let replica = attach_redis_replica(&master);
        wait_until("the replica's link to come up", TIMEOUT, || {
            info_field(&mut replica.raw(), "replication", "master_link_status") == "up"
        });
        let mut m = master.raw();
        assert_eq!(
            m.cmd_text(&["DEBUG", "REPLICATE", "SET", "only", "there"]),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(m.cmd_text(&["DEBUG", "REPLICATE"]), "-ERR unknown subcommand or wrong number of arguments for 'REPLICATE'. Try DEBUG HELP.\r\n", "{who}");
        m.ok(&[b"SET", b"both", b"v"]);
        let target = repl_offset(&master, "master_repl_offset");
        wait_until("the replica to reach the master's offset", TIMEOUT, || {
            repl_offset(&replica, "slave_repl_offset") >= target
        });
        let mut r = replica.raw();
        assert_eq!(r.cmd_text(&["GET", "only"]), "$5\r\nthere\r\n", "{who}");
        assert_eq!(m.cmd_text(&["EXISTS", "only"]), ":0\r\n", "{who}");
        assert_eq!(r.cmd_text(&["GET", "both"]), "$1\r\nv\r\n", "{who}");
    }
}

/// replication.tcl, "Kill rdb child process if its dumping RDB is not useful": a disk save for
/// a full sync stops once its only replica went away (no `save` rule wants the file), as Redis
/// kills its saving child. redis-lite saved on for every key's delay.
#[test]
fn a_sync_save_nobody_waits_for_stops() {
    let args = [&["--save", ""][..], &SLOW_DISK_SYNC].concat();
    for (who, master) in lite_and_redis_masters("a_sync_save_nobody_waits_for", &args) {
        // The save outlasts the test unless it is stopped.
        let replica = replica_waiting_for_a_slow_save(who, &master, "100");
        let mut m = master.raw();
        replica.raw().ok(&[b"REPLICAOF", b"NO", b"ONE"]);
        wait_until(&format!("{who}: the save to stop"), TIMEOUT, || {
            info_field(&mut m, "persistence", "rdb_bgsave_in_progress") == "0"
        });
    }
}

/// Found by Redis 7.0.15's own suite in harness mode (replication.tcl, "Kill rdb child process
/// if its dumping RDB is not useful"): a replica asking for a full sync while a disk save for
/// another one runs joins that save, as Redis attaches it to the BGSAVE in progress; so the
/// first one leaving does not stop the save. redis-lite queued it for a save of its own, and
/// stopped the first when its replica left.
#[test]
fn a_replica_joins_the_disk_save_in_progress_for_another() {
    let args = [&["--save", ""][..], &SLOW_DISK_SYNC].concat();
    for (who, master) in lite_and_redis_masters("a_replica_joins_the_disk_save", &args) {
        // Ten keys: the save takes ten seconds, the second replica starts meanwhile.
        let first = replica_waiting_for_a_slow_save(who, &master, "10");
        let second = attach_redis_replica(&master);
        let mut m = master.raw();
        wait_until(
            &format!("{who}: the second replica to wait"),
            TIMEOUT,
            || info_field(&mut m, "replication", "connected_slaves") == "2",
        );
        for replica in [&first, &second] {
            let mut r = replica.raw();
            wait_until(
                &format!("{who}: a replica's sync"),
                Duration::from_secs(60),
                || info_field(&mut r, "replication", "master_link_status") == "up",
            );
            assert_eq!(r.cmd_text(&["DBSIZE"]), ":10\r\n", "{who}");
        }
        assert_eq!(info_field(&mut m, "persistence", "rdb_saves"), "1", "{who}");
        assert_eq!(stat(&master, "sync_full"), 2, "{who}");
    }
}

/// replication.tcl, "PSYNC with wrong offset should throw error": refused with Redis's error,
/// and nothing starts (redis-lite began a full sync).
#[test]
fn psync_with_an_offset_that_is_no_number_is_refused() {
    for (who, master) in lite_and_redis_masters("psync_with_a_wrong_offset", &[]) {
        let mut client = master.raw();
        client.expect_replies(&[
            (
                &["PSYNC", "replicationid", "offset_str"],
                "-ERR value is not an integer or out of range\r\n",
            ),
            (&["PING"], "+PONG\r\n"),
        ]);
        assert_eq!(stat(&master, "sync_full"), 0, "{who}");
    }
}

/// replication.tcl, "Diskless load swapdb (different replid)": CLIENT KILL TYPE replica during
/// a full sync closes the replica's connection at once, as in Redis. redis-lite's replica task
/// looked only at the snapshot's progress and kept the replica until the whole payload went.
#[test]
fn client_kill_ends_a_full_sync_in_progress() {
    let args = [&["--save", ""][..], &SLOW_DISK_SYNC].concat();
    for (who, master) in lite_and_redis_masters("client_kill_ends_a_full_sync", &args) {
        // The save outlasts the test.
        let _replica = replica_waiting_for_a_slow_save(who, &master, "100");
        let mut m = master.raw();
        assert_eq!(
            m.cmd_text(&["CLIENT", "KILL", "TYPE", "replica"]),
            ":1\r\n",
            "{who}"
        );
        wait_replica_dropped(who, &master);
    }
}

/// replication.tcl, "replica do not write the reply to the replication link": a replica's
/// connection that sends a command with a reply is dropped, as Redis drops it (the link
/// carries no replies); redis-lite discarded the reply and kept the replica.
#[test]
fn a_replica_that_sends_a_command_with_a_reply_is_dropped() {
    let args = ["--repl-diskless-sync-delay", "0"];
    for (who, master) in lite_and_redis_masters("a_replica_that_sends_a_command", &args) {
        // GET is refused to a replica: its error is a reply all the same.
        for sync in ["SYNC", "PSYNC ? -1"] {
            for command in ["PING", "GET foo"] {
                let mut replica = master.raw();
                replica.send(format!("{sync}\r\n{command}\r\n").as_bytes());
                assert!(replica.is_closed(), "{who}: {sync} then {command}");
            }
        }
        assert_eq!(master.raw().cmd_text(&["PING"]), "+PONG\r\n", "{who}");
    }
}
