//! Quicklist plain nodes (Redis 7.0): elements at least as long as the packed threshold
//! (`DEBUG QUICKLIST-PACKED-THRESHOLD`) sit alone in nodes of their own. Checked against real
//! Redis with a small threshold: the threshold's argument parsing, every list command across
//! plain and packed nodes (with small fills and compression too), the node shapes DEBUG OBJECT
//! reports, and snapshots with plain nodes moving both ways between Redis and redis-lite.
use redis_lite_testkit as testkit;

use rand::{Rng, SeedableRng};
use testkit::{differential_generated, differential_with, DataDir, Launch, Raw, Server};

const DEBUG: [&str; 2] = ["--enable-debug-command", "yes"];

fn text(len: usize, fill: char) -> String {
    fill.to_string().repeat(len)
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD reads sizes as Redis's `memtoull` (units, no sign, wrapping
/// products) and accepts 0 (the default again) up to 4 GB less 1 MB; DEBUG QUICKLIST's replies
/// and errors.
#[test]
fn threshold_arguments_and_quicklist_replies_match_redis() {
    let mut script: Vec<Vec<String>> = [
        "100",
        "1b",
        "0",
        "1",
        "",
        "kb",
        "b",
        "1kb",
        "1KB",
        "5B",
        "100k",
        "3gb",
        "4095mb",
        "4095MB",
        "4293918720",
        "4293918721",
        "4gb",
        "4194303kb",
        "4294967295",
        "17179869184gb",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1.5k",
        "0x10",
        "1e3",
        "abc",
        "00012",
    ]
    .iter()
    .map(|size| {
        vec![
            "DEBUG".into(),
            "QUICKLIST-PACKED-THRESHOLD".into(),
            size.to_string(),
        ]
    })
    .collect();
    let commands: &[&[&str]] = &[
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1", "2"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "10"],
        &["RPUSH", "l", "a", "a-long-element", "b"],
        &["DEBUG", "QUICKLIST", "l"],
        &["DEBUG", "QUICKLIST", "l", "1"],
        &["DEBUG", "QUICKLIST", "l", "x"],
        &["DEBUG", "QUICKLIST", "l", "1", "2"],
        &["DEBUG", "QUICKLIST"],
        &["DEBUG", "QUICKLIST", "missing"],
        &["SET", "s", "v"],
        &["DEBUG", "QUICKLIST", "s"],
        &["DEBUG", "LISTPACK", "l"],
        &["LRANGE", "l", "0", "-1"],
        &["OBJECT", "ENCODING", "l"],
    ];
    script.extend(
        commands
            .iter()
            .map(|c| c.iter().map(|a| a.to_string()).collect()),
    );
    differential_generated(&script, false, &[]);
}

/// A script of list commands over elements on both sides of a 100-byte threshold: pushes,
/// inserts next to and inside nodes, replacements in every direction, removals, searches,
/// trims and moves, read back after each step; with `dump`, each list's DUMP at the end, which
/// writes the nodes as they are, byte for byte as Redis.
fn mixed_script(dump: bool) -> Vec<Vec<String>> {
    let big = |c| text(150, c);
    let cmd = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let (a, b, c, d) = (big('A'), big('B'), big('C'), big('D'));
    let huge = text(3000, 'H');
    let mut script = vec![
        // LZF strings in DUMP would differ from Redis's in their bytes, not their meaning.
        cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
        cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]),
        cmd(&["RPUSH", "l", "x", "y", &a, "z", "1", "99"]),
        cmd(&["LPUSH", "l", &b, "w"]),
        cmd(&["RPUSH", "l", &c, &c, "2"]),
        cmd(&["LINSERT", "l", "BEFORE", &a, "before-a"]),
        cmd(&["LINSERT", "l", "AFTER", &a, "after-a"]),
        cmd(&["LINSERT", "l", "BEFORE", "z", &d]),
        cmd(&["LINSERT", "l", "AFTER", "x", &d]),
        cmd(&["LINSERT", "l", "BEFORE", "w", &huge]),
        cmd(&["LINSERT", "l", "AFTER", "2", &a]),
        cmd(&["LSET", "l", "3", "small"]),
        cmd(&["LSET", "l", "4", &b]),
        cmd(&["LSET", "l", "0", &c]),
        cmd(&["LSET", "l", "-1", "last"]),
        cmd(&["LSET", "l", "5", &huge]),
        cmd(&["LPOS", "l", &c]),
        cmd(&["LPOS", "l", &c, "RANK", "-1"]),
        cmd(&["LPOS", "l", &d, "COUNT", "0"]),
        cmd(&["LPOS", "l", "1"]),
        cmd(&["LINDEX", "l", "6"]),
        cmd(&["LREM", "l", "1", &c]),
        cmd(&["LREM", "l", "-1", &d]),
        cmd(&["LREM", "l", "0", "small"]),
        cmd(&["LMOVE", "l", "m", "LEFT", "RIGHT"]),
        cmd(&["LMOVE", "l", "m", "RIGHT", "LEFT"]),
        cmd(&["RPOPLPUSH", "m", "l"]),
        cmd(&["LPOP", "l", "2"]),
        cmd(&["RPUSH", "l", &a, "q", &b]),
        cmd(&["LTRIM", "l", "1", "-2"]),
        cmd(&["LRANGE", "l", "2", "4"]),
        cmd(&["LRANGE", "l", "-3", "-1"]),
        cmd(&["RPUSH", "n", "1", "2", "3", "4", "5"]),
        cmd(&["LSET", "n", "2", &a]),
        cmd(&["LSET", "n", "2", &b]),
        cmd(&["LSET", "n", "2", "3"]),
        cmd(&["LINSERT", "n", "AFTER", "5", &c]),
        cmd(&["LSET", "n", "-1", "6"]),
        cmd(&["LINSERT", "n", "BEFORE", "1", &d]),
        cmd(&["LSET", "n", "0", "0"]),
        cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]),
        cmd(&["LSET", "n", "1", &a]),
        cmd(&["RPUSH", "n", &b]),
        cmd(&["SORT", "l", "ALPHA", "STORE", "sorted"]),
    ];
    let mut with_reads = Vec::new();
    for line in script.drain(..) {
        let key = match line[0].as_str() {
            "LMOVE" | "RPOPLPUSH" | "SORT" => None,
            _ => line.get(1).filter(|k| k.len() == 1).cloned(),
        };
        with_reads.push(line);
        for key in key
            .into_iter()
            .chain(["m".to_string(), "sorted".to_string()])
        {
            with_reads.push(cmd(&["LRANGE", &key, "0", "-1"]));
        }
    }
    for key in ["l", "m", "n", "sorted"] {
        with_reads.push(cmd(&["OBJECT", "ENCODING", key]));
        with_reads.push(cmd(&["DEBUG", "DIGEST-VALUE", key]));
        if dump {
            with_reads.push(cmd(&["DUMP", key]));
        }
    }
    with_reads
}

/// The mixed script, byte for byte as Redis answers it, under several node fills and
/// compression depths (compression reaches plain nodes too).
#[test]
fn list_commands_across_plain_nodes_match_redis() {
    let shapes: &[&[&str]] = &[
        &[],
        &["--list-max-listpack-size", "2"],
        &[
            "--list-max-listpack-size",
            "1",
            "--list-compress-depth",
            "1",
        ],
        &["--list-compress-depth", "1"],
        &[
            "--list-max-listpack-size",
            "-1",
            "--list-compress-depth",
            "2",
        ],
    ];
    for args in shapes {
        // Compressed nodes travel as LZF blobs, whose bytes differ from Redis's encoder's.
        let compressed = args.contains(&"--list-compress-depth");
        if !differential_generated(&mixed_script(!compressed), false, args) {
            return;
        }
    }
}

/// Random list commands with elements of 0 to 300 bytes and a random small threshold, replies
/// compared with Redis's after every step.
#[test]
fn random_commands_across_plain_nodes_match_redis() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    for round in 0..4 {
        let threshold = rng.gen_range(1..200).to_string();
        let depth = (round % 2).to_string();
        let mut script = vec![vec![
            "DEBUG".to_string(),
            "QUICKLIST-PACKED-THRESHOLD".to_string(),
            threshold,
        ]];
        let values: Vec<String> = (0..8)
            .map(|i| match i {
                0 => String::new(),
                1 => "12345".into(),
                _ => text(rng.gen_range(1..300), (b'a' + i as u8) as char),
            })
            .collect();
        for _ in 0..300 {
            let mut v = || values[rng.gen_range(0..values.len())].clone();
            let (v1, v2) = (v(), v());
            let index = rng.gen_range(-12..12).to_string();
            let line: Vec<String> = match rng.gen_range(0..9) {
                0 | 1 => vec!["RPUSH".into(), "l".into(), v1, v2],
                2 => vec!["LPUSH".into(), "l".into(), v1],
                3 => vec!["LSET".into(), "l".into(), index, v1],
                4 => {
                    let side = if rng.gen_bool(0.5) { "BEFORE" } else { "AFTER" };
                    vec!["LINSERT".into(), "l".into(), side.into(), v1, v2]
                }
                5 => vec![
                    "LREM".into(),
                    "l".into(),
                    rng.gen_range(-2..3).to_string(),
                    v1,
                ],
                6 => vec!["LTRIM".into(), "l".into(), "1".into(), index],
                7 => vec!["LPOS".into(), "l".into(), v1, "COUNT".into(), "0".into()],
                _ => vec![
                    "LMOVE".into(),
                    "l".into(),
                    "l".into(),
                    "LEFT".into(),
                    "RIGHT".into(),
                ],
            };
            script.push(line);
            script.push(["LRANGE", "l", "0", "-1"].map(String::from).to_vec());
        }
        script.push(["DEBUG", "DIGEST-VALUE", "l"].map(String::from).to_vec());
        if !differential_generated(&script, false, &["--list-compress-depth", &depth]) {
            return;
        }
    }
}

/// DEBUG OBJECT's quicklist fields (nodes, average, uncompressed size).
fn shape(raw: &mut Raw, key: &str) -> String {
    let text = raw.cmd_text(&["DEBUG", "OBJECT", key]);
    text.split_whitespace()
        .filter(|f| f.starts_with("ql_"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How Redis lays plain nodes out: each large element alone, small ones next to a plain node
/// in the packed neighbour with room, a packed node split around a large insert or
/// replacement, a replaced plain element moving into the next node, no merging after
/// removals. Each scenario's DEBUG OBJECT figures, on both servers.
#[test]
fn plain_node_layout_matches_redis() {
    let (big, other) = (text(150, 'B'), text(120, 'C'));
    let scenarios: Vec<(&str, Vec<Vec<&str>>)> = vec![
        ("-2", vec![vec!["RPUSH", "l", "a", "b", &big, "c"]]),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", "b", &big, "c"],
                vec!["LINSERT", "l", "BEFORE", &big, "x"],
                vec!["LINSERT", "l", "AFTER", &big, "y"],
            ],
        ),
        (
            "1",
            vec![
                vec!["RPUSH", "l", "a", &big, "c"],
                vec!["LINSERT", "l", "BEFORE", &big, "x"],
                vec!["LINSERT", "l", "AFTER", &big, "y"],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", "b", &big, "c", "d"],
                vec!["LSET", "l", "2", "small"],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", "b", &big],
                vec!["LSET", "l", "2", "s"],
            ],
        ),
        (
            "1",
            vec![
                vec!["RPUSH", "l", "a", &big, "c"],
                vec!["LSET", "l", "1", "s"],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", "b", "c", "d"],
                vec!["LSET", "l", "1", &big],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", "b", "c", "d"],
                vec!["LSET", "l", "0", &big],
                vec!["LSET", "l", "3", &other],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", "b", "c", "d"],
                vec!["LINSERT", "l", "BEFORE", "c", &big],
                vec!["LINSERT", "l", "AFTER", "a", &other],
                vec!["LINSERT", "l", "BEFORE", "a", &other],
                vec!["LINSERT", "l", "AFTER", "d", &big],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", &big, &other],
                vec!["LSET", "l", "0", &other],
                vec!["RPUSH", "l", "a"],
                vec!["LREM", "l", "0", &other],
            ],
        ),
        (
            "-2",
            vec![
                vec!["RPUSH", "l", "a", &big, "b", &big, "c", &other, "d", "e"],
                vec!["LTRIM", "l", "2", "-2"],
                vec!["LREM", "l", "1", &big],
            ],
        ),
        // Packed nodes left side by side by LREM or LTRIM are not merged.
        (
            "2",
            vec![
                vec!["RPUSH", "l", "a", "b", "c", "d", "e", "f"],
                vec!["LREM", "l", "0", "c"],
                vec!["LREM", "l", "0", "d"],
                vec!["LREM", "l", "0", "b"],
                vec!["LREM", "l", "0", "e"],
            ],
        ),
        (
            "3",
            vec![
                vec!["RPUSH", "l", "a", "b", "c", "d", "e", "f", "g", "h", "i"],
                vec!["LREM", "l", "0", "d"],
                vec!["LTRIM", "l", "0", "5"],
            ],
        ),
    ];
    let shapes = |server: &Server| -> Vec<String> {
        let mut raw = server.raw();
        raw.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
        let mut shapes = Vec::new();
        for (fill, commands) in &scenarios {
            raw.cmd(&["DEL", "l"]);
            raw.cmd(&["CONFIG", "SET", "list-max-listpack-size", fill]);
            for command in commands {
                raw.cmd(command);
                shapes.push(shape(&mut raw, "l"));
            }
        }
        shapes
    };
    let ours = shapes(&Server::lite(&DEBUG));
    assert!(ours[0].starts_with("ql_nodes:3 "), "{ours:?}");
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let theirs = shapes(&redis);
    let differ: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("step {i}:\n    redis: {b}\n    lite:  {a}"))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// Builds lists with plain nodes (some compressed), returning their DEBUG OBJECT shapes.
fn populate_plain_lists(raw: &mut Raw) -> Vec<String> {
    raw.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let (big, noise) = (text(200, 'x'), "0123456789".repeat(20));
    raw.cmd(&["RPUSH", "l", "a", &big, "b", "12345", &noise, &big, "c"]);
    raw.cmd(&["RPUSH", "only", &big]);
    raw.cmd(&["CONFIG", "SET", "list-compress-depth", "1"]);
    raw.cmd(&[
        "RPUSH", "packed", "a", &big, "b", &big, &noise, "c", &big, "d",
    ]);
    // Back to the default: what was plain stays plain, in memory and in the file.
    raw.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]);
    raw.cmd(&["RPUSH", "l", &big]);
    ["l", "only", "packed"]
        .iter()
        .map(|key| shape(raw, key))
        .collect()
}

/// Snapshots with plain nodes (RDB_TYPE_LIST_QUICKLIST_2, container 1, LZF-compressed when
/// the node is): Redis's file loads here with the same digest and node shapes, and ours loads
/// in Redis likewise.
#[test]
fn snapshots_with_plain_nodes_move_both_ways() {
    let digest = |raw: &mut Raw| raw.cmd_text(&["DEBUG", "DIGEST"]);
    for first in [testkit::Program::Redis, testkit::Program::Lite] {
        if !first.available() {
            testkit::skipped("redis-server is not on PATH");
            return;
        }
        let second = match first {
            testkit::Program::Redis => testkit::Program::Lite,
            _ => testkit::Program::Redis,
        };
        let dir = DataDir::new("plain-nodes");
        let args = ["--save", "", "--appendonly", "no"];
        let (shapes, want) = {
            let saver = Launch::of(first)
                .dir(&dir.0)
                .args(&args)
                .args(&DEBUG)
                .start();
            let mut raw = saver.raw();
            let shapes = populate_plain_lists(&mut raw);
            assert!(shapes[1].starts_with("ql_nodes:1 "), "{shapes:?}");
            assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
            (shapes, digest(&mut raw))
        };
        let loader = Launch::of(second)
            .dir(&dir.0)
            .args(&args)
            .args(&DEBUG)
            .start();
        let mut raw = loader.raw();
        assert_eq!(
            digest(&mut raw),
            want,
            "{second:?} loading {first:?}'s file"
        );
        let loaded: Vec<String> = ["l", "only", "packed"]
            .iter()
            .map(|key| {
                // The depth is the loader's own; compare the node figures.
                shape(&mut raw, key)
                    .split(' ')
                    .filter(|f| !f.starts_with("ql_compressed"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let saved: Vec<String> = shapes
            .iter()
            .map(|s| {
                s.split(' ')
                    .filter(|f| !f.starts_with("ql_compressed"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(loaded, saved, "{second:?} loading {first:?}'s file");
    }
}

/// DEBUG RELOAD keeps plain nodes plain (the file says so) after the threshold went back up;
/// DUMP writes them as Redis does, byte for byte.
#[test]
fn plain_nodes_survive_a_reload() {
    let script: &[&[&str]] = &[
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "10"],
        &["RPUSH", "l", "a", "a-long-element", "b", "another-long-one"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "RELOAD"],
        &["LRANGE", "l", "0", "-1"],
        &["DUMP", "l"],
        &["LSET", "l", "1", "short"],
        &["LRANGE", "l", "0", "-1"],
        &["DEBUG", "DIGEST-VALUE", "l"],
    ];
    differential_with(script, false, &[]);
    let lite = Server::lite(&DEBUG);
    let mut raw = lite.raw();
    for command in &script[..4] {
        raw.cmd(command);
    }
    // a, [a-long-element], b, [another-long-one]: the plain nodes split the packed ones.
    assert!(
        shape(&mut raw, "l").starts_with("ql_nodes:4 "),
        "{}",
        shape(&mut raw, "l")
    );
}
