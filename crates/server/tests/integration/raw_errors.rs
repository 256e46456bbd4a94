//! Error replies that quote what the client sent keep its bytes, as Redis copies them (up to a
//! NUL), instead of replacing bytes that are not UTF-8: compared with Redis byte for byte.

use redis_lite_testkit as testkit;

use testkit::{encode, Raw, Server};

/// Commands whose errors quote an argument that is not UTF-8 (`\xff`) or holds a NUL.
fn script() -> Vec<Vec<Vec<u8>>> {
    let bad: &[u8] = b"\xffbad\xfe";
    let nul: &[u8] = b"cut\0here";
    let mut script: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |args: &[&[u8]]| script.push(args.iter().map(|a| a.to_vec()).collect());
    add(&[b"XADD", b"s", b"1-1", b"f", b"v"]);
    add(&[b"XGROUP", b"CREATE", b"s", b"g", b"0"]);
    for odd in [bad, nul] {
        add(&[b"HELLO", b"2", odd]);
        add(&[b"CLIENT", b"LIST", b"TYPE", odd]);
        add(&[b"CLIENT", b"KILL", b"USER", odd]);
        add(&[b"FUNCTION", b"LOAD", odd, b"code"]);
        add(&[b"FUNCTION", b"LIST", odd]);
        add(&[b"REPLCONF", odd, b"x"]);
        add(&[b"EXPIRE", b"s", b"10", odd]);
        add(&[b"XCLAIM", odd, b"g", b"c", b"0", b"0-0"]);
        add(&[b"XCLAIM", b"s", b"g", b"c", b"0", b"1-1", odd]);
        add(&[b"XINFO", b"CONSUMERS", b"s", odd]);
        add(&[b"XREADGROUP", b"GROUP", odd, b"c", b"STREAMS", b"s", b">"]);
        add(&[b"XINFO", odd]);
        add(&[
            b"XINFO", b"STREAM", b"s", b"FULL", b"COUNT", b"1", b"x", odd,
        ]);
        add(&[b"DEBUG", odd]);
        add(&[b"CONFIG", b"SET", odd, b"1"]);
        add(&[b"PFDEBUG", odd, b"s"]);
        add(&[odd, b"arg"]);
        add(&[
            b"EVAL",
            &[b"return redis.error_reply('".as_slice(), odd, b"')"].concat(),
            b"0",
        ]);
        add(&[
            b"EVAL",
            &[b"return redis.call('".as_slice(), odd, b"')"].concat(),
            b"0",
        ]);
    }
    script
}

fn run(server: &Server) -> Vec<Vec<u8>> {
    let mut raw: Raw = server.raw();
    script()
        .iter()
        .map(|args| {
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            raw.send(&encode(&args));
            raw.read_reply()
        })
        .collect()
}

#[test]
fn errors_quote_the_clients_bytes_as_redis() {
    let lite = run(&Server::lite(&["--enable-debug-command", "yes"]));
    // Without Redis: the first quoted byte strings come back as sent.
    assert_eq!(
        lite[2],
        b"-ERR Syntax error in HELLO option '\xffbad\xfe'\r\n"
    );
    assert_eq!(
        lite[16],
        b"-ERR Unknown option or number of arguments for CONFIG SET - '\xffbad\xfe'\r\n"
    );
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let expected = run(&redis);
    let mismatches: Vec<String> = script()
        .iter()
        .zip(lite.iter().zip(&expected))
        .filter(|(_, (mine, theirs))| mine != theirs)
        .map(|(args, (mine, theirs))| {
            let args: Vec<String> = args.iter().map(|a| a.escape_ascii().to_string()).collect();
            format!(
                "{args:?}\n  redis-lite: {}\n  redis:      {}",
                mine.escape_ascii(),
                theirs.escape_ascii()
            )
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
