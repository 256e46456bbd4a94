//! SLOWLOG and LATENCY against real Redis 7.0: entries, redaction and truncation, EXEC and
//! script calls, the latency monitor's replies, graph and doctor report, per-command
//! histograms and INFO latencystats. Times, durations and client ports differ between the two
//! servers, so those replies are compared with them masked.

use std::time::Duration;

use redis_lite_testkit as testkit;

use testkit::{differential, encode, info_field, wait_until, DataDir, Raw, Reply, Server};

/// Runs `script` on a fresh real Redis and a fresh redis-lite started with `args`, and
/// compares each reply after `mask`. Returns false (skipped) without real Redis.
fn compare_masked(args: &[&str], script: &[&[&str]], mask: fn(&[&str], Vec<u8>) -> String) -> bool {
    let Some(redis) = Server::redis(args) else {
        return false;
    };
    let lite = Server::lite(&[&["--enable-debug-command", "yes"], args].concat());
    let (mut a, mut b) = (redis.raw(), lite.raw());
    for cmd in script {
        let expected = mask(cmd, a.cmd(cmd));
        let actual = mask(cmd, b.cmd(cmd));
        assert_eq!(
            expected, actual,
            "replies to {cmd:?} differ from real Redis"
        );
    }
    true
}

/// SLOWLOG GET with each entry's time and duration checked for shape and dropped, and a
/// connection's `127.0.0.1:<port>` shown as `client`; other replies as they are.
fn mask_slowlog(cmd: &[&str], reply: Vec<u8>) -> String {
    if cmd[0].eq_ignore_ascii_case("HELLO") {
        // Client ids differ.
        return mask_digits(cmd, reply);
    }
    if !(cmd[0].eq_ignore_ascii_case("SLOWLOG") && cmd[1].eq_ignore_ascii_case("GET")) {
        return String::from_utf8_lossy(&reply).into_owned();
    }
    let Reply::Array(entries) = Reply::parse(&reply) else {
        return String::from_utf8_lossy(&reply).into_owned();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let mut masked = String::new();
    for entry in entries {
        let Reply::Array(fields) = entry else {
            panic!("an entry is an array");
        };
        let mut fields = fields.into_iter();
        let mut next = || fields.next().expect("six fields");
        let id = next().int();
        let time = next().int();
        assert!(
            (now - 10..=now + 1).contains(&time),
            "entry time {time}, now {now}"
        );
        assert!(next().int() >= 0);
        let args: Vec<String> = next()
            .array()
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let addr = String::from_utf8_lossy(&next().bytes()).into_owned();
        let addr = match addr.strip_prefix("127.0.0.1:") {
            Some(_) => "client".to_string(),
            None => addr,
        };
        let name = String::from_utf8_lossy(&next().bytes()).into_owned();
        masked.push_str(&format!("{id} {args:?} {addr} {name:?}\n"));
    }
    masked
}

/// Every run of digits as `N`: latencies, times and ages differ from run to run.
fn mask_digits(_: &[&str], reply: Vec<u8>) -> String {
    let mut masked = String::new();
    let mut in_number = false;
    for c in String::from_utf8_lossy(&reply).chars() {
        match (c.is_ascii_digit(), in_number) {
            (true, true) => {}
            (true, false) => masked.push('N'),
            (false, _) => masked.push(c),
        }
        in_number = c.is_ascii_digit();
    }
    masked
}

#[test]
fn slowlog_entries_match_redis() {
    let long = "x".repeat(200);
    let numbers: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let mut rpush = vec!["RPUSH", "list"];
    rpush.extend(numbers.iter().map(String::as_str));
    compare_masked(
        &["--slowlog-log-slower-than", "0"],
        &[
            &["SLOWLOG", "RESET"],
            &["CLIENT", "SETNAME", "observer"],
            &["SET", "k", &long],
            &rpush,
            &["AUTH", "someone", "secret"],
            &["HELLO", "2", "AUTH", "default", "", "SETNAME", "renamed"],
            &[
                "CONFIG",
                "SET",
                "masterauth",
                "pw",
                "maxmemory-samples",
                "5",
            ],
            &["MULTI"],
            &["SET", "a", "1"],
            &["INCR", "a"],
            &["EXEC"],
            &[
                "EVAL",
                "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])",
                "1",
                "b",
            ],
            &[
                "MIGRATE",
                "127.0.0.1",
                "1",
                "",
                "0",
                "10",
                "AUTH2",
                "u",
                "p",
                "KEYS",
                "nokey",
            ],
            &["SLOWLOG", "LEN"],
            &["SLOWLOG", "GET"],
            &["SLOWLOG", "GET", "-1"],
            &["SLOWLOG", "GET", "2"],
            &["SLOWLOG", "GET", "0"],
        ],
        mask_slowlog,
    );
}

/// Redis hides ACL SETUSER's user and rules before parsing them, so a refused one (a name
/// with spaces, an unknown command) is logged redacted too (suite: slowlog.tcl, "Certain
/// commands are omitted that contain sensitive information").
#[test]
fn acl_setuser_is_redacted_in_the_slow_log_even_when_refused() {
    compare_masked(
        &["--slowlog-log-slower-than", "0"],
        &[
            &["SLOWLOG", "RESET"],
            &["ACL", "SETUSER", "slowlog test user", "+get", "+set"],
            &["ACL", "SETUSER", "someone", "+get", "+nosuchcommand"],
            &["ACL", "SETUSER", "someone", "on", ">secret", "+get"],
            &["ACL", "SETUSER", "other"],
            &["SLOWLOG", "GET"],
        ],
        mask_slowlog,
    );
}

#[test]
fn slowlog_length_ids_and_threshold_match_redis() {
    compare_masked(
        &[],
        &[
            // The default threshold (10 ms) logs nothing of these.
            &["SET", "a", "1"],
            &["SLOWLOG", "LEN"],
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
            &["CONFIG", "SET", "slowlog-max-len", "2"],
            &["SET", "b", "2"],
            &["GET", "b"],
            &["SLOWLOG", "GET", "-1"],
            // Lowering the maximum trims at the next entry, not at once.
            &["CONFIG", "SET", "slowlog-max-len", "1"],
            &["SLOWLOG", "LEN"],
            &["SLOWLOG", "GET"],
            // Ids go on after a reset.
            &["SLOWLOG", "RESET"],
            &["PING"],
            &["SLOWLOG", "GET"],
            &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
            &["SLOWLOG", "RESET"],
            &["PING"],
            &["SLOWLOG", "LEN"],
            &["CONFIG", "SET", "slowlog-max-len", "0"],
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
            &["PING"],
            &["SLOWLOG", "LEN"],
            &["CONFIG", "GET", "slowlog-max-len"],
        ],
        mask_slowlog,
    );
}

#[test]
fn slowlog_and_latency_errors_and_help_match_redis() {
    let script: &[&[&str]] = &[
        &["SLOWLOG", "HELP"],
        &["SLOWLOG", "GET", "x"],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "GET", "99999999999999999999"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "LEN", "1"],
        &["SLOWLOG", "NOPE"],
        &["SLOWLOG"],
        &["LATENCY", "HELP"],
        &["LATENCY", "NOPE"],
        &["LATENCY", "HISTORY"],
        &["LATENCY", "HISTORY", "command"],
        &["LATENCY", "GRAPH", "command"],
        &["LATENCY", "LATEST"],
        &["LATENCY", "RESET"],
        &["LATENCY", "RESET", "command", "nope"],
        &["LATENCY", "DOCTOR"],
        &["CONFIG", "SET", "latency-monitor-threshold", "100"],
        &["LATENCY", "DOCTOR"],
        &[
            "LATENCY",
            "HISTOGRAM",
            "nosuch",
            "get|x",
            "config|nosuch",
            "a|b|c",
        ],
        &["CONFIG", "GET", "latency-tracking"],
        &["CONFIG", "GET", "latency-monitor-threshold"],
        &["CONFIG", "GET", "latency-tracking-info-percentiles"],
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "0 1.5 100 99.99999",
        ],
        &["CONFIG", "GET", "latency-tracking-info-percentiles"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "101"],
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "x"],
        &["CONFIG", "SET", "latency-tracking", "no"],
        &["INFO", "latencystats"],
        // Containers list their subcommands in hash order: each is asked for by name.
        &[
            "COMMAND",
            "INFO",
            "slowlog|get",
            "slowlog|len",
            "slowlog|reset",
            "slowlog|help",
        ],
        &[
            "COMMAND",
            "INFO",
            "latency|latest",
            "latency|history",
            "latency|graph",
        ],
        &[
            "COMMAND",
            "INFO",
            "latency|doctor",
            "latency|reset",
            "latency|histogram",
        ],
        &["COMMAND", "INFO", "latency|help"],
        &[
            "COMMAND",
            "DOCS",
            "latency|graph",
            "latency|histogram",
            "slowlog|len",
        ],
    ];
    differential(script, false);
    differential(script, true);
}

#[test]
fn latency_events_match_redis() {
    let script: &[&[&str]] = &[
        &["DEBUG", "SLEEP", "0.05"],
        &["LATENCY", "LATEST"],
        &["LATENCY", "HISTORY", "command"],
        &["LATENCY", "GRAPH", "command"],
        &["LATENCY", "DOCTOR"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        &["LATENCY", "DOCTOR"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "1000"],
        &["LATENCY", "DOCTOR"],
        &["LATENCY", "RESET", "command", "command"],
        &["LATENCY", "LATEST"],
        &["DEBUG", "SLEEP", "0.05"],
        &["LATENCY", "RESET"],
        &["LATENCY", "DOCTOR"],
    ];
    compare_masked(&["--latency-monitor-threshold", "20"], script, mask_digits);
    let resp3: Vec<&[&str]> = [&["HELLO", "3"][..]]
        .into_iter()
        .chain(script.iter().copied())
        .collect();
    compare_masked(&["--latency-monitor-threshold", "20"], &resp3, mask_digits);
}

/// The replies' shapes, names and call counts as Redis's; a container names its subcommands'
/// histograms (one here: Redis lists several in hash order).
#[test]
fn latency_histograms_match_redis() {
    let script: &[&[&str]] = &[
        &["DEBUG", "SLEEP", "0.035"],
        &["LATENCY", "HISTOGRAM", "debug", "DEBUG"],
        &["CONFIG", "RESETSTAT"],
        &["LATENCY", "HISTOGRAM", "debug"],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "SET", "latency-tracking", "no"],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "SET", "latency-tracking", "yes"],
        &["SLOWLOG", "LEN"],
        &["LATENCY", "HISTOGRAM", "slowlog"],
        &["LATENCY", "HISTOGRAM", "config|get", "CONFIG|GET"],
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 99.9",
        ],
        &["INFO", "latencystats"],
    ];
    compare_masked(&[], script, mask_histogram);
    let resp3: Vec<&[&str]> = [&["HELLO", "3"][..]]
        .into_iter()
        .chain(script.iter().copied())
        .collect();
    compare_masked(&[], &resp3, mask_histogram);
    // A 35 ms sleep's bucket is one of Redis's bounds past 33816 µs.
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = lite.raw();
    raw.cmd(&["DEBUG", "SLEEP", "0.035"]);
    let reply = String::from_utf8_lossy(&raw.cmd(&["LATENCY", "HISTOGRAM", "debug"])).into_owned();
    let bounds = ["67633", "135266", "270532", "541065"];
    assert!(
        bounds
            .iter()
            .any(|b| reply.contains(&format!(":{b}\r\n:1\r\n"))),
        "{reply}"
    );
}

/// Bucket bounds, counts and percentiles depend on the machine's speed and load (a loaded
/// machine oversleeps by tens of milliseconds): masked here; the unit tests of
/// `observability::histogram` pin them to Redis's figures.
fn mask_histogram(cmd: &[&str], reply: Vec<u8>) -> String {
    if cmd[0].eq_ignore_ascii_case("INFO") {
        // Lines are in each server's own command order.
        let mut lines: Vec<String> = String::from_utf8_lossy(&reply)
            .lines()
            .map(|l| mask_digits(cmd, l.into()))
            .collect();
        lines.sort();
        return lines.join("\n");
    }
    mask_digits(cmd, reply)
}

/// Latency events from the server's own work: a snapshot's longest shard hold (`fork`), the
/// active expiry cycle, AOF writes; each appears once it took at least the threshold.
#[test]
fn background_work_reports_latency_events() {
    let dir = DataDir::new("observability-events");
    let lite = Server::lite_in(
        std::path::Path::new(dir.path()),
        &[
            "--latency-monitor-threshold",
            "1",
            "--save",
            "",
            "--hz",
            "100",
        ],
    );
    let mut raw = lite.raw();
    // One large value: a snapshot copies a live value under its shard's lock.
    raw.cmd(&["SETRANGE", "big", "50000000", "x"]);
    let events =
        |raw: &mut Raw| String::from_utf8_lossy(&raw.cmd(&["LATENCY", "LATEST"])).into_owned();
    wait_until(
        "a snapshot reports its longest hold",
        Duration::from_secs(60),
        || {
            raw.cmd(&["SAVE"]);
            events(&mut raw).contains("fork")
        },
    );
    // Many keys expire within the same few milliseconds, so an expiry cycle runs to its
    // budget (2.5 ms at hz 100).
    raw.cmd(&["DEBUG", "POPULATE", "50000", "key", "10"]);
    for chunk in 0..5 {
        let script = format!(
            "for i = {}, {} do redis.call('pexpire', 'key:' .. i, 500) end",
            chunk * 10_000,
            chunk * 10_000 + 9_999
        );
        raw.cmd(&["EVAL", &script, "0"]);
    }
    wait_until(
        "the expiry cycle reports a long run",
        Duration::from_secs(60),
        || events(&mut raw).contains("expire-cycle"),
    );
    assert!(String::from_utf8_lossy(&raw.cmd(&["LATENCY", "DOCTOR"])).contains(". expire-cycle: "));
    let history = Reply::parse(&raw.cmd(&["LATENCY", "HISTORY", "expire-cycle"]));
    assert!(matches!(history, Reply::Array(samples) if !samples.is_empty()));
}

/// The slow log's entries for a blocked command come when it completes.
#[test]
fn a_blocked_command_is_logged_when_it_completes() {
    let lite = Server::lite(&["--slowlog-log-slower-than", "0"]);
    let (mut waiter, mut raw) = (lite.raw(), lite.raw());
    raw.cmd(&["SLOWLOG", "RESET"]);
    waiter.send(&encode(&[b"BLPOP", b"q", b"0"]));
    wait_until("the client blocks", Duration::from_secs(5), || {
        info_field(&mut raw, "clients", "blocked_clients") == "1"
    });
    let logged = |raw: &mut Raw| -> Vec<Vec<u8>> {
        match Reply::parse(&raw.cmd(&["SLOWLOG", "GET", "-1"])) {
            Reply::Array(entries) => entries
                .into_iter()
                .map(|e| match e {
                    Reply::Array(mut fields) => fields.swap_remove(3).array().concat(),
                    other => panic!("an entry is an array: {other:?}"),
                })
                .collect(),
            other => panic!("SLOWLOG GET answers an array: {other:?}"),
        }
    };
    assert!(!logged(&mut raw)
        .iter()
        .any(|args| args.starts_with(b"BLPOP")));
    raw.cmd(&["RPUSH", "q", "v"]);
    waiter.read_reply();
    assert!(logged(&mut raw).iter().any(|args| args == b"BLPOPq0"));
}

/// A 20 MB write goes through the AOF's write(2) and, under `appendfsync always`, its fsync,
/// each long enough to report; lowering `maxmemory` under a populated dataset makes the
/// eviction cycle run to its budget.
#[test]
fn aof_writes_and_eviction_report_latency_events() {
    let dir = DataDir::new("observability-aof");
    let lite = Server::lite_in(
        std::path::Path::new(dir.path()),
        &[
            "--latency-monitor-threshold",
            "1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let mut raw = lite.raw();
    let big = vec![b'v'; 20_000_000];
    raw.send(&encode(&[b"SET", b"big", &big]));
    raw.read_reply();
    let latest =
        |raw: &mut Raw| String::from_utf8_lossy(&raw.cmd(&["LATENCY", "LATEST"])).into_owned();
    let events = latest(&mut raw);
    assert!(events.contains("aof-write"), "{events}");
    assert!(events.contains("aof-fsync-always"), "{events}");
    raw.cmd(&["DEBUG", "POPULATE", "100000", "key", "100"]);
    raw.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    raw.cmd(&["CONFIG", "SET", "maxmemory", "1mb"]);
    wait_until(
        "an eviction cycle reports a long run",
        Duration::from_secs(60),
        || latest(&mut raw).contains("eviction-cycle"),
    );
}

/// Deleting a key that expired reports an `expire-del` latency event once it takes the
/// threshold, as Redis times each expired key's deletion (latency-monitor.tcl, "LATENCY of
/// expire events are correctly collected"); redis-lite had no such event.
#[test]
fn an_expired_keys_slow_deletion_reports_expire_del() {
    for (who, server) in Server::lite_and_redis(&[
        "--latency-monitor-threshold",
        "1",
        "--enable-debug-command",
        "yes",
    ]) {
        let mut raw = server.raw();
        raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        // 500,000 members: freeing them takes milliseconds even in an optimized build.
        for batch in 0..50 {
            let mut args = vec!["SADD".to_string(), "big".to_string()];
            args.extend((0..10_000).map(|i| (batch * 10_000 + i).to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            raw.cmd(&args);
        }
        raw.cmd(&["PEXPIRE", "big", "1"]);
        // The lookup that finds it expired deletes it.
        wait_until("the set's expiry", Duration::from_secs(30), || {
            raw.cmd_text(&["EXISTS", "big"]) == ":0\r\n"
        });
        let latest = String::from_utf8_lossy(&raw.cmd(&["LATENCY", "LATEST"])).into_owned();
        assert!(latest.contains("expire-del"), "{who}: {latest}");
    }
}

/// The lines of `log` after the first `skip`, joined.
fn log_after(log: &std::path::Path, skip: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().skip(skip).collect::<Vec<_>>().join("\n")
}

/// logging.tcl's "Server is able to generate a stack trace on selected systems": with
/// `watchdog-period` set, a command that holds its thread past the period leaves Redis's
/// `--- WATCHDOG TIMER EXPIRED ---` report with the stuck thread's stack in the log, once per
/// stretch; a period under two cron ticks is raised to that; 0 turns it off. redis-lite took
/// the parameter and did nothing with it.
#[test]
fn the_watchdog_reports_a_stuck_command_with_its_stack() {
    let dir = DataDir::new("watchdog");
    for program in [testkit::Program::Lite, testkit::Program::Redis] {
        if !program.available() {
            testkit::skipped("redis-server is not on PATH (the watchdog)");
            continue;
        }
        let log = dir.join(&format!("{program:?}.log"));
        let server = testkit::Launch::of(program)
            .args(&["--save", "", "--logfile", log.to_str().unwrap()])
            .args(&["--enable-debug-command", "yes", "--watchdog-period", "50"])
            .start();
        let mut raw = server.raw();
        assert_eq!(
            raw.cmd_text(&["CONFIG", "GET", "watchdog-period"]),
            "*2\r\n$15\r\nwatchdog-period\r\n$3\r\n200\r\n",
            "{program:?}"
        );
        assert_eq!(raw.cmd_text(&["DEBUG", "SLEEP", "1"]), "+OK\r\n");
        wait_until("the watchdog's report", Duration::from_secs(10), || {
            log_after(&log, 0).contains(":signal-handler (")
                && log_after(&log, 0).contains("--------")
        });
        let report = log_after(&log, 0);
        assert!(
            report.contains("--- WATCHDOG TIMER EXPIRED ---"),
            "{report}"
        );
        assert!(report.contains("------ STACK TRACE ------"), "{report}");
        if program == testkit::Program::Lite {
            assert!(report.contains("admin::debug"), "{report}");
        }
        assert_eq!(
            report.matches("WATCHDOG TIMER EXPIRED").count(),
            1,
            "{program:?}"
        );
        // A quick command between two stretches, then off: no more reports.
        assert_eq!(raw.cmd_text(&["CONFIG", "SET", "hz", "100"]), "+OK\r\n");
        assert_eq!(
            raw.cmd_text(&["CONFIG", "SET", "watchdog-period", "50"]),
            "+OK\r\n"
        );
        assert_eq!(
            raw.cmd_text(&["CONFIG", "GET", "watchdog-period"]),
            "*2\r\n$15\r\nwatchdog-period\r\n$2\r\n50\r\n",
            "{program:?}"
        );
        assert_eq!(
            raw.cmd_text(&["CONFIG", "SET", "watchdog-period", "0"]),
            "+OK\r\n"
        );
        assert_eq!(raw.cmd_text(&["DEBUG", "SLEEP", "0.5"]), "+OK\r\n");
        assert_eq!(raw.cmd_text(&["PING"]), "+PONG\r\n");
        let report = log_after(&log, 0);
        assert_eq!(
            report.matches("WATCHDOG TIMER EXPIRED").count(),
            1,
            "{program:?}"
        );
    }
}

/// replication.tcl's "replica can handle EINTR if use diskless load": the watchdog's signal
/// comes in while a replica reads its master's snapshot straight into memory (slowed by
/// `rdb-key-save-delay`); the read goes on, with no second sync and no reconnection.
#[test]
fn a_replica_loading_its_masters_snapshot_survives_the_watchdog() {
    let dir = DataDir::new("watchdog-eintr");
    for program in [testkit::Program::Lite, testkit::Program::Redis] {
        if !program.available() {
            testkit::skipped("redis-server is not on PATH (the watchdog during a load)");
            continue;
        }
        let log = dir.join(&format!("{program:?}-replica.log"));
        let replica = testkit::Launch::of(program)
            .args(&["--save", "", "--logfile", log.to_str().unwrap()])
            .start();
        let master = testkit::Launch::of(program)
            .args(&["--save", "", "--enable-debug-command", "yes"])
            .start();
        let mut m = master.raw();
        m.cmd(&["DEBUG", "POPULATE", "100", "master", "100000"]);
        for (name, value) in [
            ("rdbcompression", "no"),
            ("repl-diskless-sync", "yes"),
            ("repl-diskless-sync-delay", "0"),
            ("rdb-key-save-delay", "20000"),
        ] {
            assert_eq!(m.cmd_text(&["CONFIG", "SET", name, value]), "+OK\r\n");
        }
        let mut r = replica.raw();
        for (name, value) in [
            ("repl-diskless-load", "on-empty-db"),
            ("watchdog-period", "200"),
        ] {
            assert_eq!(r.cmd_text(&["CONFIG", "SET", name, value]), "+OK\r\n");
        }
        let port = master.port.to_string();
        assert_eq!(r.cmd_text(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
        wait_until("the load to start", Duration::from_secs(20), || {
            log_after(&log, 0).contains("Loading DB in memory")
        });
        let started = std::fs::read_to_string(&log).unwrap().lines().count();
        wait_until(
            "the watchdog during the load",
            Duration::from_secs(20),
            || log_after(&log, started).contains("WATCHDOG TIMER EXPIRED"),
        );
        assert!(
            !log_after(&log, 0).contains("Reconnecting to MASTER"),
            "{program:?}: {}",
            log_after(&log, 0)
        );
        assert_eq!(info_field(&mut m, "stats", "sync_full"), "1", "{program:?}");
        assert_eq!(
            info_field(&mut r, "persistence", "loading"),
            "1",
            "{program:?}"
        );
        // The load then completes as usual.
        assert_eq!(
            m.cmd_text(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
            "+OK\r\n"
        );
        wait_until(
            "the replica to load everything",
            Duration::from_secs(60),
            || {
                info_field(&mut r, "persistence", "loading") == "0"
                    && r.cmd_text(&["DBSIZE"]) == ":100\r\n"
            },
        );
        assert_eq!(info_field(&mut m, "stats", "sync_full"), "1", "{program:?}");
    }
}
