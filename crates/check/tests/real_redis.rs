//! Interoperability with real Redis 7: a dataset real `redis-server` SAVEs goes through
//! `export --json` and `import --json` (to a file, and to a live server), and real Redis loads
//! the result with the same DEBUG DIGEST (which covers every key and value in every database)
//! and expiry times; a real AOF cut short by a crash is fixed so that real Redis and
//! redis-check-aof accept it, having lost only the incomplete command.
mod common;

use std::process::Command;
use std::time::Duration;

use common::{keys_of, run, stderr, stdout};
use redis_lite_testkit::{installed, wait_until, DataDir, Launch, Server};

/// Real redis-server on the files in `dir`, without snapshots, the AOF on or off.
/// Real Redis on `dir`. `appendfsync always`: under `everysec` Redis postpones its AOF write
/// by up to two seconds while an fsync is still running (a loaded machine), so a reply would
/// not prove its write is in the file the test then reads or cuts.
fn start_redis(dir: &std::path::Path, appendonly: &str) -> Server {
    Launch::redis()
        .dir(dir)
        .args(&[
            "--save",
            "",
            "--appendonly",
            appendonly,
            "--appendfsync",
            "always",
        ])
        .start()
}

/// One key of every type and encoding Redis 7.0 has, binary names and contents, expiries,
/// in databases 0, 3 and 9.
fn populate(con: &mut redis::Connection) {
    let bin: &[u8] = b"\x00\xff\xfe bin\r\n";
    let many: Vec<String> = (0..700).map(|i| format!("element-{i}")).collect();
    let q = |c: &mut redis::Cmd, con: &mut redis::Connection| c.query::<()>(con).unwrap();
    q(redis::cmd("SELECT").arg(0), con);
    q(redis::cmd("SET").arg("int").arg("-123456"), con);
    q(
        redis::cmd("SET")
            .arg("embstr")
            .arg("hello")
            .arg("PX")
            .arg(100_000_000),
        con,
    );
    q(redis::cmd("SET").arg("raw").arg("x".repeat(100)), con);
    q(redis::cmd("SET").arg(bin).arg(bin), con);
    q(redis::cmd("APPEND").arg("appended").arg("abc"), con);
    q(
        redis::cmd("RPUSH")
            .arg("list")
            .arg(&["a", "1", "-7"])
            .arg(bin),
        con,
    );
    q(redis::cmd("RPUSH").arg("biglist").arg(&many), con);
    q(
        redis::cmd("PEXPIREAT")
            .arg("biglist")
            .arg(4_102_444_800_123i64),
        con,
    );
    q(redis::cmd("SELECT").arg(3), con);
    q(
        redis::cmd("SADD").arg("intset").arg(&["1", "-5", "100000"]),
        con,
    );
    q(redis::cmd("SADD").arg("set").arg(&["a", "b"]).arg(bin), con);
    q(
        redis::cmd("HSET")
            .arg("hash")
            .arg(&["f", "v", "n", "1"])
            .arg(bin)
            .arg(bin),
        con,
    );
    let pairs: Vec<&String> = many.iter().flat_map(|m| [m, m]).collect();
    q(redis::cmd("HSET").arg("bighash").arg(&pairs), con);
    q(redis::cmd("EXPIRE").arg("bighash").arg(100_000), con);
    q(redis::cmd("SELECT").arg(9), con);
    q(
        redis::cmd("ZADD")
            .arg("zset")
            .arg(&["1.5", "a", "-inf", "ninf", "+inf", "inf", "0.1", "tenth"])
            .arg("-0.25")
            .arg(bin),
        con,
    );
    let scored: Vec<String> = many
        .iter()
        .enumerate()
        .flat_map(|(i, m)| [format!("{}", i as f64 / 7.0), m.clone()])
        .collect();
    q(redis::cmd("ZADD").arg("bigzset").arg(&scored), con);
    q(redis::cmd("SET").arg(bin).arg("other db"), con);
}

/// DEBUG DIGEST (which sees only whether a key has an expiry), the key counts of the three
/// databases, and the exact expiry times.
fn fingerprint(redis: &Server) -> (String, Vec<i64>) {
    let mut con = redis.client();
    let digest = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    let mut numbers = Vec::new();
    for (db, keys) in [(0, &["embstr", "biglist"][..]), (3, &["bighash"]), (9, &[])] {
        redis::cmd("SELECT").arg(db).query::<()>(&mut con).unwrap();
        numbers.push(redis::cmd("DBSIZE").query(&mut con).unwrap());
        for k in keys {
            numbers.push(redis::cmd("PEXPIRETIME").arg(k).query(&mut con).unwrap());
        }
    }
    (digest, numbers)
}

/// Waits until Redis has no AOF rewrite running or scheduled.
fn wait_for_aof_rewrites(con: &mut redis::Connection) {
    wait_until("the AOF rewrite to finish", Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("persistence").query(con).unwrap();
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
    });
}

#[test]
fn real_redis_aof_truncated_then_fixed_loads_in_redis() {
    if !installed("redis-server") || !installed("redis-check-aof") {
        return;
    }
    let dir = DataDir::new("redis-aof");
    let expected = {
        let redis = start_redis(&dir.0, "yes");
        let mut con = redis.client();
        // Redis may rewrite the new AOF in the background right after start; the writes below
        // must all land in the incremental file the manifest lists at the end.
        wait_for_aof_rewrites(&mut con);
        for (k, v) in [("a", "1"), ("b", "2")] {
            redis::cmd("SET")
                .arg(k)
                .arg(v)
                .query::<()>(&mut con)
                .unwrap();
        }
        let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
        redis::cmd("SET")
            .arg("c")
            .arg("lost")
            .query::<()>(&mut con)
            .unwrap();
        digest
    }; // killed: what Redis wrote is in the file, as after a crash
    let aof_dir = dir.join("appendonlydir");
    // The incremental file the manifest lists (`file <name> seq <n> type i`).
    let manifest_text = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let incr_name = manifest_text
        .lines()
        .filter(|l| l.ends_with("type i"))
        .filter_map(|l| l.split(' ').nth(1))
        .next_back()
        .expect("the manifest lists an incremental file");
    let incr = aof_dir.join(incr_name);
    let len = std::fs::metadata(&incr).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    f.set_len(len - 3).unwrap();

    let out = run(&[&"aof", &aof_dir]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&[&"aof", &"--fix", &"--yes", &aof_dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = aof_dir.join("appendonly.aof.manifest");
    let theirs = Command::new("redis-check-aof")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stdout)
    );
    let redis = start_redis(&dir.0, "yes");
    let mut con = redis.client();
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    assert_eq!(digest, expected);
}

#[test]
fn real_redis_aof_directory_exports_the_same_dataset_as_its_rdb() {
    if !installed("redis-server") {
        return;
    }
    let dir = DataDir::new("redis-aof-export");
    {
        let redis = start_redis(&dir.0, "yes");
        let mut con = redis.client();
        populate(&mut con);
        // An RDB-preamble base, then more writes in the incremental file.
        redis::cmd("BGREWRITEAOF").query::<()>(&mut con).unwrap();
        wait_for_aof_rewrites(&mut con);
        let q = |c: &mut redis::Cmd, con: &mut redis::Connection| c.query::<()>(con).unwrap();
        q(redis::cmd("SELECT").arg(0), &mut con);
        q(
            redis::cmd("RPUSH").arg("list").arg("after-rewrite"),
            &mut con,
        );
        q(
            redis::cmd("SET")
                .arg("new")
                .arg("v")
                .arg("PX")
                .arg(100_000_000),
            &mut con,
        );
        q(&mut redis::cmd("MULTI"), &mut con);
        q(redis::cmd("INCRBY").arg("int").arg(5), &mut con);
        q(&mut redis::cmd("EXEC"), &mut con);
        q(&mut redis::cmd("SAVE"), &mut con);
    }
    let (from_rdb, from_aof) = (dir.join("rdb.json"), dir.join("aof.json"));
    let out = run(&[
        &"export",
        &"--json",
        &dir.join("dump.rdb"),
        &"-o",
        &from_rdb,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[
        &"export",
        &"--json",
        &dir.join("appendonlydir"),
        &"-o",
        &from_aof,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("replayed 2 files"),
        "{}",
        stderr(&out)
    );
    let (a, b) = (dir.join("a.rdb"), dir.join("b.rdb"));
    assert!(run(&[&"import", &"--json", &from_rdb, &"-o", &a])
        .status
        .success());
    assert!(run(&[&"import", &"--json", &from_aof, &"-o", &b])
        .status
        .success());
    let (a, b) = (keys_of(&a), keys_of(&b));
    assert_eq!(a.len(), 15);
    assert!(
        a == b,
        "the AOF replays to a different dataset than the RDB holds"
    );
}

#[test]
fn real_redis_dataset_survives_export_and_import() {
    if !installed("redis-server") {
        return;
    }
    let (a, b) = (DataDir::new("redis-a"), DataDir::new("redis-b"));
    let expected = {
        let redis = start_redis(&a.0, "no");
        let mut con = redis.client();
        populate(&mut con);
        let encodings: Vec<String> = ["biglist", "bighash", "bigzset", "zset", "intset"]
            .iter()
            .map(|k| {
                let db = match *k {
                    "biglist" => 0,
                    "bighash" | "intset" => 3,
                    _ => 9,
                };
                redis::cmd("SELECT").arg(db).query::<()>(&mut con).unwrap();
                redis::cmd("OBJECT")
                    .arg("ENCODING")
                    .arg(k)
                    .query(&mut con)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            encodings,
            ["quicklist", "hashtable", "skiplist", "listpack", "intset"]
        );
        redis::cmd("SAVE").query::<()>(&mut con).unwrap();
        fingerprint(&redis)
    };
    assert_eq!(expected.1[2], 4_102_444_800_123);

    let (json, rdb) = (a.join("data.json"), b.join("dump.rdb"));
    let out = run(&[&"export", &"--json", &a.join("dump.rdb"), &"-o", &json]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[&"import", &"--json", &json, &"-o", &rdb]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[&"rdb", &rdb]);
    assert!(out.status.success(), "{}", stderr(&out));

    let redis = start_redis(&b.0, "no");
    assert_eq!(fingerprint(&redis), expected);
    drop(redis);

    // The same export sent to a running server as RESTOREs.
    let c = DataDir::new("redis-c");
    let redis = start_redis(&c.0, "no");
    let port = redis.port.to_string();
    let live = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec!["import".into(), "--json".into()];
        args.push(json.clone().into());
        args.extend(["--host", "127.0.0.1", "--port", &port].map(Into::into));
        args.extend(extra.iter().map(Into::into));
        run(&args.iter().map(|a| a as _).collect::<Vec<_>>())
    };
    let out = live(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("restored 14 keys"));
    assert_eq!(fingerprint(&redis), expected);
    // Existing keys are refused, naming the line, unless --replace.
    let out = live(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("data.json:1: RESTORE"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("-BUSYKEY"), "{}", stderr(&out));
    let out = live(&["--replace"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fingerprint(&redis), expected);
}

/// XINFO STREAM FULL of every stream `keys` names in database 0, without the node counts
/// (an import packs the entries into nodes afresh).
fn streams_in_full(redis: &Server, keys: &[&str]) -> Vec<redis::Value> {
    let mut con = redis.client();
    redis::cmd("SELECT").arg(0).query::<()>(&mut con).unwrap();
    keys.iter()
        .map(|key| {
            let info: redis::Value = redis::cmd("XINFO")
                .arg("STREAM")
                .arg(key)
                .arg("FULL")
                .arg("COUNT")
                .arg(0)
                .query(&mut con)
                .unwrap();
            let redis::Value::Array(mut fields) = info else {
                panic!("XINFO STREAM FULL {key}: {info:?}")
            };
            for pair in fields.chunks_mut(2) {
                if let [redis::Value::BulkString(name), value] = pair {
                    if name.starts_with(b"radix-tree-") {
                        *value = redis::Value::Nil;
                    }
                }
            }
            redis::Value::Array(fields)
        })
        .collect()
}

#[test]
fn real_redis_streams_survive_export_and_import() {
    if !installed("redis-server") {
        return;
    }
    const STREAMS: [&str; 3] = ["events", "emptied", "made"];
    let (a, b) = (
        DataDir::new("redis-streams-a"),
        DataDir::new("redis-streams-b"),
    );
    let expected = {
        let redis = start_redis(&a.0, "no");
        let mut con = redis.client();
        let q = |args: &[&str], con: &mut redis::Connection| {
            redis::cmd(args[0])
                .arg(&args[1..])
                .query::<redis::Value>(con)
                .unwrap();
        };
        let bin = "\u{0}\u{7f} bin";
        for i in 1..=150 {
            let id = format!("{i}-1");
            let n = i.to_string();
            q(
                &["XADD", "events", &id, "n", &n, bin, "-12", "n", "again"],
                &mut con,
            );
        }
        q(
            &["XADD", "events", "151-0", "big", &"x".repeat(6000)],
            &mut con,
        );
        q(&["XDEL", "events", "1-1", "70-1"], &mut con);
        q(&["XGROUP", "CREATE", "events", "g", "0"], &mut con);
        q(
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "5",
                "STREAMS",
                "events",
                ">",
            ],
            &mut con,
        );
        q(
            &[
                "XCLAIM",
                "events",
                "g",
                "bob",
                "0",
                "3-1",
                "RETRYCOUNT",
                "4",
            ],
            &mut con,
        );
        q(&["XGROUP", "CREATECONSUMER", "events", "g", bin], &mut con);
        q(
            &[
                "XGROUP",
                "CREATE",
                "events",
                "later",
                "100-1",
                "ENTRIESREAD",
                "99",
            ],
            &mut con,
        );
        q(&["XADD", "emptied", "9-9", "f", "v"], &mut con);
        q(&["XDEL", "emptied", "9-9"], &mut con);
        q(
            &["XGROUP", "CREATE", "made", "g", "$", "MKSTREAM"],
            &mut con,
        );
        q(&["SAVE"], &mut con);
        (fingerprint(&redis).0, streams_in_full(&redis, &STREAMS))
    };
    let (json, rdb) = (a.join("data.json"), b.join("dump.rdb"));
    let out = run(&[&"export", &"--json", &a.join("dump.rdb"), &"-o", &json]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[&"import", &"--json", &json, &"-o", &rdb]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[&"rdb", &rdb]);
    assert!(
        stdout(&out).contains("db 0: 3 keys (3 stream), 0 with an expiry"),
        "{}",
        stdout(&out)
    );
    let redis = start_redis(&b.0, "no");
    assert_eq!(
        (fingerprint(&redis).0, streams_in_full(&redis, &STREAMS)),
        expected
    );
}
