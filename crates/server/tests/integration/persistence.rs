//! RDB persistence: SAVE/BGSAVE/LASTSAVE, the `save` rules, loading at start-up (with
//! `-LOADING`), DEBUG RELOAD/DIGEST, crash safety, and files moving both ways between
//! redis-lite and real Redis with identical DEBUG DIGEST.

use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{DataDir, Launch, Program, Raw, Server};

/// Every type in each of its encodings, with expiries, in two databases.
fn populate(raw: &mut Raw) {
    let big = "x".repeat(100);
    let long_list: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    let mut commands: Vec<Vec<String>> = vec![
        vec!["SET".into(), "int".into(), "12345".into()],
        vec!["SET".into(), "str".into(), "hello".into()],
        vec!["SET".into(), "raw".into(), big.clone()],
        vec!["SET".into(), "lzf".into(), "a".repeat(500)],
        vec![
            "SET".into(),
            "ttl".into(),
            "v".into(),
            "EX".into(),
            "1000".into(),
        ],
        vec![
            "RPUSH".into(),
            "list".into(),
            "a".into(),
            "1".into(),
            big.clone(),
        ],
        vec![
            "SADD".into(),
            "intset".into(),
            "1".into(),
            "2".into(),
            "-70000".into(),
        ],
        vec![
            "SADD".into(),
            "set".into(),
            "a".into(),
            "b".into(),
            "c".into(),
        ],
        vec![
            "HSET".into(),
            "hash".into(),
            "f".into(),
            "v".into(),
            "n".into(),
            "1".into(),
        ],
        vec!["HSET".into(), "bighash".into(), "f".into(), big.clone()],
        vec![
            "ZADD".into(),
            "zset".into(),
            "1.5".into(),
            "a".into(),
            "0.1".into(),
            "b".into(),
        ],
        vec![
            "ZADD".into(),
            "bigzset".into(),
            "1".into(),
            big.clone(),
            "-inf".into(),
            "m".into(),
        ],
        vec![
            "PFADD".into(),
            "hll".into(),
            "a".into(),
            "b".into(),
            "c".into(),
        ],
        vec!["SELECT".into(), "3".into()],
        vec!["SET".into(), "other-db".into(), "x".into()],
        vec!["PEXPIRE".into(), "other-db".into(), "500000".into()],
        vec!["SELECT".into(), "0".into()],
    ];
    commands.push(
        ["RPUSH", "biglist"]
            .into_iter()
            .map(String::from)
            .chain(long_list)
            .collect(),
    );
    for command in commands {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let reply = raw.cmd_text(&args);
        assert!(!reply.starts_with('-'), "{args:?}: {reply}");
    }
}

fn digest(raw: &mut Raw) -> String {
    let reply = raw.cmd_text(&["DEBUG", "DIGEST"]);
    assert!(reply.starts_with('+') && reply.len() == 43, "{reply}");
    reply
}

/// Waits up to 30 s for `done`, naming `what` when it times out.
fn wait_for(what: &str, done: impl FnMut() -> bool) {
    testkit::wait_until(what, Duration::from_secs(30), done);
}

fn wait_bgsave(raw: &mut Raw) {
    wait_for("BGSAVE to finish", || {
        testkit::info_field(raw, "persistence", "rdb_bgsave_in_progress") == "0"
    });
}

const DEBUG: [&str; 2] = ["--enable-debug-command", "yes"];

#[test]
fn save_then_restart_restores_every_type_and_ttl() {
    let dir = DataDir::new("save");
    let before;
    {
        let mut server = Server::lite_in(&dir.0, &DEBUG);
        let mut raw = server.raw();
        populate(&mut raw);
        before = digest(&mut raw);
        assert_ne!(
            testkit::info_field(&mut raw, "persistence", "rdb_changes_since_last_save"),
            "0"
        );
        assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
        assert_eq!(
            testkit::info_field(&mut raw, "persistence", "rdb_changes_since_last_save"),
            "0"
        );
        assert_eq!(
            testkit::info_field(&mut raw, "persistence", "rdb_saves"),
            "1"
        );
        server.kill9();
    }
    let server = Server::lite_in(&dir.0, &DEBUG);
    let mut raw = server.raw();
    assert_eq!(digest(&mut raw), before);
    let ttl: i64 = raw.cmd_text(&["TTL", "ttl"])[1..].trim().parse().unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_eq!(
        raw.cmd_text(&["OBJECT", "ENCODING", "intset"]),
        "$6\r\nintset\r\n"
    );
    assert_eq!(
        raw.cmd_text(&["OBJECT", "ENCODING", "bigzset"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(
        testkit::info_field(&mut raw, "persistence", "rdb_last_load_keys_loaded"),
        "15"
    );
}

#[test]
fn bgsave_is_a_point_in_time_snapshot_while_writes_go_on() {
    let dir = DataDir::new("bgsave");
    let before;
    {
        let mut server = Server::lite_in(
            &dir.0,
            // 20k keys at 200 µs: a save of about 4 s, long enough for the writes below even on a
            // loaded machine.
            &[&DEBUG[..], &["--rdb-key-save-delay", "200"]].concat(),
        );
        let mut raw = server.raw();
        let mut pipeline = Vec::new();
        for i in 0..20_000 {
            pipeline.extend(testkit::encode(&[
                b"SET",
                format!("k{i}").as_bytes(),
                b"old",
            ]));
        }
        raw.send(&pipeline);
        for _ in 0..20_000 {
            raw.read_reply();
        }
        before = digest(&mut raw);
        assert_eq!(raw.cmd_text(&["BGSAVE"]), "+Background saving started\r\n");
        assert_eq!(
            testkit::info_field(&mut raw, "persistence", "rdb_bgsave_in_progress"),
            "1"
        );
        raw.expect_replies(&[
            (&["BGSAVE"], "-ERR Background save already in progress\r\n"),
            (
                &["BGSAVE", "SCHEDULE"],
                "-ERR Background save already in progress\r\n",
            ),
            (&["SAVE"], "-ERR Background save already in progress\r\n"),
        ]);
        // Overwrite, delete and add keys while the snapshot is being written.
        let mut other = server.raw();
        for i in (0..20_000).step_by(40) {
            other.cmd(&["SET", &format!("k{i}"), "new"]);
            other.cmd(&["DEL", &format!("k{}", i + 1)]);
            other.cmd(&["SET", &format!("fresh{i}"), "x"]);
        }
        other.cmd(&["FLUSHDB"]);
        assert_eq!(
            testkit::info_field(&mut raw, "persistence", "rdb_bgsave_in_progress"),
            "1",
            "the writes must overlap the save for this test to mean anything"
        );
        wait_bgsave(&mut raw);
        assert_eq!(
            testkit::info_field(&mut raw, "persistence", "rdb_last_bgsave_status"),
            "ok"
        );
        server.kill9();
    }
    let server = Server::lite_in(&dir.0, &DEBUG);
    let mut raw = server.raw();
    assert_eq!(
        digest(&mut raw),
        before,
        "the file holds the data as of BGSAVE"
    );
}

#[test]
fn bgsave_arguments_and_lastsave() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd_text(&["BGSAVE", "NOW"]), "-ERR syntax error\r\n");
    let first: u64 = raw.cmd_text(&["LASTSAVE"])[1..].trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(
        raw.cmd_text(&["BGSAVE", "SCHEDULE"]),
        "+Background saving started\r\n"
    );
    wait_bgsave(&mut raw);
    let second: u64 = raw.cmd_text(&["LASTSAVE"])[1..].trim().parse().unwrap();
    assert!(
        second > first,
        "{first} {second} {}",
        raw.cmd_text(&["INFO", "persistence"])
    );
    assert!(server.dir.join("dump.rdb").is_file());
    // Inside a transaction BGSAVE is deferred until EXEC is over, as in Redis.
    raw.cmd(&["MULTI"]);
    raw.cmd(&["BGSAVE"]);
    assert_eq!(
        raw.cmd_text(&["EXEC"]),
        "*1\r\n+Background saving scheduled\r\n"
    );
    wait_for("the scheduled BGSAVE", || {
        testkit::info_field(&mut raw, "persistence", "rdb_saves") == "2"
    });
}

#[test]
fn save_rules_trigger_a_background_save() {
    let server = Server::lite(&["--save", "1 2"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$3\r\n1 2\r\n"
    );
    raw.cmd(&["SET", "a", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        testkit::info_field(&mut raw, "persistence", "rdb_saves"),
        "0",
        "one change is not enough"
    );
    raw.cmd(&["SET", "b", "1"]);
    wait_for("the save rule", || {
        testkit::info_field(&mut raw, "persistence", "rdb_saves") == "1"
    });
    assert_eq!(
        testkit::info_field(&mut raw, "persistence", "rdb_changes_since_last_save"),
        "0"
    );
    // CONFIG SET replaces the rules; an empty value turns them off.
    raw.expect_replies(&[
        (&["CONFIG", "SET", "save", ""], "+OK\r\n"),
        (&["CONFIG", "GET", "save"], "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"),
        (&["CONFIG", "SET", "save", "1"], "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"),
    ]);
}

#[test]
fn save_lines_in_a_config_file_add_up() {
    let dir = DataDir::new("conf");
    let conf = dir.0.join("redis.conf");
    std::fs::write(&conf, "save 900 1\nsave 300 10\nsave 60 10000\n").unwrap();
    let server = Launch::lite().config(&conf).start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$21\r\n900 1 300 10 60 10000\r\n"
    );
}

#[test]
fn dir_and_dbfilename() {
    let dir = DataDir::new("dirs");
    // dir and dbfilename are protected configs (see tests/security.rs).
    let server = Server::lite(&["--enable-protected-configs", "yes"]);
    let mut raw = server.raw();
    let target = dir.0.to_str().unwrap();
    raw.expect_replies(&[
        (&["CONFIG", "SET", "dir", target], "+OK\r\n"),
        (&["CONFIG", "SET", "dbfilename", "other.rdb"], "+OK\r\n"),
        (&["CONFIG", "SET", "dbfilename", "a/b.rdb"], "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename\r\n"),
        (&["CONFIG", "SET", "dir", "/no/such/dir"], "-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory\r\n"),
    ]);
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
    assert!(dir.0.join("other.rdb").is_file());
    assert!(!server.dir.join("dump.rdb").exists());
}

#[test]
fn loading_reports_progress_and_refuses_commands() {
    let dir = DataDir::new("loading");
    {
        let mut server = Server::lite_in(&dir.0, &[]);
        let mut raw = server.raw();
        // Incompressible values, so the file is large enough for partial progress.
        crate::loading::fill(&mut raw, 3000);
        assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
        server.kill9();
    }
    // 1 ms per key: about three seconds of loading, serving clients every 1024 bytes (at the
    // default 2 MB, commands would wait for the end of this 300 KB load, as Redis's do).
    let server = Launch::lite()
        .dir(&dir.0)
        .args(&[
            "--key-load-delay",
            "1000",
            "--loading-process-events-interval-bytes",
            "1024",
            "--enable-protected-configs",
            "yes",
        ])
        .return_while_loading()
        .start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["GET", "k1"]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert_eq!(
        raw.cmd_text(&["PING"]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    // CONFIG SET runs, but not for `dir` and `appendonly` (Redis's DENY_LOADING_CONFIG), unless
    // an earlier pair is refused by its name.
    raw.expect_replies(&[
        (&["CONFIG", "SET", "loglevel", "debug"], "+OK\r\n"),
        (
            &["CONFIG", "SET", "dir", "/nonexistent"],
            "-LOADING Redis is loading the dataset in memory\r\n",
        ),
        (
            &["CONFIG", "SET", "maxmemory", "x", "appendonly", "yes"],
            "-LOADING Redis is loading the dataset in memory\r\n",
        ),
        (
            &["CONFIG", "SET", "nosuch", "1", "dir", "/"],
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
        ),
    ]);
    assert_eq!(testkit::info_field(&mut raw, "persistence", "loading"), "1");
    let perc: f64 = testkit::info_field(&mut raw, "persistence", "loading_loaded_perc")
        .parse()
        .unwrap();
    assert!((0.0..100.0).contains(&perc), "{perc}");
    wait_for("loading to finish", || {
        testkit::info_field(&mut raw, "persistence", "loading") == "0"
    });
    assert_eq!(raw.cmd_text(&["DBSIZE"]), ":3000\r\n");
}

#[test]
fn a_damaged_snapshot_stops_start_up_with_the_offset() {
    let dir = DataDir::new("corrupt");
    {
        let mut server = Server::lite_in(&dir.0, &[]);
        let mut raw = server.raw();
        populate(&mut raw);
        raw.cmd(&["SAVE"]);
        server.kill9();
    }
    let path = dir.0.join("dump.rdb");
    let good = std::fs::read(&path).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x40;
    std::fs::write(&path, &flipped).unwrap();
    let (status, log) = Launch::lite().dir(&dir.0).run_until_exit();
    assert!(!status.success());
    // Redis's lines, which tools and Redis's own tests look for.
    assert!(
        log.contains("# Internal error in RDB reading offset "),
        "{log}"
    );
    assert!(
        log.contains("# Terminating server after rdb file reading failure.\n"),
        "{log}"
    );
    assert!(!log.contains("Ready to accept connections"), "{log}");

    std::fs::write(&path, &good[..good.len() - 20]).unwrap();
    let (status, log) = Launch::lite().dir(&dir.0).run_until_exit();
    assert!(!status.success(), "a truncated snapshot is refused");
    assert!(log.contains("Terminating server after rdb"), "{log}");
    // Redis's two lines for a file that ends early.
    assert!(
        log.contains("# Short read or OOM loading DB. Unrecoverable error, aborting now."),
        "{log}"
    );
    assert!(log.contains("-> Unexpected EOF reading RDB file"), "{log}");
}

#[test]
fn a_crash_during_bgsave_leaves_the_last_good_snapshot() {
    let dir = DataDir::new("crash-bgsave");
    let good;
    {
        let mut server = Server::lite_in(
            &dir.0,
            &[&DEBUG[..], &["--rdb-key-save-delay", "500"]].concat(),
        );
        let mut raw = server.raw();
        raw.cmd(&["SET", "first", "1"]);
        good = digest(&mut raw);
        raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
        raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "500"]);
        for i in 0..5000 {
            raw.cmd(&["SET", &format!("k{i}"), "v"]);
        }
        assert_eq!(raw.cmd_text(&["BGSAVE"]), "+Background saving started\r\n");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            testkit::info_field(&mut raw, "persistence", "rdb_bgsave_in_progress"),
            "1"
        );
        server.kill9();
    }
    let server = Server::lite_in(&dir.0, &DEBUG);
    let mut raw = server.raw();
    assert_eq!(digest(&mut raw), good);
}

/// SIGTERM while a slow BGSAVE runs stops the save and exits, as Redis kills its saving child
/// (Redis's own suite ends servers that way). redis-lite slept a whole shard's keys' delay
/// before it looked for the abort: with 1 s a key, minutes.
#[test]
fn sigterm_during_a_slow_bgsave_exits_without_waiting_for_it() {
    let args = [
        &DEBUG[..],
        &["--save", "", "--rdb-key-save-delay", "1000000"],
    ]
    .concat();
    for (name, mut server) in Server::lite_and_redis(&args) {
        let mut raw = server.raw();
        raw.cmd(&["DEBUG", "POPULATE", "20000"]);
        assert_eq!(raw.cmd_text(&["BGSAVE"]), "+Background saving started\r\n");
        testkit::wait_until(
            "the background save has started",
            Duration::from_secs(10),
            || testkit::info_field(&mut raw, "persistence", "rdb_bgsave_in_progress") == "1",
        );
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
        assert!(
            server.wait_exit(Duration::from_secs(30)).is_some(),
            "{name} exits on SIGTERM during BGSAVE"
        );
    }
}

/// FLUSHALL counts the keys it removed as changes (Redis 7.0 adds nothing for the command
/// itself); with `save` rules it saves at once, leaving no change since (redis-lite counted one
/// more, after the save).
#[test]
fn flushall_with_save_rules_leaves_no_change_since_the_save() {
    for (name, server) in Server::lite_and_redis(&[]) {
        let mut raw = server.raw();
        let changes_after = |raw: &mut Raw, rules: &str, keys: &[&str]| {
            raw.cmd(&["CONFIG", "SET", "save", rules]);
            for key in keys {
                raw.cmd(&["SET", key, "v"]);
            }
            raw.cmd(&["FLUSHALL"]);
            testkit::info_field(raw, "persistence", "rdb_changes_since_last_save")
        };
        assert_eq!(
            changes_after(&mut raw, "3600 1", &["a"]),
            "0",
            "{name}, saving"
        );
        assert_eq!(
            changes_after(&mut raw, "", &[]),
            "0",
            "{name}, nothing flushed"
        );
        assert_eq!(
            changes_after(&mut raw, "", &["a", "b"]),
            "4",
            "{name}, two keys"
        );
    }
}

#[test]
fn debug_reload_and_digest_value() {
    let server = Server::lite(&DEBUG);
    let mut raw = server.raw();
    populate(&mut raw);
    let before = digest(&mut raw);
    assert_eq!(raw.cmd_text(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(digest(&mut raw), before);
    raw.cmd(&["SET", "later", "1"]);
    assert_eq!(raw.cmd_text(&["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(digest(&mut raw), before, "NOSAVE loads the file as it was");
    raw.cmd(&["SET", "later", "1"]);
    assert_eq!(
        raw.cmd_text(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"]),
        "-ERR Error trying to load the RDB dump\r\n",
        "duplicate keys without MERGE"
    );
    raw.expect_replies(&[
        (
            &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"],
            "+OK\r\n",
        ),
        (&["EXISTS", "later"], ":1\r\n"),
        (&["FLUSHALL"], "+OK\r\n"),
    ]);
    assert_eq!(
        raw.cmd_text(&["DEBUG", "DIGEST"]),
        format!("+{}\r\n", "0".repeat(40))
    );
}

#[test]
fn digests_match_real_redis() {
    let script: &[&[&str]] = testkit::script!("persistence/digests_match_real_redis");
    testkit::differential_with(script, false, &DEBUG);
}

#[test]
fn snapshots_move_both_ways_between_redis_and_redis_lite() {
    let dir = DataDir::new("interop");
    let ours;
    {
        let mut lite = Server::lite_in(&dir.0, &DEBUG);
        let mut raw = lite.raw();
        populate(&mut raw);
        ours = digest(&mut raw);
        raw.cmd(&["SAVE"]);
        lite.kill9();
    }
    let Some(redis) = Launch::redis()
        .dir(&dir.0)
        .args(&["--save", ""])
        .start_if_available()
    else {
        return;
    };
    let mut raw = redis.raw();
    assert_eq!(digest(&mut raw), ours, "real Redis loads our file");
    raw.cmd(&["SET", "from-redis", "1"]);
    raw.cmd(&["SADD", "s-redis", "1", "2", "a"]);
    let theirs = digest(&mut raw);
    assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
    drop(redis);
    let lite = Server::lite_in(&dir.0, &DEBUG);
    let mut raw = lite.raw();
    assert_eq!(digest(&mut raw), theirs, "we load real Redis's file");
}

#[test]
fn shutdown_saves_when_rules_are_set_or_asked() {
    let dir = DataDir::new("shutdown");
    let mut server = Server::lite_in(&dir.0, &["--save", ""]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    raw.send(&testkit::encode(&[b"SHUTDOWN", b"SAVE"]));
    assert!(server.wait_exit(Duration::from_secs(10)).unwrap().success());
    assert!(dir.0.join("dump.rdb").is_file());

    let mut server = Server::lite_in(&dir.0, &[]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["DBSIZE"]),
        ":1\r\n",
        "loaded from the SHUTDOWN SAVE file"
    );
    raw.send(&testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());

    // SIGTERM with the default rules saves.
    let mut server = Server::lite_in(&dir.0, &[]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "k2", "v"]);
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
    assert!(server.wait_exit(Duration::from_secs(10)).unwrap().success());
    let server = Server::lite_in(&dir.0, &[]);
    assert_eq!(server.raw().cmd_text(&["DBSIZE"]), ":2\r\n");
}

#[test]
fn a_failed_background_save_stops_writes_until_a_save_succeeds() {
    let dir = DataDir::new("misconf");
    let server = Server::lite(&["--enable-protected-configs", "yes"]);
    let mut raw = server.raw();
    let target = dir.0.to_str().unwrap();
    raw.cmd(&["CONFIG", "SET", "dir", target]);
    raw.cmd(&["SET", "k", "v"]);
    // A directory where the snapshot file should be makes the rename fail.
    std::fs::create_dir(dir.0.join("dump.rdb")).unwrap();
    std::fs::write(dir.0.join("dump.rdb").join("x"), "x").unwrap();
    assert_eq!(raw.cmd_text(&["BGSAVE"]), "+Background saving started\r\n");
    wait_bgsave(&mut raw);
    assert_eq!(
        testkit::info_field(&mut raw, "persistence", "rdb_last_bgsave_status"),
        "err"
    );
    let refused = raw.cmd_text(&["SET", "k", "v2"]);
    assert!(
        refused.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{refused}"
    );
    assert_eq!(
        raw.cmd_text(&["GET", "k"]),
        "$1\r\nv\r\n",
        "reads still work"
    );
    assert_eq!(raw.cmd_text(&["SAVE"]), "-ERR\r\n");
    std::fs::remove_dir_all(dir.0.join("dump.rdb")).unwrap();
    assert_eq!(raw.cmd_text(&["BGSAVE"]), "+Background saving started\r\n");
    wait_bgsave(&mut raw);
    assert_eq!(raw.cmd_text(&["SET", "k", "v2"]), "+OK\r\n");
}

/// An RDB file holding empty collections (older Redis versions could write them): Redis
/// 7.0.15 skips each, naming it in its log, and loads the rest; redis-lite refused to start
/// on the quicklist whose node is an empty listpack. Checked on both servers.
#[test]
fn a_snapshot_with_empty_keys_loads_without_them_as_in_redis() {
    const EMPTY_LISTPACK: &[u8] = b"\x07\x00\x00\x00\x00\x00\xff";
    let rdb = [
        b"REDIS0010\xfe\x00".as_slice(),
        b"\x02\x03set\x00",
        b"\x12\x0elist_quicklist\x00",
        b"\x12\x0flist_empty_node\x01\x02\x07",
        EMPTY_LISTPACK,
        b"\x00\x04live\x05value",
        b"\xff\x00\x00\x00\x00\x00\x00\x00\x00",
    ]
    .concat();
    for program in [testkit::Program::Lite, testkit::Program::Redis] {
        let dir = DataDir::new("empty-keys");
        std::fs::write(dir.join("dump.rdb"), &rdb).unwrap();
        let Some(server) = Launch::of(program)
            .dir(&dir.0)
            .args(&["--save", "", "--logfile", "server.log"])
            .start_if_available()
        else {
            testkit::skipped("redis-server is not on PATH");
            continue;
        };
        let mut raw = server.raw();
        assert_eq!(raw.cmd_text(&["DBSIZE"]), ":1\r\n", "{program:?}");
        assert_eq!(raw.cmd_text(&["GET", "live"]), "$5\r\nvalue\r\n");
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
        for key in ["set", "list_quicklist", "list_empty_node"] {
            let line = format!("rdbLoadObject skipping empty key: {key}\n");
            assert!(log.contains(&line), "{program:?}: {line} not in {log}");
        }
        let done = "Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 3.";
        assert!(log.contains(done), "{program:?}: {log}");
    }
}

/// Redis's tests/assets/hash-zipmap.rdb (RDB version 3, written by Redis 2.x): a hash in the
/// zipmap encoding, which Redis 7.0 loads as a listpack, or as a hash table past the listpack
/// limits. redis-lite refused to start ("unsupported value type 9"). Checked on both servers.
#[test]
fn a_redis_2_zipmap_hash_loads_as_in_redis() {
    const RDB: &[u8] =
        b"REDIS0003\xfe\x00\x09\x04hash\x10\x02\x02f1\x02\x00v1\x02f2\x02\x00v2\xff\xff";
    for limits in [&[][..], &["--hash-max-ziplist-entries", "1"]] {
        let mut replies = Vec::new();
        for program in [testkit::Program::Redis, testkit::Program::Lite] {
            let dir = DataDir::new("zipmap");
            std::fs::write(dir.join("dump.rdb"), RDB).unwrap();
            let Some(server) = Launch::of(program)
                .dir(&dir.0)
                .args(&["--save", ""])
                .args(limits)
                .start_if_available()
            else {
                testkit::skipped("redis-server is not on PATH");
                return;
            };
            let mut raw = server.raw();
            replies.push(vec![
                raw.cmd_text(&["HLEN", "hash"]),
                raw.cmd_text(&["HMGET", "hash", "f1", "f2"]),
                raw.cmd_text(&["OBJECT", "ENCODING", "hash"]),
            ]);
        }
        assert_eq!(replies[1], replies[0], "{limits:?}");
    }
}

/// A snapshot whose CRC-64 is wrong stops start-up naming a "CRC error", as Redis's log does
/// (its suite looks for those words). Both servers, the same file.
#[test]
fn a_snapshot_with_a_wrong_checksum_is_refused_as_a_crc_error() {
    let rdb = [
        b"REDIS0010\xfe\x00\x00\x01k\x01v\xff".as_slice(),
        b"foobar00",
    ]
    .concat();
    for program in [testkit::Program::Lite, testkit::Program::Redis] {
        if !program.available() {
            testkit::skipped("redis-server is not on PATH");
            continue;
        }
        let dir = DataDir::new("crc-error");
        std::fs::write(dir.join("dump.rdb"), &rdb).unwrap();
        let (status, log) = Launch::of(program)
            .dir(&dir.0)
            .args(&["--save", ""])
            .run_until_exit();
        assert!(!status.success(), "{program:?}");
        assert!(log.contains("CRC error"), "{program:?}: {log}");
    }
}

/// A replica keeps the keys its snapshot holds that have expired since (its master's DELs
/// remove them), where a master drops them as it loads, as Redis's `iAmMaster` decides: by
/// `replicaof`, or in cluster mode by the role nodes.conf gives (legacy cluster suite,
/// 14-consistency-check "Slave expired keys is loaded when restarted"). The same on Redis and
/// redis-lite.
/// A nodes.conf in `dir` that makes the node started there a cluster replica of a master at
/// `master_port` serving every slot.
pub fn write_replica_nodes_conf(dir: &DataDir, master_port: &str) {
    let (me, master_id) = ("b".repeat(40), "a".repeat(40));
    std::fs::write(
        dir.join("nodes.conf"),
        format!(
            "{me} 127.0.0.1:0@0 myself,slave {master_id} 0 0 1 connected\n\
             {master_id} 127.0.0.1:{master_port}@{master_port} master - 0 0 1 connected 0-16383\n\
             vars currentEpoch 1 lastVoteEpoch 0\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_replica_loads_the_keys_that_expired_since_its_snapshot() {
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            testkit::skipped(&format!("{program:?} is not available"));
            continue;
        }
        let dir = DataDir::new("replica-expired-load");
        let mut writer = Launch::of(program).dir(&dir.0).start();
        let mut raw = writer.raw();
        raw.cmd(&["SET", "gone", "v", "PX", "100"]);
        raw.cmd(&["SET", "kept", "v"]);
        assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
        writer.kill9();
        std::thread::sleep(std::time::Duration::from_millis(200));
        // A master nobody serves: the replica keeps what it loaded while it retries.
        let master_port = testkit::free_port().to_string();
        let replica = Launch::of(program)
            .dir(&dir.0)
            .args(&["--replicaof", "127.0.0.1", &master_port])
            .start();
        assert_eq!(replica.raw().cmd_text(&["DBSIZE"]), ":2\r\n", "{program:?}");
        let master = Launch::of(program).dir(&dir.0).start();
        assert_eq!(master.raw().cmd_text(&["DBSIZE"]), ":1\r\n", "{program:?}");
        drop((replica, master));
        // In cluster mode the role is nodes.conf's: a replica of a master nobody serves.
        write_replica_nodes_conf(&dir, &master_port);
        let cluster_replica = Launch::of(program).dir(&dir.0).cluster_node().start();
        let mut raw = cluster_replica.raw();
        assert_eq!(raw.cmd_text(&["DBSIZE"]), ":2\r\n", "{program:?}");
    }
}
