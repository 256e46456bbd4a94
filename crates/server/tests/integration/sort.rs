//! SORT and SORT_RO against real Redis.
use redis_lite_testkit as testkit;

use testkit::differential;

#[test]
fn sort_matches_redis() {
    differential(testkit::script!("sort/sort_matches_redis"), false);
}

/// Found by the differential fuzzer: Redis reads a weight as a C string, so an element (or a
/// BY key's value) starting with a NUL byte sorts as 0 instead of being refused.
#[test]
fn sort_weights_end_at_a_nul_byte() {
    differential(
        &[
            &["RPUSH", "l", "3.5", " 1", "\0\r\n\u{ff}", "2\0x"],
            &["SORT", "l"],
            &["SORT", "l", "DESC"],
            &["SORT_RO", "l", "LIMIT", "1", "2"],
            &["SET", "w_a", "\0junk"],
            &["SET", "w_b", "-1"],
            &["RPUSH", "m", "a", "b"],
            &["SORT", "m", "BY", "w_*"],
            &["SORT", "l", "STORE", "dst"],
            &["LRANGE", "dst", "0", "-1"],
        ],
        false,
    );
}

/// Found by the differential fuzzer: SORT and SORT_RO convert a small (listpack) sorted set
/// to a skiplist for good, as Redis's SORT does whatever its options.
#[test]
fn sort_converts_a_sorted_set_to_a_skiplist() {
    differential(
        &[
            &["ZADD", "z", "3", "c", "1", "a"],
            &["OBJECT", "ENCODING", "z"],
            &["SORT_RO", "z", "BY", "nosort", "LIMIT", "0", "1"],
            &["OBJECT", "ENCODING", "z"],
            &["ZADD", "y", "1", "x"],
            &["SORT", "y", "ALPHA"],
            &["OBJECT", "ENCODING", "y"],
            &["ZADD", "y", "2", "w"],
            &["OBJECT", "ENCODING", "y"],
            &["ZRANGE", "y", "0", "-1", "WITHSCORES"],
        ],
        false,
    );
}

/// Redis's own suite ("SORT BY <constant> output gets ordered for scripting"): a script's SORT
/// of a set by a constant sorts the members (ALPHA), so the script's result does not depend on
/// the set's internal order; outside scripts, and for lists, the natural order stays.
#[test]
fn sort_of_a_set_by_a_constant_is_ordered_inside_scripts() {
    let sort = "return redis.call('sort', KEYS[1], 'by', 'nokey')";
    let members = [
        "r", "n", "l", "d", "p", "t", "aaa", "azz", "z", "a", "b", "h",
    ];
    let sadd: Vec<&str> = ["SADD", "s"].into_iter().chain(members).collect();
    let rpush: Vec<&str> = ["RPUSH", "l"].into_iter().chain(members).collect();
    differential(
        &[
            &sadd,
            &rpush,
            &["EVAL", sort, "1", "s"],
            &["EVAL", sort, "1", "l"],
            &[
                "EVAL",
                "return redis.call('sort', KEYS[1], 'by', 'nokey', 'desc')",
                "1",
                "s",
            ],
            &["SORT", "l", "BY", "nokey"],
        ],
        false,
    );
}

/// Found by the differential fuzzer: a BY pattern without `*` keeps the natural order for
/// good, so a later BY with a real pattern sorts nothing either (Redis's `dontsort` is set,
/// never cleared); DESC and LIMIT then walk the natural order.
#[test]
fn a_constant_by_pattern_keeps_the_natural_order_whatever_follows() {
    differential(
        &[
            &["RPUSH", "l", "3", "1", "2"],
            &["ZADD", "z", "1", "c", "2", "b", "3", "a"],
            &[
                "MSET", "w_1", "30", "w_2", "20", "w_3", "10", "w_a", "1", "w_c", "3",
            ],
            &["SORT", "l", "BY", "w_*", "BY", "nosort"],
            &["SORT", "l", "BY", "nosort", "BY", "w_*"],
            &["SORT", "l", "BY", "nosort", "BY", "w_*", "DESC"],
            &[
                "SORT_RO", "l", "BY", "nosort", "BY", "w_*", "LIMIT", "1", "5",
            ],
            &["SORT", "l", "BY", "w_*"],
            &["SORT", "z", "BY", "nosort", "BY", "w_*", "DESC"],
            &[
                "SORT", "z", "BY", "nosort", "BY", "w_*", "ALPHA", "LIMIT", "0", "2",
            ],
            &[
                "SORT", "z", "BY", "w_*", "BY", "nosort", "DESC", "LIMIT", "0", "2",
            ],
            &["SORT", "l", "BY", "nosort", "BY", "w_*", "STORE", "dst"],
            &["LRANGE", "dst", "0", "-1"],
        ],
        false,
    );
}

/// In cluster mode Redis 7.0 refuses SORT's BY with a real pattern and every GET (`#` and hash
/// tags included): their keys could be in any slot. A constant BY still works.
#[test]
fn sort_by_and_get_are_refused_in_cluster_mode() {
    let script: [&[&str]; 9] = [
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l", "BY", "w_*"],
        &["SORT_RO", "l", "BY", "w_{l}*"],
        &["SORT", "l", "GET", "#"],
        &["SORT", "l", "BY", "nosort", "GET", "w_*"],
        &["SORT", "l", "BY", "nosort", "BY", "w_*"],
        &["SORT", "l", "BY", "nosort", "DESC"],
        &["SORT", "l", "GET", "#", "BY", "w_*"],
        &["SORT", "l", "LIMIT", "0", "1", "GET"],
    ];
    let replies = |server: &testkit::Server| -> Vec<String> {
        let mut raw = server.raw();
        let reply = raw.cmd_text(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        assert_eq!(reply, "+OK\r\n");
        testkit::wait_until(
            "the cluster to be ok",
            std::time::Duration::from_secs(10),
            || {
                raw.cmd_text(&["CLUSTER", "INFO"])
                    .contains("cluster_state:ok")
            },
        );
        script.iter().map(|command| raw.cmd_text(command)).collect()
    };
    let lite = replies(&testkit::Launch::lite().cluster_node().start());
    assert_eq!(
        lite[1],
        "-ERR BY option of SORT denied in Cluster mode.\r\n"
    );
    assert_eq!(
        lite[3],
        "-ERR GET option of SORT denied in Cluster mode.\r\n"
    );
    match testkit::Launch::redis().cluster_node().start_if_available() {
        Some(redis) => assert_eq!(lite, replies(&redis)),
        None => testkit::skipped(
            "redis-server is not on PATH (in sort_by_and_get_are_refused_in_cluster_mode)",
        ),
    }
}
