//! Interactive mode in a real pseudo-terminal: the prompt with its database and `(TX)`, history
//! recall with the up arrow, persistent history, argument hints, HELP, and reconnecting after
//! the server restarts.

use std::process::Command;
use std::time::Duration;

use expectrl::Session;
use redis_lite_testkit::{DataDir, Program, Server};

/// The client under test, as cargo built it for these tests.
const CLI: &str = env!("CARGO_BIN_EXE_redis-lite-cli");

#[test]
fn prompt_history_hints_and_reconnect() {
    // Any server will do: redis-lite when it is built, else real Redis.
    let server = match Program::Lite.path() {
        Some(_) => Some(Server::lite(&[])),
        None => Server::redis(&[]),
    };
    let Some(mut server) = server else {
        return;
    };
    let dir = DataDir::new("pty");
    let history = dir.join("history");
    let mut cmd = Command::new(CLI);
    cmd.args(["-p", &server.port.to_string()])
        .env("REDISCLI_HISTFILE", &history)
        .env("TERM", "xterm");
    let mut s = Session::spawn(cmd).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(10)));
    let prompt = format!("127.0.0.1:{}", server.port);

    s.expect(format!("{prompt}> ")).unwrap();
    s.send("SET greeting hello\r").unwrap();
    s.expect("OK").unwrap();
    s.send("GET greeting\r").unwrap();
    s.expect("\"hello\"").unwrap();

    // The database number, then the transaction marker.
    s.send("SELECT 2\r").unwrap();
    s.expect(format!("{prompt}[2]> ")).unwrap();
    s.send("MULTI\r").unwrap();
    s.expect(format!("{prompt}[2](TX)> ")).unwrap();
    s.send("INCR n\r").unwrap();
    s.expect("QUEUED").unwrap();
    s.send("EXEC\r").unwrap();
    s.expect("1) (integer) 1").unwrap();
    s.expect(format!("{prompt}[2]> ")).unwrap();

    // Hints from COMMAND DOCS appear after a command name, before Enter.
    s.send("hset ").unwrap();
    s.expect("key").unwrap();
    s.expect("field").unwrap();
    s.send("\x15").unwrap(); // Ctrl-U: clear the line.

    // Up arrow twice recalls INCR n; run outside MULTI it now increments.
    s.send("\x1b[A").unwrap();
    s.send("\x1b[A").unwrap();
    s.expect("INCR n").unwrap();
    s.send("\r").unwrap();
    s.expect("(integer) 2").unwrap();

    s.send("HELP GET\r").unwrap();
    s.expect("summary:").unwrap();

    // The server restarts: the next command reconnects, reselects db 2 and runs.
    server.restart();
    s.send("PING\r").unwrap();
    s.expect("PONG").unwrap();
    s.expect(format!("{prompt}[2]> ")).unwrap();

    // With the server gone, the prompt says so.
    server.kill9();
    s.send("PING\r").unwrap();
    s.expect("Could not connect to Redis at").unwrap();
    s.expect("not connected> ").unwrap();

    s.send("QUIT\r").unwrap();
    s.expect(expectrl::Eof).unwrap();
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(
        saved.contains("SELECT 2") && saved.contains("INCR n"),
        "{saved}"
    );
}
