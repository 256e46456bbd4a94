//! MIGRATE, from real Redis and from redis-lite, to real Redis and to redis-lite: the same
//! script run from each source to a fresh target, the replies of both (and what the targets
//! hold) compared byte for byte; then what only redis-lite can show (the exchange runs off the
//! event loop, keys written meanwhile are kept) against targets the tests play themselves.
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis_lite_testkit as testkit;

use testkit::{info_field, wait_until, DataDir, Launch, Program, Raw, Server};

/// A script line run on the target instead of the source.
const ON_TARGET: &str = "@target";

/// Runs `script` from a fresh source of each program to a fresh `target` started with
/// `target_args`, and asserts that both runs got the same replies. `{port}` in an argument is
/// the target's port; a line starting with [`ON_TARGET`] runs on the target. Returns false
/// (saying so) when real Redis is not installed.
fn differential_to(target: Program, target_args: &[&str], script: &[&[&str]]) -> bool {
    if !Program::Redis.available() {
        return false;
    }
    let run = |source: Program| -> Vec<Vec<u8>> {
        let target = Launch::of(target)
            .args(&["--save", "", "--appendonly", "no"])
            .args(target_args)
            .start();
        let source = Launch::of(source).args(&["--save", ""]).start();
        let port = target.port.to_string();
        let (mut on_source, mut on_target) = (source.raw(), target.raw());
        script
            .iter()
            .map(|line| {
                let line: Vec<String> = line.iter().map(|a| a.replace("{port}", &port)).collect();
                let line: Vec<&str> = line.iter().map(String::as_str).collect();
                match line.split_first() {
                    Some((&ON_TARGET, command)) => on_target.cmd(command),
                    _ => on_source.cmd(&line),
                }
            })
            .collect()
    };
    let (expected, actual) = (run(Program::Redis), run(Program::Lite));
    let differences: Vec<String> = script
        .iter()
        .zip(expected.iter().zip(&actual))
        .filter(|(_, (e, a))| e != a)
        .map(|(line, (e, a))| {
            format!(
                "{:?}\n    redis: {:?}\n    lite:  {:?}",
                line.join(" "),
                String::from_utf8_lossy(e),
                String::from_utf8_lossy(a)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "MIGRATE to {target:?}: replies differ from real Redis:\n{}",
        differences.join("\n")
    );
    true
}

/// [`differential_to`] against each target program.
fn differential_to_both(target_args: &[&str], script: &[&[&str]]) {
    differential_to(Program::Redis, target_args, script);
    differential_to(Program::Lite, target_args, script);
}

#[test]
fn every_type_moves_with_its_ttl_and_is_deleted_here() {
    differential_to_both(
        &[],
        &[
            &["SET", "s", "hello"],
            &["SET", "n", "12345"],
            &["RPUSH", "l", "a", "b", "c"],
            &["HSET", "h", "f", "v", "g", "w"],
            &["SADD", "set", "1", "2", "3"],
            &["SADD", "words", "x", "y"],
            &["ZADD", "z", "1", "a", "2.5", "b"],
            &["XADD", "x", "1-1", "f", "v"],
            &["PFADD", "hll", "a", "b", "c"],
            &["SET", "ttl", "v", "EX", "1000"],
            &["MIGRATE", "127.0.0.1", "{port}", "s", "0", "1000"],
            &["EXISTS", "s"],
            &[ON_TARGET, "GET", "s"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "",
                "0",
                "1000",
                "KEYS",
                "n",
                "l",
                "h",
                "set",
                "words",
                "z",
                "x",
                "hll",
                "ttl",
                "missing",
            ],
            &["DBSIZE"],
            &[ON_TARGET, "DBSIZE"],
            &[ON_TARGET, "LRANGE", "l", "0", "-1"],
            &[ON_TARGET, "HGETALL", "h"],
            &[ON_TARGET, "SMEMBERS", "set"],
            &[ON_TARGET, "ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &[ON_TARGET, "XRANGE", "x", "-", "+"],
            &[ON_TARGET, "PFCOUNT", "hll"],
            &[ON_TARGET, "TTL", "ttl"],
            &[ON_TARGET, "TTL", "s"],
            &[ON_TARGET, "OBJECT", "ENCODING", "set"],
            &[ON_TARGET, "DUMP", "z"],
            &[ON_TARGET, "DUMP", "n"],
        ],
    );
}

#[test]
fn copy_replace_busykey_and_nokey_as_redis() {
    differential_to_both(
        &[],
        &[
            &["CONFIG", "RESETSTAT"],
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["SET", "c", "3"],
            &[ON_TARGET, "SET", "b", "old"],
            // COPY keeps the source key.
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000", "COPY"],
            &["GET", "a"],
            &[ON_TARGET, "GET", "a"],
            // Without REPLACE the target's BUSYKEY comes back, and that key stays here while
            // the others of the same MIGRATE move.
            &["MIGRATE", "127.0.0.1", "{port}", "b", "0", "1000"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "",
                "0",
                "1000",
                "KEYS",
                "c",
                "b",
                "a",
            ],
            &["MGET", "a", "b", "c"],
            &[ON_TARGET, "GET", "b"],
            &[ON_TARGET, "GET", "c"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "b",
                "0",
                "1000",
                "REPLACE",
                "COPY",
            ],
            &["GET", "b"],
            &[ON_TARGET, "GET", "b"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "b",
                "0",
                "1000",
                "replace",
            ],
            &["EXISTS", "b"],
            // A key named twice is sent twice: the second RESTORE finds it there.
            &["SET", "d", "4"],
            &["SET", "e", "5"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "",
                "0",
                "1000",
                "KEYS",
                "d",
                "d",
            ],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "",
                "0",
                "1000",
                "REPLACE",
                "KEYS",
                "e",
                "e",
            ],
            &["EXISTS", "d", "e"],
            &[ON_TARGET, "MGET", "d", "e"],
            // Nothing to move: NOKEY, not an error.
            &["MIGRATE", "127.0.0.1", "{port}", "nothing", "0", "1000"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "",
                "0",
                "1000",
                "KEYS",
                "x",
                "y",
            ],
            &["MIGRATE", "127.0.0.1", "{port}", "", "0", "1000", "KEYS"],
            &["INFO", "errorstats"],
        ],
    );
}

#[test]
fn destination_databases_as_redis() {
    differential_to_both(
        &[],
        &[
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["SET", "c", "3"],
            &["SET", "d", "4"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "5", "1000"],
            // The cached connection has database 5 selected: no SELECT is sent again, and a
            // change of database sends one.
            &["MIGRATE", "127.0.0.1", "{port}", "b", "5", "1000"],
            &["MIGRATE", "127.0.0.1", "{port}", "c", "0", "1000"],
            &[ON_TARGET, "SELECT", "5"],
            &[ON_TARGET, "MGET", "a", "b", "c"],
            &[ON_TARGET, "SELECT", "0"],
            &[ON_TARGET, "MGET", "a", "b", "c"],
            // Out of range on the target: its error, relayed; the key stays.
            &["MIGRATE", "127.0.0.1", "{port}", "d", "99", "1000"],
            &["GET", "d"],
            // Redis's quirk: a new connection counts as having database -1 selected.
            &["CONFIG", "SET", "appendonly", "no"],
            &["MIGRATE", "127.0.0.1", "{port}", "d", "-1", "1000"],
            &[ON_TARGET, "GET", "d"],
            &["SELECT", "3"],
            &["SET", "in3", "x"],
            &["MIGRATE", "127.0.0.1", "{port}", "in3", "7", "1000"],
            &["EXISTS", "in3"],
            &[ON_TARGET, "SELECT", "7"],
            &[ON_TARGET, "GET", "in3"],
        ],
    );
}

#[test]
fn auth_and_auth2_as_redis() {
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
        &[
            "MIGRATE",
            "127.0.0.1",
            "{port}",
            "a",
            "0",
            "1000",
            "AUTH",
            "wrong",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            "{port}",
            "a",
            "0",
            "1000",
            "AUTH2",
            "nobody",
            "secret",
        ],
        &["EXISTS", "a"],
        &[
            "MIGRATE",
            "127.0.0.1",
            "{port}",
            "a",
            "0",
            "1000",
            "COPY",
            "AUTH",
            "secret",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            "{port}",
            "a",
            "0",
            "1000",
            "AUTH2",
            "default",
            "secret",
            "REPLACE",
        ],
        &["EXISTS", "a"],
        &[ON_TARGET, "AUTH", "secret"],
        &[ON_TARGET, "GET", "a"],
    ];
    differential_to_both(&["--requirepass", "secret"], script);
    // AUTH to a target without a password fails every key, though it restored them.
    differential_to_both(
        &[],
        &[
            &["SET", "a", "1"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "a",
                "0",
                "1000",
                "AUTH",
                "pw",
            ],
            &["EXISTS", "a"],
            &[ON_TARGET, "EXISTS", "a"],
        ],
    );
}

#[test]
fn argument_errors_as_redis() {
    differential_to(
        Program::Lite,
        &[],
        &[
            &["CONFIG", "RESETSTAT"],
            &["SET", "a", "1"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "x", "y"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "y"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "x", "0"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "0", "KEYS", "b"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "0", "AUTH"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "a",
                "0",
                "0",
                "AUTH2",
                "u",
            ],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "a",
                "0",
                "0",
                "COPY",
                "other",
            ],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "a",
                "0",
                "99999999999999999999",
            ],
            &["GET", "a"],
            // A timeout of 0 or less is one second.
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "-5", "COPY"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "a",
                "0",
                "0",
                "COPY",
                "REPLACE",
            ],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "a",
                "0",
                "9223372036854775807",
                "COPY",
            ],
            &["INFO", "errorstats"],
        ],
    );
}

#[test]
fn connection_failures_as_redis() {
    let closed = testkit::free_port().to_string();
    let closed: &str = &closed;
    differential_to(
        Program::Lite,
        &[],
        &[
            &["CONFIG", "RESETSTAT"],
            &["SET", "a", "1"],
            // Refused: found when writing, as Redis connects without blocking.
            &["MIGRATE", "127.0.0.1", closed, "a", "0", "500"],
            &["MIGRATE", "127.0.0.1", "0", "a", "0", "500"],
            &["MIGRATE", "127.0.0.1", "not-a-port", "a", "0", "500"],
            // No address at all.
            &["MIGRATE", "127.0.0.1", "-1", "a", "0", "500"],
            &["MIGRATE", "no-such-host.invalid", "{port}", "a", "0", "500"],
            &["MIGRATE", "", "{port}", "a", "0", "500"],
            &["MIGRATE", "[::1]", "{port}", "a", "0", "500"],
            &["GET", "a"],
            &["INFO", "errorstats"],
            // The port is read as atoi reads it; names resolve.
            &["MIGRATE", "localhost", "{port}x", "a", "0", "500", "COPY"],
            &["MIGRATE", "::1", "{port}", "a", "0", "500", "REPLACE"],
            &["EXISTS", "a"],
            &[ON_TARGET, "GET", "a"],
        ],
    );
}

#[test]
fn cached_connections_are_reused_and_replaced_when_closed() {
    differential_to_both(
        &[],
        &[
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["SET", "c", "3"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
            &["MIGRATE", "127.0.0.1", "{port}", "b", "0", "1000"],
            // The target closes the cached connection; the next MIGRATE opens another.
            &[ON_TARGET, "CLIENT", "KILL", "SKIPME", "yes"],
            &["MIGRATE", "127.0.0.1", "{port}", "c", "0", "1000"],
            &[ON_TARGET, "MGET", "a", "b", "c"],
        ],
    );
    // Counted on each source and target (the rest of INFO differs, so outside the script).
    for program in [Program::Redis, Program::Lite] {
        let Some(source) = Launch::of(program)
            .args(&["--save", ""])
            .start_if_available()
        else {
            continue;
        };
        let target = Server::lite(&[]);
        let port = target.port.to_string();
        let (mut raw, mut target_raw) = (source.raw(), target.raw());
        let received = |raw: &mut Raw| info_field(raw, "stats", "total_connections_received");
        let cached = |raw: &mut Raw| info_field(raw, "stats", "migrate_cached_sockets");
        let before: u64 = received(&mut target_raw).parse().unwrap();
        assert_eq!(cached(&mut raw), "0");
        raw.cmd(&["SET", "a", "1"]);
        let copy = |raw: &mut Raw, host: &str| {
            let reply =
                raw.cmd_text(&["MIGRATE", host, &port, "a", "0", "1000", "COPY", "REPLACE"]);
            assert_eq!(reply, "+OK\r\n", "{program:?}");
        };
        copy(&mut raw, "127.0.0.1");
        copy(&mut raw, "127.0.0.1");
        assert_eq!(cached(&mut raw), "1");
        let after: u64 = received(&mut target_raw).parse().unwrap();
        assert_eq!(after - before, 1, "one connection, reused ({program:?})");
        // Another name for the same target is another connection.
        copy(&mut raw, "localhost");
        assert_eq!(cached(&mut raw), "2");
        // A connection the target closed is replaced, once, without an error.
        target_raw.cmd(&["CLIENT", "KILL", "SKIPME", "yes"]);
        copy(&mut raw, "127.0.0.1");
        let after: u64 = received(&mut target_raw).parse().unwrap();
        assert_eq!(after - before, 3, "{program:?}");
        // The other connection it killed stays cached until used or idle.
        assert_eq!(cached(&mut raw), "2");
    }
}

/// Redis closes a cached connection once unused for more than 10 seconds (counted in whole
/// seconds of its clock, by a check every second): between 10 and 12 seconds after its last
/// use. Both sources run at once.
#[test]
fn cached_connections_close_after_ten_idle_seconds() {
    let target = Server::lite(&[]);
    let port = target.port.to_string();
    let sources: Vec<Server> = [Program::Redis, Program::Lite]
        .into_iter()
        .filter_map(|p| Launch::of(p).args(&["--save", ""]).start_if_available())
        .collect();
    let mut raws: Vec<Raw> = sources.iter().map(Server::raw).collect();
    for raw in &mut raws {
        raw.cmd(&["SET", "a", "1"]);
        let reply = raw.cmd_text(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "a",
            "0",
            "1000",
            "COPY",
            "REPLACE",
        ]);
        assert_eq!(reply, "+OK\r\n");
    }
    let used = Instant::now();
    let cached = |raw: &mut Raw| info_field(raw, "stats", "migrate_cached_sockets");
    let mut target_raw = target.raw();
    let connected = |raw: &mut Raw| info_field(raw, "clients", "connected_clients");
    assert_eq!(connected(&mut target_raw), (raws.len() + 1).to_string());
    wait_until(
        "the cached connections to close",
        Duration::from_secs(20),
        || raws.iter_mut().all(|raw| cached(raw) == "0"),
    );
    let idle = used.elapsed();
    assert!(
        idle >= Duration::from_secs(10) && idle < Duration::from_millis(13_500),
        "closed after {idle:?}"
    );
    wait_until("the target to see them go", Duration::from_secs(5), || {
        connected(&mut target_raw) == "1"
    });
}

#[test]
fn migrate_in_a_transaction_and_command_info_as_redis() {
    differential_to_both(
        &[],
        &[
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["MULTI"],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
            &[
                "MIGRATE",
                "127.0.0.1",
                "{port}",
                "",
                "0",
                "1000",
                "KEYS",
                "b",
                "zz",
            ],
            &["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
            &["EXEC"],
            &[ON_TARGET, "MGET", "a", "b"],
            &[
                "EVAL",
                "return redis.call('MIGRATE', ARGV[1], ARGV[2], 'a', 0, 1000)",
                "0",
                "127.0.0.1",
                "{port}",
            ],
            &["COMMAND", "INFO", "MIGRATE"],
            &["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "0"],
            &[
                "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "0", "COPY", "KEYS", "a",
                "KEYS", "b",
            ],
            &[
                "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "0", "AUTH", "KEYS", "KEYS",
                "a",
            ],
            &[
                "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "0", "AUTH2", "u", "KEYS", "a",
            ],
            &[
                "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "0", "KEYS", "a",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "MIGRATE",
                "h",
                "1",
                "",
                "0",
                "0",
                "KEYS",
                "a",
                "b",
            ],
        ],
    );
}

/// What a source reports of its MIGRATEs: the keyspace notifications (channel, message) and
/// the AOF's bytes.
struct Journal {
    events: Vec<(String, String)>,
    aof: Vec<u8>,
}

/// The [`Journal`] of a few MIGRATEs from `source`.
fn journal_of(source: Program, target_port: u16) -> Option<Journal> {
    let dir = DataDir::new("migrate-journal");
    let server = Launch::of(source)
        .dir(&dir.0)
        .durable()
        .start_if_available()?;
    let port = target_port.to_string();
    let port: &str = &port;
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["SET", "c", "3"],
        &[
            "MIGRATE",
            "127.0.0.1",
            port,
            "",
            "0",
            "1000",
            "REPLACE",
            "KEYS",
            "a",
            "none",
            "b",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            port,
            "c",
            "0",
            "1000",
            "COPY",
            "REPLACE",
        ],
        &["MIGRATE", "127.0.0.1", port, "none", "0", "1000"],
        &["SET", "e", "5"],
        &[
            "MIGRATE",
            "127.0.0.1",
            port,
            "",
            "0",
            "1000",
            "REPLACE",
            "KEYS",
            "e",
            "e",
        ],
    ];
    let events = testkit::notifications(&server, script);
    let aof = std::fs::read(dir.join("appendonlydir").join("appendonly.aof.1.incr.aof")).unwrap();
    Some(Journal { events, aof })
}

#[test]
fn the_moved_keys_are_logged_and_notified_as_one_del() {
    let target = Server::lite(&[]);
    let Some(expected) = journal_of(Program::Redis, target.port) else {
        testkit::skipped("redis-server is not on PATH");
        return;
    };
    let actual = journal_of(Program::Lite, target.port).unwrap();
    assert_eq!(actual.events, expected.events, "notifications");
    assert_eq!(
        String::from_utf8_lossy(&actual.aof),
        String::from_utf8_lossy(&expected.aof),
        "AOF"
    );
    let del = b"*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n";
    assert!(actual.aof.windows(del.len()).any(|w| w == del));
}

/// A target the test plays: accepts one connection, reports what it read, and sends what the
/// test hands it.
struct FakeTarget {
    port: u16,
    requests: mpsc::Receiver<Vec<u8>>,
    replies: mpsc::Sender<Vec<u8>>,
}

impl FakeTarget {
    fn start() -> FakeTarget {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (request_tx, requests) = mpsc::channel();
        let (replies, reply_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = stream.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n @ 1..) = reader.read(&mut buf) {
                    if request_tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
            for reply in reply_rx {
                if stream.write_all(&reply).is_err() {
                    break;
                }
            }
            // Dropped by the test: the connection closes, for the reader too.
            let _ = stream.shutdown(Shutdown::Both);
        });
        FakeTarget {
            port,
            requests,
            replies,
        }
    }

    /// Waits until the bytes read contain `needle`.
    fn read_until(&self, needle: &[u8]) -> Vec<u8> {
        let mut seen = Vec::new();
        while !seen.windows(needle.len()).any(|w| w == needle) {
            let chunk = self
                .requests
                .recv_timeout(Duration::from_secs(10))
                .expect("the source's request");
            seen.extend_from_slice(&chunk);
        }
        seen
    }
}

#[test]
fn a_silent_target_times_out_reading_as_redis() {
    for source in [Program::Redis, Program::Lite] {
        let Some(server) = Launch::of(source)
            .args(&["--save", ""])
            .start_if_available()
        else {
            continue;
        };
        let target = FakeTarget::start();
        let mut raw = server.raw();
        raw.cmd(&["SET", "a", "1"]);
        let port = target.port.to_string();
        let started = Instant::now();
        let reply = raw.cmd_text(&["MIGRATE", "127.0.0.1", &port, "a", "0", "300"]);
        assert_eq!(
            reply, "-IOERR error or timeout reading to target instance\r\n",
            "{source:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        let request = target.read_until(b"RESTORE");
        assert!(request.starts_with(
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*4\r\n$7\r\nRESTORE\r\n$1\r\na\r\n$1\r\n0\r\n"
        ));
        assert_eq!(raw.cmd_text(&["GET", "a"]), "$1\r\n1\r\n");
        assert_eq!(info_field(&mut raw, "stats", "migrate_cached_sockets"), "0");
    }
}

/// Only the client that sent MIGRATE waits for the target: the others on the same event loop
/// go on, and its own next command waits behind it.
#[test]
fn migrate_blocks_only_its_own_client() {
    let server = Server::lite(&["--threads", "1"]);
    let target = FakeTarget::start();
    let port = target.port.to_string();
    let mut migrating = server.raw();
    let mut other = server.raw();
    migrating.cmd(&["SET", "a", "1"]);
    let pipeline = [
        testkit::encode(&[
            b"MIGRATE",
            b"127.0.0.1",
            port.as_bytes(),
            b"a",
            b"0",
            b"5000",
        ]),
        testkit::encode(&[b"EXISTS", b"a"]),
    ]
    .concat();
    migrating.send(&pipeline);
    target.read_until(b"RESTORE");
    let started = Instant::now();
    assert_eq!(other.cmd_text(&["PING"]), "+PONG\r\n");
    assert_eq!(other.cmd_text(&["GET", "a"]), "$1\r\n1\r\n");
    assert!(started.elapsed() < Duration::from_secs(1));
    // SELECT's reply and RESTORE's.
    target.replies.send(b"+OK\r\n+OK\r\n".to_vec()).unwrap();
    assert_eq!(String::from_utf8_lossy(&migrating.read_reply()), "+OK\r\n");
    assert_eq!(String::from_utf8_lossy(&migrating.read_reply()), ":0\r\n");
    assert_eq!(
        info_field(&mut other, "stats", "migrate_cached_sockets"),
        "1"
    );
    assert_eq!(info_field(&mut other, "clients", "blocked_clients"), "0");
}

/// A key written while its MIGRATE waited for the target is kept (deleting it would lose that
/// write, which in Redis could not have come between); the untouched keys are deleted, and
/// only they are logged.
#[test]
fn keys_written_during_the_exchange_are_kept() {
    let dir = DataDir::new("migrate-kept");
    let server = Launch::lite()
        .dir(&dir.0)
        .args(&["--appendonly", "yes", "--appendfsync", "always"])
        .start();
    let target = FakeTarget::start();
    let port = target.port.to_string();
    let mut migrating = server.raw();
    let mut other = server.raw();
    for key in ["a", "b", "c"] {
        migrating.cmd(&["SET", key, "1"]);
    }
    migrating.cmd(&["EXPIRE", "c", "1000"]);
    let command = [
        b"MIGRATE".as_slice(),
        b"127.0.0.1",
        port.as_bytes(),
        b"",
        b"0",
        b"5000",
    ];
    migrating.send(&testkit::encode(
        &[&command[..], &[b"KEYS", b"a", b"b", b"c"]].concat(),
    ));
    target.read_until(b"\r\n$1\r\nc\r\n");
    assert_eq!(other.cmd_text(&["SET", "b", "changed"]), "+OK\r\n");
    assert_eq!(other.cmd_text(&["PERSIST", "c"]), ":1\r\n");
    target
        .replies
        .send(b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n".to_vec())
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&migrating.read_reply()), "+OK\r\n");
    assert_eq!(other.cmd_text(&["EXISTS", "a"]), ":0\r\n");
    assert_eq!(other.cmd_text(&["GET", "b"]), "$7\r\nchanged\r\n");
    assert_eq!(other.cmd_text(&["TTL", "c"]), ":-1\r\n");
    let aof = std::fs::read(dir.join("appendonlydir").join("appendonly.aof.1.incr.aof")).unwrap();
    let aof = String::from_utf8_lossy(&aof);
    assert!(aof.ends_with("*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"), "{aof}");
}

/// A target that answers each key after a delay, so replies span several reads, and one that
/// closes the connection halfway: the keys it acknowledged are deleted, the rest kept.
#[test]
fn a_target_closing_halfway_leaves_the_unacknowledged_keys() {
    for source in [Program::Redis, Program::Lite] {
        let Some(server) = Launch::of(source)
            .args(&["--save", ""])
            .start_if_available()
        else {
            continue;
        };
        let target = FakeTarget::start();
        let port = target.port.to_string();
        let mut raw = server.raw();
        raw.cmd(&["SET", "a", "1"]);
        raw.cmd(&["SET", "b", "2"]);
        let command = [
            b"MIGRATE".as_slice(),
            b"127.0.0.1",
            port.as_bytes(),
            b"",
            b"0",
            b"2000",
        ];
        raw.send(&testkit::encode(
            &[&command[..], &[b"KEYS", b"a", b"b"]].concat(),
        ));
        target.read_until(b"\r\n$1\r\nb\r\n");
        // SELECT's reply, a's, and half of b's.
        target.replies.send(b"+OK\r\n+OK\r\n".to_vec()).unwrap();
        target.replies.send(b"+OK\r".to_vec()).unwrap();
        drop(target);
        assert_eq!(
            String::from_utf8_lossy(&raw.read_reply()),
            "-IOERR error or timeout reading to target instance\r\n",
            "{source:?}"
        );
        assert_eq!(raw.cmd_text(&["EXISTS", "a", "b"]), ":1\r\n", "{source:?}");
        assert_eq!(raw.cmd_text(&["EXISTS", "b"]), ":1\r\n", "{source:?}");
    }
}

/// What a client library sees: the `redis` crate's MIGRATE through a normal connection.
#[test]
fn a_client_library_migrates_to_redis_lite() {
    let (source, target) = (Server::lite(&[]), Server::lite(&[]));
    let mut con = source.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let reply: String = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(target.port)
        .arg("k")
        .arg(0)
        .arg(1000)
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, "OK");
    let mut target_con = target.client();
    let value: String = redis::cmd("GET").arg("k").query(&mut target_con).unwrap();
    assert_eq!(value, "v");
}

/// RESTORE-ASKING, what MIGRATE sends from a cluster node, is RESTORE outside cluster mode.
#[test]
fn restore_asking_is_restore_without_cluster_mode() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let mut raw = lite.raw();
    raw.cmd(&["RPUSH", "l", "a", "b"]);
    let payload = match testkit::Reply::parse(&raw.cmd(&["DUMP", "l"])) {
        testkit::Reply::Bulk(Some(payload)) => payload,
        other => panic!("DUMP: {other:?}"),
    };
    let payload = payload.as_slice();
    let script: &[&[&[u8]]] = &[
        &[b"RESTORE-ASKING", b"l", b"0", payload],
        &[b"RESTORE-ASKING", b"l", b"0", payload],
        &[b"RESTORE-ASKING", b"l", b"5000", payload, b"REPLACE"],
        &[b"LRANGE", b"l", b"0", b"-1"],
        &[b"RESTORE-ASKING", b"m", b"0", b"bad"],
        &[b"RESTORE-ASKING", b"m", b"0"],
        &[b"COMMAND", b"INFO", b"RESTORE-ASKING"],
        &[b"COMMAND", b"GETKEYS", b"RESTORE-ASKING", b"m", b"0", b"x"],
    ];
    let (mut expected, mut actual) = (redis.raw(), lite.raw());
    actual.cmd(&["FLUSHALL"]);
    for command in script {
        expected.send(&testkit::encode(command));
        actual.send(&testkit::encode(command));
        assert_eq!(
            String::from_utf8_lossy(&actual.read_reply()),
            String::from_utf8_lossy(&expected.read_reply()),
            "{}",
            String::from_utf8_lossy(command[0])
        );
    }
}

/// A value larger than one write chunk (64 KB) arrives whole, to either target.
#[test]
fn large_values_move_whole() {
    // Hex digits of a simple generator: too irregular for LZF to shrink below a chunk.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let big: String = (0..1_500_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from_digit((state % 16) as u32, 16).unwrap()
        })
        .collect();
    for (source, target) in [
        (Program::Lite, Program::Redis),
        (Program::Lite, Program::Lite),
        (Program::Redis, Program::Lite),
    ] {
        let (Some(source), Some(target)) = (
            Launch::of(source)
                .args(&["--save", ""])
                .start_if_available(),
            Launch::of(target)
                .args(&["--save", ""])
                .start_if_available(),
        ) else {
            continue;
        };
        let (mut raw, mut target_raw) = (source.raw(), target.raw());
        raw.cmd(&["SET", "big", &big]);
        raw.cmd(&["RPUSH", "small", "x"]);
        let port = target.port.to_string();
        let reply = raw.cmd_text(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "5000",
            "KEYS",
            "big",
            "small",
        ]);
        assert_eq!(reply, "+OK\r\n");
        assert_eq!(raw.cmd_text(&["DBSIZE"]), ":0\r\n");
        let moved = target_raw.cmd(&["GET", "big"]);
        assert!(moved.ends_with(format!("{big}\r\n").as_bytes()));
        assert_eq!(target_raw.cmd_text(&["LPOP", "small"]), "$1\r\nx\r\n");
    }
}

/// A client that goes away while its MIGRATE waits leaves its keys here, and the server as it
/// was: nothing left blocked, the connection to the target still usable.
#[test]
fn a_client_gone_during_the_exchange_leaves_its_keys() {
    let server = Server::lite(&[]);
    let target = FakeTarget::start();
    let port = target.port.to_string();
    let mut raw = server.raw();
    raw.cmd(&["SET", "a", "1"]);
    let mut leaving = server.raw();
    leaving.send(&testkit::encode(&[
        b"MIGRATE",
        b"127.0.0.1",
        port.as_bytes(),
        b"a",
        b"0",
        b"5000",
    ]));
    target.read_until(b"RESTORE");
    assert_eq!(info_field(&mut raw, "clients", "blocked_clients"), "1");
    drop(leaving);
    wait_until("the client to go", Duration::from_secs(5), || {
        info_field(&mut raw, "clients", "connected_clients") == "1"
    });
    assert_eq!(info_field(&mut raw, "clients", "blocked_clients"), "0");
    target.replies.send(b"+OK\r\n+OK\r\n".to_vec()).unwrap();
    wait_until("the exchange to end", Duration::from_secs(5), || {
        info_field(&mut raw, "stats", "migrate_cached_sockets") == "1"
    });
    assert_eq!(raw.cmd_text(&["GET", "a"]), "$1\r\n1\r\n");
}
