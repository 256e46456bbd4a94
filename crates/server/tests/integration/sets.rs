//! Set commands: differential scripts against real Redis (intsets reply in ascending order, so
//! their replies are deterministic; hashtable replies are compared only when they hold one
//! member), plus redis-lite-only checks of random picks, hashtable order-independent results and
//! SSCAN's full-iteration guarantee.
use redis_lite_testkit as testkit;

use std::collections::HashSet;

use testkit::{differential, differential_both_protocols, differential_with, Server};

#[test]
fn basic_commands_match_redis() {
    differential_both_protocols(testkit::script!("sets/basic_commands_match_redis"));
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
        testkit::script!("sets/intset_limit_follows_config"),
        false,
        &["--set-max-intset-entries", "4"],
    );
}

#[test]
fn algebra_matches_redis() {
    differential_both_protocols(testkit::script!("sets/algebra_matches_redis"));
}

#[test]
fn store_commands_match_redis() {
    differential(testkit::script!("sets/store_commands_match_redis"), false);
}

#[test]
fn pop_random_and_move_match_redis() {
    differential_both_protocols(testkit::script!("sets/pop_random_and_move_match_redis"));
}

#[test]
fn sscan_matches_redis() {
    differential_both_protocols(testkit::script!("sets/sscan_matches_redis"));
}

#[test]
fn generic_commands_work_on_sets() {
    differential(
        testkit::script!("sets/generic_commands_work_on_sets"),
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
    let ops: &[&[&str]] = testkit::script!("sets/algebra_on_generated_intsets_matches_redis");
    let adds: Vec<Vec<&str>> = owned
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let mut script: Vec<&[&str]> = adds.iter().map(Vec::as_slice).collect();
    script.extend_from_slice(ops);
    differential(&script, true);
}
