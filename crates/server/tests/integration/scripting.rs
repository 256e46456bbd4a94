//! Lua scripting and functions: EVAL, EVALSHA, the _RO variants, SCRIPT, FUNCTION and FCALL,
//! compared with real Redis byte for byte; atomicity, BUSY and SCRIPT KILL, and persistence.
use redis_lite_testkit as testkit;

use std::time::{Duration, Instant};

use testkit::{differential, differential_both_protocols, differential_with, Launch, Server};

const LIB: &str = "#!lua name=mylib
local function echo(keys, args) return {keys, args} end
local function setget(keys, args)
  redis.call('SET', keys[1], args[1])
  return redis.call('GET', keys[1])
end
redis.register_function('echo', echo)
redis.register_function{function_name='setget', callback=setget, description='sets and gets'}
redis.register_function{function_name='ro', callback=function() return redis.call('GET', 'k') end, flags={'no-writes'}}";

#[test]
fn eval_replies_and_errors_match_redis() {
    differential_both_protocols(testkit::script!(
        "scripting/eval_replies_and_errors_match_redis"
    ));
}

#[test]
fn functions_match_redis() {
    differential_both_protocols(&[
                &["FUNCTION", "LOAD", LIB],
                &["FUNCTION", "LOAD", LIB],
                &["FUNCTION", "LOAD", "REPLACE", LIB],
                &["FUNCTION", "LOAD", "BAD", LIB],
                &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
                &["FUNCTION", "LOAD", "return 1"],
                &["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"],
                &["FUNCTION", "LOAD", "#!js name=x\nreturn 1"],
                &["FUNCTION", "LOAD", "#!js\nreturn 1"],
                &["FUNCTION", "LOAD", "#!lua name=a name=b\nreturn 1"],
                &["FUNCTION", "LOAD", "#!lua foo=bar\nreturn 1"],
                &["FUNCTION", "LOAD", "#!lua name=\nreturn 1"],
                &["FUNCTION", "LOAD", "#!lua name=nonewline"],
                &["FUNCTION", "LOAD", "#! lua name=q\nreturn 1"],
                &["FUNCTION", "LOAD", "#!LUA  name=upper \nredis.register_function('up', function() return 1 end)"],
                &["FCALL", "up", "0"],
                &["FUNCTION", "DELETE", "upper"],
                &["FUNCTION", "LOAD", "#!lua name=nofuncs\nlocal x = 1"],
                &["FUNCTION", "LOAD", "#!lua name=calls\nredis.call('SET', 'a', 'b')"],
                &["FUNCTION", "LOAD", "#!lua name=dup\nredis.register_function('echo', function() return 1 end)"],
                &["FUNCTION", "LOAD", "#!lua name=syntax\nreturn +"],
                &["FUNCTION", "LOAD", "#!lua name=flags\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'bogus'}}"],
                &["FCALL", "echo", "2", "k1", "k2", "a1"],
                &["FCALL", "setget", "1", "k", "v"],
                &["FCALL", "ro", "0"],
                &["FCALL_RO", "ro", "0"],
                &["FCALL_RO", "setget", "1", "k", "v"],
                &["FCALL", "nosuch", "0"],
                &["FCALL", "echo", "x"],
                &["FCALL", "echo", "-1"],
                &["FCALL", "echo", "5", "a"],
                // Redis lists libraries and their functions in hash order: one of each here.
                &["FUNCTION", "DELETE", "mylib"],
                &["FUNCTION", "LOAD", "#!lua name=single\nredis.register_function{function_name='only', callback=function() return 1 end, flags={'allow-oom', 'no-writes'}, description='the only one'}"],
                &["FUNCTION", "LIST"],
                &["FUNCTION", "LIST", "WITHCODE"],
                &["FUNCTION", "LIST", "LIBRARYNAME", "sing*"],
                &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "sing*"],
                &["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
                &["FUNCTION", "DELETE", "single"],
                &["FUNCTION", "LOAD", LIB],
                &["FUNCTION", "LIST", "LIBRARYNAME", "zz*"],
                &["FUNCTION", "LIST", "LIBRARYNAME"],
                &["FUNCTION", "LIST", "BOGUS"],
                &["FUNCTION", "STATS"],
                &["FUNCTION", "KILL"],
                &["FUNCTION", "DELETE", "nosuch"],
                &["FUNCTION", "DELETE", "mylib"],
                &["FCALL", "echo", "0"],
                &["FUNCTION", "FLUSH", "BAD"],
                &["FUNCTION", "FLUSH", "ASYNC"],
                &["FUNCTION", "FLUSH"],
                &["FUNCTION", "RESTORE", "bogus"],
                &["FUNCTION", "HELP"],
                &["FUNCTION", "NOPE"],
            ]);
}

#[test]
fn scripts_in_transactions_match_redis() {
    differential(
        testkit::script!("scripting/scripts_in_transactions_match_redis"),
        false,
    );
}

/// Under `maxmemory`, scripts follow Redis's rules: a legacy script is refused a `denyoom`
/// command until it has written, a flagged one is refused at the start unless `allow-oom`.
#[test]
fn scripts_out_of_memory_match_redis() {
    differential_with(
        testkit::script!("scripting/scripts_out_of_memory_match_redis"),
        false,
        &["--maxmemory", "1"],
    );
}

/// A function dumped by real Redis restores in redis-lite, and the reverse.
#[test]
fn function_dump_moves_between_redis_and_lite() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    for (from, to) in [(&redis, &lite), (&lite, &redis)] {
        let (mut a, mut b) = (from.raw(), to.raw());
        a.cmd(&["FUNCTION", "FLUSH"]);
        b.cmd(&["FUNCTION", "FLUSH"]);
        assert_eq!(a.cmd(&["FUNCTION", "LOAD", LIB]), b"$5\r\nmylib\r\n");
        let payload = bulk(&a.cmd(&["FUNCTION", "DUMP"]));
        let mut restore = |extra: &[&[u8]]| {
            let args = [&[b"FUNCTION".as_slice(), b"RESTORE", &payload], extra].concat();
            b.send(&testkit::encode(&args));
            b.read_reply()
        };
        assert_eq!(restore(&[]), b"+OK\r\n");
        assert_eq!(restore(&[]), b"-ERR Library mylib already exists\r\n");
        assert_eq!(restore(&[b"REPLACE"]), b"+OK\r\n");
        assert_eq!(restore(&[b"FLUSH"]), b"+OK\r\n");
        assert_eq!(
            b.cmd(&["FCALL", "setget", "1", "k", "moved"]),
            b"$5\r\nmoved\r\n"
        );
    }
}

/// The payload of a bulk string reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let start = reply
        .iter()
        .position(|&b| b == b'\n')
        .expect("a bulk reply")
        + 1;
    reply[start..reply.len() - 2].to_vec()
}

/// No other client's command runs in the middle of a script, on any event loop.
#[test]
fn scripts_are_atomic_across_event_loops() {
    let lite = Server::lite(&["--threads", "4"]);
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let mut raw = lite.raw();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    raw.cmd(&["INCR", "counter"]);
                }
            })
        })
        .collect();
    let mut scripter = lite.raw();
    for _ in 0..100 {
        // Two reads of the same key inside one script always agree.
        let reply = scripter.cmd(&[
            "EVAL",
            "local a = redis.call('GET', 'counter'); for i = 1, 20000 do end; return tostring(a == redis.call('GET', 'counter'))",
            "0",
        ]);
        assert_eq!(reply, b"$4\r\ntrue\r\n");
    }
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(scripter.cmd(&["GET", "counter"]), b"$3\r\n800\r\n");
}

/// Past `busy-reply-threshold` other clients get BUSY; SCRIPT KILL stops a script that has not
/// written; one that has written is UNKILLABLE until SHUTDOWN NOSAVE. The same flow on both
/// servers gives the same replies.
///
/// With one event loop every client shares the script's loop; with two, connections are
/// handed to the loops in turn, so `other` is on the other loop and `neighbour` on the
/// script's: the loop running a busy script serves its other clients too.
#[test]
fn busy_script_kill_and_unkillable_match_redis() {
    let Some(redis) = Server::redis(&["--busy-reply-threshold", "100"]) else {
        return;
    };
    let expected = busy_flow(&redis);
    assert_eq!(
        expected[0],
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    for threads in ["1", "2"] {
        let lite = Server::lite(&["--busy-reply-threshold", "100", "--threads", threads]);
        assert_eq!(busy_flow(&lite), expected, "--threads {threads}");
    }
}

/// Found by Redis 7.0.15's own suite in harness mode (aof.tcl, "EVAL timeout with slow verbatim
/// Lua script from AOF"): when a script turns busy Redis logs `Slow script detected`, naming the
/// script (its SHA1 for EVAL, EVALSHA alike, the function's name for FCALL) and the command
/// that kills it; redis-lite logged nothing.
#[test]
fn a_script_turning_busy_is_logged_as_in_redis() {
    let dir = testkit::DataDir::new("slow-script");
    let body = "while true do end";
    let sha = redis_lite_scripting::sha1_hex(body.as_bytes());
    // EVALSHA's digest in capitals: the log names the script in lower case all the same.
    let upper_sha = sha.to_uppercase();
    for program in [testkit::Program::Lite, testkit::Program::Redis] {
        if !program.available() {
            testkit::skipped(&format!("{program:?} is not available"));
            continue;
        }
        let logfile = dir.join(&format!("slow-{program:?}.log"));
        let server = Launch::of(program)
            .args(&["--save", "", "--busy-reply-threshold", "50"])
            .args(&["--logfile", logfile.to_str().unwrap()])
            .start();
        let mut runner = server.raw();
        let mut other = server.raw();
        let library =
            "#!lua name=slowlib\nredis.register_function('spin', function() while true do end end)";
        assert_eq!(
            other.cmd(&["FUNCTION", "LOAD", library]),
            b"$7\r\nslowlib\r\n"
        );
        let runs: [(&[&[u8]], &[u8]); 3] = [
            (&[b"EVAL", body.as_bytes(), b"0"], b"SCRIPT"),
            (&[b"EVALSHA", upper_sha.as_bytes(), b"0"], b"SCRIPT"),
            (&[b"FCALL", b"spin", b"0"], b"FUNCTION"),
        ];
        for (run, kill) in runs {
            runner.send(&testkit::encode(run));
            wait_for_error(|| other.cmd(&["PING"]));
            assert_eq!(
                other.cmd(&[std::str::from_utf8(kill).unwrap(), "KILL"]),
                b"+OK\r\n"
            );
            assert!(runner.read_reply().starts_with(b"-"), "{program:?}");
        }
        let log = std::fs::read_to_string(&logfile).unwrap();
        let slow: Vec<&str> = log
            .lines()
            .filter_map(|line| {
                line.split_once("Slow script detected: ")
                    .map(|(_, rest)| rest)
            })
            .map(|rest| {
                rest.split_once(" milliseconds. ")
                    .map_or(rest, |(_, tail)| tail)
            })
            .collect();
        let eval = format!(
            "You can try killing the script using the SCRIPT KILL command. Script name is: {sha}."
        );
        let function =
            "You can try killing the script using the FUNCTION KILL command. Script name is: spin.";
        assert_eq!(
            slow,
            [eval.as_str(), eval.as_str(), function],
            "{program:?}"
        );
    }
}

/// Every reply of the BUSY / KILL / UNKILLABLE flow, in order.
fn busy_flow(server: &Server) -> Vec<String> {
    let mut seen = Vec::new();
    let mut runner = server.raw();
    let mut other = server.raw();
    let mut neighbour = server.raw();
    let mut log = |reply: Vec<u8>| seen.push(String::from_utf8_lossy(&reply).into_owned());
    runner.send(&testkit::encode(&[b"EVAL", b"while true do end", b"0"]));
    log(wait_for_error(|| other.cmd(&["PING"])));
    log(neighbour.cmd(&["PING"]));
    log(neighbour.cmd(&["FUNCTION", "KILL"]));
    log(other.cmd(&["GET", "x"]));
    log(other.cmd(&["FUNCTION", "KILL"]));
    log(other.cmd(&["SHUTDOWN"]));
    log(other.cmd(&["SCRIPT", "KILL"]));
    log(runner.read_reply());
    log(other.cmd(&["PING"]));
    log(other.cmd(&["SCRIPT", "KILL"]));
    runner.send(&testkit::encode(&[
        b"EVAL",
        b"redis.call('SET', 'x', 1); while true do end",
        b"0",
    ]));
    log(wait_for_error(|| other.cmd(&["PING"])));
    log(other.cmd(&["SCRIPT", "KILL"]));
    other.send(&testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(other.is_closed());
    seen
}

/// Sends `probe` until it answers with an error (the script became busy), for up to 10 s.
fn wait_for_error(mut probe: impl FnMut() -> Vec<u8>) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = probe();
        if reply.starts_with(b"-") || Instant::now() > deadline {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes through a function, a multi-write script and a script whose effect depends on the
/// clock; returns the dataset's digest.
fn write_with_scripts(raw: &mut testkit::Raw) -> String {
    assert_eq!(raw.cmd(&["FUNCTION", "LOAD", LIB]), b"$5\r\nmylib\r\n");
    assert_eq!(
        raw.cmd(&["FCALL", "setget", "1", "f", "by-function"]),
        b"$11\r\nby-function\r\n"
    );
    let multi = "for i = 1, 10 do redis.call('RPUSH', KEYS[1], i) end; redis.call('INCRBY', KEYS[2], 5); return redis.call('LLEN', KEYS[1])";
    assert_eq!(raw.cmd(&["EVAL", multi, "2", "list", "n"]), b":10\r\n");
    // Replayed as the value it wrote, not by running TIME again.
    let clock = "return redis.call('SET', 'time', redis.call('TIME')[2])";
    assert_eq!(raw.cmd(&["EVAL", clock, "0"]), b"+OK\r\n");
    let digest = raw.cmd_text(&["DEBUG", "DIGEST"]);
    assert!(digest.starts_with('+') && digest.len() == 43, "{digest}");
    digest
}

/// Functions and script effects survive RDB snapshots, the AOF (its records and rewrites, with
/// and without the RDB preamble), and both move between redis-lite and real Redis.
#[test]
fn functions_and_script_effects_survive_restarts_and_move_to_redis() {
    let debug = ["--enable-debug-command", "yes"];
    for (label, args) in [
        ("rdb", vec!["--save", "", "--appendonly", "no"]),
        (
            "aof",
            vec!["--appendonly", "yes", "--appendfsync", "always"],
        ),
        (
            "aof-rewrite-rdb",
            vec!["--appendonly", "yes", "--aof-use-rdb-preamble", "yes"],
        ),
        (
            "aof-rewrite-commands",
            vec!["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
        ),
    ] {
        let dir = testkit::DataDir::new(&format!("scripts-{label}"));
        let redis_args = args.clone();
        let args = [args.as_slice(), &debug].concat();
        let digest = {
            let mut lite = Server::lite_in(&dir.0, &args);
            let mut raw = lite.raw();
            let digest = write_with_scripts(&mut raw);
            match label {
                "rdb" => assert_eq!(raw.cmd(&["SAVE"]), b"+OK\r\n"),
                "aof" => {}
                _ => {
                    raw.cmd(&["BGREWRITEAOF"]);
                    testkit::wait_rewrite_ok(&lite);
                }
            }
            lite.kill9();
            digest
        };
        let lite = Server::lite_in(&dir.0, &args);
        let mut raw = lite.raw();
        assert_eq!(
            raw.cmd_text(&["DEBUG", "DIGEST"]),
            digest,
            "{label}: reloaded"
        );
        assert_eq!(
            raw.cmd(&["FCALL", "setget", "1", "g", "x"]),
            b"$1\r\nx\r\n",
            "{label}"
        );
        raw.cmd(&["DEL", "g"]);
        drop(lite);
        let Some(redis) = Launch::redis()
            .dir(&dir.0)
            .args(&redis_args)
            .start_if_available()
        else {
            return;
        };
        let mut raw = redis.raw();
        assert_eq!(
            raw.cmd_text(&["DEBUG", "DIGEST"]),
            digest,
            "{label}: real Redis loads our files"
        );
        assert_eq!(
            raw.cmd(&["FCALL", "setget", "1", "g", "x"]),
            b"$1\r\nx\r\n",
            "{label}"
        );
    }
}

/// A library saved by real Redis in its snapshot loads in redis-lite.
#[test]
fn a_function_saved_by_redis_loads_in_lite() {
    let dir = testkit::DataDir::new("scripts-from-redis");
    let Some(redis) = Launch::redis()
        .dir(&dir.0)
        .args(&["--save", ""])
        .start_if_available()
    else {
        return;
    };
    let mut raw = redis.raw();
    let digest = write_with_scripts(&mut raw);
    assert_eq!(raw.cmd(&["SAVE"]), b"+OK\r\n");
    drop(redis);
    let lite = Server::lite_in(&dir.0, &["--enable-debug-command", "yes"]);
    let mut raw = lite.raw();
    assert_eq!(raw.cmd_text(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(
        raw.cmd(&["FCALL", "echo", "1", "a", "b"]),
        b"*2\r\n*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n"
    );
}

/// INFO memory's scripting fields: Redis's names in Redis's order, and counts that follow
/// SCRIPT LOAD, SCRIPT FLUSH, FUNCTION LOAD and FUNCTION DELETE.
#[test]
fn info_reports_scripts_and_functions_as_redis_does() {
    fn scripting_fields(raw: &mut testkit::Raw) -> Vec<(String, String)> {
        let text = raw.cmd_text(&["INFO", "memory"]);
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| {
                ["lua", "script", "function", "_vm_", "libraries"]
                    .iter()
                    .any(|part| k.contains(part))
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    let lite = Server::lite(&[]);
    let mut raw = lite.raw();
    raw.cmd(&["SCRIPT", "LOAD", "return 1"]);
    raw.cmd(&["SCRIPT", "LOAD", "return 2"]);
    raw.cmd(&["FUNCTION", "LOAD", LIB]);
    let fields = scripting_fields(&mut raw);
    let value = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(value("number_of_cached_scripts"), "2");
    assert_eq!(value("number_of_functions"), "3");
    assert_eq!(value("number_of_libraries"), "1");
    assert!(value("used_memory_scripts_eval").parse::<u64>().unwrap() >= 16);
    assert!(value("used_memory_functions").parse::<u64>().unwrap() >= LIB.len() as u64);
    assert!(value("used_memory_vm_eval").parse::<u64>().unwrap() > 0);
    raw.cmd(&["SCRIPT", "FLUSH"]);
    raw.cmd(&["FUNCTION", "DELETE", "mylib"]);
    let fields = scripting_fields(&mut raw);
    let value = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(value("number_of_cached_scripts"), "0");
    assert_eq!(value("number_of_functions"), "0");
    assert_eq!(value("used_memory_functions"), "0");
    if let Some(redis) = Server::redis(&[]) {
        let names = |fields: Vec<(String, String)>| -> Vec<String> {
            fields.into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(names(fields), names(scripting_fields(&mut redis.raw())));
    }
}

/// While a function is busy: FUNCTION STATS shows it (name, command, duration), SCRIPT KILL
/// names FUNCTION KILL, and FUNCTION KILL stops it. Compared with Redis, durations aside.
#[test]
fn a_busy_function_is_shown_and_killed_as_in_redis() {
    fn flow(server: &Server) -> Vec<String> {
        let mut runner = server.raw();
        let mut other = server.raw();
        other.cmd(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
        ]);
        runner.send(&testkit::encode(&[b"FCALL", b"spin", b"0"]));
        let busy = wait_for_error(|| other.cmd(&["PING"]));
        let mut seen = vec![String::from_utf8_lossy(&busy).into_owned()];
        let stats = other.cmd_text(&["FUNCTION", "STATS"]);
        // The duration is the only part that differs from run to run.
        let at = stats.find("duration_ms\r\n:").expect("a running script") + 14;
        let end = at + stats[at..].find("\r\n").unwrap();
        seen.push(format!("{}<ms>{}", &stats[..at], &stats[end..]));
        for cmd in [&["SCRIPT", "KILL"][..], &["FUNCTION", "KILL"]] {
            seen.push(other.cmd_text(cmd));
        }
        seen.push(String::from_utf8_lossy(&runner.read_reply()).into_owned());
        seen.push(other.cmd_text(&["FUNCTION", "STATS"]));
        seen
    }
    let args = ["--busy-reply-threshold", "50"];
    let Some(redis) = Server::redis(&args) else {
        return;
    };
    let expected = flow(&redis);
    // One loop: FUNCTION STATS and FUNCTION KILL come from the busy function's own loop.
    let lite_args = ["--busy-reply-threshold", "50", "--threads", "1"];
    assert_eq!(flow(&Server::lite(&lite_args)), expected);
}

/// A busy script that catches every error with `pcall` is still stopped by SCRIPT KILL (and a
/// function by FUNCTION KILL): once killed, the error comes back at the next instruction outside
/// the `pcall`, as Redis's line hook raises it again. Then the next script runs normally.
#[test]
fn a_killed_script_cannot_catch_the_kill_with_pcall() {
    fn flow(server: &Server) -> Vec<String> {
        let mut runner = server.raw();
        let mut other = server.raw();
        let spin = "local f = function() while 1 do redis.call('ping') end end \
                    while 1 do pcall(f) end";
        let library =
            format!("#!lua name=spin\nredis.register_function('spin', function() {spin} end)");
        other.cmd(&["FUNCTION", "LOAD", &library]);
        let mut seen = Vec::new();
        for (run, kill) in [
            (&[&b"EVAL"[..], spin.as_bytes(), b"0"], "SCRIPT"),
            (&[&b"FCALL"[..], b"spin", b"0"], "FUNCTION"),
        ] {
            runner.send(&testkit::encode(run));
            seen.push(
                String::from_utf8_lossy(&wait_for_error(|| other.cmd(&["PING"]))).into_owned(),
            );
            seen.push(other.cmd_text(&[kill, "KILL"]));
            seen.push(String::from_utf8_lossy(&runner.read_reply()).into_owned());
            seen.push(other.cmd_text(&["PING"]));
            seen.push(runner.cmd_text(&["EVAL", "return 'next'", "0"]));
        }
        seen
    }
    let Some(redis) = Server::redis(&["--busy-reply-threshold", "10"]) else {
        return;
    };
    let expected = flow(&redis);
    let lite = Server::lite(&["--busy-reply-threshold", "10", "--threads", "1"]);
    assert_eq!(flow(&lite), expected);
}

/// A reply that contains itself ends in Redis's stack-limit error where Redis's Lua stack runs
/// out (7,995 levels of arrays; fewer for maps and sets, which keep more on it a level), on
/// the script's fiber too, and the connection stays usable: byte for byte as Redis, in RESP2
/// and RESP3. redis-lite used to stop at 1,000 levels of any kind.
#[test]
fn a_script_returning_a_table_that_contains_itself_ends_in_the_stack_limit_error() {
    use std::io::{Read, Write};
    const SCRIPTS: [&str; 5] = [
        "local a = {}; local b = {a}; a[1] = b; return a",
        "local a = {}; a[1] = 1; a[2] = a; return a",
        "local a = {}; a.map = {x = a}; return a",
        "local a = {}; local m = {}; m[a] = 1; a.map = m; return a",
        "local a = {}; local m = {}; m[a] = true; a.set = m; return a",
    ];
    // The raw bytes up to PING's reply: the test's own reader would parse the deep reply
    // recursively.
    let replies = |server: &Server, protocol: &str| -> Vec<Vec<u8>> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        testkit::Raw::new(stream.try_clone().unwrap()).cmd(&["HELLO", protocol]);
        let mut replies = Vec::new();
        for script in SCRIPTS {
            let mut request = testkit::encode(&[b"EVAL", script.as_bytes(), b"0"]);
            request.extend(testkit::encode(&[b"PING"]));
            stream.write_all(&request).unwrap();
            let mut reply = Vec::new();
            let mut chunk = [0u8; 65536];
            while !reply.ends_with(b"+PONG\r\n") {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "the connection closed");
                reply.extend_from_slice(&chunk[..n]);
            }
            reply.truncate(reply.len() - b"+PONG\r\n".len());
            replies.push(reply);
        }
        replies
    };
    let lite = Server::lite(&[]);
    let levels = |reply: &[u8]| reply.windows(4).filter(|w| w == b"*1\r\n").count();
    let lite_resp2 = replies(&lite, "2");
    assert_eq!(levels(&lite_resp2[0]), 7995);
    assert!(lite_resp2[0].ends_with(b"*1\r\n-ERR reached lua stack limit\r\n"));
    let Some(redis) = Server::redis(&[]) else {
        eprintln!("real Redis not installed: the comparison was skipped");
        return;
    };
    for protocol in ["2", "3"] {
        let (expected, actual) = (replies(&redis, protocol), replies(&lite, protocol));
        for ((script, expected), actual) in SCRIPTS.iter().zip(expected).zip(actual) {
            assert!(
                expected == actual,
                "RESP{protocol} {script}: the replies differ"
            );
        }
    }
}

/// FUNCTION LOAD gives a library's own code 500 ms, as Redis does; the server is usable after.
#[test]
fn function_load_times_out_as_in_redis() {
    fn flow(server: &Server) -> Vec<String> {
        let mut raw = server.raw();
        let spin = "#!lua name=spin\nlocal a = 1\nwhile 1 do a = a + 1 end";
        vec![
            raw.cmd_text(&["FUNCTION", "LOAD", spin]),
            raw.cmd_text(&["FUNCTION", "LIST"]),
            raw.cmd_text(&["FUNCTION", "LOAD", LIB]),
        ]
    }
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let expected = flow(&redis);
    assert!(
        expected[0].contains("FUNCTION LOAD timeout"),
        "{expected:?}"
    );
    assert_eq!(flow(&Server::lite(&[])), expected);
}

/// A client blocked on a key that a busy script pushes to is served after the script, on
/// either loop (not refused BUSY), as in Redis; so is one whose timeout passes meanwhile.
#[test]
fn clients_blocked_on_a_busy_scripts_keys_are_served_after_it() {
    fn flow(server: &Server) -> Vec<String> {
        let mut blocked: Vec<_> = (0..2).map(|_| server.raw()).collect();
        let mut timing_out = server.raw();
        let mut runner = server.raw();
        let mut probe = server.raw();
        for client in &mut blocked {
            client.send(&testkit::encode(&[b"BLPOP", b"list", b"0"]));
        }
        // Its timeout most likely passes while the script is busy (nil either way).
        timing_out.send(&testkit::encode(&[b"BLPOP", b"other", b"0.5"]));
        testkit::wait_until("the clients to block", Duration::from_secs(10), || {
            probe
                .cmd_text(&["INFO", "clients"])
                .contains("blocked_clients:3")
        });
        // Having written, the script cannot be killed: it spins a bounded while instead.
        let spin = "redis.call('RPUSH', KEYS[1], 'a', 'b'); \
                    local deadline = tonumber(ARGV[1]); local n = 0; \
                    while n < deadline do n = n + 1 end; return n";
        runner.send(&testkit::encode(&[
            b"EVAL",
            spin.as_bytes(),
            b"1",
            b"list",
            b"150000000",
        ]));
        let mut seen =
            vec![String::from_utf8_lossy(&wait_for_error(|| probe.cmd(&["PING"]))).into_owned()];
        for client in blocked.iter_mut().chain([&mut timing_out, &mut runner]) {
            // The script spins for seconds on an idle machine, longer on a loaded one.
            client.set_read_timeout(Duration::from_secs(120));
            seen.push(String::from_utf8_lossy(&client.read_reply()).into_owned());
        }
        seen.sort();
        seen
    }
    let args = ["--busy-reply-threshold", "10"];
    let Some(redis) = Server::redis(&args) else {
        return;
    };
    let expected = flow(&redis);
    for threads in ["1", "2"] {
        let lite = Server::lite(&["--busy-reply-threshold", "10", "--threads", threads]);
        assert_eq!(flow(&lite), expected, "--threads {threads}");
    }
}

/// Commands pipelined around scripts and transactions in one write (the batch goes on from the
/// first script on a fiber) answer in order, as Redis answers them.
#[test]
fn commands_pipelined_around_scripts_answer_in_order() {
    fn flow(server: &Server) -> Vec<u8> {
        let mut raw = server.raw();
        let commands: [&[&[u8]]; 9] = [
            &[b"SET", b"a", b"1"],
            &[b"EVAL", b"return redis.call('INCR', 'a')", b"0"],
            &[b"INCR", b"a"],
            &[b"MULTI"],
            &[b"EVAL", b"return redis.call('GET', 'a')", b"0"],
            &[b"INCR", b"a"],
            &[b"EXEC"],
            &[b"EVAL", b"return redis.pcall('NOSUCH')", b"0"],
            &[b"GET", b"a"],
        ];
        let pipeline: Vec<u8> = commands.iter().flat_map(|c| testkit::encode(c)).collect();
        raw.send(&pipeline);
        commands.iter().flat_map(|_| raw.read_reply()).collect()
    }
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let expected = flow(&redis);
    for threads in ["1", "2"] {
        let lite = Server::lite(&["--threads", threads]);
        assert_eq!(
            String::from_utf8_lossy(&flow(&lite)),
            String::from_utf8_lossy(&expected),
            "--threads {threads}"
        );
    }
}

/// Scripted writes emit the keyspace notifications their commands emit.
#[test]
fn scripted_writes_notify_as_in_redis() {
    testkit::differential_notifications(&[
        &["EVAL", "redis.call('SET', KEYS[1], 1); redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], 100); return redis.call('DEL', KEYS[1])", "1", "a"],
        &["FUNCTION", "LOAD", LIB],
        &["FCALL", "setget", "1", "b", "v"],
        &["EVAL", "redis.call('RPUSH', 'l', 1, 2); return redis.call('LPOP', 'l', 2)", "0"],
    ]);
}

/// `redis.set_repl(redis.REPL_NONE)` keeps the following writes out of the AOF, and
/// `REPL_ALL` puts them back: after a restart from the AOF, both servers hold the same data.
#[test]
fn set_repl_keeps_writes_out_of_the_aof_as_in_redis() {
    let script = "redis.call('SET', 'kept', 1); redis.set_repl(redis.REPL_NONE); \
                  redis.call('SET', 'unlogged', 2); redis.set_repl(redis.REPL_ALL); \
                  redis.call('SET', 'logged', 3); return redis.call('DBSIZE')";
    let after_restart = |launch: Launch| -> Option<Vec<u8>> {
        let dir = testkit::DataDir::new("set-repl");
        let args = ["--appendonly", "yes", "--appendfsync", "always"];
        let mut server = launch
            .clone()
            .dir(&dir.0)
            .args(&args)
            .start_if_available()?;
        let mut raw = server.raw();
        assert_eq!(raw.cmd(&["EVAL", script, "0"]), b":3\r\n");
        server.kill9();
        let server = launch.dir(&dir.0).args(&args).start();
        let mut raw = server.raw();
        Some([raw.cmd(&["KEYS", "*"]), raw.cmd(&["DBSIZE"])].concat())
    };
    let lite = after_restart(Launch::lite()).unwrap();
    let text = String::from_utf8_lossy(&lite);
    assert!(text.contains("kept") && text.contains("logged") && !text.contains("unlogged"));
    assert!(text.ends_with(":2\r\n"), "{text}");
    if let Some(redis) = after_restart(Launch::redis()) {
        let sorted = |reply: &[u8]| {
            let mut lines: Vec<&[u8]> = reply.split(|&b| b == b'\n').collect();
            lines.sort();
            lines.concat()
        };
        assert_eq!(sorted(&lite), sorted(&redis));
    }
}

/// A command's error that a script passes on (raised by `redis.call`, returned from
/// `redis.pcall`) is counted once, by the command, as in Redis; the script's own errors count.
#[test]
fn errors_passed_on_by_scripts_are_counted_once_as_in_redis() {
    differential(
        testkit::script!("scripting/errors_passed_on_by_scripts_are_counted_once_as_in_redis"),
        false,
    );
}

/// Found by the differential fuzzer: EVALSHA with a digest that is not 40 characters long is
/// NOSCRIPT before its number of keys is read; a 40-character unknown digest is not.
#[test]
fn evalsha_refuses_a_short_digest_before_reading_numkeys() {
    differential(
        &[
            &["EVALSHA", "", "-3"],
            &["EVALSHA", "d", "9223372036854775807", "k"],
            &["EVALSHA_RO", "0", "abc"],
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "-1"],
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        ],
        false,
    );
}

/// Found by the differential fuzzer: FUNCTION LOAD reads every argument before the code as an
/// option (REPLACE, repeated or not; anything else is refused by name), and FUNCTION FLUSH
/// with two options is the subcommand syntax error.
#[test]
fn function_load_and_flush_read_options_as_redis() {
    let code = "#!lua name=lib1\nredis.register_function('f', function() return 1 end)";
    differential(
        &[
            &["FUNCTION", "LOAD", "REPLACE", "REPLACE", code],
            &["FUNCTION", "LOAD", "REPLACE", "k1", code],
            &["FUNCTION", "LOAD", "inf", "REPLACE", code],
            &["FUNCTION", "LOAD", "REPLACE", "REPLACE", "#!js name=x\nfoo"],
            &["FUNCTION", "FLUSH", "ASYNC", "SYNC"],
            &["FUNCTION", "flush", "x", "y", "z"],
            &["FUNCTION", "FLUSH", "x"],
            &["FUNCTION", "LIST"],
        ],
        false,
    );
}

/// Found by the differential fuzzer: cjson.decode refuses a text with a NUL among its first two
/// bytes as UTF-16 or UTF-32, before parsing, and otherwise reads a NUL as the end of the text,
/// as lua-cjson does.
#[test]
fn cjson_decode_refuses_a_nul_in_the_first_two_bytes() {
    let decode = "return cjson.decode(ARGV[1])";
    differential(
        &[
            &["EVAL", decode, "0", "\0\r\n\u{ff}"],
            &["EVAL", decode, "0", "1\0"],
            &["EVAL", decode, "0", "\0"],
            &["EVAL", decode, "0", "[1,\0]"],
            &["EVAL", decode, "0", "[1]"],
            &["EVAL", decode, "0", "[1]\0junk"],
            &["EVAL", decode, "0", "[\"a\0b\"]"],
            &["EVAL", decode, "0", "12\0"],
        ],
        false,
    );
}

/// Found by the `lua_reply` fuzz target: a script returning a verbatim string whose format is
/// not three letters got a reply with a wrong length. Redis writes exactly three bytes.
#[test]
fn fuzz_lua_reply_verbatim_format_is_three_bytes() {
    let verbatim = |format: &str| {
        format!("redis.setresp(3); return {{verbatim_string={{format={format}, string='xy'}}}}")
    };
    let scripts: Vec<String> = [
        "'abcdef'",
        "'a'",
        "'a\\0bc'",
        "'\\200\\201\\202\\203'",
        "'txt'",
    ]
    .iter()
    .map(|f| verbatim(f))
    .collect();
    let commands: Vec<Vec<&str>> = scripts.iter().map(|s| vec!["EVAL", s, "0"]).collect();
    let commands: Vec<&[&str]> = commands.iter().map(Vec::as_slice).collect();
    differential_both_protocols(&commands);
}

/// Found by Redis 7.0.15's own suite ("Consistent eval error reporting"): a command a script
/// calls that is refused before it runs (OOM, a write from a read-only script, unknown, wrong
/// arity) counts as that command's rejected call and as one error reply, as in Redis.
#[test]
fn refused_calls_in_scripts_are_counted_as_in_redis() {
    differential(
        testkit::script!("scripting/refused_calls_in_scripts_are_counted_as_in_redis"),
        false,
    );
}

/// Found by Redis 7.0.15's own suite, which uses `DEBUG set-disable-deny-scripts` to reach
/// CLIENT LIST from a script: with it on, scripts may call `noscript` commands.
#[test]
fn deny_scripts_can_be_disabled_as_in_redis() {
    differential(
        testkit::script!("scripting/deny_scripts_can_be_disabled_as_in_redis"),
        false,
    );
}

/// Found by Redis 7.0.15's own suite ("not enough good replicas"): with
/// `min-replicas-to-write` unmet, a script or function declaring writes is refused -NOREPLICAS
/// before it runs; a script without a shebang fails at its first write.
#[test]
fn scripts_without_enough_replicas_fail_as_in_redis() {
    differential(
        testkit::script!("scripting/scripts_without_enough_replicas_fail_as_in_redis"),
        false,
    );
}

/// Found by Redis 7.0.15's own suite in harness mode (functions.tcl, "modify key space of read
/// only replica", "allow stale"): a replica judged FCALL and a flagged EVAL by the command's
/// flags (no write, stale allowed), so a function that writes ran on a read-only replica and
/// any ran on a stale one; now by the flags the script declared, and a stale replica refuses
/// the commands an allow-stale script calls that are not marked stale.
#[test]
fn scripts_on_a_replica_follow_their_declared_flags_as_in_redis() {
    differential(
        testkit::script!("scripting/scripts_on_a_replica_follow_their_declared_flags_as_in_redis"),
        false,
    );
}

/// Found by Redis 7.0.15's own suite (functions.tcl): quoted library names, case-insensitive
/// function names, FUNCTION RESTORE's arity error, flags that are not strings; EVAL's shebang
/// is split the same way.
#[test]
fn functions_edge_cases_match_redis() {
    differential(
        testkit::script!("scripting/functions_edge_cases_match_redis"),
        false,
    );
}

/// A shebang that no newline ends is refused before it is read, by EVAL and SCRIPT LOAD
/// alike, whatever it says (found comparing cluster-mode scripts by hand).
#[test]
fn a_shebang_without_a_newline_is_invalid() {
    differential(
        &[
            &["EVAL", "#!lua", "0"],
            &["EVAL", "#!lua flags=no-writes", "0"],
            &["EVAL", "#!", "0"],
            &["EVAL", "#!lua \"abc", "0"],
            &["EVAL_RO", "#!lua x", "0"],
            &["SCRIPT", "LOAD", "#!lua flags=no-cluster"],
            &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
            &["EVAL", "#!lua x\nreturn 1", "0"],
        ],
        false,
    );
}

/// Found by Redis 7.0.15's own suite: DEBUG RELOAD NOFLUSH fails on a library already loaded,
/// NOFLUSH MERGE replaces it, and a plain DEBUG RELOAD empties functions before loading.
#[test]
fn debug_reload_loads_functions_as_redis() {
    differential(
        testkit::script!("scripting/debug_reload_loads_functions_as_redis"),
        false,
    );
}

/// Found by Redis 7.0.15's own suite ("Script check unpack with massive arguments", the
/// cmsgpack smoke test): `unpack`, `redis.call` and cmsgpack reach Lua's stack limit where
/// Redis does (7999 values), with its errors, and large tables pack and unpack.
#[test]
fn lua_stack_limits_match_redis() {
    differential(
        testkit::script!("scripting/lua_stack_limits_match_redis"),
        false,
    );
}

/// Found by Redis 7.0.15's own suite ("Script delete the expired key"): DEBUG OBJECT shows a
/// key past its TTL that is still stored (a raw lookup, as Redis's), and a script then finds
/// it gone.
#[test]
fn a_script_finds_gone_a_key_that_debug_object_still_shows() {
    differential(
        &[
            &["DEBUG", "set-active-expire", "0"],
            &["SET", "key", "value", "PX", "1"],
            &["DEBUG", "SLEEP", "0.01"],
            // DEBUG OBJECT's address and LRU clock differ: only its start is compared.
            &["DEBUG", "set-disable-deny-scripts", "1"],
            &[
                "EVAL",
                "return (redis.call('DEBUG', 'OBJECT', 'key'):gsub('0x%x+', 'addr')):sub(1, 13)",
                "0",
            ],
            &["DEBUG", "set-disable-deny-scripts", "0"],
            &["EVAL", "return redis.call('EXISTS', 'key')", "0"],
            &["EXISTS", "key"],
            &["DEBUG", "OBJECT", "key"],
            &["DEBUG", "set-active-expire", "1"],
        ],
        false,
    );
}

/// Found by Redis 7.0.15's own suite ("malformed big number protocol parsing"): a script's
/// big number has its CR and LF sent as spaces in RESP2 as in RESP3.
#[test]
fn a_big_number_reply_has_no_line_breaks_in_either_protocol() {
    differential_both_protocols(&[&["EVAL", "return {big_number='123\\r\\n123'}", "0"]]);
}

/// The commands of a RESP stream (an AOF file's records, a replica's stream), each one's words
/// joined by spaces.
fn stream_commands(mut bytes: &[u8]) -> Vec<String> {
    let mut commands = Vec::new();
    while let Some(len) = testkit::frame_len(bytes) {
        let words = testkit::Reply::parse(&bytes[..len]).array();
        commands.push(
            words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        );
        bytes = &bytes[len..];
    }
    commands
}

/// `redis.set_repl` sends a script's following writes to the AOF and to the replicas apart
/// (item 222): `REPL_AOF` to the AOF alone, `REPL_REPLICA` (and its old name `REPL_SLAVE`)
/// to the replicas alone, `REPL_NONE` to neither, `REPL_ALL` to both; a unit that has records
/// for both kinds is framed in MULTI/EXEC for both, as Redis frames a script's effects when
/// there are several whatever their targets. Compared with Redis: the AOF's records, the
/// replication stream, and a replica's data. redis-lite sent `REPL_AOF` writes to the
/// replicas too and `REPL_REPLICA` writes nowhere.
#[test]
fn set_repl_splits_what_the_aof_and_the_replicas_get_as_in_redis() {
    let scripts = [
        "redis.set_repl(redis.REPL_AOF) redis.call('SET', 'aof', 1)",
        "redis.set_repl(redis.REPL_REPLICA) redis.call('SET', 'replica', 1)",
        "redis.set_repl(redis.REPL_SLAVE) redis.call('SET', 'slave', 1)",
        "redis.set_repl(redis.REPL_NONE) redis.call('SET', 'none', 1) \
         redis.set_repl(redis.REPL_ALL) redis.call('SET', 'all', 1)",
        "redis.set_repl(redis.REPL_AOF) redis.call('SET', 'a', 1) \
         redis.set_repl(redis.REPL_REPLICA) redis.call('SET', 'b', 1) \
         redis.set_repl(redis.REPL_ALL) redis.call('SET', 'c', 1)",
        "redis.set_repl(redis.REPL_AOF) redis.call('SET', 'x', 1) \
         redis.set_repl(redis.REPL_REPLICA) redis.call('SET', 'y', 1)",
        "redis.set_repl(redis.REPL_AOF) redis.call('SET', 'p', 1) redis.call('SET', 'q', 1)",
    ];
    let mut seen = Vec::new();
    for program in [testkit::Program::Redis, testkit::Program::Lite] {
        if !program.available() {
            testkit::skipped(&format!("{program:?} is not available"));
            continue;
        }
        let dir = testkit::DataDir::new("set-repl-split");
        let master = Launch::of(program)
            .dir(&dir.0)
            .args(&["--appendonly", "yes", "--appendfsync", "always"])
            .args(&["--repl-diskless-sync-delay", "0", "--save", ""]);
        let replica = Launch::of(program).args(&["--save", "", "--appendonly", "no"]);
        let set = testkit::Replicated::start(master, vec![replica]);
        let mut stream = testkit::ReplicationStream::attach(&set.master);
        let mut raw = set.master.raw();
        for script in scripts {
            assert_eq!(raw.cmd_text(&["EVAL", script, "0"]), "$-1\r\n", "{script}");
        }
        assert_eq!(raw.cmd_text(&["SET", "marker", "1"]), "+OK\r\n");
        let mut streamed = Vec::new();
        loop {
            let command = stream.next_command();
            if command == "SET marker 1" {
                break;
            }
            streamed.push(command);
        }
        let incr = dir.join("appendonlydir").join("appendonly.aof.1.incr.aof");
        let mut logged = Vec::new();
        testkit::wait_until("the marker in the AOF", Duration::from_secs(30), || {
            logged = stream_commands(&std::fs::read(&incr).unwrap_or_default());
            logged.last().is_some_and(|c| c == "SET marker 1")
        });
        set.wait_replicated();
        let mut replica = set.replicas[0].raw();
        let mut keys = String::from_utf8_lossy(&replica.cmd(&["KEYS", "*"])).into_owned();
        keys = {
            let mut lines: Vec<&str> = keys.split("\r\n").collect();
            lines.sort();
            lines.join(",")
        };
        seen.push((logged, streamed, keys));
    }
    let Some(redis) = seen.first().filter(|_| seen.len() == 2) else {
        return;
    };
    let aof: Vec<&str> = redis.0.iter().map(String::as_str).collect();
    assert_eq!(
        aof,
        [
            "SELECT 0",
            "SET aof 1",
            "SET all 1",
            "MULTI",
            "SET a 1",
            "SET c 1",
            "EXEC",
            "MULTI",
            "SET x 1",
            "EXEC",
            "MULTI",
            "SET p 1",
            "SET q 1",
            "EXEC",
            "SET marker 1"
        ],
        "Redis changed"
    );
    assert_eq!(seen[1].0, seen[0].0, "the AOF");
    assert_eq!(seen[1].1, seen[0].1, "the replication stream");
    assert_eq!(seen[1].2, seen[0].2, "the replica's keys");
}
