//! Sharded pub/sub (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS/SHARDNUMSUB) in
//! standalone mode, against real Redis: the replies of one connection in RESP2 and RESP3, and
//! multi-client transcripts where every frame each client reads is compared, `smessage` pushes
//! included; the shard channel space is separate from classic channels and patterns.
use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{differential_both_protocols, Raw, Server};

#[test]
fn replies_match_redis() {
    differential_both_protocols(testkit::script!("sharded_pubsub/replies"));
}

/// COMMAND INFO (flags, the channel declared as a `not_key` key) and COMMAND DOCS of the
/// sharded commands.
#[test]
fn command_table_matches_redis() {
    let names = [
        "ssubscribe",
        "sunsubscribe",
        "spublish",
        "pubsub|shardchannels",
        "pubsub|shardnumsub",
        "pubsub|numsub",
    ];
    let mut script: Vec<Vec<&str>> = names.iter().map(|n| vec!["COMMAND", "INFO", n]).collect();
    script.extend(names.iter().map(|n| vec!["COMMAND", "DOCS", n]));
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential_both_protocols(&script);
}

/// One step of a transcript: a client (by index) and the command it sends.
type Step<'a> = (usize, &'a [&'a str]);

/// Runs the steps with `clients` connections and returns every frame each one read, in order.
/// After each step the sender, then every other client, sends a marked PING and reads up to its
/// reply, so the pushes a step caused are read by then, and a frame that should not exist shows
/// up at once.
fn transcript(server: &Server, resp3: bool, clients: usize, steps: &[Step]) -> Vec<String> {
    let mut conns: Vec<Raw> = (0..clients).map(|_| server.raw()).collect();
    if resp3 {
        for conn in &mut conns {
            conn.cmd(&["HELLO", "3"]);
        }
    }
    let mut seen = Vec::new();
    for (n, (client, command)) in steps.iter().enumerate() {
        seen.push(format!("{client}> {}", command.join(" ")));
        let marker = format!("marker-{n}");
        conns[*client].send(&testkit::encode(
            &command.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
        ));
        // The sender first, so that its command has run before the others look.
        let order = std::iter::once(*client).chain((0..clients).filter(|c| c != client));
        for c in order {
            let conn = &mut conns[c];
            conn.send(&testkit::encode(&[b"PING", marker.as_bytes()]));
            loop {
                let frame = String::from_utf8_lossy(&conn.read_reply()).into_owned();
                let done = frame.contains(&marker);
                seen.push(format!("{c}< {frame:?}"));
                if done {
                    break;
                }
            }
        }
    }
    seen
}

/// Asserts a transcript is the same on redis-lite (two event loops, so that publishers and
/// subscribers may sit on different threads) as on real Redis, in RESP2 and RESP3.
fn differential_transcript(clients: usize, steps: &[Step]) {
    for resp3 in [false, true] {
        let lite = Server::lite(&["--threads", "2"]);
        let got = transcript(&lite, resp3, clients, steps);
        let Some(redis) = Server::redis(&[]) else {
            return;
        };
        let expected = transcript(&redis, resp3, clients, steps);
        assert_eq!(got, expected, "resp3={resp3}");
    }
}

#[test]
fn shard_messages_reach_shard_subscribers_only() {
    differential_transcript(
        4,
        &[
            (0, &["SSUBSCRIBE", "orders", "stock"]),
            (1, &["SUBSCRIBE", "orders"]),
            (2, &["PSUBSCRIBE", "ord*"]),
            (3, &["SPUBLISH", "orders", "first"]),
            (3, &["PUBLISH", "orders", "classic"]),
            (3, &["SPUBLISH", "stock", "s1"]),
            (3, &["PUBSUB", "SHARDNUMSUB", "orders", "stock", "none"]),
            (3, &["PUBSUB", "NUMSUB", "orders", "stock"]),
            (3, &["PUBSUB", "SHARDCHANNELS", "st*"]),
            (3, &["PUBSUB", "NUMPAT"]),
            (1, &["SSUBSCRIBE", "orders"]),
            (3, &["SPUBLISH", "orders", "second"]),
            (0, &["SUNSUBSCRIBE", "orders"]),
            (3, &["SPUBLISH", "orders", "third"]),
            (3, &["SPUBLISH", "stock", "s2"]),
            (0, &["SUNSUBSCRIBE"]),
            (3, &["SPUBLISH", "stock", "s3"]),
            (1, &["RESET"]),
            (3, &["SPUBLISH", "orders", "fourth"]),
            (3, &["PUBSUB", "SHARDNUMSUB", "orders", "stock"]),
        ],
    );
}

/// A RESP3 client subscribed to the shard channel it publishes on reads the `smessage` push
/// before SPUBLISH's count, as Redis writes it; in RESP2 it may not publish at all (nor EXEC,
/// which Redis answers with EXECABORT even without MULTI).
#[test]
fn publishing_to_own_shard_channel() {
    differential_transcript(
        2,
        &[
            (0, &["SSUBSCRIBE", "self"]),
            (1, &["SSUBSCRIBE", "self"]),
            (0, &["SPUBLISH", "self", "echo"]),
            (0, &["SUBSCRIBE", "self"]),
            (0, &["PUBLISH", "self", "classic echo"]),
            (0, &["SPUBLISH", "self", "again"]),
            (0, &["EXEC"]),
        ],
    );
}

/// The subscriber counters other clients see: INFO's pubsub lines and CLIENT LIST's flags and
/// sub/psub/ssub fields, compared with Redis's.
#[test]
fn info_and_client_list_count_shard_subscriptions() {
    fn counters(server: &Server) -> Vec<String> {
        let mut a = server.raw();
        let mut b = server.raw();
        let mut observer = server.raw();
        let mut seen = Vec::new();
        let mut look = |observer: &mut Raw| {
            let info = observer.cmd_text(&["INFO", "stats"]);
            seen.extend(
                info.lines()
                    .filter(|l| l.starts_with("pubsub"))
                    .map(str::to_string),
            );
            let clients = observer.cmd_text(&["CLIENT", "LIST", "TYPE", "pubsub"]);
            seen.extend(clients.lines().filter_map(|l| {
                let fields: Vec<&str> = l
                    .split(' ')
                    .filter(|f| {
                        ["flags=", "sub=", "psub=", "ssub="]
                            .iter()
                            .any(|p| f.starts_with(p))
                    })
                    .collect();
                (!fields.is_empty()).then(|| fields.join(" "))
            }));
        };
        look(&mut observer);
        a.cmd(&["SSUBSCRIBE", "s1"]);
        a.cmd(&["SSUBSCRIBE", "s2"]);
        look(&mut observer);
        b.cmd(&["SSUBSCRIBE", "s1"]);
        b.cmd(&["SUBSCRIBE", "c1"]);
        b.cmd(&["PSUBSCRIBE", "p*"]);
        look(&mut observer);
        a.cmd(&["SUNSUBSCRIBE", "s1"]);
        b.cmd(&["PUNSUBSCRIBE"]);
        look(&mut observer);
        drop(a);
        testkit::wait_until(
            "the shard subscriber's close",
            Duration::from_secs(5),
            || {
                observer
                    .cmd_text(&["PUBSUB", "SHARDNUMSUB", "s2"])
                    .ends_with(":0\r\n")
            },
        );
        look(&mut observer);
        seen
    }
    let got = counters(&Server::lite(&["--threads", "2"]));
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    assert_eq!(got, counters(&redis));
}

/// Inside EXEC, the pushes a transaction sends its own client are part of EXEC's reply, each
/// before its command's count, as Redis 7.0 writes them. (The transcripts cannot hold a
/// transaction: their marker PINGs would be queued.)
#[test]
fn own_pushes_inside_exec_match_redis() {
    differential_both_protocols(&[
        &["SSUBSCRIBE", "s"],
        &["SUBSCRIBE", "c"],
        &["MULTI"],
        &["SPUBLISH", "s", "in a transaction"],
        &["PUBLISH", "c", "classic in a transaction"],
        &["EXEC"],
        &["PING"],
    ]);
}

/// A script that publishes to a channel its own caller is subscribed to gets the count as
/// `redis.call`'s result, and the caller still receives the push. (Redis writes the push ahead
/// of the script's reply; here it follows it.)
#[test]
fn script_publishing_to_its_caller_gets_the_count() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.cmd(&["HELLO", "3"]);
    raw.cmd(&["SSUBSCRIBE", "s"]);
    raw.cmd(&["SUBSCRIBE", "c"]);
    for (publish, push) in [
        ("spublish", ">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n"),
        ("publish", ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"),
    ] {
        let channel = if publish == "spublish" { "s" } else { "c" };
        let script = format!("return redis.call('{publish}', '{channel}', 'm')");
        let mut frames = vec![
            raw.cmd_text(&["EVAL", &script, "0"]),
            String::from_utf8(raw.read_reply()).unwrap(),
        ];
        frames.sort();
        assert_eq!(frames, [":1\r\n", push], "{publish}");
    }
}
