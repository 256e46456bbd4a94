//! What clients hold, as CLIENT LIST and CLIENT INFO report it (every field of Redis 7.0.15, in
//! its order, with real values), CLIENT HELP and CLIENT KILL against real Redis, and client
//! eviction (`maxmemory-clients`, CLIENT NO-EVICT, INFO `evicted_clients`). Where Redis behaves
//! the same, each test runs against real Redis too.

use redis_lite_testkit as testkit;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use testkit::{differential, encode, info_field, wait_until, Raw, Server};

/// CLIENT LIST's fields as Redis 7.0.15 prints them, in order.
const FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

/// The CLIENT LIST line of the client named `name`, as (field, value) pairs.
fn client_fields(raw: &mut Raw, name: &str) -> Option<Vec<(String, String)>> {
    let list = raw.cmd_text(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))?;
    Some(
        line.split(' ')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    &fields.iter().find(|(k, _)| k == name).unwrap().1
}

fn number(fields: &[(String, String)], name: &str) -> u64 {
    value(fields, name).parse().unwrap()
}

#[test]
fn client_help_matches_redis() {
    differential(&[&["CLIENT", "HELP"]], false);
}

#[test]
fn client_kill_and_list_errors_match_redis() {
    differential(
        &[
            &["CLIENT", "KILL", "1.2.3.4:5"],
            &["CLIENT", "KILL", "ID", "0"],
            &["CLIENT", "KILL", "ID", "abc"],
            &["CLIENT", "KILL", "ID", "999"],
            &["CLIENT", "KILL", "ID"],
            &["CLIENT", "KILL", "ID", "1", "TYPE"],
            &["CLIENT", "KILL", "TYPE", "foo"],
            &["CLIENT", "KILL", "TYPE", "master"],
            &["CLIENT", "KILL", "TYPE", "replica"],
            &["CLIENT", "KILL", "TYPE", "slave"],
            &["CLIENT", "KILL", "USER", "nobody"],
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            &["CLIENT", "KILL", "LADDR", "1.2.3.4:1"],
            &["CLIENT", "KILL", "ADDR", "1.2.3.4:1", "SKIPME", "no"],
            &["CLIENT", "KILL", "foo", "bar"],
            &["CLIENT", "NO-EVICT", "maybe"],
            &["CLIENT", "NO-EVICT", "on"],
            &["CLIENT", "NO-EVICT", "OFF"],
            &["CLIENT", "LIST", "TYPE", "foo"],
            &["CLIENT", "LIST", "ID", "abc"],
            &["CLIENT", "LIST", "ID", "0"],
            &["CLIENT", "LIST", "foo"],
        ],
        false,
    );
}

/// Every field Redis prints, in its order, and the values that mean the same on both servers:
/// a client in MULTI, one blocked, one halfway through sending a big argument, one with pending
/// output it does not read, and the caller itself.
#[test]
fn client_list_reports_what_each_client_holds_as_redis() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut observer = server.named("observer");

        let mut txn = server.named("txn");
        txn.expect_replies(&[
            (&["WATCH", "k"], "+OK\r\n"),
            (&["SET", "k", "changed"], "+OK\r\n"),
            (&["MULTI"], "+OK\r\n"),
            (&["SET", "a", "b"], "+QUEUED\r\n"),
            (&["SET", "a", "bbbbbbbbbbbbb"], "+QUEUED\r\n"),
        ]);
        let fields = client_fields(&mut observer, "txn").unwrap();
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, FIELDS, "{which}");
        // A transaction whose watched key changed keeps none of its commands.
        assert_eq!(
            value(&fields, "flags"),
            "xd",
            "{which}: in MULTI, watched key changed"
        );
        assert_eq!(value(&fields, "multi"), "0", "{which}");
        assert_eq!(value(&fields, "multi-mem"), "0", "{which}");
        assert_eq!(value(&fields, "cmd"), "set", "{which}");
        assert_eq!(value(&fields, "events"), "r", "{which}");
        assert_eq!(value(&fields, "user"), "default", "{which}");
        assert_eq!(value(&fields, "redir"), "-1", "{which}");
        txn.expect_replies(&[
            (&["DISCARD"], "+OK\r\n"),
            (&["MULTI"], "+OK\r\n"),
            (&["SET", "a", "b"], "+QUEUED\r\n"),
            (&["SET", "a", "bbbbbbbbbbbbb"], "+QUEUED\r\n"),
        ]);
        let fields = client_fields(&mut observer, "txn").unwrap();
        assert_eq!(value(&fields, "flags"), "x", "{which}");
        assert_eq!(value(&fields, "multi"), "2", "{which}");
        assert!(
            number(&fields, "multi-mem") >= 5 + 17,
            "{which}: {fields:?}"
        );
        txn.expect_replies(&[(&["DISCARD"], "+OK\r\n")]);
        let fields = client_fields(&mut observer, "txn").unwrap();
        assert_eq!(value(&fields, "multi"), "-1", "{which}");
        assert_eq!(value(&fields, "multi-mem"), "0", "{which}");

        let mut blocked = server.named("blocked");
        blocked.send(&encode(&[b"BLPOP", b"list", b"0"]));
        wait_until("the client blocks", Duration::from_secs(5), || {
            client_fields(&mut observer, "blocked").is_some_and(|f| value(&f, "flags") == "b")
        });
        let fields = client_fields(&mut observer, "blocked").unwrap();
        assert_eq!(number(&fields, "argv-mem"), 10, "{which}: BLPOP list 0");
        assert_eq!(value(&fields, "cmd"), "blpop", "{which}");

        // SET k <100000 bytes>, of which half arrived: SET and k are arguments, the rest waits
        // in the query buffer.
        let mut partial = server.named("partial");
        partial.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n");
        partial.send(&[b'y'; 50_000]);
        wait_until("half the value arrives", Duration::from_secs(5), || {
            number(&client_fields(&mut observer, "partial").unwrap(), "qbuf") == 50_000
        });
        let fields = client_fields(&mut observer, "partial").unwrap();
        assert_eq!(number(&fields, "argv-mem"), 4, "{which}: {fields:?}");
        assert!(number(&fields, "tot-mem") > 50_000, "{which}: {fields:?}");
        partial.send(&[b'y'; 50_000]);
        partial.send(b"\r\n");
        assert_eq!(partial.read_reply(), b"+OK\r\n");

        // 200 GETs of a 100 KB value, never read: the replies wait in the server.
        observer.ok(&[b"SET", b"big", &vec![b'v'; 100_000]]);
        let mut reader = server.named("non-reader");
        reader.send(&b"GET big\r\n".repeat(200));
        wait_until("the replies pile up", Duration::from_secs(10), || {
            let fields = client_fields(&mut observer, "non-reader").unwrap();
            value(&fields, "events") == "rw" && number(&fields, "omem") > 10_000_000
        });
        let fields = client_fields(&mut observer, "non-reader").unwrap();
        assert!(number(&fields, "oll") > 0, "{which}: {fields:?}");
        assert!(
            number(&fields, "tot-mem") > number(&fields, "omem"),
            "{which}"
        );
        // Redis refreshes the figure in its cron, client by client.
        wait_until("INFO counts the output", Duration::from_secs(5), || {
            let normal = info_field(&mut observer, "memory", "mem_clients_normal");
            normal.parse::<u64>().unwrap() > 10_000_000
        });
        assert_eq!(
            info_field(&mut observer, "memory", "mem_clients_slaves"),
            "0",
            "{which}"
        );

        // The caller sees its own command and its arguments.
        let info = observer.cmd_text(&["CLIENT", "INFO"]);
        assert!(info.contains(" argv-mem=10 "), "{which}: {info}");
        assert!(info.contains(" cmd=client|info "), "{which}: {info}");
    }
}

/// A client sending big arguments keeps its grown query buffer between them, as Redis does (so
/// its next one is read whole at once), and CLIENT LIST counts it (`qbuf-free`, `tot-mem`); the
/// buffer goes once the client sends only small requests for a while, or nothing.
#[test]
fn a_grown_query_buffer_is_kept_for_big_arguments_and_freed_when_idle() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut observer = server.named("observer");
        let mut big = server.named("big");
        let value = vec![b'v'; 100_000];
        let query_buffer_free =
            |observer: &mut Raw| number(&client_fields(observer, "big").unwrap(), "qbuf-free");

        big.ok(&[b"SET", b"k", &value]);
        let fields = client_fields(&mut observer, "big").unwrap();
        assert!(
            number(&fields, "qbuf-free") >= 100_000,
            "{which}: {fields:?}"
        );
        assert!(number(&fields, "tot-mem") > 100_000, "{which}: {fields:?}");

        // Small requests one at a time: the big buffer is not kept for them (Redis's cron
        // shrinks it to what they use, redis-lite gives it back after a few).
        wait_until(
            "small requests let the buffer go",
            Duration::from_secs(10),
            || {
                for _ in 0..20 {
                    assert_eq!(big.cmd(&["GET", "missing"]), b"$-1\r\n");
                }
                query_buffer_free(&mut observer) < 32 * 1024
            },
        );

        big.ok(&[b"SET", b"k", &value]);
        assert!(query_buffer_free(&mut observer) >= 100_000, "{which}");
        wait_until(
            "the idle client's buffer is freed",
            Duration::from_secs(10),
            || query_buffer_free(&mut observer) == 0,
        );
        let fields = client_fields(&mut observer, "big").unwrap();
        assert!(number(&fields, "tot-mem") < 100_000, "{which}: {fields:?}");
    }
}

/// CLIENT KILL's filters together, as Redis: the matching clients but the caller.
#[test]
fn client_kill_filters_combine() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut caller = server.named("caller");
        let mut subscriber = server.named("subscriber");
        subscriber.send(&encode(&[b"SUBSCRIBE", b"news"]));
        subscriber.read_reply();
        let mut normal = server.named("normal");
        let normal_id = normal.cmd_text(&["CLIENT", "ID"]);
        let normal_id = normal_id.trim_start_matches(':').trim();
        let normal_addr = value(&client_fields(&mut caller, "normal").unwrap(), "addr").to_string();

        assert_eq!(
            caller.cmd_text(&["CLIENT", "KILL", "TYPE", "pubsub", "ID", normal_id]),
            ":0\r\n",
            "{which}: no client is both"
        );
        assert_eq!(
            caller.cmd_text(&["CLIENT", "KILL", "TYPE", "pubsub", "USER", "default"]),
            ":1\r\n",
            "{which}"
        );
        assert!(subscriber.is_closed(), "{which}");
        assert_eq!(
            caller.cmd_text(&["CLIENT", "KILL", "ADDR", &normal_addr, "TYPE", "normal"]),
            ":1\r\n",
            "{which}"
        );
        assert!(normal.is_closed(), "{which}");
        // Everyone normal but the caller (SKIPME yes by default): nobody else is left.
        assert_eq!(
            caller.cmd_text(&["CLIENT", "KILL", "TYPE", "normal"]),
            ":0\r\n",
            "{which}"
        );
    }
}

/// CLIENT KILL's filters as Redis 7.0 has them: MAXAGE (Redis 7.4) is a syntax error, as is a
/// filter without its value.
#[test]
fn client_kill_filters_are_redis_7_0s() {
    differential(
        &[
            &["CLIENT", "KILL", "MAXAGE", "100", "SKIPME", "no"],
            &["CLIENT", "KILL", "MAXAGE", "x"],
            &["CLIENT", "KILL", "ID"],
            &["CLIENT", "KILL", "ID", "0"],
            &["CLIENT", "KILL", "TYPE", "nosuch"],
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            &["CLIENT", "KILL", "USER", "nosuch"],
            &["CLIENT", "KILL", "ADDR", "1.2.3.4:5", "LADDR", "6.7.8.9:10"],
        ],
        false,
    );
}

/// Starts a command whose last argument is `size` bytes and sends all of it but its end, so it
/// stays in the query buffer.
fn send_partial_argument(raw: &mut Raw, size: usize) {
    raw.send(format!("*2\r\n$4\r\nECHO\r\n${size}\r\n").as_bytes());
    raw.send(&vec![b'x'; size - 1]);
}

/// Sends a command whose argument of `size` bytes never ends from a new connection, and
/// tells whether the server then closes it (it may do so before it has read everything).
fn evicted_while_sending(server: &Server, size: usize) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut sent = stream.write_all(format!("*2\r\n$4\r\nECHO\r\n${size}\r\n").as_bytes());
    if sent.is_ok() {
        sent = stream.write_all(&vec![b'x'; size - 1]);
    }
    if sent.is_err() {
        return true;
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut chunk = [0u8; 64];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// Issue 16: with `maxmemory-clients`, a client whose query buffer takes it over the limit is
/// disconnected and counted in `evicted_clients`; a `CLIENT NO-EVICT on` client is not, while
/// evictable ones still are.
#[test]
fn maxmemory_clients_evicts_but_not_no_evict_clients() {
    for (which, server) in Server::lite_and_redis(&["--maxmemory-clients", "1mb"]) {
        let mut observer = server.named("observer");
        observer.expect_replies(&[(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n")]);

        assert!(
            evicted_while_sending(&server, 3 << 20),
            "{which}: the hog is evicted"
        );
        assert_eq!(
            info_field(&mut observer, "stats", "evicted_clients"),
            "1",
            "{which}"
        );

        let mut protected = server.named("protected");
        protected.expect_replies(&[(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n")]);
        let flags = value(&client_fields(&mut observer, "protected").unwrap(), "flags").to_string();
        assert_eq!(flags, "e", "{which}");
        send_partial_argument(&mut protected, 3 << 20);
        wait_until("the argument arrives", Duration::from_secs(10), || {
            client_fields(&mut observer, "protected")
                .is_some_and(|f| number(&f, "tot-mem") > 2 << 20)
        });
        // While the protected client holds more than the limit, any evictable client goes: at
        // its first command or at the cron's next run, whichever comes first, so the bystander
        // sends nothing it waits on (naming itself, it was at times evicted before the reply).
        let mut bystander = server.raw();
        bystander.send(&encode(&[b"PING"]));
        assert!(bystander.is_closed(), "{which}: the bystander is evicted");
        // The protected client is still served.
        protected.send(b"x\r\n");
        assert_eq!(protected.read_reply().len(), (3 << 20) + 12, "{which}");
        assert_eq!(
            info_field(&mut observer, "stats", "evicted_clients"),
            "2",
            "{which}"
        );
    }
}

/// Over `maxmemory-clients` the client holding the most goes first: a modest client stays
/// while a larger one takes the total over the limit.
#[test]
fn maxmemory_clients_evicts_the_hungriest_client_first() {
    for (which, server) in Server::lite_and_redis(&["--maxmemory-clients", "4mb"]) {
        let mut observer = server.named("observer");
        observer.expect_replies(&[(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n")]);
        let mut modest = server.named("modest");
        send_partial_argument(&mut modest, 1_500_000);
        wait_until(
            "the modest argument arrives",
            Duration::from_secs(10),
            || {
                client_fields(&mut observer, "modest")
                    .is_some_and(|f| number(&f, "qbuf") > 1_400_000)
            },
        );
        assert!(
            evicted_while_sending(&server, 3_000_000),
            "{which}: the hungry client is evicted"
        );
        assert!(
            client_fields(&mut observer, "modest").is_some(),
            "{which}: the modest client stays"
        );
        modest.send(b"x\r\n");
        assert_eq!(modest.read_reply().len(), 1_500_000 + 12, "{which}");
        assert_eq!(
            info_field(&mut observer, "stats", "evicted_clients"),
            "1",
            "{which}"
        );
    }
}

/// A client that pipelines reads of a large value and never reads the replies is evicted once
/// its pending replies take it over `maxmemory-clients` (here a share of `maxmemory`, set at
/// run time); the others stay.
#[test]
fn maxmemory_clients_evicts_a_client_whose_replies_pile_up() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut observer = server.named("observer");
        observer.ok(&[b"CONFIG", b"SET", b"maxmemory-clients", b"5%"]);
        observer.ok(&[b"CONFIG", b"SET", b"maxmemory", b"100mb"]);
        observer.ok(&[b"SET", b"big", &vec![b'v'; 100_000]]);
        let mut reader = server.named("non-reader");
        reader.send(&b"GET big\r\n".repeat(500));
        wait_until("the non-reader is evicted", Duration::from_secs(10), || {
            client_fields(&mut observer, "non-reader").is_none()
        });
        assert_eq!(
            info_field(&mut observer, "stats", "evicted_clients"),
            "1",
            "{which}"
        );
        assert_eq!(observer.cmd_text(&["PING"]), "+PONG\r\n", "{which}");
    }
}

/// A subscriber that does not read is evicted once the messages waiting for it take it over
/// the limit, before its output buffer limit (32 MB for pub/sub) would close it.
#[test]
fn maxmemory_clients_evicts_a_subscriber_whose_messages_pile_up() {
    for (which, server) in Server::lite_and_redis(&["--maxmemory-clients", "2mb"]) {
        let mut observer = server.named("observer");
        let mut subscriber = server.named("subscriber");
        subscriber.send(&encode(&[b"SUBSCRIBE", b"news"]));
        subscriber.read_reply();
        let message = vec![b'm'; 100_000];
        wait_until("the subscriber is evicted", Duration::from_secs(10), || {
            observer.ok(&[b"PUBLISH", b"news", &message]);
            client_fields(&mut observer, "subscriber").is_none()
        });
        assert_eq!(
            info_field(&mut observer, "stats", "evicted_clients"),
            "1",
            "{which}"
        );
    }
}

/// The flags and `redir` of tracking clients (`t`, `B`, `R` once the redirect target left) and
/// of a monitor (`O`), as Redis shows them.
#[test]
fn client_list_flags_of_tracking_and_monitor_clients_match_redis() {
    let mut seen = Vec::new();
    for (program, server) in Server::lite_and_redis(&[]) {
        let mut target = server.named("target");
        let target_id = target.cmd_text(&["CLIENT", "ID"]);
        let target_id = target_id.trim_start_matches(':').trim_end();
        let mut plain = server.named("plain");
        plain.cmd(&["CLIENT", "TRACKING", "ON"]);
        let mut bcast = server.named("bcast");
        bcast.cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"]);
        let mut redirected = server.named("redirected");
        redirected.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", target_id]);
        let mut monitor = server.named("monitor");
        monitor.expect_replies(&[(&["MONITOR"], "+OK\r\n")]);
        drop(target);
        let mut observer = server.raw();
        wait_until(
            "the redirect target to be gone",
            Duration::from_secs(10),
            || client_fields(&mut observer, "target").is_none(),
        );
        // A write to a key the redirected client read finds its target gone.
        redirected.cmd(&["GET", "k"]);
        observer.cmd(&["SET", "k", "v"]);
        let mut flags = Vec::new();
        for name in ["plain", "bcast", "redirected", "monitor"] {
            let fields = client_fields(&mut observer, name).unwrap();
            let redir = match value(&fields, "redir") {
                "0" | "-1" => value(&fields, "redir").to_string(),
                id if id == target_id => "target".to_string(),
                other => other.to_string(),
            };
            flags.push(format!("{name}: {} {redir}", value(&fields, "flags")));
        }
        seen.push((program, flags));
    }
    assert_eq!(
        seen[0].1,
        [
            "plain: t 0",
            "bcast: tB 0",
            "redirected: tR target",
            "monitor: O -1"
        ]
    );
    if let Some((_, redis)) = seen.get(1) {
        assert_eq!(&seen[0].1, redis);
    }
}

/// Sends `command(i)` for i = 0, 1, ... on a new connection, each once the previous one was
/// answered, until the server closes the connection or `max` were answered; returns how many
/// were answered.
fn answered_until_closed(server: &Server, max: usize, command: impl Fn(usize) -> String) -> usize {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    for answered in 0..max {
        let line = command(answered);
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        if stream.write_all(&encode(&args)).is_err() {
            return answered;
        }
        loop {
            if let Some(n) = testkit::frame_len(&buf) {
                buf.drain(..n);
                break;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) => return answered,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return answered,
                Err(e) => panic!("no reply to {line:?}: {e}"),
            }
        }
    }
    max
}

/// Redis counts a client's entries in shared tables in its `tot-mem` (a watched key 56 bytes,
/// a channel or shard channel 32, a pattern 24, a tracking prefix about 32), so a client that
/// keeps adding them is evicted under `maxmemory-clients` (client-eviction.tcl's "watched key
/// list", "pubsub subscriptions" and "client tracking prefixes"); redis-lite left them out and
/// never evicted it.
#[test]
fn watched_keys_subscriptions_and_tracking_prefixes_count_toward_client_eviction() {
    // The command that adds the i-th entry.
    type Adding = fn(usize) -> String;
    let commands: [(&str, Adding); 5] = [
        ("WATCH", |i| format!("WATCH {i}")),
        ("SUBSCRIBE", |i| format!("SUBSCRIBE {i}")),
        ("PSUBSCRIBE", |i| format!("PSUBSCRIBE {i}")),
        ("SSUBSCRIBE", |i| format!("SSUBSCRIBE {i}")),
        ("CLIENT TRACKING PREFIX", |i| {
            format!("CLIENT TRACKING on PREFIX {i:012} BCAST")
        }),
    ];
    for (which, server) in Server::lite_and_redis(&["--maxmemory-clients", "200000"]) {
        let mut observer = server.named("observer");
        observer.expect_replies(&[(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n")]);
        for (evicted, (name, command)) in commands.into_iter().enumerate() {
            // 200,000 bytes take 3,500 to 8,300 entries past what the connection holds.
            let answered = answered_until_closed(&server, 20_000, command);
            assert!(
                (1000..10_000).contains(&answered),
                "{which}: {name}: evicted after {answered} commands"
            );
            assert_eq!(
                info_field(&mut observer, "stats", "evicted_clients"),
                (evicted + 1).to_string(),
                "{which}: {name}"
            );
        }
    }
}

/// Item 37 of REDIS_SUITE.md (maxmemory.tcl's "client eviction: true" tests): under
/// `maxmemory` with `maxmemory-clients`, clients that hold much are evicted before any key, as
/// Redis checks client memory before every command and after each read. redis-lite added
/// client memory up only in its cron, so meanwhile the clients took used memory past
/// `maxmemory` and keys went first. Here, as in that test, 30 clients each send 250 KB of a
/// command that never ends.
#[test]
fn clients_are_evicted_before_keys_under_maxmemory() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut admin = server.named("admin");
        admin.ok(&[b"CONFIG", b"SET", b"maxmemory", b"11mb"]);
        admin.ok(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru"]);
        admin.ok(&[b"CONFIG", b"SET", b"maxmemory-clients", b"3mb"]);
        admin.expect_replies(&[(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n")]);
        for i in 0..50 {
            admin.ok(&[b"SETRANGE", i.to_string().as_bytes(), b"100000", b"x"]);
        }
        let argument = [b"$1000\r\n".as_slice(), &[b'x'; 1000], b"\r\n"].concat();
        let mut senders = Vec::new();
        for _ in 0..30 {
            let mut sender = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            let mut sent = sender.write_all(b"*250\r\n");
            for _ in 0..249 {
                sent = sent.and_then(|()| sender.write_all(&argument));
            }
            if sent.is_ok() {
                senders.push(sender);
            }
        }
        wait_until("clients are evicted", Duration::from_secs(10), || {
            info_field(&mut admin, "stats", "evicted_clients") != "0"
        });
        assert_eq!(
            info_field(&mut admin, "stats", "evicted_keys"),
            "0",
            "{which}: no key is evicted"
        );
        assert_eq!(admin.cmd_text(&["DBSIZE"]), ":50\r\n", "{which}");
    }
}

/// maxmemory.tcl's "eviction due to output buffers of many MGET clients, client eviction:
/// true": 20 clients that never read send `MGET` of a 100 KB value round after round, as fast
/// as they can. Redis updates a client's memory after each command and frees a client it
/// evicts at once, so clients go and no key does. redis-lite counted a connection's replies
/// once per batch of pipelined commands, and an evicted client's buffers until its connection
/// closed: a key eviction in between paid for both (keys evicted in most runs). Three rounds
/// on each server, with one event loop (the default on a small machine, as the suite runs it)
/// and with two.
#[test]
fn clients_piling_up_replies_are_evicted_before_keys() {
    let servers = [
        Server::lite(&["--threads", "1"]),
        Server::lite(&["--threads", "2"]),
    ]
    .into_iter()
    .map(|server| ("redis-lite", server))
    .chain(Server::redis(&[]).map(|redis| ("redis", redis)));
    for (which, server) in servers {
        for round in 0..3 {
            let mut admin = server.named("admin");
            admin.ok(&[b"FLUSHALL"]);
            admin.ok(&[b"CONFIG", b"SET", b"maxmemory", b"11mb"]);
            admin.ok(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru"]);
            admin.ok(&[b"CONFIG", b"SET", b"maxmemory-clients", b"3mb"]);
            admin.expect_replies(&[(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n")]);
            admin.ok(&[b"CONFIG", b"RESETSTAT"]);
            for i in 0..50 {
                admin.ok(&[b"SETRANGE", i.to_string().as_bytes(), b"100000", b"x"]);
            }
            let mget = encode(&[b"MGET", b"1"]);
            let mut readers: Vec<TcpStream> = (0..20)
                .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
                .collect();
            let evicted = |admin: &mut Raw, what: &str| {
                info_field(admin, "stats", what).parse::<u64>().unwrap()
            };
            let started = std::time::Instant::now();
            while evicted(&mut admin, "evicted_clients") == 0
                && evicted(&mut admin, "evicted_keys") == 0
                && started.elapsed() < Duration::from_secs(20)
            {
                readers.retain_mut(|reader| reader.write_all(&mget).is_ok());
            }
            // What the eviction that stopped the loop set off finishes first.
            std::thread::sleep(Duration::from_millis(200));
            assert!(
                evicted(&mut admin, "evicted_clients") > 0,
                "{which}, round {round}: clients are evicted"
            );
            assert_eq!(
                evicted(&mut admin, "evicted_keys"),
                0,
                "{which}, round {round}: no key is evicted"
            );
            assert_eq!(
                admin.cmd_text(&["DBSIZE"]),
                ":50\r\n",
                "{which}, round {round}"
            );
        }
    }
}

/// client-eviction.tcl's "evict clients only until below limit" and "evict clients in right
/// order" turn DEBUG REPLYBUFFER RESIZING off so that each client's memory stays as it is: a
/// client then keeps its own grown buffers, but no other client gets them. redis-lite's
/// buffer pool handed a 1 MB buffer of a closed client to the next one to read (the tests'
/// control client), which then held over 1 MB.
#[test]
fn no_client_inherits_a_buffer_another_grew() {
    for (which, server) in Server::lite_and_redis(&["--enable-debug-command", "yes"]) {
        let mut observer = server.named("observer");
        observer.ok(&[b"DEBUG", b"REPLYBUFFER", b"RESIZING", b"0"]);
        // Clients that grow both their buffers to 1 MB, then go.
        for _ in 0..5 {
            let mut big = server.named("big");
            big.ok(&[b"SET", b"k", &vec![b'v'; 1 << 20]]);
            assert_eq!(big.cmd(&["GET", "k"]).len(), (1 << 20) + 12, "{which}");
        }
        wait_until("the big clients are gone", Duration::from_secs(10), || {
            client_fields(&mut observer, "big").is_none()
        });
        for _ in 0..10 {
            assert_eq!(observer.cmd_text(&["PING"]), "+PONG\r\n");
        }
        let fields = client_fields(&mut observer, "observer").unwrap();
        assert!(number(&fields, "tot-mem") < 200_000, "{which}: {fields:?}");
        observer.ok(&[b"DEBUG", b"REPLYBUFFER", b"RESIZING", b"1"]);
    }
}
