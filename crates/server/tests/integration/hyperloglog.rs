//! HyperLogLog commands against real Redis: replies, errors, and the stored sketch bytes
//! (GET), which must be identical in the sparse and dense encodings, plus sketches moved
//! between the two servers with GET/SET.
use redis_lite_testkit as testkit;

use testkit::{differential, encode, Raw, Server};

/// Runs a script built at run time through [`differential`].
fn differential_owned(script: &[Vec<String>]) {
    testkit::differential_generated(script, false, &[]);
}

fn line(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// PFADD `key` with elements `prefix0..prefixN`, in batches.
fn pfadd_range(key: &str, prefix: &str, range: std::ops::Range<usize>) -> Vec<Vec<String>> {
    let elements: Vec<String> = range.map(|i| format!("{prefix}{i}")).collect();
    elements
        .chunks(500)
        .map(|chunk| {
            let mut l = line(&["PFADD", key]);
            l.extend(chunk.iter().cloned());
            l
        })
        .collect()
}

#[test]
fn sparse_sketches_are_byte_identical() {
    differential(
        testkit::script!("hyperloglog/sparse_sketches_are_byte_identical"),
        false,
    );
}

#[test]
fn sparse_edits_split_and_merge_runs_like_redis() {
    // Many small sketches with neighbouring registers exercise every opcode split and merge.
    let mut script = Vec::new();
    for n in [1, 2, 5, 20, 50, 100, 200] {
        let key = format!("s{n}");
        for i in 0..n {
            script.push(line(&["PFADD", &key, &format!("e{i}")]));
        }
        script.push(line(&["GET", &key]));
        script.push(line(&["PFCOUNT", &key]));
    }
    script.push(line(&["PFMERGE", "all", "s1", "s5", "s20", "s100"]));
    script.push(line(&["GET", "all"]));
    script.push(line(&["PFMERGE", "s200", "s50"]));
    script.push(line(&["GET", "s200"]));
    differential_owned(&script);
}

#[test]
fn random_merges_match_redis() {
    // Sketches of varied sizes merged in varied combinations, sparse results included.
    let mut seed = 11u64;
    let mut below = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut script = Vec::new();
    for k in 0..12 {
        let size = [1, 3, 10, 30, 80, 200][below(6) as usize];
        let start = below(500) as usize;
        script.extend(pfadd_range(&format!("k{k}"), "r", start..start + size));
    }
    for m in 0..30 {
        let mut merge = line(&["PFMERGE", &format!("k{}", below(12))]);
        for _ in 0..below(4) {
            merge.push(format!("k{}", below(12)));
        }
        script.push(merge.clone());
        script.push(line(&["GET", &merge[1]]));
        script.push(line(&["PFCOUNT", &merge[1]]));
        let mut count = merge;
        count[0] = "PFCOUNT".into();
        count.remove(1);
        count.push(format!("k{m}"));
        script.push(count);
    }
    differential_owned(&script);
}

#[test]
fn sparse_turns_dense_at_the_same_element() {
    let mut script = Vec::new();
    for i in 0..1500 {
        script.push(line(&["PFADD", "h", &format!("element:{i}")]));
        script.push(line(&["STRLEN", "h"]));
    }
    script.push(line(&["GET", "h"]));
    script.push(line(&["PFCOUNT", "h"]));
    differential_owned(&script);
}

#[test]
fn dense_sketches_are_byte_identical() {
    let mut script = pfadd_range("big", "item-", 0..12000);
    script.push(line(&["STRLEN", "big"]));
    script.push(line(&["GET", "big"]));
    script.push(line(&["PFCOUNT", "big"]));
    script.push(line(&["GET", "big"]));
    script.extend(pfadd_range("other", "x", 0..300));
    script.push(line(&["PFCOUNT", "big", "other"]));
    // Merging a dense source makes the destination dense.
    script.push(line(&["PFMERGE", "other", "big"]));
    script.push(line(&["GET", "other"]));
    script.push(line(&["PFCOUNT", "other"]));
    script.push(line(&["PFMERGE", "d2", "big", "other"]));
    script.push(line(&["GET", "d2"]));
    // Two sparse sketches whose union outgrows the sparse limit midway through the merge.
    script.extend(pfadd_range("p1", "a", 0..950));
    script.extend(pfadd_range("p2", "b", 0..950));
    for cmd in [
        &["STRLEN", "p1"][..],
        &["STRLEN", "p2"],
        &["PFMERGE", "p3", "p1", "p2"],
        &["STRLEN", "p3"],
        &["GET", "p3"],
        &["PFMERGE", "p1", "p2"],
        &["GET", "p1"],
    ] {
        script.push(line(cmd));
    }
    script.extend(pfadd_range("huge", "", 0..100_000));
    script.push(line(&["PFCOUNT", "huge"]));
    script.push(line(&["PFCOUNT", "huge", "big"]));
    differential_owned(&script);
}

#[test]
fn sketches_are_strings_to_scan() {
    differential(
        &[
            &["PFADD", "h", "a"],
            &["SCAN", "0", "TYPE", "string"],
            &["SCAN", "0", "TYPE", "list"],
        ],
        false,
    );
}

#[test]
fn pfdebug_shows_encodings_and_registers() {
    let mut script = vec![
        line(&["PFADD", "h", "a", "b", "c", "d"]),
        line(&["PFDEBUG", "ENCODING", "h"]),
        line(&["PFDEBUG", "DECODE", "h"]),
        line(&["PFDEBUG", "GETREG", "h"]),
        line(&["PFDEBUG", "ENCODING", "h"]),
        line(&["PFDEBUG", "DECODE", "h"]),
        line(&["PFDEBUG", "TODENSE", "h"]),
        line(&["PFADD", "s", "x"]),
        line(&["PFDEBUG", "todense", "s"]),
        line(&["PFDEBUG", "encoding", "s"]),
        line(&["GET", "s"]),
        line(&["PFDEBUG", "FOO", "s"]),
        line(&["PFDEBUG", "FOO", "missing"]),
        line(&["PFDEBUG", "ENCODING", "missing"]),
        line(&["SET", "str", "x"]),
        line(&["PFDEBUG", "ENCODING", "str"]),
        line(&["PFDEBUG", "ENCODING"]),
        line(&["PFSELFTEST"]),
        line(&["PFSELFTEST", "extra"]),
    ];
    script.extend(pfadd_range("wide", "w", 0..150));
    script.push(line(&["PFDEBUG", "DECODE", "wide"]));
    differential_owned(&script);
}

#[test]
fn errors_match_redis() {
    differential(testkit::script!("hyperloglog/errors_match_redis"), false);
}

/// GET's bulk payload from a raw reply.
fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let header_end = reply.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    reply[header_end..reply.len() - 2].to_vec()
}

fn get_bytes(conn: &mut Raw, key: &str) -> Vec<u8> {
    bulk_payload(&conn.cmd(&["GET", key]))
}

fn set_bytes(conn: &mut Raw, key: &str, value: &[u8]) {
    conn.send(&encode(&[b"SET", key.as_bytes(), value]));
    assert_eq!(conn.read_reply(), b"+OK\r\n");
}

fn hll_dense_len() -> usize {
    16 + 16384 * 6 / 8
}

#[test]
fn sketches_move_between_servers() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let (mut r, mut l) = (redis.raw(), lite.raw());
    let add = |conn: &mut Raw, key: &str, range: std::ops::Range<usize>| {
        for i in range {
            conn.cmd(&["PFADD", key, &format!("v{i}")]);
        }
    };
    // A short sketch SET by a client is embstr; caching its count makes it raw, as in Redis.
    let mut empty = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff".to_vec();
    for conn in [&mut r, &mut l] {
        set_bytes(conn, "e", &empty);
    }
    for cmd in [
        &["OBJECT", "ENCODING", "e"][..],
        &["PFCOUNT", "e"],
        &["OBJECT", "ENCODING", "e"],
        &["GET", "e"],
    ] {
        assert_eq!(l.cmd(cmd), r.cmd(cmd), "{cmd:?}");
    }
    // Registers past what sparse opcodes can hold: a dense value merged into sparse.
    empty[4] = 0;
    empty.truncate(16);
    empty.resize(hll_dense_len(), 0);
    empty[16] = 40;
    for conn in [&mut r, &mut l] {
        set_bytes(conn, "d", &empty);
        conn.cmd(&["PFADD", "s", "a", "b"]);
        conn.cmd(&["PFMERGE", "s", "d"]);
    }
    assert_eq!(get_bytes(&mut l, "s"), get_bytes(&mut r, "s"));
    assert_eq!(l.cmd(&["PFCOUNT", "s"]), r.cmd(&["PFCOUNT", "s"]));
    for (key, n) in [("sparse", 40), ("dense", 5000)] {
        // Redis's sketch, grown further by redis-lite, and the other way round.
        add(&mut r, key, 0..n);
        set_bytes(&mut l, key, &get_bytes(&mut r, key));
        assert_eq!(l.cmd(&["PFCOUNT", key]), r.cmd(&["PFCOUNT", key]), "{key}");
        add(&mut l, key, n..2 * n);
        add(&mut r, key, n..2 * n);
        assert_eq!(get_bytes(&mut l, key), get_bytes(&mut r, key), "{key}");
        let back = format!("{key}-back");
        add(&mut l, &back, 0..n);
        set_bytes(&mut r, &back, &get_bytes(&mut l, &back));
        assert_eq!(l.cmd(&["PFCOUNT", &back]), r.cmd(&["PFCOUNT", &back]));
        assert_eq!(
            l.cmd(&["PFCOUNT", &back, key]),
            r.cmd(&["PFCOUNT", &back, key])
        );
    }
}

/// `hll-sparse-max-bytes` decides when a sparse sketch turns dense: the same bytes as Redis
/// under a small limit, a large one, and after CONFIG SET.
#[test]
fn hll_sparse_max_bytes_moves_the_switch_to_dense() {
    let mut script = vec![line(&["CONFIG", "SET", "hll-sparse-max-bytes", "40"])];
    script.extend(pfadd_range("small", "e", 0..30));
    script.push(line(&["STRLEN", "small"]));
    script.push(line(&["GETRANGE", "small", "4", "4"]));
    script.push(line(&["CONFIG", "SET", "hll-sparse-max-bytes", "10000"]));
    script.extend(pfadd_range("large", "e", 0..2000));
    script.push(line(&["STRLEN", "large"]));
    script.push(line(&["GET", "large"]));
    script.push(line(&["GETRANGE", "large", "4", "4"]));
    script.push(line(&["PFCOUNT", "small", "large"]));
    differential_owned(&script);
}
