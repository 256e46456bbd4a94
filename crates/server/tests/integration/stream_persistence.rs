//! Streams through every persistence path, against real Redis 7.0: real Redis builds streams
//! (groups, pending entries, consumers, deleted entries, trimmed heads, empty streams, numeric
//! field names, values bigger than a node, many nodes), then they go through redis-lite's RDB
//! loading and saving, DUMP/RESTORE and AOF rewrite, and come back to real Redis, where DEBUG
//! DIGEST, DUMP and XINFO STREAM FULL must read as they did at first. redis-lite replays its own
//! rewrite too; and under `appendfsync always` a kill -9 in the middle of XADD, XREADGROUP and
//! XACK load loses nothing a client saw acknowledged.

use redis_lite_testkit as testkit;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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

/// Asserts that `replayed` holds what `original` held, but for what a replay cannot keep (see
/// [`replayable`]).
fn assert_replayed(replayed: &State, original: &State) {
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
    assert_replayed(&state(&mut redis.raw()), &original);
}

/// redis-lite's own AOF rewrite of streams with groups, pending entries and consumers (written
/// as commands, without the RDB preamble) replays in redis-lite to the same streams.
#[test]
fn redis_lite_replays_its_own_rewrite_of_streams() {
    let dir = DataDir::new("stream-own-aof");
    let mut args = DEBUG.to_vec();
    args.extend(["--appendonly", "yes", "--aof-use-rdb-preamble", "no"]);
    let mut lite = Server::lite_in(&dir.0, &args);
    let mut raw = lite.raw();
    populate(&mut raw, false);
    let original = state(&mut raw);
    ok(&mut raw, &["BGREWRITEAOF"]);
    testkit::wait_rewrite_ok(&lite);
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("the AOF manifest");
    let base = manifest
        .lines()
        .find_map(|line| line.strip_prefix("file ")?.split(' ').next())
        .expect("a base file in the manifest");
    let base = std::fs::read(dir.join("appendonlydir").join(base)).unwrap();
    assert!(
        base.windows(6).any(|w| w == b"XCLAIM"),
        "the base holds the rewrite's commands"
    );
    lite.restart();
    assert_replayed(&state(&mut lite.raw()), &original);
}

/// What one client of [`kill9_mid_stream_load_loses_no_acknowledged_write`] saw acknowledged.
#[derive(Default)]
struct Seen {
    /// XADDs answered: the ID given and the `seq` field sent.
    added: Vec<(String, u64)>,
    /// IDs XREADGROUP delivered to this consumer.
    delivered: Vec<String>,
    /// IDs whose XACK answered 1.
    acked: Vec<String>,
}

/// Producer `p` adds entries `producer p seq n` (n = 1, 2...) to `load` until the server dies.
fn produce(mut c: redis::Connection, p: usize) -> Seen {
    let mut seen = Seen::default();
    for n in 1u64.. {
        let added: redis::RedisResult<String> = redis::cmd("XADD")
            .arg("load")
            .arg("*")
            .arg("producer")
            .arg(p)
            .arg("seq")
            .arg(n)
            .query(&mut c);
        match added {
            Ok(id) => seen.added.push((id, n)),
            Err(_) => break,
        }
    }
    seen
}

/// XREADGROUP's reply: each stream with its entries (ID, fields); nil when none came.
type Delivery = Option<Vec<(String, Vec<(String, Vec<String>)>)>>;

/// Consumer `i` reads one entry at a time from group `g` and acknowledges it, until the server
/// dies; counts its acknowledgements in `acks`.
fn consume(mut c: redis::Connection, i: usize, acks: &AtomicU64) -> Seen {
    let mut seen = Seen::default();
    let consumer = format!("c{i}");
    loop {
        let read: redis::RedisResult<Delivery> = redis::cmd("XREADGROUP")
            .arg(&["GROUP", "g", &consumer, "COUNT", "1", "BLOCK", "50"])
            .arg(&["STREAMS", "load", ">"])
            .query(&mut c);
        let Ok(read) = read else { break };
        let Some(id) = read.and_then(|streams| Some(streams.first()?.1.first()?.0.clone())) else {
            continue;
        };
        seen.delivered.push(id.clone());
        let acked: redis::RedisResult<i64> = redis::cmd("XACK")
            .arg("load")
            .arg("g")
            .arg(&id)
            .query(&mut c);
        match acked {
            Ok(1) => {
                seen.acked.push(id);
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(n) => panic!("XACK {id} by its only reader answered {n}"),
            Err(_) => break,
        }
    }
    seen
}

/// A stream ID as numbers, to compare IDs in order.
fn id_order(id: &[u8]) -> (u64, u64) {
    let text = std::str::from_utf8(id).unwrap();
    let (ms, seq) = text.split_once('-').unwrap();
    (ms.parse().unwrap(), seq.parse().unwrap())
}

/// The value of `name` in a flat `[name, value, ...]` reply.
fn field<'r>(pairs: &'r Reply, name: &str) -> &'r Reply {
    let Reply::Array(items) = pairs else {
        panic!("expected an array, got {pairs:?}")
    };
    items
        .chunks(2)
        .find(|pair| pair[0] == Reply::Bulk(Some(name.as_bytes().to_vec())))
        .map(|pair| &pair[1])
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

/// Checks the restarted server against what the clients saw acknowledged: every XADD is there
/// with its fields, each producer's entries without a gap; no XACKed entry is pending; each
/// consumer has at most the one entry in flight pending; the group's last delivered ID is at or
/// past every delivery and not past the stream. (entries-read is compared with Redis's replay
/// instead: the XCLAIM ... LASTID records Redis 7.0 propagates for reads do not carry it.)
fn assert_survived(raw: &mut Raw, producers: &[Seen], consumers: &[Seen], trial: u64) {
    let Reply::Array(entries) = ok(raw, &["XRANGE", "load", "-", "+"]) else {
        panic!("XRANGE")
    };
    assert_eq!(ok(raw, &["XLEN", "load"]).int(), entries.len() as i64);
    let mut by_producer: BTreeMap<Vec<u8>, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
    let mut ids = Vec::new();
    for entry in &entries {
        let Reply::Array(parts) = entry else {
            panic!("{entry:?}")
        };
        let id = parts[0].clone().bytes();
        let producer = field(&parts[1], "producer").clone().bytes();
        let seq = String::from_utf8(field(&parts[1], "seq").clone().bytes()).unwrap();
        by_producer
            .entry(producer)
            .or_default()
            .push((id.clone(), seq.parse().unwrap()));
        ids.push(id);
    }
    for (p, seen) in producers.iter().enumerate() {
        let stored = by_producer
            .remove(p.to_string().as_bytes())
            .unwrap_or_default();
        // In order, from 1, without a gap; at most the one XADD in flight past what was answered.
        for (i, (_, seq)) in stored.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1, "trial {trial}: producer {p}");
        }
        assert!(
            stored.len() == seen.added.len() || stored.len() == seen.added.len() + 1,
            "trial {trial}: producer {p} saw {} XADDs answered, {} stored",
            seen.added.len(),
            stored.len()
        );
        for ((id, seq), (stored_id, stored_seq)) in seen.added.iter().zip(&stored) {
            assert_eq!((id.as_bytes(), *seq), (stored_id.as_slice(), *stored_seq));
        }
    }
    assert!(by_producer.is_empty(), "trial {trial}: {by_producer:?}");

    let Reply::Array(pending) = ok(raw, &["XPENDING", "load", "g", "-", "+", "1000000"]) else {
        panic!("XPENDING")
    };
    let mut pending_by_consumer: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for item in pending {
        let Reply::Array(parts) = item else {
            panic!("{item:?}")
        };
        pending_by_consumer
            .entry(parts[1].clone().bytes())
            .or_default()
            .push(parts[0].clone().bytes());
    }
    let acked: BTreeSet<&[u8]> = consumers
        .iter()
        .flat_map(|seen| seen.acked.iter().map(|id| id.as_bytes()))
        .collect();
    for (consumer, ids) in &pending_by_consumer {
        assert!(
            ids.len() <= 1,
            "trial {trial}: {consumer:?} has {ids:?} pending"
        );
        assert!(
            !acked.contains(ids[0].as_slice()),
            "trial {trial}: acked, yet pending"
        );
    }
    let groups = ok(raw, &["XINFO", "GROUPS", "load"]);
    let Reply::Array(groups) = groups else {
        panic!("{groups:?}")
    };
    let last_delivered = field(&groups[0], "last-delivered-id").clone().bytes();
    let delivered_max = consumers
        .iter()
        .flat_map(|seen| &seen.delivered)
        .map(|id| id_order(id.as_bytes()))
        .max();
    assert!(
        delivered_max <= Some(id_order(&last_delivered)),
        "trial {trial}"
    );
    assert!(ids
        .last()
        .is_none_or(|last| id_order(&last_delivered) <= id_order(last)));
}

/// Copies the files of `from` (not its subdirectories' subdirectories) into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for file in std::fs::read_dir(from).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), to.join(file.file_name())).unwrap();
    }
}

/// Under `appendfsync always`, a kill -9 in the middle of XADD and XREADGROUP+XACK load from
/// several clients loses no write a client saw acknowledged, leaves group and stream consistent,
/// and the AOF left behind replays in real Redis to the same streams (DEBUG DIGEST, XINFO
/// STREAM FULL but for consumers' seen times).
#[test]
fn kill9_mid_stream_load_loses_no_acknowledged_write() {
    for trial in 0..3u64 {
        let dir = DataDir::new("stream-kill9");
        let mut args = DEBUG.to_vec();
        args.extend(["--appendonly", "yes", "--appendfsync", "always"]);
        let mut lite = Server::lite_in(&dir.0, &args);
        ok(
            &mut lite.raw(),
            &["XGROUP", "CREATE", "load", "g", "$", "MKSTREAM"],
        );
        let acks = Arc::new(AtomicU64::new(0));
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let c = lite.client();
                std::thread::spawn(move || produce(c, p))
            })
            .collect();
        let consumers: Vec<_> = (0..3)
            .map(|i| {
                let c = lite.client();
                let acks = acks.clone();
                std::thread::spawn(move || consume(c, i, &acks))
            })
            .collect();
        let enough = 100 + 150 * trial;
        testkit::wait_until("XACKs under load", Duration::from_secs(30), || {
            acks.load(Ordering::Relaxed) >= enough
        });
        lite.kill9();
        let producers: Vec<Seen> = producers.into_iter().map(|t| t.join().unwrap()).collect();
        let consumers: Vec<Seen> = consumers.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(consumers.iter().all(|seen| !seen.acked.is_empty()));

        let reference_dir = DataDir::new("stream-kill9-redis");
        copy_dir(
            &dir.join("appendonlydir"),
            &reference_dir.join("appendonlydir"),
        );
        lite.restart();
        let mut raw = lite.raw();
        assert_survived(&mut raw, &producers, &consumers, trial);
        let Some(redis) = redis_in(&reference_dir, &["--appendonly", "yes"]) else {
            return;
        };
        let ours = state(&mut raw);
        let theirs = state(&mut redis.raw());
        assert_replayed(&ours, &theirs);
    }
}
