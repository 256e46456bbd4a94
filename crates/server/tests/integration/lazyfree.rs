//! Lazy freeing: UNLINK, FLUSHALL/FLUSHDB ASYNC and the `lazyfree-lazy-*` settings free large
//! values on the background thread, counted in INFO memory's `lazyfree_pending_objects` and
//! `lazyfreed_objects` as Redis 7.0 counts them (the same scenario runs against real Redis).

use redis_lite_testkit as testkit;

use std::time::{Duration, Instant};

use testkit::{info_field, wait_until, Raw, Server};

/// `lazyfreed_objects` once the background thread has nothing pending.
fn lazyfreed(raw: &mut Raw) -> u64 {
    wait_until("lazy frees to finish", Duration::from_secs(30), || {
        info_field(raw, "memory", "lazyfree_pending_objects") == "0"
    });
    info_field(raw, "memory", "lazyfreed_objects")
        .parse()
        .unwrap()
}

/// `command key` followed by `count` numbered members (or field/score pairs, per `pair`).
fn fill(raw: &mut Raw, command: &str, key: &str, count: usize, pair: Option<&str>) {
    let mut args = vec![command.to_string(), key.to_string()];
    for i in 0..count {
        if let Some(first) = pair {
            args.push(first.replace('N', &i.to_string()));
        }
        args.push(format!("m{i}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reply = raw.cmd(&args);
    assert!(
        reply.starts_with(b":"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

/// A set of 1000 members: a hashtable, whose freeing effort (1000) is over Redis's 64.
fn big_set(raw: &mut Raw, key: &str) {
    fill(raw, "SADD", key, 1000, None);
}

fn ok(raw: &mut Raw, args: &[&str]) {
    assert_eq!(raw.cmd_text(args), "+OK\r\n", "{args:?}");
}

/// Deletions of every kind, each followed by the `lazyfreed_objects` it leaves.
fn scenario(server: &Server) -> Vec<u64> {
    let mut raw = server.raw();
    let mut counts = Vec::new();
    let step = |raw: &mut Raw, counts: &mut Vec<u64>| counts.push(lazyfreed(raw));

    // Small values are freed at once, even by UNLINK: a string, a 10-member set, and a list
    // of 1000 short elements (one quicklist node).
    ok(&mut raw, &["SET", "s", "v"]);
    fill(&mut raw, "SADD", "small", 10, None);
    fill(&mut raw, "RPUSH", "list", 1000, None);
    assert_eq!(raw.cmd_text(&["UNLINK", "s", "small", "list"]), ":3\r\n");
    step(&mut raw, &mut counts);

    // DEL frees in place by default; UNLINK hands large values over.
    big_set(&mut raw, "big");
    raw.cmd(&["DEL", "big"]);
    step(&mut raw, &mut counts);
    big_set(&mut raw, "big");
    raw.cmd(&["UNLINK", "big"]);
    step(&mut raw, &mut counts);
    fill(&mut raw, "HSET", "hash", 1000, Some("fN"));
    fill(&mut raw, "ZADD", "zset", 1000, Some("N"));
    raw.cmd(&["UNLINK", "hash", "zset"]);
    step(&mut raw, &mut counts);
    // A list's effort is its quicklist nodes: 100 elements too big to share an 8 KB node.
    let element = "e".repeat(5000);
    let mut push = vec!["RPUSH", "list"];
    push.extend(std::iter::repeat_n(element.as_str(), 100));
    assert_eq!(raw.cmd_text(&push), ":100\r\n");
    raw.cmd(&["UNLINK", "list"]);
    step(&mut raw, &mut counts);
    // A stream's is its nodes (10 of 100 entries here: freed at once), plus its groups and
    // their pending entries.
    for i in 1..=1000 {
        raw.cmd(&["XADD", "stream", &format!("{i}-1"), "f", "v"]);
    }
    raw.cmd(&["UNLINK", "stream"]);
    step(&mut raw, &mut counts);
    for i in 1..=1000 {
        raw.cmd(&["XADD", "stream", &format!("{i}-1"), "f", "v"]);
    }
    ok(&mut raw, &["XGROUP", "CREATE", "stream", "group", "0"]);
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "group",
        "alice",
        "COUNT",
        "100",
        "STREAMS",
        "stream",
        ">",
    ]);
    raw.cmd(&["UNLINK", "stream"]);
    step(&mut raw, &mut counts);

    // lazyfree-lazy-user-del makes DEL an UNLINK.
    ok(
        &mut raw,
        &["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"],
    );
    big_set(&mut raw, "big");
    raw.cmd(&["DEL", "big"]);
    step(&mut raw, &mut counts);

    // Overwrites and RENAME's destination: lazily only under lazyfree-lazy-server-del.
    big_set(&mut raw, "big");
    ok(&mut raw, &["SET", "big", "x"]);
    step(&mut raw, &mut counts);
    ok(
        &mut raw,
        &["CONFIG", "SET", "lazyfree-lazy-server-del", "yes"],
    );
    raw.cmd(&["DEL", "big"]);
    big_set(&mut raw, "big");
    ok(&mut raw, &["SET", "big", "x"]);
    step(&mut raw, &mut counts);
    raw.cmd(&["DEL", "big"]);
    big_set(&mut raw, "big");
    big_set(&mut raw, "other");
    ok(&mut raw, &["RENAME", "other", "big"]);
    step(&mut raw, &mut counts);

    // Expiry, by EXPIRE in the past and by the TTL passing: under lazyfree-lazy-expire.
    ok(&mut raw, &["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]);
    assert_eq!(raw.cmd_text(&["EXPIRE", "big", "0"]), ":1\r\n");
    step(&mut raw, &mut counts);
    big_set(&mut raw, "big");
    assert_eq!(raw.cmd_text(&["PEXPIRE", "big", "1"]), ":1\r\n");
    wait_until("big to expire", Duration::from_secs(10), || {
        raw.cmd_text(&["EXISTS", "big"]) == ":0\r\n"
    });
    step(&mut raw, &mut counts);

    // Flushes: ASYNC counts every key of the emptied databases; SYNC none.
    ok(&mut raw, &["FLUSHALL", "SYNC"]);
    ok(&mut raw, &["DEBUG", "POPULATE", "100"]);
    ok(&mut raw, &["FLUSHALL", "ASYNC"]);
    step(&mut raw, &mut counts);
    ok(&mut raw, &["DEBUG", "POPULATE", "30"]);
    ok(&mut raw, &["FLUSHDB"]);
    step(&mut raw, &mut counts);
    // lazyfree-lazy-user-flush makes a flush without SYNC or ASYNC asynchronous.
    ok(
        &mut raw,
        &["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"],
    );
    ok(&mut raw, &["DEBUG", "POPULATE", "50"]);
    ok(&mut raw, &["FLUSHDB"]);
    step(&mut raw, &mut counts);
    ok(&mut raw, &["DEBUG", "POPULATE", "20"]);
    ok(&mut raw, &["FLUSHALL", "SYNC"]);
    step(&mut raw, &mut counts);
    // CONFIG RESETSTAT starts the count again.
    ok(&mut raw, &["CONFIG", "RESETSTAT"]);
    step(&mut raw, &mut counts);
    counts
}

const EXPECTED: &[u64] = &[
    0, 0, 1, 3, 4, 4, 5, 6, 6, 7, 8, 9, 10, 110, 110, 160, 160, 0,
];

#[test]
fn deletions_are_freed_lazily_as_redis_counts_them() {
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    assert_eq!(scenario(&lite), EXPECTED, "redis-lite");
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    assert_eq!(scenario(&redis), EXPECTED, "Redis");
}

#[test]
fn info_memory_shows_the_lazyfree_fields_where_redis_does() {
    let fields = |server: &Server| -> Vec<String> {
        let info = server.raw().cmd_text(&["INFO", "memory"]);
        let names: Vec<String> = info
            .lines()
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_string()))
            .collect();
        let at = names
            .iter()
            .position(|n| n == "lazyfree_pending_objects")
            .expect("lazyfree_pending_objects in INFO memory");
        names[at..].to_vec()
    };
    let lite = Server::lite(&["--enable-debug-command", "yes"]);
    let expected = ["lazyfree_pending_objects", "lazyfreed_objects"];
    assert_eq!(fields(&lite), expected);
    if let Some(redis) = Server::redis(&[]) {
        assert_eq!(fields(&redis), expected);
    }
}

/// UNLINK of a set that one 100,000-member SADD built gives the memory back while the
/// connection that sent it stays open (Redis's suite, "UNLINK can reclaim memory in
/// background": redis-lite's parser kept the command's 100,000 argument slots, 2.4 MB).
#[test]
fn unlink_after_one_huge_command_reclaims_its_memory() {
    let run = |server: &Server| {
        let mut raw = server.raw();
        let used =
            |raw: &mut Raw| -> u64 { info_field(raw, "memory", "used_memory").parse().unwrap() };
        let before = used(&mut raw);
        fill(&mut raw, "SADD", "myset", 100_000, None);
        let peak = used(&mut raw);
        assert!(peak > before + 1_000_000, "{before} then {peak}");
        assert_eq!(raw.cmd_text(&["UNLINK", "myset"]), ":1\r\n");
        wait_until(
            "the set's memory to be reclaimed",
            Duration::from_secs(10),
            || used(&mut raw) < before * 2,
        );
    };
    run(&Server::lite(&[]));
    if let Some(redis) = Server::redis(&[]) {
        run(&redis);
    }
}

/// Round-trip time of one command.
fn timed(raw: &mut Raw, args: &[&str]) -> Duration {
    let started = Instant::now();
    raw.cmd(args);
    started.elapsed()
}

/// A million-member set in pipelined SADDs of 1000.
fn million_set(raw: &mut Raw, key: &str) {
    let mut batch = Vec::new();
    for chunk in 0..1000 {
        let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), key.as_bytes().to_vec()];
        args.extend((0..1000).map(|i| format!("member:{}", chunk * 1000 + i).into_bytes()));
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        batch.extend(testkit::encode(&args));
    }
    raw.send(&batch);
    for _ in 0..1000 {
        assert_eq!(raw.read_reply(), b":1000\r\n");
    }
}

#[test]
fn unlink_of_a_million_member_set_returns_before_it_is_freed() {
    let server = Server::lite(&["--enable-debug-command", "yes"]);
    let mut raw = server.raw();
    million_set(&mut raw, "kept");
    // The same set freed in place, for comparison.
    let del = timed(&mut raw, &["DEL", "kept"]);
    // The quickest of three UNLINKs, so one scheduling hiccup on a loaded machine does not
    // decide the comparison.
    let mut unlink = Duration::MAX;
    for round in 0..3 {
        million_set(&mut raw, "doomed");
        let before = lazyfreed(&mut raw);
        unlink = unlink.min(timed(&mut raw, &["UNLINK", "doomed"]));
        assert_eq!(raw.cmd_text(&["EXISTS", "doomed"]), ":0\r\n");
        assert_eq!(lazyfreed(&mut raw), before + 1, "round {round}");
    }
    eprintln!("DEL of 1M members: {del:?}; UNLINK: {unlink:?}");
    assert!(
        unlink * 4 < del,
        "UNLINK took {unlink:?}, DEL of the same set {del:?}"
    );
}

/// Lowers `maxkeys` to 1 over `big` (the only key with a TTL) and `plain`: `big` is evicted.
fn evict_big_set(raw: &mut Raw) {
    ok(raw, &["CONFIG", "SET", "maxkeys", "0"]);
    big_set(raw, "big");
    assert_eq!(raw.cmd_text(&["EXPIRE", "big", "1000"]), ":1\r\n");
    ok(raw, &["SET", "plain", "v"]);
    ok(raw, &["CONFIG", "SET", "maxkeys", "1"]);
    wait_until("big to be evicted", Duration::from_secs(10), || {
        raw.cmd_text(&["EXISTS", "big"]) == ":0\r\n"
    });
    assert_eq!(raw.cmd_text(&["EXISTS", "plain"]), ":1\r\n");
}

#[test]
fn evictions_are_freed_lazily_under_lazyfree_lazy_eviction() {
    let server = Server::lite(&["--maxmemory-policy", "volatile-random"]);
    let mut raw = server.raw();
    evict_big_set(&mut raw);
    assert_eq!(lazyfreed(&mut raw), 0);
    ok(
        &mut raw,
        &["CONFIG", "SET", "lazyfree-lazy-eviction", "yes"],
    );
    evict_big_set(&mut raw);
    assert_eq!(lazyfreed(&mut raw), 1);
}

/// `lazyfreed_objects` on a server holding 40 keys once it has become a replica (the full
/// sync drops its old dataset) with `replica-lazy-flush` set to `lazy_flush`.
fn freed_by_becoming_a_replica(lazy_flush: &str) -> u64 {
    let master = Server::lite(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::lite(&[
        "--replica-lazy-flush",
        lazy_flush,
        "--enable-debug-command",
        "yes",
    ]);
    let mut raw = replica.raw();
    ok(&mut raw, &["DEBUG", "POPULATE", "40"]);
    let port = master.port.to_string();
    ok(&mut raw, &["REPLICAOF", "127.0.0.1", &port]);
    wait_until(
        "the replica's link to come up",
        Duration::from_secs(30),
        || info_field(&mut raw, "replication", "master_link_status") == "up",
    );
    assert_eq!(raw.cmd_text(&["DBSIZE"]), ":0\r\n");
    lazyfreed(&mut raw)
}

#[test]
fn replica_lazy_flush_frees_the_old_dataset_in_the_background() {
    assert_eq!(freed_by_becoming_a_replica("no"), 0);
    assert_eq!(freed_by_becoming_a_replica("yes"), 40);
}
