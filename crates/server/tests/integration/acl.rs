//! ACL against real Redis 7.0: users and rules (SETUSER, GETUSER's reply in RESP2 and RESP3,
//! LIST's rendering, every rule error), DRYRUN's verdicts.

use std::time::Duration;

use redis_lite_testkit as testkit;

use testkit::{DataDir, Launch, Program, Raw, Server};

#[test]
fn users_and_rules_match_redis() {
    let script = testkit::script!("acl/users_and_rules_match_redis");
    if !testkit::differential(script, false) {
        println!("SKIPPED: redis-server is not on PATH (in users_and_rules_match_redis)");
        return;
    }
    testkit::differential(script, true);
}

#[test]
fn defaults_follow_config_match_redis() {
    let script = testkit::script!("acl/defaults_follow_config_match_redis");
    let args = ["--requirepass", "pw", "--acl-pubsub-default", "allchannels"];
    if !testkit::differential_with(script, false, &args) {
        println!("SKIPPED: redis-server is not on PATH (in defaults_follow_config_match_redis)");
        return;
    }
    testkit::differential_with(script, true, &args);
}

#[test]
fn permissions_match_redis() {
    let script = testkit::script!("acl/permissions_match_redis");
    if !testkit::differential(script, false) {
        println!("SKIPPED: redis-server is not on PATH (in permissions_match_redis)");
        return;
    }
    testkit::differential(script, true);
}

/// Runs `steps` (a connection's index, a command) on real Redis and on redis-lite, comparing
/// the replies with ACL LOG's `age-seconds` and `client-info` values masked (times, ids and
/// ports differ). Returns false without real Redis.
fn compare_sessions(args: &[&str], connections: usize, steps: &[(usize, &[&str])]) -> bool {
    let Some(redis) = Server::redis(args) else {
        return false;
    };
    compare_on(&redis, &Server::lite(args), connections, steps);
    true
}

/// [`compare_sessions`] on servers already started.
fn compare_on(redis: &Server, lite: &Server, connections: usize, steps: &[(usize, &[&str])]) {
    let mut real: Vec<Raw> = (0..connections).map(|_| redis.raw()).collect();
    let mut ours: Vec<Raw> = (0..connections).map(|_| lite.raw()).collect();
    for (i, cmd) in steps {
        let (expected, actual) = (real[*i].cmd(cmd), ours[*i].cmd(cmd));
        if cmd[0] == "HELLO" {
            // Client ids differ; the protocol switch is what the later replies show.
            continue;
        }
        let (expected, actual) = (mask_log(&expected), mask_log(&actual));
        assert_eq!(
            expected, actual,
            "replies to {cmd:?} differ from real Redis"
        );
    }
}

/// The reply with the value after each `age-seconds` and `client-info` field replaced by `?`;
/// the client line must still name a user and the command.
fn mask_log(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    let tokens: Vec<&str> = text.split("\r\n").collect();
    let mut masked = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        masked.push(tokens[i].to_string());
        if tokens[i] == "age-seconds" || tokens[i] == "client-info" {
            let value = if tokens[i + 1].starts_with('$') {
                tokens[i + 2]
            } else {
                tokens[i + 1]
            };
            if tokens[i] == "client-info" {
                assert!(
                    value.contains(" user=") && value.contains(" cmd="),
                    "{value}"
                );
            }
            masked.push("?".into());
            i += if tokens[i + 1].starts_with('$') { 2 } else { 1 };
        }
        i += 1;
    }
    masked.join("\r\n")
}

#[test]
fn acl_log_and_exec_recheck_match_redis() {
    let steps: &[(usize, &[&str])] = &[
        (
            0,
            &["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"],
        ),
        (0, &["ACL", "LOG"]),
        (1, &["AUTH", "app", "pw"]),
        (1, &["MULTI"]),
        (1, &["SET", "app:1", "x"]),
        (1, &["GET", "app:2"]),
        (1, &["PUBLISH", "ch", "x"]),
        (
            0,
            &[
                "ACL",
                "SETUSER",
                "app",
                "-set",
                "resetkeys",
                "~app:2",
                "resetchannels",
            ],
        ),
        (1, &["EXEC"]),
        (1, &["GET", "app:1"]),
        (1, &["GET", "app:1"]),
        (1, &["SET", "app:2", "x"]),
        (1, &["EVAL", "return redis.call('get','x')", "0"]),
        (1, &["AUTH", "app", "bad"]),
        (1, &["AUTH", "nosuch", "bad"]),
        (1, &["MULTI"]),
        (1, &["GET", "other"]),
        (1, &["DISCARD"]),
        (0, &["ACL", "LOG"]),
        (0, &["ACL", "LOG", "2"]),
        (0, &["ACL", "LOG", "0"]),
        (0, &["ACL", "LOG", "-1"]),
        (0, &["ACL", "LOG", "x"]),
        (0, &["ACL", "LOG", "1", "2"]),
        (0, &["CONFIG", "SET", "acllog-max-len", "2"]),
        (1, &["GET", "a"]),
        (1, &["GET", "b"]),
        (1, &["GET", "c"]),
        (0, &["ACL", "LOG"]),
        (0, &["ACL", "LOG", "RESET"]),
        (0, &["ACL", "LOG"]),
        (0, &["HELLO", "3"]),
        (1, &["GET", "d"]),
        (0, &["ACL", "LOG"]),
    ];
    if !compare_sessions(&[], 2, steps) {
        println!("SKIPPED: redis-server is not on PATH (in acl_log_and_exec_recheck_match_redis)");
    }
}

/// When every selector refuses, ACL LOG names the refusal that got furthest: between two key
/// refusals, the later key (suite: acl-v2.tcl, "Test ACL log correctly identifies the relevant
/// item when selectors are used").
#[test]
fn acl_log_names_the_furthest_refusal_among_selectors() {
    let steps: &[(usize, &[&str])] = &[
        (0, &["ACL", "SETUSER", "sel", "on", "nopass"]),
        (
            0,
            &[
                "ACL",
                "SETUSER",
                "sel",
                "+mget",
                "~key",
                "(+mget",
                "~key",
                "~otherkey)",
            ],
        ),
        (1, &["AUTH", "sel", "x"]),
        (1, &["GET", "key"]),
        (1, &["MGET", "otherkey", "someotherkey"]),
        (1, &["MGET", "key", "otherkey", "someotherkey"]),
        (1, &["MGET", "someotherkey", "key"]),
        (0, &["ACL", "LOG"]),
        (
            0,
            &["ACL", "DRYRUN", "sel", "MGET", "otherkey", "someotherkey"],
        ),
    ];
    if !compare_sessions(&[], 2, steps) {
        println!(
            "SKIPPED: redis-server is not on PATH (in acl_log_names_the_furthest_refusal_among_selectors)"
        );
    }
}

#[test]
fn config_file_users_match_redis() {
    let args = [
        "--user", "alice", "on", ">pw", "~app:*", "(", "~x", "+get", ")", "+@read", "--user",
        "default", "on", ">dpw", "~*", "&*", "+@all",
    ];
    let steps: &[(usize, &[&str])] = &[
        (0, &["PING"]),
        (0, &["AUTH", "dpw"]),
        (0, &["ACL", "LIST"]),
        (1, &["AUTH", "alice", "pw"]),
        (1, &["GET", "x"]),
        (1, &["GET", "y"]),
        (1, &["ACL", "WHOAMI"]),
    ];
    if !compare_sessions(&args, 2, steps) {
        println!("SKIPPED: redis-server is not on PATH (in config_file_users_match_redis)");
    }
}

/// The reason a server refused to start with `args`, as the line of its output that has it.
fn refusal(program: Program, args: &[&str], reason: &str) -> bool {
    let (status, output) = Launch::of(program).args(args).run_until_exit();
    assert!(!status.success(), "{program:?} started with {args:?}");
    output.contains(reason)
}

#[test]
fn bad_user_declarations_are_refused_as_redis_refuses_them() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--user", "alice", "on", "bogus"],
            "Error in user declaration 'alice': Syntax error",
        ),
        (
            &["--user", "alice", "on", "(~x", "+get"],
            "Error in user declaration 'alice': Unknown command or category name in ACL",
        ),
        (
            &["--user", "alice", "on", "--user", "alice", "off"],
            "Duplicate user found. A user can only be defined once in config files",
        ),
        (
            &["--aclfile", "users.acl", "--user", "alice", "on"],
            "please define either an ACL file or declare users directly in your redis.conf, but not both",
        ),
    ];
    let real = Program::Redis.path().is_some();
    for (args, reason) in cases {
        assert!(refusal(Program::Lite, args, reason), "{args:?}: {reason}");
        if real {
            assert!(
                refusal(Program::Redis, args, reason),
                "real Redis, {args:?}: {reason}"
            );
        }
    }
    if !real {
        println!("SKIPPED: redis-server is not on PATH (in bad_user_declarations_are_refused_as_redis_refuses_them)");
    }
}

#[test]
fn acl_file_load_and_save_match_redis() {
    if Program::Redis.path().is_none() {
        println!("SKIPPED: redis-server is not on PATH (in acl_file_load_and_save_match_redis)");
        return;
    }
    let initial = "user default on nopass ~* &* +@all\nuser alice on >pw ~app:* +@read\n";
    let start = |program: Program, tag: &str| {
        let dir = DataDir::new(tag);
        std::fs::write(dir.join("users.acl"), initial).unwrap();
        let server = Launch::of(program)
            .dir(dir.0.as_path())
            .args(&["--aclfile", "users.acl"])
            .start();
        (server, dir)
    };
    let (redis, redis_dir) = start(Program::Redis, "acl-file-redis");
    let (lite, lite_dir) = start(Program::Lite, "acl-file-lite");
    let write_both = |text: &str| {
        std::fs::write(redis_dir.join("users.acl"), text).unwrap();
        std::fs::write(lite_dir.join("users.acl"), text).unwrap();
    };
    compare_on(
        &redis,
        &lite,
        2,
        &[
            (0, &["ACL", "LIST"]),
            (1, &["AUTH", "alice", "pw"]),
            (1, &["GET", "app:1"]),
            (
                0,
                &[
                    "ACL", "SETUSER", "bob", "on", ">x", "+@all", "~*", "(", "~y", "+get", ")",
                ],
            ),
            (0, &["ACL", "SAVE"]),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(redis_dir.join("users.acl")).unwrap(),
        std::fs::read_to_string(lite_dir.join("users.acl")).unwrap(),
        "ACL SAVE writes what Redis writes"
    );
    write_both("user alice on >pw ~app:* +@read\n\nbogus line\nuser alice off\nuser carol on +nosuch\nuser dave (~x\n");
    compare_on(
        &redis,
        &lite,
        2,
        &[(0, &["ACL", "LOAD"]), (0, &["ACL", "USERS"])],
    );
    let mut alice = lite.raw();
    assert_eq!(alice.cmd_text(&["AUTH", "alice", "pw"]), "+OK\r\n");
    write_both("user alice on >pw2 ~* +@all\n");
    compare_on(
        &redis,
        &lite,
        2,
        &[(0, &["ACL", "LOAD"]), (0, &["ACL", "LIST"])],
    );
    testkit::wait_until(
        "the replaced user's connection is closed",
        Duration::from_secs(5),
        || alice.is_closed(),
    );
    assert_eq!(lite.raw().cmd_text(&["AUTH", "alice", "pw2"]), "+OK\r\n");
    compare_on(
        &redis,
        &lite,
        1,
        &[
            (0, &["CONFIG", "SET", "aclfile", "other.acl"]),
            (0, &["CONFIG", "GET", "aclfile"]),
        ],
    );
}

/// Redis works in `dir`, so a relative `aclfile` is read and written there, not in the
/// directory the server was started from (Redis's own suite starts servers that way).
#[test]
fn a_relative_acl_file_is_in_dir() {
    if Program::Redis.path().is_none() {
        println!("SKIPPED: redis-server is not on PATH (in a_relative_acl_file_is_in_dir)");
        return;
    }
    let start = |program: Program, tag: &str| {
        let data = DataDir::new(tag);
        std::fs::write(data.join("users.acl"), "user alice on >pw ~* +@all\n").unwrap();
        let server = Launch::of(program)
            .args(&["--dir", data.path(), "--aclfile", "users.acl"])
            .start();
        (server, data)
    };
    let (redis, redis_data) = start(Program::Redis, "acl-in-dir-redis");
    let (lite, lite_data) = start(Program::Lite, "acl-in-dir-lite");
    compare_on(
        &redis,
        &lite,
        2,
        &[
            (0, &["ACL", "USERS"]),
            (1, &["AUTH", "alice", "pw"]),
            (0, &["ACL", "SETUSER", "bob", "on", ">x", "+get"]),
            (0, &["ACL", "SAVE"]),
            (0, &["ACL", "LOAD"]),
            (0, &["ACL", "USERS"]),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(redis_data.join("users.acl")).unwrap(),
        std::fs::read_to_string(lite_data.join("users.acl")).unwrap(),
        "ACL SAVE writes the file in dir"
    );
}

#[test]
fn acl_load_and_save_without_a_file_match_redis() {
    if !compare_sessions(&[], 1, &[(0, &["ACL", "LOAD"]), (0, &["ACL", "SAVE"])]) {
        println!("SKIPPED: redis-server is not on PATH (in acl_load_and_save_without_a_file_match_redis)");
    }
}

#[test]
fn clients_of_a_deleted_user_are_disconnected_and_client_kill_user() {
    let server = Server::lite(&[]);
    let mut admin = server.raw();
    admin.cmd(&["ACL", "SETUSER", "alice", "on", ">pw", "+@all", "~*"]);
    let mut alice = server.raw();
    assert_eq!(alice.cmd_text(&["AUTH", "alice", "pw"]), "+OK\r\n");
    let list = admin.cmd_text(&["CLIENT", "LIST"]);
    assert!(list.contains(" user=alice "), "{list}");
    assert_eq!(
        admin.cmd_text(&["CLIENT", "KILL", "USER", "nosuch"]),
        "-ERR No such user 'nosuch'\r\n"
    );
    assert_eq!(
        admin.cmd_text(&["CLIENT", "KILL", "USER", "alice"]),
        ":1\r\n"
    );
    let mut alice = server.raw();
    assert_eq!(alice.cmd_text(&["AUTH", "alice", "pw"]), "+OK\r\n");
    assert_eq!(admin.cmd_text(&["ACL", "DELUSER", "alice"]), ":1\r\n");
    testkit::wait_until(
        "the deleted user's connection is closed",
        Duration::from_secs(5),
        || alice.is_closed(),
    );
}

#[test]
fn subscribers_losing_their_channels_are_disconnected() {
    let server = Server::lite(&[]);
    let mut admin = server.raw();
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "ps",
        "on",
        "nopass",
        "+@all",
        "~*",
        "allchannels",
    ]);
    let subscribe = |channel: &str| {
        let mut raw = server.raw();
        raw.cmd(&["AUTH", "ps", "x"]);
        raw.cmd(&["SUBSCRIBE", channel]);
        raw
    };
    let mut kept = subscribe("b");
    let mut lost = subscribe("a");
    assert_eq!(
        admin.cmd_text(&["ACL", "SETUSER", "ps", "resetchannels", "&b"]),
        "+OK\r\n"
    );
    testkit::wait_until(
        "the subscriber to a is closed",
        Duration::from_secs(5),
        || lost.is_closed(),
    );
    assert_eq!(admin.cmd_text(&["PUBLISH", "b", "m"]), ":1\r\n");
    let pushed = kept.read_reply();
    assert!(
        String::from_utf8_lossy(&pushed).contains("message"),
        "{pushed:?}"
    );
}

/// Redis frees a client killed by another at once, so the killer's next command never lists
/// it (Redis's acl suite: "Subscribers are killed when revoked of channel permission").
/// redis-lite's killed client closes on its own event loop a moment later: with one loop and
/// the commands pipelined, CLIENT LIST ran before that, every time.
#[test]
fn a_killed_client_is_gone_from_client_list_at_once() {
    let lite = Server::lite(&["--threads", "1"]);
    let servers = [Some(lite), Server::redis(&[])];
    for server in servers.iter().flatten() {
        let mut admin = server.raw();
        admin.cmd(&["ACL", "SETUSER", "ps", "on", "nopass", "+@all", "&a"]);
        let mut subscriber = server.raw();
        subscriber.cmd(&["AUTH", "ps", "x"]);
        subscriber.cmd(&["CLIENT", "SETNAME", "revoked"]);
        subscriber.cmd(&["SUBSCRIBE", "a"]);
        let mut target = server.raw();
        target.cmd(&["CLIENT", "SETNAME", "killed"]);
        let target_id = target.cmd_text(&["CLIENT", "ID"]);
        let target_id = target_id.trim_start_matches(':').trim();
        admin.send(
            &[
                testkit::encode(&[b"ACL", b"SETUSER", b"ps", b"resetchannels"]),
                testkit::encode(&[b"CLIENT", b"KILL", b"ID", target_id.as_bytes()]),
                testkit::encode(&[b"CLIENT", b"LIST"]),
            ]
            .concat(),
        );
        assert_eq!(admin.read_reply(), b"+OK\r\n");
        assert_eq!(admin.read_reply(), b":1\r\n");
        let list = String::from_utf8_lossy(&admin.read_reply()).into_owned();
        assert!(
            !list.contains("name=revoked") && !list.contains("name=killed"),
            "{}: {list}",
            server.executable().display()
        );
    }
    if servers[1].is_none() {
        testkit::skipped("redis-server is not on PATH");
    }
}

#[test]
fn config_rewrite_writes_users_as_redis_does() {
    let user_lines = |program: Program, tag: &str| {
        let dir = DataDir::new(tag);
        let conf = dir.join("r.conf");
        std::fs::write(&conf, "save \"\"\nuser old on nopass +@all ~*\n").unwrap();
        let server = Launch::of(program)
            .dir(dir.0.as_path())
            .config(&conf)
            .start();
        let mut raw = server.raw();
        raw.cmd(&["ACL", "SETUSER", "bob", "on", ">x", "~k", "+get"]);
        raw.cmd(&["ACL", "DELUSER", "old"]);
        assert_eq!(raw.cmd_text(&["CONFIG", "REWRITE"]), "+OK\r\n");
        let text = std::fs::read_to_string(&conf).unwrap();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("user "))
            .map(String::from)
            .collect();
        drop(server);
        // The rewritten file starts the same users.
        let restarted = Launch::of(program)
            .dir(dir.0.as_path())
            .config(&conf)
            .start();
        assert_eq!(
            restarted.raw().cmd_text(&["AUTH", "bob", "x"]),
            "+OK\r\n",
            "{text}"
        );
        lines
    };
    let ours = user_lines(Program::Lite, "rewrite-users-lite");
    assert_eq!(ours.len(), 2, "{ours:?}");
    if Program::Redis.path().is_none() {
        println!(
            "SKIPPED: redis-server is not on PATH (in config_rewrite_writes_users_as_redis_does)"
        );
        return;
    }
    assert_eq!(user_lines(Program::Redis, "rewrite-users-redis"), ours);
}
