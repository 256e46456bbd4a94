//! DUMP and RESTORE: Redis's value serialization (RDB version 10 with a CRC-64 footer), so a
//! value moves between redis-lite and real Redis in either direction.
use redis_lite_testkit as testkit;

use testkit::{differential, encode, Raw, Server};

#[test]
fn restore_errors_match_redis() {
    differential(testkit::script!("dump/restore_errors_match_redis"), false);
}

/// A TTL so large that now + TTL passes a signed 64-bit integer: Redis's sum wraps negative and
/// the key counts as already expired (a replaced key is deleted), not kept forever.
#[test]
fn restore_with_an_overflowing_ttl_is_already_expired() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in restore_with_an_overflowing_ttl_is_already_expired)");
        return;
    };
    let lite = Server::lite(&[]);
    let replies = |server: &Server| {
        let mut raw = server.raw();
        raw.cmd(&["SET", "source", "hello"]);
        let payload = bulk_payload(&cmd(&mut raw, &[b"DUMP", b"source"]));
        let restore = |raw: &mut Raw, key: &[u8], ttl: &[u8], replace: bool| {
            let mut args: Vec<&[u8]> = vec![b"RESTORE", key, ttl, &payload];
            if replace {
                args.push(b"REPLACE");
            }
            cmd(raw, &args)
        };
        raw.cmd(&["SET", "replaced", "old"]);
        vec![
            restore(&mut raw, b"huge", b"9223372036854775807", false),
            raw.cmd(&["EXISTS", "huge"]),
            restore(&mut raw, b"replaced", b"9223372036854775807", true),
            raw.cmd(&["EXISTS", "replaced"]),
            restore(&mut raw, b"fine", b"100000000", false),
            raw.cmd(&["GET", "fine"]),
        ]
    };
    let expected = replies(&redis);
    assert_eq!(expected[1], b":0\r\n", "Redis's own behaviour changed");
    assert_eq!(replies(&lite), expected);
}

fn cmd(raw: &mut Raw, args: &[&[u8]]) -> Vec<u8> {
    raw.send(&encode(args));
    raw.read_reply()
}

/// The payload of a bulk-string reply.
fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let header_end = reply.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    reply[header_end..reply.len() - 2].to_vec()
}

/// Fills a server with one key of every type and encoding.
fn populate(raw: &mut Raw) {
    raw.cmd(&["SET", "int", "-123456"]);
    raw.cmd(&["SET", "str", "hello"]);
    raw.cmd(&["SET", "long", &"abcdefgh".repeat(40)]);
    raw.cmd(&["RPUSH", "list", "a", "1", "bb", "-7"]);
    let many: Vec<String> = (0..700).map(|i| format!("element-{i}")).collect();
    let mut big_list: Vec<&str> = vec!["RPUSH", "biglist"];
    big_list.extend(many.iter().map(String::as_str));
    raw.cmd(&big_list);
    raw.cmd(&["HSET", "hash", "f1", "v1", "f2", "2"]);
    let mut big_hash: Vec<&str> = vec!["HSET", "bighash"];
    for item in many.iter().take(600) {
        big_hash.push(item);
        big_hash.push(item);
    }
    raw.cmd(&big_hash);
    raw.cmd(&["SADD", "intset", "1", "2", "30000", "-5"]);
    raw.cmd(&["SADD", "set", "x", "y", "z"]);
    raw.cmd(&["ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c"]);
    let mut big_zset: Vec<String> = vec!["ZADD".into(), "bigzset".into()];
    for (i, item) in many.iter().take(300).enumerate() {
        big_zset.push(format!("{}.25", i));
        big_zset.push(item.clone());
    }
    let big_zset: Vec<&str> = big_zset.iter().map(String::as_str).collect();
    raw.cmd(&big_zset);
    raw.cmd(&["PFADD", "hll", "a", "b", "c"]);
}

const KEYS: &[&str] = &[
    "int", "str", "long", "list", "biglist", "hash", "bighash", "intset", "set", "zset", "bigzset",
    "hll",
];

/// What a key holds, read back with commands, order-independent.
fn contents(raw: &mut Raw, key: &str) -> (String, String, Vec<String>) {
    let kind = raw.cmd_text(&["TYPE", key]);
    let encoding = raw.cmd_text(&["OBJECT", "ENCODING", key]);
    let reply = match kind.trim() {
        "+string" => raw.cmd_text(&["GET", key]),
        "+list" => raw.cmd_text(&["LRANGE", key, "0", "-1"]),
        "+hash" => raw.cmd_text(&["HGETALL", key]),
        "+set" => raw.cmd_text(&["SMEMBERS", key]),
        _ => raw.cmd_text(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
    };
    let mut items: Vec<String> = reply.split("\r\n").map(str::to_string).collect();
    items.sort();
    (kind, encoding, items)
}

/// Dumps every key from `from` and restores it into `to` (with a TTL on one of them), then
/// checks the two servers hold the same data in the same encodings.
fn transfer(from: &Server, to: &Server) {
    let (mut src, mut dst) = (from.raw(), to.raw());
    for key in KEYS {
        let payload = bulk_payload(&cmd(&mut src, &[b"DUMP", key.as_bytes()]));
        let ttl: &[u8] = if *key == "str" { b"100000" } else { b"0" };
        assert_eq!(
            cmd(&mut dst, &[b"RESTORE", key.as_bytes(), ttl, &payload]),
            b"+OK\r\n",
            "restoring {key}"
        );
        let (source, restored) = (contents(&mut src, key), contents(&mut dst, key));
        assert_eq!((&source.0, &source.2), (&restored.0, &restored.2), "{key}");
        // A restored short string is embstr in Redis too, even if it was raw when dumped.
        if source.0 != "+string\r\n" {
            assert_eq!(source.1, restored.1, "encoding of {key}");
        }
    }
    let pttl = dst.cmd_text(&["PTTL", "str"]);
    let pttl: i64 = pttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(dst.cmd_text(&["PFCOUNT", "hll"]), ":3\r\n");
}

#[test]
fn values_move_between_redis_and_redis_lite() {
    let lite = Server::lite(&[]);
    let mut raw = lite.raw();
    populate(&mut raw);
    // Round trip within redis-lite, including REPLACE and ABSTTL.
    let payload = bulk_payload(&cmd(&mut raw, &[b"DUMP", b"bighash"]));
    assert_eq!(
        cmd(&mut raw, &[b"RESTORE", b"bighash", b"0", &payload]),
        b"-BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(
        cmd(
            &mut raw,
            &[b"RESTORE", b"copy", b"0", &payload, b"IDLETIME", b"1000"]
        ),
        b"+OK\r\n"
    );
    // A second may tick between the RESTORE and the read on a loaded machine.
    let idle = raw.cmd_text(&["OBJECT", "IDLETIME", "copy"]);
    assert!(idle == ":1000\r\n" || idle == ":1001\r\n", "{idle}");
    assert_eq!(
        cmd(
            &mut raw,
            &[b"RESTORE", b"copy", b"1", &payload, b"REPLACE", b"ABSTTL"]
        ),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd_text(&["EXISTS", "copy"]),
        ":0\r\n",
        "an absolute TTL in the past deletes"
    );
    let mut corrupt = payload.clone();
    corrupt[3] ^= 0xff;
    assert_eq!(
        cmd(&mut raw, &[b"RESTORE", b"bad", b"0", &corrupt]),
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    );
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let mut redis_raw = redis.raw();
    // Both servers with the same encoding thresholds (Debian's Redis defaults hash entries to 512).
    populate(&mut redis_raw);
    let lite_to_redis = Server::redis(&[]).unwrap();
    transfer(&lite, &lite_to_redis);
    let redis_to_lite = Server::lite(&[]);
    transfer(&redis, &redis_to_lite);
}

/// Redis's corrupt-dump suite switches checksums off (DEBUG SET-SKIP-CHECKSUM-VALIDATION) to
/// feed RESTORE damaged payloads without forging a CRC: the decoders alone must judge them.
/// A quicklist node that is an empty ziplist is skipped (a list left with none is an empty
/// key, refused), an empty plain node is bad data, and switching the checks back on refuses
/// a wrong CRC again. A zipmap (Redis 2.x's hash) becomes a listpack hash; an empty one is
/// bad data.
#[test]
fn damaged_payloads_with_checksums_skipped_are_judged_as_in_redis() {
    let Some(redis) = Server::redis(&["--enable-debug-command", "yes"]) else {
        println!("SKIPPED: redis-server is not on PATH (in damaged_payloads_with_checksums_skipped_are_judged_as_in_redis)");
        return;
    };
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    const EMPTY_ZIPLIST: &[u8] = b"\x0b\x00\x00\x00\x0a\x00\x00\x00\x00\x00\xff";
    const ZIPLIST_A_B: &[u8] =
        b"\x13\x00\x00\x00\x0e\x00\x00\x00\x02\x00\x00\x02\x61\x00\x04\x02\x62\x00\xff";
    let footer = |body: &[u8]| [body, b"\x09\x00", &[0xAB; 8]].concat();
    let only_empty_node = footer(&[b"\x0e\x01\x0b", EMPTY_ZIPLIST].concat());
    let empty_then_full = footer(&[b"\x0e\x02\x0b", EMPTY_ZIPLIST, b"\x13", ZIPLIST_A_B].concat());
    let empty_plain_node = footer(b"\x12\x01\x01\x00");
    // Redis 2.x's hash encoding: f1=v1, f2=v2; and one with no pair.
    let zipmap = footer(b"\x09\x10\x02\x02f1\x02\x00v1\x02f2\x02\x00v2\xff");
    let empty_zipmap = footer(b"\x09\x02\x00\xff");
    let replies = |server: &Server| {
        let mut raw = server.raw();
        raw.cmd(&["RPUSH", "source", "x", "y"]);
        let mut unchecked = bulk_payload(&cmd(&mut raw, &[b"DUMP", b"source"]));
        let crc_at = unchecked.len() - 8;
        unchecked[crc_at..].fill(0);
        let restore = |raw: &mut Raw, key: &[u8], payload: &[u8]| {
            cmd(raw, &[b"RESTORE", key, b"0", payload, b"REPLACE"])
        };
        let mut out = vec![
            restore(&mut raw, b"k", &unchecked),
            cmd(&mut raw, &[b"DEBUG", b"SET-SKIP-CHECKSUM-VALIDATION", b"1"]),
            restore(&mut raw, b"k", &unchecked),
            cmd(&mut raw, &[b"LRANGE", b"k", b"0", b"-1"]),
            restore(&mut raw, b"only-empty", &only_empty_node),
            restore(&mut raw, b"empty-then-full", &empty_then_full),
            cmd(&mut raw, &[b"LRANGE", b"empty-then-full", b"0", b"-1"]),
            restore(&mut raw, b"empty-plain", &empty_plain_node),
            restore(&mut raw, b"zipmap", &zipmap),
            cmd(&mut raw, &[b"HGETALL", b"zipmap"]),
            cmd(&mut raw, &[b"OBJECT", b"ENCODING", b"zipmap"]),
            restore(&mut raw, b"empty-zipmap", &empty_zipmap),
            cmd(&mut raw, &[b"DEBUG", b"SET-SKIP-CHECKSUM-VALIDATION", b"0"]),
            restore(&mut raw, b"k2", &unchecked),
        ];
        out.push(cmd(&mut raw, &[b"KEYS", b"*empty*"]));
        out
    };
    let expected = replies(&redis);
    assert_eq!(
        expected[5], b"+OK\r\n",
        "Redis's own behaviour changed: {expected:?}"
    );
    assert_eq!(replies(&lite), expected);
}

/// A refused payload is logged as Redis logs it, at verbose level: "Internal error in RDB
/// reading offset <n> -> <reason>", the reason in Redis's words for each kind of damage
/// (redis-lite adds what exactly was wrong in brackets). Tools and Redis's own tests look for
/// these words ("Hash ziplist integrity check failed", "Duplicate stream consumer
/// detected"...). The payloads are Redis's DUMPs with one thing broken, and one handmade; each
/// server restores the same bytes with checksums skipped and deep sanitization on.
#[test]
fn refused_payloads_are_logged_in_redis_words() {
    let args = [
        "--enable-debug-command",
        "yes",
        "--loglevel",
        "verbose",
        "--logfile",
        "server.log",
    ];
    let Some(redis) = Server::redis(&args) else {
        println!(
            "SKIPPED: redis-server is not on PATH (in refused_payloads_are_logged_in_redis_words)"
        );
        return;
    };
    let lite = Server::lite(&args);
    let dump = |args: &[&str]| {
        let mut raw = redis.raw();
        raw.cmd(args);
        bulk_payload(&cmd(&mut raw, &[b"DUMP", args[1].as_bytes()]))
    };
    let replace = |payload: Vec<u8>, from: &[u8], to: &[u8]| -> Vec<u8> {
        let at = payload
            .windows(from.len())
            .position(|w| w == from)
            .unwrap_or_else(|| panic!("{from:?} in {payload:?}"));
        [&payload[..at], to, &payload[at + from.len()..]].concat()
    };
    // Seventy bytes LZF cannot shorten, so they appear as they are in the payload.
    let long: Vec<u8> = (b'0'..b'v').collect();
    let long = std::str::from_utf8(&long).unwrap();
    let mut other_long = long.to_string();
    other_long.replace_range(0..1, "_");
    let zset = dump(&["ZADD", "big-zset", "1", long, "2", &other_long]);
    let nan_at = zset
        .windows(long.len())
        .position(|w| w == long.as_bytes())
        .unwrap()
        + long.len();
    let mut nan_score = zset.clone();
    nan_score[nan_at..nan_at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    let mut list_count = dump(&["RPUSH", "list", "a", "b", "c"]);
    // Type, node count, container, blob length, then the listpack's total bytes (4) and its
    // element count: a count off by one.
    list_count[8] ^= 1;
    let mut intset_encoding = dump(&["SADD", "intset", "1", "2", "3"]);
    intset_encoding[2] = 3;
    let stream = {
        let mut raw = redis.raw();
        raw.cmd(&["XADD", "stream", "1-1", "f", "v"]);
        raw.cmd(&["XGROUP", "CREATE", "stream", "g", "0"]);
        raw.cmd(&["XREADGROUP", "GROUP", "g", "ca", "STREAMS", "stream", ">"]);
        raw.cmd(&["XGROUP", "CREATECONSUMER", "stream", "g", "cb"]);
        bulk_payload(&cmd(&mut raw, &[b"DUMP", b"stream"]))
    };
    let node_key: Vec<u8> = [&[0u8; 7][..], &[1], &[0; 7], &[1]].concat();
    let node_at = stream
        .windows(16)
        .position(|w| w == node_key.as_slice())
        .unwrap()
        + 16;
    let mut stream_listpack = stream.clone();
    stream_listpack[node_at + 1] ^= 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "Hash listpack integrity check failed.",
            replace(dump(&["HSET", "hash", "fa", "1", "fb", "2"]), b"fb", b"fa"),
        ),
        (
            "Zset listpack integrity check failed.",
            replace(dump(&["ZADD", "zset", "1", "ma", "2", "mb"]), b"mb", b"ma"),
        ),
        ("Listpack integrity check failed.", list_count),
        (
            "Duplicate set members detected",
            replace(dump(&["SADD", "set", "xa", "xb"]), b"xb", b"xa"),
        ),
        (
            "Duplicate zset fields detected",
            replace(zset, other_long.as_bytes(), long.as_bytes()),
        ),
        ("Zset with NAN score detected", nan_score),
        ("Intset integrity check failed.", intset_encoding),
        (
            "Duplicate stream consumer detected.",
            replace(stream, b"cb", b"ca"),
        ),
        ("Stream listpack integrity check failed.", stream_listpack),
        // A hash (type 4) of two small pairs with one field twice: found while Redis still
        // builds a listpack.
        (
            "Hash with dup elements",
            b"\x04\x02\x02ja\x011\x02ja\x012\x0a\x00\0\0\0\0\0\0\0\0".to_vec(),
        ),
    ];
    let reasons = |server: &Server| -> Vec<String> {
        let mut raw = server.raw();
        raw.cmd(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]);
        raw.cmd(&["CONFIG", "SET", "sanitize-dump-payload", "yes"]);
        for (reason, payload) in &cases {
            let reply = cmd(&mut raw, &[b"RESTORE", b"restored", b"0", payload]);
            assert_eq!(reply, b"-ERR Bad data format\r\n", "{reason}");
        }
        let mut log = String::new();
        testkit::wait_until(
            "every refusal logged",
            std::time::Duration::from_secs(10),
            || {
                log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
                log.matches("Internal error in RDB reading").count() >= cases.len()
            },
        );
        log.lines()
            .filter_map(|line| line.split_once("Internal error in RDB reading offset "))
            .map(|(_, rest)| rest.split_once(" -> ").expect(rest).1.to_string())
            .collect()
    };
    let expected: Vec<&str> = cases.iter().map(|(reason, _)| *reason).collect();
    assert_eq!(reasons(&redis), expected, "Redis's own words changed");
    let lite_reasons = reasons(&lite);
    for (lite_reason, redis_reason) in lite_reasons.iter().zip(&expected) {
        assert!(
            lite_reason == redis_reason || lite_reason.starts_with(&format!("{redis_reason} (")),
            "redis-lite logged {lite_reason:?} where Redis logs {redis_reason:?}"
        );
    }
    assert_eq!(lite_reasons.len(), expected.len(), "{lite_reasons:?}");
}
