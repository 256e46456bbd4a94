//! The Lua debugger (SCRIPT DEBUG YES|SYNC, `redis-cli --ldb`): whole sessions driven over raw
//! RESP against redis-lite and real Redis, their transcripts compared byte for byte (Redis's
//! half is skipped, saying so, when it is not installed).
use redis_lite_testkit as testkit;

use std::process::{Command, Stdio};
use testkit::resp::encode;
use testkit::Server;

/// One debugger command as redis-cli sends it: the words as bulk strings.
fn words(line: &str) -> Vec<u8> {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    encode(&args)
}

/// Asserts that the transcript has each of `parts`.
#[track_caller]
fn assert_lines(transcript: &str, parts: &[&str]) {
    for part in parts {
        assert!(transcript.contains(part), "{part:?} not in {transcript}");
    }
}

/// Debugger commands, one per line of words.
fn commands(lines: &[&str]) -> Vec<Vec<u8>> {
    lines.iter().map(|line| words(line)).collect()
}

/// Runs a session: SCRIPT DEBUG `mode`, EVAL `script`, then each of `inputs` (raw bytes)
/// until the session ends. Returns every reply read, the EVAL's final reply, and whether the
/// server then closed the connection.
fn transcript(
    server: &Server,
    mode: &str,
    script: &str,
    keys: &[&str],
    argv: &[&str],
    inputs: &[Vec<u8>],
) -> String {
    let mut raw = server.raw();
    let mut out = String::from_utf8_lossy(&raw.cmd(&["SCRIPT", "DEBUG", mode])).into_owned();
    let numkeys = keys.len().to_string();
    let mut eval = vec!["EVAL", script, &numkeys];
    eval.extend_from_slice(keys);
    eval.extend_from_slice(argv);
    let mut frame = raw.cmd(&eval);
    let mut inputs = inputs.iter();
    loop {
        let text = String::from_utf8_lossy(&frame).into_owned();
        out.push_str(&text);
        if text.contains("+<endsession>\r\n") {
            out.push_str(&String::from_utf8_lossy(&raw.read_reply()));
            out.push_str(if raw.is_closed() { "CLOSED" } else { "OPEN" });
            return out;
        }
        let Some(input) = inputs.next() else {
            out.push_str("(inputs ran out)");
            return out;
        };
        // Hostile input may end the session before it is all sent.
        raw.send_until_closed(input);
        frame = raw.read_reply();
    }
}

/// The transcript on redis-lite, compared with real Redis's when it is installed.
fn compare(mode: &str, script: &str, keys: &[&str], argv: &[&str], inputs: &[Vec<u8>]) -> String {
    compare_on(&[], mode, script, keys, argv, inputs)
}

/// [`compare`] on servers started with `server_args`.
fn compare_on(
    server_args: &[&str],
    mode: &str,
    script: &str,
    keys: &[&str],
    argv: &[&str],
    inputs: &[Vec<u8>],
) -> String {
    let mut transcripts = Vec::new();
    for (name, server) in Server::lite_and_redis(server_args) {
        // RESP3's reply types come from DEBUG PROTOCOL, which scripts may call only so.
        server
            .raw()
            .cmd(&["DEBUG", "set-disable-deny-scripts", "1"]);
        transcripts.push((name, transcript(&server, mode, script, keys, argv, inputs)));
    }
    if let [(_, lite), (_, redis)] = &transcripts[..] {
        assert_eq!(lite, redis, "redis-lite's transcript, then Redis's");
    } else {
        testkit::skipped("redis-server is not installed: redis-lite's transcript checked alone");
    }
    transcripts.swap_remove(0).1
}

const DEMO: &str = "local a = {1,2,'x'}\nlocal b = {k='v', [5]=3.5}\nredis.call('set','foo','bar')\nredis.debug('hi', a, nil, true)\nredis.breakpoint()\nlocal c = redis.call('get','foo')\nreturn c\n";

#[test]
fn step_print_list_break_eval_redis_and_help_match_redis() {
    let inputs = commands(&[
        "s",
        "p",
        "p a",
        "p KEYS",
        "p ARGV",
        "n",
        "s",
        "s",
        "p",
        "l",
        "l 2 1",
        "l 0 0",
        "w",
        "b",
        "b 6",
        "b 7",
        "b",
        "b -6",
        "b x",
        "b 99",
        "t",
        "e a[1]",
        "e x = 5",
        "e error('x')",
        "e local",
        "e",
        "e {1, {2, 'y'}}",
        "m",
        "m 10",
        "m 0",
        "r ping",
        "r",
        "r foo",
        "r set x",
        "r incr foo",
        "r get foo",
        "r mget a b c d e f g h i j k l",
        "zz",
        "h",
        "c",
        "c",
        "c",
    ]);
    let lite = compare("sync", DEMO, &["k1"], &["a1"], &inputs);
    assert!(lite.starts_with("+OK\r\n*2\r\n+* Stopped at 1, stop reason = step over\r\n"));
    assert_lines(
        &lite,
        &[
            "+<value> {1; 2; \"x\"}\r\n",
            "+<redis> set foo bar\r\n+<reply> \"+OK\"\r\n",
            "+<debug> line 4: \"hi\", {1; 2; \"x\"}, nil, true\r\n",
            "+<error> Unknown Redis command called from script\r\n",
            "+<redis> mget a b c d e f g h i ... (2 more)\r\n",
            "stop reason = redis.breakpoint() called\r\n",
            "+<error> Unknown Redis Lua debugger command or wrong number of arguments.\r\n",
        ],
    );
    assert!(
        lite.ends_with("+<endsession>\r\n$3\r\nbar\r\nCLOSED"),
        "{lite}"
    );
}

#[test]
fn functions_trace_maxlen_and_pcall_errors_match_redis() {
    let script = "local function f(x)\n  local y = x * 2\n  return y\nend\nlocal r = f(3)\nredis.pcall('incr','foo')\nreturn {r, 'str', 1.5}\n";
    let inputs = commands(&[
        "p",
        "p zz",
        "s",
        "s",
        "s",
        "t",
        "p",
        "e 1+1",
        "e redis.call('set','long', string.rep('x', 300))",
        "r get long",
        "m 61",
        "r get long",
        "s",
        "s",
        "r set foo notanumber",
        "s",
        "s",
    ]);
    let lite = compare("sync", script, &[], &[], &inputs);
    assert_lines(
        &lite,
        &[
            "+In f:\r\n+-> 3     return y\r\n+From top level:\r\n",
            "+<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.\r\n",
        ],
    );
    assert!(
        lite.ends_with("+<endsession>\r\n*3\r\n:6\r\n$3\r\nstr\r\n:1\r\nCLOSED"),
        "{lite}"
    );
}

#[test]
fn nested_tables_numbers_overflows_and_breakpoint_lists_match_redis() {
    let script = "local t = {}\nt.t = t\nlocal n = 0/0\nlocal f = function() end\nreturn 1\n";
    let inputs = commands(&[
        "s",
        "s",
        "s",
        "s",
        "p t",
        "p n",
        "e (function() local function f() return f() + 1 end return f() end)()",
        "e {[1]=1,[3]=3}",
        "e {1.5, -0.0, 1e100, 2^53}",
        "b 0",
        "b 1 2 3 4 5",
        "b -1",
        "b",
        "c",
    ]);
    let lite = compare("sync", script, &[], &[], &inputs);
    assert_lines(
        &lite,
        &[
            "<max recursion level reached! Nested table?>",
            "+<value> -nan\r\n",
            "+<error> ldb_eval:1: stack overflow\r\n",
            "+<retval> {1.5; -0; 1e+100; 9.0072e+15}\r\n",
        ],
    );
}

#[test]
fn resp3_replies_are_logged_as_redis_logs_them() {
    let inputs = commands(&[
        "s",
        "r hset h3 f v",
        "r hgetall h3",
        "r sadd s3 m",
        "r smembers s3",
        "r debug protocol double",
        "r debug protocol bignum",
        "r debug protocol true",
        "r debug protocol null",
        "r debug protocol verbatim",
        "r debug protocol attrib",
        "c",
    ]);
    let script = "redis.setresp(3)\nlocal x = 1\nreturn x\n";
    let lite = compare_on(
        &["--enable-debug-command", "yes"],
        "sync",
        script,
        &[],
        &[],
        &inputs,
    );
    assert_lines(
        &lite,
        &[
            "+<reply> {\"f\" => \"v\"}\r\n",
            "+<reply> ~(\"m\")\r\n",
            "+<reply> (double) 3.141\r\n",
        ],
    );
}

#[test]
fn an_endless_loop_stops_at_busy_reply_threshold() {
    let script = "local i = 0\nwhile true do i = i + 1 end\n";
    let lite = compare_on(
        &["--busy-reply-threshold", "100"],
        "sync",
        script,
        &[],
        &[],
        &[words("c"), words("a")],
    );
    assert!(
        lite.contains("+* Stopped at 2, stop reason = timeout reached, infinite loop?\r\n"),
        "{lite}"
    );
}

#[test]
fn sync_keeps_the_changes_and_yes_discards_them() {
    let script = "redis.call('set', KEYS[1], 'changed')\nredis.call('incr', KEYS[2])\nredis.call('del', KEYS[3])\nreturn 'done'\n";
    for (name, server) in Server::lite_and_redis(&[]) {
        let mut raw = server.raw();
        let seed = |raw: &mut testkit::resp::Raw| {
            raw.cmd(&["SET", "kept", "before"]);
            raw.cmd(&["DEL", "counter"]);
            raw.cmd(&["SET", "gone", "x", "PX", "100000"]);
        };
        seed(&mut raw);
        let ended = transcript(
            &server,
            "yes",
            script,
            &["kept", "counter", "gone"],
            &[],
            &[words("c")],
        );
        assert!(
            ended.ends_with("+<endsession>\r\n$4\r\ndone\r\nCLOSED"),
            "{name}: {ended}"
        );
        let mut raw = server.raw();
        assert_eq!(raw.cmd_text(&["GET", "kept"]), "$6\r\nbefore\r\n", "{name}");
        assert_eq!(raw.cmd_text(&["EXISTS", "counter"]), ":0\r\n", "{name}");
        assert_eq!(raw.cmd_text(&["GET", "gone"]), "$1\r\nx\r\n", "{name}");
        let ttl = raw.cmd_text(&["PTTL", "gone"]);
        assert!(
            ttl != ":-1\r\n" && ttl != ":-2\r\n",
            "{name}: the TTL came back: {ttl}"
        );

        seed(&mut raw);
        transcript(
            &server,
            "sync",
            script,
            &["kept", "counter", "gone"],
            &[],
            &[words("c")],
        );
        assert_eq!(
            raw.cmd_text(&["GET", "kept"]),
            "$7\r\nchanged\r\n",
            "{name}"
        );
        assert_eq!(raw.cmd_text(&["GET", "counter"]), "$1\r\n1\r\n", "{name}");
        assert_eq!(raw.cmd_text(&["EXISTS", "gone"]), ":0\r\n", "{name}");
    }
}

#[test]
fn abort_and_script_errors_end_the_session_as_in_redis() {
    let script = "redis.call('set','aborted','1')\nlocal x = 1\nreturn 'done'\n";
    let lite = compare("sync", script, &[], &[], &[words("s"), words("a")]);
    assert!(
        lite.contains("-ERR script aborted for user request script: "),
        "{lite}"
    );
    compare("sync", "local t = {}\nt.x.y = 1\n", &[], &[], &[words("c")]);
}

#[test]
fn an_eval_that_fails_before_running_still_ends_its_session_as_in_redis() {
    let lite = compare("sync", "return +", &[], &[], &[]);
    assert!(
        lite.contains("+<endsession>\r\n-ERR Error compiling script"),
        "{lite}"
    );
    assert!(lite.ends_with("CLOSED"), "{lite}");
    compare("sync", "#!lua flags=bogus\nreturn 1", &[], &[], &[]);
}

#[test]
fn hostile_input_ends_the_session_without_harm() {
    let script = "return 1\n";
    let big_argument = encode(&[b"e", &vec![b'x'; 1 << 20]]);
    let many_args: Vec<String> = std::iter::once("r".to_string())
        .chain(std::iter::once("mset".to_string()))
        .chain((0..150).map(|i| format!("k{}", i / 2)))
        .collect();
    let many_args: Vec<&[u8]> = many_args.iter().map(|a| a.as_bytes()).collect();
    let binary = encode(&[b"e", b"'\x00\xff\r\n'"]);
    for inputs in [
        vec![b"garbage\r\n".to_vec()],
        vec![binary, words("c")],
        vec![encode(&many_args), words("r get k1"), words("c")],
        vec![big_argument],
        vec![b"*100000\r\n".to_vec()],
        // A header line that never ends: "max client buffer reached" past 1 MB.
        vec![[&b"*"[..], &vec![b'x'; 1 << 20], b"yy"].concat()],
        vec![b"*2\r\n$1\r\np\r\n$-5\r\n".to_vec()],
    ] {
        let lite = compare("sync", script, &[], &[], &inputs);
        assert!(lite.ends_with("CLOSED"), "{lite}");
    }
}

#[test]
fn evalsha_and_script_debug_in_multi_are_refused_as_in_redis() {
    for (name, server) in Server::lite_and_redis(&[]) {
        let mut raw = server.raw();
        raw.expect_replies(&[
            (
                &["SCRIPT", "DEBUG", "maybe"],
                "-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n",
            ),
            (&["SCRIPT", "DEBUG", "sync"], "+OK\r\n"),
            (
                &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
                "-ERR Please use EVAL instead of EVALSHA for debugging\r\n",
            ),
            (
                &["EVALSHA", "short", "0"],
                "-NOSCRIPT No matching script. Please use EVAL.\r\n",
            ),
            (&["SCRIPT", "DEBUG", "no"], "+OK\r\n"),
            (&["EVAL", "return 7", "0"], ":7\r\n"),
            (&["MULTI"], "+OK\r\n"),
            (&["SCRIPT", "DEBUG", "yes"], "+QUEUED\r\n"),
        ]);
        let exec = raw.cmd_text(&["EXEC"]);
        assert_eq!(
            exec, "*1\r\n-ERR SCRIPT DEBUG must be called outside a pipeline\r\n",
            "{name}"
        );
    }
}

#[test]
fn a_client_gone_mid_session_leaves_the_server_serving_others() {
    for (name, server) in Server::lite_and_redis(&[]) {
        let mut debugging = server.raw();
        debugging.cmd(&["SCRIPT", "DEBUG", "sync"]);
        let stop = debugging.cmd(&["EVAL", "redis.call('set','left','yes')\nreturn 1", "0"]);
        assert!(
            String::from_utf8_lossy(&stop).contains("Stopped at 1"),
            "{name}"
        );
        drop(debugging);
        // The script runs to its end without stopping again, and the server serves others.
        let mut other = server.raw();
        assert_eq!(other.cmd_text(&["GET", "left"]), "$3\r\nyes\r\n", "{name}");
        assert_eq!(other.cmd_text(&["PING"]), "+PONG\r\n", "{name}");
    }
}

/// `redis-cli --ldb-sync-mode` and `--ldb` with their commands piped in print the same as
/// against Redis.
#[test]
fn redis_cli_ldb_sessions_match_redis() {
    if !testkit::installed("redis-cli") {
        return;
    }
    let dir = testkit::DataDir::new("ldb-cli");
    let file = dir.join("debugged.lua");
    std::fs::write(
        &file,
        "local a = redis.call('incr', KEYS[1])\nlocal t = {1, 'two', x = ARGV[1]}\nredis.debug(t)\nreturn a\n",
    )
    .unwrap();
    let mut outputs = Vec::new();
    for (name, server) in Server::lite_and_redis(&[]) {
        let mut printed = String::new();
        for (mode, input) in [
            ("--ldb-sync-mode", "s\np\nn\ne 1+2\nc\n"),
            ("--ldb", "s\nc\n"),
        ] {
            let mut child = Command::new("redis-cli")
                .args(["-p", &server.port.to_string(), mode, "--eval"])
                .arg(&file)
                .args(["clikey", ",", "argone"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            printed.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        assert!(
            printed.contains("<debug> line 3: {[1]=1; [2]=\"two\"; [\"x\"]=\"argone\"}"),
            "{name}: {printed}"
        );
        assert!(
            printed.contains("(Lua debugging session ended -- dataset changes rolled back)"),
            "{name}: {printed}"
        );
        outputs.push(printed);
    }
    if let [lite, redis] = &outputs[..] {
        assert_eq!(lite, redis);
    } else {
        testkit::skipped("redis-server is not installed: redis-lite's output checked alone");
    }
}

/// SIGTERM while a session waits for its client ends the session (the script runs on) and the
/// server stops, as Redis's read interrupted by the signal does. (Only redis-lite: Redis stops
/// only when the signal lands on its main thread, not on one of its background threads.)
#[test]
fn a_shutdown_ends_a_session_waiting_for_its_client() {
    let mut server = Server::lite(&[]);
    let mut debugging = server.raw();
    debugging.cmd(&["SCRIPT", "DEBUG", "sync"]);
    let stop = debugging.cmd(&["EVAL", "return 1", "0"]);
    assert!(String::from_utf8_lossy(&stop).contains("Stopped at 1"));
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = server.wait_exit(std::time::Duration::from_secs(30));
    assert!(stopped.is_some(), "redis-lite did not stop");
}
