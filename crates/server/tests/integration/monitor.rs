//! MONITOR against real Redis: the same commands run on both servers, each watched by a RESP2
//! and a RESP3 monitor, and the lines compared once their timestamps and client addresses are
//! replaced by placeholders (the first client seen is `c1`, and so on). Covers what Redis 7.0
//! shows and hides: EXEC after its commands, a script's commands as `lua` after the EVAL, the
//! database after SELECT, no admin commands, no refused ones, redacted passwords, the unix
//! socket, blocking commands once, and what a monitor itself may run.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use redis_lite_testkit as testkit;
use testkit::{encode, skipped, DataDir, Program, Raw, Server};

const SCRIPT: &[&[&str]] = &[
    &["SET", "k", "v"],
    &["SET", "n", "123"],
    &["SET", "q", "a\"b\\c\nd\te\x01\x7f é"],
    &["MULTI"],
    &["SET", "a", "1"],
    &["INCR", "a"],
    &["CONFIG", "GET", "port"],
    &["EXEC"],
    &[
        "EVAL",
        "redis.call('select', '2'); return redis.call('set', 's', '1')",
        "0",
    ],
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call('config', 'get', 'port')", "0"],
    &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    &["FCALL", "nosuchfunction", "0"],
    &["SELECT", "3"],
    &["SET", "z", "1"],
    &["SELECT", "0"],
    &["CONFIG", "GET", "maxmemory"],
    &["CLIENT", "SETNAME", "worker"],
    &["CLIENT", "ID"],
    &["CLIENT", "LIST"],
    &["CLIENT", "NO-EVICT", "OFF"],
    &["SLOWLOG", "LEN"],
    &["AUTH", "secret"],
    &["AUTH", "someone", "secret"],
    &["AUTH", "a", "b", "c"],
    &["HELLO", "2", "AUTH", "default", "secret", "SETNAME", "w"],
    &["HELLO", "4", "AUTH", "default", "secret"],
    &[
        "MIGRATE",
        "127.0.0.1",
        "1",
        "k",
        "0",
        "100",
        "COPY",
        "AUTH",
        "pw",
    ],
    &["NOSUCHCOMMAND", "x"],
    &["GET"],
    &["PUBLISH", "ch", "m"],
    &["LPUSH", "list", "x"],
    &["BLPOP", "list", "0"],
    &["WATCH", "w"],
    &["MULTI"],
    &["EXEC"],
    &["EXEC"],
    &["MULTI"],
    &["MONITOR"],
    &["EXEC"],
    &["MULTI"],
    &["GET"],
    &["EXEC"],
    &["PING"],
];

/// What one server's monitors saw, normalized; and what a monitor got for its own commands.
struct Seen {
    resp2: Vec<String>,
    resp3: Vec<String>,
    own: Vec<String>,
}

fn watch(program: Program) -> Seen {
    let dir = DataDir::new("monitor");
    let socket = dir.join("monitor.sock");
    let socket_text = socket.to_str().unwrap();
    let server = testkit::Launch::of(program)
        .args(&[
            "--save",
            "",
            "--appendonly",
            "no",
            "--unixsocket",
            socket_text,
        ])
        .start();
    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    let mut resp2 = server.raw();
    assert_eq!(resp2.cmd_text(&["MONITOR"]), "+OK\r\n");
    assert_eq!(resp3.cmd_text(&["MONITOR"]), "+OK\r\n");
    let mut worker = server.raw();
    for command in SCRIPT {
        worker.cmd(command);
    }
    // A client blocked until another one pushes: its command shows once, when it first ran.
    let mut blocked = server.raw();
    blocked.send(&encode(&[b"BLPOP", b"later", b"0"]));
    testkit::wait_until(
        "the BLPOP to block",
        std::time::Duration::from_secs(10),
        || testkit::info_field(&mut worker, "clients", "blocked_clients") == "1",
    );
    worker.cmd(&["RPUSH", "later", "x"]);
    blocked.read_reply();
    let mut unix = UnixStream::connect(&socket).unwrap();
    unix.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    unix.read_exact(&mut pong).unwrap();
    worker.cmd(&["ECHO", "end"]);
    let lines = |raw: &mut Raw| {
        let mut lines = Vec::new();
        loop {
            let line = String::from_utf8(raw.read_reply()).unwrap();
            let done = line.ends_with("\"ECHO\" \"end\"\r\n");
            // How often the wait for the BLPOP polled is a matter of timing.
            if !line.ends_with("\"INFO\" \"clients\"\r\n") {
                lines.push(line);
            }
            if done {
                return normalize(&lines, socket_text);
            }
        }
    };
    let (resp2_lines, resp3_lines) = (lines(&mut resp2), lines(&mut resp3));
    // A monitor may not touch the keyspace, gets no reply to a second MONITOR, and sees its
    // own commands after their replies.
    let mut own = vec![
        resp2.cmd_text(&["GET", "k"]),
        resp2.cmd_text(&["SUBSCRIBE"]),
    ];
    resp2.send(&encode(&[b"MONITOR"]));
    resp2.send(&encode(&[b"ECHO", b"after"]));
    own.push(String::from_utf8(resp2.read_reply()).unwrap());
    own.push(String::from_utf8(resp2.read_reply()).unwrap());
    Seen {
        resp2: resp2_lines,
        resp3: resp3_lines,
        own: normalize(&own, socket_text),
    }
}

/// Replaces the timestamp, each client's address and the socket's path by placeholders.
fn normalize(lines: &[String], socket: &str) -> Vec<String> {
    let mut addresses: Vec<String> = Vec::new();
    lines
        .iter()
        .map(|line| {
            let Some(rest) = line.strip_prefix('+').and_then(|l| l.split_once(' ')) else {
                return line.clone();
            };
            let (stamp, rest) = rest;
            let (seconds, micros) = stamp.split_once('.').expect("a timestamp");
            assert!(
                seconds.len() >= 10 && micros.len() == 6,
                "timestamp in {line:?}"
            );
            let (source, args) = rest.split_once("] ").expect("a [db client] part");
            let (db, client) = source.trim_start_matches('[').split_once(' ').unwrap();
            let client = match client {
                "lua" => "lua".to_string(),
                unix if unix == format!("unix:{socket}") => "unix".to_string(),
                address => {
                    if !addresses.iter().any(|a| a == address) {
                        addresses.push(address.to_string());
                    }
                    let index = addresses.iter().position(|a| a == address).unwrap();
                    format!("c{}", index + 1)
                }
            };
            format!("+T [{db} {client}] {args}")
        })
        .collect()
}

#[test]
fn monitor_lines_match_redis() {
    if !Program::Redis.available() {
        skipped("redis-server is not on PATH (in monitor_lines_match_redis)");
        return;
    }
    let redis = watch(Program::Redis);
    let lite = watch(Program::Lite);
    assert_eq!(redis.resp2, redis.resp3, "Redis's monitors disagree");
    assert_eq!(lite.resp2, redis.resp2);
    assert_eq!(lite.resp3, redis.resp3);
    assert_eq!(lite.own, redis.own);
    // The normalized lines themselves are what the test is about: a few that matter, spelled
    // out.
    for expected in [
        "+T [0 c1] \"SET\" \"q\" \"a\\\"b\\\\c\\nd\\te\\x01\\x7f \\xc3\\xa9\"\r\n",
        "+T [2 lua] \"select\" \"2\"\r\n",
        "+T [3 c1] \"SELECT\" \"3\"\r\n",
        "+T [0 c1] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n",
        "+T [0 unix] \"PING\"\r\n",
    ] {
        assert!(
            lite.resp2.iter().any(|l| l == expected),
            "{expected:?} in {:#?}",
            lite.resp2
        );
    }
}

#[test]
fn monitor_in_a_transaction_is_refused_as_in_redis() {
    testkit::differential(
        &[
            &["MULTI"],
            &["MONITOR"],
            &["EXEC"],
            &["EVAL", "return redis.call('monitor')", "0"],
            &["COMMAND", "INFO", "MONITOR", "RESET"],
            &["COMMAND", "DOCS", "MONITOR"],
        ],
        false,
    );
}

#[test]
fn nobody_sees_commands_once_the_monitor_resets_or_leaves() {
    let server = Server::lite(&[]);
    let mut monitor = server.raw();
    let mut other = server.raw();
    assert_eq!(monitor.cmd_text(&["MONITOR"]), "+OK\r\n");
    other.cmd(&["SET", "seen", "1"]);
    assert!(monitor
        .cmd_text(&["RESET"])
        .contains("\"SET\" \"seen\" \"1\""));
    assert_eq!(
        String::from_utf8(monitor.read_reply()).unwrap(),
        "+RESET\r\n"
    );
    other.cmd(&["SET", "unseen", "1"]);
    // A RESET client is an ordinary one again: it reads keys, and saw nothing meanwhile.
    assert_eq!(monitor.cmd_text(&["GET", "seen"]), "$1\r\n1\r\n");
    let mut closing = server.raw();
    assert_eq!(closing.cmd_text(&["MONITOR"]), "+OK\r\n");
    drop(closing);
    testkit::wait_until(
        "the closed monitor to leave the client list",
        std::time::Duration::from_secs(10),
        || {
            other
                .cmd_text(&["CLIENT", "LIST"])
                .matches(" laddr=")
                .count()
                == 2
        },
    );
    assert_eq!(other.cmd_text(&["SET", "after", "1"]), "+OK\r\n");
}

#[test]
fn a_replica_shows_its_masters_commands_from_the_masters_address() {
    for program in [Program::Redis, Program::Lite] {
        let Some(set) = testkit::Replicated::of(program, &[program]) else {
            skipped("redis-server is not on PATH (in a_replica_shows_its_masters_commands_from_the_masters_address)");
            continue;
        };
        let mut monitor = set.replicas[0].raw();
        assert_eq!(monitor.cmd_text(&["MONITOR"]), "+OK\r\n");
        set.master.raw().cmd(&["SET", "replicated", "1"]);
        let line = loop {
            let line = String::from_utf8(monitor.read_reply()).unwrap();
            if line.contains("\"replicated\"") {
                break line;
            }
        };
        let source = format!(
            " [0 127.0.0.1:{}] \"SET\" \"replicated\" \"1\"\r\n",
            set.master.port
        );
        assert!(line.ends_with(&source), "{program:?}: {line:?}");
    }
}
