//! Pub/sub: subscriptions, delivery across connections and threads, RESP2's subscribed-mode
//! restrictions, RESP3 pushes mixed with replies, and the output buffer limit for slow readers.
use redis_lite_testkit as testkit;

use std::io::Read;
use std::time::Duration;

use testkit::{differential, Server};

#[test]
fn subscription_replies_match_redis() {
    differential(
        testkit::script!("pubsub/subscription_replies_match_redis"),
        false,
    );
}

#[test]
fn resp3_subscriptions_match_redis() {
    differential(
        &[
            &["SUBSCRIBE", "a"],
            &["PING"],
            &["GET", "k"],
            &["SET", "k", "v"],
            &["UNSUBSCRIBE", "a"],
            &["RESET"],
        ],
        true,
    );
}

/// Runs a two-client scenario and returns what each read, so the two servers can be compared.
fn two_clients(server: &Server, resp3: bool) -> Vec<Vec<u8>> {
    let mut sub = server.raw();
    let mut publisher = server.raw();
    let mut seen = Vec::new();
    if resp3 {
        sub.cmd(&["HELLO", "3"]);
    }
    seen.push(sub.cmd(&["SUBSCRIBE", "news", "sport"]));
    seen.push(sub.read_reply());
    seen.push(sub.cmd(&["PSUBSCRIBE", "n*"]));
    seen.push(publisher.cmd(&["PUBLISH", "news", "hello"]));
    seen.push(sub.read_reply());
    seen.push(sub.read_reply());
    seen.push(publisher.cmd(&["PUBLISH", "sport", "goal"]));
    seen.push(sub.read_reply());
    seen.push(publisher.cmd(&["PUBSUB", "NUMSUB", "news", "sport", "none"]));
    seen.push(publisher.cmd(&["PUBSUB", "NUMPAT"]));
    seen.push(publisher.cmd(&["PUBSUB", "CHANNELS", "n*"]));
    seen.push(sub.cmd(&["UNSUBSCRIBE", "news"]));
    seen.push(publisher.cmd(&["PUBLISH", "news", "again"]));
    seen.push(sub.read_reply());
    if resp3 {
        // In RESP3 a subscriber may run ordinary commands between messages.
        seen.push(sub.cmd(&["SET", "k", "v"]));
        seen.push(sub.cmd(&["GET", "k"]));
    }
    drop(sub);
    std::thread::sleep(Duration::from_millis(100));
    seen.push(publisher.cmd(&["PUBLISH", "sport", "nobody left"]));
    seen
}

#[test]
fn delivery_between_clients_matches_redis() {
    for resp3 in [false, true] {
        let lite = Server::lite(&["--threads", "2"]);
        let got = two_clients(&lite, resp3);
        let text = |v: &[Vec<u8>]| {
            v.iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect::<Vec<_>>()
        };
        match Server::redis(&[]) {
            Some(redis) => assert_eq!(
                text(&got),
                text(&two_clients(&redis, resp3)),
                "resp3={resp3}"
            ),
            None => assert_eq!(
                got[3], b":2\r\n",
                "news reaches the channel and the pattern subscriber"
            ),
        }
    }
}

#[test]
fn messages_cross_event_loops() {
    let server = Server::lite(&["--threads", "4"]);
    let mut subscribers: Vec<_> = (0..8).map(|_| server.raw()).collect();
    for s in &mut subscribers {
        s.cmd(&["SUBSCRIBE", "fanout"]);
    }
    let mut publisher = server.raw();
    let pubsub_clients = publisher.cmd_text(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(
        pubsub_clients.matches("flags=P ").count(),
        8,
        "{pubsub_clients}"
    );
    assert_eq!(
        pubsub_clients.matches(" sub=1 psub=0 ").count(),
        8,
        "{pubsub_clients}"
    );
    assert_eq!(publisher.cmd_text(&["PUBLISH", "fanout", "m1"]), ":8\r\n");
    for s in &mut subscribers {
        assert_eq!(
            s.read_reply(),
            b"*3\r\n$7\r\nmessage\r\n$6\r\nfanout\r\n$2\r\nm1\r\n"
        );
    }
}

#[test]
fn slow_subscriber_is_disconnected_at_the_output_buffer_limit() {
    let server = Server::lite(&[
        "--client-output-buffer-limit",
        "pubsub",
        "64kb",
        "32kb",
        "60",
    ]);
    let mut slow = server.raw();
    slow.cmd(&["SUBSCRIBE", "flood"]);
    // Stop reading: shrink the receive buffer so the server's writes back up.
    let socket = socket2::SockRef::from(&slow.stream);
    let _ = socket.set_recv_buffer_size(4096);
    let mut publisher = server.raw();
    // Large messages, pipelined in batches, fill the kernel's socket buffers in few round trips.
    let payload = vec![b'x'; 32 * 1024];
    let batch: Vec<u8> = (0..50)
        .flat_map(|_| testkit::encode(&[b"PUBLISH", b"flood", &payload]))
        .collect();
    let mut receivers = 1;
    'flood: for _ in 0..100 {
        publisher.send(&batch);
        for _ in 0..50 {
            if publisher.read_reply() == b":0\r\n" {
                receivers = 0;
                break 'flood;
            }
        }
    }
    assert_eq!(
        receivers, 0,
        "the slow subscriber was dropped once it passed the hard limit"
    );
    // The connection notices it was killed and leaves the client list.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let clients = publisher.cmd_text(&["CLIENT", "LIST"]);
        if clients.matches("id=").count() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{clients}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The connection is closed: reading eventually reaches EOF.
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut sink = vec![0u8; 1 << 20];
    loop {
        match slow.stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
}

/// The admission rules apply in Redis's order: out of memory and MISCONF come before RESP2's
/// subscribed-mode restriction, and `no_multi` before out of memory.
#[test]
fn admission_rules_apply_in_redis_order() {
    testkit::differential_with(
        testkit::script!("pubsub/admission_rules_apply_in_redis_order"),
        false,
        &["--maxmemory", "1"],
    );
}

/// What a subscriber that set CLIENT REPLY OFF receives: its confirmations and messages are
/// pushes (arrays in RESP2), not replies, and still come.
fn quiet_subscriber(server: &Server, resp3: bool) -> Vec<String> {
    let mut subscriber = server.raw();
    let mut publisher = server.raw();
    if resp3 {
        subscriber.cmd(&["HELLO", "3"]);
    }
    for command in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SUBSCRIBE", "ch", "other"],
        &["PSUBSCRIBE", "c*"],
    ] {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        subscriber.send(&testkit::encode(&args));
    }
    testkit::wait_until("the pattern subscription", Duration::from_secs(5), || {
        publisher.cmd_text(&["PUBSUB", "NUMPAT"]) == ":1\r\n"
    });
    publisher.cmd(&["PUBLISH", "ch", "hi"]);
    // Named: without names, the order of the confirmations is each server's table order.
    for command in [
        &["UNSUBSCRIBE", "other", "ch"][..],
        &["PUNSUBSCRIBE", "c*"],
        &["CLIENT", "REPLY", "ON"],
    ] {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        subscriber.send(&testkit::encode(&args));
    }
    let mut received = Vec::new();
    loop {
        let frame = subscriber.read_reply();
        if frame == b"+OK\r\n" {
            return received;
        }
        received.push(String::from_utf8_lossy(&frame).into_owned());
    }
}

#[test]
fn a_subscriber_with_replies_off_still_gets_its_pushes() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in a_subscriber_with_replies_off_still_gets_its_pushes)");
        return;
    };
    let lite = Server::lite(&[]);
    for resp3 in [false, true] {
        let expected = quiet_subscriber(&redis, resp3);
        assert_eq!(quiet_subscriber(&lite, resp3), expected, "resp3: {resp3}");
    }
}

/// A subscriber with CLIENT REPLY OFF that subscribes inside MULTI/EXEC: EXEC's replies are
/// silenced, the subscribe confirmations (pushes) come, then the messages.
fn quiet_transaction(server: &Server, resp3: bool) -> Vec<String> {
    let mut subscriber = server.raw();
    let mut publisher = server.raw();
    if resp3 {
        subscriber.cmd(&["HELLO", "3"]);
    }
    let send = |raw: &mut testkit::Raw, command: &[&str]| {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        raw.send(&testkit::encode(&args));
    };
    for command in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["MULTI"],
        &["PING"],
        &["SUBSCRIBE", "ch", "other"],
        &["GET", "k"],
        &["EXEC"],
    ] {
        send(&mut subscriber, command);
    }
    testkit::wait_until("the subscriptions", Duration::from_secs(5), || {
        publisher.cmd_text(&["PUBSUB", "NUMSUB", "other"]) == "*2\r\n$5\r\nother\r\n:1\r\n"
    });
    publisher.cmd(&["PUBLISH", "ch", "hi"]);
    send(&mut subscriber, &["UNSUBSCRIBE", "other", "ch"]);
    send(&mut subscriber, &["CLIENT", "REPLY", "ON"]);
    let mut received = Vec::new();
    loop {
        let frame = subscriber.read_reply();
        if frame == b"+OK\r\n" {
            return received;
        }
        received.push(String::from_utf8_lossy(&frame).into_owned());
    }
}

#[test]
fn a_subscriber_with_replies_off_gets_the_pushes_of_its_transaction() {
    let lite = Server::lite(&[]);
    let resp3 = quiet_transaction(&lite, true);
    assert_eq!(
        resp3[..2],
        [
            ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
            ">3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:2\r\n"
        ]
    );
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in a_subscriber_with_replies_off_gets_the_pushes_of_its_transaction)");
        return;
    };
    for resp3 in [false, true] {
        let expected = quiet_transaction(&redis, resp3);
        assert_eq!(quiet_transaction(&lite, resp3), expected, "resp3: {resp3}");
    }
}
