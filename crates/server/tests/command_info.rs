//! COMMAND INFO compared with real Redis for every command redis-lite has: arity, flags, the
//! legacy first/last/step key positions (derived from the key specs), ACL categories, tips, key
//! specs and the same fields of each subcommand; then byte for byte in RESP2 and RESP3. COMMAND
//! GETKEYS and GETKEYSANDFLAGS, which read the key specs, compared over varied command lines.

use std::collections::BTreeMap;

use redis::Value;
use redis_lite_testkit::{differential, differential_generated, Server};

/// The fields of one COMMAND INFO reply that this test compares.
#[derive(Debug, PartialEq)]
struct Info {
    arity: i64,
    flags: Vec<String>,
    first_key: i64,
    last_key: i64,
    key_step: i64,
    acl: Vec<String>,
    tips: Vec<String>,
    /// The key specs, rendered as text: notes, flags, begin_search and find_keys in order.
    key_specs: String,
    /// By full name (`config|get`): Redis lists subcommands in no fixed order.
    subcommands: BTreeMap<String, Info>,
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) | Value::Set(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// A reply as compact text (maps and arrays alike as lists), to show key specs in diffs.
fn render(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Nil => "nil".into(),
        Value::Array(items) | Value::Set(items) => {
            format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(" ")
            )
        }
        Value::Map(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", render(k), render(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => text(other),
    }
}

fn strings(v: &Value) -> Vec<String> {
    items(v).iter().map(text).collect()
}

/// Parses one COMMAND INFO entry; returns its name and fields.
fn parse(v: &Value) -> (String, Info) {
    let f = items(v);
    assert_eq!(f.len(), 10, "COMMAND INFO entry with {} fields", f.len());
    let subcommands = items(&f[9]).iter().map(parse).collect::<BTreeMap<_, _>>();
    let info = Info {
        arity: int(&f[1]),
        flags: strings(&f[2]),
        first_key: int(&f[3]),
        last_key: int(&f[4]),
        key_step: int(&f[5]),
        acl: strings(&f[6]),
        tips: strings(&f[7]),
        key_specs: render(&f[8]),
        subcommands,
    };
    (text(&f[0]), info)
}

fn command_info(con: &mut redis::Connection, name: &str) -> Option<Info> {
    let reply: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(name)
        .query(con)
        .unwrap();
    match &items(&reply)[0] {
        Value::Nil => None,
        entry => Some(parse(entry).1),
    }
}

/// Appends `field: lite ... redis ...` lines for each field that differs, counting by field.
fn diff(
    name: &str,
    lite: &Info,
    redis: &Info,
    out: &mut Vec<String>,
    counts: &mut BTreeMap<&'static str, usize>,
) {
    let mut field = |field: &'static str, l: String, r: String| {
        if l != r {
            *counts.entry(field).or_default() += 1;
            out.push(format!("{name} {field}: lite {l} redis {r}"));
        }
    };
    field("arity", lite.arity.to_string(), redis.arity.to_string());
    field(
        "flags",
        format!("{:?}", lite.flags),
        format!("{:?}", redis.flags),
    );
    field(
        "keys",
        format!("{} {} {}", lite.first_key, lite.last_key, lite.key_step),
        format!("{} {} {}", redis.first_key, redis.last_key, redis.key_step),
    );
    field("acl", format!("{:?}", lite.acl), format!("{:?}", redis.acl));
    field(
        "tips",
        format!("{:?}", lite.tips),
        format!("{:?}", redis.tips),
    );
    field("key_specs", lite.key_specs.clone(), redis.key_specs.clone());
    let lite_names: Vec<&String> = lite.subcommands.keys().collect();
    let redis_names: Vec<&String> = redis.subcommands.keys().collect();
    // Subcommands redis-lite does not have yet are not this test's business; it has none that
    // Redis lacks.
    let extra: Vec<_> = lite_names
        .iter()
        .filter(|n| !redis_names.contains(n))
        .collect();
    assert!(
        extra.is_empty(),
        "subcommands Redis 7.0.15 does not have: {extra:?}"
    );
    for (sub, lite_sub) in &lite.subcommands {
        if let Some(redis_sub) = redis.subcommands.get(sub) {
            diff(sub, lite_sub, redis_sub, out, counts);
        }
    }
}

#[test]
fn command_info_matches_redis() {
    let lite = Server::lite(&[]);
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let mut lite_con = lite.client();
    let mut redis_con = redis.client();
    let mut names: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .query(&mut lite_con)
        .unwrap();
    // COMMAND LIST names subcommands too (`config|get`); they are compared with their container.
    names.retain(|n| !n.contains('|'));
    names.sort();
    let mut out = Vec::new();
    let mut counts = BTreeMap::new();
    for name in &names {
        let lite_info = command_info(&mut lite_con, name)
            .unwrap_or_else(|| panic!("COMMAND LIST names {name} but COMMAND INFO has none"));
        let Some(redis_info) = command_info(&mut redis_con, name) else {
            eprintln!("{name}: not in Redis 7.0.15, not compared");
            continue;
        };
        diff(name, &lite_info, &redis_info, &mut out, &mut counts);
    }
    assert!(
        out.is_empty(),
        "COMMAND INFO differs from Redis ({} lines; by field: {counts:?}):\n{}",
        out.len(),
        out.join("\n")
    );
}

/// GETKEYS and GETKEYSANDFLAGS need a command and at least one argument (arity -4): a bare
/// command name is an arity error, not a key-extraction error.
#[test]
fn getkeys_arity_is_that_of_redis() {
    differential(
        &[
            &["COMMAND", "GETKEYS", "get"],
            &["COMMAND", "GETKEYSANDFLAGS", "get"],
            &["COMMAND", "GETKEYS", "ping"],
            &["COMMAND", "GETKEYS", "get", "a"],
            &["COMMAND", "GETKEYSANDFLAGS", "get", "a"],
        ],
        false,
    );
}

/// Every entry of COMMAND INFO that has no subcommands (Redis lists those in no fixed order),
/// subcommands included by their full name, is byte for byte that of Redis in RESP2 and RESP3:
/// key specs are maps in RESP3 and flat arrays in RESP2.
#[test]
fn command_info_is_byte_identical_to_redis_in_resp2_and_resp3() {
    let lite = Server::lite(&[]);
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let names: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .query(&mut lite.client())
        .unwrap();
    let mut out = Vec::new();
    let mut compared = 0;
    for resp3 in [false, true] {
        let (mut l, mut r) = (lite.raw(), redis.raw());
        if resp3 {
            l.cmd(&["HELLO", "3"]);
            r.cmd(&["HELLO", "3"]);
        }
        for name in &names {
            let expected = r.cmd(&["COMMAND", "INFO", name]);
            let null = if resp3 {
                &b"*1\r\n_\r\n"[..]
            } else {
                b"*1\r\n$-1\r\n"
            };
            if expected == null {
                continue;
            }
            let actual = l.cmd(&["COMMAND", "INFO", name]);
            // A container's subcommands come in Redis's hash order: compared field by field
            // in `command_info_matches_redis` instead.
            let container = redis::cmd("COMMAND")
                .arg("LIST")
                .arg("FILTERBY")
                .arg("PATTERN")
                .arg(format!("{name}|*"))
                .query::<Vec<String>>(&mut lite.client())
                .unwrap();
            if !container.is_empty() {
                continue;
            }
            compared += 1;
            if expected != actual {
                out.push(format!(
                    "{name} (RESP{}):\n    redis: {:?}\n    lite:  {:?}",
                    if resp3 { 3 } else { 2 },
                    String::from_utf8_lossy(&expected),
                    String::from_utf8_lossy(&actual)
                ));
            }
        }
    }
    assert!(compared > 300, "only {compared} entries compared");
    assert!(
        out.is_empty(),
        "{} COMMAND INFO entries differ from Redis:\n{}",
        out.len(),
        out.join("\n")
    );
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS over command lines of every shape of key spec: one key,
/// ranges to the end and with a step, several specs, key counts (with the counts Redis reads as
/// atoi does, and the ones it refuses), SORT's STORE, the flags SET and BITFIELD choose by their
/// arguments, subcommands, and the errors for commands without keys or with bad arguments.
#[test]
fn getkeys_match_redis() {
    let lines: &[&[&str]] = redis_lite_testkit::script!("command_info/getkeys_match_redis");
    for resp3 in [false, true] {
        let mut script: Vec<Vec<String>> = Vec::new();
        for line in lines {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let mut cmd = vec!["COMMAND".to_string(), sub.to_string()];
                cmd.extend(line.iter().map(|s| s.to_string()));
                script.push(cmd);
            }
        }
        if !differential_generated(&script, resp3, &[]) {
            return;
        }
    }
}

/// COMMAND LIST FILTERBY ACLCAT lists the commands of a category (compared as sets: Redis's
/// order is its hash table's).
#[test]
fn command_list_by_acl_category_matches_redis() {
    let lite = Server::lite(&[]);
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let mut lite_con = lite.client();
    let mut redis_con = redis.client();
    let list = |con: &mut redis::Connection, args: &[&str]| -> std::collections::BTreeSet<String> {
        redis::cmd("COMMAND")
            .arg("LIST")
            .arg(args)
            .query::<Vec<String>>(con)
            .unwrap()
            .into_iter()
            .collect()
    };
    let ours = list(&mut lite_con, &[]);
    let theirs = list(&mut redis_con, &[]);
    for category in [
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "READ",
        "nosuchcategory",
    ] {
        let filter = ["FILTERBY", "ACLCAT", category];
        let got: std::collections::BTreeSet<String> = list(&mut lite_con, &filter)
            .into_iter()
            .filter(|name| theirs.contains(name))
            .collect();
        let expected: std::collections::BTreeSet<String> = list(&mut redis_con, &filter)
            .into_iter()
            .filter(|name| ours.contains(name))
            .collect();
        assert_eq!(got, expected, "@{category}");
    }
}

/// Found by the differential fuzzer: for a command whose keys are optional (EVAL, FCALL), a
/// key count that finds no keys, or cannot be read, gives an empty list, not an error.
#[test]
fn getkeys_of_optional_keys_is_empty_when_none_can_be_found() {
    differential(
        &[
            &["COMMAND", "GETKEYS", "EVAL", "return 1", "0"],
            &["COMMAND", "GETKEYSANDFLAGS", "EVAL", "return 1", "0"],
            &[
                "COMMAND",
                "GETKEYS",
                "FCALL",
                "f",
                "9223372036854775807",
                "k",
                "a",
            ],
            &["COMMAND", "GETKEYS", "EVALSHA", "abc", "5", "k"],
            &["COMMAND", "GETKEYS", "EVAL_RO", "return 1", "abc", "k"],
            &[
                "COMMAND", "GETKEYS", "EVAL", "return 1", "2", "k1", "k2", "a",
            ],
            &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "5", "k"],
        ],
        false,
    );
}

/// Found by the differential fuzzer: a key spec that begins past the last argument (PFMERGE
/// with no source key) makes COMMAND GETKEYS's arguments invalid in Redis 7.0, though the
/// command itself runs.
#[test]
fn getkeys_refuses_a_key_spec_past_the_end() {
    differential(
        &[
            &["COMMAND", "GETKEYSANDFLAGS", "PFMERGE", "missing"],
            &["COMMAND", "GETKEYS", "PFMERGE", "d", "s1", "s2"],
            &["PFMERGE", "missing"],
            &["EXISTS", "missing"],
        ],
        false,
    );
}
