//! Keyspace notifications: every command emits the events real Redis emits, in the same order.
use redis_lite_testkit as testkit;

use testkit::differential_notifications;

#[test]
fn string_commands_emit_redis_events() {
    differential_notifications(testkit::script!(
        "notifications/string_commands_emit_redis_events"
    ));
}

#[test]
fn key_commands_emit_redis_events() {
    differential_notifications(testkit::script!(
        "notifications/key_commands_emit_redis_events"
    ));
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
        testkit::script!("notifications/read_misses_emit_keymiss"),
    );
}

/// Keys created emit `new` (class `n`, not part of `A`) from wherever a command adds them, before
/// the command's own event; overwrites emit none.
#[test]
fn key_creation_emits_new() {
    testkit::differential_notifications_with(
        "KEAn",
        testkit::script!("notifications/key_creation_emits_new"),
    );
}
