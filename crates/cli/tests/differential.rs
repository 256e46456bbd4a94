//! The same commands through redis-lite-cli and Debian's redis-cli, against the same real
//! redis-server: stdout, stderr and exit status must be identical, for every reply type, in
//! raw (no terminal), `--no-raw` and RESP3 (`-3`) output.

mod common;

use common::assert_same_as_redis_cli;
use redis_lite_testkit::{free_port, installed, run, DataDir, Server};

/// Both clients, or None (SKIPPED) when redis-cli or redis-server is missing.
fn setup() -> Option<Server> {
    if !installed("redis-cli") {
        return None;
    }
    let server = Server::redis(&[])?;
    let port = server.port.to_string();
    let load = |args: &[&str], stdin: &[u8]| {
        let mut all = vec!["-p", &port];
        all.extend_from_slice(args);
        assert!(run("redis-cli", &all, stdin).status.success());
    };
    load(
        &["-x", "SET", "bin"],
        b"a\x01b\xffc\"d\\e\n\t\r\x07\x08 ~\x7f\x00end",
    );
    load(&["SET", "uni", "héllo wörld ✓"], b"");
    load(&["SET", "empty", ""], b"");
    load(
        &[
            "RPUSH", "list", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k",
        ],
        b"",
    );
    load(&["HSET", "hash", "f1", "v1", "f2", "2"], b"");
    load(&["SADD", "set", "x", "y", "z"], b"");
    load(
        &["ZADD", "zset", "1.5", "one", "2", "two", "3.25", "three"],
        b"",
    );
    load(&["SET", "counter", "41"], b"");
    Some(server)
}

/// Runs `args` through both clients in every output mode and compares everything.
fn same(port: u16, args: &[&str], stdin: &[u8]) {
    let port = port.to_string();
    for mode in [&[][..], &["--no-raw"], &["-3"], &["-3", "--no-raw"]] {
        let mut all = vec!["-p", &port];
        all.extend_from_slice(mode);
        all.extend_from_slice(args);
        assert_same_as_redis_cli(&all, stdin);
    }
}

#[test]
fn every_reply_type_prints_like_redis_cli() {
    let Some(server) = setup() else { return };
    let p = server.port;
    let script: &[&[&str]] = &[
        // Strings: binary escapes, unicode bytes, empty; status; nil.
        &["GET", "bin"],
        &["GET", "uni"],
        &["GET", "empty"],
        &["SET", "k", "v"],
        &["GET", "missing"],
        // Integers and errors.
        &["INCRBY", "counter", "0"],
        &["LLEN", "list"],
        &["NOSUCHCOMMAND", "x"],
        &["INCR", "list"],
        // Arrays: flat with two-digit numbering, empty, nested, with nils and errors inside.
        &["LRANGE", "list", "0", "-1"],
        &["LRANGE", "missing", "0", "-1"],
        &["MGET", "k", "missing", "uni"],
        &[
            "EVAL",
            "return {1,{2,{'a','b'},{}},'x',{err='boom'},{1,2,3,4,5,6,7,8,9,10,{1,2}}}",
            "0",
        ],
        // Maps, sets and doubles (RESP3 types, flattened in RESP2).
        &["HGETALL", "hash"],
        &["HGETALL", "missing"],
        &["SMEMBERS", "set"],
        &["SMEMBERS", "missing"],
        &["ZRANGE", "zset", "0", "-1", "WITHSCORES"],
        &["ZSCORE", "zset", "three"],
        &["CONFIG", "GET", "maxmemory*"],
        &["COMMAND", "DOCS", "set", "get"],
        &["COMMAND", "INFO", "get"],
        &[
            "EVAL",
            "redis.setresp(3); return {map={k={'x','y'}, n={{'z'}}}}",
            "0",
        ],
        // Every type DEBUG PROTOCOL produces that redis-cli 7.0 can print.
        &["DEBUG", "PROTOCOL", "string"],
        &["DEBUG", "PROTOCOL", "integer"],
        &["DEBUG", "PROTOCOL", "double"],
        &["DEBUG", "PROTOCOL", "null"],
        &["DEBUG", "PROTOCOL", "array"],
        &["DEBUG", "PROTOCOL", "set"],
        &["DEBUG", "PROTOCOL", "map"],
        &["DEBUG", "PROTOCOL", "verbatim"],
        &["DEBUG", "PROTOCOL", "true"],
        &["DEBUG", "PROTOCOL", "false"],
        &["DEBUG", "PROTOCOL", "push"],
        // Text reports are printed raw in every mode.
        &["INFO", "keyspace"],
    ];
    for args in script {
        same(p, args, b"");
    }
}

#[test]
fn options_and_tools_behave_like_redis_cli() {
    let Some(server) = setup() else { return };
    let p = server.port;
    same(p, &["-x", "SET", "fromstdin"], b"line one\nline two\n");
    same(p, &["GET", "fromstdin"], b"");
    same(p, &["-n", "3", "DBSIZE"], b"");
    same(p, &["-n", "999", "PING"], b"");
    same(p, &["-a", "nopass", "PING"], b"");
    same(p, &["-r", "3", "ECHO", "again"], b"");
    same(p, &["--scan"], b"");
    same(p, &["--scan", "--pattern", "*s*"], b"");
    same(p, &["--bigkeys"], b"");
    same(
        p,
        &["--pipe"],
        b"SET piped 1\r\n*2\r\n$3\r\nGET\r\n$5\r\npiped\r\nBADCMD\r\n",
    );
    same(p, &["-q"], b"");
    let closed = free_port().to_string();
    same(p, &["-p", &closed, "PING"], b"");
    same(p, &["-s", "/nonexistent/redis.sock", "PING"], b"");
}

#[test]
fn eval_runs_script_files_like_redis_cli() {
    let Some(server) = setup() else { return };
    let p = server.port;
    let dir = DataDir::new("eval");
    let file = |name: &str, script: &str| {
        let path = dir.join(name);
        std::fs::write(&path, script).unwrap();
        path.to_str().unwrap().to_string()
    };
    // Several lines and a trailing newline: the file is sent whole.
    let echo = file("echo.lua", "-- keys, then arguments\nreturn {KEYS, ARGV}\n");
    // Each run goes through both clients, so the scripts leave the data as it was.
    let incr = file("incr.lua", "return redis.call('INCRBY', KEYS[1], 0)");
    let read_only = file(
        "ro.lua",
        "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], ARGV[1])",
    );
    let broken = file("broken.lua", "return 1 +");
    let missing = dir.join("missing.lua");
    let missing = missing.to_str().unwrap();
    for args in [
        &[&echo[..], "k1", "k2", ",", "a1", "a2"][..],
        &[&echo, "k1", ",", "a1", ",", "a2"],
        &[&echo, "k1,k2", ",", "a"],
        &[&echo, ",", "only-arg"],
        &[&echo, "only-key", ","],
        &[&echo],
        &[&incr, "counter"],
        &[&incr, "list"],
        &[&incr],
        &[&read_only, "k", ",", "v"],
        &[&broken],
        &[missing, "k"],
        // A directory opens but cannot be read: an empty script.
        &[dir.path()],
    ] {
        let mut all = vec!["--eval"];
        all.extend_from_slice(args);
        same(p, &all, b"");
    }
    // Options may follow the file name; repeats run the script again.
    same(p, &["--eval", &incr, "-r", "3", "counter"], b"");
    same(p, &["--eval"], b"");
}
