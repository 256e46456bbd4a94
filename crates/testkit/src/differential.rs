//! Differential tests: the same script against real Redis and redis-lite, each on a fresh
//! server, the replies (or keyspace notifications) compared byte for byte.

use crate::launch::Server;

/// Runs the same commands against redis-lite and real Redis (when installed) on fresh servers,
/// and asserts the raw replies are identical. Each script line is one command; `resp3` switches
/// both connections to RESP3 first. Returns false when real Redis was not available.
pub fn differential(script: &[&[&str]], resp3: bool) -> bool {
    differential_with(script, resp3, &[])
}

/// [`differential`] in RESP2, then in RESP3 (where null, map, set and double replies differ).
pub fn differential_both_protocols(script: &[&[&str]]) {
    differential(script, false);
    differential(script, true);
}

/// [`differential_with`] for scripts built at run time (in loops, from generators).
pub fn differential_generated(script: &[Vec<String>], resp3: bool, server_args: &[&str]) -> bool {
    let lines: Vec<Vec<&str>> = script
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let lines: Vec<&[&str]> = lines.iter().map(Vec::as_slice).collect();
    differential_with(&lines, resp3, server_args)
}

/// [`differential`] with extra server arguments given to both servers.
pub fn differential_with(script: &[&[&str]], resp3: bool, server_args: &[&str]) -> bool {
    let Some(redis) = Server::redis(server_args) else {
        return false;
    };
    let lite = Server::lite(&[&["--enable-debug-command", "yes"], server_args].concat());
    let (mut a, mut b) = (redis.raw(), lite.raw());
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    let mut mismatches = Vec::new();
    for cmd in script {
        let expected = a.cmd(cmd);
        let actual = b.cmd(cmd);
        if expected != actual {
            mismatches.push(format!(
                "{:?}\n    redis: {:?}\n    lite:  {:?}",
                cmd.join(" "),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&actual)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "replies differ from real Redis:\n{}",
        mismatches.join("\n")
    );
    true
}

/// The keyspace notifications a script produces: runs it on one connection while another,
/// subscribed to every keyspace and keyevent channel, records (channel, message) pairs.
pub fn notifications(server: &Server, script: &[&[&str]]) -> Vec<(String, String)> {
    notifications_with(server, "KEA", script)
}

/// [`notifications`] with the given `notify-keyspace-events` flags.
pub fn notifications_with(
    server: &Server,
    flags: &str,
    script: &[&[&str]],
) -> Vec<(String, String)> {
    let mut control = server.raw();
    control.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    let mut listener = server.raw();
    listener.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    for cmd in script {
        control.cmd(cmd);
    }
    // A marker event ends the recording: everything before it was caused by the script.
    control.cmd(&["SELECT", "15"]);
    control.cmd(&["SET", "__end__", "1"]);
    let mut events = Vec::new();
    loop {
        let frame = listener.read_reply();
        let text = String::from_utf8_lossy(&frame).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        // *4 $8 pmessage $len pattern $len channel $len message
        let (channel, message) = (parts[6].to_string(), parts[8].to_string());
        if message == "__end__" || channel.ends_with(":__end__") {
            if channel.starts_with("__keyevent") {
                break;
            }
            continue;
        }
        events.push((channel, message));
    }
    events
}

/// Asserts a script emits the same keyspace notifications on redis-lite as on real Redis.
pub fn differential_notifications(script: &[&[&str]]) {
    differential_notifications_with("KEA", script)
}

/// [`differential_notifications`] with the given `notify-keyspace-events` flags.
pub fn differential_notifications_with(flags: &str, script: &[&[&str]]) {
    let lite = Server::lite(&[]);
    let got = notifications_with(&lite, flags, script);
    let Some(redis) = Server::redis(&[]) else {
        assert!(
            !got.is_empty() || script.is_empty(),
            "no notifications at all"
        );
        return;
    };
    let expected = notifications_with(&redis, flags, script);
    assert_eq!(got, expected, "notifications differ from real Redis");
}
