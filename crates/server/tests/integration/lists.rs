//! List commands: differential scripts against real Redis for every command, option and error,
//! in RESP2 and RESP3 (their null replies differ), encodings, the generic commands on lists,
//! and redis-lite-only checks of big lists and keyspace notifications.
use redis_lite_testkit as testkit;

use testkit::{differential_both_protocols, Server};

/// Borrows a generated script in the shape the differential harness takes.
fn run_generated(script: &[Vec<String>], resp3: bool, server_args: &[&str]) {
    testkit::differential_generated(script, resp3, server_args);
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

#[test]
fn pushes_and_pops_match_redis() {
    differential_both_protocols(testkit::script!("lists/pushes_and_pops_match_redis"));
}

#[test]
fn index_and_range_access_match_redis() {
    differential_both_protocols(testkit::script!("lists/index_and_range_access_match_redis"));
}

#[test]
fn insert_remove_and_trim_match_redis() {
    differential_both_protocols(testkit::script!("lists/insert_remove_and_trim_match_redis"));
}

#[test]
fn lpos_matches_redis() {
    differential_both_protocols(testkit::script!("lists/lpos_matches_redis"));
}

#[test]
fn lmove_and_rpoplpush_match_redis() {
    differential_both_protocols(testkit::script!("lists/lmove_and_rpoplpush_match_redis"));
}

#[test]
fn lmpop_matches_redis() {
    differential_both_protocols(testkit::script!("lists/lmpop_matches_redis"));
}

#[test]
fn generic_commands_on_lists_match_redis() {
    differential_both_protocols(testkit::script!(
        "lists/generic_commands_on_lists_match_redis"
    ));
}

/// Redis 7.0 reports `quicklist` for every list, whatever its size and node limits (the
/// `listpack` list encoding arrived in 7.2); checked around every threshold that could matter.
#[test]
fn encoding_is_always_quicklist() {
    let big = "x".repeat(70_000);
    let medium = "y".repeat(5000);
    for config in ["-2", "4", "-1", "-5", "1", "0", "-6"] {
        let mut script = vec![
            cmd(&["RPUSH", "small", "a"]),
            cmd(&["OBJECT", "ENCODING", "small"]),
        ];
        for i in 0..10 {
            script.push(cmd(&["RPUSH", "grow", &i.to_string()]));
            script.push(cmd(&["OBJECT", "ENCODING", "grow"]));
        }
        for value in [&big, &medium] {
            script.push(cmd(&["RPUSH", "values", value]));
            script.push(cmd(&["OBJECT", "ENCODING", "values"]));
        }
        script.push(cmd(&["LPOP", "values", "2"]));
        script.push(cmd(&["RPUSH", "values", "a"]));
        script.push(cmd(&["OBJECT", "ENCODING", "values"]));
        script.push(cmd(&["CONFIG", "SET", "list-max-listpack-size", "2"]));
        script.push(cmd(&["RPUSH", "after-config", "1", "2", "3"]));
        script.push(cmd(&["OBJECT", "ENCODING", "after-config"]));
        run_generated(&script, false, &["--list-max-listpack-size", config]);
    }
}

/// Many elements across many nodes, with every node-limit style: middle access, edits, inserts
/// and removals give the same answers as Redis.
#[test]
fn big_lists_match_redis() {
    for config in ["-2", "4", "1", "-1", "-5"] {
        run_generated(
            &big_list_script(),
            false,
            &["--list-max-listpack-size", config],
        );
    }
}

/// The same with inner nodes compressed (`list-compress-depth`): answers do not change.
#[test]
fn compressed_big_lists_match_redis() {
    for (config, depth) in [("-2", "1"), ("4", "1"), ("4", "3"), ("-1", "2")] {
        let args = [
            "--list-max-listpack-size",
            config,
            "--list-compress-depth",
            depth,
        ];
        run_generated(&big_list_script(), false, &args);
    }
}

/// Pushes 4000 elements from both ends, then reads, edits, inserts, removes and trims in the
/// middle, reading the whole list back after each kind of change.
fn big_list_script() -> Vec<Vec<String>> {
    let mut script = Vec::new();
    for chunk in 0..5 {
        let mut push = cmd(&["RPUSH", "big"]);
        let mut lpush = cmd(&["LPUSH", "big"]);
        for i in 0..400 {
            let n = chunk * 400 + i;
            push.push(if n % 3 == 0 {
                format!("v{n}")
            } else {
                n.to_string()
            });
            lpush.push("z".repeat(n % 50));
        }
        script.push(push);
        script.push(lpush);
    }
    script.push(cmd(&["LLEN", "big"]));
    for index in [
        "0", "1", "1999", "2000", "2001", "3999", "-1", "-2000", "-4000", "4000",
    ] {
        script.push(cmd(&["LINDEX", "big", index]));
    }
    script.push(cmd(&["LSET", "big", "2000", &"w".repeat(3000)]));
    script.push(cmd(&["LSET", "big", "-3", "short"]));
    script.push(cmd(&[
        "LINSERT",
        "big",
        "BEFORE",
        "v300",
        &"i".repeat(9000),
    ]));
    script.push(cmd(&["LINSERT", "big", "AFTER", "1000", "after-1000"]));
    script.push(cmd(&["LRANGE", "big", "1990", "2010"]));
    script.push(cmd(&["LPOS", "big", "v1500"]));
    script.push(cmd(&["LPOS", "big", "zz", "RANK", "-3", "COUNT", "5"]));
    script.push(cmd(&["LPOS", "big", "", "COUNT", "0", "MAXLEN", "500"]));
    script.push(cmd(&["LREM", "big", "7", "zzzz"]));
    script.push(cmd(&["LREM", "big", "-7", "zzzzz"]));
    script.push(cmd(&["LREM", "big", "0", "z"]));
    script.push(cmd(&["LLEN", "big"]));
    script.push(cmd(&["LRANGE", "big", "0", "-1"]));
    script.push(cmd(&["LTRIM", "big", "150", "-150"]));
    script.push(cmd(&["LRANGE", "big", "0", "-1"]));
    script.push(cmd(&["RPOP", "big", "333"]));
    script.push(cmd(&["LPOP", "big", "777"]));
    script.push(cmd(&["LMOVE", "big", "other", "LEFT", "RIGHT"]));
    script.push(cmd(&[
        "LMPOP", "2", "nothing", "big", "RIGHT", "COUNT", "100",
    ]));
    script.push(cmd(&["LRANGE", "big", "0", "-1"]));
    script.push(cmd(&["OBJECT", "ENCODING", "big"]));
    script
}

/// A big list stays fast at both ends and in the middle: pushes at the head do not move the
/// whole list, and index access walks nodes rather than elements.
#[test]
fn big_lists_stay_fast() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let started = std::time::Instant::now();
    let batch: Vec<String> = (0..1000).map(|i| format!("element-{i}")).collect();
    let mut push = vec!["LPUSH", "big"];
    push.extend(batch.iter().map(String::as_str));
    for _ in 0..300 {
        raw.cmd(&push);
    }
    assert_eq!(raw.cmd_text(&["LLEN", "big"]), ":300000\r\n");
    for i in 0..2000 {
        raw.cmd(&["LPUSH", "big", "head"]);
        raw.cmd(&["RPUSH", "big", "tail"]);
        let middle = (150_000 + i).to_string();
        raw.cmd(&["LSET", "big", &middle, "changed"]);
        assert_eq!(
            raw.cmd_text(&["LINDEX", "big", &middle]),
            "$7\r\nchanged\r\n"
        );
    }
    raw.cmd(&["LINSERT", "big", "AFTER", "changed", "inserted"]);
    assert_eq!(raw.cmd_text(&["LLEN", "big"]), ":304001\r\n");
    assert_eq!(
        raw.cmd_text(&["OBJECT", "ENCODING", "big"]),
        "$9\r\nquicklist\r\n"
    );
    // Generous for a debug build on a busy machine; a list that memmoves on every push takes
    // far longer.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// COMMAND INFO and DOCS describe the list commands as Redis does, where the core's command
/// table can say it. Left out: key-spec flags other than the core's `RW update`/`RO access`
/// (pushes are `RW insert`, pops `RW access delete`, LLEN `RO`), the second key spec of LMOVE and
/// RPOPLPUSH, LMPOP's keynum key spec and `movablekeys` flag, and the history/deprecation
/// entries of the docs. COMMAND INFO is compared in RESP2 only: in RESP3 Redis sends the key
/// specs as a set, the core as an array.
#[test]
fn command_info_and_docs_match_redis() {
    let info: Vec<Vec<String>> = ["lrange", "lindex", "lset", "lpos"]
        .iter()
        .map(|n| cmd(&["COMMAND", "INFO", n]))
        .collect();
    run_generated(&info, false, &[]);
    let docs: Vec<Vec<String>> = [
        "llen", "lrange", "lindex", "lset", "linsert", "lrem", "ltrim", "lpos",
    ]
    .iter()
    .map(|n| cmd(&["COMMAND", "DOCS", n]))
    .collect();
    run_generated(&docs, false, &[]);
    run_generated(&docs, true, &[]);
}

/// The INFO counters list commands move: keyspace hits and misses (reads only, as Redis's
/// lookupKeyRead) and changes since the last save (one per element pushed, popped or removed).
#[test]
fn info_counters_match_redis() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let script: &[&[&str]] = testkit::script!("lists/info_counters_match_redis");
    let counters = |server: &Server| {
        let mut raw = server.raw();
        raw.cmd(&["CONFIG", "RESETSTAT"]);
        for cmd in script {
            raw.cmd(cmd);
        }
        let info = raw.cmd_text(&["INFO"]);
        [
            "keyspace_hits:",
            "keyspace_misses:",
            "rdb_changes_since_last_save:",
        ]
        .iter()
        .map(|field| {
            info.lines()
                .find(|l| l.starts_with(field))
                .unwrap_or_else(|| panic!("INFO has {field}"))
                .to_string()
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(counters(&lite), counters(&redis));
}

/// Elements are binary-safe and keep their exact bytes at every entry-size boundary of the
/// node format (string headers of 1, 2 and 5 bytes; backlens of 1 to 3 bytes; integer widths).
#[test]
fn element_bytes_round_trip_at_size_boundaries() {
    let mut push = cmd(&["RPUSH", "l", "a\r\nb", "\0", "é", " 1", "1 ", "0x10", "1e3"]);
    for n in [
        62, 63, 64, 126, 127, 4094, 4095, 4096, 16379, 16380, 16384, 70_000,
    ] {
        push.push("s".repeat(n));
    }
    for n in [
        127i64, 128, -4096, -4097, 4095, 4096, 32767, 32768, -32769, 8388607, 8388608,
    ] {
        push.push(n.to_string());
    }
    for n in [2147483647i64, 2147483648, -2147483649, i64::MAX, i64::MIN] {
        push.push(n.to_string());
    }
    let script = vec![
        push,
        cmd(&["LRANGE", "l", "0", "-1"]),
        cmd(&["LPOS", "l", "\0"]),
        cmd(&["LPOS", "l", "-4097"]),
        cmd(&["LREM", "l", "0", "8388608"]),
        cmd(&["LINDEX", "l", "-1"]),
        cmd(&["RPOP", "l", "3"]),
        cmd(&["LPOP", "l", "3"]),
        cmd(&["LRANGE", "l", "0", "-1"]),
    ];
    run_generated(&script, false, &[]);
    run_generated(&script, false, &["--list-max-listpack-size", "-1"]);
}

/// Moves between lists from many clients at once never lose or duplicate an element: each move
/// locks both keys together.
#[test]
fn concurrent_moves_conserve_elements() {
    let server = Server::lite(&[]);
    let keys = ["ring:a", "ring:b", "ring:c", "ring:d"];
    let mut con = server.client();
    let elements: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let _: () = redis::cmd("RPUSH")
        .arg(keys[0])
        .arg(&elements)
        .query(&mut con)
        .unwrap();
    let movers: Vec<_> = (0..4)
        .map(|t| {
            let mut con = server.client();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let (src, dst) = (keys[(t + i) % 4], keys[(t + i * 3 + 1) % 4]);
                    let mut command = redis::cmd(if i % 3 == 1 { "RPOPLPUSH" } else { "LMOVE" });
                    command.arg(src).arg(dst);
                    if i % 3 != 1 {
                        let ends = if i % 3 == 0 {
                            ["LEFT", "RIGHT"]
                        } else {
                            ["RIGHT", "LEFT"]
                        };
                        command.arg(&ends);
                    }
                    let _: Option<String> = command.query(&mut con).unwrap();
                }
            })
        })
        .collect();
    for m in movers {
        m.join().unwrap();
    }
    let mut all: Vec<String> = Vec::new();
    for key in keys {
        let part: Vec<String> = redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        all.extend(part);
    }
    all.sort();
    let mut expected = elements;
    expected.sort();
    assert_eq!(all, expected);
}
