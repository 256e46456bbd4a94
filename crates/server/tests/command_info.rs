//! COMMAND INFO compared with real Redis for every command redis-lite has: arity, flags, the
//! first/last/step key positions, ACL categories, tips and the same fields of each subcommand.
//! Key specs (the 7th element) are left out on purpose: they are compared elsewhere once they
//! are typed structures.
mod common;

use std::collections::BTreeMap;

use common::{differential, Server};
use redis::Value;

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
        // f[8] is the key specs: not compared here.
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
    let lite_names: Vec<&String> = lite.subcommands.keys().collect();
    let redis_names: Vec<&String> = redis.subcommands.keys().collect();
    // Subcommands redis-lite does not have yet are not this test's business. Those Redis 7.0
    // lacks (CLIENT SETINFO and NO-TOUCH came in 7.2) have nothing to be compared with.
    for extra in lite_names.iter().filter(|n| !redis_names.contains(n)) {
        eprintln!("{extra}: not in Redis 7.0.15, not compared");
    }
    for (sub, lite_sub) in &lite.subcommands {
        if let Some(redis_sub) = redis.subcommands.get(sub) {
            diff(sub, lite_sub, redis_sub, out, counts);
        }
    }
}

#[test]
fn command_info_matches_redis_except_key_specs() {
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
