//! CLIENT PAUSE and CLIENT UNPAUSE, run the same way against real Redis and redis-lite: held
//! commands wait (their replies come after UNPAUSE, in order), WRITE holds writes, PUBLISH,
//! PFCOUNT, scripts that may write and queued writes while reads go on, ALL holds everything
//! but replicas and monitors, a later shorter or weaker pause changes nothing, expired keys stay
//! (hidden) while paused, nothing is evicted, and a paused replica holds its master's stream. No timing: each
//! check waits for a state, or for a reply that only UNPAUSE can release.

use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::{encode, info_field, skipped, wait_until, Launch, Program, Raw, Replicated, Server};

const TIMEOUT: Duration = Duration::from_secs(30);

fn start(program: Program) -> Server {
    Launch::of(program)
        .args(&[
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
        ])
        .start()
}

/// Both programs, when real Redis is installed (the test says it is skipped otherwise).
fn programs(test: &str) -> Vec<Program> {
    match Program::Redis.available() {
        true => vec![Program::Redis, Program::Lite],
        false => {
            skipped(&format!("redis-server is not on PATH (in {test})"));
            vec![Program::Lite]
        }
    }
}

fn reply(raw: &mut Raw) -> String {
    String::from_utf8(raw.read_reply()).unwrap()
}

/// Sends a command without reading its reply.
fn send(raw: &mut Raw, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&encode(&args));
}

/// Waits until `count` clients are blocked (held commands count, as in Redis).
fn wait_blocked(raw: &mut Raw, count: usize) {
    wait_until(&format!("{count} held clients"), TIMEOUT, || {
        info_field(raw, "clients", "blocked_clients") == count.to_string()
    });
}

/// [`wait_blocked`] from a MONITOR client, which also sees its own INFO after the reply.
fn wait_blocked_monitoring(monitor: &mut Raw, count: usize) {
    wait_until(&format!("{count} held clients"), TIMEOUT, || {
        let info = monitor.cmd_text(&["INFO", "clients"]);
        assert!(reply(monitor).contains("\"INFO\" \"clients\""));
        info.contains(&format!("blocked_clients:{count}\r\n"))
    });
}

#[test]
fn errors_match_redis() {
    testkit::differential(
        &[
            &["CLIENT", "PAUSE", "abc"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "1.5"],
            &["CLIENT", "PAUSE", "10", "FOO"],
            &["CLIENT", "PAUSE", "10", "WRITE", "x"],
            &["CLIENT", "PAUSE"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "PAUSE", "0", "write"],
            &["CLIENT", "PAUSE", "0"],
            &["CLIENT", "UNPAUSE"],
            &["SET", "k", "v"],
            &["EVAL", "return redis.call('client', 'pause', '10')", "0"],
            &["COMMAND", "INFO", "CLIENT|PAUSE", "CLIENT|UNPAUSE"],
        ],
        false,
    );
}

#[test]
fn write_pause_holds_what_may_write_until_unpause() {
    for program in programs("write_pause_holds_what_may_write_until_unpause") {
        let server = start(program);
        let mut admin = server.raw();
        admin.cmd(&["SET", "k", "v"]);
        admin.cmd(&["SET", "short", "1", "PX", "1"]);
        assert_eq!(
            admin.cmd_text(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            "+OK\r\n"
        );
        let mut held = Vec::new();
        for command in [
            &["SET", "a", "1"][..],
            &["PUBLISH", "ch", "m"],
            &["PFCOUNT", "h"],
            &["EVAL", "return redis.call('set', 'b', '1')", "0"],
        ] {
            let mut raw = server.raw();
            send(&mut raw, command);
            held.push(raw);
        }
        let mut queued = server.raw();
        assert_eq!(queued.cmd_text(&["MULTI"]), "+OK\r\n");
        assert_eq!(queued.cmd_text(&["GET", "k"]), "+QUEUED\r\n");
        send(&mut queued, &["SET", "c", "1"]);
        // The pausing client is held like any other.
        send(&mut admin, &["SET", "d", "1"]);
        let mut reader = server.raw();
        wait_blocked(&mut reader, 6);
        reader.expect_replies(&[
            (&["GET", "k"], "$1\r\nv\r\n"),
            (&["EXISTS", "a", "b", "c", "d"], ":0\r\n"),
            (
                &[
                    "EVAL",
                    "#!lua flags=no-writes\nreturn redis.call('get', 'k')",
                    "0",
                ],
                "$1\r\nv\r\n",
            ),
            (
                &["EVAL_RO", "return redis.call('get', 'k')", "0"],
                "$1\r\nv\r\n",
            ),
        ]);
        // Once expired the key is hidden, but not deleted while paused.
        wait_until("the short key to expire", TIMEOUT, || {
            reader.cmd_text(&["GET", "short"]) == "$-1\r\n"
        });
        reader.expect_replies(&[
            (&["DBSIZE"], ":2\r\n"),
            // A later, shorter pause does not shorten this one.
            (&["CLIENT", "PAUSE", "1", "WRITE"], "+OK\r\n"),
        ]);
        wait_blocked(&mut reader, 6);
        assert_eq!(reader.cmd_text(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        let replies: Vec<String> = held.iter_mut().map(reply).collect();
        assert_eq!(
            replies,
            ["+OK\r\n", ":0\r\n", ":0\r\n", "+OK\r\n"],
            "{program:?}"
        );
        assert_eq!(reply(&mut queued), "+QUEUED\r\n");
        assert_eq!(queued.cmd_text(&["EXEC"]), "*2\r\n$1\r\nv\r\n+OK\r\n");
        assert_eq!(reply(&mut admin), "+OK\r\n");
        reader.expect_replies(&[(&["EXISTS", "a", "b", "c", "d"], ":4\r\n")]);
        wait_until("the expired key to be deleted", TIMEOUT, || {
            reader.cmd_text(&["DBSIZE"]) == ":5\r\n"
        });
    }
}

/// A transaction that queued a script which may write is held by a WRITE pause at EXEC, as the
/// script alone would be; one whose scripts declare `no-writes` runs. Queuing a script neither
/// runs nor caches it (found by Redis's suite, "Test write scripts in mutli-exec are blocked by
/// pause RO"; redis-lite ran such EXECs at once).
#[test]
fn an_exec_of_queued_write_scripts_is_held_by_a_write_pause() {
    for program in programs("an_exec_of_queued_write_scripts_is_held_by_a_write_pause") {
        let server = start(program);
        let mut admin = server.raw();
        let mut transactions = Vec::new();
        for script in [
            "return 12",
            "#!lua\nreturn 13",
            "#!lua flags=no-writes\nreturn 14",
        ] {
            let mut raw = server.raw();
            raw.expect_replies(&[
                (&["MULTI"], "+OK\r\n"),
                (&["EVAL", script, "0"], "+QUEUED\r\n"),
            ]);
            transactions.push(raw);
        }
        // The SHA1 of "return 12".
        let sha = "bc1911793137c7c871ce1616c22ce4461d9186f7";
        admin.expect_replies(&[
            (&["SCRIPT", "EXISTS", sha], "*1\r\n:0\r\n"),
            (&["CLIENT", "PAUSE", "100000", "WRITE"], "+OK\r\n"),
        ]);
        for raw in &mut transactions {
            send(raw, &["EXEC"]);
        }
        assert_eq!(reply(&mut transactions[2]), "*1\r\n:14\r\n", "{program:?}");
        wait_blocked(&mut admin, 2);
        assert_eq!(admin.cmd_text(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert_eq!(reply(&mut transactions[0]), "*1\r\n:12\r\n");
        assert_eq!(reply(&mut transactions[1]), "*1\r\n:13\r\n");
    }
}

#[test]
fn all_pause_holds_everyone_but_monitors_and_only_lengthens() {
    for program in programs("all_pause_holds_everyone_but_monitors_and_only_lengthens") {
        let server = start(program);
        let mut monitor = server.raw();
        assert_eq!(monitor.cmd_text(&["MONITOR"]), "+OK\r\n");
        let mut admin = server.raw();
        assert_eq!(
            admin.cmd_text(&["CLIENT", "PAUSE", "100000", "ALL"]),
            "+OK\r\n"
        );
        send(&mut admin, &["PING"]);
        let mut other = server.raw();
        send(&mut other, &["CLIENT", "UNPAUSE"]);
        // The monitor is not held: it can look, and pause again, weaker and shorter, which
        // leaves the stronger pause as it was.
        wait_blocked_monitoring(&mut monitor, 2);
        assert_eq!(
            monitor.cmd_text(&["CLIENT", "PAUSE", "1", "WRITE"]),
            "+OK\r\n"
        );
        wait_blocked_monitoring(&mut monitor, 2);
        assert_eq!(monitor.cmd_text(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert_eq!(reply(&mut admin), "+PONG\r\n");
        assert_eq!(reply(&mut other), "+OK\r\n");
        // Only now does the monitor see the held PING: when it ran (CLIENT is admin, unseen).
        assert!(reply(&mut monitor).ends_with("\"PING\"\r\n"));
    }
}

#[test]
fn a_paused_replica_holds_its_masters_stream() {
    for program in programs("a_paused_replica_holds_its_masters_stream") {
        let Some(set) = Replicated::of(program, &[program]) else {
            return;
        };
        let replica = &set.replicas[0];
        let mut paused = replica.raw();
        assert_eq!(
            paused.cmd_text(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            "+OK\r\n"
        );
        set.master.raw().cmd(&["SET", "from-master", "1"]);
        let mut reader = replica.raw();
        assert_eq!(reader.cmd_text(&["GET", "from-master"]), "$-1\r\n");
        // The held link does not stand in the way of another pause.
        assert_eq!(
            reader.cmd_text(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            "+OK\r\n"
        );
        assert_eq!(paused.cmd_text(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        wait_until("the master's write to apply", TIMEOUT, || {
            reader.cmd_text(&["GET", "from-master"]) == "$1\r\n1\r\n"
        });
    }
}

#[test]
fn eviction_waits_for_the_pause() {
    for program in programs("eviction_waits_for_the_pause") {
        let server = start(program);
        let mut raw = server.raw();
        raw.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        // A paused server keeps expired keys as a replica does; it must not evict even where a
        // replica would.
        raw.cmd(&["CONFIG", "SET", "replica-ignore-maxmemory", "no"]);
        raw.cmd(&["DEBUG", "POPULATE", "1000"]);
        assert_eq!(
            raw.cmd_text(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            "+OK\r\n"
        );
        // Far over the limit now, yet the commands that would evict first evict nothing.
        raw.expect_replies(&[
            (&["CONFIG", "SET", "maxmemory", "1"], "+OK\r\n"),
            (&["GET", "key:1"], "$7\r\nvalue:1\r\n"),
            (&["DBSIZE"], ":1000\r\n"),
            (&["CLIENT", "UNPAUSE"], "+OK\r\n"),
        ]);
        wait_until("eviction to resume", TIMEOUT, || {
            raw.cmd_text(&["DBSIZE"]) != ":1000\r\n"
        });
    }
}

#[test]
fn a_timed_pause_ends_by_itself() {
    for program in programs("a_timed_pause_ends_by_itself") {
        let server = start(program);
        let mut raw = server.raw();
        raw.expect_replies(&[
            (&["CLIENT", "PAUSE", "200", "ALL"], "+OK\r\n"),
            // Held until the pause's time is up, with nobody to lift it.
            (&["SET", "k", "v"], "+OK\r\n"),
            (&["CLIENT", "PAUSE", "200", "WRITE"], "+OK\r\n"),
            (&["GET", "k"], "$1\r\nv\r\n"),
            (&["DEL", "k"], ":1\r\n"),
        ]);
    }
}
