//! DEBUG: differential tests against real Redis for the subcommands whose replies are
//! deterministic (PROTOCOL in RESP2 and RESP3, ERROR, argument checks), DEBUG HELP against
//! Redis's list less what redis-lite refuses, and the effects of LOADAOF, SET-ACTIVE-EXPIRE,
//! PAUSE-CRON, CHANGE-REPL-ID and OBJECT's quicklist figures.
use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{differential_both_protocols, differential_with, Raw, Server};

#[test]
fn replies_match_redis() {
    differential_both_protocols(testkit::script!("debug/replies"));
}

/// STRINGMATCH-TEST runs the glob matcher over random patterns and answers Redis's line. It
/// is left out of the differential script because Redis takes about 5 s per run, and a debug
/// build of redis-lite some seconds under load.
#[test]
fn stringmatch_test_passes() {
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = lite.raw();
    raw.set_read_timeout(Duration::from_secs(120));
    assert_eq!(
        raw.cmd_text(&["DEBUG", "STRINGMATCH-TEST"]),
        "+Apparently Redis did not crash: test passed\r\n"
    );
}

/// PROTOCOL push is refused to a RESP2 client (counted as an error, unlike DEBUG ERROR's
/// lines); in RESP3 the push comes before the reply that follows it.
#[test]
fn protocol_push_matches_redis() {
    differential_both_protocols(&[
        &["CONFIG", "RESETSTAT"],
        &["DEBUG", "PROTOCOL", "push"],
        &["PING"],
        &["INFO", "errorstats"],
    ]);
}

/// The entries of Redis 7.0.15's DEBUG HELP that redis-lite refuses (each with the reason its
/// refusal gives); every other entry must be listed, word for word.
const NOT_SERVED: &[&str] = &[
    "AOF-FLUSH-SLEEP",
    "ASSERT",
    "CRASH-AND-RECOVER",
    "LEAK",
    "HTSTATS",
    "HTSTATS-KEY",
    "MALLCTL",
    "MALLCTL-STR",
    "OOM",
    "PANIC",
    "RESTART",
    "SDSLEN",
    "STRUCTSIZE",
    "CLIENT-EVICTION",
];

/// DEBUG HELP's lines, each entry (a subcommand line and its indented description) as one.
fn help_entries(raw: &mut Raw) -> Vec<String> {
    let reply = testkit::Reply::parse(&raw.cmd(&["DEBUG", "HELP"])).array();
    let mut entries: Vec<String> = Vec::new();
    for line in reply {
        let line = String::from_utf8(line).unwrap();
        match entries.last_mut() {
            Some(entry) if line.starts_with(' ') => {
                entry.push('\n');
                entry.push_str(&line);
            }
            _ => entries.push(line),
        }
    }
    entries
}

#[test]
fn help_lists_what_is_served() {
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let served = help_entries(&mut lite.raw());
    let mut refused = lite.raw();
    for name in NOT_SERVED {
        let reply = refused.cmd_text(&["DEBUG", name, "0"]);
        assert!(
            reply.starts_with(&format!(
                "-ERR DEBUG {name} is not supported by redis-lite: "
            )),
            "{name}: {reply}"
        );
        assert!(
            !served.iter().any(|e| e.split(' ').next() == Some(name)),
            "{name} is listed"
        );
    }
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let expected: Vec<String> = help_entries(&mut redis.raw())
        .into_iter()
        .filter(|entry| {
            let name = entry.split([' ', '\n']).next().unwrap();
            !NOT_SERVED.contains(&name)
        })
        .collect();
    assert_eq!(served, expected);
}

/// DEBUG LOADAOF writes the AOF, empties the dataset and replays the files (a transaction
/// among them); the dataset and further writes come out the same as on Redis.
#[test]
fn loadaof_reloads_the_dataset_as_redis() {
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["RPUSH", "list", "x", "y", "z"],
        &["MULTI"],
        &["INCR", "a"],
        &["HSET", "h", "f", "v"],
        &["EXEC"],
        &["SELECT", "3"],
        &["SADD", "s", "m1", "m2"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "LOADAOF"],
        &["DEBUG", "DIGEST"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["GET", "a"],
        &["SET", "b", "after"],
        &["DEBUG", "LOADAOF"],
        &["GET", "b"],
        &["DEBUG", "DIGEST"],
    ];
    if !differential_with(script, false, &["--appendonly", "yes"]) {
        let lite = Server::lite(&["--enable-debug-command", "yes", "--appendonly", "yes"]);
        let mut raw = lite.raw();
        raw.cmd(&["SET", "k", "v"]);
        assert_eq!(raw.cmd_text(&["DEBUG", "LOADAOF"]), "+OK\r\n");
        assert_eq!(raw.cmd_text(&["GET", "k"]), "$1\r\nv\r\n");
    }
}

/// With `appendonly no`, DEBUG LOADAOF loads the AOF files left on disk, as Redis does (what
/// was written after the AOF was switched off is gone). Redis exits when there are none;
/// redis-lite refuses before emptying anything.
#[test]
fn loadaof_with_the_aof_off() {
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["CONFIG", "SET", "appendonly", "no"],
        &["SET", "b", "2"],
        &["DEBUG", "LOADAOF"],
        &["KEYS", "*"],
    ];
    differential_with(script, false, &["--appendonly", "yes"]);
    let lite = Server::lite(&["--enable-debug-command", "yes", "--appendonly", "yes"]);
    let mut raw = lite.raw();
    raw.expect_replies(&[
        (&["SET", "a", "1"], "+OK\r\n"),
        (&["CONFIG", "SET", "appendonly", "no"], "+OK\r\n"),
        (&["SET", "b", "2"], "+OK\r\n"),
        (&["DEBUG", "LOADAOF"], "+OK\r\n"),
        (&["KEYS", "*"], "*1\r\n$1\r\na\r\n"),
    ]);
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = lite.raw();
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(
        raw.cmd_text(&["DEBUG", "LOADAOF"]),
        "-ERR DEBUG LOADAOF found no AOF to load (Redis would exit here)\r\n"
    );
    assert_eq!(raw.cmd_text(&["GET", "k"]), "$1\r\nv\r\n");
}

/// DEBUG REPLYBUFFER's arguments, checked as Redis checks them.
#[test]
fn replybuffer_arguments_match_redis() {
    differential_both_protocols(&[
        &["DEBUG", "REPLYBUFFER"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME"],
        &["DEBUG", "REPLYBUFFER", "peak-reset-time", "never"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "RESET"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "-5"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "abc"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "0"],
        &["GET", "missing"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "x"],
        &["DEBUG", "REPLYBUFFER", "resizing", "1"],
        &["DEBUG", "REPLYBUFFER", "foo", "1"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "1", "2"],
        &["DEBUG", "REPLYBUF\u{0}FER", "RESIZING"],
    ]);
}

/// With active expiry off, keys past their TTL stay stored (DBSIZE counts them); turned on
/// again, the cron removes them. Run on both servers, which must agree.
#[test]
fn set_active_expire_off_then_on() {
    expiry_held_by(
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    );
}

/// DEBUG PAUSE-CRON stops the cron (active expiry among its work) until resumed (Redis's suite
/// uses it; redis-lite refused it).
#[test]
fn pause_cron_then_resume() {
    expiry_held_by(&["DEBUG", "PAUSE-CRON", "1"], &["DEBUG", "PAUSE-CRON", "0"]);
}

/// Between `stop` and `resume`, keys past their TTL stay stored (DBSIZE counts them); after
/// `resume` the cron removes them. Run on both servers, which must agree.
fn expiry_held_by(stop: &[&str], resume: &[&str]) {
    let run = |server: &Server| -> Vec<String> {
        let mut raw = server.raw();
        let mut seen = Vec::new();
        seen.push(raw.cmd_text(stop));
        for i in 0..20 {
            raw.cmd(&["SET", &format!("k{i}"), "v", "PX", "20"]);
        }
        let server_ms = |raw: &mut Raw| {
            let time = testkit::Reply::parse(&raw.cmd(&["TIME"])).array();
            let secs: u64 = String::from_utf8_lossy(&time[0]).parse().unwrap();
            let micros: u64 = String::from_utf8_lossy(&time[1]).parse().unwrap();
            secs * 1000 + micros / 1000
        };
        // Past the TTLs by many cron periods (hz 10: 100 ms each).
        let until = server_ms(&mut raw) + 500;
        testkit::wait_until(
            "the keys' TTLs are long past",
            Duration::from_secs(5),
            || server_ms(&mut raw) >= until,
        );
        seen.push(raw.cmd_text(&["DBSIZE"]));
        seen.push(raw.cmd_text(resume));
        testkit::wait_until(
            "active expiry removes the keys",
            Duration::from_secs(5),
            || raw.cmd_text(&["DBSIZE"]) == ":0\r\n",
        );
        seen
    };
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let got = run(&lite);
    assert_eq!(got[1], ":20\r\n", "no key expired while {stop:?}");
    if let Some(redis) = Server::redis(&[]) {
        assert_eq!(got, run(&redis));
    }
}

#[test]
fn change_repl_id_starts_a_new_history() {
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = lite.raw();
    let ids = |raw: &mut Raw| -> Vec<String> {
        raw.cmd_text(&["INFO", "replication"])
            .lines()
            .filter(|l| l.starts_with("master_replid"))
            .map(str::to_string)
            .collect()
    };
    let before = ids(&mut raw);
    assert_eq!(raw.cmd_text(&["DEBUG", "CHANGE-REPL-ID"]), "+OK\r\n");
    let after = ids(&mut raw);
    assert_ne!(before[0], after[0]);
    assert_eq!(
        after[1],
        "master_replid2:0000000000000000000000000000000000000000"
    );
}

/// DEBUG OBJECT's encoding and quicklist fields of lists (one node, several, a custom fill)
/// match Redis's; the address, LRU and serializedlength are not compared.
#[test]
fn object_quicklist_fields_match_redis() {
    fn fields(server: &Server) -> Vec<String> {
        let mut raw = server.raw();
        let long: Vec<String> = (0..2000).map(|i| format!("element-{i}")).collect();
        let mut push = vec!["RPUSH", "long"];
        push.extend(long.iter().map(String::as_str));
        raw.cmd(&push);
        raw.cmd(&["RPUSH", "short", "a", "b", "c", "1", "22"]);
        raw.cmd(&["CONFIG", "SET", "list-max-listpack-size", "5"]);
        raw.cmd(&[
            "RPUSH", "counted", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
        ]);
        ["long", "short", "counted"]
            .iter()
            .map(|key| {
                let text = raw.cmd_text(&["DEBUG", "OBJECT", key]);
                text.split(' ')
                    .filter(|f| f.starts_with("encoding:") || f.starts_with("ql_"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
    let got = fields(&Server::lite(&["--enable-debug-command", "yes"]));
    assert!(got[1].contains("ql_nodes:1 "), "{got:?}");
    if let Some(redis) = Server::redis(&[]) {
        assert_eq!(got, fields(&redis));
    }
}
