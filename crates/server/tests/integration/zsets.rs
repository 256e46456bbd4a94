//! Sorted set commands: differential scripts against real Redis (RESP2 and RESP3) for every
//! command, option and error, encodings and their conversion points, plus redis-lite-only checks
//! of random and hash-ordered replies and keyspace notifications.
use redis_lite_testkit as testkit;

use testkit::{differential, differential_both_protocols, differential_with, Server};

#[test]
fn zadd_options_and_errors() {
    differential_both_protocols(testkit::script!("zsets/zadd_options_and_errors"));
}

#[test]
fn lookups_and_removal() {
    differential_both_protocols(testkit::script!("zsets/lookups_and_removal"));
}

#[test]
fn counts_and_range_syntax() {
    differential_both_protocols(testkit::script!("zsets/counts_and_range_syntax"));
}

#[test]
fn zrange_family() {
    differential_both_protocols(testkit::script!("zsets/zrange_family"));
}

#[test]
fn zrangestore_and_encodings_of_results() {
    let long = "x".repeat(70);
    let script: Vec<Vec<&str>> = vec![
        vec![
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", &long,
        ],
        vec!["ZRANGESTORE", "d", "z", "0", "2"],
        vec!["OBJECT", "ENCODING", "d"],
        vec!["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        vec!["ZRANGESTORE", "d", "z", "0", "4"],
        vec!["OBJECT", "ENCODING", "d"],
        vec!["ZRANGESTORE", "d", "z", "5", "5"],
        vec!["OBJECT", "ENCODING", "d"],
        vec![
            "ZRANGESTORE",
            "d",
            "z",
            "(1",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "1",
            "2",
        ],
        vec!["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        vec![
            "ZRANGESTORE",
            "d",
            "z",
            "+inf",
            "(1",
            "BYSCORE",
            "REV",
            "LIMIT",
            "0",
            "1",
        ],
        vec!["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        vec!["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"],
        vec!["ZRANGESTORE", "d", "z", "0", "-1", "LIMIT", "0", "1"],
        vec!["SET", "str", "v"],
        vec!["EXPIRE", "str", "100"],
        vec!["ZRANGESTORE", "str", "z", "0", "0"],
        vec!["TYPE", "str"],
        vec!["TTL", "str"],
        vec!["ZRANGESTORE", "d", "z", "10", "20"],
        vec!["EXISTS", "d"],
        vec!["ZRANGESTORE", "d", "nokey", "0", "-1"],
        vec!["ZRANGESTORE", "d", "str", "0", "-1"],
        vec!["ZRANGESTORE", "d", "s", "0"],
        vec!["ZUNIONSTORE", "u", "1", "z"],
        vec!["OBJECT", "ENCODING", "u"],
        vec!["ZREM", "z", &long],
        vec!["ZUNIONSTORE", "u", "1", "z"],
        vec!["OBJECT", "ENCODING", "u"],
        vec!["ZREM", "z", "e"],
        vec!["ZUNIONSTORE", "u", "1", "z"],
        vec!["OBJECT", "ENCODING", "u"],
        vec!["ZINTERSTORE", "u", "2", "z", "z"],
        vec!["OBJECT", "ENCODING", "u"],
    ];
    let script: Vec<&[&str]> = script.iter().map(|c| c.as_slice()).collect();
    differential_with(&script, false, &["--zset-max-listpack-entries", "4"]);
}

#[test]
fn remove_ranges() {
    differential_both_protocols(testkit::script!("zsets/remove_ranges"));
}

#[test]
fn pops() {
    differential_both_protocols(testkit::script!("zsets/pops"));
}

#[test]
fn set_algebra() {
    differential_both_protocols(testkit::script!("zsets/set_algebra"));
}

#[test]
fn zrandmember_deterministic_parts() {
    differential_both_protocols(testkit::script!("zsets/zrandmember_deterministic_parts"));
}

#[test]
fn zscan_on_listpack() {
    differential_both_protocols(testkit::script!("zsets/zscan_on_listpack"));
}

#[test]
fn encoding_conversion_points() {
    let at_limit: Vec<String> = (0..128)
        .flat_map(|i| [i.to_string(), format!("m{i}")])
        .collect();
    let mut big_add = vec!["ZADD", "z"];
    big_add.extend(at_limit.iter().map(String::as_str));
    let v64 = "v".repeat(64);
    let v65 = "v".repeat(65);
    let script: Vec<Vec<&str>> = vec![
        big_add.clone(),
        vec!["OBJECT", "ENCODING", "z"],
        vec!["ZADD", "z", "1", "m0"],
        vec!["OBJECT", "ENCODING", "z"],
        vec!["ZADD", "z", "500", "one-more"],
        vec!["OBJECT", "ENCODING", "z"],
        vec!["ZREMRANGEBYRANK", "z", "0", "-3"],
        vec!["OBJECT", "ENCODING", "z"],
        vec!["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        vec!["ZADD", "v", "1", &v64],
        vec!["OBJECT", "ENCODING", "v"],
        vec!["ZADD", "v", "2", &v65],
        vec!["OBJECT", "ENCODING", "v"],
        vec!["ZADD", "w", "1", &v65],
        vec!["OBJECT", "ENCODING", "w"],
        vec!["ZADD", "x", "1", "a", "2", &v65],
        vec!["OBJECT", "ENCODING", "x"],
        vec!["ZADD", "y", "XX", "1", &v65],
        vec!["EXISTS", "y"],
        vec!["ZADD", "neg", "-0", "m"],
        vec!["ZSCORE", "neg", "m"],
        vec!["TYPE", "z"],
        vec!["COPY", "z", "zcopy"],
        vec!["OBJECT", "ENCODING", "zcopy"],
        vec!["ZRANGE", "zcopy", "0", "-1", "WITHSCORES"],
        vec!["RENAME", "zcopy", "zrenamed"],
        vec!["ZCARD", "zrenamed"],
        vec!["OBJECT", "ENCODING", "v"],
        vec!["SCAN", "0", "TYPE", "zset", "COUNT", "1000"],
    ];
    let script: Vec<&[&str]> = script.iter().map(|c| c.as_slice()).collect();
    // SCAN's key order differs between the servers; only the last line lists keys, so compare
    // everything else and check SCAN TYPE separately below.
    differential(&script[..script.len() - 1], false);
    differential(&script[..script.len() - 1], true);
    differential_with(
        testkit::script!("zsets/encoding_conversion_points"),
        false,
        &[
            "--zset-max-listpack-entries",
            "3",
            "--zset-max-listpack-value",
            "5",
        ],
    );
}

/// Scores and ranks on a big (skiplist) set, including -0 kept as -0 there.
#[test]
fn big_sets_match_redis() {
    let members: Vec<String> = (0..300)
        .flat_map(|i| [((i * 37) % 300).to_string(), format!("m{i}")])
        .collect();
    let mut add = vec!["ZADD", "z"];
    add.extend(members.iter().map(String::as_str));
    let script: Vec<Vec<&str>> = vec![
        add,
        vec!["OBJECT", "ENCODING", "z"],
        vec!["ZRANK", "z", "m150"],
        vec!["ZREVRANK", "z", "m150"],
        vec!["ZRANGE", "z", "100", "110", "WITHSCORES"],
        vec!["ZRANGE", "z", "100", "110", "REV", "WITHSCORES"],
        vec![
            "ZRANGE",
            "z",
            "(50",
            "60",
            "BYSCORE",
            "LIMIT",
            "2",
            "3",
            "WITHSCORES",
        ],
        vec!["ZCOUNT", "z", "10", "(20"],
        vec!["ZADD", "z", "-0", "negzero"],
        vec!["ZSCORE", "z", "negzero"],
        vec!["ZREMRANGEBYRANK", "z", "10", "200"],
        vec!["ZCARD", "z"],
        vec!["ZPOPMIN", "z", "3"],
        vec!["ZPOPMAX", "z", "3"],
        vec!["ZRANDMEMBER", "z", "1000", "WITHSCORES"],
        vec!["ZUNIONSTORE", "u", "1", "z"],
        vec!["OBJECT", "ENCODING", "u"],
        vec!["ZRANGE", "u", "0", "-1", "WITHSCORES"],
        vec!["ZREMRANGEBYSCORE", "z", "-inf", "+inf"],
        vec!["EXISTS", "z"],
    ];
    let script: Vec<&[&str]> = script.iter().map(|c| c.as_slice()).collect();
    differential(&script, false);
    differential(&script, true);
}

fn bulk_strings(reply: &[u8]) -> Vec<String> {
    // Pulls the bulk strings out of an array reply, in order.
    let text = String::from_utf8_lossy(reply);
    let mut out = Vec::new();
    let mut lines = text.split("\r\n");
    while let Some(line) = lines.next() {
        if line.starts_with('$') && line != "$-1" {
            out.push(lines.next().unwrap_or("").to_string());
        }
    }
    out
}

#[test]
fn zscan_on_big_set_returns_everything() {
    let server = Server::lite(&[]);
    let mut c = server.raw();
    let mut add = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..1000 {
        add.push(i.to_string());
        add.push(format!("member:{i}"));
    }
    let add: Vec<&str> = add.iter().map(String::as_str).collect();
    c.cmd(&add);
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.cmd(&["ZSCAN", "z", &cursor, "COUNT", "20"]);
        let items = bulk_strings(&reply);
        cursor = items[0].clone();
        for pair in items[1..].chunks(2) {
            let n: usize = pair[0].strip_prefix("member:").unwrap().parse().unwrap();
            assert_eq!(pair[1], n.to_string());
            seen.insert(n);
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert!(calls > 10, "COUNT bounds each call ({calls} calls)");
    let matched =
        bulk_strings(&c.cmd(&["ZSCAN", "z", "0", "MATCH", "member:99*", "COUNT", "100000"]));
    assert_eq!(matched.len(), 1 + 2 * 11);
}

#[test]
fn zrandmember_random_parts() {
    let server = Server::lite(&[]);
    let mut c = server.raw();
    c.cmd(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ]);
    for count in ["2", "4"] {
        let picked = bulk_strings(&c.cmd(&["ZRANDMEMBER", "z", count]));
        let unique: std::collections::HashSet<_> = picked.iter().collect();
        assert_eq!(unique.len(), picked.len());
        assert_eq!(picked.len(), count.parse::<usize>().unwrap());
    }
    let picked = bulk_strings(&c.cmd(&["ZRANDMEMBER", "z", "-20", "WITHSCORES"]));
    assert_eq!(picked.len(), 40);
    for pair in picked.chunks(2) {
        assert_eq!(
            pair[1],
            ((pair[0].as_bytes()[0] - b'a' + 1) as u32).to_string()
        );
    }
    let one = bulk_strings(&c.cmd(&["ZRANDMEMBER", "z"]));
    assert!(["a", "b", "c", "d", "e"].contains(&one[0].as_str()));
    let mut c3 = server.raw();
    c3.cmd(&["HELLO", "3"]);
    let reply = String::from_utf8(c3.cmd(&["ZRANDMEMBER", "z", "-2", "WITHSCORES"])).unwrap();
    assert!(reply.starts_with("*2\r\n*2\r\n$1\r\n"), "{reply:?}");
}

#[test]
fn keyspace_notifications() {
    let server = Server::lite(&[]);
    let mut c = server.raw();
    let reply = c.cmd_text(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    assert_eq!(reply, "+OK\r\n");
    let mut sub = server.raw();
    let reply = sub.cmd_text(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    assert!(reply.starts_with("*3"), "{reply}");
    let script: &[&[&str]] = testkit::script!("zsets/keyspace_notifications");
    for cmd in script {
        c.cmd(cmd);
    }
    let expected = [
        "zadd",
        "zincr",
        "zrem",
        "zremrangebyscore",
        "zpopmax",
        "del",
        "zadd",
        "zrangestore",
        "zunionstore",
        "del",
        "zremrangebyrank",
        "del",
    ];
    for event in expected {
        let msg = String::from_utf8_lossy(&sub.read_reply()).into_owned();
        assert!(
            msg.contains(&format!("__keyevent@0__:{event}\r\n")),
            "wanted {event}: {msg:?}"
        );
    }
}

/// A small deterministic generator, so the randomized script is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Random adds, removals, range queries and pops, on both encodings (the listpack limit is
/// low, so the sets cross it), compared with real Redis.
#[test]
fn randomized_scripts_match_redis() {
    let mut rng = Lcg(7);
    let mut script: Vec<Vec<String>> = Vec::new();
    let bound = |rng: &mut Lcg| -> String {
        match rng.next(6) {
            0 => "-inf".into(),
            1 => "+inf".into(),
            2 => format!("({}", rng.next(12) as f64 / 2.0),
            _ => (rng.next(12) as f64 / 2.0).to_string(),
        }
    };
    let lex = |rng: &mut Lcg| -> String {
        match rng.next(6) {
            0 => "-".into(),
            1 => "+".into(),
            2 => format!("(m{}", rng.next(30)),
            _ => format!("[m{}", rng.next(30)),
        }
    };
    for _ in 0..400 {
        let key = ["a", "b"][rng.next(2) as usize].to_string();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cmd: Vec<String> = match rng.next(12) {
            0..=2 => {
                let mut c = s(&["ZADD", &key]);
                for _ in 0..1 + rng.next(6) {
                    c.push((rng.next(12) as f64 / 2.0).to_string());
                    c.push(format!("m{}", rng.next(30)));
                }
                c
            }
            3 => s(&[
                "ZREM",
                &key,
                &format!("m{}", rng.next(30)),
                &format!("m{}", rng.next(30)),
            ]),
            4 => {
                let mut c = s(&["ZRANGE", &key]);
                let by = rng.next(2);
                let rev = rng.next(2) == 1;
                if by == 0 {
                    c.push((rng.next(20) as i64 - 10).to_string());
                    c.push((rng.next(20) as i64 - 10).to_string());
                } else {
                    c.push(bound(&mut rng));
                    c.push(bound(&mut rng));
                    c.push("BYSCORE".into());
                    if rng.next(2) == 0 {
                        c.extend(s(&[
                            "LIMIT",
                            &rng.next(5).to_string(),
                            &(rng.next(6) as i64 - 1).to_string(),
                        ]));
                    }
                }
                if rev {
                    c.push("REV".into());
                }
                if rng.next(2) == 0 {
                    c.push("WITHSCORES".into());
                }
                c
            }
            5 => s(&["ZCOUNT", &key, &bound(&mut rng), &bound(&mut rng)]),
            6 => s(&["ZRANK", &key, &format!("m{}", rng.next(30))]),
            7 => s(&["ZREVRANK", &key, &format!("m{}", rng.next(30))]),
            8 => s(&["ZREMRANGEBYSCORE", &key, &bound(&mut rng), &bound(&mut rng)]),
            9 => s(&[
                "ZREMRANGEBYRANK",
                &key,
                &(rng.next(8) as i64 - 4).to_string(),
                &(rng.next(8) as i64 - 4).to_string(),
            ]),
            10 => s(&[
                ["ZPOPMIN", "ZPOPMAX"][rng.next(2) as usize],
                &key,
                &rng.next(3).to_string(),
            ]),
            _ => {
                // Lex ranges need equal scores: the `l` key only ever has score 0.
                let (min, max) = (lex(&mut rng), lex(&mut rng));
                match rng.next(6) {
                    0..=2 => s(&["ZADD", "l", "0", &format!("m{}", rng.next(30))]),
                    3 => {
                        let mut c = s(&["ZRANGEBYLEX", "l", &min, &max]);
                        if rng.next(2) == 0 {
                            let (offset, count) = (rng.next(4), rng.next(5) as i64 - 1);
                            c.extend(s(&["LIMIT", &offset.to_string(), &count.to_string()]));
                        }
                        c
                    }
                    4 => s(&["ZREVRANGEBYLEX", "l", &min, &max]),
                    _ if rng.next(3) == 0 => s(&["ZREMRANGEBYLEX", "l", &min, &max]),
                    _ => s(&["ZLEXCOUNT", "l", &min, &max]),
                }
            }
        };
        script.push(cmd);
        script.push(vec![
            "ZRANGE".into(),
            key.clone(),
            "0".into(),
            "-1".into(),
            "WITHSCORES".into(),
        ]);
    }
    script.push(vec![
        "ZUNION".into(),
        "3".into(),
        "a".into(),
        "b".into(),
        "l".into(),
        "WITHSCORES".into(),
    ]);
    script.push(vec![
        "ZINTER".into(),
        "2".into(),
        "a".into(),
        "b".into(),
        "WITHSCORES".into(),
    ]);
    script.push(vec![
        "ZDIFF".into(),
        "2".into(),
        "a".into(),
        "b".into(),
        "WITHSCORES".into(),
    ]);
    testkit::differential_generated(&script, false, &["--zset-max-listpack-entries", "8"]);
    testkit::differential_generated(&script, true, &["--zset-max-listpack-entries", "8"]);
}

#[test]
fn scan_type_finds_sorted_sets() {
    let server = Server::lite(&[]);
    let mut c = server.raw();
    c.cmd(&["ZADD", "z1", "1", "a"]);
    c.cmd(&["ZADD", "z2", "1", "a"]);
    c.cmd(&["SET", "s", "x"]);
    let mut keys = bulk_strings(&c.cmd(&["SCAN", "0", "TYPE", "zset", "COUNT", "100"]));
    keys.remove(0);
    keys.sort();
    assert_eq!(keys, ["z1", "z2"]);
}

#[test]
fn destination_may_be_a_source() {
    differential_both_protocols(testkit::script!("zsets/destination_may_be_a_source"));
}

/// ZUNION, ZINTER and ZDIFF take plain sets too, each member scoring 1.
#[test]
fn set_algebra_accepts_plain_sets() {
    testkit::differential(
        testkit::script!("zsets/set_algebra_accepts_plain_sets"),
        false,
    );
}

#[test]
fn counted_keys_of_zset_commands_match_redis() {
    testkit::differential(
        testkit::script!("zsets/counted_keys_of_zset_commands_match_redis"),
        false,
    );
}

#[test]
fn lex_ranges_over_different_scores_match_redis() {
    differential(
        testkit::script!("zsets/lex_ranges_over_different_scores_match_redis"),
        false,
    );
}
