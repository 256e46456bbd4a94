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
