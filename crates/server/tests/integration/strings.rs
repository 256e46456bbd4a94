//! String commands: differential scripts against real Redis for every command, option and
//! error, plus redis-lite-only checks of TTL timing and multi-key atomicity.
use redis_lite_testkit as testkit;

use std::thread::sleep;
use std::time::Duration;

use testkit::{differential, differential_with, Server};

#[test]
fn set_options_match_redis() {
    differential(
        &[
            &["SET", "k", "v"],
            &["SET", "k", "v2", "XX"],
            &["GET", "k"],
            &["SET", "k", "v3", "NX"],
            &["SET", "new", "v", "XX"],
            &["GET", "new"],
            &["SET", "new", "v", "NX"],
            &["SET", "k", "v4", "GET"],
            &["SET", "fresh", "v", "GET"],
            &["SET", "k", "v5", "NX", "GET"],
            &["SET", "nx-get", "v", "NX", "GET"],
            &["GET", "nx-get"],
            &["SET", "k", "v6", "XX", "GET"],
            &["SET", "xx-missing", "v", "XX", "GET"],
            &["GET", "k"],
            &["set", "k", "lower", "nx", "get", "keepttl"],
            // Options may repeat; the last expiry value wins.
            &["SET", "k", "v", "EX", "10", "EX", "100"],
            &["SET", "k", "v", "NX", "NX"],
            &["SET", "k", "v", "GET", "GET"],
            &["SET", "k", "v", "KEEPTTL", "KEEPTTL"],
            &["SET", "k", "v", "PX", "100000", "XX", "GET"],
            &["SET", "k", "v", "EXAT", "99999999999"],
            &["SET", "k", "v", "PXAT", "99999999999999"],
            &["GET", "k"],
            // Conflicts and malformed options.
            &["SET", "k", "v", "NX", "XX"],
            &["SET", "k", "v", "XX", "NX"],
            &["SET", "k", "v", "EX", "10", "PX", "10"],
            &["SET", "k", "v", "EX", "10", "KEEPTTL"],
            &["SET", "k", "v", "KEEPTTL", "EX", "10"],
            &["SET", "k", "v", "EXAT", "10", "PXAT", "10"],
            &["SET", "k", "v", "EX"],
            &["SET", "k", "v", "PERSIST"],
            &["SET", "k", "v", "BOGUS"],
            &["SET", "k", "v", "EX", "abc", "NX", "XX"],
            &["SET", "k", "v", "EX", "abc"],
            &["SET", "k", "v", "EX", "1.5"],
            &["SET", "k", "v", "EX", "0"],
            &["SET", "k", "v", "EX", "-1"],
            &["SET", "k", "v", "PX", "0"],
            &["SET", "k", "v", "EXAT", "0"],
            &["SET", "k", "v", "PXAT", "-5"],
            &["SET", "k", "v", "EX", "9223372036854775"],
            &["SET", "k", "v", "EX", "9223372036854776"],
            &["SET", "k", "v", "PX", "9223372036854775807"],
            &["SET", "k", "v", "EX", "99999999999999999999"],
            &["SET", "k", "v", "EXAT", "9223372036854776"],
            &["SET", "k", "v", "EXAT", "9223372036854775"],
            &["SET", "k", "v", "PXAT", "9223372036854775807"],
            &["GET", "k"],
            // An invalid expiry fails before GET replies or anything is stored.
            &["SET", "k", "changed", "GET", "EX", "0"],
            &["GET", "k"],
            // A time in the past stores the key, which is then already gone.
            &["SET", "past", "v", "EXAT", "1"],
            &["GET", "past"],
            &["SET", "past", "v", "PXAT", "1000", "GET"],
            &["GET", "past"],
            &["SET", "k"],
            &["SET"],
        ],
        false,
    );
}

#[test]
fn binary_values_round_trip_like_redis() {
    differential(
        &[
            &["SET", "bin", "a\0b\r\nc\0"],
            &["GET", "bin"],
            &["STRLEN", "bin"],
            &["APPEND", "bin", "\r\n\0"],
            &["GET", "bin"],
            &["GETRANGE", "bin", "1", "4"],
            &["SETRANGE", "bin", "2", "\0\0"],
            &["GET", "bin"],
            &["SET", "k\0ey\r\n", "\u{e9}t\u{e9}"],
            &["GET", "k\0ey\r\n"],
            &["MSET", "x\0", "\r\n", "y\0", ""],
            &["MGET", "x\0", "y\0", "k\0ey\r\n"],
            &["SET", "empty", ""],
            &["GET", "empty"],
            &["STRLEN", "empty"],
            &["LCS", "bin", "k\0ey\r\n"],
        ],
        false,
    );
}

#[test]
fn get_family_matches_redis() {
    differential(
        &[
            &["GET", "missing"],
            &["GET", "a", "b"],
            &["SET", "k", "v"],
            // GETEX: options, errors, and the missing-key shortcut.
            &["GETEX", "k"],
            &["GETEX", "k", "EX", "100"],
            &["GETEX", "k", "PX", "100000"],
            &["GETEX", "k", "EXAT", "99999999999"],
            &["GETEX", "k", "PXAT", "99999999999999"],
            &["GETEX", "k", "PERSIST"],
            &["GETEX", "k", "persist", "PERSIST"],
            &["GETEX", "k", "EX", "10", "EX", "20"],
            &["GETEX", "k", "EX", "10", "PX", "10"],
            &["GETEX", "k", "PERSIST", "EX", "10"],
            &["GETEX", "k", "EX", "10", "PERSIST"],
            &["GETEX", "k", "KEEPTTL"],
            &["GETEX", "k", "NX"],
            &["GETEX", "k", "GET"],
            &["GETEX", "k", "EX"],
            &["GETEX", "k", "EX", "0"],
            &["GETEX", "k", "EX", "-1"],
            &["GETEX", "k", "PX", "abc"],
            &["GETEX", "k", "EX", "9223372036854776"],
            &["GETEX", "missing", "EX", "-1"],
            &["GETEX", "missing", "EX", "abc"],
            &["GETEX", "missing", "BOGUS"],
            &["GETEX", "k"],
            &["GETEX", "k", "EXAT", "1"],
            &["GET", "k"],
            &["GETEX"],
            // GETDEL
            &["SET", "k", "v"],
            &["GETDEL", "k"],
            &["GETDEL", "k"],
            &["GET", "k"],
            &["SET", "n", "42"],
            &["GETDEL", "n"],
            &["GETDEL"],
            &["GETDEL", "a", "b"],
            // GETSET
            &["GETSET", "gs", "1"],
            &["GETSET", "gs", "2"],
            &["GET", "gs"],
            &["GETSET", "gs"],
            // SETNX, SETEX, PSETEX
            &["SETNX", "nx", "a"],
            &["SETNX", "nx", "b"],
            &["GET", "nx"],
            &["SETNX", "nx"],
            &["SETEX", "ex", "100", "v"],
            &["GET", "ex"],
            &["SETEX", "ex", "0", "v"],
            &["SETEX", "ex", "-10", "v"],
            &["SETEX", "ex", "abc", "v"],
            &["SETEX", "ex", "9223372036854776", "v"],
            &["SETEX", "ex", "100"],
            &["PSETEX", "pex", "100000", "v"],
            &["GET", "pex"],
            &["PSETEX", "pex", "0", "v"],
            &["PSETEX", "pex", "-1", "v"],
            &["PSETEX", "pex", "1.5", "v"],
            &["PSETEX", "pex", "9223372036854775807", "v"],
            &["PSETEX", "pex"],
        ],
        false,
    );
}

#[test]
fn multi_key_commands_match_redis() {
    differential(
        &[
            &["MSET", "a", "1", "b", "2", "c", "3"],
            &["MGET", "a", "b", "c", "missing", "a"],
            &["MSET", "a", "x", "a", "y"],
            &["GET", "a"],
            &["MSET", "a", "1", "b"],
            &["MSET", "a"],
            &["MSET"],
            &["MGET"],
            &["MSETNX", "a", "1", "new", "2"],
            &["GET", "new"],
            &["MSETNX", "n1", "1", "n2", "2"],
            &["MGET", "n1", "n2"],
            &["MSETNX", "d", "1", "d", "2"],
            &["GET", "d"],
            &["MSETNX", "a", "1", "b"],
            &["MSETNX", "a"],
            &["set", "x", "5"],
            &["mget", "x"],
        ],
        false,
    );
}

#[test]
fn append_strlen_and_ranges_match_redis() {
    differential(
        &[
            &["APPEND", "s", "hello"],
            &["APPEND", "s", " world"],
            &["GET", "s"],
            &["STRLEN", "s"],
            &["STRLEN", "missing"],
            &["SET", "n", "12345"],
            &["STRLEN", "n"],
            &["APPEND", "n", "6"],
            &["GET", "n"],
            &["INCR", "n"],
            &["APPEND", "num", "-17"],
            &["INCR", "num"],
            &["APPEND", "s"],
            &["STRLEN"],
            // GETRANGE / SUBSTR index arithmetic.
            &["GETRANGE", "s", "0", "4"],
            &["GETRANGE", "s", "-5", "-1"],
            &["GETRANGE", "s", "0", "-1"],
            &["GETRANGE", "s", "-1", "-5"],
            &["GETRANGE", "s", "5", "2"],
            &["GETRANGE", "s", "-100", "100"],
            &["GETRANGE", "s", "100", "200"],
            &["GETRANGE", "s", "10", "10"],
            &["GETRANGE", "s", "11", "11"],
            &[
                "GETRANGE",
                "s",
                "-9223372036854775808",
                "9223372036854775807",
            ],
            &["GETRANGE", "n", "1", "2"],
            &["GETRANGE", "missing", "0", "-1"],
            &["GETRANGE", "s", "a", "1"],
            &["GETRANGE", "s", "0", "1.5"],
            &["GETRANGE", "missing", "x", "1"],
            &["GETRANGE", "s", "0"],
            &["SET", "empty", ""],
            &["GETRANGE", "empty", "0", "-1"],
            &["GETRANGE", "empty", "-1", "0"],
            &["SUBSTR", "s", "1", "3"],
            &["SUBSTR", "s", "-3", "-1"],
            &["SUBSTR", "s", "1"],
            // SETRANGE: padding, growth, no-op writes, errors.
            &["SETRANGE", "r", "5", "abc"],
            &["GET", "r"],
            &["SETRANGE", "r", "0", "XY"],
            &["GET", "r"],
            &["SETRANGE", "r", "6", "longer tail"],
            &["GET", "r"],
            &["SETRANGE", "r", "100", ""],
            &["SETRANGE", "nothing", "100", ""],
            &["GET", "nothing"],
            &["SETRANGE", "nothing", "0", ""],
            &["SETRANGE", "r", "-1", "x"],
            &["SETRANGE", "missing2", "-1", ""],
            &["SETRANGE", "r", "abc", "x"],
            &["SETRANGE", "r", "536870911", "xy"],
            &["SETRANGE", "r", "536870912", ""],
            &["SETRANGE", "r", "9223372036854775807", "x"],
            &["SETRANGE", "n", "0", "9"],
            &["GET", "n"],
            &["INCR", "n"],
            &["SETRANGE", "r", "1"],
            &["APPEND", "a"],
        ],
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
        &[
            &["INCR", "c"],
            &["INCR", "c"],
            &["DECR", "c"],
            &["DECR", "fresh"],
            &["INCRBY", "c", "100"],
            &["INCRBY", "c", "-200"],
            &["DECRBY", "c", "50"],
            &["DECRBY", "c", "-7"],
            &["GET", "c"],
            &["INCRBY", "c", "abc"],
            &["INCRBY", "c", "1.5"],
            &["INCRBY", "c", "+1"],
            &["INCRBY", "c", " 1"],
            &["INCRBY", "c", "9223372036854775808"],
            &["DECRBY", "c", "-9223372036854775808"],
            &["DECRBY", "missing", "-9223372036854775808"],
            &["DECRBY", "c", "9223372036854775807"],
            &["SET", "max", "9223372036854775807"],
            &["INCR", "max"],
            &["INCRBY", "max", "0"],
            &["DECR", "max"],
            &["SET", "min", "-9223372036854775808"],
            &["DECR", "min"],
            &["INCRBY", "min", "-1"],
            &["DECRBY", "min", "1"],
            &["INCR", "min"],
            &["SET", "s", "abc"],
            &["INCR", "s"],
            &["DECRBY", "s", "1"],
            &["SET", "s", " 1"],
            &["INCR", "s"],
            &["SET", "s", "01"],
            &["INCR", "s"],
            &["SET", "s", "-0"],
            &["INCR", "s"],
            &["SET", "s", "1.0"],
            &["INCR", "s"],
            &["SET", "s", "9223372036854775808"],
            &["INCR", "s"],
            &["SET", "s", ""],
            &["INCR", "s"],
            &["SET", "s", "12"],
            &["APPEND", "s", "3"],
            &["INCRBY", "s", "7"],
            &["GET", "s"],
            &["INCR"],
            &["INCR", "a", "b"],
            &["DECR"],
            &["INCRBY", "c"],
            &["DECRBY", "c"],
        ],
        false,
    );
}

#[test]
fn float_counters_match_redis() {
    differential(
        &[
            &["SET", "f", "10.5"],
            &["INCRBYFLOAT", "f", "0.1"],
            &["INCRBYFLOAT", "f", "-5.6"],
            &["INCRBYFLOAT", "f", "5.0e3"],
            &["INCRBYFLOAT", "f", "0x10"],
            &["INCRBYFLOAT", "f", "-5021"],
            &["INCRBYFLOAT", "fresh", "3"],
            &["INCRBYFLOAT", "fresh", "-3"],
            &["INCRBYFLOAT", "fresh", "-0.0"],
            &["INCRBYFLOAT", "tiny", "0.000000000000000001"],
            &["INCRBYFLOAT", "tiny", "-1e-20"],
            &["INCRBYFLOAT", "third", "0.3333333333333333333333"],
            &["INCRBYFLOAT", "third", "0.3333333333333333333333"],
            &["SET", "i", "7"],
            &["INCRBYFLOAT", "i", "1.25"],
            &["INCR", "i"],
            &["SET", "i", "9223372036854775807"],
            &["INCRBYFLOAT", "i", "1"],
            &["INCRBYFLOAT", "big", "1e300"],
            &["INCRBYFLOAT", "big", "1e300"],
            &["INCRBYFLOAT", "i", "abc"],
            &["INCRBYFLOAT", "i", ""],
            &["INCRBYFLOAT", "i", " 1"],
            &["INCRBYFLOAT", "i", "1 "],
            &["INCRBYFLOAT", "i", "nan"],
            &["INCRBYFLOAT", "i", "inf"],
            &["INCRBYFLOAT", "i", "-inf"],
            &["INCRBYFLOAT", "i", "1e5000"],
            &["INCRBYFLOAT", "i", "1e-5000"],
            &["INCRBYFLOAT", "i", "1\0junk"],
            &["SET", "nul", "1\0"],
            &["INCRBYFLOAT", "nul", "1"],
            &["SET", "s", "hello"],
            &["INCRBYFLOAT", "s", "1"],
            &["INCRBYFLOAT", "s", "nope"],
            &["SET", "s", "1.5 "],
            &["INCRBYFLOAT", "s", "1"],
            &["SET", "s", "1.5e2"],
            &["INCRBYFLOAT", "s", "1"],
            &["INCRBYFLOAT", "f"],
            &["INCRBYFLOAT"],
        ],
        false,
    );
}

#[test]
fn lcs_matches_redis() {
    differential(
        &[
            &["MSET", "a", "ohmytext", "b", "mynewtext"],
            &["LCS", "a", "b"],
            &["LCS", "a", "b", "LEN"],
            &["LCS", "a", "b", "IDX"],
            &["LCS", "a", "b", "IDX", "WITHMATCHLEN"],
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4"],
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "-3", "WITHMATCHLEN"],
            &[
                "LCS",
                "a",
                "b",
                "idx",
                "minmatchlen",
                "2",
                "minmatchlen",
                "0",
            ],
            &["LCS", "a", "b", "WITHMATCHLEN"],
            &["LCS", "a", "b", "LEN", "MINMATCHLEN", "3"],
            &["LCS", "a", "b", "LEN", "IDX"],
            &["LCS", "a", "b", "MINMATCHLEN"],
            &["LCS", "a", "b", "MINMATCHLEN", "x"],
            &["LCS", "a", "b", "BOGUS"],
            &["LCS", "a", "missing"],
            &["LCS", "missing", "missing", "IDX"],
            &["LCS", "a", "a", "IDX", "WITHMATCHLEN"],
            &["MSET", "x", "abcabcabc", "y", "cbacbacba"],
            &["LCS", "x", "y"],
            &["LCS", "x", "y", "IDX", "WITHMATCHLEN"],
            &["LCS", "y", "x", "IDX", "WITHMATCHLEN"],
            &["MSET", "p", "AGGTAB\0GXTXAYB", "q", "GXTX\0AYBAGGTAB"],
            &["LCS", "p", "q"],
            &["LCS", "p", "q", "IDX", "WITHMATCHLEN"],
            &["SET", "n", "12345"],
            &["SET", "m", "2x4"],
            &["LCS", "n", "m", "IDX"],
            &["LCS", "a"],
        ],
        false,
    );
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
