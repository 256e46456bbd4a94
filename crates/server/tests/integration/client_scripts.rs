//! Client libraries' script helpers, run against real Redis and then redis-lite with the same
//! steps, so a failure on redis-lite alone is ours and one on both is the library's: redis-py's
//! `register_script` and functions, the `redis` crate's `Script`, ioredis's `defineCommand`
//! and node-redis's `defineScript`. The Python and Node.js programs live in `tests/clients`
//! and `tests/js` (whose `npm ci` CI runs); each asserts every step and prints `ok`.
use redis_lite_testkit as testkit;

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::Server;

/// The servers each client runs against: real Redis first when it is installed, then
/// redis-lite.
fn servers() -> Vec<Server> {
    let mut servers: Vec<Server> = Server::redis(&[]).into_iter().collect();
    servers.push(Server::lite(&[]));
    servers
}

/// Whether `python3` can import redis-py; says the test is skipped when it cannot.
pub fn redis_py_installed() -> bool {
    let importable = Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        testkit::skipped("redis-py is not installed (pip install redis)");
    }
    importable
}

/// The Node.js test package, or None (saying the test is skipped) when node or the package's
/// `module` is not installed.
pub fn node_package(module: &str) -> Option<PathBuf> {
    if !testkit::installed("node") {
        return None;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !dir.join("node_modules").join(module).is_dir() {
        testkit::skipped(&format!(
            "{module} is not installed (npm ci --prefix {})",
            dir.display()
        ));
        return None;
    }
    Some(dir)
}

/// Runs `program script PORT` against each server; it must succeed and print `ok`.
fn run_client_program(program: &str, script: &Path) {
    for server in servers() {
        let out = Command::new(program)
            .arg(script)
            .arg(server.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout == b"ok\n",
            "{} against {}:\n{}{}",
            script.display(),
            server.executable().display(),
            testkit::text(&out.stdout),
            testkit::text(&out.stderr)
        );
    }
}

#[test]
fn redis_py_register_script_and_functions() {
    if !redis_py_installed() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_scripts.py");
    run_client_program("python3", &script);
}

#[test]
fn ioredis_define_command() {
    let Some(dir) = node_package("ioredis") else {
        return;
    };
    run_client_program("node", &dir.join("ioredis_scripts.js"));
}

#[test]
fn node_redis_define_script() {
    let Some(dir) = node_package("redis") else {
        return;
    };
    run_client_program("node", &dir.join("node_redis_scripts.js"));
}

/// How many NOSCRIPT errors the server has answered, from INFO errorstats.
fn noscript_errors(con: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("errorstats").query(con).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("errorstat_NOSCRIPT:count="))
        .map_or(0, |count| count.parse().unwrap())
}

#[test]
fn redis_crate_script_invoke_reloads_after_flush() {
    for server in servers() {
        let mut con = server.client();
        let add = redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        // invoke sends EVALSHA and, on NOSCRIPT, loads the script and sends it again.
        let total: i64 = add.key("counter").arg(5).invoke(&mut con).unwrap();
        assert_eq!((total, noscript_errors(&mut con)), (5, 1));
        let total: i64 = add.key("counter").arg(2).invoke(&mut con).unwrap();
        assert_eq!((total, noscript_errors(&mut con)), (7, 1));
        let () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
        let total: i64 = add.key("counter").arg(3).invoke(&mut con).unwrap();
        assert_eq!((total, noscript_errors(&mut con)), (10, 2));
        let exists: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(add.get_hash())
            .query(&mut con)
            .unwrap();
        assert_eq!(exists, [true]);

        let mixed = redis::Script::new(
            "return {KEYS[1], tonumber(ARGV[1]) * 1.5, {'nested'}, nil, 'after'}",
        );
        let reply: redis::Value = mixed.key("k").arg(3).invoke(&mut con).unwrap();
        assert_eq!(
            reply,
            redis::Value::Array(vec![
                redis::Value::BulkString(b"k".to_vec()),
                redis::Value::Int(4),
                redis::Value::Array(vec![redis::Value::BulkString(b"nested".to_vec())]),
            ])
        );

        let () = redis::cmd("SET")
            .arg("text")
            .arg("abc")
            .query(&mut con)
            .unwrap();
        let incr = redis::Script::new("return redis.call('INCR', KEYS[1])");
        let err = incr.key("text").invoke::<i64>(&mut con).unwrap_err();
        assert_eq!(
            err.detail(),
            Some(&*format!(
                "value is not an integer or out of range script: {}, on @user_script:1.",
                incr.get_hash()
            ))
        );
    }
}
