//! ACL against real Redis 7.0: users and rules (SETUSER, GETUSER's reply in RESP2 and RESP3,
//! LIST's rendering, every rule error), DRYRUN's verdicts.

use redis_lite_testkit as testkit;

use testkit::{Raw, Server};

#[test]
fn users_and_rules_match_redis() {
    let script = testkit::script!("acl/users_and_rules_match_redis");
    if !testkit::differential(script, false) {
        println!("SKIPPED: redis-server is not on PATH (in users_and_rules_match_redis)");
        return;
    }
    testkit::differential(script, true);
}

#[test]
fn defaults_follow_config_match_redis() {
    let script = testkit::script!("acl/defaults_follow_config_match_redis");
    let args = ["--requirepass", "pw", "--acl-pubsub-default", "allchannels"];
    if !testkit::differential_with(script, false, &args) {
        println!("SKIPPED: redis-server is not on PATH (in defaults_follow_config_match_redis)");
        return;
    }
    testkit::differential_with(script, true, &args);
}

#[test]
fn permissions_match_redis() {
    let script = testkit::script!("acl/permissions_match_redis");
    if !testkit::differential(script, false) {
        println!("SKIPPED: redis-server is not on PATH (in permissions_match_redis)");
        return;
    }
    testkit::differential(script, true);
}

/// Runs `steps` (a connection's index, a command) on real Redis and on redis-lite, comparing
/// the replies with ACL LOG's `age-seconds` and `client-info` values masked (times, ids and
/// ports differ). Returns false without real Redis.
fn compare_sessions(args: &[&str], connections: usize, steps: &[(usize, &[&str])]) -> bool {
    let Some(redis) = Server::redis(args) else {
        return false;
    };
    let lite = Server::lite(args);
    let mut real: Vec<Raw> = (0..connections).map(|_| redis.raw()).collect();
    let mut ours: Vec<Raw> = (0..connections).map(|_| lite.raw()).collect();
    for (i, cmd) in steps {
        let (expected, actual) = (real[*i].cmd(cmd), ours[*i].cmd(cmd));
        if cmd[0] == "HELLO" {
            // Client ids differ; the protocol switch is what the later replies show.
            continue;
        }
        let (expected, actual) = (mask_log(&expected), mask_log(&actual));
        assert_eq!(
            expected, actual,
            "replies to {cmd:?} differ from real Redis"
        );
    }
    true
}

/// The reply with the value after each `age-seconds` and `client-info` field replaced by `?`;
/// the client line must still name a user.
fn mask_log(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    let tokens: Vec<&str> = text.split("\r\n").collect();
    let mut masked = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        masked.push(tokens[i].to_string());
        if tokens[i] == "age-seconds" || tokens[i] == "client-info" {
            let value = if tokens[i + 1].starts_with('$') {
                tokens[i + 2]
            } else {
                tokens[i + 1]
            };
            if tokens[i] == "client-info" {
                assert!(value.contains(" user="), "{value}");
            }
            masked.push("?".into());
            i += if tokens[i + 1].starts_with('$') { 2 } else { 1 };
        }
        i += 1;
    }
    masked.join("\r\n")
}

#[test]
fn acl_log_and_exec_recheck_match_redis() {
    let steps: &[(usize, &[&str])] = &[
        (
            0,
            &["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"],
        ),
        (0, &["ACL", "LOG"]),
        (1, &["AUTH", "app", "pw"]),
        (1, &["MULTI"]),
        (1, &["SET", "app:1", "x"]),
        (1, &["GET", "app:2"]),
        (1, &["PUBLISH", "ch", "x"]),
        (
            0,
            &[
                "ACL",
                "SETUSER",
                "app",
                "-set",
                "resetkeys",
                "~app:2",
                "resetchannels",
            ],
        ),
        (1, &["EXEC"]),
        (1, &["GET", "app:1"]),
        (1, &["GET", "app:1"]),
        (1, &["SET", "app:2", "x"]),
        (1, &["EVAL", "return redis.call('get','x')", "0"]),
        (1, &["AUTH", "app", "bad"]),
        (1, &["AUTH", "nosuch", "bad"]),
        (1, &["MULTI"]),
        (1, &["GET", "other"]),
        (1, &["DISCARD"]),
        (0, &["ACL", "LOG"]),
        (0, &["ACL", "LOG", "2"]),
        (0, &["ACL", "LOG", "0"]),
        (0, &["ACL", "LOG", "-1"]),
        (0, &["ACL", "LOG", "x"]),
        (0, &["ACL", "LOG", "1", "2"]),
        (0, &["CONFIG", "SET", "acllog-max-len", "2"]),
        (1, &["GET", "a"]),
        (1, &["GET", "b"]),
        (1, &["GET", "c"]),
        (0, &["ACL", "LOG"]),
        (0, &["ACL", "LOG", "RESET"]),
        (0, &["ACL", "LOG"]),
        (0, &["HELLO", "3"]),
        (1, &["GET", "d"]),
        (0, &["ACL", "LOG"]),
    ];
    if !compare_sessions(&[], 2, steps) {
        println!("SKIPPED: redis-server is not on PATH (in acl_log_and_exec_recheck_match_redis)");
    }
}
