//! What one client can make the server hold: pending output is counted (`omem`,
//! `client_recent_max_output_buffer`) and bounded by `client-output-buffer-limit`, a pipeline
//! is served while its replies wait, and idle connections hold no buffers. Where Redis
//! behaves the same, each test runs against real Redis too.

use redis_lite_testkit as testkit;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use testkit::{encode, info_field, DataDir, Raw, Server};

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sets `big` to a 1 MB value.
fn set_big_value(raw: &mut Raw) {
    let value = vec![b'v'; 1 << 20];
    raw.send(&encode(&[b"SET", b"big", &value]));
    assert_eq!(raw.read_reply(), b"+OK\r\n");
}

/// The CLIENT LIST line of the client named `name`, if it is connected.
fn client_line(raw: &mut Raw, name: &str) -> Option<String> {
    let list = raw.cmd_text(&["CLIENT", "LIST"]);
    list.lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .map(str::to_string)
}

fn field(line: &str, name: &str) -> u64 {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

/// A client that names itself (so CLIENT LIST shows it from then on), then pipelines `gets`
/// GETs of `big` and reads no more.
fn non_reader(server: &Server, name: &str, gets: usize) -> TcpStream {
    let mut stream = connect(server);
    stream
        .write_all(&encode(&[b"CLIENT", b"SETNAME", name.as_bytes()]))
        .unwrap();
    let mut ok = [0; 5];
    stream.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    stream.write_all(&b"GET big\r\n".repeat(gets)).unwrap();
    stream
}

/// Waits until `done` holds, polling; false after `limit`.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Issue 11: a client pipelining 2,000 GETs of a 1 MB value without reading was never
/// disconnected (756 MB of RSS for one such client), and CLIENT LIST showed `omem=0`.
#[test]
fn client_that_never_reads_is_closed_at_the_output_hard_limit() {
    let dir = DataDir::new("obuf-hard");
    let lite = Server::lite_in(&dir.0, &["--logfile", "server.log"]);
    let mut servers = vec![("redis-lite", lite)];
    servers.extend(Server::redis(&[]).map(|s| ("redis", s)));
    for (who, server) in &servers {
        let mut admin = server.raw();
        let set = admin.cmd_text(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 8mb 4mb 10",
        ]);
        assert_eq!(set, "+OK\r\n", "{who}");
        set_big_value(&mut admin);
        let started = Instant::now();
        let _offender = non_reader(server, "offender", 2000);
        let gone = eventually(Duration::from_secs(5), || {
            client_line(&mut admin, "offender").is_none()
        });
        assert!(
            gone,
            "{who}: the client over its hard limit is still connected"
        );
        let used: u64 = info_field(&mut admin, "memory", "used_memory")
            .parse()
            .unwrap();
        assert!(
            used < 64 << 20,
            "{who}: {used} bytes used after closing the client (at {:?})",
            started.elapsed()
        );
    }
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(
        log.contains("scheduled to be closed ASAP for overcoming of output buffer limits")
            && log.contains("name=offender"),
        "no log line for the closed client:\n{log}"
    );
}

/// Pending output shows in CLIENT LIST (`omem`, `events=rw`) and INFO, and is all delivered
/// once the client reads.
#[test]
fn omem_counts_output_a_client_has_not_read() {
    for (who, server) in Server::lite_and_redis(&[]) {
        let mut admin = server.raw();
        set_big_value(&mut admin);
        let mut reader = non_reader(&server, "slow", 20);
        let mut line = String::new();
        let grew = eventually(Duration::from_secs(5), || {
            line = client_line(&mut admin, "slow").unwrap_or_default();
            !line.is_empty() && field(&line, "omem") > 4 << 20
        });
        assert!(grew, "{who}: omem never grew: {line}");
        // Redis samples it once a cron round.
        let mut recent = 0u64;
        let sampled = eventually(Duration::from_secs(3), || {
            recent = info_field(&mut admin, "clients", "client_recent_max_output_buffer")
                .parse()
                .unwrap();
            recent > 4 << 20
        });
        assert!(sampled, "{who}: client_recent_max_output_buffer {recent}");
        // Everything arrives, in order, once the client reads.
        let expected_len = 20 * (b"$1048576\r\n".len() + (1 << 20) + 2);
        let mut got = Vec::new();
        reader
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        while got.len() < expected_len {
            let mut chunk = vec![0; 1 << 16];
            let n = reader.read(&mut chunk).unwrap();
            assert!(n > 0, "{who}: closed after {} bytes", got.len());
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got.len(), expected_len, "{who}");
        assert!(got.starts_with(b"$1048576\r\nvvv"), "{who}");
        let drained = eventually(Duration::from_secs(5), || {
            field(&client_line(&mut admin, "slow").unwrap(), "omem") == 0
        });
        assert!(drained, "{who}: omem did not go back to 0");
    }
}

/// Over the soft limit the client is closed once it has stayed there for the soft seconds, and
/// not before. With no hard limit, redis-lite meanwhile runs none of its further commands, so
/// the pipeline cannot grow the server's memory (Redis lets it grow until the seconds pass).
#[test]
fn output_over_the_soft_limit_for_its_seconds_closes_the_client() {
    let server = Server::lite(&[]);
    let mut admin = server.raw();
    admin.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 0 2mb 2",
    ]);
    set_big_value(&mut admin);
    let started = Instant::now();
    let _offender = non_reader(&server, "lingering", 500);
    let mut peak = 0u64;
    let gone = eventually(Duration::from_secs(8), || {
        let used: u64 = info_field(&mut admin, "memory", "used_memory")
            .parse()
            .unwrap();
        peak = peak.max(used);
        client_line(&mut admin, "lingering").is_none()
    });
    let after = started.elapsed();
    assert!(gone, "still connected after {after:?}");
    assert!(
        after >= Duration::from_millis(1900),
        "closed after {after:?}"
    );
    assert!(peak < 64 << 20, "used_memory peaked at {peak}");
}

/// A client that writes a whole pipeline before reading any reply (as many client libraries'
/// pipelines do) gets every reply, even when the pipeline and its replies are far larger than
/// the socket buffers: commands keep being read while replies wait to be written.
#[test]
fn pipeline_written_whole_before_reading_gets_every_reply() {
    let echo = vec![b'e'; 10_000];
    let commands = 3000;
    let mut input = Vec::new();
    for _ in 0..commands {
        input.extend_from_slice(&encode(&[b"ECHO", &echo]));
    }
    for (who, server) in Server::lite_and_redis(&[]) {
        let mut stream = connect(&server);
        let mut writer = stream.try_clone().unwrap();
        let input = input.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(writer.write_all(&input).is_ok());
        });
        let written = done_rx.recv_timeout(Duration::from_secs(30));
        assert_eq!(
            written,
            Ok(true),
            "{who}: the pipeline could not be written (the server stopped reading)"
        );
        let reply_len = format!("${}\r\n", echo.len()).len() + echo.len() + 2;
        let mut got = vec![0; reply_len * commands];
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.read_exact(&mut got).unwrap();
        assert!(got.ends_with(b"eee\r\n"), "{who}");
    }
}

/// Issue 11: every connection kept 32 KB of buffers allocated for its whole life. Now a
/// connection holds a buffer only while it has bytes in it, and the memory comes back when
/// clients leave.
#[test]
fn idle_connections_hold_no_buffers() {
    let server = Server::lite(&["--maxclients", "2000"]);
    let mut admin = server.raw();
    let used =
        |admin: &mut Raw| -> i64 { info_field(admin, "memory", "used_memory").parse().unwrap() };
    let before = used(&mut admin);
    let count = 1000;
    let mut clients: Vec<TcpStream> = (0..count).map(|_| connect(&server)).collect();
    for client in &mut clients {
        client.write_all(b"PING\r\n").unwrap();
    }
    for client in &mut clients {
        let mut reply = [0; 7];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+PONG\r\n");
    }
    let per_client = (used(&mut admin) - before) / count;
    assert!(
        per_client < 8 * 1024,
        "{per_client} bytes per idle connection"
    );
    drop(clients);
    let released = eventually(Duration::from_secs(5), || {
        (used(&mut admin) - before) < 2 << 20
    });
    assert!(
        released,
        "{} bytes still used after the clients left",
        used(&mut admin) - before
    );
}

/// Sends `args` on a new connection and returns every byte received until the server closes
/// it.
fn bytes_until_closed(server: &Server, args: &[&[u8]]) -> Vec<u8> {
    let mut stream = connect(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(&encode(args)).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!("no end to the reply of {:?}: {e}", args[0]),
        }
    }
}

/// obuf-limits.tcl's "Obuf limit, HRANDFIELD with huge count stopped mid-run" and "KEYS
/// stopped mid-run": a reply that takes the client past its hard limit is never sent, not
/// even its start, and the client is closed. redis-lite built a random pick of a billion
/// elements whole (gigabytes) before checking, and wrote the first megabytes of any reply
/// over 1 MB before the check.
#[test]
fn a_reply_past_the_hard_limit_is_not_sent_at_all() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut admin = server.raw();
        admin.ok(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"normal 1000000 0 0",
        ]);
        admin.ok(&[b"HSET", b"hash", b"a", b"b"]);
        admin.ok(&[b"SADD", b"set", b"a"]);
        admin.ok(&[b"ZADD", b"zset", b"1", b"a"]);
        for (command, key) in [
            (&b"HRANDFIELD"[..], &b"hash"[..]),
            (b"SRANDMEMBER", b"set"),
            (b"ZRANDMEMBER", b"zset"),
        ] {
            let received = bytes_until_closed(&server, &[command, key, b"-999999999"]);
            assert!(
                received.is_empty(),
                "{which}: {} sent {} bytes",
                String::from_utf8_lossy(command),
                received.len()
            );
        }
        // 3 MB of key names.
        let prefix = "k".repeat(100);
        for batch in 0..30 {
            let names: Vec<String> = (0..1000).map(|i| format!("{prefix}{batch}-{i}")).collect();
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for name in &names {
                args.extend([name.as_bytes(), b"v"]);
            }
            admin.ok(&args);
        }
        let received = bytes_until_closed(&server, &[b"KEYS", b"*"]);
        assert!(
            received.is_empty(),
            "{which}: KEYS sent {} bytes",
            received.len()
        );
    }
}
