//! MULTI/EXEC/DISCARD/WATCH: Redis's semantics, and atomicity across event loops.
use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{differential, Server};

#[test]
fn transaction_replies_match_redis() {
    differential(
        testkit::script!("transactions/transaction_replies_match_redis"),
        false,
    );
}

/// One client watches, another writes; the same scenario on both servers gives the same bytes.
fn watch_scenario(server: &Server, resp3: bool) -> Vec<Vec<u8>> {
    let mut a = server.raw();
    let mut b = server.raw();
    if resp3 {
        a.cmd(&["HELLO", "3"]);
    }
    let mut seen = Vec::new();
    let mut run = |conn: &mut testkit::Raw, cmd: &[&str]| seen.push(conn.cmd(cmd));
    for (writer, cmd) in [
        (false, &["SET", "w", "0"][..]),
        (false, &["WATCH", "w"]),
        (true, &["SET", "w", "1"]),
        (false, &["MULTI"]),
        (false, &["INCR", "w"]),
        (false, &["EXEC"]),
        (false, &["WATCH", "w"]),
        (false, &["MULTI"]),
        (false, &["INCR", "w"]),
        (false, &["EXEC"]),
        (false, &["WATCH", "w"]),
        (true, &["GET", "w"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (false, &["WATCH", "w"]),
        (true, &["FLUSHDB"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (false, &["WATCH", "absent"]),
        (true, &["FLUSHDB"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (false, &["SET", "s", "1"]),
        (false, &["WATCH", "s"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (false, &["WATCH", "x"]),
        (false, &["UNWATCH"]),
        (true, &["SET", "x", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
    ] {
        run(if writer { &mut b } else { &mut a }, cmd);
    }
    seen
}

#[test]
fn watch_semantics_match_redis() {
    for resp3 in [false, true] {
        let lite = Server::lite(&[]);
        let got = watch_scenario(&lite, resp3);
        if let Some(redis) = Server::redis(&[]) {
            let text = |v: Vec<Vec<u8>>| {
                v.into_iter()
                    .map(|r| String::from_utf8_lossy(&r).into_owned())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                text(got),
                text(watch_scenario(&redis, resp3)),
                "resp3={resp3}"
            );
        } else {
            let aborted: &[u8] = if resp3 { b"_\r\n" } else { b"*-1\r\n" };
            assert_eq!(got[5], aborted, "a write by another client aborts EXEC");
        }
    }
}

#[test]
fn an_expiring_watched_key_aborts_exec() {
    let server = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = server.raw();
    raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    // Long enough to be alive at WATCH on a loaded machine (checked), short enough to wait out.
    raw.cmd(&["SET", "t", "v", "PX", "1000"]);
    raw.cmd(&["WATCH", "t"]);
    assert_eq!(
        raw.cmd_text(&["EXISTS", "t"]),
        ":1\r\n",
        "the key expired before WATCH"
    );
    std::thread::sleep(Duration::from_millis(1200));
    raw.cmd(&["MULTI"]);
    raw.cmd(&["SET", "other", "1"]);
    assert_eq!(raw.cmd_text(&["EXEC"]), "*-1\r\n");
    assert_eq!(raw.cmd_text(&["GET", "other"]), "$-1\r\n");
}

/// EXEC pauses every event loop: a reader on another thread never sees half a transaction.
#[test]
fn exec_is_atomic_across_threads() {
    let server = Server::lite(&["--threads", "4"]);
    let port = server.port;
    let mut setup = server.raw();
    setup.cmd(&["MSET", "x", "0", "y", "0"]);
    let writers: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                for _ in 0..200 {
                    let _: Vec<i64> = redis::pipe()
                        .atomic()
                        .incr("x", 1)
                        .incr("y", 1)
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    let mut reader = server.client();
    for _ in 0..400 {
        // Two separate reads: only atomic transactions keep x == y at every instant in between
        // writes, so read both in one MGET.
        let (x, y): (i64, i64) = redis::cmd("MGET")
            .arg("x")
            .arg("y")
            .query(&mut reader)
            .unwrap();
        assert_eq!(x, y, "saw a transaction half applied");
    }
    for w in writers {
        w.join().unwrap();
    }
    let (x, y): (i64, i64) = redis::cmd("MGET")
        .arg("x")
        .arg("y")
        .query(&mut reader)
        .unwrap();
    assert_eq!((x, y), (600, 600));
}

/// EXEC refused by admission (out of memory with a queued write; a password set meanwhile)
/// discards its transaction and names the refusal, as Redis does.
#[test]
fn exec_refused_by_admission_discards_the_transaction() {
    fn run(server: &Server) -> Vec<String> {
        let (mut a, mut b) = (server.raw(), server.raw());
        let mut seen = Vec::new();
        let mut log = |reply: Vec<u8>| seen.push(String::from_utf8_lossy(&reply).into_owned());
        log(a.cmd(&["MULTI"]));
        log(a.cmd(&["SET", "k", "v"]));
        log(b.cmd(&["CONFIG", "SET", "maxmemory", "1"]));
        log(a.cmd(&["EXEC"]));
        log(a.cmd(&["EXEC"]));
        log(a.cmd(&["MULTI"]));
        log(a.cmd(&["GET", "k"]));
        log(a.cmd(&["EXEC"]));
        log(b.cmd(&["CONFIG", "SET", "maxmemory", "0"]));
        log(a.cmd(&["MULTI"]));
        log(a.cmd(&["GET", "k"]));
        log(b.cmd(&["CONFIG", "SET", "requirepass", "pw"]));
        log(a.cmd(&["EXEC"]));
        log(a.cmd(&["GET", "k"]));
        seen
    }
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    assert_eq!(run(&lite), run(&redis));
}

/// The rules that admit a command (read-only replica, OOM, NOREPLICAS...) judge a queued one
/// when it is queued and with EXEC, not again when EXEC runs it: a transaction that turns the
/// server into a replica, or sets a limit, still runs whole. A refusal at queueing aborts the
/// EXEC. Only ACL permissions are checked again inside EXEC, and a refusal there counts as
/// Redis counts it (in INFO's errorstats and commandstats).
#[test]
fn queued_commands_are_admitted_when_queued_and_with_exec_only() {
    differential(
        &[
            // A PING of the harness's while a server still loads counts a LOADING error.
            &["CONFIG", "RESETSTAT"],
            &["MULTI"],
            &["SET", "foo2", "bar"],
            &["REPLICAOF", "localhost", "9999"],
            &["SET", "foo3", "bar"],
            &["EXEC"],
            &["GET", "foo3"],
            &["REPLICAOF", "NO", "ONE"],
            &["MULTI"],
            &["CONFIG", "SET", "maxmemory", "1"],
            &["SET", "x", "2"],
            &["EXEC"],
            &["CONFIG", "SET", "maxmemory", "0"],
            &["MULTI"],
            &["CONFIG", "SET", "min-replicas-to-write", "1"],
            &["SET", "x", "3"],
            &["EXEC"],
            &["CONFIG", "SET", "min-replicas-to-write", "0"],
            // Refused while queuing: EXEC aborts.
            &["REPLICAOF", "localhost", "9999"],
            &["MULTI"],
            &["SET", "x", "4"],
            &["GET", "x"],
            &["EXEC"],
            &["REPLICAOF", "NO", "ONE"],
            &["CONFIG", "SET", "maxmemory", "1"],
            &["MULTI"],
            &["SET", "x", "5"],
            &["EXEC"],
            &["CONFIG", "SET", "maxmemory", "0"],
            &["GET", "x"],
            // Permissions revoked inside the transaction.
            &["ACL", "SETUSER", "u", "on", "nopass", "+@all", "~*"],
            &["AUTH", "u", "x"],
            &["MULTI"],
            &["ACL", "SETUSER", "u", "-set"],
            &["SET", "x", "6"],
            &["GET", "x"],
            &["EXEC"],
            &["MULTI"],
            &["ACL", "SETUSER", "u", "-get"],
            &["GET", "x"],
            &["EXEC"],
            &["AUTH", "default", "x"],
            &["INFO", "errorstats"],
        ],
        false,
    );
}

/// The server's clock in Unix milliseconds, from TIME.
fn server_ms(raw: &mut testkit::Raw) -> u64 {
    let time = testkit::Reply::parse(&raw.cmd(&["TIME"])).array();
    let text = |part: &[u8]| String::from_utf8_lossy(part).parse::<u64>().unwrap();
    text(&time[0]) * 1000 + text(&time[1]) / 1000
}

/// WATCH of keys whose TTL passes: one that expires after WATCH fails the EXEC (even
/// unread), one already expired when watched does not, whoever deletes it; SWAPDB and
/// FLUSHALL fail only the transactions of keys that hold data, several watched keys too.
/// Active expiry is off, so a key's deletion is the scenario's doing. A missing watched key
/// that SWAPDB replaces with one whose TTL passed is no change (the EXEC runs), as in Redis;
/// a live one replaced with a stale one is.
fn expiry_scenario(server: &Server) -> Vec<Vec<u8>> {
    let mut watcher = server.raw();
    let mut other = server.raw();
    other.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let mut seen = Vec::new();
    // (writer, command); "EXPIRING k" sets `k` to expire in 100 ms and "PASS" waits until
    // the server's clock is past every such expiry.
    let scenario: &[(bool, &[&str])] = &[
        (true, &["EXPIRING", "k"]),
        (false, &["WATCH", "k"]),
        (true, &["PASS"]),
        (false, &["MULTI"]),
        (false, &["PING"]),
        (false, &["EXEC"]),
        (true, &["EXPIRING", "k"]),
        (false, &["WATCH", "k"]),
        (true, &["PASS"]),
        (true, &["EXISTS", "k"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["EXPIRING", "k"]),
        (true, &["PASS"]),
        (false, &["WATCH", "k"]),
        (true, &["EXISTS", "k"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["EXPIRING", "k"]),
        (true, &["PASS"]),
        (false, &["WATCH", "k"]),
        (true, &["SET", "k", "again"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["FLUSHALL"]),
        // SWAPDB: a stale key watched, the other database empty, then holding the key
        (true, &["EXPIRING", "k"]),
        (true, &["PASS"]),
        (false, &["WATCH", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["FLUSHALL"]),
        (true, &["EXPIRING", "k"]),
        (true, &["SELECT", "1"]),
        (true, &["SET", "k", "x"]),
        (true, &["SELECT", "0"]),
        (true, &["PASS"]),
        (false, &["WATCH", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["FLUSHALL"]),
        // SWAPDB: a missing key watched, the other database holding it stale, then live
        (true, &["SELECT", "1"]),
        (true, &["EXPIRING", "k"]),
        (true, &["SELECT", "0"]),
        (true, &["PASS"]),
        (false, &["WATCH", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["PING"]),
        (false, &["EXEC"]),
        (false, &["GET", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["WATCH", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["FLUSHALL"]),
        (true, &["SELECT", "1"]),
        (true, &["SET", "k", "live"]),
        (true, &["SELECT", "0"]),
        (false, &["WATCH", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["FLUSHALL"]),
        // A live key watched, replaced by a stale one
        (true, &["SET", "k", "live"]),
        (true, &["SELECT", "1"]),
        (true, &["EXPIRING", "k"]),
        (true, &["SELECT", "0"]),
        (true, &["PASS"]),
        (false, &["WATCH", "k"]),
        (true, &["SWAPDB", "0", "1"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["FLUSHALL"]),
        // FLUSHALL with several watched keys: one holding data, none, a stale one
        (true, &["SET", "b", "v"]),
        (false, &["WATCH", "a", "b", "c"]),
        (true, &["FLUSHALL"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (false, &["WATCH", "a", "b", "c"]),
        (true, &["FLUSHALL"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
        (true, &["EXPIRING", "a"]),
        (true, &["PASS"]),
        (false, &["WATCH", "a", "b"]),
        (true, &["FLUSHALL"]),
        (false, &["MULTI"]),
        (false, &["EXEC"]),
    ];
    let mut expiry = 0;
    for (writer, command) in scenario {
        let conn = if *writer { &mut other } else { &mut watcher };
        match command {
            ["EXPIRING", key] => {
                // Long enough that the steps before PASS run before it even under load.
                expiry = server_ms(conn) + 500;
                seen.push(conn.cmd(&["SET", key, "v", "PXAT", &expiry.to_string()]));
            }
            ["PASS"] => testkit::wait_until(
                "the server's clock past the expiry",
                Duration::from_secs(5),
                || server_ms(conn) > expiry,
            ),
            _ => seen.push(conn.cmd(command)),
        }
    }
    other.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    seen
}

#[test]
fn watched_keys_that_expire_match_redis() {
    let Some(redis) = Server::redis(&["--enable-debug-command", "yes"]) else {
        println!("SKIPPED: redis-server is not on PATH (in watched_keys_that_expire_match_redis)");
        return;
    };
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    assert_eq!(expiry_scenario(&lite), expiry_scenario(&redis));
}
