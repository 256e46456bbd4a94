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

fn client_id(raw: &mut testkit::Raw) -> String {
    raw.cmd_text(&["CLIENT", "ID"])
        .trim_start_matches(':')
        .trim()
        .to_string()
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(raw: &mut testkit::Raw, n: usize) {
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
