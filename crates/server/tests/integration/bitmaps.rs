//! Bitmap commands against real Redis: every command, option, boundary and error, on strings
//! of each encoding (int, embstr, raw).
use redis_lite_testkit as testkit;

use testkit::{differential, differential_with, Server};

/// Runs a script built at run time through [`differential`].
fn differential_owned(script: &[Vec<String>]) {
    testkit::differential_generated(script, false, &[]);
}

#[test]
fn setbit_and_getbit() {
    differential(
        &[
            &["SETBIT", "b", "7", "1"],
            &["GET", "b"],
            &["SETBIT", "b", "7", "1"],
            &["SETBIT", "b", "7", "0"],
            &["SETBIT", "b", "0", "1"],
            &["SETBIT", "b", "100", "1"],
            &["STRLEN", "b"],
            &["GET", "b"],
            &["GETBIT", "b", "0"],
            &["GETBIT", "b", "1"],
            &["GETBIT", "b", "100"],
            &["GETBIT", "b", "100000"],
            &["GETBIT", "missing", "3"],
            &["OBJECT", "ENCODING", "b"],
            // Integer and embstr strings are read as their text and written as raw.
            &["SET", "n", "12"],
            &["GETBIT", "n", "2"],
            &["GETBIT", "n", "3"],
            &["SETBIT", "n", "6", "1"],
            &["GET", "n"],
            &["OBJECT", "ENCODING", "n"],
            &["SET", "e", "abc"],
            &["SETBIT", "e", "1", "0"],
            &["GET", "e"],
            &["OBJECT", "ENCODING", "e"],
            &["SET", "t", "x", "EX", "100"],
            &["SETBIT", "t", "0", "1"],
            &["TTL", "t"],
            // Errors.
            &["SETBIT", "b", "-1", "1"],
            &["SETBIT", "b", "abc", "1"],
            &["SETBIT", "b", "4294967296", "1"],
            &["SETBIT", "b", "1", "2"],
            &["SETBIT", "b", "1", "-1"],
            &["SETBIT", "b", "1", "one"],
            &["SETBIT", "b", "1", "01"],
            &["SETBIT", "b", "1", "+1"],
            &["SETBIT", "b", "1", "-0"],
            &["SETBIT", "b", "1", " 1"],
            &["GETBIT", "b", "01"],
            &["GETBIT", "b", "+1"],
            &["BITPOS", "b", "01"],
            &["BITPOS", "b", "-0"],
            &["BITFIELD", "b", "GET", "u08", "0"],
            &["BITFIELD", "b", "GET", "u8", "+1"],
            &["BITFIELD", "b", "GET", "u8", "#01"],
            &["SETBIT", "b", "x", "2"],
            &["GETBIT", "b", "-1"],
            &["GETBIT", "b", "4294967296"],
            &["GETBIT", "b", "1.5"],
            &["SETBIT", "b", "1"],
            &["GETBIT", "b"],
        ],
        false,
    );
}

#[test]
fn offsets_are_bounded_by_proto_max_bulk_len() {
    differential_with(
        &[
            &["SETBIT", "b", "8388607", "1"],
            &["STRLEN", "b"],
            &["SETBIT", "b", "8388608", "1"],
            &["GETBIT", "b", "8388608"],
            &["BITFIELD", "b", "SET", "u8", "8388600", "1"],
            &["BITFIELD", "b", "SET", "u8", "8388608", "1"],
            &["BITFIELD", "b", "GET", "u8", "#1048575"],
            &["BITFIELD", "b", "GET", "u8", "#1048576"],
            &["BITFIELD", "b", "GET", "i64", "#-1"],
            &["BITFIELD", "b", "GET", "i64", "#9223372036854775807"],
        ],
        false,
        &["--proto-max-bulk-len", "1mb"],
    );
}

#[test]
fn bitcount_ranges_and_units() {
    differential(
        &[
            &["SET", "s", "foobar"],
            &["BITCOUNT", "s"],
            &["BITCOUNT", "s", "0", "0"],
            &["BITCOUNT", "s", "1", "1"],
            &["BITCOUNT", "s", "1", "1", "BYTE"],
            &["BITCOUNT", "s", "5", "30", "BIT"],
            &["BITCOUNT", "s", "5", "30", "bit"],
            &["BITCOUNT", "s", "0", "-1"],
            &["BITCOUNT", "s", "-2", "-1"],
            &["BITCOUNT", "s", "-1", "-2"],
            &["BITCOUNT", "s", "-1", "-2", "FOO"],
            &["BITCOUNT", "s", "-100", "100"],
            &["BITCOUNT", "s", "-100", "-90"],
            &["BITCOUNT", "s", "3", "1"],
            &["BITCOUNT", "s", "10", "20"],
            &["BITCOUNT", "s", "0", "-1", "BIT"],
            &["BITCOUNT", "s", "-3", "-1", "BIT"],
            &["BITCOUNT", "s", "7", "7", "BIT"],
            &["BITCOUNT", "s", "9", "14", "BIT"],
            &[
                "BITCOUNT",
                "s",
                "9223372036854775807",
                "-9223372036854775808",
            ],
            &[
                "BITCOUNT",
                "s",
                "-9223372036854775808",
                "9223372036854775807",
                "BIT",
            ],
            &["SET", "n", "-123"],
            &["BITCOUNT", "n"],
            &["SET", "empty", ""],
            &["BITCOUNT", "empty"],
            &["BITCOUNT", "empty", "0", "-1", "BIT"],
            &["BITCOUNT", "missing"],
            // A missing key counts 0 before the arguments are even parsed.
            &["BITCOUNT", "missing", "1"],
            &["BITCOUNT", "missing", "a", "b", "c", "d"],
            &["BITCOUNT", "s", "1"],
            &["BITCOUNT", "s", "1", "2", "3", "4"],
            &["BITCOUNT", "s", "a", "1"],
            &["BITCOUNT", "s", "1", "b"],
            &["BITCOUNT", "s", "1", "2", "BOTH"],
            &["BITCOUNT", "s", "a", "b", "BOTH"],
            &["BITCOUNT"],
        ],
        false,
    );
}

#[test]
fn bitpos_set_and_clear_bits() {
    differential(
        &[
            &["SET", "s", "\u{ff}\u{f0}\u{0}"],
            &["BITPOS", "s", "0"],
            &["BITPOS", "s", "1"],
            &["BITPOS", "s", "1", "2"],
            &["BITPOS", "s", "0", "1"],
            &["BITPOS", "s", "1", "1", "-1"],
            &["BITPOS", "s", "1", "-1"],
            &["BITPOS", "s", "0", "0", "0"],
            &["BITPOS", "s", "1", "7", "15", "BIT"],
            &["BITPOS", "s", "0", "7", "15", "BIT"],
            &["BITPOS", "s", "0", "3", "10", "bit"],
            &["BITPOS", "s", "1", "12", "20", "BIT"],
            &["BITPOS", "s", "1", "-5", "-1", "BIT"],
            &["BITPOS", "s", "0", "1", "1", "BYTE"],
            &["BITPOS", "s", "1", "5", "2"],
            &["BITPOS", "s", "0", "100"],
            &["BITPOS", "s", "1", "-100", "100"],
            // All ones: a clear bit is "found" just past the end only without an explicit end.
            &["SET", "ones", "\u{ff}\u{ff}"],
            &["BITPOS", "ones", "0"],
            &["BITPOS", "ones", "0", "0"],
            &["BITPOS", "ones", "0", "1"],
            &["BITPOS", "ones", "0", "0", "-1"],
            &["BITPOS", "ones", "0", "0", "-1", "BIT"],
            &["BITPOS", "ones", "0", "3", "5", "BIT"],
            &["BITPOS", "ones", "1", "3", "5", "BIT"],
            &["SET", "zeros", "\u{0}\u{0}\u{0}"],
            &["BITPOS", "zeros", "1"],
            &["BITPOS", "zeros", "0"],
            &["BITPOS", "zeros", "1", "0", "-1", "BIT"],
            &["BITPOS", "zeros", "0", "9", "-1", "BIT"],
            &["SET", "n", "10"],
            &["BITPOS", "n", "1"],
            &["BITPOS", "n", "0", "1"],
            &["SET", "empty", ""],
            &["BITPOS", "empty", "0"],
            &["BITPOS", "empty", "1"],
            &["BITPOS", "missing", "0"],
            &["BITPOS", "missing", "1"],
            &["BITPOS", "missing", "1", "x", "y", "z", "w"],
            // Errors, and the order Redis checks them in.
            &["BITPOS", "missing", "2"],
            &["BITPOS", "missing", "x"],
            &["BITPOS", "s", "-1"],
            &["BITPOS", "s", "1", "x"],
            &["BITPOS", "s", "1", "0", "x"],
            &["BITPOS", "s", "1", "0", "1", "WORD"],
            &["BITPOS", "s", "1", "0", "x", "WORD"],
            &["BITPOS", "s", "1", "x", "1", "WORD"],
            &["BITPOS", "s", "1", "0", "1", "BIT", "extra"],
            &["BITPOS", "s"],
        ],
        false,
    );
}

#[test]
fn bitop_operations_and_destination() {
    differential(
        &[
            &["SET", "a", "\u{f0}\u{0f}ab"],
            &["SET", "b", "\u{ff}"],
            &["SET", "n", "123"],
            &["BITOP", "AND", "d", "a", "b"],
            &["GET", "d"],
            &["BITOP", "OR", "d", "a", "b"],
            &["GET", "d"],
            &["BITOP", "XOR", "d", "a", "b", "n"],
            &["GET", "d"],
            &["BITOP", "NOT", "d", "a"],
            &["GET", "d"],
            &["OBJECT", "ENCODING", "d"],
            &["BITOP", "and", "d", "a", "missing"],
            &["GET", "d"],
            &["BITOP", "or", "d", "a"],
            &["GET", "d"],
            &["BITOP", "NOT", "d", "n"],
            &["GET", "d"],
            // An empty result deletes the destination (and its TTL goes with it).
            &["EXPIRE", "d", "100"],
            &["BITOP", "OR", "d", "missing", "missing2"],
            &["EXISTS", "d"],
            &["BITOP", "OR", "d", "missing"],
            &["SET", "d", "x", "EX", "100"],
            &["BITOP", "OR", "d", "a"],
            &["TTL", "d"],
            &["BITOP", "AND", "a", "a", "b"],
            &["GET", "a"],
            // Errors.
            &["BITOP", "NOT", "d", "a", "b"],
            &["BITOP", "NOT", "d"],
            &["BITOP", "NAND", "d", "a"],
            &["BITOP", "AND", "d"],
        ],
        false,
    );
}

#[test]
fn bitfield_get_set_incrby() {
    differential(
        &[
            &["BITFIELD", "f", "SET", "u8", "0", "255", "GET", "u8", "0"],
            &[
                "BITFIELD", "f", "GET", "i8", "0", "GET", "u4", "4", "GET", "i4", "4",
            ],
            &[
                "BITFIELD", "f", "SET", "i16", "#1", "-300", "GET", "i16", "#1", "GET", "u16", "8",
            ],
            &["GET", "f"],
            &[
                "BITFIELD", "f", "INCRBY", "u2", "100", "1", "INCRBY", "u2", "100", "1",
            ],
            &[
                "BITFIELD", "f", "INCRBY", "u2", "100", "1", "INCRBY", "u2", "100", "1",
            ],
            &[
                "BITFIELD", "f", "GET", "u2", "100", "GET", "i64", "0", "GET", "u63", "1",
            ],
            &["BITFIELD", "f", "SET", "i64", "0", "-9223372036854775808"],
            &[
                "BITFIELD", "f", "GET", "i64", "0", "GET", "u63", "0", "GET", "i1", "0",
            ],
            &["BITFIELD", "f", "INCRBY", "i64", "0", "-1"],
            &[
                "BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-1",
            ],
            &[
                "BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "-1", "GET", "i64", "0",
            ],
            &["BITFIELD", "f", "SET", "i64", "0", "9223372036854775807"],
            &["BITFIELD", "f", "INCRBY", "i64", "0", "1"],
            &[
                "BITFIELD",
                "f",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807",
            ],
            &["BITFIELD", "missing"],
            &["EXISTS", "missing"],
            &["BITFIELD", "missing", "GET", "u8", "0"],
            &["EXISTS", "missing"],
            &["BITFIELD", "big", "SET", "u8", "#1000", "1"],
            &["STRLEN", "big"],
            &["BITFIELD", "big", "GET", "u32", "7999"],
            &["BITFIELD", "big", "GET", "u63", "100000"],
            // A failed write still makes the key.
            &[
                "BITFIELD", "ov", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5",
            ],
            &["GET", "ov"],
            &["SET", "n", "7"],
            &["BITFIELD", "n", "GET", "u8", "0"],
            &["BITFIELD", "n", "INCRBY", "u8", "0", "0"],
            &["OBJECT", "ENCODING", "n"],
            &["BITFIELD", "n", "SET", "u8", "0", "65", "GET", "u8", "0"],
            &["GET", "n"],
            &[
                "BITFIELD", "t", "set", "U8", "0", "1", "incrby", "I8", "0", "1", "get", "u8", "0",
            ],
        ],
        false,
    );
}

#[test]
fn bitfield_overflow_modes() {
    let mut script: Vec<Vec<String>> = Vec::new();
    let types = ["u1", "u7", "u8", "u63", "i1", "i8", "i63", "i64"];
    let values = [
        "0",
        "1",
        "-1",
        "100",
        "-100",
        "127",
        "128",
        "-128",
        "-129",
        "255",
        "256",
        "9223372036854775807",
        "-9223372036854775808",
        "4611686018427387904",
        "-4611686018427387905",
    ];
    for mode in ["WRAP", "SAT", "FAIL"] {
        for ty in types {
            for value in values {
                let w = |s: &str| s.to_string();
                script.push(vec![
                    w("BITFIELD"),
                    w("k"),
                    w("OVERFLOW"),
                    w(mode),
                    w("SET"),
                    w(ty),
                    w("3"),
                    w(value),
                    w("GET"),
                    w(ty),
                    w("3"),
                ]);
                for incr in values {
                    script.push(vec![
                        w("BITFIELD"),
                        w("k"),
                        w("OVERFLOW"),
                        w(mode),
                        w("INCRBY"),
                        w(ty),
                        w("3"),
                        w(incr),
                    ]);
                }
            }
        }
    }
    differential_owned(&script);
}

#[test]
fn bitfield_fail_is_null_in_resp3() {
    differential(
        &[
            &[
                "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5", "GET", "u2", "0",
            ],
            &["BITFIELD_RO", "k", "GET", "i2", "0"],
        ],
        true,
    );
}

#[test]
fn bitfield_errors_and_bitfield_ro() {
    differential(
        &[
            &["BITFIELD", "f", "GET", "u64", "0"],
            &["BITFIELD", "f", "GET", "i65", "0"],
            &["BITFIELD", "f", "GET", "i0", "0"],
            &["BITFIELD", "f", "GET", "x8", "0"],
            &["BITFIELD", "f", "GET", "u", "0"],
            &["BITFIELD", "f", "GET", "u8", "-1"],
            &["BITFIELD", "f", "GET", "u8", "#"],
            &["BITFIELD", "f", "GET", "u8", "x"],
            &["BITFIELD", "f", "SET", "u8", "0", "x"],
            &["BITFIELD", "f", "INCRBY", "u8", "0", "1.5"],
            &["BITFIELD", "f", "OVERFLOW", "NONE"],
            &["BITFIELD", "f", "OVERFLOW"],
            &["BITFIELD", "f", "GET", "u8"],
            &["BITFIELD", "f", "SET", "u8", "0"],
            &["BITFIELD", "f", "FOO", "u8", "0"],
            &["BITFIELD", "f", "SET", "u8", "0", "1", "GET", "x8", "0"],
            &["EXISTS", "f"],
            &["BITFIELD", "f", "OVERFLOW", "SAT"],
            &["EXISTS", "f"],
            &["BITFIELD_RO", "f", "GET", "u8", "0"],
            &["BITFIELD", "f", "SET", "u8", "0", "200"],
            &["BITFIELD_RO", "f", "GET", "u8", "0", "GET", "i8", "0"],
            &["BITFIELD_RO", "f"],
            &["BITFIELD_RO", "f", "SET", "u8", "0", "1"],
            &["BITFIELD_RO", "f", "INCRBY", "u8", "0", "1"],
            &["BITFIELD_RO", "f", "OVERFLOW", "SAT", "GET", "u8", "0"],
            &["BITFIELD_RO", "f", "OVERFLOW", "BAD"],
            &["BITFIELD_RO", "f", "SET", "u8", "0", "x"],
            &["BITFIELD_RO", "f", "GET", "u99", "0"],
            &["BITFIELD_RO", "missing", "GET", "u8", "0"],
            &["BITFIELD_RO"],
            &["BITFIELD"],
        ],
        false,
    );
}

#[test]
fn other_types_are_wrongtype() {
    differential(
        &[
            &["LPUSH", "l", "a"],
            &["SETBIT", "l", "0", "1"],
            &["SETBIT", "l", "-1", "1"],
            &["GETBIT", "l", "0"],
            &["BITCOUNT", "l"],
            &["BITCOUNT", "l", "x"],
            &["BITPOS", "l", "1"],
            &["BITPOS", "l", "3"],
            &["BITOP", "AND", "d", "l"],
            &["BITOP", "AND", "l", "missing"],
            &["EXISTS", "l"],
            &["BITFIELD", "l", "GET", "u8", "0"],
            &["BITFIELD", "l", "SET", "u8", "0", "1"],
            &["BITFIELD_RO", "l", "GET", "u8", "0"],
            // The HyperLogLog commands (tested here too, to keep one copy of the skip).
            &["PFADD", "l", "a"],
            &["PFCOUNT", "l"],
            &["PFCOUNT", "missing", "l"],
            &["PFMERGE", "l", "missing"],
            &["PFMERGE", "dest", "l"],
            &["EXISTS", "dest"],
        ],
        false,
    );
}

/// Keyspace hits/misses and the change counter, read from INFO.
fn counters(conn: &mut testkit::Raw) -> Vec<String> {
    let info = conn.cmd_text(&["INFO"]);
    info.lines()
        .filter(|l| {
            [
                "keyspace_hits:",
                "keyspace_misses:",
                "rdb_changes_since_last_save:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn lookups_and_changes_are_counted_like_redis() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let (mut r, mut l) = (redis.raw(), lite.raw());
    let script: &[&[&str]] = &[
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "3", "0"],
        &["SETBIT", "b", "30", "0"],
        &["GETBIT", "b", "3"],
        &["GETBIT", "nob", "3"],
        &["BITCOUNT", "b"],
        &["BITCOUNT", "nob"],
        &["BITPOS", "b", "1"],
        &["BITPOS", "nob", "1"],
        &["BITOP", "OR", "d", "b", "nob"],
        &["BITOP", "OR", "d", "nob"],
        &["BITOP", "OR", "d", "nob"],
        &[
            "BITFIELD", "f", "SET", "u8", "0", "1", "SET", "u8", "0", "1", "INCRBY", "u8", "8", "0",
        ],
        &[
            "BITFIELD", "f", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "0",
        ],
        &["BITFIELD", "f", "GET", "u8", "0"],
        &["BITFIELD_RO", "nof", "GET", "u8", "0"],
        &["PFADD", "h", "a", "b", "c"],
        &["PFADD", "h", "a"],
        &["PFADD", "h2"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h", "h2", "noh"],
        &["PFMERGE", "m", "h", "noh"],
        &["PFMERGE", "m"],
    ];
    for cmd in script {
        assert_eq!(l.cmd(cmd), r.cmd(cmd), "{cmd:?}");
        assert_eq!(counters(&mut l), counters(&mut r), "after {cmd:?}");
    }
}

/// The keyevent notifications `script` makes on `server`, in order.
fn keyevents(server: &Server, script: &[&[&str]]) -> Vec<String> {
    let mut client = server.raw();
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut subscriber = server.raw();
    subscriber.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    for cmd in script {
        client.cmd(cmd);
    }
    client.cmd(&["PUBLISH", "__keyevent@0__:end", "-"]);
    let mut events = Vec::new();
    loop {
        let message = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
        if message.contains("__keyevent@0__:end") {
            return events;
        }
        events.push(message);
    }
}

#[test]
fn keyspace_events_match_redis() {
    let lite = Server::lite(&[]);

    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let script: &[&[&str]] = &[
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "100", "0"],
        &[
            "BITFIELD", "f", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "1",
        ],
        &["BITFIELD", "f", "SET", "u8", "0", "2"],
        &[
            "BITFIELD", "g", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9",
        ],
        &["BITOP", "OR", "d", "b", "f"],
        &["BITOP", "AND", "d", "missing"],
        &["BITOP", "AND", "d", "missing"],
        &["PFADD", "h", "a"],
        &["PFADD", "h", "a"],
        &["PFADD", "h2"],
        &["PFCOUNT", "h"],
        &["PFMERGE", "m", "h"],
    ];
    assert_eq!(keyevents(&lite, script), keyevents(&redis, script));
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as i64
    }
}

#[test]
fn random_ranges_match_redis() {
    let mut rng = Lcg(7);
    let mut script: Vec<Vec<String>> = Vec::new();
    let s = |v: &str| v.to_string();
    // Sparse set bits, a run of ones, and clear bits inside it.
    for offset in [3, 17, 40, 41, 42, 43, 44, 45, 46, 47, 63, 64, 65, 100] {
        script.push(vec![s("SETBIT"), s("k"), offset.to_string(), s("1")]);
    }
    script.push(vec![s("SETBIT"), s("k"), s("44"), s("0")]);
    for _ in 0..600 {
        let start = rng.below(40) - 20;
        let end = rng.below(40) - 20;
        let unit = ["", "BYTE", "BIT"][rng.below(3) as usize];
        let (start, end) = if unit == "BIT" {
            (start * 6, end * 6)
        } else {
            (start, end)
        };
        let mut count = vec![s("BITCOUNT"), s("k"), start.to_string(), end.to_string()];
        let bit = rng.below(2).to_string();
        let mut pos = vec![s("BITPOS"), s("k"), bit, start.to_string(), end.to_string()];
        if !unit.is_empty() {
            count.push(s(unit));
            pos.push(s(unit));
        }
        script.push(count);
        script.push(pos);
    }
    for start in -20..20 {
        for bit in ["0", "1"] {
            script.push(vec![s("BITPOS"), s("k"), s(bit), start.to_string()]);
        }
    }
    differential_owned(&script);
}
