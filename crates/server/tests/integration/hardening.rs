//! Hardening against hostile or unlucky conditions: client-chosen sizes that cannot be served,
//! running out of file descriptors, secrets on the command line. Regression tests for issue 11.
use redis_lite_testkit as testkit;

use testkit::Server;

/// Regression: `HRANDFIELD h -4611686018427387904` (and the other random-pick commands with a
/// huge negative count) grew the reply until an allocation failed and the process aborted.
/// Redis 7.0.15 dies the same way; redis-lite refuses the reply and stays up. The counts Redis
/// does refuse keep its exact texts (taken from Redis 7.0.15).
#[test]
fn huge_random_pick_counts_are_refused_not_fatal() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    raw.cmd(&["SADD", "s", "a", "b"]);
    raw.cmd(&["ZADD", "z", "1", "a", "2", "b"]);
    let out_of_range = "-ERR value is out of range\r\n";
    let long_range = "-ERR value is out of range, value must between -9223372036854775807 and \
                      9223372036854775807\r\n";
    let exact: &[(&[&str], &str)] = &[
        (
            &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
            out_of_range,
        ),
        (
            &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
            out_of_range,
        ),
        (
            &["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"],
            out_of_range,
        ),
        (&["HRANDFIELD", "h", "-9223372036854775808"], long_range),
        (&["SRANDMEMBER", "s", "-9223372036854775808"], long_range),
        (&["ZRANDMEMBER", "z", "-9223372036854775808"], long_range),
        // A missing key has nothing to repeat.
        (&["SRANDMEMBER", "nokey", "-9223372036854775807"], "*0\r\n"),
        (
            &["HRANDFIELD", "nokey", "-4611686018427387903", "WITHVALUES"],
            "*0\r\n",
        ),
    ];
    for (cmd, reply) in exact {
        assert_eq!(raw.cmd_text(cmd), *reply, "{cmd:?}");
    }
    let too_large: &[&[&str]] =
        testkit::script!("hardening/huge_random_pick_counts_are_refused_not_fatal");
    for cmd in too_large {
        let reply = raw.cmd_text(cmd);
        assert!(
            reply.starts_with("-ERR count is too large"),
            "{cmd:?}: {reply:?}"
        );
        assert_eq!(raw.cmd_text(&["PING"]), "+PONG\r\n", "after {cmd:?}");
    }
    // Ordinary negative counts still repeat picks.
    assert!(raw
        .cmd_text(&["SRANDMEMBER", "s", "-5"])
        .starts_with("*5\r\n"));
    assert!(raw
        .cmd_text(&["HRANDFIELD", "h", "-3", "WITHVALUES"])
        .starts_with("*6\r\n"));
}

/// Regression: under `ulimit -n 1024` with the default `maxclients` of 10000, connections past
/// the descriptor limit waited unanswered in the backlog while every failed accept wrote a log
/// line (925 KB in 105 s). As Redis does, the server now lowers `maxclients` to the limit less
/// 32 reserved descriptors (logging Redis's three lines once), refuses the excess clients with
/// the usual error, and CONFIG SET refuses a `maxclients` the limit cannot serve with Redis
/// 7.0's text (both checked on redis-server 7.0.15 under `ulimit -n`).
#[test]
fn low_fd_limit_lowers_maxclients_and_refuses_the_excess() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    let dir = testkit::DataDir::new("fdlimit");
    let log = dir.0.join("server.log");
    let server = testkit::Launch::lite()
        .fd_limit(128)
        .dir(&dir.0)
        .args(&["--logfile", log.to_str().unwrap()])
        .start();
    let mut raw = server.raw();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    if limits.contains("10032") {
        testkit::skipped("privileged: the server could raise its descriptor limit");
        return;
    }
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "maxclients"]),
        "*2\r\n$10\r\nmaxclients\r\n$2\r\n96\r\n"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    for line in [
        "# You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
        "# Server can't set maximum open files to 10032 because of OS error: Operation not permitted.",
        "# Current maximum open files is 128. maxclients has been reduced to 96 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
    ] {
        assert_eq!(text.matches(line).count(), 1, "{line:?} once in:\n{text}");
    }

    // 96 clients fit (the harness's start-up probe has gone, `raw` is one); the rest are
    // refused at once rather than left waiting.
    let started = Instant::now();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..140 {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.write_all(b"PING\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).expect("a reply, not a hang");
        match &buf[..n] {
            b"+PONG\r\n" => held.push(stream),
            b"-ERR max number of clients reached\r\n" => refused += 1,
            other => panic!("unexpected reply {:?}", String::from_utf8_lossy(other)),
        }
    }
    // The harness's start-up probe may not be unregistered yet.
    assert!(
        (94..=95).contains(&held.len()),
        "{} admitted: maxclients less the control connection",
        held.len()
    );
    assert_eq!(held.len() + refused, 140);
    assert!(started.elapsed() < Duration::from_secs(20));
    raw.expect_replies(&[
        (&["PING"], "+PONG\r\n"),
        (
            &["CONFIG", "SET", "maxclients", "200"],
            "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating \
         system is not able to handle the specified number of clients, try with 96\r\n",
        ),
        (&["CONFIG", "SET", "maxclients", "50"], "+OK\r\n"),
        (
            &["CONFIG", "SET", "maxclients", "97"],
            "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating \
         system is not able to handle the specified number of clients, try with 96\r\n",
        ),
        (
            &["CONFIG", "GET", "maxclients"],
            "*2\r\n$10\r\nmaxclients\r\n$2\r\n50\r\n",
        ),
    ]);
    drop(held);
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size < 4096, "the log grew to {size} bytes");
}

/// Regression: a password given as `--requirepass` was readable by any user in `ps` and
/// `/proc/PID/cmdline`. As Redis does (`redis-server *:6379` for Redis 7.0.15 with its default
/// bind), the process title becomes `<argv[0]> <listen-addr>`.
#[test]
#[cfg(target_os = "linux")]
fn requirepass_is_not_visible_in_the_process_title() {
    let server = Server::lite(&["--requirepass", "secret123"]);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    let text = String::from_utf8_lossy(&cmdline);
    assert!(!text.contains("secret123"), "{text:?}");
    let title = text.trim_end_matches('\0');
    assert_eq!(
        title,
        format!(
            "{} 127.0.0.1:{}",
            server.executable().display(),
            server.port
        ),
        "{text:?}"
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd_text(&["AUTH", "secret123"]), "+OK\r\n");
}
