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
    differential(testkit::script!("bitmaps/setbit_and_getbit"), false);
}

#[test]
fn offsets_are_bounded_by_proto_max_bulk_len() {
    differential_with(
        testkit::script!("bitmaps/offsets_are_bounded_by_proto_max_bulk_len"),
        false,
        &["--proto-max-bulk-len", "1mb"],
    );
}

#[test]
fn bitcount_ranges_and_units() {
    differential(testkit::script!("bitmaps/bitcount_ranges_and_units"), false);
}

#[test]
fn bitpos_set_and_clear_bits() {
    differential(testkit::script!("bitmaps/bitpos_set_and_clear_bits"), false);
}

#[test]
fn bitop_operations_and_destination() {
    differential(
        testkit::script!("bitmaps/bitop_operations_and_destination"),
        false,
    );
}

#[test]
fn bitfield_get_set_incrby() {
    differential(testkit::script!("bitmaps/bitfield_get_set_incrby"), false);
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
        testkit::script!("bitmaps/bitfield_errors_and_bitfield_ro"),
        false,
    );
}

#[test]
fn other_types_are_wrongtype() {
    differential(testkit::script!("bitmaps/other_types_are_wrongtype"), false);
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
    let script: &[&[&str]] = testkit::script!("bitmaps/lookups_and_changes_are_counted_like_redis");
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
    let script: &[&[&str]] = testkit::script!("bitmaps/keyspace_events_match_redis");
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
