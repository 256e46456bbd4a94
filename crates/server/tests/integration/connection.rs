//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, SWAPDB, QUIT, RESET, CLIENT.
use redis_lite_testkit as testkit;

use testkit::{differential, differential_with, Server};

#[test]
fn connection_commands_match_redis() {
    differential(
        testkit::script!("connection/connection_commands_match_redis"),
        false,
    );
}

#[test]
fn resp3_replies_match_redis() {
    differential(
        testkit::script!("connection/resp3_replies_match_redis"),
        true,
    );
}

#[test]
fn password_protection_matches_redis() {
    differential_with(
        testkit::script!("connection/password_protection_matches_redis"),
        false,
        &["--requirepass", "pw"],
    );
}

#[test]
fn hello_negotiates_resp3_and_reports_versions() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let reply = raw.cmd_text(&["HELLO", "3", "SETNAME", "me"]);
    assert!(reply.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"), "{reply}");
    assert!(
        reply.ends_with("$7\r\nmodules\r\n*0\r\n"),
        "Redis 7.0's seven fields, modules last: {reply}"
    );
    assert_eq!(raw.cmd_text(&["CLIENT", "GETNAME"]), "$2\r\nme\r\n");
    assert_eq!(raw.cmd_text(&["GET", "nothing"]), "_\r\n");
    assert!(
        raw.cmd_text(&["HELLO"]).contains("proto\r\n:3"),
        "HELLO without a version keeps the protocol"
    );
    assert!(raw.cmd_text(&["HELLO", "2"]).starts_with("*14\r\n"));
    assert_eq!(raw.cmd_text(&["GET", "nothing"]), "$-1\r\n");
}

#[test]
fn client_reply_off_and_skip_suppress_replies() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.send(
        &[
            testkit::encode(&[b"CLIENT", b"REPLY", b"SKIP"]),
            testkit::encode(&[b"PING", b"skipped"]),
            testkit::encode(&[b"PING", b"one"]),
            testkit::encode(&[b"CLIENT", b"REPLY", b"OFF"]),
            testkit::encode(&[b"PING", b"silent"]),
            testkit::encode(&[b"NOSUCH"]),
            testkit::encode(&[b"CLIENT", b"REPLY", b"ON"]),
            testkit::encode(&[b"PING", b"two"]),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), b"$3\r\none\r\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$3\r\ntwo\r\n");
}

#[test]
fn client_list_and_kill() {
    let server = Server::lite(&[]);
    let mut a = server.raw();
    let mut b = server.raw();
    a.expect_replies(&[(&["CLIENT", "SETNAME", "alpha"], "+OK\r\n")]);
    let a_id = a.cmd_text(&["CLIENT", "ID"]);
    let a_id = a_id.trim_start_matches(':').trim();
    a.cmd(&["SELECT", "3"]);
    let list = b.cmd_text(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!("id={a_id} ")))
        .expect("a is listed");
    for field in ["name=alpha", "db=3", "cmd=select", "flags=N"] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(line.ends_with(" resp=2"), "Redis 7.0's last field: {line}");
    let only_a = b.cmd_text(&["CLIENT", "LIST", "ID", a_id]);
    assert_eq!(
        only_a.lines().filter(|l| l.contains("id=")).count(),
        1,
        "{only_a}"
    );
    let info = b.cmd_text(&["CLIENT", "INFO"]);
    assert!(info.contains("cmd=client|info"), "{info}");

    assert_eq!(b.cmd_text(&["CLIENT", "KILL", "ID", a_id]), ":1\r\n");
    assert!(a.is_closed(), "killed client's connection is closed");
    assert_eq!(b.cmd_text(&["CLIENT", "KILL", "ID", a_id]), ":0\r\n");
    // SKIPME yes (the default) spares the caller; SKIPME no does not.
    let b_id = b.cmd_text(&["CLIENT", "ID"]);
    let b_id = b_id.trim_start_matches(':').trim().to_string();
    assert_eq!(b.cmd_text(&["CLIENT", "KILL", "ID", &b_id]), ":0\r\n");
    assert_eq!(
        b.cmd_text(&["CLIENT", "KILL", "ID", &b_id, "SKIPME", "no"]),
        ":1\r\n"
    );
    assert!(b.is_closed());
}

/// A client killed by another (CLIENT KILL by ID or by TYPE) has its connection closed by the
/// time the killer's reply comes, as Redis frees it within the command: a replica whose master
/// killed it sees its link down before anyone asks (the replication suite's "Diskless load
/// swapdb" waits for the link to come back up right after CLIENT KILL TYPE REPLICA).
/// redis-lite closed it when the connection's thread next ran.
#[test]
fn a_killed_client_is_closed_before_the_killer_is_answered() {
    // The replica has its snapshot first: a forked child that is still saving holds Redis's
    // copy of the replica's socket open after the parent closed it.
    for (who, server) in Server::lite_and_redis(&["--repl-diskless-sync", "no"]) {
        let mut killer = server.raw();
        let mut victim = server.raw();
        let id = victim.cmd_text(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim();
        assert_eq!(killer.cmd_text(&["CLIENT", "KILL", "ID", id]), ":1\r\n");
        assert!(victim.is_already_closed(), "{who}: CLIENT KILL ID");

        let mut replica = server.raw();
        replica.send(&testkit::encode(&[b"SYNC"]));
        testkit::skip_sync_snapshot(&mut replica.stream);
        assert_eq!(
            killer.cmd_text(&["CLIENT", "KILL", "TYPE", "REPLICA"]),
            ":1\r\n",
            "{who}"
        );
        assert!(
            replica.is_already_closed(),
            "{who}: CLIENT KILL TYPE REPLICA"
        );
    }
}

#[test]
fn quit_closes_after_replying() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.send(&[testkit::encode(&[b"QUIT"]), testkit::encode(&[b"PING"])].concat());
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert!(raw.is_closed());
}

#[test]
fn password_set_at_runtime_applies_to_new_connections_only() {
    let server = Server::lite(&[]);
    let mut before = server.raw();
    assert_eq!(
        before.cmd_text(&["CONFIG", "SET", "requirepass", "s3cret"]),
        "+OK\r\n"
    );
    assert_eq!(before.cmd_text(&["PING"]), "+PONG\r\n");
    let mut after = server.raw();
    after.expect_replies(&[
        (&["PING"], "-NOAUTH Authentication required.\r\n"),
        (&["AUTH", "s3cret"], "+OK\r\n"),
        (&["PING"], "+PONG\r\n"),
    ]);
    let mut third = server.raw();
    assert_eq!(
        third
            .cmd_text(&["HELLO", "3", "AUTH", "default", "s3cret"])
            .as_bytes()[0],
        b'%'
    );
    assert_eq!(
        before.cmd_text(&["CONFIG", "SET", "requirepass", ""]),
        "+OK\r\n"
    );
    let mut open = server.raw();
    assert_eq!(open.cmd_text(&["PING"]), "+PONG\r\n");
}

/// CLIENT SETINFO and CLIENT NO-TOUCH came in Redis 7.2: Redis 7.0 does not know them, and
/// says so before it checks authentication. Client libraries (redis-py 5) send SETINFO on every
/// connect and ignore that error; a NOAUTH there instead made them drop a fresh connection to
/// a password-protected server before their own AUTH could be sent.
#[test]
fn redis_7_2_client_subcommands_are_unknown_as_in_redis_7_0() {
    let script: &[&[&str]] = &[
        &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
        &["CLIENT", "setinfo", "lib-ver", "5.0"],
        &["CLIENT", "NO-TOUCH", "on"],
        &["CONFIG", "SET", "requirepass", "s3cret"],
    ];
    if !differential(script, false) {
        println!("SKIPPED: redis-server is not on PATH (in redis_7_2_client_subcommands_are_unknown_as_in_redis_7_0)");
        return;
    }
    let lite = Server::lite(&["--requirepass", "s3cret"]);
    let redis = Server::redis(&["--requirepass", "s3cret"]).expect("redis-server ran above");
    for server in [&redis, &lite] {
        let mut fresh = server.raw();
        fresh.expect_replies(&[
            (
                &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
                "-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n",
            ),
            (&["PING"], "-NOAUTH Authentication required.\r\n"),
            (&["AUTH", "s3cret"], "+OK\r\n"),
        ]);
    }
}

#[test]
fn redis_crate_works_over_resp2_and_resp3() {
    let server = Server::lite(&[]);
    for mut con in [server.client(), server.client3()] {
        let _: () = redis::cmd("SET")
            .arg("bin")
            .arg(b"\x00\r\n\xff")
            .query(&mut con)
            .unwrap();
        let v: Vec<u8> = redis::cmd("GET").arg("bin").query(&mut con).unwrap();
        assert_eq!(v, b"\x00\r\n\xff");
        let missing: Option<String> = redis::cmd("GET").arg("missing").query(&mut con).unwrap();
        assert_eq!(missing, None);
        let err = redis::cmd("SELECT")
            .arg(99)
            .query::<()>(&mut con)
            .unwrap_err();
        assert!(
            err.to_string().contains("DB index is out of range"),
            "{err}"
        );
    }
}

/// redis-py (when installed, as CI does) connects with protocol 2 and 3 and runs commands.
#[test]
fn redis_py_connects_with_both_protocols() {
    if !crate::client_scripts::redis_py_installed() {
        return;
    }
    let server = Server::lite(&[]);
    let script = format!(
        "import redis\n\
         for proto in (2, 3):\n\
         \x20   r = redis.Redis(port={}, protocol=proto, client_name='py', lib_name='redis-py')\n\
         \x20   assert r.ping()\n\
         \x20   r.set('k', 'v')\n\
         \x20   assert r.get('k') == b'v', r.get('k')\n\
         \x20   assert r.client_getname() in ('py', b'py')\n\
         \x20   assert r.info()['redis_version'] == '7.0.15'\n\
         \x20   assert r.config_get('maxclients')['maxclients'] == '10000'\n\
         print('ok')\n",
        server.port
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// HELLO's map is Redis 7.0's seven fields, byte for byte but for the connection's id.
#[test]
fn hello_answers_redis_fields_exactly() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in hello_answers_redis_fields_exactly)");
        return;
    };
    let lite = Server::lite(&[]);
    let hello = |server: &Server, protocol: &str| {
        let reply = server.raw().cmd_text(&["HELLO", protocol]);
        let id_start = reply.find("id\r\n:").expect("an id field") + 5;
        let id_end = id_start + reply[id_start..].find("\r\n").unwrap();
        format!("{}<id>{}", &reply[..id_start], &reply[id_end..])
    };
    for protocol in ["2", "3"] {
        assert_eq!(hello(&lite, protocol), hello(&redis, protocol));
    }
}

#[test]
fn argument_validation_matches_redis() {
    differential(
        testkit::script!("connection/argument_validation_matches_redis"),
        false,
    );
}

/// Errors quote the client's bytes as Redis copies them (cut at a NUL, 128 bytes at most),
/// not their UTF-8 repair.
#[test]
fn errors_quote_the_clients_raw_bytes() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in errors_quote_the_clients_raw_bytes)");
        return;
    };
    let lite = Server::lite(&[]);
    let long = [b'\xe9'; 200];
    let commands: &[&[&[u8]]] = &[
        &[b"N\xffO\xfe", b"a\xc3", b"b\x00c"],
        &[b"\xe9t\xe9", &long, b"x"],
        &[b"x", b"\xe2\x82", &long],
        &[b"CONFIG", b"G\xe9T"],
        &[b"CLIENT", b"\xff\x00\xff"],
        &[b"OBJECT", &long],
    ];
    let replies = |server: &Server| {
        let mut raw = server.raw();
        commands
            .iter()
            .map(|command| {
                raw.send(&testkit::encode(command));
                raw.read_reply()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(replies(&lite), replies(&redis));
}

/// Found by the differential fuzzer: SWAPDB reads both indexes before it checks either's range,
/// so a bad second index is reported even when the first is out of range.
#[test]
fn swapdb_reads_both_indexes_before_checking_their_range() {
    differential(
        &[
            &["SWAPDB", "16", "abc"],
            &["SWAPDB", "abc", "16"],
            &["SWAPDB", "0", "16"],
            &["SWAPDB", "16", "0"],
            &["SWAPDB", "-1", "99999999999"],
        ],
        false,
    );
}
