//! Client-side caching (CLIENT TRACKING): the commands' replies and errors, and the
//! invalidations (RESP3 pushes, RESP2 redirection to `__redis__:invalidate`, BCAST prefixes,
//! flushes, expiry, broken redirects), each scenario run against real Redis and redis-lite and
//! the bytes every connection read compared; then what only redis-lite can show (invalidations
//! across event loops) and a real client library's cache.
use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::resp::encode;
use testkit::{differential_both_protocols, Program, Raw, Replicated, Server};

#[test]
fn tracking_commands_and_errors_match_redis() {
    differential_both_protocols(testkit::script!(
        "tracking/tracking_commands_and_errors_match_redis"
    ));
}

/// Sends `commands` in one write followed by a PING and returns every frame read up to the
/// PING's reply: the commands' replies and any message that came before, between or after
/// them, in order.
fn exchange(raw: &mut Raw, commands: &[&[&str]]) -> String {
    let mut bytes = Vec::new();
    for command in commands {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        bytes.extend(encode(&args));
    }
    bytes.extend(encode(&[b"PING"]));
    raw.send(&bytes);
    // The PINGs among the commands answer too: the last answer is the one added here.
    let mut pongs = 1 + commands.iter().filter(|c| **c == ["PING"]).count();
    let mut seen = String::new();
    loop {
        let frame = String::from_utf8_lossy(&raw.read_reply()).into_owned();
        // A RESP2 subscriber's PING reply is a pong message.
        if frame == "+PONG\r\n" || frame == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
            pongs -= 1;
            if pongs == 0 {
                return seen;
            }
        }
        seen.push_str(&frame);
    }
}

/// Runs `scenario` on a fresh real Redis and a fresh redis-lite (started with `args`) and
/// asserts they read the same bytes. The scenario names client ids through `Ids`, so that
/// the servers' different numbering does not show.
fn compare(args: &[&str], scenario: fn(&Server, &mut Ids) -> Vec<String>) {
    let Some(redis) = Server::redis(args) else {
        return;
    };
    let expected = scenario(&redis, &mut Ids::default());
    let lite = Server::lite(args);
    let actual = scenario(&lite, &mut Ids::default());
    if actual != expected {
        let steps = |t: &[String]| {
            t.iter()
                .enumerate()
                .map(|(i, s)| format!("{i}: {s:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "differs from real Redis\nredis:\n{}\nlite:\n{}",
            steps(&expected),
            steps(&actual)
        );
    }
}

/// Client ids seen in a scenario, replaced by their order of appearance in what it records.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn of(&mut self, raw: &mut Raw) -> String {
        let id = raw.cmd_text(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end().to_string();
        self.0.push(id.clone());
        id
    }

    fn hide(&self, text: String) -> String {
        self.0.iter().enumerate().fold(text, |t, (i, id)| {
            t.replace(&format!(":{id}\r\n"), &format!(":<id{i}>\r\n"))
        })
    }
}

fn resp3(server: &Server) -> Raw {
    let mut raw = server.raw();
    raw.cmd(&["HELLO", "3"]);
    raw
}

#[test]
fn resp3_invalidations_match_redis() {
    compare(&[], |server, _| {
        let (mut reader, mut writer) = (resp3(server), server.raw());
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(exchange(raw, cmds));
        step(&mut reader, &[&["CLIENT", "TRACKING", "ON"]]);
        step(&mut reader, &[&["GET", "a"]]);
        step(&mut reader, &[&["MGET", "a", "b", "c"]]);
        step(&mut reader, &[&["HGET", "h", "f"]]);
        step(&mut writer, &[&["SET", "a", "1"]]);
        step(&mut reader, &[&["INFO", "clients"]]);
        // Forgotten once invalidated: a second write sends nothing.
        step(&mut writer, &[&["SET", "a", "2"]]);
        step(&mut writer, &[&["MSET", "b", "1", "c", "2"]]);
        step(&mut writer, &[&["HSET", "h", "f", "v"]]);
        step(&mut reader, &[&["PING"]]);
        // The reader's own write: the invalidation follows its reply.
        step(&mut reader, &[&["GET", "own"]]);
        step(&mut reader, &[&["SET", "own", "1"]]);
        // A transaction's and a script's invalidations come after the whole reply.
        step(
            &mut reader,
            &[
                &["MULTI"],
                &["GET", "t"],
                &["SET", "t", "1"],
                &["GET", "t"],
                &["EXEC"],
            ],
        );
        // Pipelined: each invalidation right after the reply of the command that caused it.
        step(
            &mut reader,
            &[
                &["GET", "p"],
                &["SET", "p", "1"],
                &["GET", "p"],
                &["DEL", "p"],
                &["GET", "p"],
            ],
        );
        step(&mut writer, &[&["DEL", "t"]]);
        // A script is tracked by the keys it declares, when it read something.
        step(
            &mut reader,
            &[&[
                "EVAL",
                "redis.call('get', 'undeclared'); return redis.call('get', KEYS[1])",
                "1",
                "s",
            ]],
        );
        step(&mut writer, &[&["SET", "undeclared", "1"]]);
        step(&mut writer, &[&["SET", "s", "1"]]);
        step(
            &mut reader,
            &[&["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "s"]],
        );
        step(
            &mut reader,
            &[&[
                "EVAL",
                "redis.call('get', KEYS[1]); return redis.call('incr', KEYS[1])",
                "1",
                "s",
            ]],
        );
        // Writes of every kind invalidate: a rename's two keys, a deletion, an expiry set.
        step(&mut reader, &[&["MGET", "src", "dst", "gone", "ttl"]]);
        step(&mut writer, &[&["SET", "src", "x"]]);
        step(&mut reader, &[&["GET", "src"]]);
        step(&mut writer, &[&["RENAME", "src", "dst"]]);
        step(&mut writer, &[&["SET", "gone", "x"]]);
        step(&mut writer, &[&["SET", "ttl", "x"]]);
        step(&mut reader, &[&["MGET", "gone", "ttl"]]);
        step(&mut writer, &[&["UNLINK", "gone"]]);
        step(&mut writer, &[&["EXPIRE", "ttl", "100"]]);
        step(&mut reader, &[&["PING"]]);
        // A flush tells every tracking client that everything changed.
        step(&mut reader, &[&["GET", "f"]]);
        step(&mut writer, &[&["FLUSHDB"]]);
        step(&mut reader, &[&["GET", "f"]]);
        step(&mut reader, &[&["FLUSHALL"]]);
        step(&mut writer, &[&["INFO", "stats"]]);
        step(&mut reader, &[&["CLIENT", "TRACKING", "OFF"]]);
        step(&mut reader, &[&["GET", "z"]]);
        step(&mut writer, &[&["SET", "z", "1"]]);
        step(&mut reader, &[&["PING"]]);
        seen.into_iter().map(|s| tracking_lines(&s)).collect()
    });
}

/// A client with thousands of BCAST prefixes (added in one call and in many), its
/// invalidations, and the overlap errors Redis names: the first existing prefix in byte order,
/// the first later argument, and Redis 7.0's reply of an error and then OK when the overlap is
/// not the first prefix's (after which the client has overlapping prefixes).
#[test]
fn thousands_of_bcast_prefixes_and_their_overlap_errors_match_redis() {
    compare(&[], |server, _| {
        let (mut reader, mut writer) = (resp3(server), server.raw());
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(exchange(raw, cmds));
        let tracking_on = |range: std::ops::Range<usize>| -> Vec<String> {
            let mut args: Vec<String> = ["CLIENT", "TRACKING", "ON", "BCAST"]
                .map(String::from)
                .into();
            for i in range {
                args.extend(["PREFIX".to_string(), format!("k{i:06}:")]);
            }
            args
        };
        fn words(args: &[String]) -> Vec<&str> {
            args.iter().map(String::as_str).collect()
        }
        step(&mut reader, &[&words(&tracking_on(0..3000))]);
        for start in (3000..4000).step_by(100) {
            step(&mut reader, &[&words(&tracking_on(start..start + 100))]);
        }
        step(&mut reader, &[&["CLIENT", "TRACKINGINFO"]]);
        step(
            &mut writer,
            &[&["MSET", "k001500:a", "1", "k003999:b", "2", "k004000:c", "3"]],
        );
        step(&mut reader, &[&["PING"]]);
        let on = ["CLIENT", "TRACKING", "ON", "BCAST"];
        for prefixes in [
            &["k001500:x"][..],
            &["k0015"],
            &["k", "zz"],
            &["", "zz"],
            &["zz", "k003999:"],
            &["zz", "y", "zzz"],
            &["y", "y"],
        ] {
            let args: Vec<&str> = on
                .iter()
                .copied()
                .chain(prefixes.iter().flat_map(|p| ["PREFIX", p]))
                .collect();
            step(&mut reader, &[&args]);
        }
        step(&mut reader, &[&["CLIENT", "TRACKINGINFO"]]);
        // An overlap among new prefixes past the first: an error, then they are all added.
        let mut other = resp3(server);
        let x_a_abc_ab = [
            "PREFIX", "x", "PREFIX", "a", "PREFIX", "abc", "PREFIX", "ab",
        ];
        let args: Vec<&str> = on.iter().chain(&x_a_abc_ab).copied().collect();
        step(&mut other, &[&args]);
        step(&mut other, &[&["CLIENT", "TRACKINGINFO"]]);
        step(
            &mut other,
            &[&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abcd"]],
        );
        step(
            &mut other,
            &[&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "aa"]],
        );
        step(&mut writer, &[&["SET", "abcde", "1"]]);
        step(&mut other, &[&["PING"]]);
        step(&mut writer, &[&["INFO", "errorstats"]]);
        step(&mut writer, &[&["INFO", "stats"]]);
        seen.into_iter().map(|s| tracking_lines(&s)).collect()
    });
}

/// INFO's tracking and error lines alone (the rest differs between the servers); other
/// replies whole.
fn tracking_lines(reply: &str) -> String {
    if !reply.contains("# ") {
        return reply.to_string();
    }
    reply
        .lines()
        .filter(|l| {
            ["tracking_", "errorstat_", "total_error_replies"]
                .iter()
                .any(|start| l.starts_with(start))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn noloop_optin_and_optout_match_redis() {
    compare(&[], |server, _| {
        let (mut reader, mut writer) = (resp3(server), server.raw());
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(exchange(raw, cmds));
        step(&mut reader, &[&["CLIENT", "TRACKING", "ON", "NOLOOP"]]);
        step(&mut reader, &[&["MGET", "a", "b"]]);
        step(&mut reader, &[&["SET", "a", "1"]]);
        step(&mut writer, &[&["SET", "b", "1"]]);
        step(&mut reader, &[&["CLIENT", "TRACKING", "ON", "OPTIN"]]);
        step(&mut reader, &[&["GET", "x"]]);
        // CACHING covers the next command only (the PING after each step ends it).
        step(
            &mut reader,
            &[&["CLIENT", "CACHING", "YES"], &["CLIENT", "TRACKINGINFO"]],
        );
        step(&mut reader, &[&["CLIENT", "TRACKINGINFO"]]);
        step(&mut reader, &[&["CLIENT", "CACHING", "YES"], &["GET", "y"]]);
        // CACHING YES covers a whole transaction.
        step(&mut reader, &[&["CLIENT", "CACHING", "YES"]]);
        step(
            &mut reader,
            &[&["MULTI"], &["GET", "m1"], &["GET", "m2"], &["EXEC"]],
        );
        step(
            &mut writer,
            &[&["MSET", "x", "1", "y", "1", "m1", "1", "m2", "1"]],
        );
        step(&mut reader, &[&["PING"]]);
        step(&mut reader, &[&["CLIENT", "TRACKING", "OFF"]]);
        step(&mut reader, &[&["CLIENT", "TRACKING", "ON", "OPTOUT"]]);
        step(
            &mut reader,
            &[&["CLIENT", "CACHING", "NO"], &["GET", "x"], &["GET", "y"]],
        );
        step(&mut reader, &[&["GET", "z"]]);
        step(&mut writer, &[&["MSET", "x", "2", "y", "2", "z", "2"]]);
        step(&mut reader, &[&["PING"]]);
        seen
    });
}

#[test]
fn bcast_prefixes_match_redis() {
    compare(&[], |server, _| {
        let (mut reader, mut writer) = (resp3(server), server.raw());
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(exchange(raw, cmds));
        step(
            &mut reader,
            &[&[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
            ]],
        );
        step(&mut reader, &[&["CLIENT", "TRACKINGINFO"]]);
        step(&mut writer, &[&["SET", "user:1", "a"]]);
        step(&mut reader, &[&["PING"]]);
        step(
            &mut writer,
            &[&[
                "MSET", "user:3", "x", "user:2", "y", "other", "z", "obj:9", "w",
            ]],
        );
        step(&mut reader, &[&["PING"]]);
        step(&mut writer, &[&["SET", "other", "1"]]);
        step(&mut reader, &[&["SET", "obj:own", "1"]]);
        step(&mut writer, &[&["INFO", "stats"]]);
        step(
            &mut reader,
            &[&[
                "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", "new:",
            ]],
        );
        step(&mut reader, &[&["MSET", "user:own", "1", "new:a", "1"]]);
        step(&mut writer, &[&["MSET", "user:own", "2", "new:b", "2"]]);
        step(&mut reader, &[&["PING"]]);
        step(&mut writer, &[&["FLUSHALL"]]);
        step(&mut reader, &[&["CLIENT", "TRACKING", "OFF"]]);
        step(&mut writer, &[&["INFO", "stats"]]);
        step(&mut reader, &[&["CLIENT", "TRACKING", "ON", "BCAST"]]);
        step(&mut writer, &[&["SET", "anything", "1"]]);
        step(&mut reader, &[&["CLIENT", "TRACKINGINFO"]]);
        seen.into_iter().map(|s| tracking_lines(&s)).collect()
    });
}

#[test]
fn resp2_redirection_and_broken_redirects_match_redis() {
    compare(&[], |server, ids| {
        let mut listener = server.raw();
        let listener_id = ids.of(&mut listener);
        let (mut tracked, mut writer) = (server.raw(), server.raw());
        ids.of(&mut tracked);
        let mut seen = Vec::new();
        seen.push(exchange(
            &mut listener,
            &[&["SUBSCRIBE", "__redis__:invalidate"]],
        ));
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(ids.hide(exchange(raw, cmds)));
        step(
            &mut tracked,
            &[&["CLIENT", "TRACKING", "ON", "REDIRECT", &listener_id]],
        );
        step(&mut tracked, &[&["CLIENT", "GETREDIR"]]);
        step(&mut tracked, &[&["CLIENT", "TRACKINGINFO"]]);
        step(&mut tracked, &[&["MGET", "k", "j"]]);
        step(&mut writer, &[&["SET", "k", "1"]]);
        step(&mut listener, &[&["PING"]]);
        step(&mut tracked, &[&["SET", "j", "1"]]);
        step(&mut listener, &[&["PING"]]);
        step(&mut tracked, &[&["GET", "k"]]);
        step(&mut writer, &[&["FLUSHALL"]]);
        step(&mut listener, &[&["PING"]]);
        drop(listener);
        let mut control = server.raw();
        testkit::wait_until("the listener to be gone", Duration::from_secs(10), || {
            !control
                .cmd_text(&["CLIENT", "LIST"])
                .contains(&format!("id={listener_id} "))
        });
        step(&mut tracked, &[&["GET", "k"]]);
        step(&mut writer, &[&["SET", "k", "2"]]);
        step(&mut tracked, &[&["CLIENT", "TRACKINGINFO"]]);
        // In RESP3 the tracking client itself is told its redirect broke, at each invalidation.
        tracked.cmd(&["HELLO", "3"]);
        step(&mut tracked, &[&["GET", "k"]]);
        step(&mut writer, &[&["SET", "k", "3"]]);
        step(&mut tracked, &[&["GET", "k"]]);
        step(&mut tracked, &[&["SET", "k", "4"]]);
        step(&mut tracked, &[&["CLIENT", "GETREDIR"]]);
        step(
            &mut tracked,
            &[&["CLIENT", "TRACKING", "ON", "REDIRECT", &listener_id]],
        );
        step(&mut tracked, &[&["CLIENT", "TRACKING", "OFF"]]);
        step(&mut tracked, &[&["CLIENT", "GETREDIR"]]);
        seen
    });
}

#[test]
fn redirect_to_a_resp3_client_and_expiry_match_redis() {
    compare(&[], |server, ids| {
        let mut target = resp3(server);
        let target_id = ids.of(&mut target);
        let (mut tracked, mut writer) = (server.raw(), server.raw());
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(ids.hide(exchange(raw, cmds)));
        step(
            &mut tracked,
            &[&["CLIENT", "TRACKING", "ON", "REDIRECT", &target_id]],
        );
        step(&mut writer, &[&["SET", "e", "v", "PX", "50"]]);
        step(&mut tracked, &[&["GET", "e"]]);
        // The writer's lookup (or the active cycle) removes the expired key: a change.
        testkit::wait_until("e to expire", Duration::from_secs(10), || {
            writer.cmd_text(&["EXISTS", "e"]) == ":0\r\n"
        });
        step(&mut target, &[&["PING"]]);
        // A RESP2 client's flush message says null as RESP2 does, even to a RESP3 target.
        step(&mut tracked, &[&["FLUSHALL"]]);
        step(&mut target, &[&["PING"]]);
        seen
    });
}

/// The table is one for every database; SWAPDB and MOVE, eviction and DEBUG RELOAD.
#[test]
fn other_databases_eviction_and_reload_match_redis() {
    compare(&["--enable-debug-command", "yes"], |server, _| {
        let (mut reader, mut writer) = (resp3(server), server.raw());
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(exchange(raw, cmds));
        step(&mut reader, &[&["CLIENT", "TRACKING", "ON"]]);
        step(&mut reader, &[&["GET", "k"]]);
        step(&mut writer, &[&["SELECT", "1"], &["SET", "k", "x"]]);
        step(&mut reader, &[&["GET", "k"]]);
        step(&mut writer, &[&["SWAPDB", "0", "1"]]);
        step(&mut reader, &[&["PING"]]);
        step(&mut writer, &[&["SELECT", "0"], &["MOVE", "k", "1"]]);
        step(&mut reader, &[&["GET", "evicted"]]);
        step(
            &mut writer,
            &[
                &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
                &["SET", "evicted", "v"],
                &["CONFIG", "SET", "maxmemory", "1"],
                &["SET", "refused", "1"],
                &["CONFIG", "SET", "maxmemory", "0"],
            ],
        );
        step(&mut reader, &[&["GET", "reloaded"]]);
        step(&mut writer, &[&["SET", "other", "1"], &["DEBUG", "RELOAD"]]);
        step(&mut reader, &[&["PING"]]);
        seen
    });
}

/// A key evicted under maxmemory before the tracking client's own next command is announced
/// ahead of that command's reply (found by Redis's suite, "Tracking invalidation message of
/// eviction keys should be before response"; redis-lite sent it after).
#[test]
fn an_eviction_before_a_command_is_announced_before_its_reply() {
    compare(&[], |server, _| {
        let mut reader = resp3(server);
        let mut seen = Vec::new();
        let mut step = |raw: &mut Raw, cmds: &[&[&str]]| seen.push(exchange(raw, cmds));
        step(
            &mut reader,
            &[
                &["CLIENT", "TRACKING", "ON"],
                &["CONFIG", "SET", "maxmemory-policy", "volatile-random"],
                &["SET", "volatile", "v", "EX", "1000"],
                &["SET", "kept", "v"],
                &["MGET", "volatile", "kept"],
            ],
        );
        step(
            &mut reader,
            &[
                &["CONFIG", "SET", "maxmemory", "1"],
                &["GET", "kept"],
                &["CONFIG", "SET", "maxmemory", "0"],
            ],
        );
        step(&mut reader, &[&["EXISTS", "volatile", "kept"]]);
        seen
    });
}

#[test]
fn tracking_table_max_keys_evicts_with_invalidations_as_redis() {
    compare(&[], |server, _| {
        let mut reader = resp3(server);
        let mut seen = Vec::new();
        reader.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
        reader.cmd(&["CLIENT", "TRACKING", "ON"]);
        // Which keys are dropped is chosen at random: count the invalidations instead.
        let mut invalidations = 0;
        for key in ["k1", "k2", "k3", "k4", "k5"] {
            reader.cmd(&["GET", key]);
            let after = exchange(&mut reader, &[&["PING"]]);
            invalidations += after.matches("invalidate").count();
        }
        seen.push(format!("{invalidations} invalidations"));
        seen.push(tracking_lines(&reader.cmd_text(&["INFO", "stats"])));
        seen
    });
}

/// A write on one event loop reaches tracking clients on the others, and the reader's own
/// loop; a client going away leaves nothing behind.
#[test]
fn invalidations_cross_event_loops() {
    let server = Server::lite(&["--threads", "4"]);
    let mut readers: Vec<Raw> = (0..8).map(|_| resp3(&server)).collect();
    for reader in &mut readers {
        assert_eq!(reader.cmd_text(&["CLIENT", "TRACKING", "ON"]), "+OK\r\n");
        reader.cmd(&["GET", "shared"]);
    }
    let mut writer = server.raw();
    assert_eq!(
        testkit::info_field(&mut writer, "clients", "tracking_clients"),
        "8"
    );
    assert_eq!(writer.cmd_text(&["SET", "shared", "1"]), "+OK\r\n");
    for reader in &mut readers {
        assert_eq!(
            String::from_utf8_lossy(&reader.read_reply()),
            ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nshared\r\n"
        );
    }
    drop(readers);
    testkit::wait_until("the readers to leave", Duration::from_secs(10), || {
        testkit::info_field(&mut writer, "clients", "tracking_clients") == "0"
    });
}

/// redis-py's client-side cache (RESP3 with `cache_config`) against both servers: a cached
/// read, then another connection's write evicting it.
#[test]
fn redis_py_client_side_cache() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "from redis.cache import CacheConfig"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        testkit::skipped("redis-py with client-side caching (5.1+) is not installed");
        return;
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_tracking.py");
    let mut servers: Vec<Server> = Server::redis(&[]).into_iter().collect();
    servers.push(Server::lite(&[]));
    for server in servers {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(server.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout == b"ok\n",
            "{}:\n{}{}",
            server.executable().display(),
            testkit::text(&out.stdout),
            testkit::text(&out.stderr)
        );
    }
}

/// A replica applying its master's stream invalidates its own tracking clients, and its full
/// sync (which empties the dataset) tells them everything changed, as a Redis replica does.
#[test]
fn replica_invalidates_for_its_masters_writes() {
    for program in [Program::Redis, Program::Lite] {
        let Some(nodes) = Replicated::of(program, &[program]) else {
            continue;
        };
        let mut reader = resp3(&nodes.replicas[0]);
        reader.cmd(&["CLIENT", "TRACKING", "ON"]);
        reader.cmd(&["GET", "k"]);
        nodes.master.raw().cmd(&["SET", "k", "1"]);
        assert_eq!(
            String::from_utf8_lossy(&reader.read_reply()),
            ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
            "{program:?}"
        );
        // A new full sync empties the replica first.
        let mut replica = nodes.replicas[0].raw();
        replica.cmd(&["REPLICAOF", "NO", "ONE"]);
        let port = nodes.master.port.to_string();
        replica.cmd(&["REPLICAOF", "127.0.0.1", &port]);
        assert_eq!(
            String::from_utf8_lossy(&reader.read_reply()),
            ">2\r\n$10\r\ninvalidate\r\n_\r\n",
            "{program:?}"
        );
    }
}
