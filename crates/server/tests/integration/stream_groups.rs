//! Consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO) against real
//! Redis: replies in both protocols (those that show idle or delivery times compared with the
//! times masked), keyspace notifications, the records the AOF gets, and blocked XREADGROUPs
//! woken, unblocked by a deleted key or a destroyed group, and timed out.
use redis_lite_testkit as testkit;

use testkit::{differential_both_protocols, DataDir, Launch, Program, Reply, Server};

use crate::streams::{blocking_matches_redis, Step::*};

#[test]
fn xgroup_matches_redis() {
    differential_both_protocols(testkit::script!("stream_groups/xgroup_matches_redis"));
}

#[test]
fn xreadgroup_matches_redis() {
    differential_both_protocols(testkit::script!("stream_groups/xreadgroup_matches_redis"));
}

#[test]
fn pending_and_acks_match_redis() {
    differential_both_protocols(testkit::script!(
        "stream_groups/pending_and_acks_match_redis"
    ));
}

#[test]
fn xinfo_matches_redis() {
    differential_both_protocols(testkit::script!("stream_groups/xinfo_matches_redis"));
}

/// Replaces what depends on the clock in a group reply: the value after an `idle` or
/// `seen-time` field, the idle or delivery time of a pending entry (XPENDING's and XINFO
/// STREAM FULL's `[id, consumer, time, count]`, a consumer's `[id, time, count]`).
fn mask_times(reply: Reply) -> Reply {
    let Reply::Array(items) = reply else {
        return reply;
    };
    let mut items: Vec<Reply> = items.into_iter().map(mask_times).collect();
    let is_bulk = |r: &Reply| matches!(r, Reply::Bulk(Some(_)));
    let is_int = |r: &Reply| matches!(r, Reply::Int(_));
    match items.as_slice() {
        [a, b, c, d] if is_bulk(a) && is_bulk(b) && is_int(c) && is_int(d) => {
            items[2] = Reply::Int(-1)
        }
        [a, b, c] if is_bulk(a) && is_int(b) && is_int(c) => items[1] = Reply::Int(-1),
        _ => {}
    }
    mask_fields(Reply::Array(items), &["idle", "seen-time"])
}

/// Whether a command's reply shows idle or delivery times.
fn shows_times(cmd: &[&str]) -> bool {
    let word = |i: usize| cmd.get(i).map(|w| w.to_ascii_uppercase());
    match word(0).as_deref() {
        Some("XPENDING") => cmd.len() > 3,
        Some("XINFO") => {
            word(1).as_deref() == Some("CONSUMERS")
                || cmd.iter().any(|w| w.eq_ignore_ascii_case("FULL"))
        }
        _ => false,
    }
}

/// A differential run (RESP2) where the replies that show times are compared with the times
/// masked, the others byte for byte.
fn differential_masking_times(script: &[&[&str]]) {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let (mut a, mut b) = (redis.raw(), lite.raw());
    let mut mismatches = Vec::new();
    for cmd in script {
        let (expected, actual) = (a.cmd(cmd), b.cmd(cmd));
        let same = if shows_times(cmd) {
            mask_times(Reply::parse(&expected)) == mask_times(Reply::parse(&actual))
        } else {
            expected == actual
        };
        if !same {
            mismatches.push(format!(
                "{:?}\n    redis: {:?}\n    lite:  {:?}",
                cmd.join(" "),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&actual)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "replies differ from real Redis:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn claims_match_redis() {
    differential_masking_times(testkit::script!("stream_groups/claims_match_redis"));
}

/// The masking itself: times go, IDs, names and counts stay.
#[test]
fn masking_hides_only_times() {
    let pending = Reply::Array(vec![
        Reply::Bulk(Some(b"1-1".to_vec())),
        Reply::Bulk(Some(b"alice".to_vec())),
        Reply::Int(1234),
        Reply::Int(2),
    ]);
    let consumer = Reply::Array(vec![
        Reply::Bulk(Some(b"name".to_vec())),
        Reply::Bulk(Some(b"alice".to_vec())),
        Reply::Bulk(Some(b"pending".to_vec())),
        Reply::Int(3),
        Reply::Bulk(Some(b"idle".to_vec())),
        Reply::Int(17),
    ]);
    let Reply::Array(masked) = mask_times(Reply::Array(vec![pending, consumer])) else {
        unreachable!()
    };
    assert_eq!(
        masked[0],
        Reply::Array(vec![
            Reply::Bulk(Some(b"1-1".to_vec())),
            Reply::Bulk(Some(b"alice".to_vec())),
            Reply::Int(-1),
            Reply::Int(2),
        ])
    );
    let Reply::Array(consumer) = &masked[1] else {
        unreachable!()
    };
    assert_eq!(
        (&consumer[3], &consumer[5]),
        (&Reply::Int(3), &Reply::Int(-1))
    );
}

/// COMMAND INFO of every group command (XGROUP's and XINFO's subcommands by full name: Redis
/// lists a container's subcommands in its hash table's order, which changes from one process to
/// the next), and COMMAND DOCS of those whose arguments the syntax notation can state as Redis
/// does: not XREADGROUP (a token-led block of repeated arguments), XPENDING (IDLE's own
/// `since`), XAUTOCLAIM, XINFO GROUPS/STREAM (history) or XGROUP CREATE/SETID (the `$` token,
/// history).
#[test]
fn command_info_and_docs_match_redis() {
    let command = |what: &str, name: &str| vec!["COMMAND".to_string(), what.into(), name.into()];
    let info: Vec<Vec<String>> = [
        "xreadgroup",
        "xack",
        "xpending",
        "xclaim",
        "xautoclaim",
        "xgroup|create",
        "xgroup|createconsumer",
        "xgroup|delconsumer",
        "xgroup|destroy",
        "xgroup|setid",
        "xgroup|help",
        "xinfo|stream",
        "xinfo|groups",
        "xinfo|consumers",
        "xinfo|help",
    ]
    .iter()
    .map(|name| command("INFO", name))
    .collect();
    testkit::differential_generated(&info, false, &[]);
    let docs: Vec<Vec<String>> = [
        "xack",
        "xclaim",
        "xgroup|createconsumer",
        "xgroup|delconsumer",
        "xgroup|destroy",
        "xgroup|help",
        "xinfo|consumers",
        "xinfo|help",
    ]
    .iter()
    .map(|name| command("DOCS", name))
    .collect();
    testkit::differential_generated(&docs, false, &[]);
    testkit::differential_generated(&docs, true, &[]);
}

/// xgroup-* events: XGROUP's subcommands, and the consumers XREADGROUP (only when it serves),
/// XCLAIM and XAUTOCLAIM create; XACK and claims themselves emit nothing.
#[test]
fn notifications_match_redis() {
    let script: &[&[&str]] = &[
        &["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"],
        &["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"],
        &["XADD", "s", "1-1", "a", "1"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "c3", "STREAMS", "s", "0"],
        &["XCLAIM", "s", "g", "d", "0", "1-1", "LASTID", "7-7"],
        &["XCLAIM", "s", "g", "d2", "0", "1-1"],
        &[
            "XCLAIM",
            "s",
            "g",
            "d3",
            "100000000",
            "1-1",
            "LASTID",
            "8-8",
        ],
        &["XAUTOCLAIM", "s", "g", "e", "0", "0"],
        &["XACK", "s", "g", "1-1"],
        &["XGROUP", "SETID", "s", "g", "0"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "f"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "f"],
        &["XGROUP", "DELCONSUMER", "s", "g", "f"],
        &["XGROUP", "DELCONSUMER", "s", "g", "f"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XGROUP", "DESTROY", "s", "g"],
    ];
    testkit::differential_notifications_with("KEA", script);
    testkit::differential_notifications_with("Et$", script);
}

/// The AOF's records, parsed, with XCLAIM's TIME (a delivery time: the clock) masked.
fn aof_records(log: &[u8]) -> Vec<Reply> {
    let mut records = Vec::new();
    let mut rest = log;
    while !rest.is_empty() {
        let len = testkit::frame_len(rest).expect("whole records");
        let Reply::Array(mut args) = Reply::parse(&rest[..len]) else {
            panic!("a record is an array")
        };
        if let Some(at) = args
            .iter()
            .position(|a| *a == Reply::Bulk(Some(b"TIME".to_vec())))
        {
            args[at + 1] = Reply::Bulk(None);
        }
        records.push(Reply::Array(args));
        rest = &rest[len..];
    }
    records
}

/// What the AOF records is what Redis records: XREADGROUP as the XCLAIMs (and, with NOACK, the
/// XGROUP SETID and CREATECONSUMER) it implies, a unit of several in MULTI/EXEC; a history read
/// nothing; XCLAIM and XAUTOCLAIM as the XCLAIMs of what they claimed or dropped, and LASTID
/// alone as SETID; XACK and XGROUP as sent when they changed something.
#[test]
fn propagation_matches_redis_aof() {
    if !Program::Redis.available() {
        return;
    }
    let script: &[&[&str]] = &[
        &["XADD", "s", "1-1", "a", "1"],
        &["XADD", "s", "2-1", "b", "2"],
        &["XADD", "s", "3-1", "a", "3"],
        &["XADD", "t", "1-1", "a", "1"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "t", "g", "0"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"],
        &["XREADGROUP", "GROUP", "g", "c3", "STREAMS", "s", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c4",
            "STREAMS",
            "s",
            "t",
            ">",
            ">",
        ],
        &["XREADGROUP", "GROUP", "g", "c5", "STREAMS", "s", ">"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c6",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
        &["XDEL", "s", "3-1"],
        &["XCLAIM", "s", "g", "c6", "0", "3-1"],
        &["XCLAIM", "s", "g", "c6", "0", "1", "JUSTID"],
        &[
            "XCLAIM",
            "s",
            "g",
            "c6",
            "0",
            "1-1",
            "LASTID",
            "9-9",
            "RETRYCOUNT",
            "7",
        ],
        &["XCLAIM", "s", "g", "c7", "1000000", "1-1"],
        &["XCLAIM", "s", "g", "c7", "1000000", "1-1", "LASTID", "10-1"],
        &[
            "XCLAIM", "s", "g", "c7", "0", "2-1", "FORCE", "TIME", "1000",
        ],
        &["XADD", "s", "4-1", "a", "4"],
        &["XADD", "s", "5-1", "a", "5"],
        &["XGROUP", "SETID", "s", "g", "3-1"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &["XDEL", "s", "4-1"],
        &["XAUTOCLAIM", "s", "g", "c8", "0", "0", "COUNT", "1"],
        &["XAUTOCLAIM", "s", "g", "c8", "0", "0"],
        &["XAUTOCLAIM", "s", "g", "c8", "100000000", "0"],
        &["XACK", "s", "g", "5-1", "1-1", "7-7"],
        &["XACK", "s", "g", "5-1"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c9"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c9"],
        &["XGROUP", "DELCONSUMER", "s", "g", "c9"],
        &["XGROUP", "DELCONSUMER", "s", "g", "c9"],
        &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XGROUP", "DESTROY", "s", "g"],
    ];
    let log = |program: Program| {
        let dir = DataDir::new("stream-groups-aof");
        let server = Launch::of(program)
            .dir(&dir.0)
            .args(&["--appendonly", "yes", "--appendfsync", "always"])
            .start();
        let mut raw = server.raw();
        for cmd in script {
            raw.cmd(cmd);
        }
        let aof = dir.join("appendonlydir").join("appendonly.aof.1.incr.aof");
        aof_records(&std::fs::read(aof).unwrap())
    };
    let (lite, redis) = (log(Program::Lite), log(Program::Redis));
    assert_eq!(lite, redis);
}

/// Replaying the AOF gives the groups Redis's replay gives (times masked), and the delivery
/// times and counts the server had. What neither keeps: the consumers' seen times (the replay's
/// clock) and a read counter moved by XREADGROUP's XCLAIMs, which carry no ENTRIESREAD (Redis
/// 7.0's replay loses it the same way; the lag is estimated again).
#[test]
fn groups_replay_from_the_aof() {
    let replayed = |program: Program| {
        let dir = DataDir::new("stream-groups-replay");
        let mut server = Launch::of(program)
            .dir(&dir.0)
            // `always`: under `everysec` Redis may hold a write back for up to 2 s while a
            // background fsync runs, and lose it to the kill.
            .durable()
            .start();
        let mut raw = server.raw();
        for i in 1..=6 {
            raw.cmd(&["XADD", "s", &format!("{i}-1"), "f", "v"]);
        }
        let script: &[&[&str]] = &[
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XGROUP", "CREATE", "s", "h", "0"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "a",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
            &["XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">"],
            &[
                "XREADGROUP",
                "GROUP",
                "h",
                "n",
                "NOACK",
                "COUNT",
                "3",
                "STREAMS",
                "s",
                ">",
            ],
            &["XCLAIM", "s", "g", "c", "0", "3-1", "RETRYCOUNT", "5"],
            &["XDEL", "s", "4-1"],
            &["XAUTOCLAIM", "s", "g", "d", "0", "0", "COUNT", "3"],
            &["XACK", "s", "g", "6-1"],
        ];
        for cmd in script {
            raw.cmd(cmd);
        }
        let full = &["XINFO", "STREAM", "s", "FULL"];
        let before = Reply::parse(&raw.cmd(full));
        server.restart();
        let after = Reply::parse(&server.raw().cmd(full));
        (before, after)
    };
    let (before, after) = replayed(Program::Lite);
    let unkept = ["seen-time", "entries-read"];
    assert_eq!(
        mask_fields(after.clone(), &unkept),
        mask_fields(before, &unkept)
    );
    if Program::Redis.available() {
        let (_, redis_after) = replayed(Program::Redis);
        assert_eq!(mask_times(after), mask_times(redis_after));
    }
}

/// Masks the values of the named map fields, wherever they are.
fn mask_fields(reply: Reply, fields: &[&str]) -> Reply {
    let Reply::Array(items) = reply else {
        return reply;
    };
    let mut items: Vec<Reply> = items.into_iter().map(|r| mask_fields(r, fields)).collect();
    for i in 1..items.len() {
        if fields
            .iter()
            .any(|f| items[i - 1] == Reply::Bulk(Some(f.as_bytes().to_vec())))
        {
            items[i] = Reply::Int(-1);
        }
    }
    Reply::Array(items)
}

/// One XADD wakes every XREADGROUP blocked on the key, on whichever event loop each runs:
/// readers of different groups all get the entry, a NOACK reader leaves nothing pending; a
/// reader blocked without COUNT is served at most Redis's 1000 entries, with COUNT that many;
/// of several keys, the one that got entries is served.
#[test]
fn blocked_readers_of_every_group_are_served() {
    blocking_matches_redis(
        &["--threads", "4"],
        &[
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            Cmd(0, &["XGROUP", "CREATE", "s", "h", "$"]),
            Cmd(0, &["XGROUP", "CREATE", "s", "k", "$"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Send(
                2,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "h",
                    "x",
                    "NOACK",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(2),
            Send(
                3,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "k",
                    "y",
                    "COUNT",
                    "1",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(3),
            Cmd(0, &["XADD", "s", "1-1", "f", "v"]),
            Read(1),
            Read(2),
            Read(3),
            Blocked(0),
            Cmd(0, &["XPENDING", "s", "g"]),
            Cmd(0, &["XPENDING", "s", "h"]),
            Cmd(0, &["XINFO", "GROUPS", "s"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Send(
                3,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "k",
                    "y",
                    "COUNT",
                    "1",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(2),
            Cmd(0, &["MULTI"]),
            Cmd(0, &["XADD", "s", "2-1", "f", "v"]),
            Cmd(0, &["XADD", "s", "3-1", "f", "v"]),
            Cmd(0, &["EXEC"]),
            Read(1),
            Read(3),
            Cmd(0, &["XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    "t",
                    ">",
                    ">",
                ],
            ),
            Blocked(1),
            Cmd(0, &["XADD", "t", "1-1", "f", "v"]),
            Read(1),
        ],
    );
}

/// Readers of one group on one event loop are served in the order they blocked: the first takes
/// the new entry, the next waits on for the one after. (Across event loops the woken readers
/// race for it: each entry still goes to exactly one of them.)
#[test]
fn readers_of_one_group_are_served_first_come_first_served() {
    blocking_matches_redis(
        &["--threads", "1"],
        &[
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Send(
                2,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "b",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(2),
            Cmd(0, &["XADD", "s", "1-1", "f", "v"]),
            Read(1),
            Blocked(1),
            Cmd(0, &["XADD", "s", "2-1", "f", "w"]),
            Read(2),
            Blocked(0),
            Cmd(0, &["XPENDING", "s", "g"]),
        ],
    );
}

/// Redis 7.0 unblocks a waiting XREADGROUP when its key is deleted, overwritten, renamed or
/// flushed away (UNBLOCKED) or its group destroyed (NOGROUP); other writes leave it waiting.
#[test]
fn a_reader_is_unblocked_when_its_stream_or_group_goes() {
    blocking_matches_redis(
        &["--threads", "2"],
        &[
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Cmd(0, &["XGROUP", "CREATECONSUMER", "s", "g", "other"]),
            Cmd(0, &["XGROUP", "CREATE", "s", "g2", "$"]),
            Cmd(0, &["XGROUP", "DESTROY", "s", "g2"]),
            Blocked(1),
            Cmd(0, &["DEL", "s"]),
            Read(1),
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Cmd(0, &["XGROUP", "DESTROY", "s", "g"]),
            Read(1),
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Cmd(0, &["SET", "s", "text"]),
            Read(1),
            Cmd(0, &["DEL", "s"]),
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Cmd(0, &["RENAME", "s", "s2"]),
            Read(1),
            Blocked(0),
        ],
    );
}

/// A waiting XREADGROUP is unblocked as Redis 7.0 unblocks it when its database is flushed or
/// swapped away or its key expires: UNBLOCKED without a stream, NOGROUP when the stream swapped
/// in lacks the group, and still waiting when it has it. Flushing another database leaves it
/// waiting, and XREAD waits on through all of it.
#[test]
fn a_reader_is_unblocked_when_its_database_is_flushed_or_swapped_or_its_key_expires() {
    const READ: &[&str] = &[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ];
    const CREATE: &[&str] = &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"];
    blocking_matches_redis(
        &["--threads", "2"],
        &[
            Cmd(0, CREATE),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["FLUSHALL"]),
            Read(1),
            Cmd(0, CREATE),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["SELECT", "1"]),
            Cmd(0, &["FLUSHDB"]),
            Cmd(0, &["SELECT", "0"]),
            Cmd(0, &["XADD", "s", "1-1", "f", "v"]),
            Read(1),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["FLUSHDB", "ASYNC"]),
            Read(1),
            Cmd(0, CREATE),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["SWAPDB", "0", "1"]),
            Read(1),
            Cmd(0, &["FLUSHALL"]),
            Cmd(0, &["SELECT", "1"]),
            Cmd(0, &["XADD", "s", "1-1", "f", "v"]),
            Cmd(0, &["SELECT", "0"]),
            Cmd(0, CREATE),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["SWAPDB", "1", "0"]),
            Read(1),
            Cmd(0, &["FLUSHALL"]),
            Cmd(0, &["SELECT", "1"]),
            Cmd(0, CREATE),
            Cmd(0, &["SELECT", "0"]),
            Cmd(0, CREATE),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["SWAPDB", "0", "1"]),
            Cmd(0, &["XADD", "s", "2-1", "f", "v"]),
            Read(1),
            Cmd(0, &["FLUSHALL"]),
            Cmd(0, CREATE),
            Send(1, READ),
            Blocked(1),
            Cmd(0, &["PEXPIRE", "s", "20"]),
            Read(1),
            Cmd(0, &["XADD", "s", "1-1", "f", "v"]),
            Send(2, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
            Blocked(1),
            Cmd(0, &["FLUSHALL"]),
            Cmd(0, &["SWAPDB", "0", "1"]),
            Cmd(0, &["XADD", "s", "3-1", "f", "v"]),
            Read(2),
            Blocked(0),
        ],
    );
}

/// A timeout replies a null array (RESP3 null); CLIENT UNBLOCK ends a wait as a timeout or with
/// an error; inside MULTI nothing blocks.
#[test]
fn timeouts_and_client_unblock_match_redis() {
    blocking_matches_redis(
        &[],
        &[
            Cmd(0, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            Cmd(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "50",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Unblock(1, &[]),
            Read(1),
            Send(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Blocked(1),
            Unblock(1, &["ERROR"]),
            Read(1),
            Cmd(1, &["MULTI"]),
            Cmd(
                1,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "a",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            ),
            Cmd(1, &["EXEC"]),
            Blocked(0),
            Cmd(0, &["XINFO", "GROUPS", "s"]),
        ],
    );
}

/// Found by the differential fuzzer: a deletion before the stream's first live entry leaves no
/// tombstone among its entries, so a group's read counter (here claimed past the entries added
/// with ENTRIESREAD) still gives the lag, negative as Redis reports it.
#[test]
fn lag_ignores_a_deletion_before_the_first_entry() {
    differential_both_protocols(&[
        &["XADD", "s", "1-*", "f", "v"],
        &["XDEL", "s", "1"],
        &[
            "XGROUP",
            "CREATE",
            "s",
            "g1",
            "$",
            "MKSTREAM",
            "ENTRIESREAD",
            "10",
        ],
        &["XADD", "s", "5-5", "f", "v"],
        &["XINFO", "GROUPS", "s"],
        &["XGROUP", "CREATE", "s", "g2", "0"],
        &["XREADGROUP", "GROUP", "g2", "c", "STREAMS", "s", ">"],
        &["XINFO", "GROUPS", "s"],
    ]);
}
