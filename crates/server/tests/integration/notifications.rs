//! Keyspace notifications: every command emits the events real Redis emits, in the same order.
use redis_lite_testkit as testkit;

use testkit::differential_notifications;

#[test]
fn string_commands_emit_redis_events() {
    differential_notifications(&[
        &["SET", "s", "v"],
        &["SET", "s", "v", "EX", "100"],
        &["SET", "s", "v", "KEEPTTL"],
        &["SET", "s", "v", "NX"],
        &["SET", "s2", "v", "XX"],
        &["SET", "s", "w", "GET"],
        &["SETNX", "s3", "v"],
        &["SETNX", "s3", "v"],
        &["SETEX", "s4", "100", "v"],
        &["PSETEX", "s5", "100000", "v"],
        &["GETSET", "s", "x"],
        &["MSET", "m1", "1", "m2", "2"],
        &["MSETNX", "m3", "1", "m4", "2"],
        &["MSETNX", "m3", "1", "m5", "2"],
        &["APPEND", "s", "more"],
        &["APPEND", "new", "x"],
        &["SETRANGE", "s", "2", "zz"],
        &["SETRANGE", "s", "0", ""],
        &["INCR", "n"],
        &["DECR", "n"],
        &["INCRBY", "n", "5"],
        &["DECRBY", "n", "2"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["GETEX", "s", "EX", "100"],
        &["GETEX", "s", "PERSIST"],
        &["GETEX", "s"],
        &["GETDEL", "s"],
        &["GETDEL", "s"],
        &["GETEX", "m1", "PXAT", "1"],
    ]);
}

#[test]
fn key_commands_emit_redis_events() {
    differential_notifications(&[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["SET", "c", "3"],
        &["DEL", "a", "missing"],
        &["UNLINK", "b"],
        &["EXPIRE", "c", "100"],
        &["PEXPIRE", "c", "100000"],
        &["EXPIREAT", "c", "4000000000"],
        &["EXPIRE", "c", "100", "NX"],
        &["PERSIST", "c"],
        &["PERSIST", "c"],
        &["RENAME", "c", "d"],
        &["SET", "e", "5"],
        &["RENAMENX", "d", "e"],
        &["RENAMENX", "d", "f"],
        &["COPY", "f", "g"],
        &["COPY", "f", "e", "REPLACE"],
        &["MOVE", "g", "3"],
        &["TOUCH", "e", "f"],
        &["EXPIRE", "e", "-1"],
        &["PEXPIREAT", "f", "1"],
        &["SET", "h", "1"],
        &["RENAME", "h", "h"],
        &["FLUSHDB"],
    ]);
}

/// Lazy expiry (on access) and active expiry (the background cycle) both emit `expired`.
#[test]
fn expiry_emits_expired_events() {
    let server = testkit::Server::lite(&["--enable-debug-command", "yes", "--hz", "100"]);
    let mut raw = server.raw();
    raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    raw.cmd(&["SET", "lazy", "v", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let lazy = testkit::notifications(&server, &[&["GET", "lazy"]]);
    assert_eq!(
        lazy,
        vec![
            ("__keyspace@0__:lazy".into(), "expired".into()),
            ("__keyevent@0__:expired".into(), "lazy".into())
        ]
    );
    // The cron thread expires the key on its own time: wait for its event rather than guess
    // when it has run.
    raw.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    let mut listener = server.raw();
    listener.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    raw.cmd(&["SET", "active", "v", "PX", "1"]);
    raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    let event = String::from_utf8_lossy(&listener.read_reply()).into_owned();
    assert!(event.ends_with("$6\r\nactive\r\n"), "{event:?}");
    assert_eq!(raw.cmd_text(&["DBSIZE"]), ":0\r\n");
}

/// Read lookups that miss emit `keymiss` (class `m`, not part of `A`).
#[test]
fn read_misses_emit_keymiss() {
    testkit::differential_notifications_with(
        "KEAm",
        &[
            &["GET", "missing"],
            &["SET", "present", "v"],
            &["GET", "present"],
            &["MGET", "present", "gone1", "gone2"],
            &["EXISTS", "gone"],
            &["TYPE", "gone"],
            &["TTL", "gone"],
            &["HGET", "h", "f"],
            &["LRANGE", "l", "0", "-1"],
            &["SMEMBERS", "s"],
            &["STRLEN", "gone"],
            &["SET", "dst", "v"],
            &["COPY", "gone", "dst2"],
            &["GETRANGE", "gone", "0", "1"],
        ],
    );
}
