//! Blocking list operations: replies as in Redis, wake-ups across event loops in first-come
//! first-served order, timeouts, CLIENT UNBLOCK, and clean-up when a blocked client leaves.
use redis_lite_testkit as testkit;

use std::time::{Duration, Instant};

use testkit::{differential, Server};

#[test]
fn blocking_replies_match_redis() {
    differential(
        testkit::script!("blocking/blocking_replies_match_redis"),
        false,
    );
}

pub(crate) fn client_id(raw: &mut testkit::Raw) -> String {
    raw.cmd_text(&["CLIENT", "ID"])
        .trim_start_matches(':')
        .trim()
        .to_string()
}

/// Waits until the server reports `n` blocked clients.
pub(crate) fn wait_blocked(raw: &mut testkit::Raw, n: usize) {
    testkit::wait_until(
        &format!("{n} blocked clients"),
        Duration::from_secs(5),
        || testkit::info_field(raw, "clients", "blocked_clients") == n.to_string(),
    );
}

#[test]
fn a_push_on_another_thread_wakes_blocked_clients_in_order() {
    let server = Server::lite(&["--threads", "4"]);
    let mut control = server.raw();
    let mut waiters: Vec<_> = (0..3).map(|_| server.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send(&testkit::encode(&[b"BLPOP", b"queue", b"0"]));
        wait_blocked(&mut control, i + 1);
    }
    for item in ["first", "second", "third"] {
        control.cmd(&["RPUSH", "queue", item]);
    }
    for (w, item) in waiters.iter_mut().zip(["first", "second", "third"]) {
        let expected = format!("*2\r\n$5\r\nqueue\r\n${}\r\n{item}\r\n", item.len());
        assert_eq!(String::from_utf8(w.read_reply()).unwrap(), expected);
    }
    wait_blocked(&mut control, 0);
    assert_eq!(control.cmd_text(&["LLEN", "queue"]), ":0\r\n");
}

#[test]
fn one_push_of_many_elements_serves_several_waiters() {
    let server = Server::lite(&["--threads", "2"]);
    let mut control = server.raw();
    let mut waiters: Vec<_> = (0..2).map(|_| server.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send(&testkit::encode(&[b"BRPOP", b"q", b"0"]));
        wait_blocked(&mut control, i + 1);
    }
    control.cmd(&["LPUSH", "q", "a", "b", "c"]);
    assert_eq!(waiters[0].read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(waiters[1].read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    assert_eq!(
        control.cmd_text(&["LRANGE", "q", "0", "-1"]),
        "*1\r\n$1\r\nc\r\n"
    );
}

#[test]
fn timeouts_have_sub_second_precision() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let started = Instant::now();
    assert_eq!(raw.cmd_text(&["BLPOP", "nothing", "0.2"]), "*-1\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(
        raw.cmd_text(&["BLMOVE", "nothing", "d", "LEFT", "LEFT", "0.05"]),
        "*-1\r\n"
    );
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(raw.cmd_text(&["BLPOP", "nothing", "0.05"]), "_\r\n");
}

#[test]
fn client_unblock_with_timeout_or_error() {
    let server = Server::lite(&[]);
    let mut control = server.raw();
    let mut blocked = server.raw();
    let id = client_id(&mut blocked);
    blocked.send(&testkit::encode(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&mut control, 1);
    assert!(control
        .cmd_text(&["CLIENT", "LIST", "ID", &id])
        .contains("flags=b "));
    assert_eq!(control.cmd_text(&["CLIENT", "UNBLOCK", &id]), ":1\r\n");
    assert_eq!(blocked.read_reply(), b"*-1\r\n");
    assert_eq!(
        control.cmd_text(&["CLIENT", "UNBLOCK", &id]),
        ":0\r\n",
        "no longer blocked"
    );
    blocked.send(&testkit::encode(&[
        b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0",
    ]));
    wait_blocked(&mut control, 1);
    assert_eq!(
        control.cmd_text(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        ":1\r\n"
    );
    assert_eq!(
        blocked.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
}

/// A blocked command ended by CLIENT UNBLOCK ERROR is one failed call of it, with one UNBLOCKED
/// error (Redis's info suite; redis-lite counted the error but not the failed call).
#[test]
fn client_unblock_error_counts_a_failed_call_as_redis_does() {
    let stats = |server: &Server| {
        let mut control = server.raw();
        let mut blocked = server.raw();
        control.cmd(&["CONFIG", "RESETSTAT"]);
        let id = client_id(&mut blocked);
        blocked.send(&testkit::encode(&[b"BLPOP", b"list", b"0"]));
        wait_blocked(&mut control, 1);
        control.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]);
        blocked.read_reply();
        let blpop = testkit::info_field(&mut control, "commandstats", "cmdstat_blpop");
        // The timing fields differ from run to run.
        let counts: Vec<&str> = blpop
            .split(',')
            .filter(|field| !field.starts_with("usec"))
            .collect();
        (
            counts.join(","),
            testkit::info_field(&mut control, "errorstats", "errorstat_UNBLOCKED"),
            testkit::info_field(&mut control, "stats", "total_error_replies"),
        )
    };
    let Some(redis) = Server::redis(&[]) else {
        testkit::skipped("redis-server is not on PATH");
        return;
    };
    assert_eq!(stats(&Server::lite(&[])), stats(&redis));
}

#[test]
fn commands_pipelined_after_a_blocking_one_wait_for_it() {
    let server = Server::lite(&[]);
    let mut control = server.raw();
    let mut blocked = server.raw();
    blocked.send(
        &[
            testkit::encode(&[b"BLPOP", b"k", b"0"]),
            testkit::encode(&[b"PING", b"after"]),
        ]
        .concat(),
    );
    wait_blocked(&mut control, 1);
    control.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(blocked.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    assert_eq!(blocked.read_reply(), b"$5\r\nafter\r\n");
}

#[test]
fn a_disconnected_waiter_leaves_nothing_behind() {
    let server = Server::lite(&[]);
    let mut control = server.raw();
    {
        let mut gone = server.raw();
        gone.send(&testkit::encode(&[b"BLPOP", b"k", b"0"]));
        wait_blocked(&mut control, 1);
    }
    wait_blocked(&mut control, 0);
    control.cmd(&["RPUSH", "k", "kept"]);
    assert_eq!(
        control.cmd_text(&["LRANGE", "k", "0", "-1"]),
        "*1\r\n$4\r\nkept\r\n"
    );
}

#[test]
fn blmove_chains_to_a_client_blocked_on_its_destination() {
    let server = Server::lite(&["--threads", "3"]);
    let mut control = server.raw();
    let mut last = server.raw();
    let mut middle = server.raw();
    last.send(&testkit::encode(&[b"BLPOP", b"dst", b"0"]));
    wait_blocked(&mut control, 1);
    middle.send(&testkit::encode(&[
        b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0",
    ]));
    wait_blocked(&mut control, 2);
    control.cmd(&["LPUSH", "src", "token"]);
    assert_eq!(middle.read_reply(), b"$5\r\ntoken\r\n");
    assert_eq!(last.read_reply(), b"*2\r\n$3\r\ndst\r\n$5\r\ntoken\r\n");
}

#[test]
fn blocking_zset_pops_match_redis() {
    for resp3 in [false, true] {
        differential(
            testkit::script!("blocking/blocking_zset_pops_match_redis"),
            resp3,
        );
    }
}

#[test]
fn zadd_wakes_a_client_blocked_in_bzpopmin() {
    let server = Server::lite(&["--threads", "2"]);
    let mut control = server.raw();
    let mut blocked = server.raw();
    blocked.send(&testkit::encode(&[b"BZPOPMIN", b"z", b"0"]));
    wait_blocked(&mut control, 1);
    control.cmd(&["ZADD", "z", "2", "two", "1", "one"]);
    assert_eq!(
        blocked.read_reply(),
        b"*3\r\n$1\r\nz\r\n$3\r\none\r\n$1\r\n1\r\n"
    );
    assert_eq!(control.cmd_text(&["ZCARD", "z"]), ":1\r\n");
}

/// A command that blocks is counted once in INFO commandstats, when it completes.
#[test]
fn blocked_commands_count_once() {
    let server = Server::lite(&[]);
    let mut control = server.raw();
    let mut blocked = server.raw();
    blocked.send(&testkit::encode(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&mut control, 1);
    control.cmd(&["RPUSH", "k", "v"]);
    blocked.read_reply();
    blocked.cmd(&["BLPOP", "empty", "0.01"]);
    let stats = control.cmd_text(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_blpop:calls=2,"), "{stats}");
}

/// What a client blocked by `blocking` (in database 0) reads after `setup` then `arrive` ran
/// on another connection. CLIENT UNBLOCK follows the arrival: a client the arrival served
/// already has its reply (or, woken first, keeps it), one left waiting reads the timeout's.
fn served_by_arrival(
    server: &Server,
    setup: &[&[&str]],
    blocking: &[&str],
    arrive: &[&str],
) -> String {
    let mut control = server.raw();
    control.cmd(&["FLUSHALL"]);
    for command in setup {
        control.cmd(command);
    }
    let mut blocked = server.raw();
    let id = client_id(&mut blocked);
    let args: Vec<&[u8]> = blocking.iter().map(|a| a.as_bytes()).collect();
    blocked.send(&testkit::encode(&args));
    wait_blocked(&mut control, 1);
    control.cmd(arrive);
    control.cmd(&["CLIENT", "UNBLOCK", &id]);
    String::from_utf8_lossy(&blocked.read_reply()).into_owned()
}

/// Redis signals a key ready whenever a value is added to a database, not only on a push: a
/// list, sorted set or stream that arrives by RENAME, MOVE, COPY, SWAPDB, RESTORE or SORT STORE serves the
/// clients blocked on its key; a value of another type leaves them waiting.
#[test]
fn a_value_arriving_by_rename_move_copy_or_swapdb_serves_blocked_clients() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in a_value_arriving_by_rename_move_copy_or_swapdb_serves_blocked_clients)");
        return;
    };
    let lite = Server::lite(&["--threads", "2"]);
    let list: &[&str] = &["RPUSH", "src", "a", "b"];
    let zset: &[&str] = &["ZADD", "src", "1", "m"];
    let stream: &[&str] = &["XADD", "src", "1-1", "f", "v"];
    let string: &[&str] = &["SET", "src", "x"];
    let in_db1 = |command: &'static [&'static str]| -> Vec<&'static [&'static str]> {
        vec![
            &["SELECT", "1"],
            command,
            &["RENAME", "src", "k"],
            &["SELECT", "0"],
        ]
    };
    // The commands run first, the blocking command, the command that brings the value.
    type Case<'a> = (Vec<&'a [&'a str]>, &'a [&'a str], &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (vec![list], &["BLPOP", "k", "0"], &["RENAME", "src", "k"]),
        (
            vec![list],
            &["BLMOVE", "k", "d", "LEFT", "RIGHT", "0"],
            &["RENAMENX", "src", "k"],
        ),
        (
            vec![list],
            &["BLMPOP", "0", "1", "k", "RIGHT"],
            &["COPY", "src", "k"],
        ),
        (vec![zset], &["BZPOPMIN", "k", "0"], &["RENAME", "src", "k"]),
        (
            vec![zset],
            &["BZMPOP", "0", "1", "k", "MAX"],
            &["COPY", "src", "k"],
        ),
        (
            vec![stream],
            &["XREAD", "BLOCK", "0", "STREAMS", "k", "0-0"],
            &["RENAME", "src", "k"],
        ),
        (vec![string], &["BLPOP", "k", "0"], &["RENAME", "src", "k"]),
        (vec![zset], &["BLPOP", "k", "0"], &["RENAME", "src", "k"]),
        (vec![list], &["BZPOPMIN", "k", "0"], &["COPY", "src", "k"]),
        (in_db1(list), &["BLPOP", "k", "0"], &["SWAPDB", "0", "1"]),
        (in_db1(zset), &["BZPOPMAX", "k", "0"], &["SWAPDB", "1", "0"]),
        (
            vec![&["SELECT", "1"], list, &["RENAME", "src", "k"]],
            &["BRPOP", "k", "0"],
            &["MOVE", "k", "0"],
        ),
        (
            vec![&["SELECT", "1"], list],
            &["BLPOP", "k", "0"],
            &["COPY", "src", "k", "DB", "0"],
        ),
        // Redis's suite: "BLPOP when result key is created by SORT..STORE".
        (
            vec![list],
            &["BLPOP", "k", "0"],
            &["SORT", "src", "ALPHA", "STORE", "k"],
        ),
    ];
    for (setup, blocking, arrive) in cases {
        let expected = served_by_arrival(&redis, &setup, blocking, arrive);
        let actual = served_by_arrival(&lite, &setup, blocking, arrive);
        assert_eq!(actual, expected, "{blocking:?} after {arrive:?}");
    }
}

/// Redis's own suite ("BRPOPLPUSH with wrong destination type"): a blocked BLMOVE or
/// BRPOPLPUSH woken by a push to its source while its destination holds another type is
/// answered WRONGTYPE, not left waiting, and the pushed element stays in the source.
#[test]
fn a_woken_move_to_a_destination_of_another_type_fails_with_wrongtype() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in a_woken_move_to_a_destination_of_another_type_fails_with_wrongtype)");
        return;
    };
    let lite = Server::lite(&["--threads", "2"]);
    let setup: &[&[&str]] = &[&["SET", "dst", "nolist"]];
    let blocking: [&[&str]; 2] = [
        &["BRPOPLPUSH", "src", "dst", "0"],
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
    ];
    for command in blocking {
        let mut outcomes = Vec::new();
        for server in [&redis, &lite] {
            let reply = served_by_arrival(server, setup, command, &["RPUSH", "src", "foo"]);
            let left = server.raw().cmd_text(&["LRANGE", "src", "0", "-1"]);
            outcomes.push((reply, left));
        }
        assert_eq!(outcomes[1], outcomes[0], "{command:?}");
    }
}

/// The clients a push wakes are served before the pusher's next command, as in Redis: a command
/// pipelined right after the push sees what the woken clients did (LLEN 0, the chain of
/// BLMOVEs finished, a WATCHed destination touched so EXEC aborts). One event loop, so without
/// the wait the pusher's whole pipeline would run before any woken client (the race of
/// Redis's "Circular BRPOPLPUSH" and "PUSH resulting from BRPOPLPUSH affect WATCH" tests);
/// four loops, so that woken clients on other threads are waited for too. Each case on both
/// servers.
#[test]
fn woken_clients_are_served_before_the_pushers_next_command() {
    let servers = [
        Server::redis(&[]),
        Some(Server::lite(&["--threads", "1"])),
        Some(Server::lite(&["--threads", "4"])),
    ];
    if servers[0].is_none() {
        println!("SKIPPED: redis-server is not on PATH (in woken_clients_are_served_before_the_pushers_next_command, Redis's half)");
    }
    let run = |server: &Server| -> Vec<String> {
        let mut control = server.raw();
        let mut waiters: Vec<_> = (0..3).map(|_| server.raw()).collect();
        let block = |w: &mut testkit::Raw, args: &[&str], control: &mut testkit::Raw, n| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            w.send(&testkit::encode(&args));
            wait_blocked(control, n);
        };
        let mut replies = Vec::new();
        // A pop, then a pipelined read of the list.
        block(&mut waiters[0], &["BLPOP", "q", "0"], &mut control, 1);
        control.send(&testkit::encode(&[b"RPUSH", b"q", b"a"]));
        control.send(&testkit::encode(&[b"LLEN", b"q"]));
        replies.push(String::from_utf8(control.read_reply()).unwrap());
        replies.push(String::from_utf8(control.read_reply()).unwrap());
        replies.push(String::from_utf8(waiters[0].read_reply()).unwrap());
        // A chain: l1 -> l2 -> l3 by two woken BLMOVEs, read right after the push.
        block(
            &mut waiters[1],
            &["BLMOVE", "l1", "l2", "LEFT", "LEFT", "0"],
            &mut control,
            1,
        );
        block(
            &mut waiters[2],
            &["BLMOVE", "l2", "l3", "LEFT", "LEFT", "0"],
            &mut control,
            2,
        );
        control.send(&testkit::encode(&[b"RPUSH", b"l1", b"x"]));
        control.send(&testkit::encode(&[b"LRANGE", b"l3", b"0", b"-1"]));
        replies.push(String::from_utf8(control.read_reply()).unwrap());
        replies.push(String::from_utf8(control.read_reply()).unwrap());
        for w in &mut waiters[1..] {
            replies.push(String::from_utf8(w.read_reply()).unwrap());
        }
        // A woken BRPOPLPUSH touches its destination, which the pusher WATCHes.
        block(
            &mut waiters[0],
            &["BRPOPLPUSH", "src", "dst", "0"],
            &mut control,
            1,
        );
        for args in [
            &["WATCH", "dst"][..],
            &["LPUSH", "src", "foo"],
            &["MULTI"],
            &["PING"],
            &["EXEC"],
        ] {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            control.send(&testkit::encode(&args));
        }
        for _ in 0..5 {
            replies.push(String::from_utf8(control.read_reply()).unwrap());
        }
        replies.push(String::from_utf8(waiters[0].read_reply()).unwrap());
        replies
    };
    let mut expected = None;
    for server in servers.iter().flatten() {
        // The same on every loop count, and checked a few times: a wait that is not there
        // shows as a race.
        for _ in 0..5 {
            server.raw().cmd(&["FLUSHALL"]);
            let replies = run(server);
            assert_eq!(replies[1], ":0\r\n", "{replies:?}");
            assert_eq!(replies[4], "*1\r\n$1\r\nx\r\n", "{replies:?}");
            assert_eq!(replies[11], "*-1\r\n", "EXEC ran: {replies:?}");
            match &expected {
                None => expected = Some(replies),
                Some(expected) => assert_eq!(&replies, expected),
            }
        }
    }
}
