//! `unixsocket` and `unixsocketperm`: clients on the socket get the same service as over TCP.

use redis_lite_testkit as testkit;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use testkit::{DataDir, Server};

fn cmd(stream: &mut UnixStream, request: &[u8]) -> String {
    stream.write_all(request).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn clients_connect_over_the_unix_socket_with_its_permissions() {
    let dir = DataDir::new("unixsocket");
    let path = dir.0.join("redis.sock");
    let path_text = path.to_str().unwrap();
    let server = Server::lite(&["--unixsocket", path_text, "--unixsocketperm", "700"]);
    let mut stream = UnixStream::connect(&path).expect("the socket accepts connections");
    assert_eq!(cmd(&mut stream, b"PING\r\n"), "+PONG\r\n");
    assert_eq!(
        cmd(&mut stream, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
        "+OK\r\n"
    );
    assert!(cmd(&mut stream, b"CLIENT INFO\r\n").contains(&format!("addr={path_text}:0 ")));
    assert_eq!(
        cmd(&mut stream, b"CONFIG GET unixsocketperm\r\n"),
        "*2\r\n$14\r\nunixsocketperm\r\n$3\r\n700\r\n"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // The same data is there over TCP.
    assert_eq!(server.raw().cmd_text(&["GET", "k"]), "$1\r\nv\r\n");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = DataDir::new("unixsocket-stale");
    let path = dir.0.join("stale.sock");
    // A socket file left by a server that died without cleaning up.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let _server = Server::lite(&["--unixsocket", path.to_str().unwrap()]);
    let mut stream = UnixStream::connect(&path).unwrap();
    assert_eq!(cmd(&mut stream, b"PING\r\n"), "+PONG\r\n");
}
