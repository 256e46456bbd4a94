//! ACL against real Redis 7.0: users and rules (SETUSER, GETUSER's reply in RESP2 and RESP3,
//! LIST's rendering, every rule error), DRYRUN's verdicts.

use redis_lite_testkit as testkit;

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
