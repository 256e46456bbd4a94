//! Byte-level protocol robustness: malformed frames, limits, pipelining, inline commands,
//! connection limits and timeouts. Every test runs against redis-lite and, when it is
//! installed, against real redis-server with the same arguments: the expected bytes below were
//! taken from Redis 7.0.15, and both servers must produce exactly them.
use redis_lite_testkit as testkit;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use testkit::{encode, Server};

/// How long a connection must stay silent, once the expected bytes arrived, to count as done
/// and still open.
const QUIET: Duration = Duration::from_millis(150);
/// How long to wait for expected bytes (or the close) before giving up.
const PATIENCE: Duration = Duration::from_secs(5);

/// What a server did with some input: the bytes it sent back, and whether it then closed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    bytes: Vec<u8>,
    closed: bool,
}

impl Outcome {
    fn open(bytes: impl Into<Vec<u8>>) -> Outcome {
        Outcome {
            bytes: bytes.into(),
            closed: false,
        }
    }

    fn closed(bytes: impl Into<Vec<u8>>) -> Outcome {
        Outcome {
            bytes: bytes.into(),
            closed: true,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} then {}",
            show(&self.bytes),
            if self.closed { "close" } else { "open" }
        )
    }
}

/// Bytes for a failure message, shortened when long.
fn show(bytes: &[u8]) -> String {
    let text = format!("{:?}", String::from_utf8_lossy(bytes));
    if text.chars().count() > 200 {
        let head: String = text.chars().take(200).collect();
        format!("{head}...({} bytes)", bytes.len())
    } else {
        text
    }
}

/// The reply and close that follow a malformed frame.
fn protocol_error(text: &str) -> Outcome {
    Outcome::closed(format!("-ERR Protocol error: {text}\r\n"))
}

/// A RESP bulk string reply.
fn bulk(value: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", value.len()).into_bytes();
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    out
}

/// `n` copies of `byte` after `prefix`.
fn repeated(prefix: &[u8], byte: u8, n: usize) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.resize(prefix.len() + n, byte);
    out
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads until the server closes, or until it has sent at least `want` bytes and then stayed
/// quiet for [`QUIET`] (or sent nothing more for [`PATIENCE`]).
fn collect(stream: &mut TcpStream, want: usize) -> Outcome {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let wait = if bytes.len() >= want { QUIET } else { PATIENCE };
        stream.set_read_timeout(Some(wait)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return Outcome::closed(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Outcome::open(bytes)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Outcome::closed(bytes),
        }
    }
}

/// Sends `input` in one write on a fresh connection and collects what comes back. A write
/// that fails because the server already closed is not an error: the outcome tells.
fn exchange(server: &Server, input: &[u8], want: usize) -> Outcome {
    let mut stream = connect(server);
    let _ = stream.write_all(input);
    collect(&mut stream, want)
}

fn assert_outcome(who: &str, got: Outcome, expected: Outcome) {
    assert!(
        got == expected,
        "{who}:\n    expected {}\n    got      {}",
        expected.describe(),
        got.describe()
    );
}

/// Reads exactly `expected.len()` bytes and asserts they are `expected`.
fn expect_bytes(who: &str, stream: &mut TcpStream, expected: &[u8]) {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = vec![0u8; expected.len()];
    if let Err(e) = stream.read_exact(&mut got) {
        panic!("{who}: waiting for {}: {e}", show(expected));
    }
    assert_eq!(show(&got), show(expected), "{who}");
}

/// Sends bytes and expects exactly `reply` back.
fn roundtrip(who: &str, stream: &mut TcpStream, input: &[u8], reply: &[u8]) {
    stream.write_all(input).unwrap();
    expect_bytes(who, stream, reply);
}

/// Starts redis-lite and (when installed) real Redis with the same arguments and runs `test`
/// on both at once, labelled "lite" and "redis".
fn on_both(args: &[&str], test: impl Fn(&str, &Server) + Sync) {
    let lite = Server::lite(args);
    let redis = Server::redis(args);
    std::thread::scope(|scope| {
        let lite_half = scope.spawn(|| test("lite", &lite));
        if let Some(redis) = &redis {
            test("redis", redis);
        }
        if let Err(panic) = lite_half.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// One golden case: bytes sent in a single write on a fresh connection, and the exact outcome.
struct Case {
    name: &'static str,
    input: Vec<u8>,
    expect: Outcome,
}

fn case(name: &'static str, input: impl Into<Vec<u8>>, expect: Outcome) -> Case {
    Case {
        name,
        input: input.into(),
        expect,
    }
}

/// Runs every case (in parallel, each on its own connection) against both servers, and fails
/// listing every case whose outcome differs from the golden one.
fn golden(args: &[&str], cases: &[Case]) {
    on_both(args, |who, server| {
        let failures: Vec<String> = std::thread::scope(|scope| {
            let runs: Vec<_> = cases
                .iter()
                .map(|c| {
                    scope.spawn(move || {
                        let got = exchange(server, &c.input, c.expect.bytes.len());
                        (got != c.expect).then(|| {
                            format!(
                                "{}: sent {}\n    expected {}\n    got      {}",
                                c.name,
                                show(&c.input),
                                c.expect.describe(),
                                got.describe()
                            )
                        })
                    })
                })
                .collect();
            runs.into_iter()
                .filter_map(|r| r.join().expect("case thread"))
                .collect()
        });
        assert!(
            failures.is_empty(),
            "{who}: {} case(s) differ from the golden bytes:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
}

const KIB64: usize = 64 * 1024;

#[test]
fn malformed_multibulk_frames() {
    let invalid_mbulk = || protocol_error("invalid multibulk length");
    let invalid_bulk = || protocol_error("invalid bulk length");
    golden(
        &["--proto-max-bulk-len", "1mb"],
        &[
            case("non-numeric count", "*x\r\n", invalid_mbulk()),
            case("count over INT_MAX", "*3000000000\r\n", invalid_mbulk()),
            case("empty count", "*\r\n", invalid_mbulk()),
            case(
                "count of INT_MAX waits",
                "*2147483647\r\n",
                Outcome::open(""),
            ),
            case("count of INT_MAX + 1", "*2147483648\r\n", invalid_mbulk()),
            case(
                "count below i64::MIN",
                "*-9223372036854775809\r\n",
                invalid_mbulk(),
            ),
            case("plus sign", "*+1\r\n$4\r\nPING\r\n", invalid_mbulk()),
            case("leading zero", "*01\r\n$4\r\nPING\r\n", invalid_mbulk()),
            case("trailing space", "*1 \r\n$4\r\nPING\r\n", invalid_mbulk()),
            case("LF only", "*1\n$4\r\nPING\r\n", invalid_mbulk()),
            case(
                "missing $",
                "*1\r\nfoo\r\n",
                protocol_error("expected '$', got 'f'"),
            ),
            case(
                "byte after CR is skipped",
                "*1\r$4\r\nPING\r\n",
                protocol_error("expected '$', got '4'"),
            ),
            case(
                "an incomplete bulk header line waits before its '$' is checked",
                "*2\r\n0",
                Outcome::open(""),
            ),
            case(
                "a bulk header line without '$' or CR grows too big",
                repeated(b"*1\r\n", b'a', KIB64 + 1),
                protocol_error("too big bulk count string"),
            ),
            case(
                "nested multibulk",
                "*1\r\n*1\r\n",
                protocol_error("expected '$', got '*'"),
            ),
            case("negative bulk", "*1\r\n$-1\r\n", invalid_bulk()),
            case("minus zero bulk", "*1\r\n$-0\r\n", invalid_bulk()),
            case("non-numeric bulk", "*1\r\n$x\r\n", invalid_bulk()),
            case("empty bulk length", "*1\r\n$\r\n", invalid_bulk()),
            case("plus bulk", "*1\r\n$+4\r\nPING\r\n", invalid_bulk()),
            case("zero-padded bulk", "*1\r\n$04\r\nPING\r\n", invalid_bulk()),
            case("space in bulk", "*1\r\n$ 4\r\nPING\r\n", invalid_bulk()),
            case("bulk header LF only", "*1\r\n$4\nPING\r\n", invalid_bulk()),
            case("huge bulk", "*1\r\n$600000000\r\n", invalid_bulk()),
            case(
                "over proto-max-bulk-len",
                "*1\r\n$1048577\r\n",
                invalid_bulk(),
            ),
            case(
                "exactly proto-max-bulk-len waits for the data",
                "*1\r\n$1048576\r\n",
                Outcome::open(""),
            ),
            case(
                "a value of exactly proto-max-bulk-len is stored",
                [
                    encode(&[b"SET", b"maxbulk", &vec![b'm'; 1 << 20]]),
                    encode(&[b"DEL", b"maxbulk"]),
                ]
                .concat(),
                Outcome::open("+OK\r\n:1\r\n"),
            ),
            case(
                "replies before the bad frame are sent, nothing after",
                "PING\r\n*x\r\nPING\r\n",
                Outcome::closed("+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"),
            ),
            case(
                "earlier multibulk commands run",
                [
                    encode(&[b"SET", b"pk", b"v"]),
                    encode(&[b"GET", b"pk"]),
                    b"*1\r\n$-3\r\n".to_vec(),
                ]
                .concat(),
                Outcome::closed("+OK\r\n$1\r\nv\r\n-ERR Protocol error: invalid bulk length\r\n"),
            ),
        ],
    );
}

#[test]
fn oversized_lines() {
    let mut complete_long_inline = repeated(b"PING ", b'x', KIB64);
    complete_long_inline.extend_from_slice(b"\r\n");
    let mut spaces = repeated(b"PING", b' ', 70 * 1024);
    spaces.extend_from_slice(b"\r\n");
    let mut complete_long_count = repeated(b"*", b'1', KIB64 + 1);
    complete_long_count.extend_from_slice(b"\r\n");
    let mut complete_long_bulk = repeated(b"*1\r\n$", b'1', KIB64 + 1);
    complete_long_bulk.extend_from_slice(b"\r\n");
    golden(
        &[],
        &[
            case(
                "64 KiB inline without newline waits",
                repeated(b"", b'a', KIB64),
                Outcome::open(""),
            ),
            case(
                "64 KiB + 1 inline without newline",
                repeated(b"", b'a', KIB64 + 1),
                protocol_error("too big inline request"),
            ),
            case(
                "complete inline line over 64 KiB runs",
                complete_long_inline,
                Outcome::open(bulk(&vec![b'x'; KIB64])),
            ),
            case(
                "complete inline line of spaces over 64 KiB runs",
                spaces,
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "multibulk count line of 64 KiB waits",
                repeated(b"*", b'1', KIB64 - 1),
                Outcome::open(""),
            ),
            case(
                "multibulk count line over 64 KiB",
                repeated(b"*", b'1', KIB64),
                protocol_error("too big mbulk count string"),
            ),
            case(
                "bulk count line over 64 KiB",
                repeated(b"*1\r\n$", b'1', KIB64 + 1),
                protocol_error("too big bulk count string"),
            ),
            case(
                "complete over-long count line is an invalid number",
                complete_long_count,
                protocol_error("invalid multibulk length"),
            ),
            case(
                "complete over-long bulk line is an invalid number",
                complete_long_bulk,
                protocol_error("invalid bulk length"),
            ),
        ],
    );
}

#[test]
fn inline_commands_and_quoting() {
    let unbalanced = || protocol_error("unbalanced quotes in request");
    golden(
        &[],
        &[
            case("CRLF", "PING\r\n", Outcome::open("+PONG\r\n")),
            case(
                "blank lines are ignored",
                "\r\n\n  \n\rPING\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "LF only, double quotes with a space",
                "SET ik \"b c\"\nGET ik\n",
                Outcome::open("+OK\r\n$3\r\nb c\r\n"),
            ),
            case(
                "surrounding whitespace and tabs",
                "  PING   \t a  \r\n",
                Outcome::open("$1\r\na\r\n"),
            ),
            case(
                "lone CR separates",
                "PING\rX\r\n",
                Outcome::open("$1\r\nX\r\n"),
            ),
            case(
                "quoted command name",
                "\"PING\"\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "empty quoted command",
                "\"\"\r\n",
                Outcome::open("-ERR unknown command '', with args beginning with: \r\n"),
            ),
            case(
                "hex escapes",
                "ping \"\\xff\\x00\"\r\n",
                Outcome::open(bulk(b"\xff\x00")),
            ),
            case(
                "bad hex escape is literal",
                "ping \"\\x4g\"\r\n",
                Outcome::open("$3\r\nx4g\r\n"),
            ),
            case(
                "short hex escape",
                "ping \"\\x4\"\r\n",
                Outcome::open("$2\r\nx4\r\n"),
            ),
            case(
                "escaped double quote",
                "ping \"a\\\"b\"\r\n",
                Outcome::open("$3\r\na\"b\r\n"),
            ),
            case(
                "unknown escape keeps the letter",
                "ping \"a\\zb\"\r\n",
                Outcome::open("$3\r\nazb\r\n"),
            ),
            case(
                "escaped single quote",
                "ping 'a\\'b'\r\n",
                Outcome::open("$3\r\na'b\r\n"),
            ),
            case(
                "single quotes keep backslash-n",
                "ping 'a\\nb'\r\n",
                Outcome::open("$4\r\na\\nb\r\n"),
            ),
            case(
                "quote inside a word",
                "ping a\"b\"\r\n",
                Outcome::open("$2\r\nab\r\n"),
            ),
            case(
                "tab after closing quote",
                "ping \"a\"\t\r\n",
                Outcome::open("$1\r\na\r\n"),
            ),
            case(
                "two quoted args",
                "ping \"a\" \"b\"\r\n",
                Outcome::open("-ERR wrong number of arguments for 'ping' command\r\n"),
            ),
            case("unterminated double quote", "set k \"abc\r\n", unbalanced()),
            case("unterminated single quote", "set k 'abc\r\n", unbalanced()),
            case(
                "closing double quote then a letter",
                "set k \"abc\"x\r\n",
                unbalanced(),
            ),
            case(
                "closing single quote then a letter",
                "set k 'abc'x\r\n",
                unbalanced(),
            ),
            case("adjacent quoted words", "ping \"a\"\"b\"\r\n", unbalanced()),
            case("escaped closing quote", "ping \"\\\"\r\n", unbalanced()),
        ],
    );
}

#[test]
fn odd_but_valid_frames() {
    golden(
        &[],
        &[
            case(
                "empty and negative multibulks are skipped",
                "*0\r\n*-1\r\n*-5\r\nPING\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "a very negative count is skipped too",
                "*-99999999999\r\nPING\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "empty command name",
                "*1\r\n$0\r\n\r\n",
                Outcome::open("-ERR unknown command '', with args beginning with: \r\n"),
            ),
            case(
                "empty key",
                "*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
                Outcome::open("$-1\r\n"),
            ),
            case(
                "the two bytes after a bulk are not checked",
                "*1\r\n$4\r\nPINGxx",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "a short bulk swallows the following bytes",
                "*2\r\n$4\r\nPING\r\n$1\r\nab\r\n*1\r\n$4\r\nPING\r\n",
                Outcome::open("$1\r\na\r\n+PONG\r\n"),
            ),
            case(
                "LF after a bulk is a blank inline line",
                "*1\r\n$4\r\nPING\n\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "a key may hold CR LF",
                "*2\r\n$3\r\nGET\r\n$3\r\na\r\n\r\n",
                Outcome::open("$-1\r\n"),
            ),
            case(
                "binary-safe values round-trip",
                [
                    encode(&[b"SET", b"bin\r\n\0key", b"a\r\nb\0c\r\n"]),
                    encode(&[b"GET", b"bin\r\n\0key"]),
                ]
                .concat(),
                Outcome::open([&b"+OK\r\n"[..], &bulk(b"a\r\nb\0c\r\n")].concat()),
            ),
            case(
                "a bulk of 64 KiB + 1 is fine",
                [
                    encode(&[b"SET", b"bigkey", &vec![b'v'; KIB64 + 1]]),
                    encode(&[b"DEL", b"bigkey"]),
                ]
                .concat(),
                Outcome::open("+OK\r\n:1\r\n"),
            ),
        ],
    );
}

#[test]
fn unauthenticated_clients_get_small_frames() {
    let noauth = || Outcome::open("-NOAUTH Authentication required.\r\n");
    let mut twenty_args = b"PING".to_vec();
    twenty_args.extend(b" a".repeat(20));
    twenty_args.extend_from_slice(b"\r\n");
    golden(
        &["--requirepass", "pw"],
        &[
            case("10 arguments are allowed", "*10\r\n", Outcome::open("")),
            case(
                "11 arguments",
                "*11\r\n",
                protocol_error("unauthenticated multibulk length"),
            ),
            case(
                "16 KiB bulk is allowed",
                "*1\r\n$16384\r\n",
                Outcome::open(""),
            ),
            case(
                "bulk over 16 KiB",
                "*1\r\n$16385\r\n",
                protocol_error("unauthenticated bulk length"),
            ),
            case(
                "over proto-max-bulk-len is still invalid",
                "*1\r\n$600000000\r\n",
                protocol_error("invalid bulk length"),
            ),
            case("commands need AUTH", encode(&[b"PING"]), noauth()),
            case("inline is not limited to 10 args", twenty_args, noauth()),
            case(
                "inline is not limited to 16 KiB",
                [&repeated(b"PING ", b'a', 20000)[..], b"\r\n"].concat(),
                noauth(),
            ),
        ],
    );
}

/// After AUTH, the very next frame in the same read already gets the full limits.
#[test]
fn frame_pipelined_after_auth_gets_full_limits() {
    let mut input = encode(&[b"AUTH", b"pw"]);
    let mut ping_args: Vec<&[u8]> = vec![b"PING"];
    ping_args.extend([&b"x"[..]; 20]);
    input.extend(encode(&ping_args));
    input.extend(encode(&[b"PING", &vec![b'y'; 20000]]));
    let expected = [
        &b"+OK\r\n-ERR wrong number of arguments for 'ping' command\r\n"[..],
        &bulk(&vec![b'y'; 20000]),
    ]
    .concat();
    golden(
        &["--requirepass", "pw"],
        &[case("AUTH then big frames", input, Outcome::open(expected))],
    );
}

/// 1000 commands (multibulk and inline, SET/GET/PING/DEL) and their replies.
fn thousand_commands() -> (Vec<u8>, Vec<u8>) {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        let key = format!("p{}", i / 4);
        match i % 4 {
            0 => {
                input.extend(encode(&[
                    b"SET",
                    key.as_bytes(),
                    format!("v{i}").as_bytes(),
                ]));
                expected.extend_from_slice(b"+OK\r\n");
            }
            1 => {
                input.extend(format!("GET {key}\r\n").as_bytes());
                expected.extend(bulk(format!("v{}", i - 1).as_bytes()));
            }
            2 => {
                input.extend(encode(&[b"PING", i.to_string().as_bytes()]));
                expected.extend(bulk(i.to_string().as_bytes()));
            }
            _ => {
                input.extend(format!("DEL {key} {key}\r\n").as_bytes());
                expected.extend_from_slice(b":1\r\n");
            }
        }
    }
    (input, expected)
}

#[test]
fn a_thousand_pipelined_commands_reply_in_order() {
    let (input, expected) = thousand_commands();
    golden(
        &[],
        &[case("1000 commands", input, Outcome::open(expected))],
    );
}

/// A pipeline whose keys the server reads ahead (redis-lite loads their table slots before the
/// commands run): keys in every shard, a SELECT between commands whose keys were read ahead in
/// the other database, commands too short for their keys, a hot key repeated, a many-key
/// command, a container's subcommand, an inline command, and a malformed frame at the end:
/// every reply as Redis gives it.
#[test]
fn a_pipeline_read_ahead_across_databases_replies_as_redis() {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..40 {
        let (key, value) = (format!("ahead:{i}"), format!("v{i}"));
        input.extend(encode(&[b"SET", key.as_bytes(), value.as_bytes()]));
        expected.extend_from_slice(b"+OK\r\n");
        if i == 0 {
            // Too short for their keys, right where the server reads ahead.
            for name in ["get", "del", "mset"] {
                input.extend(encode(&[name.as_bytes()]));
                let error = format!("-ERR wrong number of arguments for '{name}' command\r\n");
                expected.extend(error.as_bytes());
            }
        }
    }
    for (db, found) in [("1", false), ("0", true)] {
        input.extend(encode(&[b"SELECT", db.as_bytes()]));
        expected.extend_from_slice(b"+OK\r\n");
        for i in 0..20 {
            input.extend(encode(&[b"GET", format!("ahead:{i}").as_bytes()]));
            match found {
                true => expected.extend(bulk(format!("v{i}").as_bytes())),
                false => expected.extend_from_slice(b"$-1\r\n"),
            }
        }
    }
    for i in 1..=20 {
        input.extend(encode(&[b"INCR", b"ahead:counter"]));
        expected.extend(format!(":{i}\r\n").as_bytes());
    }
    input.extend(encode(&[b"MSET", b"ahead:0", b"m0", b"ahead:39", b"m39"]));
    expected.extend_from_slice(b"+OK\r\n");
    input.extend(encode(&[b"OBJECT", b"ENCODING", b"ahead:counter"]));
    expected.extend(bulk(b"int"));
    input.extend(b"GET ahead:39\r\n");
    expected.extend(bulk(b"m39"));
    input.extend(encode(&[b"GET", b"ahead:0"]));
    expected.extend(bulk(b"m0"));
    input.extend(b"*2\r\n$3\r\nGET\r\n$x\r\n");
    expected.extend_from_slice(b"-ERR Protocol error: invalid bulk length\r\n");
    on_both(&["--enable-debug-command", "yes"], |who, server| {
        // redis-lite reads ahead once its key tables outgrow a core's cache (measured by the
        // cron): 200,000 keys take about 10 MB.
        let mut filler = connect(server);
        roundtrip(
            who,
            &mut filler,
            &encode(&[b"DEBUG", b"POPULATE", b"200000", b"filler"]),
            b"+OK\r\n",
        );
        std::thread::sleep(Duration::from_millis(300));
        let mut stream = connect(server);
        stream.write_all(&input).unwrap();
        let got = collect(&mut stream, 0);
        assert_outcome(who, got, Outcome::closed(expected.clone()));
    });
}

#[test]
fn pipeline_in_uneven_chunks_replies_the_same() {
    let (input, expected) = thousand_commands();
    on_both(&[], |who, server| {
        let mut stream = connect(server);
        // Chunks of 1 to 97 bytes cut frames at every kind of boundary.
        let mut rest = &input[..];
        let mut size = 1;
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            stream.write_all(chunk).unwrap();
            rest = tail;
            size = size * 7 % 97 + 1;
        }
        let got = collect(&mut stream, expected.len());
        assert_outcome(who, got, Outcome::open(expected.clone()));
    });
}

#[test]
fn half_closed_client_still_gets_its_replies() {
    on_both(&[], |who, server| {
        let mut stream = connect(server);
        stream.write_all(b"SET hc v\r\nGET hc\r\nPING\r\n").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let got = collect(&mut stream, 0);
        assert_outcome(who, got, Outcome::closed("+OK\r\n$1\r\nv\r\n+PONG\r\n"));
    });
}

#[test]
fn command_split_byte_by_byte_runs_once() {
    on_both(&[], |who, server| {
        let mut stream = connect(server);
        roundtrip(
            who,
            &mut stream,
            &encode(&[b"SET", b"split", b"v"]),
            b"+OK\r\n",
        );
        // DEL replies :1 only the first time: one reply of :1 means it ran exactly once.
        for frame in [encode(&[b"DEL", b"split"]), b"DEL split\r\n".to_vec()] {
            for byte in &frame {
                stream.write_all(std::slice::from_ref(byte)).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            let expected: &[u8] = if frame[0] == b'*' {
                b":1\r\n"
            } else {
                b":0\r\n"
            };
            expect_bytes(who, &mut stream, expected);
        }
        roundtrip(who, &mut stream, b"PING\r\n", b"+PONG\r\n");
    });
}

#[test]
fn protocol_error_closes_only_that_connection() {
    on_both(&[], |who, server| {
        let mut good = connect(server);
        // A frame half-sent by one client...
        good.write_all(b"*3\r\n$3\r\nSET\r\n$3\r\niso\r\n").unwrap();
        // ...while another sends garbage and is dropped.
        let mut bad = connect(server);
        bad.write_all(b"*1\r\nfoo\r\n").unwrap();
        let got = collect(&mut bad, 0);
        assert_outcome(who, got, protocol_error("expected '$', got 'f'"));
        // The first client's frame completes normally and its connection stays usable.
        roundtrip(who, &mut good, b"$2\r\nok\r\n", b"+OK\r\n");
        roundtrip(who, &mut good, b"GET iso\r\n", b"$2\r\nok\r\n");
        let mut fresh = connect(server);
        roundtrip(who, &mut fresh, b"GET iso\r\n", b"$2\r\nok\r\n");
    });
}

#[test]
fn disconnect_mid_frame_leaves_server_healthy() {
    on_both(&[], |who, server| {
        let partials: [&[u8]; 4] = [
            b"*3\r\n$3\r\nSET\r\n$3\r\nmid\r\n$10\r\nabc",
            b"*3\r\n$3\r\nSET\r\n$3\r\nmid\r\n$1",
            b"SET mid inline",
            &repeated(
                b"*3\r\n$3\r\nSET\r\n$3\r\nmid\r\n$300000\r\n",
                b'z',
                200_000,
            ),
        ];
        // Each partial frame is abandoned twice: with a FIN, and with a reset.
        for (partial, reset) in partials.iter().flat_map(|p| [(p, false), (p, true)]) {
            let mut quitter = connect(server);
            quitter.write_all(partial).unwrap();
            // Give the server time to read the partial frame before the connection goes.
            std::thread::sleep(Duration::from_millis(20));
            if reset {
                // Linger 0: close() sends RST instead of FIN.
                socket2::SockRef::from(&quitter)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(quitter);
            } else {
                quitter.shutdown(Shutdown::Both).unwrap();
            }
        }
        let mut after = connect(server);
        roundtrip(who, &mut after, b"GET mid\r\n", b"$-1\r\n");
        roundtrip(who, &mut after, b"PING\r\n", b"+PONG\r\n");
        roundtrip(
            who,
            &mut after,
            &encode(&[b"SET", b"mid", b"x"]),
            b"+OK\r\n",
        );
        roundtrip(who, &mut after, b"GET mid\r\n", b"$1\r\nx\r\n");
    });
}

/// Connects, retrying while the server still counts a connection that just closed (such as
/// the harness's start-up probe) against `maxclients`. Returns a client that answered PING.
fn admitted(who: &str, server: &Server) -> TcpStream {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut stream = connect(server);
        let _ = stream.write_all(b"PING\r\n");
        let got = collect(&mut stream, 7);
        if got == Outcome::open("+PONG\r\n") {
            return stream;
        }
        assert!(
            Instant::now() < deadline,
            "{who}: never admitted: {}",
            got.describe()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn maxclients_refuses_extra_connections() {
    on_both(&["--maxclients", "2"], |who, server| {
        let first = admitted(who, server);
        let mut second = admitted(who, server);
        for _ in 0..2 {
            // Nothing sent: the refusal is written on accept, then the server closes.
            let mut refused = connect(server);
            let got = collect(&mut refused, 0);
            assert_outcome(
                who,
                got,
                Outcome::closed("-ERR max number of clients reached\r\n"),
            );
        }
        // Admitted clients are unaffected, and a slot frees up when one leaves.
        roundtrip(who, &mut second, b"PING\r\n", b"+PONG\r\n");
        drop(first);
        let mut third = admitted(who, server);
        roundtrip(who, &mut third, b"PING\r\n", b"+PONG\r\n");
    });
}

#[test]
fn idle_clients_time_out_active_ones_do_not() {
    on_both(&["--timeout", "1"], |who, server| {
        let start = Instant::now();
        std::thread::scope(|scope| {
            let idle = scope.spawn(|| {
                let mut idle = connect(server);
                let got = collect(&mut idle, usize::MAX);
                (got, start.elapsed())
            });
            // Redis checks idleness in whole seconds, so an idle client goes after 1-2 s; a
            // client that sends something every 300 ms must survive well past that.
            let mut active = connect(server);
            while start.elapsed() < Duration::from_millis(2600) {
                roundtrip(who, &mut active, b"PING\r\n", b"+PONG\r\n");
                std::thread::sleep(Duration::from_millis(300));
            }
            let (got, after) = idle.join().unwrap();
            assert_outcome(who, got, Outcome::closed(""));
            assert!(
                after >= Duration::from_millis(900) && after < Duration::from_millis(3500),
                "{who}: idle client closed after {after:?}"
            );
        });
    });
}

#[test]
fn query_buffer_limit_closes_only_the_offender() {
    on_both(&["--client-query-buffer-limit", "1mb"], |who, server| {
        let mut bystander = connect(server);
        roundtrip(who, &mut bystander, b"SET qb kept\r\n", b"+OK\r\n");
        // An incomplete 2 MB bulk (allowed by the default proto-max-bulk-len) outgrows the
        // 1 MB query buffer: the client is closed without a reply.
        let mut offender = connect(server);
        let mut input = b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$2097152\r\n".to_vec();
        input.resize(input.len() + 2 * 1024 * 1024, b'x');
        let _ = offender.write_all(&input);
        let got = collect(&mut offender, 0);
        assert_outcome(who, got, Outcome::closed(""));
        roundtrip(who, &mut bystander, b"GET qb\r\n", b"$4\r\nkept\r\n");
    });
}

/// Issue 11: a whole 2 MB argument could pass a 1 MB limit, because only what was left
/// unparsed after parsing a read was counted: when one read completed the argument (the server
/// was slow to read, so the socket held the rest), nothing was over. Redis reads a big argument
/// on its own and counts it whole before parsing, which redis-lite now does too. Here the
/// frame arrives as fast as the server reads, and both servers must refuse it.
#[test]
fn whole_argument_over_query_buffer_limit_closes_the_client() {
    let value = vec![b'v'; 2_000_000];
    let input = encode(&[b"SET", b"whole", &value]);
    on_both(&["--client-query-buffer-limit", "1mb"], |who, server| {
        let mut offender = connect(server);
        let _ = offender.write_all(&input);
        assert_outcome(who, collect(&mut offender, 0), Outcome::closed(""));
        let mut bystander = connect(server);
        roundtrip(who, &mut bystander, b"EXISTS whole\r\n", b":0\r\n");
    });
}

/// Redis counts only the unparsed part of the current frame against the limit (arguments
/// already parsed have left the query buffer), so a command whose arguments are each under
/// the limit succeeds even when together they exceed it.
#[test]
fn arguments_already_parsed_do_not_count_against_query_buffer_limit() {
    let big = vec![b'k'; 600_000];
    let input = [encode(&[b"SET", &big, &big]), encode(&[b"DEL", &big])].concat();
    // Pause once 1.1 MB of the frame is in: the key is parsed, the value half there.
    let (first, rest) = input.split_at(1_100_000);
    on_both(&["--client-query-buffer-limit", "1mb"], |who, server| {
        let mut stream = connect(server);
        stream.write_all(first).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let _ = stream.write_all(rest);
        let got = collect(&mut stream, 9);
        assert_outcome(who, got, Outcome::open("+OK\r\n:1\r\n"));
    });
}

/// This host's address on its default route, when it has one that is not loopback.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks the route and source address.
    probe.connect("192.0.2.254:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_denies_non_loopback_clients_without_password() {
    let Some(ip) = non_loopback_ip() else {
        testkit::skipped("no non-loopback address to connect from");
        return;
    };
    let ip_text = ip.to_string();
    let from_outside = |server: &Server, input: &[u8]| {
        let mut stream = TcpStream::connect((ip, server.port))
            .unwrap_or_else(|e| panic!("connect from {ip}: {e}"));
        let _ = stream.write_all(input);
        collect(&mut stream, 1)
    };
    let bind = ["--bind", "127.0.0.1", ip_text.as_str()];
    let denied = |who: &str, server: &Server| {
        // Nothing sent: the refusal is written on accept.
        let got = from_outside(server, b"");
        assert!(got.closed, "{who}: {}", got.describe());
        assert!(
            got.bytes
                .starts_with(b"-DENIED Redis is running in protected mode because")
                && got
                    .bytes
                    .ends_with(b"start accepting connections from the outside.\r\n"),
            "{who}: {}",
            got.describe()
        );
        // Loopback clients are served as usual.
        roundtrip(who, &mut connect(server), b"PING\r\n", b"+PONG\r\n");
        got.bytes
    };
    let lite = Server::lite(&bind);
    let lite_denial = denied("lite", &lite);
    if let Some(redis) = Server::redis(&bind) {
        let redis_denial = denied("redis", &redis);
        assert_eq!(show(&lite_denial), show(&redis_denial));
    }
    // Turning protected mode off, or setting a password, lets them in.
    for (setting, reply) in [
        (["--protected-mode", "no"], "+PONG\r\n"),
        (
            ["--requirepass", "pw"],
            "-NOAUTH Authentication required.\r\n",
        ),
    ] {
        on_both(&[&bind[..], &setting].concat(), |who, server| {
            let got = from_outside(server, b"PING\r\n");
            assert_outcome(who, got, Outcome::open(reply));
        });
    }
}

/// Redis formats the unknown-command error with C strings, so the name and each quoted
/// argument stop at their first NUL byte.
#[test]
fn unknown_command_error_cuts_names_at_nul() {
    golden(
        &[],
        &[case(
            "NUL in name and argument",
            "*2\r\n$4\r\nPI\0G\r\n$3\r\na\0b\r\n",
            Outcome::open("-ERR unknown command 'PI', with args beginning with: 'a' \r\n"),
        )],
    );
}

/// Regression (issue 11): an inline line with a NUL before its newline was run, and a form
/// feed split inline arguments. Redis finds the end of a line with `strchr`, which stops at the
/// NUL, so such a line waits until it outgrows the inline limit; and its splitter skips C
/// `isspace` between arguments but ends an unquoted word only at space, tab, CR or LF.
#[test]
fn inline_nul_and_control_whitespace() {
    let mut nul_long = b"PING\x00".to_vec();
    nul_long.resize(70_000, b'a');
    nul_long.extend_from_slice(b"\r\n");
    let mut nul_star = b"*1\x00".to_vec();
    nul_star.resize(70_000, b'a');
    nul_star.extend_from_slice(b"\r\n");
    golden(
        &[],
        &[
            case(
                "NUL in an inline line waits",
                "SET a\x00b c\r\n",
                Outcome::open(""),
            ),
            case(
                "NUL holds back the lines after it",
                "SET a\x00b c\r\nPING\r\n",
                Outcome::open(""),
            ),
            case(
                "NUL after a newline holds back only what follows",
                "PING\r\n\x00PING\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "NUL in a multibulk count line waits",
                "*1\x00\r\n$4\r\nPING\r\n",
                Outcome::open(""),
            ),
            case(
                "NUL in a bulk length line waits",
                "*1\r\n$4\x00\r\nPING\r\n",
                Outcome::open(""),
            ),
            case(
                "inline line with a NUL is too big past 64 KiB",
                nul_long,
                protocol_error("too big inline request"),
            ),
            case(
                "count line with a NUL is too big past 64 KiB",
                nul_star,
                protocol_error("too big mbulk count string"),
            ),
            case(
                "form feed does not split a word",
                "SET ff\x0cb c\r\nGET ff\r\nGET b\r\nGET ff\x0cb\r\n",
                Outcome::open("+OK\r\n$-1\r\n$-1\r\n$1\r\nc\r\n"),
            ),
            case(
                "vertical tab and form feed inside a word",
                "ECHO a\x0cb\x0bc\r\n",
                Outcome::open(b"$5\r\na\x0cb\x0bc\r\n".to_vec()),
            ),
            case(
                "leading vertical tab is skipped",
                "\x0bPING\r\n",
                Outcome::open("+PONG\r\n"),
            ),
            case(
                "form feed after a closing quote separates",
                "ECHO \"a\"\x0cb\r\n",
                Outcome::open("-ERR wrong number of arguments for 'echo' command\r\n"),
            ),
            case(
                "vertical tab after a closing quote",
                "ECHO 'a'\x0b\r\n",
                Outcome::open("$1\r\na\r\n"),
            ),
        ],
    );
}

/// Regression (issue 11): the byte in "expected '$', got 'X'" was sent UTF-8 encoded
/// (`\xc2\x9d` for `\x9d`); Redis 7.0.15 sends the raw byte.
#[test]
fn expected_dollar_error_carries_the_raw_byte() {
    golden(
        &[],
        &[
            case(
                "byte over 0x7f",
                b"*1\r\n\x9d\r\n".to_vec(),
                Outcome::closed(b"-ERR Protocol error: expected '$', got '\x9d'\r\n".to_vec()),
            ),
            case(
                "first byte of a UTF-8 sequence",
                b"*1\r\n\xc2\x9d\r\n".to_vec(),
                Outcome::closed(b"-ERR Protocol error: expected '$', got '\xc2'\r\n".to_vec()),
            ),
        ],
    );
}
