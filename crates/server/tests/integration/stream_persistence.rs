//! Streams through every persistence path, against real Redis 7.0: real Redis builds streams
//! (groups, pending entries, consumers, deleted entries, trimmed heads, empty streams, numeric
//! field names, values bigger than a node, many nodes), then they go through redis-lite's RDB
//! loading and saving, DUMP/RESTORE and AOF rewrite, and come back to real Redis, where DEBUG
//! DIGEST, DUMP and XINFO STREAM FULL must read as they did at first.

use redis_lite_testkit as testkit;

use std::collections::BTreeMap;
use std::time::Duration;

use testkit::{encode, DataDir, Launch, Raw, Reply, Server};

const DEBUG: [&str; 2] = ["--enable-debug-command", "yes"];

/// The databases `populate` writes to.
const DATABASES: [&str; 2] = ["0", "3"];

fn ok(raw: &mut Raw, args: &[&str]) -> Reply {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.ok(&args)
}

/// The ID real Redis gave the `i`th entry of `events`.
fn event_id(i: u64) -> String {
    format!("{}-{}", 1000 + i, i % 3)
}

/// Fills real Redis with streams covering what the file formats hold. `deleted_pending` also
/// deletes an entry that is still pending: RDB keeps that PEL entry, but Redis's AOF rewrite
/// emits an XCLAIM that, replayed, finds no entry and drops it.
fn populate(raw: &mut Raw, deleted_pending: bool) {
    ok(raw, &["SELECT", "0"]);
    for i in 0..250u64 {
        let id = event_id(i);
        let n = i.to_string();
        let reading = (i as i64 * 7 - 500).to_string();
        let mut args = vec!["XADD", "events", &id];
        match i % 25 {
            0 => args.extend(["-5", "12345678901234", "1", "one"]),
            _ if i % 10 == 0 => args.extend(["temp", &n, "unit", "C"]),
            _ => args.extend(["sensor", &n, "value", &reading]),
        }
        ok(raw, &args);
    }
    // Deleted entries: the head, some in the middle; then an exact trim that cuts into a node.
    for i in [0, 1, 2, 50, 53, 56, 59, 120] {
        ok(raw, &["XDEL", "events", &event_id(i)]);
    }
    ok(raw, &["XTRIM", "events", "MINID", &event_id(30)]);
    ok(raw, &["XGROUP", "CREATE", "events", "workers", "0"]);
    for (consumer, count) in [("alice", "30"), ("bob", "20")] {
        ok(
            raw,
            &[
                "XREADGROUP",
                "GROUP",
                "workers",
                consumer,
                "COUNT",
                count,
                "STREAMS",
                "events",
                ">",
            ],
        );
    }
    let acked: Vec<String> = (35..40).map(event_id).collect();
    let mut ack = vec!["XACK", "events", "workers"];
    ack.extend(acked.iter().map(String::as_str));
    ok(raw, &ack);
    let (claimed_a, claimed_b) = (event_id(70), event_id(71));
    ok(
        raw,
        &[
            "XCLAIM",
            "events",
            "workers",
            "carol",
            "0",
            &claimed_a,
            &claimed_b,
            "RETRYCOUNT",
            "5",
        ],
    );
    ok(
        raw,
        &["XGROUP", "CREATECONSUMER", "events", "workers", "dave"],
    );
    ok(raw, &["XGROUP", "CREATE", "events", "tail", "$"]);
    let middle = event_id(100);
    ok(
        raw,
        &[
            "XGROUP",
            "CREATE",
            "events",
            "middle",
            &middle,
            "ENTRIESREAD",
            "64",
        ],
    );
    ok(
        raw,
        &["XGROUP", "CREATE", "events", "unknown", &event_id(150)],
    );
    if deleted_pending {
        ok(raw, &["XDEL", "events", &event_id(75)]);
    }

    // Values bigger than a node's 4 KB, one of them past a listpack's 64 KB strings.
    for (i, size) in [5000, 20, 9000, 70_000, 4096].into_iter().enumerate() {
        let value = format!("{i}").repeat(size);
        ok(
            raw,
            &["XADD", "big", "*", "payload", &value, "n", &i.to_string()],
        );
    }
    // Many nodes.
    for i in 0..1000 {
        ok(
            raw,
            &["XADD", "many", &format!("{}-0", i + 1), "i", &i.to_string()],
        );
    }
    // Empty streams: emptied by XDEL (with a group), by trimming, and created by MKSTREAM.
    ok(raw, &["XADD", "emptied", "5-5", "f", "v"]);
    ok(raw, &["XDEL", "emptied", "5-5"]);
    ok(raw, &["XGROUP", "CREATE", "emptied", "g", "0"]);
    ok(raw, &["XADD", "trimmed", "1-1", "f", "v"]);
    ok(raw, &["XADD", "trimmed", "2-1", "f", "v"]);
    ok(raw, &["XTRIM", "trimmed", "MAXLEN", "0"]);
    ok(raw, &["XGROUP", "CREATE", "made", "g", "$", "MKSTREAM"]);
    ok(raw, &["XADD", "expiring", "*", "a", "1"]);
    ok(raw, &["PEXPIRE", "expiring", "100000000"]);

    ok(raw, &["SELECT", "3"]);
    ok(raw, &["XADD", "other", "7-0", "x", "y"]);
    ok(raw, &["XGROUP", "CREATE", "other", "g", "0"]);
    ok(
        raw,
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "other", ">"],
    );
    ok(raw, &["SELECT", "0"]);
}

/// One key as read back: DUMP's payload, XINFO STREAM FULL's reply, whether it has a TTL.
#[derive(Debug, PartialEq)]
struct KeyState {
    dump: Vec<u8>,
    info: Reply,
    has_ttl: bool,
}

/// Everything the comparisons look at: DEBUG DIGEST and every key of `DATABASES`.
#[derive(Debug, PartialEq)]
struct State {
    digest: String,
    keys: BTreeMap<(&'static str, Vec<u8>), KeyState>,
}

/// Reads the state back; DUMP payloads uncompressed, since redis-lite's LZF output is not
/// Redis's byte for byte (both read either), while the nodes must be.
fn state(raw: &mut Raw) -> State {
    ok(raw, &["CONFIG", "SET", "rdbcompression", "no"]);
    let digest = raw.cmd_text(&["DEBUG", "DIGEST"]);
    let mut keys = BTreeMap::new();
    for db in DATABASES {
        ok(raw, &["SELECT", db]);
        for key in ok(raw, &["KEYS", "*"]).array() {
            let text = String::from_utf8(key.clone()).unwrap();
            let dump = ok(raw, &["DUMP", &text]).bytes();
            let info = ok(raw, &["XINFO", "STREAM", &text, "FULL", "COUNT", "0"]);
            let has_ttl = ok(raw, &["PTTL", &text]).int() > 0;
            keys.insert(
                (db, key),
                KeyState {
                    dump,
                    info,
                    has_ttl,
                },
            );
        }
    }
    ok(raw, &["SELECT", "0"]);
    ok(raw, &["CONFIG", "SET", "rdbcompression", "yes"]);
    State { digest, keys }
}

/// Real Redis on `dir`, loading what is there.
fn redis_in(dir: &DataDir, args: &[&str]) -> Option<Server> {
    Launch::redis()
        .dir(&dir.0)
        .args(&DEBUG)
        .args(&["--save", ""])
        .args(args)
        .start_if_available()
}

/// Real Redis builds the streams and saves them to `dir`; returns what it read back.
fn streams_saved_by_redis(dir: &DataDir, deleted_pending: bool) -> Option<State> {
    let redis = redis_in(dir, &[])?;
    let mut raw = redis.raw();
    populate(&mut raw, deleted_pending);
    let original = state(&mut raw);
    assert_eq!(ok(&mut raw, &["SAVE"]).bytes(), b"OK");
    Some(original)
}

#[test]
fn redis_snapshots_of_streams_load_and_save_back_unchanged() {
    let dir = DataDir::new("stream-rdb");
    let Some(original) = streams_saved_by_redis(&dir, true) else {
        return;
    };
    {
        let lite = Server::lite_in(&dir.0, &DEBUG);
        let mut raw = lite.raw();
        assert_eq!(raw.cmd_text(&["DEBUG", "DIGEST"]), original.digest);
        ok(&mut raw, &["CONFIG", "SET", "rdbcompression", "no"]);
        for ((db, key), theirs) in &original.keys {
            ok(&mut raw, &["SELECT", db]);
            let key = String::from_utf8(key.clone()).unwrap();
            // The writer gives Redis's bytes for the nodes Redis wrote.
            let ours = ok(&mut raw, &["DUMP", &key]).bytes();
            let differs_at = ours.iter().zip(&theirs.dump).position(|(a, b)| a != b);
            assert!(
                ours == theirs.dump,
                "DUMP {key}: {} bytes against Redis's {}, first difference at {differs_at:?}",
                ours.len(),
                theirs.dump.len()
            );
            assert_eq!(ok(&mut raw, &["PTTL", &key]).int() > 0, theirs.has_ttl);
        }
        ok(&mut raw, &["CONFIG", "SET", "rdbcompression", "yes"]);
        assert_eq!(ok(&mut raw, &["SAVE"]).bytes(), b"OK");
    }
    let redis = redis_in(&dir, &[]).unwrap();
    assert_eq!(state(&mut redis.raw()), original, "Redis loading our file");
}

#[test]
fn dump_and_restore_move_streams_both_ways() {
    let Some(redis) = Server::redis(&DEBUG) else {
        return;
    };
    let mut theirs = redis.raw();
    populate(&mut theirs, true);
    ok(&mut theirs, &["PERSIST", "expiring"]);
    let original = state(&mut theirs);
    let lite = Server::lite(&DEBUG);
    let mut ours = lite.raw();
    ok(&mut ours, &["CONFIG", "SET", "rdbcompression", "no"]);
    for ((db, key), key_state) in &original.keys {
        ok(&mut ours, &["SELECT", db]);
        ours.send(&encode(&[b"RESTORE", key, b"0", &key_state.dump]));
        assert_eq!(ours.read_reply(), b"+OK\r\n");
        // Back to Redis under another name: the same stream, in the same bytes.
        ours.send(&encode(&[b"DUMP", key]));
        let payload = Reply::parse(&ours.read_reply()).bytes();
        assert!(payload == key_state.dump, "DUMP {key:?}");
        let copy = [b"copy-".as_slice(), key].concat();
        ok(&mut theirs, &["SELECT", db]);
        theirs.send(&encode(&[b"RESTORE", &copy, b"0", &payload]));
        assert_eq!(theirs.read_reply(), b"+OK\r\n");
        theirs.send(&encode(&[
            b"XINFO", b"STREAM", &copy, b"FULL", b"COUNT", b"0",
        ]));
        assert_eq!(
            Reply::parse(&theirs.read_reply()),
            key_state.info,
            "{key:?}"
        );
        theirs.send(&encode(&[b"DEBUG", b"DIGEST-VALUE", key, &copy]));
        let digests = Reply::parse(&theirs.read_reply()).array();
        assert_eq!(digests[0], digests[1]);
        ours.send(&encode(&[b"DEBUG", b"DIGEST-VALUE", key]));
        assert_eq!(
            Reply::parse(&ours.read_reply()).array()[0],
            digests[0],
            "DIGEST-VALUE {key:?}"
        );
    }
}

/// XINFO STREAM FULL without what an AOF replay cannot keep: consumers' seen times (the
/// XCLAIMs that rebuild the PEL touch them) and the node counts (XADD packs the entries into
/// new nodes).
fn replayable(info: &Reply) -> Reply {
    match info {
        Reply::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut masked = false;
            for item in items {
                if masked {
                    out.push(Reply::Bulk(None));
                    masked = false;
                    continue;
                }
                masked = matches!(item, Reply::Bulk(Some(name))
                    if [&b"seen-time"[..], b"radix-tree-keys", b"radix-tree-nodes"]
                        .contains(&name.as_slice()));
                out.push(replayable(item));
            }
            Reply::Array(out)
        }
        other => other.clone(),
    }
}

#[test]
fn rewritten_aof_of_streams_replays_in_real_redis() {
    let dir = DataDir::new("stream-aof");
    let Some(original) = streams_saved_by_redis(&dir, false) else {
        return;
    };
    {
        let lite = Server::lite_in(&dir.0, &DEBUG);
        let mut raw = lite.raw();
        ok(&mut raw, &["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
        ok(&mut raw, &["CONFIG", "SET", "appendonly", "yes"]);
        testkit::wait_until(
            "the first AOF rewrite to start",
            Duration::from_secs(30),
            || testkit::info_field(&mut raw, "persistence", "aof_rewrites") != "0",
        );
        testkit::wait_rewrite_ok(&lite);
    }
    std::fs::remove_file(dir.join("dump.rdb")).unwrap();
    let redis = redis_in(&dir, &["--appendonly", "yes"]).unwrap();
    let replayed = state(&mut redis.raw());
    assert_eq!(replayed.digest, original.digest);
    assert_eq!(
        replayed.keys.keys().collect::<Vec<_>>(),
        original.keys.keys().collect::<Vec<_>>()
    );
    for (key, theirs) in &original.keys {
        let ours = &replayed.keys[key];
        assert_eq!(replayable(&ours.info), replayable(&theirs.info), "{key:?}");
        assert_eq!(ours.has_ttl, theirs.has_ttl, "{key:?}");
    }
}
