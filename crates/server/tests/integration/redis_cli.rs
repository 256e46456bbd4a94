//! Debian's redis-cli, driven in a real pseudo-terminal: it connects, shows its argument hints
//! while a command is typed, and prints replies and the database in its prompt.
use redis_lite_testkit as testkit;

use std::process::Command;

/// Types `lines` into an interactive redis-cli on a pty and returns everything it printed.
fn interactive_session(port: u16, lines: &[&str]) -> String {
    let script = r#"
import fcntl, os, pty, select, struct, sys, termios, time
port, lines = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("redis-cli", ["redis-cli", "-p", port])
# A 24x160 screen, so hints fit on one line.
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
out = b""
def pump(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            out += chunk
            # Answer linenoise's cursor-position queries as a terminal would.
            for _ in range(chunk.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;160R")
pump(0.5)
for line in lines:
    if line.endswith(" "):
        # Typed but not entered: redis-cli shows its hint for the arguments still to come.
        os.write(fd, line.encode()); pump(0.4); os.write(fd, b"\x15"); pump(0.2)
    else:
        os.write(fd, line.encode() + b"\r"); pump(0.4)
os.write(fd, b"quit\r"); pump(0.3)
sys.stdout.write(out.decode("utf-8", "replace"))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .args(lines)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_works_interactively_with_hints() {
    if !testkit::installed("redis-cli") {
        return;
    }
    let server = testkit::Server::lite(&[]);
    let screen = interactive_session(
        server.port,
        &[
            "SET mykey ",
            "SET mykey hello",
            "GET mykey",
            "SELECT 2",
            "DBSIZE",
        ],
    );
    let prompt = format!("127.0.0.1:{}>", server.port);
    assert!(screen.contains(&prompt), "{screen}");
    assert!(
        screen.contains("value [NX|XX]"),
        "argument hint missing: {screen}"
    );
    assert!(screen.contains("\"hello\""), "{screen}");
    assert!(
        screen.contains(&format!("127.0.0.1:{}[2]>", server.port)),
        "{screen}"
    );
    assert!(screen.contains("(integer) 0"), "{screen}");
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    if !testkit::installed("redis-cli") {
        return;
    }
    let server = testkit::Server::lite(&[]);
    let input: String = (0..20_000)
        .map(|i| format!("SET key:{i} value:{i}\r\n"))
        .collect();
    let port = server.port.to_string();
    let out = testkit::run("redis-cli", &["-p", &port, "--pipe"], input.as_bytes());
    let text = testkit::text(&out.stdout);
    assert!(text.contains("errors: 0, replies: 20000"), "{text}");
    assert_eq!(server.raw().cmd_text(&["DBSIZE"]), ":20000\r\n");
}

/// `redis-cli --eval file keys , args` against redis-lite and real Redis: stdout, stderr and
/// exit status the same, in raw and formatted output, for replies, script errors, a read-only
/// script's refused write, and the SHA in a runtime error's text.
#[test]
fn redis_cli_eval_runs_script_files() {
    if !testkit::installed("redis-cli") {
        return;
    }
    let Some(redis) = testkit::Server::redis(&[]) else {
        return;
    };
    let lite = testkit::Server::lite(&[]);
    let dir = testkit::DataDir::new("eval");
    let file = |name: &str, script: &str| {
        let path = dir.join(name);
        std::fs::write(&path, script).unwrap();
        path.to_str().unwrap().to_string()
    };
    let echo = file("echo.lua", "-- keys, then arguments\nreturn {KEYS, ARGV}\n");
    let counter = file(
        "counter.lua",
        "local n = redis.call('INCRBY', KEYS[1], ARGV[1])\nredis.call('RPUSH', KEYS[2], n)\nreturn redis.call('LRANGE', KEYS[2], 0, -1)\n",
    );
    let read_only = file(
        "ro.lua",
        "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], ARGV[1])",
    );
    let map = file(
        "map.lua",
        "redis.setresp(3)\nredis.call('HSET', KEYS[1], 'f', 'v')\nreturn redis.call('HGETALL', KEYS[1])",
    );
    let broken = file("broken.lua", "return 1 +");
    let missing = dir.join("missing.lua");
    let runs: &[&[&str]] = &[
        &["--eval", &echo, "k1", "k2", ",", "a1", ",", "a2"],
        &["--eval", &echo, ",", "only-arg"],
        &["--eval", &counter, "n", "log", ",", "5"],
        &["--eval", &counter, "n", "log", ",", "-2"],
        &["--eval", &counter, "log", "n", ",", "1"],
        &["--eval", &counter, "n"],
        &["--eval", &read_only, "k", ",", "v"],
        &["--eval", &map, "h"],
        &["-3", "--eval", &map, "h"],
        &["--eval", &broken],
        &["--eval", missing.to_str().unwrap(), "k"],
    ];
    for args in runs {
        for format in [&[][..], &["--no-raw"]] {
            let outputs: Vec<_> = [&redis, &lite]
                .iter()
                .map(|server| {
                    let port = server.port.to_string();
                    let mut all = vec!["-p", &port];
                    all.extend_from_slice(format);
                    all.extend_from_slice(args);
                    let out = testkit::run("redis-cli", &all, b"");
                    (
                        testkit::text(&out.stdout),
                        testkit::text(&out.stderr),
                        out.status.code(),
                    )
                })
                .collect();
            assert_eq!(outputs[1], outputs[0], "redis-cli {format:?} {args:?}");
        }
    }
}
