//! String commands: differential scripts against real Redis for every command, option and
//! error, plus redis-lite-only checks of TTL timing and multi-key atomicity.
use redis_lite_testkit as testkit;

use std::thread::sleep;
use std::time::Duration;

use testkit::{differential, differential_with, Server};

#[test]
fn set_options_match_redis() {
    differential(testkit::script!("strings/set_options_match_redis"), false);
}

#[test]
fn binary_values_round_trip_like_redis() {
    differential(
        testkit::script!("strings/binary_values_round_trip_like_redis"),
        false,
    );
}

#[test]
fn get_family_matches_redis() {
    differential(testkit::script!("strings/get_family_matches_redis"), false);
}

#[test]
fn multi_key_commands_match_redis() {
    differential(
        testkit::script!("strings/multi_key_commands_match_redis"),
        false,
    );
}

#[test]
fn append_strlen_and_ranges_match_redis() {
    differential(
        testkit::script!("strings/append_strlen_and_ranges_match_redis"),
        false,
    );
}

#[test]
fn string_size_limit_follows_proto_max_bulk_len() {
    let big = "x".repeat(1 << 19);
    differential_with(
        &[
            &["SETRANGE", "r", "1048575", "x"],
            &["STRLEN", "r"],
            &["SETRANGE", "r", "1048576", "x"],
            &["SETRANGE", "r", "1048575", "xy"],
            &["SETRANGE", "fresh", "1048576", "x"],
            &["GET", "fresh"],
            &["SET", "big", &big],
            &["APPEND", "big", &big],
            &["APPEND", "big", "x"],
            &["STRLEN", "big"],
        ],
        false,
        &["--proto-max-bulk-len", "1mb"],
    );
}

#[test]
fn integer_counters_match_redis() {
    differential(
        testkit::script!("strings/integer_counters_match_redis"),
        false,
    );
}

#[test]
fn float_counters_match_redis() {
    differential(
        testkit::script!("strings/float_counters_match_redis"),
        false,
    );
}

#[test]
fn lcs_matches_redis() {
    differential(testkit::script!("strings/lcs_matches_redis"), false);
}

#[test]
fn lcs_table_size_follows_proto_max_bulk_len() {
    let (a, b) = ("a".repeat(600), "a".repeat(500));
    differential_with(
        &[
            &["MSET", "a", &a, "b", &b],
            &["LCS", "a", "b", "LEN"],
            &["LCS", "a", "a", "LEN"],
            &["LCS", "a", "a", "BOGUS"],
        ],
        false,
        &["--proto-max-bulk-len", "1mb"],
    );
}

#[test]
fn ttls_expire_and_are_kept_or_cleared_like_redis() {
    let server = Server::lite(&[]);
    let mut con = server.client();
    let mut cmd = |args: &[&str]| -> Option<String> {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        c.query(&mut con).unwrap()
    };
    let ok = Some("OK".to_string());
    let v = |s: &str| Some(s.to_string());

    assert_eq!(cmd(&["SET", "px", "v", "PX", "200"]), ok);
    assert_eq!(cmd(&["SET", "ex", "v", "EX", "100"]), ok);
    assert_eq!(cmd(&["PSETEX", "psetex", "200", "v"]), ok);
    assert_eq!(cmd(&["SET", "keep", "v", "PX", "200"]), ok);
    assert_eq!(cmd(&["SET", "keep", "v2", "KEEPTTL"]), ok);
    assert_eq!(cmd(&["SET", "cleared", "v", "PX", "200"]), ok);
    assert_eq!(cmd(&["SET", "cleared", "v2"]), ok);
    assert_eq!(cmd(&["SET", "getset", "v", "PX", "200"]), ok);
    assert_eq!(cmd(&["GETSET", "getset", "v2"]), v("v"));
    assert_eq!(cmd(&["SET", "counter", "1", "PX", "200"]), ok);
    assert_eq!(cmd(&["INCR", "counter"]), v("2"));
    assert_eq!(cmd(&["SET", "float", "1", "PX", "200"]), ok);
    assert_eq!(cmd(&["INCRBYFLOAT", "float", "0.5"]), v("1.5"));
    assert_eq!(cmd(&["SET", "appended", "a", "PX", "200"]), ok);
    assert_eq!(cmd(&["APPEND", "appended", "b"]), v("2"));
    assert_eq!(cmd(&["SET", "persisted", "v", "PX", "200"]), ok);
    assert_eq!(cmd(&["GETEX", "persisted", "PERSIST"]), v("v"));
    assert_eq!(cmd(&["SET", "getex", "v"]), ok);
    assert_eq!(cmd(&["GETEX", "getex", "PX", "200"]), v("v"));
    assert_eq!(cmd(&["SET", "mset", "v", "PX", "200"]), ok);
    assert_eq!(cmd(&["MSET", "mset", "v2"]), ok);
    assert_eq!(cmd(&["GET", "px"]), v("v"));

    sleep(Duration::from_millis(400));
    for gone in [
        "px", "psetex", "keep", "counter", "float", "appended", "getex",
    ] {
        assert_eq!(cmd(&["GET", gone]), None, "{gone} should have expired");
    }
    for (key, value) in [
        ("ex", "v"),
        ("cleared", "v2"),
        ("getset", "v2"),
        ("persisted", "v"),
        ("mset", "v2"),
    ] {
        assert_eq!(cmd(&["GET", key]), v(value), "{key} should have no TTL");
    }
    // A lapsed key is absent for NX/XX and for the counters.
    assert_eq!(cmd(&["SET", "px", "again", "XX"]), None);
    assert_eq!(cmd(&["SET", "px", "again", "NX"]), ok);
    assert_eq!(cmd(&["INCR", "counter"]), v("1"));
}

#[test]
fn getex_with_a_past_time_deletes_the_key() {
    let server = Server::lite(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let got: String = redis::cmd("GETEX")
        .arg("k")
        .arg("PXAT")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(got, "v");
    let after: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(after, None);
}

#[test]
fn mset_is_atomic_to_other_clients() {
    let server = Server::lite(&[]);
    let keys: Vec<String> = (0..16).map(|i| format!("key{i}")).collect();
    let writer = {
        let mut con = server.client();
        let keys = keys.clone();
        std::thread::spawn(move || {
            for round in 0..300 {
                let mut c = redis::cmd("MSET");
                for k in &keys {
                    c.arg(k).arg(round);
                }
                let _: () = c.query(&mut con).unwrap();
            }
        })
    };
    let mut con = server.client();
    while !writer.is_finished() {
        let values: Vec<Option<i64>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        assert!(
            values.windows(2).all(|w| w[0] == w[1]),
            "MGET saw a half-applied MSET: {values:?}"
        );
    }
    writer.join().unwrap();
}

#[test]
fn msetnx_sets_all_or_nothing_under_contention() {
    let server = Server::lite(&[]);
    let racers: Vec<_> = (0..4)
        .map(|i| {
            let mut con = server.client();
            std::thread::spawn(move || -> i64 {
                redis::cmd("MSETNX")
                    .arg("x")
                    .arg(i)
                    .arg("y")
                    .arg(i)
                    .query(&mut con)
                    .unwrap()
            })
        })
        .collect();
    let won: i64 = racers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 1);
    let mut con = server.client();
    let values: Vec<i64> = redis::cmd("MGET")
        .arg("x")
        .arg("y")
        .query(&mut con)
        .unwrap();
    assert_eq!(values[0], values[1]);
}

/// Redis's own suite sets `GETEX foo PXAT <its clock + 10000>` and expects a PTTL of 10000 at
/// most: the server's clock must not lag the client's. redis-lite's command clock, paired
/// with the monotonic clock in whole milliseconds, lagged by up to two and read 10001.
#[test]
fn an_absolute_expiry_from_the_clients_clock_is_not_exceeded() {
    for (who, server) in Server::lite_and_redis(&[]) {
        let mut raw = server.raw();
        for _ in 0..300 {
            raw.cmd(&["SET", "foo", "bar"]);
            let client_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            let at = (client_ms + 10_000).to_string();
            assert_eq!(
                raw.cmd_text(&["GETEX", "foo", "PXAT", &at]),
                "$3\r\nbar\r\n"
            );
            let ttl: u64 = raw.cmd_text(&["PTTL", "foo"])[1..]
                .trim_end()
                .parse()
                .unwrap();
            assert!(ttl <= 10_000, "{who}: PTTL {ttl} after PXAT {at}");
        }
    }
}

/// MEMORY USAGE of a string is Redis's estimate from its layout (key sds, dictEntry, value
/// object and sds, at jemalloc's size classes), which clients and tests compare with: `SET foo
/// bar` is 64 on Redis, where redis-lite said 44 (its own entry's bytes). Every encoding (int,
/// embstr, raw written whole, raw grown by APPEND, SETRANGE and SETBIT), key lengths across
/// the sds header sizes, and values across jemalloc's size classes.
#[test]
fn memory_usage_of_strings_matches_redis() {
    let mut commands: Vec<Vec<String>> = Vec::new();
    let mut set_and_measure = |key: String, value: String| {
        commands.push(vec!["SET".into(), key.clone(), value]);
        commands.push(vec!["OBJECT".into(), "ENCODING".into(), key.clone()]);
        commands.push(vec!["MEMORY".into(), "USAGE".into(), key]);
    };
    for value in [
        "1",
        "-5",
        "12345",
        "123456789012",
        "9223372036854775807",
        "007",
    ] {
        set_and_measure("foo".into(), value.into());
    }
    for len in [
        0, 1, 3, 12, 13, 20, 21, 28, 29, 44, 45, 60, 100, 1001, 40953, 40954, 40955, 70000,
    ] {
        set_and_measure("foo".into(), "v".repeat(len));
    }
    for len in [1, 2, 8, 14, 15, 30, 31, 32, 100, 255, 256, 300] {
        set_and_measure("k".repeat(len), "bar".into());
    }
    let (x100, y300) = ("x".repeat(100), "y".repeat(300));
    let grow: [&[&str]; 12] = [
        &["APPEND", "new", "hello"],
        &["APPEND", "new", &x100],
        &["APPEND", "new", &y300],
        &["SET", "bar", "bar"],
        &["APPEND", "bar", "x"],
        &["SETRANGE", "range", "0", "abc"],
        &["SETRANGE", "range", "100", "abc"],
        &["SETRANGE", "big", "100000", "asdf"],
        &["SETBIT", "bits", "7", "1"],
        &["SETBIT", "bits", "1000", "1"],
        &["SET", "n", "12"],
        &["APPEND", "n", "3"],
    ];
    for command in grow {
        let key = command[1].to_string();
        commands.push(command.iter().map(|arg| arg.to_string()).collect());
        commands.push(vec!["MEMORY".into(), "USAGE".into(), key]);
    }
    let commands: Vec<Vec<&str>> = commands
        .iter()
        .map(|command| command.iter().map(String::as_str).collect())
        .collect();
    let commands: Vec<&[&str]> = commands.iter().map(Vec::as_slice).collect();
    differential(&commands, false);
}
