//! When clients see a load, on real Redis 7.0.15 and redis-lite alike. Redis loads on its only
//! thread and serves clients only every `loading-process-events-interval-bytes` (2 MB) of
//! input, every 1024 commands of an AOF and after each AOF file's preamble: a command sent
//! meanwhile waits, and is answered `-LOADING` at the next of those points, or runs once the
//! load is over. A load shorter than one interval is never seen as loading (node-redis's
//! cluster hook failed on a replica that answered `-LOADING` while loading an empty sync).
//! `key-load-delay` makes the loads slow enough to send commands during them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis_lite_persist::aof::encode_command;
use redis_lite_testkit::{
    encode, info_field, wait_background_jobs, wait_until, DataDir, Launch, Program, Raw, Server,
};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The pause between two GETs sent while a command runs on another connection.
const POLL_PACE: Duration = Duration::from_millis(10);

const LOADING: &str = "-LOADING Redis is loading the dataset in memory\r\n";

/// Keys `k0`.. of 96 incompressible bytes each, so that a snapshot of `count` keys is some
/// `count * 100` bytes (for loads of a known length).
pub(crate) fn fill(raw: &mut Raw, count: u64) {
    let mut pipeline = Vec::new();
    for i in 0..count {
        let value: String = (0..12u64)
            .map(|j| {
                format!(
                    "{:08x}",
                    (i * 12 + j).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
                )
            })
            .collect();
        pipeline.extend(encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            value.as_bytes(),
        ]));
    }
    raw.send(&pipeline);
    for _ in 0..count {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
    }
}

/// The servers a DEBUG RELOAD or LOADAOF runs on: redis-lite with one event loop (the loading
/// command's own, which serves the other client at the serving points) and with two (the
/// other client's loop serves it), and Redis.
const DEBUG_SERVERS: [(Program, &[&str]); 3] = [
    (Program::Lite, &["--threads", "1"]),
    (Program::Lite, &["--threads", "2"]),
    (Program::Redis, &[]),
];

/// `program` with DEBUG on and no persistence of its own.
fn launch(program: Program) -> Launch {
    Launch::of(program)
        .no_persistence()
        .args(&["--enable-debug-command", "yes"])
}

/// Sends `command` on one connection and `probe` on another until a reply is `-LOADING` (or
/// says `loading:1`) or `command` has returned. Returns the probe's replies. (redis-lite's two connections may share an event
/// loop, whose other clients DEBUG serves at the serving points, or not.)
fn probes_during(server: &Server, command: &[&str], probe: &[&str]) -> Vec<String> {
    let runner = server.raw();
    let mut client = server.raw();
    client.set_read_timeout(TIMEOUT);
    let done = Arc::new(AtomicBool::new(false));
    let running = {
        let done = done.clone();
        let command: Vec<String> = command.iter().map(|a| a.to_string()).collect();
        std::thread::spawn(move || {
            let mut runner = runner;
            runner.set_read_timeout(TIMEOUT);
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            let reply = runner.cmd_text(&args);
            done.store(true, Ordering::SeqCst);
            reply
        })
    };
    let mut replies = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let reply = client.cmd_text(probe);
        let refused = reply == LOADING || reply.contains("loading:1\r\n");
        replies.push(reply);
        if refused {
            break;
        }
        // Paced: on redis-lite, GETs sent back to back from another event loop can keep
        // DEBUG from taking every loop's gate for a long while.
        std::thread::sleep(POLL_PACE);
    }
    assert_eq!(running.join().unwrap(), "+OK\r\n", "{command:?}");
    replies
}

/// [`probes_during`] with GET as the probe.
fn gets_during(server: &Server, command: &[&str]) -> Vec<String> {
    probes_during(server, command, &["GET", "k1"])
}

/// A server of [`DEBUG_SERVERS`] holding 1500 keys, with `settings` set; None (said) when
/// the program is missing.
fn filled_server(program: Program, args: &[&str], settings: &[(&str, &str)]) -> Option<Server> {
    let server = launch(program).args(args).start_if_available()?;
    let mut setup = server.raw();
    fill(&mut setup, 1500);
    for (name, value) in settings {
        assert_eq!(
            setup.cmd_text(&["CONFIG", "SET", name, value]),
            "+OK\r\n",
            "{program:?}"
        );
    }
    Some(server)
}

/// A load of 1 ms per key that serves clients every 1024 bytes (some nine keys).
const SLOW_LOAD_SMALL_INTERVAL: [(&str, &str); 2] = [
    ("key-load-delay", "1000"),
    ("loading-process-events-interval-bytes", "1024"),
];

#[test]
fn a_reload_past_the_interval_refuses_commands_at_its_serving_points() {
    for (program, args) in DEBUG_SERVERS {
        let Some(server) = filled_server(program, args, &SLOW_LOAD_SMALL_INTERVAL) else {
            continue;
        };
        let replies = gets_during(&server, &["DEBUG", "RELOAD"]);
        let mut client = server.raw();
        assert_eq!(
            replies.last().map(String::as_str),
            Some(LOADING),
            "{program:?} {args:?}: {replies:?}"
        );
        assert_eq!(
            info_field(&mut client, "persistence", "loading"),
            "0",
            "{program:?}"
        );
        assert_eq!(client.cmd_text(&["DBSIZE"]), ":1500\r\n", "{program:?}");
    }
}

/// INFO, allowed while loading, runs at a serving point and shows the load.
#[test]
fn info_at_a_serving_point_of_a_reload_shows_the_load() {
    for (program, args) in DEBUG_SERVERS {
        let Some(server) = filled_server(program, args, &SLOW_LOAD_SMALL_INTERVAL) else {
            continue;
        };
        let replies = probes_during(&server, &["DEBUG", "RELOAD"], &["INFO", "persistence"]);
        let last = replies.last().unwrap();
        assert!(
            last.contains("loading:1\r\n") && last.contains("loading_loaded_perc:"),
            "{program:?} {args:?}: {last}"
        );
    }
}

#[test]
fn a_reload_within_the_interval_makes_commands_wait_instead() {
    for (program, args) in DEBUG_SERVERS {
        let Some(server) = filled_server(program, args, &[("key-load-delay", "1000")]) else {
            continue;
        };
        let replies = gets_during(&server, &["DEBUG", "RELOAD"]);
        assert!(
            replies.iter().all(|r| r.starts_with("$96\r\n")),
            "{program:?} {args:?}: {replies:?}"
        );
    }
}

/// DEBUG LOADAOF serves clients at the interval boundaries of the base file's RDB preamble.
#[test]
fn debug_loadaof_refuses_commands_at_the_serving_points_of_its_preamble() {
    for (program, args) in DEBUG_SERVERS {
        let settings = [
            ("appendonly", "yes"),
            ("key-load-delay", "1000"),
            ("loading-process-events-interval-bytes", "1024"),
        ];
        let Some(server) = filled_server(program, args, &settings) else {
            continue;
        };
        // The rewrite's base is in place once the manifest names it (INFO may say the rewrite
        // is over a moment before).
        let manifest = server.dir.join("appendonlydir/appendonly.aof.manifest");
        wait_until("the AOF base", TIMEOUT, || {
            std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains(" type b"))
        });
        wait_background_jobs(&server);
        let replies = gets_during(&server, &["DEBUG", "LOADAOF"]);
        let mut client = server.raw();
        assert_eq!(
            replies.last().map(String::as_str),
            Some(LOADING),
            "{program:?} {args:?}: {replies:?}"
        );
        assert_eq!(client.cmd_text(&["DBSIZE"]), ":1500\r\n", "{program:?}");
    }
}

/// DEBUG LOADAOF replaying a script past `lua-time-limit` answers the other clients
/// `-LOADING` while the script runs, as Redis serves them from a busy script's hook (Redis's
/// aof.tcl "EVAL timeout with slow verbatim Lua script from AOF"; redis-lite's one event
/// loop waited for the whole load).
#[test]
fn a_busy_script_replayed_by_debug_loadaof_serves_other_clients() {
    let script =
        "redis.call('set',KEYS[1],'y'); for i=1,300000 do redis.call('ping') end return 'ok'";
    let mut incr = Vec::new();
    encode_command(&mut incr, &["SELECT", "9"]);
    encode_command(&mut incr, &["EVAL", script, "1", "x"]);
    for (program, args) in DEBUG_SERVERS {
        let dir = DataDir::new("loading-busy-script");
        std::fs::create_dir(dir.join("appendonlydir")).unwrap();
        std::fs::write(dir.join("appendonlydir/appendonly.aof.1.incr.aof"), &incr).unwrap();
        std::fs::write(
            dir.join("appendonlydir/appendonly.aof.manifest"),
            "file appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let Some(server) = Launch::of(program)
            .dir(&dir.0)
            .args(&[
                "--save",
                "",
                "--appendonly",
                "yes",
                "--lua-time-limit",
                "1",
                "--aof-use-rdb-preamble",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            .args(args)
            .start_if_available()
        else {
            continue;
        };
        let replies = probes_during(&server, &["DEBUG", "LOADAOF"], &["PING"]);
        let mut client = server.raw();
        assert_eq!(
            replies.last().map(String::as_str),
            Some(LOADING),
            "{program:?} {args:?}: {replies:?}"
        );
        client.cmd_text(&["SELECT", "9"]);
        assert_eq!(client.cmd_text(&["GET", "x"]), "$1\r\ny\r\n", "{program:?}");
    }
}

/// A replica's full sync: its clients wait while it loads a snapshot shorter than the
/// interval, and are refused at the serving points of one longer than it. `interval` None
/// keeps the default (2 MB). Returns the replies to the GETs sent on the replica until one
/// returned the master's value.
fn gets_during_sync(program: Program, interval: Option<&str>) -> Option<Vec<String>> {
    let master = launch(program).start_if_available()?;
    fill(&mut master.raw(), 300);
    let mut replica_launch = launch(program).args(&["--key-load-delay", "5000"]);
    if let Some(interval) = interval {
        replica_launch =
            replica_launch.args(&["--loading-process-events-interval-bytes", interval]);
    }
    let replica = replica_launch.start();
    let mut client = replica.raw();
    client.set_read_timeout(TIMEOUT);
    assert_eq!(
        client.cmd_text(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]),
        "+OK\r\n"
    );
    let mut replies = Vec::new();
    wait_until("the replica to have the master's keys", TIMEOUT, || {
        let reply = client.cmd_text(&["GET", "k1"]);
        let loaded = reply.starts_with("$96\r\n");
        replies.push(reply);
        loaded
    });
    Some(replies)
}

#[test]
fn a_replica_loading_a_small_sync_makes_commands_wait() {
    for program in [Program::Lite, Program::Redis] {
        let Some(replies) = gets_during_sync(program, None) else {
            continue;
        };
        assert!(
            !replies.iter().any(|r| r == LOADING),
            "{program:?}: {replies:?}"
        );
    }
}

#[test]
fn a_replica_loading_a_sync_past_the_interval_refuses_commands() {
    for program in [Program::Lite, Program::Redis] {
        let Some(replies) = gets_during_sync(program, Some("1024")) else {
            continue;
        };
        assert!(
            replies.iter().any(|r| r == LOADING),
            "{program:?}: {replies:?}"
        );
    }
}

/// A directory holding the snapshot of [`fill`]'s `keys` keys, saved by `program`.
fn saved_snapshot(program: Program, name: &str, keys: u64) -> DataDir {
    let dir = DataDir::new(name);
    let server = launch(program).dir(&dir.0).start();
    let mut raw = server.raw();
    fill(&mut raw, keys);
    assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
    dir
}

/// A client that connects while the start-up load has reached no serving point (a snapshot
/// shorter than one interval, read in a second or more) waits for the load's end and is then
/// served, as in Redis. redis-lite took every new client as served in the load's first round
/// and answered `-LOADING` (redis-rs's test harness, which sends FLUSHDB as soon as the port
/// accepts, failed on it).
#[test]
fn a_client_connecting_during_a_short_start_up_load_waits_for_it() {
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            continue;
        }
        let dir = saved_snapshot(program, "short-start-up-load", 1000);
        // `start` returns on the first reply to its PING, sent as soon as the port accepts.
        let server = launch(program)
            .dir(&dir.0)
            .args(&["--key-load-delay", "1000"])
            .return_while_loading()
            .start();
        let mut raw = server.raw();
        raw.set_read_timeout(TIMEOUT);
        assert_eq!(raw.cmd_text(&["DBSIZE"]), ":1000\r\n", "{program:?}");
    }
}

/// "Ready to accept connections" is logged once the start-up load is done, after "DB loaded
/// from disk" and the lines about the snapshot's auxiliary fields, as Redis logs them: supervisors and Redis's own test harness take it to mean the
/// dataset is in place. Clients connect meanwhile and are told the server is loading.
#[test]
fn ready_to_accept_connections_is_logged_after_the_start_up_load() {
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            continue;
        }
        let dir = saved_snapshot(program, "ready-after-load", 1500);
        let server = launch(program)
            .dir(&dir.0)
            .args(&["--logfile", "server.log"])
            .args(&[
                "--key-load-delay",
                "1000",
                "--loading-process-events-interval-bytes",
                "1024",
            ])
            .return_while_loading()
            .start();
        let log = || std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let mut raw = server.raw();
        assert_eq!(raw.cmd_text(&["PING"]), LOADING, "{program:?}");
        assert!(!log().contains("Ready to accept"), "{program:?}: {}", log());
        wait_until("the load to end", TIMEOUT, || {
            info_field(&mut raw, "persistence", "loading") == "0"
        });
        wait_until("the ready line", TIMEOUT, || {
            log().contains("Ready to accept connections")
        });
        let text = log();
        let loaded = text.find("DB loaded from disk").expect("the load's line");
        // What the snapshot's auxiliary fields say, logged as the load reads them.
        for line in [
            "* Loading RDB produced by version 7.0.15\n",
            "* RDB age ",
            "* RDB memory usage when created ",
            "* Done loading RDB, keys loaded: 1500, keys expired: 0.\n",
        ] {
            assert!(
                text.find(line).is_some_and(|at| at < loaded),
                "{program:?}: {line:?} in {text}"
            );
        }
        let ready: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("Ready to accept"))
            .collect();
        assert!(
            text.find("Ready to accept").unwrap() > loaded,
            "{program:?}: {text}"
        );
        assert_eq!(ready.len(), 1, "{program:?}: {text}");
        assert!(
            ready[0].ends_with(" * Ready to accept connections"),
            "{program:?}: {text}"
        );
    }
}
