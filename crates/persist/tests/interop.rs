//! Interop with a real Redis 7.0.15 (`redis-server`): files Redis writes load here,
//! and files written here load in Redis with the same data and encodings. Skipped (with a
//! `SKIPPED:` line) when redis-server is not installed.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::{End, List};
use redis_lite_engine::set::Set;
use redis_lite_engine::stream::{Stream, StreamId};
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{EncodingLimits, Value};
use redis_lite_persist::rdb::{read_rdb, Event, WriteOptions};
use redis_lite_testkit::{installed, DataDir, Launch, Program, Raw, Reply, Server};

mod common;
use common::Item;

/// Loads a file Redis wrote, checking its checksum was verified and its aux fields seen.
fn read_file(path: &Path) -> Vec<Item> {
    read_file_with_functions(path).0
}

/// The keys, and the function libraries' code.
fn read_file_with_functions(path: &Path) -> (Vec<Item>, Vec<Vec<u8>>) {
    let mut aux = Vec::new();
    let mut functions = Vec::new();
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let summary = read_rdb(file, EncodingLimits::default(), |e| {
        match e {
            Event::Aux { key, .. } => aux.push(String::from_utf8(key).unwrap()),
            Event::Function(code) => functions.push(code),
            _ => {}
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(summary.checksum_verified);
    assert!(aux.contains(&"redis-ver".to_string()), "{aux:?}");
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    (common::read_from(file).unwrap(), functions)
}

fn write_file(path: &Path, data: &[Item], opts: WriteOptions) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    common::write_to(file, data, opts);
}
use redis_lite_persist::{dump_value, restore_value};
use redis_lite_protocol::number::format_f64;

/// Real redis-server on `dir`, loading (and saving to) `dbfilename`, with the engine's
/// encoding thresholds (this build of Redis may default differently) and `extra` arguments.
fn start_redis(dir: &Path, dbfilename: &str, extra: &[&str]) -> Server {
    let limits = limit_args();
    let limits: Vec<&str> = limits.iter().map(String::as_str).collect();
    Launch::redis()
        .dir(dir)
        .args(&[
            "--dbfilename",
            dbfilename,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(&limits)
        .args(extra)
        .start()
}

fn limit_args() -> Vec<String> {
    let l = EncodingLimits::default();
    [
        ("list-max-listpack-size", l.list_max_listpack_size),
        ("hash-max-listpack-entries", l.hash_max_listpack_entries),
        ("hash-max-listpack-value", l.hash_max_listpack_value),
        ("set-max-intset-entries", l.set_max_intset_entries),
        ("zset-max-listpack-entries", l.zset_max_listpack_entries),
        ("zset-max-listpack-value", l.zset_max_listpack_value),
    ]
    .iter()
    .flat_map(|(k, v)| [format!("--{k}"), v.to_string()])
    .collect()
}

/// The encoding a value has after a load: strings are rebuilt whole, so an appended (`raw`)
/// short string comes back `embstr`, in Redis as here.
fn loaded_encoding(v: &Value) -> &'static str {
    match v {
        Value::RawStr(s) => Value::string(s).encoding(),
        _ => v.encoding(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

// ---------------------------------------------------------------------------------------------
// Canonical forms, for comparing what Redis holds with decoded values.

/// Type name and contents: list order kept, hash/set contents sorted, zset in rank order with
/// scores as Redis prints them.
fn canon_value(v: &Value) -> (String, Vec<Vec<u8>>) {
    let t = v.type_name().to_string();
    let items = match v {
        Value::Int(n) => vec![n.to_string().into_bytes()],
        Value::Str(s) => vec![s.to_vec()],
        Value::RawStr(s) => vec![s.to_vec()],
        Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
        Value::Hash(h) => {
            let mut pairs: Vec<Vec<u8>> = h.iter().map(|(f, v)| [f, b"=", v].concat()).collect();
            pairs.sort();
            pairs
        }
        Value::Set(s) => {
            let mut m: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            m.sort();
            m
        }
        Value::ZSet(z) => {
            let mut out = Vec::new();
            z.range(0, z.len(), false, |m, s| {
                out.push(m.to_vec());
                let mut t = Vec::new();
                format_f64(s, &mut t);
                out.push(t);
            });
            out
        }
        // Entries (ID, then fields and values), then the metadata XINFO STREAM shows.
        Value::Stream(stream) => {
            let mut out = Vec::new();
            for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
                out.push(entry.id.to_text());
                for (f, v) in entry.fields() {
                    out.push(f.to_vec());
                    out.push(v.to_vec());
                }
            }
            out.push(stream.last_id().to_text());
            out.push(stream.entries_added().to_string().into_bytes());
            out.push(stream.max_deleted_id().to_text());
            out
        }
    };
    (t, items)
}

fn canon_redis(c: &mut Raw, key: &[u8]) -> (String, Vec<Vec<u8>>) {
    let t = String::from_utf8(c.ok(&[b"TYPE", key]).bytes()).unwrap();
    let items = match t.as_str() {
        "string" => vec![c.ok(&[b"GET", key]).bytes()],
        "list" => c.ok(&[b"LRANGE", key, b"0", b"-1"]).array(),
        "hash" => {
            let flat = c.ok(&[b"HGETALL", key]).array();
            let mut pairs: Vec<Vec<u8>> = flat
                .chunks(2)
                .map(|p| [&p[0][..], b"=", &p[1][..]].concat())
                .collect();
            pairs.sort();
            pairs
        }
        "set" => {
            let mut m = c.ok(&[b"SMEMBERS", key]).array();
            m.sort();
            m
        }
        "zset" => c.ok(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]).array(),
        "stream" => {
            let mut out = Vec::new();
            let Reply::Array(entries) = c.ok(&[b"XRANGE", key, b"-", b"+"]) else {
                panic!("XRANGE: not an array")
            };
            for entry in entries {
                let Reply::Array(mut parts) = entry else {
                    panic!("XRANGE entry: not an array")
                };
                let fields = parts.pop().unwrap().array();
                out.push(parts.pop().unwrap().bytes());
                out.extend(fields);
            }
            let info = c.ok(&[b"XINFO", b"STREAM", key]);
            let Reply::Array(info) = info else {
                panic!("XINFO STREAM: not an array")
            };
            for name in ["last-generated-id", "entries-added", "max-deleted-entry-id"] {
                let at = info
                    .iter()
                    .position(|r| *r == Reply::Bulk(Some(name.as_bytes().to_vec())))
                    .unwrap();
                out.push(match &info[at + 1] {
                    Reply::Int(n) => n.to_string().into_bytes(),
                    other => other.clone().bytes(),
                });
            }
            out
        }
        other => panic!("unexpected type {other}"),
    };
    (t, items)
}

fn encoding_redis(c: &mut Raw, key: &[u8]) -> String {
    String::from_utf8(c.ok(&[b"OBJECT", b"ENCODING", key]).bytes()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// A dataset covering every type and encoding.

fn dataset(expire_at: i64) -> Vec<Item> {
    let l = EncodingLimits::default();
    let mut out: Vec<Item> = Vec::with_capacity(64);
    let mut add = |db: u64, key: &str, v: Value, e: Option<i64>| {
        out.push((db, key.as_bytes().to_vec(), v, e))
    };
    add(0, "s:int", Value::string(b"12345"), None);
    add(0, "s:neg", Value::string(b"-7"), None);
    add(0, "s:i64", Value::string(b"9223372036854775807"), None);
    add(0, "s:i40", Value::string(b"1099511627776"), None);
    add(0, "s:zero-prefixed", Value::string(b"007"), None);
    add(0, "s:emb", Value::string(b"hello world"), Some(expire_at));
    add(
        0,
        "s:raw",
        Value::string(&(0..=255u8).collect::<Vec<_>>()),
        None,
    );
    add(
        0,
        "s:compressible",
        Value::string(&b"abcabcabc-".repeat(300)),
        None,
    );
    add(0, "s:appended", Value::raw(b"short".to_vec()), None);
    add(0, "s:empty", Value::string(b""), None);
    let small = List::from_values(-2, [&b"a"[..], b"1", b"-300", b"99999999999", b""]);
    add(
        0,
        "l:small",
        Value::List(Box::new(small)),
        Some(expire_at + 1),
    );
    let mut big = List::new(-2);
    for i in 0..3000 {
        let v = if i % 3 == 0 {
            i.to_string()
        } else {
            format!("element-{i}-{}", "x".repeat(i % 50))
        };
        big.push(End::Right, v.as_bytes());
    }
    big.push(End::Right, &b"y".repeat(20000));
    add(0, "l:big", Value::List(Box::new(big)), None);
    let compressed = List::from_values(
        -2,
        (0..4000)
            .map(|i| format!("item-{}-{}", i % 7, "z".repeat(30)).into_bytes())
            .collect::<Vec<_>>()
            .iter()
            .map(|v| &v[..]),
    )
    .with_compress_depth(1);
    add(0, "l:compressed", Value::List(Box::new(compressed)), None);
    let mut s = Set::new();
    for i in [5i64, -3, 100000, 7_000_000_000, i64::MIN] {
        s.insert(i.to_string().as_bytes(), 512);
    }
    add(1, "set:intset", Value::Set(Box::new(s)), None);
    let mut s = Set::new();
    for i in 0..600 {
        s.insert(i.to_string().as_bytes(), 512);
    }
    add(1, "set:bigints", Value::Set(Box::new(s)), None);
    let mut s = Set::new();
    for m in ["a", "b", "1", "longer member"] {
        s.insert(m.as_bytes(), 512);
    }
    add(
        1,
        "set:strings",
        Value::Set(Box::new(s)),
        Some(expire_at + 2),
    );
    let mut h = Hash::new();
    h.set(b"f", b"v", &l);
    h.set(b"n", b"42", &l);
    h.set(b"neg", b"-100000", &l);
    add(3, "h:small", Value::Hash(Box::new(h)), None);
    let mut h = Hash::new();
    for i in 0..300 {
        h.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), &l);
    }
    add(3, "h:many", Value::Hash(Box::new(h)), None);
    let mut h = Hash::new();
    h.set(b"f", &b"v".repeat(100), &l);
    add(3, "h:longvalue", Value::Hash(Box::new(h)), None);
    let mut z = ZSet::new();
    for (m, s) in [
        ("a", 1.0),
        ("b", -2.5),
        ("c", f64::INFINITY),
        ("d", 0.1),
        ("e", f64::NEG_INFINITY),
        ("f", 1e300),
        ("g", -0.0),
        ("h", 123456789.0),
    ] {
        z.insert(m.as_bytes(), s, &l);
    }
    add(3, "z:small", Value::ZSet(Box::new(z)), None);
    let mut z = ZSet::new();
    for i in 0..200 {
        z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, &l);
    }
    add(3, "z:big", Value::ZSet(Box::new(z)), Some(expire_at + 3));
    let mut z = ZSet::new();
    z.insert(&b"m".repeat(100), 2.0, &l);
    add(3, "z:longmember", Value::ZSet(Box::new(z)), None);
    // A stream with a deleted entry, so its metadata is not what its entries alone say.
    let mut stream = Stream::new();
    let nodes = l.stream_nodes();
    stream.append(StreamId::new(1, 1), &[b"a", b"1", b"b", b"-20"], nodes);
    stream.append(StreamId::new(2, 0), &[b"a", b"3", b"b", b"4"], nodes);
    stream.append(StreamId::new(3, 5), &[b"c", &b"x".repeat(100)], nodes);
    stream.delete(StreamId::new(2, 0));
    add(0, "x:stream", Value::Stream(Box::new(stream)), None);
    out
}

/// The commands that build `v` under `key` in Redis.
fn populate(c: &mut Raw, key: &[u8], v: &Value, expire: Option<i64>) {
    match v {
        Value::Int(_) | Value::Str(_) => {
            c.ok(&[b"SET", key, &canon_value(v).1[0]]);
        }
        Value::RawStr(s) => {
            c.ok(&[b"APPEND", key, s]);
        }
        Value::List(l) => {
            for e in l.iter() {
                c.ok(&[b"RPUSH", key, &e.to_vec()]);
            }
        }
        Value::Set(s) => {
            for m in s.iter() {
                c.ok(&[b"SADD", key, &m.to_vec()]);
            }
        }
        Value::Hash(h) => {
            for (f, val) in h.iter() {
                c.ok(&[b"HSET", key, f, val]);
            }
        }
        Value::ZSet(z) => {
            let mut pairs = Vec::new();
            z.range(0, z.len(), false, |m, s| pairs.push((m.to_vec(), s)));
            for (m, s) in pairs {
                let mut t = Vec::new();
                format_f64(s, &mut t);
                c.ok(&[b"ZADD", key, &t, &m]);
            }
        }
        Value::Stream(stream) => {
            assert!(
                stream.groups.is_empty(),
                "the dataset's streams have no groups"
            );
            for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
                let mut args = vec![b"XADD".to_vec(), key.to_vec(), entry.id.to_text()];
                for (f, v) in entry.fields() {
                    args.push(f.to_vec());
                    args.push(v.to_vec());
                }
                c.ok(&args.iter().map(Vec::as_slice).collect::<Vec<_>>());
            }
            c.ok(&[
                b"XSETID",
                key,
                &stream.last_id().to_text(),
                b"ENTRIESADDED",
                stream.entries_added().to_string().as_bytes(),
                b"MAXDELETEDID",
                &stream.max_deleted_id().to_text(),
            ]);
        }
    }
    if let Some(at) = expire {
        c.ok(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
    }
}

#[test]
fn redis_file_loads_here() {
    if !Program::Redis.available() {
        return;
    }
    let dir = DataDir::new("from-redis");
    let server = start_redis(&dir.0, "dump.rdb", &[]);
    let mut c = server.raw();
    let expire_at = now_ms() + 3_600_000;
    let data = dataset(expire_at);
    for (db, key, v, e) in &data {
        c.ok(&[b"SELECT", db.to_string().as_bytes()]);
        populate(&mut c, key, v, *e);
    }
    // What Redis holds, and how it encodes it.
    let mut expected = Vec::new();
    for (db, key, _, e) in &data {
        c.ok(&[b"SELECT", db.to_string().as_bytes()]);
        let canon = canon_redis(&mut c, key);
        let enc = encoding_redis(&mut c, key);
        expected.push((*db, key.clone(), canon, enc, *e));
    }
    let library = b"#!lua name=persistlib\nredis.register_function('one', function() return 1 end)";
    c.ok(&[b"FUNCTION", b"LOAD", library]);
    c.ok(&[b"SAVE"]);
    let (loaded, functions) = read_file_with_functions(&server.dir.join("dump.rdb"));
    assert_eq!(functions, vec![library.to_vec()]);
    assert_eq!(loaded.len(), expected.len());
    for (db, key, canon, enc, e) in expected {
        let got = loaded
            .iter()
            .find(|x| x.0 == db && x.1 == key)
            .unwrap_or_else(|| panic!("{} missing", String::from_utf8_lossy(&key)));
        let name = String::from_utf8_lossy(&key);
        assert_eq!(canon_value(&got.2), canon, "{name}");
        assert_eq!(loaded_encoding(&got.2), enc, "{name}");
        assert_eq!(got.3, e, "{name}");
    }
    // DUMP payloads both ways: Redis's restore here, ours RESTORE in Redis.
    for (db, key, _, _) in &data {
        let name = String::from_utf8_lossy(key).to_string();
        c.ok(&[b"SELECT", db.to_string().as_bytes()]);
        let canon = canon_redis(&mut c, key);
        let enc = encoding_redis(&mut c, key);
        let payload = c.ok(&[b"DUMP", key]).bytes();
        let v = restore_value(&payload, EncodingLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(canon_value(&v), canon, "{name}");
        assert_eq!(loaded_encoding(&v), enc, "{name}");
        let ours = dump_value(&v, &WriteOptions::default());
        let copy = [b"copy:", &key[..]].concat();
        c.ok(&[b"RESTORE", &copy, b"0", &ours]);
        assert_eq!(canon_redis(&mut c, &copy), canon, "{name}");
        assert_eq!(encoding_redis(&mut c, &copy), enc, "{name}");
    }
    drop(server);
}

fn check_redis_has(server: &Server, data: &[Item]) {
    let mut c = server.raw();
    for db in 0..16u64 {
        c.ok(&[b"SELECT", db.to_string().as_bytes()]);
        let want = data.iter().filter(|e| e.0 == db).count() as i64;
        assert_eq!(c.ok(&[b"DBSIZE"]).int(), want, "db {db}");
    }
    for (db, key, v, e) in data {
        let name = String::from_utf8_lossy(key);
        c.ok(&[b"SELECT", db.to_string().as_bytes()]);
        assert_eq!(canon_redis(&mut c, key), canon_value(v), "{name}");
        assert_eq!(encoding_redis(&mut c, key), loaded_encoding(v), "{name}");
        let pttl = c.ok(&[b"PTTL", key]).int();
        match e {
            None => assert_eq!(pttl, -1, "{name}"),
            Some(at) => assert!(pttl > 0 && pttl <= at - now_ms() + 1000, "{name}: {pttl}"),
        }
    }
}

fn redis_check_rdb(path: &Path) {
    if !installed("redis-check-rdb") {
        return;
    }
    let out = Command::new("redis-check-rdb").arg(path).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redis-check-rdb failed:\n{text}");
    assert!(text.contains("RDB looks OK"), "{text}");
}

/// Compressed quicklist nodes (list-compress-depth) arrive as LZF strings; a file saved with
/// rdbchecksum off has a zero checksum, which is accepted unverified.
#[test]
fn redis_compressed_nodes_and_no_checksum_load_here() {
    if !Program::Redis.available() {
        return;
    }
    let dir = DataDir::new("compressed");
    let server = start_redis(
        &dir.0,
        "dump.rdb",
        &["--list-compress-depth", "1", "--rdbchecksum", "no"],
    );
    let mut c = server.raw();
    let mut want = Vec::new();
    for i in 0..4000 {
        let v = format!("item-{}-{}", i % 7, "z".repeat(30));
        c.ok(&[b"RPUSH", b"list", v.as_bytes()]);
        want.push(v.into_bytes());
    }
    c.ok(&[b"SAVE"]);
    let file = std::fs::File::open(dir.join("dump.rdb")).unwrap();
    let (summary, keys) =
        redis_lite_persist::read_all(std::io::BufReader::new(file), EncodingLimits::default())
            .unwrap();
    assert!(!summary.checksum_verified);
    assert_eq!(keys.len(), 1);
    let Value::List(l) = &keys[0].value else {
        panic!("not a list")
    };
    assert_eq!(l.iter().map(|e| e.to_vec()).collect::<Vec<_>>(), want);
    drop(server);
}

#[test]
fn our_functions_load_in_redis() {
    if !Program::Redis.available() {
        return;
    }
    let dir = DataDir::new("functions");
    let library = b"#!lua name=ourlib\nredis.register_function('seven', function() return 7 end)";
    let path = dir.join("fn.rdb");
    redis_lite_persist::save_atomically(&path, WriteOptions::default(), None, |w| {
        w.write_default_aux(1, 2)?;
        w.function(library)?;
        w.select_db(0, 1, 0)?;
        w.entry(b"k", &Value::string(b"v"), None)
    })
    .unwrap();
    redis_check_rdb(&path);
    let server = start_redis(&dir.0, "fn.rdb", &[]);
    let mut c = server.raw();
    assert_eq!(c.ok(&[b"FCALL", b"seven", b"0"]).int(), 7);
    assert_eq!(c.ok(&[b"GET", b"k"]).bytes(), b"v");
    drop(server);
}

#[test]
fn our_file_loads_in_redis() {
    if !Program::Redis.available() {
        return;
    }
    let dir = DataDir::new("to-redis");
    let expire_at = now_ms() + 3_600_000;
    let data = dataset(expire_at);
    for (name, opts) in [
        ("ours.rdb", WriteOptions::default()),
        (
            "plain.rdb",
            WriteOptions {
                compression: false,
                checksum: false,
            },
        ),
    ] {
        let path = dir.join(name);
        write_file(&path, &data, opts);
        redis_check_rdb(&path);
        let server = start_redis(&dir.0, name, &[]);
        check_redis_has(&server, &data);
        // And Redis's own save of what it loaded (over our file) reads back the same.
        let mut c = server.raw();
        c.ok(&[b"SAVE"]);
        let back = read_file(&path);
        assert_eq!(back.len(), data.len());
        for (db, key, v, e) in &data {
            let got = back.iter().find(|x| x.0 == *db && &x.1 == key).unwrap();
            assert_eq!(canon_value(&got.2), canon_value(v));
            assert_eq!(got.3, *e);
        }
    }
}
