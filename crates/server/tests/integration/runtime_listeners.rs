//! CONFIG SET port and bind at runtime, against Redis 7.0: the new listeners open before the
//! old ones close, a failure (port in use, an address the host lacks) keeps the old ones with
//! Redis's error text, and connections already made stay.

use redis_lite_testkit as testkit;

use std::net::TcpStream;
use std::time::Duration;

use testkit::{free_port, wait_until, Launch, Program, Raw};

fn connect(port: u16) -> Option<Raw> {
    TcpStream::connect(("127.0.0.1", port)).ok().map(Raw::new)
}

fn refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// Moves `program`'s listeners about and returns what each step answered.
fn move_listeners(program: Program) -> Vec<String> {
    let server = Launch::of(program).start();
    let mut transcript = Vec::new();
    let mut first = server.raw();
    let new_port = free_port();
    let new_port_text = new_port.to_string();
    transcript.push(first.cmd_text(&["CONFIG", "SET", "port", &new_port_text]));
    let mut moved = connect(new_port).expect("the new port accepts at once");
    transcript.push(moved.cmd_text(&["PING"]));
    wait_until("the old port is closed", Duration::from_secs(5), || {
        refused(server.port)
    });
    // The connection made on the old port stays.
    transcript.push(first.cmd_text(&["PING"]));
    transcript.push(first.cmd_text(&["CONFIG", "GET", "port"]));
    assert_eq!(
        testkit::info_field(&mut first, "server", "tcp_port"),
        new_port_text
    );

    // A port something else holds: refused, and the server stays where it was.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let held = holder.local_addr().unwrap().port().to_string();
    let refusal = moved.cmd_text(&["CONFIG", "SET", "port", &held]);
    transcript.push(refusal);
    transcript.push(
        moved
            .cmd_text(&["CONFIG", "GET", "port"])
            .replace(&new_port_text, "<port>"),
    );
    transcript.push(
        connect(new_port)
            .expect("still listening")
            .cmd_text(&["PING"]),
    );

    // Addresses: one the host lacks fails unless optional; a wildcard and then a specific
    // address on the same port (which exclude each other while both listen) move.
    for bind in ["10.255.255.1", "127.0.0.1 -10.255.255.1", "*", "127.0.0.1"] {
        transcript.push(moved.cmd_text(&["CONFIG", "SET", "bind", bind]));
        transcript.push(moved.cmd_text(&["CONFIG", "GET", "bind"]));
        let mut fresh = connect(new_port).expect("listening on loopback");
        transcript.push(fresh.cmd_text(&["PING"]));
    }
    // The same port again changes nothing.
    transcript.push(moved.cmd_text(&["CONFIG", "SET", "port", &new_port_text]));
    // Port 0: no TCP listener at all, the connections made stay.
    transcript.push(moved.cmd_text(&["CONFIG", "SET", "port", "0"]));
    wait_until("port 0 closes the listener", Duration::from_secs(5), || {
        refused(new_port)
    });
    transcript.push(moved.cmd_text(&["PING"]));
    drop(holder);
    transcript
}

#[test]
fn config_set_port_and_bind_move_the_listeners_as_redis_does() {
    let lite = move_listeners(Program::Lite);
    let refusal = "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n";
    let bind_refusal = "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n";
    assert_eq!(lite[0], "+OK\r\n");
    assert_eq!(lite[1], "+PONG\r\n");
    assert_eq!(lite[2], "+PONG\r\n");
    assert_eq!(lite[4], refusal);
    assert_eq!(lite[7], bind_refusal);
    assert_eq!(lite[8], "*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n");
    assert_eq!(lite[lite.len() - 1], "+PONG\r\n");
    if !Program::Redis.available() {
        testkit::skipped("redis-server is not on PATH (in config_set_port_and_bind_move_the_listeners_as_redis_does)");
        return;
    }
    let redis = move_listeners(Program::Redis);
    // CONFIG GET port names each server's own port.
    let mask = |t: &[String]| {
        let mut t = t.to_vec();
        t[3] = String::new();
        t
    };
    assert_eq!(mask(&lite), mask(&redis));
}

#[test]
fn a_bad_bind_address_keeps_the_listeners_and_the_config() {
    let server = Launch::lite().start();
    let mut raw = server.raw();
    raw.expect_replies(&[
        (
            &["CONFIG", "SET", "bind", "not-a-host.invalid"],
            "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n",
        ),
        (&["CONFIG", "GET", "bind"], "*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n"),
        // Both parameters of the failed call are restored.
        (
            &["CONFIG", "SET", "maxclients", "77", "bind", "not-a-host.invalid"],
            "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n",
        ),
        (
            &["CONFIG", "GET", "maxclients"],
            "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
        ),
        (&["CONFIG", "SET", "unixsocket", "/tmp/x.sock"], "-ERR CONFIG SET failed (possibly related to argument 'unixsocket') - can't set immutable config\r\n"),
        (&["CONFIG", "SET", "unixsocketperm", "700"], "-ERR CONFIG SET failed (possibly related to argument 'unixsocketperm') - can't set immutable config\r\n"),
    ]);
    assert_eq!(
        connect(server.port).unwrap().cmd_text(&["PING"]),
        "+PONG\r\n"
    );
}

/// At start-up, a port in use stops the server with Redis's words for it, in its log too:
/// Redis's test suite reads "Failed listening on port" there to start the server again on
/// another port (redis-lite said it on standard error only, and the suite waited two minutes
/// for a server that had gone).
#[test]
fn a_port_in_use_at_start_up_is_reported_as_redis_reports_it() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            testkit::skipped("redis-server is not on PATH (the port in use at start-up)");
            continue;
        }
        let (status, output) = Launch::of(program)
            .args(&["--port", &port, "--bind", "127.0.0.1"])
            .run_until_exit();
        assert!(!status.success());
        for line in [
            format!("# Warning: Could not create server TCP listening socket 127.0.0.1:{port}: bind: Address already in use"),
            format!("# Failed listening on port {port} (TCP), aborting."),
        ] {
            assert!(output.contains(&line), "{program:?}: {line}\n{output}");
        }
    }
}

/// With a log file, a port in use at start-up is written there only, nothing to standard
/// output or error (the legacy cluster suite counts any standard error output of an instance
/// as a crash; one that retried on another port after a collision failed the file).
#[test]
fn a_port_in_use_with_a_log_file_writes_nothing_to_the_terminal() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            testkit::skipped("redis-server is not on PATH (the port in use with a log file)");
            continue;
        }
        let dir = testkit::DataDir::new("port-in-use-log");
        let (status, output) = Launch::of(program)
            .dir(&dir.0)
            .args(&[
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--logfile",
                "log.txt",
            ])
            .run_until_exit();
        assert!(!status.success());
        assert_eq!(output, "", "{program:?}");
        let log = std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default();
        let failed = format!("Failed listening on port {port} (TCP), aborting.");
        assert!(log.contains(&failed), "{program:?}: {log}");
    }
}
