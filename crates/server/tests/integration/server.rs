//! Server commands (CONFIG, DEBUG, COMMAND, INFO, FLUSH*, SHUTDOWN) and process behaviour:
//! configuration files, signals, threads.
use redis_lite_testkit as testkit;

use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{differential, lite_binary, Launch, Server};

#[test]
fn server_commands_match_redis() {
    differential(
        testkit::script!("server/server_commands_match_redis"),
        false,
    );
}

/// Lines of an INFO reply as `field -> value`.
fn info(raw: &mut testkit::Raw, section: &str) -> std::collections::HashMap<String, String> {
    let text = raw.cmd_text(&["INFO", section]);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn info_reports_redis_fields_with_live_values() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "a", "1"]);
    raw.cmd(&["SET", "b", "2"]);
    raw.cmd(&["PEXPIRE", "b", "100000"]);
    raw.cmd(&["GET", "a"]);
    raw.cmd(&["GET", "missing"]);
    raw.cmd(&["NOSUCH"]);
    raw.cmd(&["GET"]);
    let all = info(&mut raw, "everything");
    assert_eq!(all["redis_version"], "7.0.15");
    assert_eq!(all["redis_lite_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(all["loading"], "0");
    assert_eq!(all["role"], "master");
    assert_eq!(all["tcp_port"], server.port.to_string());
    assert_eq!(all["connected_clients"], "1");
    assert!(
        all["db0"].starts_with("keys=2,expires=1,avg_ttl="),
        "{}",
        all["db0"]
    );
    assert_eq!(all["keyspace_hits"], "1");
    assert_eq!(all["keyspace_misses"], "1");
    assert_eq!(all["rdb_changes_since_last_save"], "3");
    assert_eq!(all["errorstat_ERR"], "count=2");
    // The harness's start-up probe may have been told -LOADING once.
    let loading_probes: u64 = all
        .get("errorstat_LOADING")
        .map_or(0, |c| c.trim_start_matches("count=").parse().unwrap());
    assert_eq!(
        all["total_error_replies"],
        (2 + loading_probes).to_string(),
        "{all:?}"
    );
    assert!(
        all["cmdstat_get"].starts_with("calls=2,usec="),
        "{}",
        all["cmdstat_get"]
    );
    assert!(
        all["cmdstat_get"].ends_with("rejected_calls=1,failed_calls=0"),
        "{}",
        all["cmdstat_get"]
    );
    assert!(all["used_memory"].parse::<u64>().unwrap() > 100_000);
    assert!(all.contains_key("used_memory_human") && all.contains_key("mem_fragmentation_ratio"));
    let default = raw.cmd_text(&["INFO"]);
    assert!(!default.contains("# Commandstats") && default.contains("# Keyspace"));
    let two = raw.cmd_text(&["INFO", "server", "CLIENTS"]);
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));

    assert_eq!(raw.cmd_text(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    let reset = info(&mut raw, "everything");
    assert_eq!(reset["keyspace_hits"], "0");
    assert!(!reset.contains_key("errorstat_ERR"));
    assert!(!reset.contains_key("cmdstat_get"));
}

#[test]
fn expired_keys_are_counted_and_active_expiry_can_be_paused() {
    let server = Server::lite(&["--enable-debug-command", "yes", "--hz", "100"]);
    let mut raw = server.raw();
    raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for i in 0..50 {
        raw.cmd(&["SET", &format!("k{i}"), "v", "PX", "10"]);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        raw.cmd_text(&["DBSIZE"]),
        ":50\r\n",
        "no active expiry while paused"
    );
    raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        raw.cmd_text(&["DBSIZE"]),
        ":0\r\n",
        "the active cycle removed them untouched"
    );
    assert_eq!(info(&mut raw, "stats")["expired_keys"], "50");
}

#[test]
fn debug_is_refused_unless_enabled() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    assert!(raw
        .cmd_text(&["DEBUG", "SLEEP", "0"])
        .starts_with("-ERR DEBUG command not allowed."));
}

#[test]
fn command_count_and_docs_cover_the_table() {
    let server = Server::lite(&[]);
    let mut con = server.client();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(count, all.len());
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).unwrap();
    for expected in [
        "get",
        "set",
        "client|list",
        "config|get",
        "command|docs",
        "object|encoding",
        "scan",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from COMMAND LIST"
        );
    }
    let pattern: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .arg("FILTERBY")
        .arg("PATTERN")
        .arg("conf*")
        .query(&mut con)
        .unwrap();
    assert_eq!(pattern.len(), 6, "{pattern:?}");
    let docs: redis::Value = redis::cmd("COMMAND").arg("DOCS").query(&mut con).unwrap();
    match docs {
        redis::Value::Array(items) => assert_eq!(items.len(), 2 * count),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn config_rewrite_persists_runtime_changes() {
    let dir = std::env::temp_dir().join(format!("rl-rewrite-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, "# my settings\ntimeout 0\nloglevel notice\n").unwrap();
    let server = Launch::lite().config(&conf).start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "timeout", "30", "maxclients", "77"]),
        "+OK\r\n"
    );
    assert_eq!(raw.cmd_text(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with("# my settings\ntimeout 30\nloglevel notice\n"),
        "{text}"
    );
    assert!(text.contains("maxclients 77"), "{text}");
    assert!(info(&mut raw, "server")["config_file"].ends_with("redis.conf"));
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_config_stops_startup_naming_the_line() {
    let dir = std::env::temp_dir().join(format!("rl-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 7777\n\nmaxclients lots\n").unwrap();
    let out = Command::new(lite_binary().unwrap())
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains(">>> 'maxclients lots'"), "{err}");
    assert!(
        err.contains("argument couldn't be parsed into an integer"),
        "{err}"
    );

    std::fs::write(&conf, "frobnicate yes\n").unwrap();
    let out = Command::new(lite_binary().unwrap())
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad directive or wrong number of arguments")
    );
    let out = Command::new(lite_binary().unwrap())
        .args(["--port", "1", "2"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a directive with too many values is refused"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a program printed and its exit code, the log line's pid and time taken out.
fn startup_failure(program: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| match line.split_once(" # ") {
            Some((_, message)) => format!("<pid>:C <time> # {message}\n"),
            None => format!("{line}\n"),
        })
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stdout, stderr)
}

/// Start-up configuration errors print what Redis 7.0.15 prints, byte for byte, with its exit
/// code: an unknown directive, a bad value, a wrong number of arguments, unbalanced quotes and
/// an unreadable file, in a config file (an included one too) and on the command line, whose
/// options Redis turns into quoted config lines numbered after the file's.
#[test]
fn startup_config_errors_match_redis_byte_for_byte() {
    let Some(redis) = testkit::which("redis-server") else {
        testkit::skipped("redis-server is not on PATH");
        return;
    };
    let dir = testkit::DataDir::new("config-errors");
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let unknown = file(
        "unknown.conf",
        "port 7777\n\n# a comment\nbogus-directive yes\n",
    );
    let bad_value = file("value.conf", "  appendonly   maybe  \n");
    let arg_count = file("count.conf", "port 1 2\n");
    let no_value = file("none.conf", "maxmemory\n");
    let bad_save = file("save.conf", "save 1 2 3\n");
    let unbalanced = file("quotes.conf", "port \"7000\n");
    let no_newline = file("short.conf", "port 7000");
    let included = file("include.conf", &format!("port 7000\ninclude {bad_value}\n"));
    let missing = dir.join("missing.conf").to_str().unwrap().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec![&unknown],
        vec![&bad_value],
        vec![&arg_count],
        vec![&no_value],
        vec![&bad_save],
        vec![&unbalanced],
        vec![&included],
        vec![&missing],
        vec![&unknown, "--port", "7000"],
        vec![&no_newline, "--bogus", "1"],
        vec![&unknown, "--bogus", "1"],
        vec![&no_newline, "stray", "--port", "1"],
        vec!["--bogus-directive", "yes"],
        vec!["--port", "7777", "--bogus-directive", "a b", "c\"d\te"],
        vec!["--port", "abc"],
        vec!["--port", "1", "2"],
        vec!["--port 70000"],
        vec!["--maxmemory", "--5"],
        vec!["--appendonly"],
        vec!["--save", "--bogus"],
        vec!["--save", "", "--port", "7777", "--save", "1"],
        vec!["--port", "\"7000"],
    ];
    for args in cases {
        let lite = startup_failure(&lite_binary().unwrap(), &args);
        assert_eq!(lite.0, Some(1), "{args:?}");
        assert_eq!(lite, startup_failure(&redis, &args), "{args:?}");
    }
}

#[test]
fn sigterm_and_shutdown_exit_cleanly() {
    for how in ["SIGTERM", "SIGINT", "SHUTDOWN"] {
        let mut server = Server::lite(&["--loglevel", "notice"]);
        match how {
            "SHUTDOWN" => {
                let mut raw = server.raw();
                raw.send(&testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
                assert!(
                    raw.is_closed(),
                    "SHUTDOWN closes the connection without a reply"
                );
            }
            signal => {
                let status = Command::new("kill")
                    .args(["-s", &signal[3..], &server.pid().to_string()])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        let status = server
            .wait_exit(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{how}: still running"));
        assert!(status.success(), "{how}: exit status {status}");
    }
}

#[test]
fn startup_logs_a_banner_and_respects_logfile() {
    let dir = std::env::temp_dir().join(format!("rl-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("server.log");
    let server = Server::lite(&["--logfile", log.to_str().unwrap(), "--threads", "3"]);
    let mut raw = server.raw();
    raw.cmd(&["PING"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("redis-lite"), "{text}");
    assert!(text.contains(&format!("port={}", server.port)), "{text}");
    assert!(text.contains("threads=3"), "{text}");
    assert!(text.contains("Ready to accept connections"), "{text}");
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same script gives the same bytes with one event loop as with several.
#[test]
fn one_thread_behaves_like_many() {
    let script: &[&[&str]] = testkit::script!("server/one_thread_behaves_like_many");
    let replies = |threads: &str| {
        let server = Server::lite(&["--threads", threads]);
        let mut raw = server.raw();
        script.iter().map(|cmd| raw.cmd(cmd)).collect::<Vec<_>>()
    };
    assert_eq!(replies("1"), replies("4"));
}

/// Multi-key commands are atomic across event loops: concurrent MSETs of a pair never leave a
/// reader seeing a mixed pair.
#[test]
fn multi_key_writes_are_atomic_across_threads() {
    let server = Server::lite(&["--threads", "4"]);
    let port = server.port;
    let writers: Vec<_> = (0..3)
        .map(|w| {
            std::thread::spawn(move || {
                let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                for i in 0..300 {
                    let v = format!("{w}-{i}");
                    let _: () = redis::cmd("MSET")
                        .arg("pair:a")
                        .arg(&v)
                        .arg("pair:b")
                        .arg(&v)
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    let mut con = server.client();
    for _ in 0..600 {
        let (a, b): (Option<String>, Option<String>) = redis::cmd("MGET")
            .arg("pair:a")
            .arg("pair:b")
            .query(&mut con)
            .unwrap();
        assert_eq!(a, b, "MGET saw a half-applied MSET");
    }
    for w in writers {
        w.join().unwrap();
    }
}

/// redis-benchmark's SET, GET, INCR and MSET tests run with no errors.
#[test]
fn redis_benchmark_runs_without_errors() {
    if !testkit::installed("redis-benchmark") {
        return;
    }
    let server = Server::lite(&[]);
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &server.port.to_string(),
            "-t",
            "set,get,incr,mset",
            "-n",
            "2000",
            "-c",
            "10",
            "-q",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for test in ["SET:", "GET:", "INCR:", "MSET (10 keys):"] {
        assert!(text.contains(test), "{test} missing: {text}");
    }
    assert!(!text.to_lowercase().contains("error"), "{text}");
}

/// Commands whose keys follow a count (LMPOP, BLMPOP, SINTERCARD) report `movablekeys`, and
/// COMMAND GETKEYS finds their keys, as in Redis.
#[test]
fn counted_keys_match_redis() {
    differential(
        &[
            &["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
            &["COMMAND", "GETKEYS", "BLMPOP", "0", "2", "a", "b", "LEFT"],
            &["COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b"],
            &["COMMAND", "GETKEYS", "LMPOP", "0", "a", "LEFT"],
            &["COMMAND", "GETKEYS", "LMPOP", "5", "a", "LEFT"],
            &["COMMAND", "GETKEYS", "LMPOP", "x", "a", "LEFT"],
        ],
        false,
    );
    let server = Server::lite(&[]);
    let info = server.raw().cmd_text(&["COMMAND", "INFO", "LMPOP"]);
    assert!(info.contains("+movablekeys"), "{info}");
}

/// DEBUG OBJECT's serializedlength follows RDB's plain encodings for every type.
#[test]
fn debug_object_reports_serialized_lengths() {
    let server = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = server.raw();
    let length = |raw: &mut testkit::Raw, key: &str| {
        let text = raw.cmd_text(&["DEBUG", "OBJECT", key]);
        text.split_whitespace()
            .find_map(|f| f.strip_prefix("serializedlength:"))
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    raw.cmd(&["SET", "int", "12"]);
    raw.cmd(&["SET", "str", "bar"]);
    raw.cmd(&["RPUSH", "list", "a", "bc", "7"]);
    raw.cmd(&["HSET", "hash", "f", "vv"]);
    raw.cmd(&["SADD", "set", "x", "1000"]);
    raw.cmd(&["ZADD", "zset", "1", "m"]);
    assert_eq!(length(&mut raw, "int"), 2);
    assert_eq!(length(&mut raw, "str"), 4);
    assert_eq!(length(&mut raw, "list"), 1 + 2 + 3 + 2);
    assert_eq!(length(&mut raw, "hash"), 1 + 2 + 3);
    assert_eq!(length(&mut raw, "set"), 1 + 2 + 3);
    assert_eq!(length(&mut raw, "zset"), 1 + 2 + 8);
}

/// The test kit finds the server beside the test executable; that must be the binary cargo built
/// from this tree for these tests, not a stale one from elsewhere.
#[test]
fn the_kit_starts_the_server_cargo_built_for_these_tests() {
    let built = std::fs::canonicalize(env!("CARGO_BIN_EXE_redis-lite-server")).unwrap();
    let found = lite_binary().expect("the kit finds redis-lite-server");
    assert_eq!(std::fs::canonicalize(&found).unwrap(), built);
    let server = Server::lite(&[]);
    assert_eq!(std::fs::canonicalize(server.executable()).unwrap(), built);
}
