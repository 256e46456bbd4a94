//! What a client must not be able to do to the host: write files outside `dir` through
//! CONFIG SET of protected parameters (`enable-protected-configs`), load code (MODULE,
//! `enable-module-command`), or read files back through key-file error messages.
//! Regression tests for issue 11, items 1 and 2.

use redis_lite_testkit as testkit;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;

use testkit::{differential_both_protocols, DataDir, Server};

/// Every parameter that needs `enable-protected-configs`: Redis 7.0's protected configs that
/// redis-lite has (`dir`, `dbfilename`), and redis-lite's own `encryption-key-file`.
const PROTECTED: &[&str] = &["dir", "dbfilename", "encryption-key-file"];

fn refused(name: &str) -> String {
    format!(
        "-ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config\r\n"
    )
}

const MODULE_REFUSED: &str = "-ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";

/// A key the server gets in its environment; no reply or log may ever contain it.
const ENV_KEY: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

const NOT_A_KEYRING: &str = "is not a valid keyring: it must hold one key (32 raw bytes, 64 hex digits or base64 of 32 bytes) or 'id:key' lines, and nothing else";

/// Asserts `text` holds nothing of the environment the server was given.
fn assert_no_leak(text: &str) {
    for secret in [
        ENV_KEY,
        &ENV_KEY[..16],
        "REDIS_LITE_ENCRYPTION_KEY=",
        "PATH=",
    ] {
        assert!(!text.contains(secret), "leaked {secret:?}: {text}");
    }
}

fn unix_cmd(stream: &mut UnixStream, args: &[&str]) -> String {
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream.write_all(&testkit::encode(&parts)).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn protected_configs_are_refused_by_default_with_redis_text() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let tmp = std::env::temp_dir();
    let tmp = tmp.to_str().unwrap();
    for name in PROTECTED {
        // Refused before the value is looked at: a protected path is never even opened.
        for value in [tmp, "/nonexistent/x", ""] {
            assert_eq!(raw.cmd_text(&["CONFIG", "SET", name, value]), refused(name));
        }
    }
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "timeout", "abc", "DIR", tmp]),
        refused("DIR")
    );
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "enable-protected-configs"]),
        "*2\r\n$24\r\nenable-protected-configs\r\n$2\r\nno\r\n"
    );
    // Nothing changed, and the timeout before the refused pair was not applied either.
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "dbfilename"]),
        "*2\r\n$10\r\ndbfilename\r\n$8\r\ndump.rdb\r\n"
    );
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "timeout"]),
        "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
    );
}

#[test]
fn protected_configs_and_module_match_redis() {
    let script: &[&[&str]] = testkit::script!("security/protected_configs_and_module_match_redis");
    differential_both_protocols(script);
    // Where allowed: loads fail the way Redis's fail for a missing file, and the protected
    // parameters change.
    let allowed: &[&[&str]] =
        testkit::script!("security/protected_configs_and_module_match_redis_2");
    let args = [
        "--enable-module-command",
        "yes",
        "--enable-protected-configs",
        "yes",
    ];
    testkit::differential_with(allowed, false, &args);
}

#[test]
fn module_is_refused_by_default_and_fails_to_load_when_enabled() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd_text(&["MODULE", "LIST"]), "*0\r\n");
    for cmd in [
        &["MODULE", "LOAD", "/nonexistent/m.so"][..],
        &["MODULE", "LOADEX", "/nonexistent/m.so"],
        &["MODULE", "UNLOAD", "m"],
    ] {
        assert_eq!(raw.cmd_text(cmd), MODULE_REFUSED);
    }
    assert!(raw.cmd_text(&["MODULE", "HELP"]).starts_with(
        "*11\r\n+MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));

    let server = Server::lite(&["--enable-module-command", "yes"]);
    let mut raw = server.raw();
    let failed = "-ERR Error loading the extension. Please check the server logs.\r\n";
    assert_eq!(
        raw.cmd_text(&["MODULE", "LOAD", "/nonexistent/m.so", "a"]),
        failed
    );
    assert_eq!(
        raw.cmd_text(&["MODULE", "LOADEX", "/nonexistent/m.so", "CONFIG", "a", "b"]),
        failed
    );
    assert_eq!(
        raw.cmd_text(&["MODULE", "LOADEX", "/x.so", "bogus"]),
        failed
    );
    assert_eq!(
        raw.cmd_text(&["MODULE", "UNLOAD", "m"]),
        "-ERR Error unloading module: no such module with that name\r\n"
    );
    assert_eq!(raw.cmd_text(&["MODULE", "LIST"]), "*0\r\n");
}

#[test]
fn enable_protected_configs_yes_allows_them() {
    let dir = DataDir::new("protect-yes");
    let server = Server::lite(&["--enable-protected-configs", "yes"]);
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["CONFIG", "SET", "dir", dir.path()], "+OK\r\n"),
        (&["CONFIG", "SET", "dbfilename", "other.rdb"], "+OK\r\n"),
        (
            &["CONFIG", "GET", "enable-protected-configs"],
            "*2\r\n$24\r\nenable-protected-configs\r\n$3\r\nyes\r\n",
        ),
        (&["SAVE"], "+OK\r\n"),
    ]);
    assert!(dir.0.join("other.rdb").is_file());
}

#[test]
fn local_allows_loopback_and_the_unix_socket_only() {
    let dir = DataDir::new("protect-local");
    let sock = dir.0.join("redis.sock");
    let sock_text = sock.to_str().unwrap();
    // A non-loopback address of this host, when it has one, to connect from "outside".
    let outside = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("10.255.255.255:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    let outside_text = outside.map(|ip| ip.to_string());
    let mut args = vec![
        "--enable-protected-configs",
        "local",
        "--enable-module-command",
        "local",
        "--enable-debug-command",
        "local",
        "--unixsocket",
        sock_text,
        "--protected-mode",
        "no",
        "--bind",
        "127.0.0.1",
    ];
    args.extend(outside_text.as_deref());
    let server = Server::lite(&args);
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["CONFIG", "SET", "dir", dir.path()], "+OK\r\n"),
        (
            &["MODULE", "LOAD", "/nonexistent/m.so"],
            "-ERR Error loading the extension. Please check the server logs.\r\n",
        ),
        (&["DEBUG", "SET-ACTIVE-EXPIRE", "1"], "+OK\r\n"),
    ]);
    let mut unix = UnixStream::connect(&sock).unwrap();
    assert_eq!(
        unix_cmd(&mut unix, &["CONFIG", "SET", "dbfilename", "u.rdb"]),
        "+OK\r\n"
    );
    assert_eq!(
        unix_cmd(&mut unix, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
        "+OK\r\n"
    );
    match outside {
        Some(ip) => {
            let mut far =
                testkit::Raw::new(std::net::TcpStream::connect((ip, server.port)).unwrap());
            assert_eq!(
                far.cmd_text(&["CONFIG", "SET", "dir", "/tmp"]),
                refused("dir")
            );
            assert_eq!(
                far.cmd_text(&["MODULE", "LOAD", "/nonexistent/m.so"]),
                MODULE_REFUSED
            );
            assert!(far
                .cmd_text(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"])
                .starts_with("-ERR DEBUG command not allowed."));
        }
        None => testkit::skipped(
            "this host has no non-loopback address: the refusal from a remote client did not run",
        ),
    }
}

#[test]
fn the_authorized_keys_attack_writes_nothing_outside_dir() {
    let target = DataDir::new("fake-ssh");
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "dir", target.path()]),
        refused("dir")
    );
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "dbfilename", "authorized_keys"]),
        refused("dbfilename")
    );
    raw.cmd(&["SET", "x", "\n\nssh-ed25519 AAAA attacker\n\n"]);
    assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
    assert!(!target.0.join("authorized_keys").exists());
    assert_eq!(std::fs::read_dir(&target.0).unwrap().count(), 0);
    assert!(server.dir.join("dump.rdb").is_file());
    assert!(!server.dir.join("authorized_keys").exists());
}

#[test]
fn key_file_errors_never_echo_the_file_over_config_set() {
    let dir = DataDir::new("keyfile-leak");
    let server = testkit::Launch::lite()
        .args(&["--enable-protected-configs", "yes"])
        .env("REDIS_LITE_ENCRYPTION_KEY", ENV_KEY)
        .start();
    let mut raw = server.raw();
    let failed = |path: &str, why: &str| {
        format!(
            "-ERR CONFIG SET failed (possibly related to argument 'encryption-key-file') - key file {path} {why}\r\n"
        )
    };
    let reply = raw.cmd_text(&["CONFIG", "SET", "encryption-key-file", "/proc/self/environ"]);
    assert_no_leak(&reply);
    assert_eq!(reply, failed("/proc/self/environ", NOT_A_KEYRING));
    // A private file whose first line looks like an id: the id is not quoted either.
    use std::os::unix::fs::PermissionsExt;
    let file = dir.0.join("looks-like-a-ring");
    std::fs::write(&file, "topsecret-id:zz\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = file.to_str().unwrap();
    let reply = raw.cmd_text(&["CONFIG", "SET", "encryption-key-file", file]);
    assert!(!reply.contains("topsecret"), "{reply}");
    assert_eq!(reply, failed(file, NOT_A_KEYRING));
    // Neither a device nor a FIFO is read (a FIFO would block the server).
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "encryption-key-file", "/dev/zero"]),
        failed("/dev/zero", "is not a regular file")
    );
    let fifo = dir.0.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let fifo = fifo.to_str().unwrap();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "encryption-key-file", fifo]),
        failed(fifo, "is not a regular file")
    );
    // The environment's key is still the one in use.
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "encryption-key-file"]),
        "*2\r\n$19\r\nencryption-key-file\r\n$0\r\n\r\n"
    );
}

#[test]
fn key_file_errors_never_echo_the_file_at_startup() {
    let dir = DataDir::new("keyfile-leak-start");
    let (status, log) = testkit::Launch::lite()
        .dir(&dir.0)
        .args(&["--encryption-key-file", "/proc/self/environ"])
        .env("REDIS_LITE_ENCRYPTION_KEY", ENV_KEY)
        .run_until_exit();
    assert!(!status.success(), "the server started: {log}");
    assert_no_leak(&log);
    assert!(log.contains(NOT_A_KEYRING), "{log}");
}

/// Runs redis-cli against `port` with `args`; None (the test says it skipped) without it.
fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    testkit::which("redis-cli")?;
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn redis_cli_cannot_write_authorized_keys_or_read_the_key() {
    if !testkit::installed("redis-cli") {
        return;
    }
    let target = DataDir::new("cli-fake-ssh");
    let server = testkit::Launch::lite()
        .args(&[])
        .env("REDIS_LITE_ENCRYPTION_KEY", ENV_KEY)
        .start();
    let cli = |args: &[&str]| redis_cli(server.port, args).unwrap().trim_end().to_string();
    assert_eq!(
        cli(&["CONFIG", "SET", "dir", target.path()]),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        cli(&["CONFIG", "SET", "dbfilename", "authorized_keys"]),
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"
    );
    assert_eq!(
        cli(&["SET", "x", "\n\nssh-ed25519 AAAA attacker\n\n"]),
        "OK"
    );
    assert_eq!(cli(&["SAVE"]), "OK");
    assert_eq!(std::fs::read_dir(&target.0).unwrap().count(), 0);
    let out = cli(&["CONFIG", "SET", "encryption-key-file", "/proc/self/environ"]);
    assert_no_leak(&out);
    assert_eq!(
        out,
        "ERR CONFIG SET failed (possibly related to argument 'encryption-key-file') - can't set protected config"
    );
    drop(server);

    // Even where an operator allowed protected configs, the error shows no content.
    let server = testkit::Launch::lite()
        .args(&["--enable-protected-configs", "yes"])
        .env("REDIS_LITE_ENCRYPTION_KEY", ENV_KEY)
        .start();
    let out = redis_cli(
        server.port,
        &["CONFIG", "SET", "encryption-key-file", "/proc/self/environ"],
    )
    .unwrap();
    assert_no_leak(&out);
    assert!(out.contains(NOT_A_KEYRING), "{out}");
}

/// A connection from `source` (another loopback address) to `server`.
fn raw_from(server: &Server, source: &str) -> testkit::Raw {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    let target: std::net::SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    socket.connect(&target.into()).unwrap();
    testkit::Raw::new(socket.into())
}

/// Redis counts only 127.0.0.1 and ::1 as local: a client from 127.0.0.2 is refused by
/// protected mode and by `enable-debug-command local`, with Redis's texts.
#[test]
fn only_127_0_0_1_and_ipv6_loopback_are_local_clients() {
    let mut replies = Vec::new();
    for program in [testkit::Program::Redis, testkit::Program::Lite] {
        let Some(protected) = testkit::Launch::of(program)
            .args(&["--protected-mode", "yes"])
            .start_if_available()
        else {
            testkit::skipped("redis-server is not on PATH (in only_127_0_0_1_and_ipv6_loopback_are_local_clients)");
            return;
        };
        let open = testkit::Launch::of(program)
            .args(&["--protected-mode", "no", "--enable-debug-command", "local"])
            .start();
        replies.push([
            raw_from(&protected, "127.0.0.2").cmd_text(&["PING"]),
            raw_from(&open, "127.0.0.2").cmd_text(&["DEBUG", "SLEEP", "0"]),
            open.raw().cmd_text(&["DEBUG", "SLEEP", "0"]),
        ]);
    }
    assert!(replies[0][0].starts_with("-DENIED"), "{:?}", replies[0]);
    assert_eq!(replies[1], replies[0]);
}
