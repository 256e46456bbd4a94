//! Hardening against hostile or unlucky conditions: client-chosen sizes that cannot be served,
//! running out of file descriptors, secrets on the command line. Regression tests for issue 11.
mod common;

use common::Server;

/// Regression: `HRANDFIELD h -4611686018427387904` (and the other random-pick commands with a
/// huge negative count) grew the reply until an allocation failed and the process aborted.
/// Redis 7.0.15 dies the same way; redis-lite refuses the reply and stays up. The counts Redis
/// does refuse keep its exact texts (taken from Redis 7.0.15).
#[test]
fn huge_random_pick_counts_are_refused_not_fatal() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    raw.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    raw.cmd(&["SADD", "s", "a", "b"]);
    raw.cmd(&["ZADD", "z", "1", "a", "2", "b"]);
    let out_of_range = "-ERR value is out of range\r\n";
    let long_range = "-ERR value is out of range, value must between -9223372036854775807 and \
                      9223372036854775807\r\n";
    let exact: &[(&[&str], &str)] = &[
        (
            &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
            out_of_range,
        ),
        (
            &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
            out_of_range,
        ),
        (
            &["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"],
            out_of_range,
        ),
        (&["HRANDFIELD", "h", "-9223372036854775808"], long_range),
        (&["SRANDMEMBER", "s", "-9223372036854775808"], long_range),
        (&["ZRANDMEMBER", "z", "-9223372036854775808"], long_range),
        // A missing key has nothing to repeat.
        (&["SRANDMEMBER", "nokey", "-9223372036854775807"], "*0\r\n"),
        (
            &["HRANDFIELD", "nokey", "-4611686018427387903", "WITHVALUES"],
            "*0\r\n",
        ),
    ];
    for (cmd, reply) in exact {
        assert_eq!(raw.cmd_text(cmd), *reply, "{cmd:?}");
    }
    let too_large: &[&[&str]] = &[
        &["HRANDFIELD", "h", "-4611686018427387904"],
        &["HRANDFIELD", "h", "-4611686018427387903", "WITHVALUES"],
        &["HRANDFIELD", "h", "-9223372036854775807"],
        &["SRANDMEMBER", "s", "-9223372036854775807"],
        &["SRANDMEMBER", "s", "-100000000000000"],
        &["ZRANDMEMBER", "z", "-9223372036854775807"],
        &["ZRANDMEMBER", "z", "-4611686018427387903", "WITHSCORES"],
    ];
    for cmd in too_large {
        let reply = raw.cmd_text(cmd);
        assert!(
            reply.starts_with("-ERR count is too large"),
            "{cmd:?}: {reply:?}"
        );
        assert_eq!(raw.cmd_text(&["PING"]), "+PONG\r\n", "after {cmd:?}");
    }
    // Ordinary negative counts still repeat picks.
    assert!(raw
        .cmd_text(&["SRANDMEMBER", "s", "-5"])
        .starts_with("*5\r\n"));
    assert!(raw
        .cmd_text(&["HRANDFIELD", "h", "-3", "WITHVALUES"])
        .starts_with("*6\r\n"));
}
