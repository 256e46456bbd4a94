//! redis-lite-cli against redis-lite itself: the unix socket, URIs, `-x`, piped interactive
//! input, MONITOR/SUBSCRIBE streams, --memkeys (MEMORY USAGE), --rdb and --functions-rdb (SYNC).

use std::process::Output;

use redis_lite_testkit::{run, text, DataDir, Launch};

/// The client under test, as cargo built it for these tests.
const CLI: &str = env!("CARGO_BIN_EXE_redis-lite-cli");

/// Runs redis-lite-cli against `port` with `args`.
fn cli(port: u16, args: &[&str]) -> Output {
    let port = port.to_string();
    let mut all = vec!["-p", &port];
    all.extend_from_slice(args);
    run(CLI, &all, b"")
}

#[test]
fn unix_socket_uri_and_stdin_argument() {
    let dir = DataDir::new("sock");
    let sock = dir.join("lite.sock");
    let sock = sock.to_str().unwrap();
    let Some(server) = Launch::lite()
        .args(&["--unixsocket", sock])
        .start_if_available()
    else {
        return;
    };
    let out = run(CLI, &["-s", sock, "-x", "SET", "k"], b"from\nstdin");
    assert_eq!(text(&out.stdout), "OK\n");
    let out = run(CLI, &["-s", sock, "--no-raw", "GET", "k"], b"");
    assert_eq!(text(&out.stdout), "\"from\\nstdin\"\n");
    let uri = format!("redis://127.0.0.1:{}/3", server.port);
    let out = run(CLI, &["-u", &uri, "SET", "in3", "x"], b"");
    assert_eq!(text(&out.stdout), "OK\n");
    assert_eq!(
        text(&cli(server.port, &["-n", "3", "DBSIZE"]).stdout),
        "1\n"
    );
    // Lines piped into interactive mode run without a prompt.
    let out = run(CLI, &["-s", sock], b"PING\nECHO \"a b\"\nbad \"quote\n");
    assert_eq!(text(&out.stdout), "PONG\na b\nInvalid argument(s)\n");
}

#[test]
fn pipe_mode_counts_replies_and_errors() {
    let Some(server) = Launch::lite().start_if_available() else {
        return;
    };
    let mut input = Vec::new();
    for i in 0..1000 {
        input.extend_from_slice(format!("SET key:{i} {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"*1\r\n$6\r\nNOSUCH\r\n");
    let out = run(CLI, &["-p", &server.port.to_string(), "--pipe"], &input);
    assert_eq!(
        text(&out.stdout),
        "All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 1, replies: 1001\n"
    );
    assert!(text(&out.stderr).starts_with("ERR unknown command 'NOSUCH'"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&cli(server.port, &["DBSIZE"]).stdout), "1000\n");
}

#[test]
fn memkeys_and_rdb_work() {
    let Some(server) = Launch::lite().start_if_available() else {
        return;
    };
    // MEMORY USAGE exists, so --memkeys works.
    cli(server.port, &["SET", "s", "hello"]);
    let out = cli(server.port, &["--memkeys"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Biggest string found '\"s\"' has"));
    // --rdb fetches a snapshot over SYNC, which a server started on it loads.
    let rdb_dir = DataDir::new("rdb");
    let rdb = rdb_dir.join("dump.rdb");
    let out = cli(server.port, &["--rdb", rdb.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let loaded = Launch::lite().dir(&rdb_dir.0).start();
    assert_eq!(text(&cli(loaded.port, &["GET", "s"]).stdout), "hello\n");
    // --functions-rdb fetches one with the functions alone.
    let library = "#!lua name=lib\nredis.register_function('f', function() return 1 end)";
    cli(server.port, &["FUNCTION", "LOAD", library]);
    let functions_dir = DataDir::new("functions-rdb");
    let functions_rdb = functions_dir.join("dump.rdb");
    let out = cli(
        server.port,
        &["--functions-rdb", functions_rdb.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with(
        "sending REPLCONF capa eof\nsending REPLCONF rdb-only 1\n\
         sending REPLCONF rdb-filter-only functions\n"
    ));
    let loaded = Launch::lite().dir(&functions_dir.0).start();
    assert_eq!(text(&cli(loaded.port, &["DBSIZE"]).stdout), "0\n");
    let functions = text(&cli(loaded.port, &["FUNCTION", "LIST"]).stdout);
    assert!(functions.contains("lib"), "{functions}");
}

/// Runs redis-lite-cli with `args` (a SUBSCRIBE or MONITOR stream) against `port`, runs
/// `trigger` until it says the stream is listening, waits until the stream printed `until`,
/// interrupts it as Ctrl-C would and returns everything it printed.
fn streamed(port: u16, args: &[&str], trigger: impl Fn() -> bool, until: &str) -> String {
    let port = port.to_string();
    let mut child = std::process::Command::new(CLI)
        .args(["-p", &port])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Collect what the stream prints as it prints it.
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let printed = printed.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut chunk) {
                if n == 0 {
                    break;
                }
                printed.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    for _ in 0..100 {
        if trigger() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text(&printed.lock().unwrap()).contains(until) {
        assert!(std::time::Instant::now() < deadline, "{until} never showed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: signalling the child this test started, by its pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    child.wait().unwrap();
    reader.join().unwrap();
    let out = printed.lock().unwrap().clone();
    text(&out)
}

#[test]
fn subscribe_streams_messages_until_interrupted() {
    let Some(server) = Launch::lite().start_if_available() else {
        return;
    };
    // Publish until the subscriber is listening.
    let publish = || text(&cli(server.port, &["PUBLISH", "news", "hello"]).stdout) == "1\n";
    let out = streamed(
        server.port,
        &["--no-raw", "SUBSCRIBE", "news"],
        publish,
        "\"hello\"",
    );
    assert_eq!(
        out,
        "Reading messages... (press Ctrl-C to quit)\n1) \"subscribe\"\n2) \"news\"\n3) (integer) 1\n1) \"message\"\n2) \"news\"\n3) \"hello\"\n"
    );
}

#[test]
fn monitor_streams_commands_until_interrupted() {
    let Some(server) = Launch::lite().start_if_available() else {
        return;
    };
    // Once the monitor is attached (CLIENT LIST shows its O flag), a write it must show.
    let write = || {
        let attached = text(&cli(server.port, &["CLIENT", "LIST"]).stdout).contains("flags=O");
        if attached {
            cli(server.port, &["SET", "watched", "v"]);
        }
        attached
    };
    let out = streamed(
        server.port,
        &["MONITOR"],
        write,
        "\"SET\" \"watched\" \"v\"",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("OK"));
    let line = lines.next().unwrap();
    // `1700000000.123456 [0 127.0.0.1:54321] "CLIENT" "LIST"` or the SET.
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(time.parse::<f64>().is_ok(), "{line}");
    assert!(rest.starts_with("[0 127.0.0.1:"), "{line}");
}

#[test]
fn eval_runs_a_script_file_on_redis_lite() {
    let Some(server) = Launch::lite().start_if_available() else {
        return;
    };
    let dir = DataDir::new("eval");
    let script = dir.join("push.lua");
    std::fs::write(
        &script,
        "redis.call('RPUSH', KEYS[1], unpack(ARGV))\nreturn redis.call('LRANGE', KEYS[1], 0, -1)\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let out = cli(server.port, &["--eval", script, "l", ",", "a", "b"]);
    assert_eq!(text(&out.stdout), "a\nb\n");
    let out = cli(server.port, &["--no-raw", "--eval", script, "l", ",", "c"]);
    assert_eq!(text(&out.stdout), "1) \"a\"\n2) \"b\"\n3) \"c\"\n");
}

#[test]
fn tls_with_ca_client_certificate_sni_and_insecure() {
    let pki = redis_lite_testkit::pki::Pki::new(DataDir::new("cli-tls"), "cli");
    let server_id = pki.issue("server");
    let client_id = pki.issue("client");
    let ca = pki.ca_file();
    let tls_port = redis_lite_testkit::free_port().to_string();
    let Some(_server) = Launch::lite()
        .args(&[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &server_id.cert,
            "--tls-key-file",
            &server_id.key,
            "--tls-ca-cert-file",
            &ca,
        ])
        .start_if_available()
    else {
        return;
    };
    let with_cert = [
        "--tls",
        "--cacert",
        &ca,
        "--cert",
        &client_id.cert,
        "--key",
        &client_id.key,
        "-p",
        &tls_port,
    ];
    let out = run(CLI, &[&with_cert[..], &["SET", "k", "v"]].concat(), b"");
    assert_eq!(text(&out.stdout), "OK\n");
    let out = run(
        CLI,
        &[&with_cert[..], &["--sni", "localhost", "GET", "k"]].concat(),
        b"",
    );
    assert_eq!(text(&out.stdout), "v\n");
    // The server's certificate is trusted without checking it.
    let out = run(
        CLI,
        &[
            "--tls",
            "--insecure",
            "--cert",
            &client_id.cert,
            "--key",
            &client_id.key,
            "-p",
            &tls_port,
            "PING",
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "PONG\n");
    let uri = format!("rediss://127.0.0.1:{tls_port}");
    let out = run(
        CLI,
        &[
            "-u",
            &uri,
            "--cacert",
            &ca,
            "--cert",
            &client_id.cert,
            "--key",
            &client_id.key,
            "PING",
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "PONG\n");
    // tls-auth-clients yes (the default): no client certificate, no session.
    let out = run(
        CLI,
        &["--tls", "--cacert", &ca, "-p", &tls_port, "PING"],
        b"",
    );
    assert_ne!(text(&out.stdout), "PONG\n");
}
