//! TLS: handshakes with and without client certificates as `tls-auth-clients` asks, untrusted
//! clients refused, certificate rotation by CONFIG SET, real Redis's tools (redis-cli,
//! redis-benchmark, redis-server as replica and master) and client libraries (redis-py, the
//! `redis` crate with rustls) over TLS. Every certificate is made at run time by `rcgen`: no
//! key material is committed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use redis_lite_testkit::pki::{Identity, Pki};
use redis_lite_testkit::{free_port, installed, skipped, wait_until, DataDir, Launch, Server};
use redis_lite_tls::rustls;
use redis_lite_tls::rustls::pki_types::pem::PemObject;
use redis_lite_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A TLS client's connection.
type TlsConn = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects to `port` trusting `ca`, presenting `identity` if given, and completes the
/// handshake.
fn connect(port: u16, ca: &str, identity: Option<&Identity>) -> std::io::Result<TlsConn> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(redis_lite_tls::provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(id) => {
            let certs = CertificateDer::pem_file_iter(&id.cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(&id.key).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(("127.0.0.1", port))?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut conn = rustls::StreamOwned::new(session, socket);
    while conn.conn.is_handshaking() {
        conn.conn.complete_io(&mut conn.sock)?;
    }
    Ok(conn)
}

/// Sends a command and reads one reply (the tests' replies fit one read).
fn command(conn: &mut TlsConn, args: &[&str]) -> std::io::Result<String> {
    conn.write_all(&redis_lite_testkit::encode(
        &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
    ))?;
    let mut buf = vec![0; 64 * 1024];
    let n = conn.read(&mut buf)?;
    match n {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        n => Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
    }
}

/// Whether a client gets PONG: a refused client fails its handshake, or (TLS 1.3, where the
/// server checks the client's certificate after the client finished) its first read.
fn pings(port: u16, ca: &str, identity: Option<&Identity>) -> bool {
    connect(port, ca, identity)
        .and_then(|mut conn| command(&mut conn, &["PING"]))
        .is_ok_and(|reply| reply == "+PONG\r\n")
}

/// The subject of the certificate a new connection is shown.
fn served_subject(port: u16, ca: &str) -> String {
    let conn = connect(port, ca, None).unwrap();
    let cert = conn.conn.peer_certificates().unwrap()[0].clone();
    let text = String::from_utf8_lossy(&cert).into_owned();
    ["first", "second"]
        .into_iter()
        .find(|stem| text.contains(stem))
        .unwrap_or("unknown")
        .to_string()
}

/// redis-lite with a TLS port beside its TCP one, its certificate from `pki`.
fn tls_server(pki: &Pki, server: &Identity, extra: &[&str]) -> (Server, u16) {
    let tls_port = free_port().to_string();
    let ca = pki.ca_file();
    let mut args = vec![
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &server.cert,
        "--tls-key-file",
        &server.key,
        "--tls-ca-cert-file",
        &ca,
    ];
    args.extend_from_slice(extra);
    let lite = Launch::lite().args(&args).start();
    (lite, tls_port.parse().unwrap())
}

#[test]
fn client_certificates_as_tls_auth_clients_asks() {
    let pki = Pki::new(DataDir::new("tls-auth"), "trusted");
    let rogue = Pki::new(DataDir::new("tls-auth-rogue"), "rogue");
    let server_id = pki.issue("server");
    let client_id = pki.issue("client");
    let untrusted_id = rogue.issue("intruder");
    let (lite, port) = tls_server(&pki, &server_id, &["--tls-auth-clients", "no"]);
    let ca = pki.ca_file();

    assert!(pings(port, &ca, None), "no certificate needed");
    // A client that does not trust the server's CA refuses it.
    assert!(connect(port, &rogue.ca_file(), None).is_err());

    let mut raw = lite.raw();
    raw.cmd(&["CONFIG", "SET", "tls-auth-clients", "yes"]);
    assert!(
        !pings(port, &ca, None),
        "a client without a certificate is refused"
    );
    assert!(pings(port, &ca, Some(&client_id)));
    assert!(
        !pings(port, &ca, Some(&untrusted_id)),
        "an untrusted client is refused"
    );

    raw.cmd(&["CONFIG", "SET", "tls-auth-clients", "optional"]);
    assert!(pings(port, &ca, None));
    assert!(pings(port, &ca, Some(&client_id)));
    assert!(!pings(port, &ca, Some(&untrusted_id)));

    // A TLS client is a client like any other: CLIENT LIST shows it, commands run the same.
    let mut conn = connect(port, &ca, Some(&client_id)).unwrap();
    assert_eq!(command(&mut conn, &["SET", "k", "v"]).unwrap(), "+OK\r\n");
    assert_eq!(raw.cmd_text(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        command(&mut conn, &["CLIENT", "SETNAME", "tls"]).unwrap(),
        "+OK\r\n"
    );
    assert!(raw.cmd_text(&["CLIENT", "LIST"]).contains("name=tls"));
}

#[test]
fn config_set_rotates_the_certificate_for_new_connections() {
    let pki = Pki::new(DataDir::new("tls-rotate"), "rotate");
    let first = pki.issue("first");
    let second = pki.issue("second");
    let (lite, port) = tls_server(&pki, &first, &["--tls-auth-clients", "no"]);
    let ca = pki.ca_file();
    assert_eq!(served_subject(port, &ca), "first");
    let mut before = connect(port, &ca, None).unwrap();

    let mut raw = lite.raw();
    let refused = raw.cmd_text(&["CONFIG", "SET", "tls-cert-file", "/nonexistent.crt"]);
    assert_eq!(
        refused,
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert!(raw
        .cmd_text(&["CONFIG", "GET", "tls-cert-file"])
        .contains(&first.cert));
    assert_eq!(
        served_subject(port, &ca),
        "first",
        "the old files still serve"
    );

    assert_eq!(
        raw.cmd_text(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &second.cert,
            "tls-key-file",
            &second.key
        ]),
        "+OK\r\n"
    );
    assert_eq!(served_subject(port, &ca), "second");
    assert_eq!(command(&mut before, &["PING"]).unwrap(), "+PONG\r\n");
}

#[test]
fn unsupported_tls_settings_are_refused_clearly() {
    let pki = Pki::new(DataDir::new("tls-refuse"), "refuse");
    let server_id = pki.issue("server");
    let (lite, _port) = tls_server(&pki, &server_id, &[]);
    let mut raw = lite.raw();
    for (name, value) in [
        ("tls-protocols", "TLSv1.1"),
        ("tls-ciphers", "AES128-SHA"),
        ("tls-ciphersuites", "TLS_AES_128_CCM_SHA256"),
    ] {
        assert_eq!(
            raw.cmd_text(&["CONFIG", "SET", name, value]),
            format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs.\r\n")
        );
    }
    assert_eq!(
        raw.cmd_text(&[
            "CONFIG",
            "SET",
            "tls-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256",
            "tls-protocols",
            "TLSv1.3"
        ]),
        "+OK\r\n"
    );

    let tls_port = free_port().to_string();
    let (status, output) = Launch::lite()
        .args(&["--tls-port", &tls_port])
        .run_until_exit();
    assert!(!status.success());
    assert!(output.contains("No tls-cert-file configured!"), "{output}");
    assert!(
        output.contains("Failed to configure TLS. Check logs for more info."),
        "{output}"
    );
}

#[test]
fn redis_cli_and_redis_benchmark_speak_tls_to_redis_lite() {
    if !installed("redis-cli") || !installed("redis-benchmark") {
        return skipped(
            "redis-cli is not on PATH (in redis_cli_and_redis_benchmark_speak_tls_to_redis_lite)",
        );
    }
    let pki = Pki::new(DataDir::new("tls-cli"), "cli");
    let server_id = pki.issue("server");
    let client_id = pki.issue("client");
    let (_lite, port) = tls_server(&pki, &server_id, &[]);
    let ca = pki.ca_file();
    let port = port.to_string();
    let tls_args = [
        "--tls",
        "--cacert",
        &ca,
        "--cert",
        &client_id.cert,
        "--key",
        &client_id.key,
        "-p",
        &port,
    ];
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(tls_args)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello");
    let bench = Command::new("redis-benchmark")
        .args(tls_args)
        .args(["-t", "set,get", "-n", "2000", "-c", "4", "-P", "8", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bench.stdout);
    assert!(text.contains("SET: ") && text.contains("GET: "), "{text}");
    assert!(cli(&["DBSIZE"]).parse::<u64>().unwrap() >= 2);
}

#[test]
fn real_redis_replicates_from_a_tls_master_and_the_reverse() {
    if !installed("redis-server") {
        return skipped("redis-server is not on PATH (in real_redis_replicates_from_a_tls_master_and_the_reverse)");
    }
    let pki = Pki::new(DataDir::new("tls-repl"), "repl");
    let lite_id = pki.issue("lite");
    let redis_id = pki.issue("redis");
    let ca = pki.ca_file();
    let tls_args = |id: &Identity, port: &str| -> Vec<String> {
        [
            "--tls-port",
            port,
            "--tls-cert-file",
            &id.cert,
            "--tls-key-file",
            &id.key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-replication",
            "yes",
        ]
        .map(String::from)
        .to_vec()
    };
    let lite_port = free_port().to_string();
    let lite_args = tls_args(&lite_id, &lite_port);
    let lite = Launch::lite()
        .args(&lite_args.iter().map(String::as_str).collect::<Vec<_>>())
        .start();
    let redis_port = free_port().to_string();
    let redis_args = tls_args(&redis_id, &redis_port);
    let redis = Launch::redis()
        .args(&["--save", "", "--appendonly", "no"])
        .args(&redis_args.iter().map(String::as_str).collect::<Vec<_>>())
        .start();

    // Real Redis replicates redis-lite over TLS.
    let mut lite_raw = lite.raw();
    let mut redis_raw = redis.raw();
    lite_raw.cmd(&["SET", "from-lite", "1"]);
    redis_raw.cmd(&["REPLICAOF", "127.0.0.1", &lite_port]);
    wait_until(
        "redis syncs from redis-lite's TLS port",
        Duration::from_secs(20),
        || redis_raw.cmd_text(&["GET", "from-lite"]) == "$1\r\n1\r\n",
    );
    lite_raw.cmd(&["SET", "streamed", "2"]);
    wait_until("the stream reaches redis", Duration::from_secs(10), || {
        redis_raw.cmd_text(&["GET", "streamed"]) == "$1\r\n2\r\n"
    });

    // And redis-lite replicates real Redis over TLS.
    redis_raw.cmd(&["REPLICAOF", "NO", "ONE"]);
    redis_raw.cmd(&["SET", "from-redis", "3"]);
    lite_raw.cmd(&["REPLICAOF", "127.0.0.1", &redis_port]);
    wait_until(
        "redis-lite syncs from redis's TLS port",
        Duration::from_secs(20),
        || lite_raw.cmd_text(&["GET", "from-redis"]) == "$1\r\n3\r\n",
    );
    redis_raw.cmd(&["SET", "streamed-back", "4"]);
    wait_until(
        "the stream reaches redis-lite",
        Duration::from_secs(10),
        || lite_raw.cmd_text(&["GET", "streamed-back"]) == "$1\r\n4\r\n",
    );
}

#[test]
fn large_values_and_pipelines_cross_tls_whole() {
    let pki = Pki::new(DataDir::new("tls-large"), "large");
    let server_id = pki.issue("server");
    let (_lite, port) = tls_server(&pki, &server_id, &["--tls-auth-clients", "no"]);
    let mut conn = connect(port, &pki.ca_file(), None).unwrap();
    // Larger than the socket buffers and many TLS records: the server holds encrypted output
    // the socket did not take, and decrypted input past what one read asked for.
    let value = "x".repeat(3 << 20);
    let mut pipeline = Vec::new();
    for i in 0..200 {
        pipeline.extend(redis_lite_testkit::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            b"v",
        ]));
    }
    pipeline.extend(redis_lite_testkit::encode(&[
        b"SET",
        b"big",
        value.as_bytes(),
    ]));
    pipeline.extend(redis_lite_testkit::encode(&[b"GET", b"big"]));
    conn.write_all(&pipeline).unwrap();
    let expected = "+OK\r\n".repeat(201) + &format!("${}\r\n{value}\r\n", value.len());
    let mut got = vec![0; expected.len()];
    conn.sock
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.read_exact(&mut got).unwrap();
    assert!(got == expected.as_bytes(), "the replies arrived whole");
}

#[test]
fn config_set_tls_port_opens_and_closes_the_tls_listener() {
    let pki = Pki::new(DataDir::new("tls-port"), "port");
    let server_id = pki.issue("server");
    let ca = pki.ca_file();
    let lite = Launch::lite()
        .args(&[
            "--tls-cert-file",
            &server_id.cert,
            "--tls-key-file",
            &server_id.key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ])
        .start();
    let mut raw = lite.raw();
    let port = free_port();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "tls-port", &port.to_string()]),
        "+OK\r\n"
    );
    assert!(pings(port, &ca, None));
    assert_eq!(raw.cmd_text(&["CONFIG", "SET", "tls-port", "0"]), "+OK\r\n");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // Without a certificate the port cannot open, and the setting stays as it was.
    raw.cmd(&["CONFIG", "SET", "tls-cert-file", ""]);
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "tls-port", &port.to_string()]),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert!(raw
        .cmd_text(&["CONFIG", "GET", "tls-port"])
        .ends_with("$1\r\n0\r\n"));
}

/// `tls-cluster` may change at runtime (new bus links follow it); cluster mode itself is
/// chosen at start-up only. The TLS cluster itself is in `cluster_bus.rs`.
#[test]
fn tls_cluster_is_settable_at_runtime() {
    let pki = Pki::new(DataDir::new("tls-cluster"), "cluster");
    let server_id = pki.issue("server");
    // TLS needs its certificate for tls-cluster alone, as in Redis.
    let server = Launch::lite()
        .args(&[
            "--tls-cluster",
            "yes",
            "--tls-cert-file",
            &server_id.cert,
            "--tls-key-file",
            &server_id.key,
            "--tls-ca-cert-file",
            &pki.ca_file(),
        ])
        .start();
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["CONFIG", "SET", "tls-cluster", "no"], "+OK\r\n"),
        (&["CONFIG", "SET", "tls-cluster", "yes"], "+OK\r\n"),
        (
            &["CONFIG", "SET", "cluster-enabled", "yes"],
            "-ERR CONFIG SET failed (possibly related to argument 'cluster-enabled') - can't set immutable config\r\n",
        ),
    ]);
}

/// redis-py (`ssl=True`, `ssl_ca_certs`, `ssl_certfile`/`ssl_keyfile`) runs SET, GET and a
/// pipeline with its client certificate and is refused without it, against real Redis first
/// when it is installed (a failure on both is the library's) and then redis-lite.
#[test]
fn redis_py_speaks_tls_with_a_client_certificate() {
    if !crate::client_scripts::redis_py_installed() {
        return;
    }
    let pki = Pki::new(DataDir::new("tls-redis-py"), "redis-py");
    let server_id = pki.issue("server");
    let client_id = pki.issue("client");
    let ca = pki.ca_file();
    let auth = ["--tls-auth-clients", "yes"];
    let mut servers = Vec::new();
    if installed("redis-server") {
        let tls_port = free_port().to_string();
        let redis = Launch::redis()
            .args(&["--save", "", "--appendonly", "no", "--tls-port", &tls_port])
            .args(&[
                "--tls-cert-file",
                &server_id.cert,
                "--tls-key-file",
                &server_id.key,
            ])
            .args(&["--tls-ca-cert-file", &ca])
            .args(&auth)
            .start();
        servers.push((redis, tls_port));
    }
    let (lite, tls_port) = tls_server(&pki, &server_id, &auth);
    servers.push((lite, tls_port.to_string()));

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_tls.py");
    for (server, tls_port) in &servers {
        let out = Command::new("python3")
            .arg(&script)
            .args([tls_port, &ca, &client_id.cert, &client_id.key])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout == b"ok\n",
            "redis_py_tls.py against {}:\n{}{}",
            server.executable().display(),
            redis_lite_testkit::text(&out.stdout),
            redis_lite_testkit::text(&out.stderr)
        );
    }
}

/// The `redis` crate with its `tls-rustls` feature, trusting the test CA through
/// `TlsCertificates`: SET, GET and a pipeline with a client certificate, refused without one.
#[test]
fn redis_crate_speaks_tls_with_a_client_certificate() {
    let pki = Pki::new(DataDir::new("tls-redis-crate"), "redis-crate");
    let server_id = pki.issue("server");
    let client_id = pki.issue("client");
    let (_lite, port) = tls_server(&pki, &server_id, &["--tls-auth-clients", "yes"]);
    let url = format!("rediss://localhost:{port}");
    let certificates = |client_tls: Option<redis::ClientTlsConfig>| redis::TlsCertificates {
        client_tls,
        root_cert: Some(std::fs::read(pki.ca_file()).unwrap()),
    };
    let client_certificate = redis::ClientTlsConfig {
        client_cert: std::fs::read(&client_id.cert).unwrap(),
        client_key: std::fs::read(&client_id.key).unwrap(),
    };

    let client =
        redis::Client::build_with_tls(url.as_str(), certificates(Some(client_certificate)))
            .unwrap();
    let mut conn = client.get_connection().unwrap();
    let set: String = redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query(&mut conn)
        .unwrap();
    assert_eq!(set, "OK");
    let got: String = redis::cmd("GET").arg("greeting").query(&mut conn).unwrap();
    assert_eq!(got, "hello");
    let (first, second, greeting): (i64, i64, String) = redis::pipe()
        .incr("counter", 1)
        .incr("counter", 1)
        .get("greeting")
        .query(&mut conn)
        .unwrap();
    assert_eq!((first, second, greeting.as_str()), (1, 2, "hello"));

    let anonymous = redis::Client::build_with_tls(url.as_str(), certificates(None)).unwrap();
    let refused = anonymous
        .get_connection()
        .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn));
    assert!(
        refused.is_err(),
        "a client without a certificate was served"
    );
}
