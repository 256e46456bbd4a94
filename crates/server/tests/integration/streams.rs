//! Stream entries (XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD) against real
//! Redis: replies in both protocols, keyspace notifications, what the AOF records, blocked XREADs
//! woken, timed out and unblocked, and a stream as a key (TYPE, COPY, RENAME, MEMORY USAGE...).
use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{differential_both_protocols, DataDir, Launch, Program, Raw, Server};

#[test]
fn xadd_matches_redis() {
    differential_both_protocols(testkit::script!("streams/xadd_matches_redis"));
}

#[test]
fn xrange_matches_redis() {
    differential_both_protocols(testkit::script!("streams/xrange_matches_redis"));
}

#[test]
fn xdel_xtrim_matches_redis() {
    differential_both_protocols(testkit::script!("streams/xdel_xtrim_matches_redis"));
}

#[test]
fn xsetid_matches_redis() {
    differential_both_protocols(testkit::script!("streams/xsetid_matches_redis"));
}

#[test]
fn xread_matches_redis() {
    differential_both_protocols(testkit::script!("streams/xread_matches_redis"));
}

#[test]
fn streams_as_keys_match_redis() {
    differential_both_protocols(testkit::script!("streams/keys_match_redis"));
}

/// COMMAND INFO of every entry command, and COMMAND DOCS of those whose arguments the core's
/// syntax notation can state as Redis does (XADD's and XTRIM's `=`/`~` tokens, XSETID's
/// per-argument `since` and XRANGE's history it cannot).
#[test]
fn command_info_and_docs_match_redis() {
    let commands = [
        "xadd",
        "xlen",
        "xrange",
        "xrevrange",
        "xdel",
        "xtrim",
        "xsetid",
        "xread",
    ];
    let info: Vec<Vec<String>> = commands
        .iter()
        .map(|c| vec!["COMMAND".into(), "INFO".into(), c.to_string()])
        .collect();
    testkit::differential_generated(&info, false, &[]);
    let docs: Vec<Vec<String>> = ["xlen", "xdel"]
        .iter()
        .map(|c| vec!["COMMAND".into(), "DOCS".into(), c.to_string()])
        .collect();
    testkit::differential_generated(&docs, false, &[]);
    testkit::differential_generated(&docs, true, &[]);
    let getkeys: Vec<Vec<String>> = [
        "COMMAND GETKEYS XREAD COUNT 2 BLOCK 0 STREAMS a b 0 0",
        "COMMAND GETKEYS XREAD STREAMS STREAMS STREAMS 0 0",
        "COMMAND GETKEYS XADD s MAXLEN ~ 5 * f v",
    ]
    .iter()
    .map(|line| line.split(' ').map(String::from).collect())
    .collect();
    testkit::differential_generated(&getkeys, false, &[]);
}

/// Keyspace events of class `t` (and the generic ones around them) as Redis emits them: `xadd`
/// then `xtrim` for a trimming XADD, `xdel`, `xtrim` only when something went, `xsetid`.
#[test]
fn notifications_match_redis() {
    let script: &[&[&str]] = &[
        &["CONFIG", "SET", "stream-node-max-entries", "2"],
        &["XADD", "s", "1", "f", "v"],
        &["XADD", "s", "2", "f", "v"],
        &["XADD", "s", "MAXLEN", "1", "3", "f", "v"],
        &["XADD", "s", "MAXLEN", "~", "1", "4", "f", "v"],
        &["XADD", "s", "MAXLEN", "5", "5", "f", "v"],
        &["XADD", "s", "NOMKSTREAM", "6", "f", "v"],
        &["XADD", "nokey", "NOMKSTREAM", "1", "f", "v"],
        &["XADD", "s", "1", "f", "v"],
        &["XDEL", "s", "5"],
        &["XDEL", "s", "5"],
        &["XTRIM", "s", "MAXLEN", "10"],
        &["XTRIM", "s", "MINID", "6"],
        &["XSETID", "s", "100"],
        &["XSETID", "nokey", "100"],
        &["XLEN", "nokey"],
        &["XRANGE", "nokey", "-", "+"],
        &["XREAD", "STREAMS", "nokey", "s", "0", "0"],
        &["XADD", "s", "MAXLEN", "0", "101", "f", "v"],
        &["COPY", "s", "c"],
        &["RENAME", "c", "r"],
        &["DEL", "r", "s"],
    ];
    testkit::differential_notifications_with("KEA", script);
    testkit::differential_notifications_with("Et$", script);
}

/// What the AOF records is what Redis's records: a generated ID as the concrete ID, an
/// approximate trim as an exact one (MAXLEN = length left, MINID = first entry left, deleted
/// or not, or the largest ID when none is), LIMIT kept, a trim that removed nothing not logged.
#[test]
fn propagation_matches_redis_aof() {
    if !Program::Redis.available() {
        return;
    }
    let script: &[&[&str]] = &[
        &["CONFIG", "SET", "stream-node-max-entries", "2"],
        &["XADD", "s", "1-1", "a", "1"],
        &["XADD", "s", "2-*", "a", "1"],
        &["XADD", "s", "2-*", "a", "1"],
        &["XADD", "s", "3", "a", "1"],
        &["XADD", "s", "4", "a", "1"],
        &["XADD", "s", "5", "a", "1"],
        &["XADD", "s", "MAXLEN", "~", "2", "6", "a", "1"],
        &["XADD", "s", "MINID", "~", "5", "7", "a", "1"],
        &["XADD", "s", "MAXLEN", "~", "1000", "8", "a", "1"],
        &["XADD", "s", "MAXLEN", "~", "2", "LIMIT", "1", "9", "a", "1"],
        &["XTRIM", "s", "MAXLEN", "~", "100"],
        &["XTRIM", "s", "MAXLEN", "~", "2"],
        &["XTRIM", "s", "MINID", "~", "9"],
        &["XTRIM", "s", "MAXLEN", "=", "1"],
        &["XDEL", "s", "9"],
        &["XDEL", "s", "9"],
        &[
            "XSETID",
            "s",
            "10",
            "ENTRIESADDED",
            "20",
            "MAXDELETEDID",
            "9",
        ],
        &["XADD", "s", "MINID", "~", "100", "20", "a", "1"],
        &["XADD", "e", "1", "a", "1"],
        &["XADD", "e", "2", "a", "1"],
        &["XDEL", "e", "1"],
        &["XADD", "e", "MINID", "~", "2", "3", "a", "1"],
        &["XADD", "e", "MINID", "=", "2", "4", "a", "1"],
        &["XADD", "nm", "NOMKSTREAM", "1", "a", "1"],
    ];
    let log = |program: Program| {
        let dir = DataDir::new("streams-aof");
        let server = Launch::of(program)
            .dir(&dir.0)
            .args(&["--appendonly", "yes", "--appendfsync", "always"])
            .start();
        let mut raw = server.raw();
        for cmd in script {
            raw.cmd(cmd);
        }
        let aof = dir.join("appendonlydir").join("appendonly.aof.1.incr.aof");
        String::from_utf8(std::fs::read(aof).unwrap()).unwrap()
    };
    let (lite, redis) = (log(Program::Lite), log(Program::Redis));
    assert_eq!(lite, redis);
    // And the log is deterministic: a generated ID went in as the one the client got.
    assert!(lite.contains("$3\r\n2-0\r\n") && lite.contains("$3\r\n2-1\r\n"));
}

/// An `XADD *` replayed from the AOF gives the stream the master had, entry IDs included.
#[test]
fn generated_ids_replay_from_the_aof() {
    let dir = DataDir::new("streams-replay");
    let mut server = Launch::lite()
        .dir(&dir.0)
        .args(&["--appendonly", "yes", "--save", ""])
        .start();
    let mut raw = server.raw();
    for _ in 0..5 {
        raw.cmd(&["XADD", "s", "MAXLEN", "~", "3", "*", "f", "v"]);
    }
    raw.cmd(&["XADD", "s", "1-*", "f", "v"]);
    let before = raw.cmd(&["XRANGE", "s", "-", "+"]);
    server.restart();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["XRANGE", "s", "-", "+"]), before);
}

/// MEMORY USAGE of a stream: more than its data, and growing with its entries.
#[test]
fn memory_usage_grows_with_entries() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.cmd(&["XADD", "s", "1", "field", "value"]);
    let usage = |raw: &mut Raw| {
        let text = raw.cmd_text(&["MEMORY", "USAGE", "s"]);
        text.trim_start_matches(':').trim().parse::<u64>().unwrap()
    };
    let one = usage(&mut raw);
    assert!(one > 20, "{one}");
    for i in 2..=1000 {
        raw.cmd(&["XADD", "s", &i.to_string(), "field", "value"]);
    }
    let thousand = usage(&mut raw);
    // At least the entries' bytes, at most a few times them.
    assert!(
        thousand > one * 5 && thousand > 1000 * 8,
        "{one} {thousand}"
    );
    assert!(thousand < 1000 * 100, "{thousand}");
}

/// One step of a blocking scenario, run the same way against both servers (shared with the
/// consumer-group tests).
pub(crate) enum Step {
    /// A command on a connection, its reply read.
    Cmd(usize, &'static [&'static str]),
    /// A command sent without reading a reply (it blocks).
    Send(usize, &'static [&'static str]),
    /// Waits until that many clients are blocked.
    Blocked(usize),
    /// Reads the next reply of a connection.
    Read(usize),
    /// CLIENT UNBLOCK of a connection, with the rest of the arguments.
    Unblock(usize, &'static [&'static str]),
}

/// Runs `steps` on a fresh server (connection 0 checks the blocked count) and returns every reply
/// read, in order.
pub(crate) fn transcript(server: &Server, steps: &[Step], resp3: bool) -> Vec<String> {
    let mut conns: Vec<Raw> = (0..4).map(|_| server.raw()).collect();
    if resp3 {
        for raw in &mut conns {
            raw.cmd(&["HELLO", "3"]);
        }
    }
    // Taken now: a blocked connection cannot ask for its ID.
    let ids: Vec<String> = conns
        .iter_mut()
        .map(|raw| {
            let reply = raw.cmd_text(&["CLIENT", "ID"]);
            reply.trim_start_matches(':').trim().to_string()
        })
        .collect();
    let mut control = server.raw();
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Cmd(c, cmd) => out.push(conns[*c].cmd_text(cmd)),
            Step::Send(c, cmd) => {
                let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
                conns[*c].send(&testkit::encode(&args));
            }
            Step::Blocked(n) => testkit::wait_until(
                &format!("{n} blocked clients"),
                Duration::from_secs(5),
                || testkit::info_field(&mut control, "clients", "blocked_clients") == n.to_string(),
            ),
            Step::Read(c) => out.push(String::from_utf8_lossy(&conns[*c].read_reply()).into()),
            Step::Unblock(c, how) => {
                let mut args = vec!["CLIENT", "UNBLOCK", ids[*c].as_str()];
                args.extend_from_slice(how);
                out.push(control.cmd_text(&args));
            }
        }
    }
    out
}

/// Runs a blocking scenario against redis-lite (threads as given) and real Redis, in both
/// protocols, and asserts the replies are the same.
pub(crate) fn blocking_matches_redis(lite_args: &[&str], steps: &[Step]) {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    for resp3 in [false, true] {
        let lite = Server::lite(lite_args);
        redis.raw().cmd(&["FLUSHALL"]);
        let expected = transcript(&redis, steps, resp3);
        let got = transcript(&lite, steps, resp3);
        assert_eq!(got, expected, "resp3: {resp3}");
    }
}

use Step::*;

/// XREAD BLOCK with `$` waits for entries after the last ID it saw when it blocked; one XADD
/// wakes every reader of the key, on whichever event loop each runs.
#[test]
fn blocked_readers_are_all_woken_by_one_xadd() {
    blocking_matches_redis(
        &["--threads", "4"],
        &[
            Cmd(0, &["XADD", "s", "1-0", "f", "v"]),
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
            Blocked(1),
            Send(
                2,
                &["XREAD", "BLOCK", "0", "STREAMS", "nokey", "s", "$", "$"],
            ),
            Blocked(2),
            Send(
                3,
                &[
                    "XREAD", "COUNT", "5", "BLOCK", "10000", "STREAMS", "s", "1-0",
                ],
            ),
            Blocked(3),
            Cmd(0, &["XADD", "s", "2-0", "g", "w"]),
            Read(1),
            Read(2),
            Read(3),
            Blocked(0),
        ],
    );
}

/// A woken XREAD is served the one stream that got entries, with Redis's default COUNT of a
/// blocked read, or COUNT as given; entries added and deleted in one transaction still wake it,
/// with nothing to show.
#[test]
fn woken_reads_are_served_as_redis_serves_them() {
    blocking_matches_redis(
        &["--threads", "2"],
        &[
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "a", "b", "$", "$"]),
            Blocked(1),
            Cmd(0, &["XADD", "b", "1", "f", "v"]),
            Read(1),
            Send(
                1,
                &["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "b", "$"],
            ),
            Blocked(1),
            Cmd(0, &["MULTI"]),
            Cmd(0, &["XADD", "b", "2", "f", "v"]),
            Cmd(0, &["XADD", "b", "3", "f", "v"]),
            Cmd(0, &["EXEC"]),
            Read(1),
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "b", "$"]),
            Blocked(1),
            Cmd(0, &["MULTI"]),
            Cmd(0, &["XADD", "b", "4", "f", "v"]),
            Cmd(0, &["XDEL", "b", "4"]),
            Cmd(0, &["EXEC"]),
            Read(1),
            // Blocked from an old ID: the entries after it, all of them here.
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "c", "0"]),
            Blocked(1),
            Cmd(0, &["XADD", "c", "5", "f", "v"]),
            Read(1),
        ],
    );
}

/// What a DEL or a change of type does to a blocked XREAD in 7.0: nothing wakes it but an XADD,
/// and it still waits for entries after the ID it blocked with.
#[test]
fn deleting_or_retyping_the_key_leaves_the_reader_blocked() {
    blocking_matches_redis(
        &[],
        &[
            Cmd(0, &["XADD", "s", "5-0", "f", "v"]),
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
            Blocked(1),
            Cmd(0, &["SET", "s", "text"]),
            Cmd(0, &["DEL", "s"]),
            Cmd(0, &["XADD", "s", "1-0", "f", "v"]),
            Blocked(1),
            Cmd(0, &["XADD", "s", "6-0", "f", "v"]),
            Read(1),
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "t", "$"]),
            Blocked(1),
            Cmd(0, &["LPUSH", "t", "x"]),
            Cmd(0, &["DEL", "t"]),
            Cmd(0, &["XADD", "t", "1-0", "f", "v"]),
            Read(1),
        ],
    );
}

/// Timeouts reply a null array (RESP3 null); CLIENT UNBLOCK ends a wait as a timeout or with
/// an error; a reader that went away leaves no waiter behind.
#[test]
fn timeouts_and_client_unblock_match_redis() {
    blocking_matches_redis(
        &[],
        &[
            Cmd(1, &["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
            Cmd(1, &["XREAD", "BLOCK", "50", "STREAMS", "s", "a", "0", "$"]),
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
            Blocked(1),
            Unblock(1, &[]),
            Read(1),
            Send(1, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
            Blocked(1),
            Unblock(1, &["ERROR"]),
            Read(1),
            Blocked(0),
            Cmd(0, &["XADD", "s", "1", "f", "v"]),
            Cmd(1, &["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        ],
    );
}

/// The blocked count goes back to 0 when a blocked reader disconnects.
#[test]
fn a_reader_that_disconnects_leaves_no_waiter() {
    let server = Server::lite(&[]);
    let mut control = server.raw();
    {
        let mut reader = server.raw();
        reader.send(&testkit::encode(&[
            b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$",
        ]));
        testkit::wait_until("one blocked client", Duration::from_secs(5), || {
            testkit::info_field(&mut control, "clients", "blocked_clients") == "1"
        });
    }
    testkit::wait_until("no blocked client", Duration::from_secs(5), || {
        testkit::info_field(&mut control, "clients", "blocked_clients") == "0"
    });
    assert_eq!(
        control.cmd_text(&["XADD", "s", "1", "f", "v"]),
        "$3\r\n1-0\r\n"
    );
}
