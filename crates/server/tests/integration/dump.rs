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
