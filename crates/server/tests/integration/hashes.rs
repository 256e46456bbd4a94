//! Hash commands: differential scripts against real Redis for every command, option, error and
//! encoding conversion (small hashes, whose listpack order Redis keeps deterministic), plus
//! redis-lite-only checks of what is random or hash-order dependent (HRANDFIELD, big HSCAN).
use redis_lite_testkit as testkit;

use std::collections::{HashMap, HashSet};

use testkit::{differential, differential_both_protocols, Server};

#[test]
fn set_get_and_delete_match_redis() {
    differential_both_protocols(testkit::script!("hashes/set_get_and_delete_match_redis"));
}

#[test]
fn wrong_types_and_arity_match_redis() {
    differential_both_protocols(testkit::script!("hashes/wrong_types_and_arity_match_redis"));
}

#[test]
fn counters_match_redis() {
    differential_both_protocols(testkit::script!("hashes/counters_match_redis"));
}

/// Owned script lines, for scripts built in loops.
fn run_owned(script: &[Vec<String>], server_args: &[&str]) {
    testkit::differential_generated(script, false, server_args);
}

fn line(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn encoding_converts_where_redis_does() {
    let long = "x".repeat(64);
    let longer = "x".repeat(65);
    let mut script = vec![
        line(&["CONFIG", "GET", "hash-max-listpack-entries"]),
        line(&["CONFIG", "GET", "hash-max-listpack-value"]),
        line(&["HSET", "v", &long, &long]),
        line(&["OBJECT", "ENCODING", "v"]),
        line(&["HSET", "v", "f", &longer]),
        line(&["OBJECT", "ENCODING", "v"]),
        line(&["HSET", "fld", &longer, "1"]),
        line(&["OBJECT", "ENCODING", "fld"]),
        // HSETNX on an existing field changes nothing, so nothing converts.
        line(&["HSET", "nx", "f", "v"]),
        line(&["HSETNX", "nx", "f", &longer]),
        line(&["OBJECT", "ENCODING", "nx"]),
        line(&["HSETNX", "nx", "g", &longer]),
        line(&["OBJECT", "ENCODING", "nx"]),
        // Counters convert on a long field name, or a long result.
        line(&["HINCRBY", "ctr", &longer, "1"]),
        line(&["OBJECT", "ENCODING", "ctr"]),
        line(&["HSET", "flt", "f", "1e60"]),
        line(&["HINCRBYFLOAT", "flt", "f", "1"]),
        line(&["OBJECT", "ENCODING", "flt"]),
    ];
    for i in 0..512 {
        script.push(line(&["HSET", "n", &format!("f{i}"), &i.to_string()]));
    }
    script.push(line(&["OBJECT", "ENCODING", "n"]));
    script.push(line(&["HKEYS", "n"]));
    script.push(line(&["HSET", "n", "f512", "x"]));
    script.push(line(&["OBJECT", "ENCODING", "n"]));
    script.push(line(&["HLEN", "n"]));
    // Never back to listpack.
    for i in 0..510 {
        script.push(line(&["HDEL", "n", &format!("f{i}")]));
    }
    script.push(line(&["OBJECT", "ENCODING", "n"]));
    script.push(line(&["HDEL", "v", "f"]));
    script.push(line(&["OBJECT", "ENCODING", "v"]));
    run_owned(&script, &[]);
}

#[test]
fn thresholds_follow_config() {
    let script = [
        line(&["HSET", "h", "a", "1", "b", "2", "c", "3"]),
        line(&["OBJECT", "ENCODING", "h"]),
        line(&["HSET", "h", "d", "4"]),
        line(&["OBJECT", "ENCODING", "h"]),
        line(&["HSET", "v", "f", "12345678"]),
        line(&["OBJECT", "ENCODING", "v"]),
        line(&["HSET", "v", "f", "123456789"]),
        line(&["OBJECT", "ENCODING", "v"]),
        line(&["CONFIG", "SET", "hash-max-listpack-entries", "0"]),
        line(&["HSET", "z", "a", "1"]),
        line(&["OBJECT", "ENCODING", "z"]),
        line(&["CONFIG", "SET", "hash-max-listpack-entries", "10"]),
        line(&["CONFIG", "SET", "hash-max-ziplist-value", "0"]),
        line(&["HSET", "e", "", ""]),
        line(&["OBJECT", "ENCODING", "e"]),
        line(&["HSET", "e", "a", ""]),
        line(&["OBJECT", "ENCODING", "e"]),
    ];
    run_owned(
        &script,
        &[
            "--hash-max-listpack-entries",
            "3",
            "--hash-max-listpack-value",
            "8",
        ],
    );
}

#[test]
fn small_hashes_keep_insertion_order_like_redis() {
    differential_both_protocols(testkit::script!(
        "hashes/small_hashes_keep_insertion_order_like_redis"
    ));
}

#[test]
fn hrandfield_deterministic_cases_match_redis() {
    differential_both_protocols(testkit::script!(
        "hashes/hrandfield_deterministic_cases_match_redis"
    ));
}

#[test]
fn generic_commands_work_on_hashes() {
    differential_both_protocols(testkit::script!("hashes/generic_commands_work_on_hashes"));
}

fn hset(c: &mut redis::Connection, key: &str, field: &str, value: &str) {
    let _: i64 = redis::cmd("HSET")
        .arg(key)
        .arg(field)
        .arg(value)
        .query(c)
        .unwrap();
}

fn strings(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

#[test]
fn big_hashtable_lite_only() {
    let server = Server::lite(&[]);
    let mut c = server.client();
    let n = 2000;
    for i in 0..n {
        hset(&mut c, "h", &format!("f{i}"), &i.to_string());
    }
    assert_eq!(strings(&mut c, &["OBJECT", "ENCODING", "h"]), ["hashtable"]);
    let all: HashMap<String, String> = redis::cmd("HGETALL").arg("h").query(&mut c).unwrap();
    assert_eq!(all.len(), n);
    assert_eq!(all["f7"], "7");
    let mut keys = strings(&mut c, &["HKEYS", "h"]);
    let mut vals = strings(&mut c, &["HVALS", "h"]);
    keys.sort();
    vals.sort();
    let mut expected_keys: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    let mut expected_vals: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    expected_keys.sort();
    expected_vals.sort();
    assert_eq!((keys, vals), (expected_keys, expected_vals));

    // HSCAN walks in several calls and returns every field with its value, while fields
    // added during the scan may or may not appear.
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("h")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query(&mut c)
            .unwrap();
        assert!(items.len() <= 400, "COUNT bounds a call: {}", items.len());
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        calls += 1;
        hset(&mut c, "h", &format!("churn{calls}"), "x");
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(calls > 10, "a big hash takes several calls ({calls})");
    for i in 0..n {
        assert_eq!(seen.get(&format!("f{i}")), Some(&i.to_string()));
    }
    let (_, matched): (u64, Vec<String>) = redis::cmd("HSCAN")
        .arg("h")
        .arg(0)
        .arg("MATCH")
        .arg("f1*")
        .arg("COUNT")
        .arg(100000)
        .query(&mut c)
        .unwrap();
    assert_eq!(matched.len(), 2 * 1111);

    // Emptied, the key is gone; the encoding never went back on the way down.
    for i in 0..n {
        let _: i64 = redis::cmd("HDEL")
            .arg("h")
            .arg(format!("f{i}"))
            .query(&mut c)
            .unwrap();
    }
    assert_eq!(strings(&mut c, &["OBJECT", "ENCODING", "h"]), ["hashtable"]);
    let churn: Vec<String> = strings(&mut c, &["HKEYS", "h"]);
    let mut args = vec!["HDEL", "h"];
    args.extend(churn.iter().map(String::as_str));
    let _: i64 = redis::cmd(args[0]).arg(&args[1..]).query(&mut c).unwrap();
    let exists: i64 = redis::cmd("EXISTS").arg("h").query(&mut c).unwrap();
    assert_eq!(exists, 0);
}

#[test]
fn hrandfield_randomness_lite_only() {
    let server = Server::lite(&["--hash-max-listpack-entries", "16"]);
    let mut c = server.client();
    for (key, size) in [("small", 10usize), ("big", 100)] {
        for i in 0..size {
            hset(&mut c, key, &format!("f{i}"), &format!("v{i}"));
        }
        // Single picks reach every field.
        let mut seen = HashSet::new();
        for _ in 0..size * 30 {
            let f: String = redis::cmd("HRANDFIELD").arg(key).query(&mut c).unwrap();
            seen.insert(f);
        }
        assert_eq!(seen.len(), size, "{key}");
        // Positive counts: distinct fields, exactly min(count, size) of them.
        for count in [1, 3, size / 2, size - 1, size, size + 5] {
            let got = strings(&mut c, &["HRANDFIELD", key, &count.to_string()]);
            let unique: HashSet<&String> = got.iter().collect();
            assert_eq!(got.len(), count.min(size), "{key} {count}");
            assert_eq!(unique.len(), got.len(), "{key} {count}: distinct");
        }
        // Negative counts: exactly |count| picks, repeats allowed, spread over the fields.
        let draws = size * 50;
        let got = strings(&mut c, &["HRANDFIELD", key, &format!("-{draws}")]);
        assert_eq!(got.len(), draws);
        let mut tally: HashMap<&String, usize> = HashMap::new();
        for f in &got {
            *tally.entry(f).or_default() += 1;
        }
        assert_eq!(tally.len(), size, "{key}: every field drawn");
        assert!(
            tally.values().all(|&n| n > 10 && n < 120),
            "{key}: roughly uniform {tally:?}"
        );
        // WITHVALUES pairs each field with its own value, flat in RESP2...
        let pairs = strings(&mut c, &["HRANDFIELD", key, "-7", "WITHVALUES"]);
        assert_eq!(pairs.len(), 14);
        for p in pairs.chunks(2) {
            assert_eq!(p[1], p[0].replace('f', "v"));
        }
    }
    // ...and as two-element arrays in RESP3.
    let mut raw = server.raw();
    raw.cmd(&["HELLO", "3"]);
    let reply = raw.cmd_text(&["HRANDFIELD", "big", "3", "WITHVALUES"]);
    assert!(reply.starts_with("*3\r\n*2\r\n$"), "{reply:?}");
    let reply = raw.cmd_text(&["HRANDFIELD", "small", "-2", "WITHVALUES"]);
    assert!(reply.starts_with("*2\r\n*2\r\n$"), "{reply:?}");
    let reply = raw.cmd_text(&["HRANDFIELD", "small", "2"]);
    assert!(reply.starts_with("*2\r\n$"), "{reply:?}");
}

#[test]
fn copy_is_independent_and_keeps_encoding_lite_only() {
    let server = Server::lite(&["--hash-max-listpack-entries", "2"]);
    let mut raw = server.raw();
    raw.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(raw.cmd_text(&["COPY", "h", "c"]), ":1\r\n");
    assert!(raw
        .cmd_text(&["OBJECT", "ENCODING", "c"])
        .contains("hashtable"));
    raw.cmd(&["HDEL", "c", "a"]);
    assert_eq!(raw.cmd_text(&["HLEN", "h"]), ":3\r\n");
    assert_eq!(raw.cmd_text(&["HLEN", "c"]), ":2\r\n");
}

/// COMMAND INFO and DOCS where the spec table can express what Redis says. Not compared: key-spec
/// flags other than RW/update and RO/access (HSETNX insert, HDEL delete, HINCRBY* access+update,
/// HEXISTS/HLEN/HSTRLEN plain RO), command tips (HGETALL/HKEYS/HVALS, HRANDFIELD, HSCAN) and
/// DOCS history/deprecation (HSET, HDEL, HMSET): the core's CommandSpec has no field for them.
#[test]
fn command_info_matches_redis() {
    let info = ["hset", "hmset", "hget", "hmget"];
    let docs = [
        "hsetnx",
        "hget",
        "hmget",
        "hgetall",
        "hkeys",
        "hvals",
        "hexists",
        "hlen",
        "hstrlen",
        "hincrby",
        "hincrbyfloat",
        "hrandfield",
        "hscan",
    ];
    let info = info.iter().map(|n| vec!["COMMAND", "INFO", n]);
    let docs = docs.iter().map(|n| vec!["COMMAND", "DOCS", n]);
    let lines: Vec<Vec<&str>> = info.chain(docs).collect();
    let script: Vec<&[&str]> = lines.iter().map(Vec::as_slice).collect();
    differential(&script, false);
}

/// A long seeded random script over a few small hashes, with thresholds lowered so conversions
/// happen often. The generator models each hash's encoding: while it is a listpack the whole
/// hash is compared in Redis's (insertion) order; once it is a hashtable, by HMGET of every
/// field name, since the order is then Redis's hash order.
#[test]
fn random_operations_match_redis() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (max_entries, max_value) = (8, 6);
    let fields: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
    let mut models: Vec<(Vec<String>, bool)> = vec![(Vec::new(), false); 3];
    let mut script = Vec::new();
    for _ in 0..1500 {
        let k = next(3) as usize;
        let key = format!("h{k}");
        let field = fields[next(12) as usize].clone();
        let value = match next(3) {
            0 => next(1000).to_string(),
            1 => "v".repeat(next(9) as usize),
            _ => format!("{}.5", next(50)),
        };
        let (present, converted) = &mut models[k];
        let store = |present: &mut Vec<String>, converted: &mut bool, f: &str, v: &str| {
            if f.len() > max_value || v.len() > max_value {
                *converted = true;
            }
            if !present.iter().any(|p| p == f) {
                present.push(f.to_string());
            }
            if present.len() > max_entries {
                *converted = true;
            }
        };
        match next(8) {
            0 | 1 => {
                store(present, converted, &field, &value);
                script.push(line(&["HSET", &key, &field, &value]));
            }
            2 => {
                if !present.contains(&field) {
                    store(present, converted, &field, &value);
                }
                script.push(line(&["HSETNX", &key, &field, &value]));
            }
            3 => {
                present.retain(|p| *p != field);
                if present.is_empty() {
                    *converted = false;
                }
                script.push(line(&["HDEL", &key, &field]));
            }
            4 => {
                // Fails on non-integers, and then stores nothing; the model only needs to know
                // whether the field may now exist, which it may only if it did or this worked.
                script.push(line(&["HINCRBY", &key, &field, "3"]));
                script.push(line(&["HEXISTS", &key, &field]));
                if !present.contains(&field) {
                    store(present, converted, &field, "3");
                }
            }
            5 => {
                script.push(line(&["HINCRBYFLOAT", &key, &field, "1.25"]));
                if !present.contains(&field) {
                    store(present, converted, &field, "1.25");
                }
            }
            _ => {}
        }
        script.push(line(&["OBJECT", "ENCODING", &key]));
        if *converted {
            let mut hmget = line(&["HMGET", &key]);
            hmget.extend(fields.iter().cloned());
            script.push(hmget);
            script.push(line(&["HLEN", &key]));
        } else {
            script.push(line(&["HGETALL", &key]));
        }
    }
    run_owned(
        &script,
        &[
            "--hash-max-listpack-entries",
            &max_entries.to_string(),
            "--hash-max-listpack-value",
            &max_value.to_string(),
        ],
    );
}

/// HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a negative count pick every member equally
/// often, whatever the encoding: 200 members drawn 100 000 times are each drawn 500 times on
/// average (a standard deviation of 22); each must come within 30% of that, which a picker
/// that favours some members (a bucket then a place in its chain halves the odds of a member
/// that shares its bucket) fails.
#[test]
fn random_picks_with_repeats_are_uniform_in_every_encoding() {
    const MEMBERS: usize = 200;
    const DRAWS: usize = 100_000;
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i}")).collect();
    let integers: Vec<String> = (0..MEMBERS).map(|i| i.to_string()).collect();
    for (small, listpack_entries) in [(true, "1000"), (false, "0")] {
        for name in ["hash-max-listpack-entries", "zset-max-listpack-entries"] {
            raw.cmd(&["CONFIG", "SET", name, listpack_entries]);
        }
        let mut hset = vec!["HSET", "h"];
        let mut zadd = vec!["ZADD", "z"];
        for m in &members {
            hset.extend([m.as_str(), "v"]);
            zadd.extend(["1", m.as_str()]);
        }
        raw.cmd(&["DEL", "h", "z", "s"]);
        raw.cmd(&hset);
        raw.cmd(&zadd);
        // An intset for the small case, a hash table otherwise.
        let set_members = if small { &integers } else { &members };
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(set_members.iter().map(String::as_str));
        raw.cmd(&sadd);
        let draws = DRAWS.to_string();
        let negative = format!("-{draws}");
        for (command, key) in [
            ("HRANDFIELD", "h"),
            ("SRANDMEMBER", "s"),
            ("ZRANDMEMBER", "z"),
        ] {
            let encoding = raw.cmd_text(&["OBJECT", "ENCODING", key]);
            let picks = testkit::Reply::parse(&raw.cmd(&[command, key, &negative])).array();
            assert_eq!(picks.len(), DRAWS);
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            for pick in picks {
                *counts.entry(pick).or_default() += 1;
            }
            assert_eq!(counts.len(), MEMBERS, "{command} {encoding}");
            let expected = DRAWS / MEMBERS;
            let (least, most) = (
                counts.values().min().unwrap(),
                counts.values().max().unwrap(),
            );
            assert!(
                *least * 10 >= expected * 7 && *most * 10 <= expected * 13,
                "{command} on {encoding}: picks per member from {least} to {most}, expected {expected}"
            );
        }
    }
}
