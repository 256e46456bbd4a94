//! Set commands: differential scripts against real Redis (intsets reply in ascending order, so
//! their replies are deterministic; hashtable replies are compared only when they hold one
//! member), plus redis-lite-only checks of random picks, hashtable order-independent results and
//! SSCAN's full-iteration guarantee.
use redis_lite_testkit as testkit;

use std::collections::HashSet;

use testkit::{differential, differential_with, Server};

#[test]
fn basic_commands_match_redis() {
    for resp3 in [false, true] {
        differential(
            &[
                &["SADD", "s", "3", "1", "2", "1"],
                &["SADD", "s", "2", "5"],
                &["SMEMBERS", "s"],
                &["SCARD", "s"],
                &["SISMEMBER", "s", "2"],
                &["SISMEMBER", "s", "9"],
                &["SISMEMBER", "s", "02"],
                &["SMISMEMBER", "s", "1", "9", "5", "x"],
                &["SREM", "s", "1", "9", "1"],
                &["SMEMBERS", "s"],
                &["TYPE", "s"],
                &["SREM", "s", "2", "3", "5", "7"],
                &["EXISTS", "s"],
                &["SREM", "s", "1"],
                &["SMEMBERS", "nokey"],
                &["SCARD", "nokey"],
                &["SISMEMBER", "nokey", "a"],
                &["SMISMEMBER", "nokey", "a", "b"],
                &["SADD", "h", "a"],
                &["SMEMBERS", "h"],
                &["SISMEMBER", "h", "a"],
                &["SET", "str", "v"],
                &["SADD", "str", "a"],
                &["SREM", "str", "a"],
                &["SMEMBERS", "str"],
                &["SCARD", "str"],
                &["SISMEMBER", "str", "a"],
                &["SMISMEMBER", "str", "a"],
                &["SADD", "s"],
                &["SREM", "s"],
                &["SMEMBERS"],
                &["SISMEMBER", "s"],
                &["SMISMEMBER", "s"],
                &["SCARD", "s", "x"],
            ],
            resp3,
        );
    }
}

#[test]
fn encodings_and_conversions_match_redis() {
    let many: Vec<String> = (0..513).map(|i| (i * 7 - 1000).to_string()).collect();
    let mut fill: Vec<&str> = vec!["SADD", "big"];
    fill.extend(many[..512].iter().map(String::as_str));
    differential(
        &[
            &["SADD", "i", "1"],
            &["OBJECT", "ENCODING", "i"],
            // Widening from 16 to 32 to 64 bits keeps the intset, sorted.
            &[
                "SADD",
                "i",
                "-40000",
                "70000",
                "9223372036854775807",
                "-9223372036854775808",
            ],
            &["OBJECT", "ENCODING", "i"],
            &["SMEMBERS", "i"],
            &["SISMEMBER", "i", "70000"],
            &["SREM", "i", "9223372036854775807", "-9223372036854775808"],
            &["SMEMBERS", "i"],
            // Not canonical integers: each makes a hashtable.
            &["SADD", "a", "1", "01"],
            &["OBJECT", "ENCODING", "a"],
            &["SADD", "b", "-0"],
            &["OBJECT", "ENCODING", "b"],
            &["SADD", "c", "+1"],
            &["OBJECT", "ENCODING", "c"],
            &["SADD", "d", "9223372036854775808"],
            &["OBJECT", "ENCODING", "d"],
            &["SADD", "e", " 1"],
            &["OBJECT", "ENCODING", "e"],
            // A small set of strings is a hashtable in Redis 7.0 (no listpack sets).
            &["SADD", "f", "x"],
            &["OBJECT", "ENCODING", "f"],
            // Never back to an intset.
            &["SADD", "g", "1", "x"],
            &["SREM", "g", "x"],
            &["OBJECT", "ENCODING", "g"],
            &fill,
            &["OBJECT", "ENCODING", "big"],
            &["SCARD", "big"],
            &["SADD", "big", &many[511]],
            &["OBJECT", "ENCODING", "big"],
            &["SADD", "big", &many[512]],
            &["OBJECT", "ENCODING", "big"],
            &["SREM", "big", &many[512], &many[0]],
            &["OBJECT", "ENCODING", "big"],
            &["SCARD", "big"],
        ],
        false,
    );
}

#[test]
fn intset_limit_follows_config() {
    differential_with(
        &[
            &["SADD", "s", "1", "2", "3"],
            &["OBJECT", "ENCODING", "s"],
            &["SADD", "s", "4"],
            &["OBJECT", "ENCODING", "s"],
            &["SADD", "s", "5"],
            &["OBJECT", "ENCODING", "s"],
            &["SADD", "t", "1", "2", "3", "4", "5"],
            &["OBJECT", "ENCODING", "t"],
            &["CONFIG", "SET", "set-max-intset-entries", "10"],
            &["SADD", "u", "1", "2", "3", "4", "5"],
            &["OBJECT", "ENCODING", "u"],
            &["SUNIONSTORE", "v", "u", "s"],
            &["OBJECT", "ENCODING", "v"],
            &["CONFIG", "SET", "set-max-intset-entries", "0"],
            &["SADD", "w", "1"],
            &["OBJECT", "ENCODING", "w"],
            &["SMOVE", "u", "x", "1"],
            &["OBJECT", "ENCODING", "x"],
            &["SINTERSTORE", "y", "u"],
            &["OBJECT", "ENCODING", "y"],
        ],
        false,
        &["--set-max-intset-entries", "4"],
    );
}

#[test]
fn algebra_matches_redis() {
    for resp3 in [false, true] {
        differential(
            &[
                &["SADD", "a", "1", "2", "3", "4"],
                &["SADD", "b", "3", "4", "5"],
                &["SADD", "c", "4", "5", "6"],
                &["SADD", "h", "4", "x"],
                &["SADD", "hx", "x"],
                &["SINTER", "a", "b"],
                &["SINTER", "a", "b", "c"],
                &["SINTER", "a", "h"],
                &["SINTER", "a", "nokey"],
                &["SINTER", "a"],
                &["SUNION", "a", "b", "c", "nokey"],
                &["SUNION", "nokey"],
                &["SDIFF", "a", "b"],
                &["SDIFF", "a", "b", "c"],
                &["SDIFF", "a", "nokey"],
                &["SDIFF", "nokey", "a"],
                &["SDIFF", "a", "a"],
                &["SDIFF", "h", "a"],
                &["SINTERCARD", "2", "a", "b"],
                &["SINTERCARD", "3", "a", "b", "c"],
                &["SINTERCARD", "1", "a", "LIMIT", "2"],
                &["SINTERCARD", "1", "a", "LIMIT", "0"],
                &["SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "3"],
                &["SINTERCARD", "2", "a", "nokey"],
                // Errors: every key is type-checked even after a missing one.
                &["SET", "str", "v"],
                &["SINTER", "nokey", "str"],
                &["SUNION", "a", "str"],
                &["SDIFF", "str", "nokey"],
                &["SDIFF", "nokey", "str"],
                &["SINTERCARD", "2", "nokey", "str"],
                &["SINTERSTORE", "d", "nokey", "str"],
                &["SINTERCARD", "0", "a"],
                &["SINTERCARD", "-1", "a"],
                &["SINTERCARD", "abc", "a"],
                &["SINTERCARD", "99999999999999999999", "a"],
                &["SINTERCARD", "3", "a", "b"],
                &["SINTERCARD", "1", "a", "LIMIT"],
                &["SINTERCARD", "1", "a", "LIMIT", "-1"],
                &["SINTERCARD", "1", "a", "LIMIT", "abc"],
                &["SINTERCARD", "1", "a", "FOO", "1"],
                &["SINTERCARD", "1", "a", "b"],
                &["SINTERCARD", "1"],
                &["SINTER"],
                &["SUNIONSTORE", "d"],
            ],
            resp3,
        );
    }
}

#[test]
fn store_commands_match_redis() {
    differential(
        &[
            &["SADD", "a", "1", "2", "3", "4"],
            &["SADD", "b", "3", "4", "5"],
            &["SADD", "h", "3", "x"],
            &["SREM", "h", "x"],
            &["OBJECT", "ENCODING", "h"],
            // An all-integer small result is an intset, whatever the sources' encodings.
            &["SINTERSTORE", "d", "a", "h"],
            &["OBJECT", "ENCODING", "d"],
            &["SMEMBERS", "d"],
            &["SUNIONSTORE", "d", "a", "b"],
            &["SMEMBERS", "d"],
            &["OBJECT", "ENCODING", "d"],
            &["SDIFFSTORE", "d", "a", "b"],
            &["SMEMBERS", "d"],
            // Replacing clears the destination's TTL and type.
            &["SET", "dst", "v", "EX", "100"],
            &["SUNIONSTORE", "dst", "a"],
            &["TYPE", "dst"],
            &["TTL", "dst"],
            // Empty results delete the destination.
            &["SINTERSTORE", "dst", "a", "nokey"],
            &["EXISTS", "dst"],
            &["SDIFFSTORE", "d", "a", "a"],
            &["EXISTS", "d"],
            &["SUNIONSTORE", "d", "nokey"],
            &["EXISTS", "d"],
            // The destination may be a source.
            &["SUNIONSTORE", "a", "a", "b"],
            &["SMEMBERS", "a"],
            &["SDIFFSTORE", "a", "a", "b"],
            &["SMEMBERS", "a"],
            // SDIFFSTORE that copies then removes keeps the first set's hashtable encoding.
            &["SADD", "m", "1", "2", "3", "z"],
            &["SADD", "x", "z"],
            &["SADD", "y", "z"],
            &["SADD", "w", "z"],
            &["SDIFFSTORE", "r", "m", "x", "y", "w"],
            &["OBJECT", "ENCODING", "r"],
            &["SDIFFSTORE", "r", "m", "x"],
            &["OBJECT", "ENCODING", "r"],
            &["SMEMBERS", "r"],
            &["SINTERSTORE", "r", "m", "x"],
            &["OBJECT", "ENCODING", "r"],
            &["SMEMBERS", "r"],
        ],
        false,
    );
}

#[test]
fn pop_random_and_move_match_redis() {
    for resp3 in [false, true] {
        differential(
            &[
                &["SADD", "s", "5", "1", "3"],
                &["SRANDMEMBER", "s", "3"],
                &["SRANDMEMBER", "s", "10"],
                &["SRANDMEMBER", "s", "0"],
                &["SRANDMEMBER", "nokey"],
                &["SRANDMEMBER", "nokey", "5"],
                &["SRANDMEMBER", "nokey", "-5"],
                &["SRANDMEMBER", "s", "abc"],
                &["SRANDMEMBER", "s", "-9223372036854775808"],
                &["SRANDMEMBER", "s", "1", "2"],
                &["SADD", "one", "x"],
                &["SRANDMEMBER", "one"],
                &["SRANDMEMBER", "one", "-3"],
                &["SPOP", "nokey"],
                &["SPOP", "nokey", "3"],
                &["SPOP", "s", "0"],
                &["SPOP", "s", "-1"],
                &["SPOP", "s", "abc"],
                &["SPOP", "s", "1", "2"],
                &["SPOP", "s", "3"],
                &["EXISTS", "s"],
                &["SPOP", "one"],
                &["EXISTS", "one"],
                &["SADD", "t", "7", "8"],
                &["SPOP", "t", "99"],
                &["EXISTS", "t"],
                &["SET", "str", "v"],
                &["SPOP", "str"],
                &["SPOP", "str", "1"],
                &["SPOP", "str", "-1"],
                &["SRANDMEMBER", "str"],
                &["SRANDMEMBER", "str", "-1"],
                // SMOVE
                &["SADD", "src", "1", "2"],
                &["SMOVE", "src", "dst", "1"],
                &["SMEMBERS", "src"],
                &["SMEMBERS", "dst"],
                &["OBJECT", "ENCODING", "dst"],
                &["SMOVE", "src", "dst", "9"],
                &["SMOVE", "src", "src", "2"],
                &["SMOVE", "src", "src", "9"],
                &["SMOVE", "nokey", "str", "1"],
                &["SMOVE", "src", "str", "2"],
                &["SMOVE", "str", "src", "2"],
                &["SMOVE", "src", "dst", "1"],
                &["SADD", "dst", "2"],
                &["SMOVE", "src", "dst", "2"],
                &["EXISTS", "src"],
                &["SMEMBERS", "dst"],
                &["SMOVE", "dst", "hs", "x"],
                &["SADD", "hs", "x"],
                &["SMOVE", "hs", "dst", "x"],
                &["OBJECT", "ENCODING", "dst"],
                &["SISMEMBER", "dst", "x"],
                &["SMOVE", "a", "b"],
            ],
            resp3,
        );
    }
}

#[test]
fn sscan_matches_redis() {
    for resp3 in [false, true] {
        differential(
            &[
                &["SADD", "s", "10", "1", "12", "3"],
                &["SSCAN", "s", "0"],
                &["SSCAN", "s", "0", "COUNT", "1"],
                &["SSCAN", "s", "0", "MATCH", "1*"],
                &["SSCAN", "s", "0", "MATCH", "*", "COUNT", "100"],
                &["SSCAN", "s", "-1"],
                &["SSCAN", "s", "abc"],
                &["SSCAN", "s", "18446744073709551616"],
                &["SSCAN", "s", "0", "COUNT", "0"],
                &["SSCAN", "s", "0", "COUNT", "abc"],
                &["SSCAN", "s", "0", "MATCH"],
                &["SSCAN", "s", "0", "TYPE", "set"],
                &["SSCAN", "nokey", "0"],
                &["SSCAN", "nokey", "0", "COUNT", "0"],
                &["SSCAN", "nokey", "abc"],
                &["SET", "str", "v"],
                &["SSCAN", "str", "0"],
                &["SSCAN", "str", "abc"],
                &["SSCAN", "str", "0", "COUNT", "0"],
                &["SADD", "h", "only"],
                &["SSCAN", "h", "0"],
                &["SSCAN", "h", "0", "MATCH", "x*"],
                &["SSCAN", "s"],
            ],
            resp3,
        );
    }
}

#[test]
fn generic_commands_work_on_sets() {
    differential(
        &[
            &["SADD", "s", "1", "2"],
            &["SADD", "h", "x"],
            &["TYPE", "s"],
            &["COPY", "s", "c"],
            &["SMEMBERS", "c"],
            &["OBJECT", "ENCODING", "c"],
            &["SADD", "c", "3"],
            &["SCARD", "s"],
            &["COPY", "h", "hc"],
            &["OBJECT", "ENCODING", "hc"],
            &["SMEMBERS", "hc"],
            &["RENAME", "s", "r"],
            &["SMEMBERS", "r"],
            &["EXISTS", "s"],
            &["SET", "str", "v"],
            &["SCAN", "0", "TYPE", "string"],
            &["DEL", "h", "hc", "c"],
            &["SCAN", "0", "TYPE", "set"],
        ],
        false,
    );
}

/// Runs a command on a `redis` crate connection and converts its reply.
fn query<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut command = redis::cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c).unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn hashtable_results_hold_the_right_members() {
    let server = Server::lite(&[]);
    let mut c = server.client();
    let members = |c: &mut redis::Connection, args: &[&str]| sorted(query(c, args));
    let _: i64 = query(&mut c, &["SADD", "a", "x", "y", "z", "1"]);
    let _: i64 = query(&mut c, &["SADD", "b", "y", "z", "w"]);
    assert_eq!(members(&mut c, &["SMEMBERS", "a"]), ["1", "x", "y", "z"]);
    assert_eq!(members(&mut c, &["SINTER", "a", "b"]), ["y", "z"]);
    assert_eq!(
        members(&mut c, &["SUNION", "a", "b"]),
        ["1", "w", "x", "y", "z"]
    );
    assert_eq!(members(&mut c, &["SDIFF", "a", "b"]), ["1", "x"]);
    let _: i64 = query(&mut c, &["SDIFFSTORE", "d", "a", "b"]);
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]), ["1", "x"]);
    let popped: Vec<String> = members(&mut c, &["SPOP", "a", "10"]);
    assert_eq!(popped, ["1", "x", "y", "z"]);
    let exists: i64 = redis::cmd("EXISTS").arg("a").query(&mut c).unwrap();
    assert_eq!(exists, 0);
}

#[test]
fn random_picks_follow_redis_semantics() {
    let server = Server::lite(&[]);
    let mut c = server.client();
    for (name, prefix) in [("ints", ""), ("strs", "m")] {
        let all: Vec<String> = (0..100).map(|i| format!("{prefix}{i}")).collect();
        let _: i64 = redis::cmd("SADD")
            .arg(name)
            .arg(&all)
            .query(&mut c)
            .unwrap();
        let everything: HashSet<String> = all.iter().cloned().collect();
        for count in [1, 5, 30, 99, 100, 150] {
            let picked: Vec<String> = redis::cmd("SRANDMEMBER")
                .arg(name)
                .arg(count)
                .query(&mut c)
                .unwrap();
            let distinct: HashSet<String> = picked.iter().cloned().collect();
            assert_eq!(picked.len(), count.min(100));
            assert_eq!(distinct.len(), picked.len(), "positive count: no repeats");
            assert!(distinct.is_subset(&everything));
        }
        // A negative count returns exactly that many, repeats allowed (and, over 500 picks
        // from 100 members, certain to happen).
        let picked: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(name)
            .arg(-500)
            .query(&mut c)
            .unwrap();
        assert_eq!(picked.len(), 500);
        assert!(picked.iter().all(|m| everything.contains(m)));
        assert!(picked.iter().collect::<HashSet<_>>().len() < 500);
        let one: String = redis::cmd("SRANDMEMBER").arg(name).query(&mut c).unwrap();
        assert!(everything.contains(&one));
        // SPOP removes what it returns, without repeats, with small and large counts.
        let mut left = everything.clone();
        for count in [1usize, 3, 40] {
            let popped: Vec<String> = redis::cmd("SPOP")
                .arg(name)
                .arg(count)
                .query(&mut c)
                .unwrap();
            assert_eq!(popped.len(), count);
            for m in &popped {
                assert!(left.remove(m), "{m} popped twice or never present");
            }
        }
        let single: String = redis::cmd("SPOP").arg(name).query(&mut c).unwrap();
        assert!(left.remove(&single));
        let rest: Vec<String> = redis::cmd("SMEMBERS").arg(name).query(&mut c).unwrap();
        assert_eq!(rest.into_iter().collect::<HashSet<_>>(), left);
    }
}

#[test]
fn sscan_returns_every_member_of_a_hashtable() {
    let server = Server::lite(&[]);
    let mut c = server.client();
    let all: Vec<String> = (0..2000).map(|i| format!("member:{i}")).collect();
    let _: i64 = redis::cmd("SADD").arg("s").arg(&all).query(&mut c).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, batch): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg("s")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .unwrap();
        calls += 1;
        // Churn while the scan is under way: members added and removed must not hide others.
        let churn: Vec<String> = (0..100).map(|i| format!("churn:{calls}:{i}")).collect();
        let _: i64 = redis::cmd("SADD")
            .arg("s")
            .arg(&churn)
            .query(&mut c)
            .unwrap();
        if calls % 2 == 0 {
            let _: i64 = redis::cmd("SREM")
                .arg("s")
                .arg(&churn)
                .query(&mut c)
                .unwrap();
        }
        seen.extend(batch);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1, "a hashtable is scanned in several calls");
    for m in &all {
        assert!(seen.contains(m), "missing {m}");
    }
    let (_, matched): (String, Vec<String>) = redis::cmd("SSCAN")
        .arg("s")
        .arg(0)
        .arg("MATCH")
        .arg("member:1*")
        .arg("COUNT")
        .arg(100000)
        .query(&mut c)
        .unwrap();
    assert_eq!(matched.len(), 1111);
}

/// Pseudo-random integer sets (values of every intset width, sizes that keep every result an
/// intset, so Redis's replies are in ascending order) through every algebra command.
#[test]
fn algebra_on_generated_intsets_matches_redis() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let scales = [100i64, 40_000, 3_000_000_000, i64::MAX];
    let mut owned: Vec<Vec<String>> = Vec::new();
    for (k, key) in ["a", "b", "c", "d"].iter().enumerate() {
        let mut cmd = vec!["SADD".to_string(), key.to_string()];
        for _ in 0..(50 + 40 * k) {
            let scale = scales[(next() % 4) as usize];
            let n = (next() % 60) as i64 - 30;
            cmd.push(if scale == i64::MAX && n == -30 {
                i64::MIN.to_string()
            } else {
                (n * (scale / 30)).to_string()
            });
        }
        owned.push(cmd);
    }
    let ops: &[&[&str]] = &[
        &["SMEMBERS", "a"],
        &["SMEMBERS", "d"],
        &["SINTER", "a", "b"],
        &["SINTER", "d", "c", "b"],
        &["SUNION", "a", "b"],
        &["SUNION", "c", "d"],
        &["SDIFF", "d", "a"],
        &["SDIFF", "c", "a", "b"],
        &["SINTERCARD", "2", "c", "d"],
        &["SINTERCARD", "2", "c", "d", "LIMIT", "3"],
        &["SINTERSTORE", "r", "a", "b", "c"],
        &["SMEMBERS", "r"],
        &["SUNIONSTORE", "r", "b", "a"],
        &["SMEMBERS", "r"],
        &["OBJECT", "ENCODING", "r"],
        &["SDIFFSTORE", "r", "d", "c"],
        &["SMEMBERS", "r"],
        &["SMISMEMBER", "a", "0", "1", "-30"],
        &["SREM", "d", "0", "-3000000000", "9223372036854775800"],
        &["SMEMBERS", "d"],
    ];
    let adds: Vec<Vec<&str>> = owned
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let mut script: Vec<&[&str]> = adds.iter().map(Vec::as_slice).collect();
    script.extend_from_slice(ops);
    differential(&script, true);
}
