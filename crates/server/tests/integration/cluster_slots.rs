//! CLUSTER KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT against real Redis: the slot mapping on
//! awkward keys, and the per-slot index after writes, deletions, renames, expiry, reloads and
//! flushes.

use std::collections::BTreeSet;
use std::time::Duration;

use redis_lite_testkit as testkit;
use testkit::{differential, wait_until, Launch, Raw, Reply, Server};

/// Keys whose slots both servers must agree on: plain, tagged, empty and unclosed tags, braces
/// in every order, binary bytes, and a spread of generated names.
fn awkward_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [
        "",
        "a",
        "foo",
        "{",
        "}",
        "{}",
        "}{",
        "{{}}",
        "{a}",
        "{a}b",
        "a{b}c",
        "{}{a}",
        "{a}{b}",
        "{{a}}",
        "{a{b}}",
        "a{",
        "a}",
        "a{}b",
        "{user1000}.following",
        "user1000",
        "123456789",
        "{123456789}",
        "}a{b}",
        "{ }",
        "{\u{e9}}",
    ]
    .iter()
    .map(|k| k.as_bytes().to_vec())
    .collect();
    keys.push(vec![0, 255, b'{', 1, b'}', 2]);
    keys.push((0..=255u8).collect());
    for i in 0..300u32 {
        keys.push(format!("key:{i}:{}", i.wrapping_mul(2_654_435_761)).into_bytes());
    }
    keys
}

/// A real Redis cluster node owning every slot, so it accepts writes (and DEBUG RELOAD); None
/// (the test skipped) without redis-server.
fn single_node_redis_cluster() -> Option<Server> {
    let redis = Launch::redis()
        .cluster_node()
        .args(&["--enable-debug-command", "yes"])
        .start_if_available()?;
    serve_every_slot(&redis);
    Some(redis)
}

/// Gives the single node of a cluster every slot and waits until it serves them.
fn serve_every_slot(node: &Server) {
    let mut raw = node.raw();
    raw.ok(&[&b"CLUSTER"[..], b"ADDSLOTSRANGE", b"0", b"16383"]);
    wait_until("the cluster is up", Duration::from_secs(10), || {
        raw.cmd_text(&["CLUSTER", "INFO"])
            .contains("cluster_state:ok")
    });
}

#[test]
fn keyslot_matches_redis_for_awkward_keys() {
    let Some(redis) = Launch::redis().cluster_node().start_if_available() else {
        return;
    };
    let lite = Launch::lite().cluster_node().start();
    let (mut theirs, mut ours) = (redis.raw(), lite.raw());
    for key in awkward_keys() {
        let args: &[&[u8]] = &[b"CLUSTER", b"KEYSLOT", &key];
        assert_eq!(
            ours.ok(args),
            theirs.ok(args),
            "slot of {:?}",
            String::from_utf8_lossy(&key)
        );
    }
}

/// COUNTKEYSINSLOT of every slot and GETKEYSINSLOT of every non-empty one (as sets: the order
/// of keys within a slot is not Redis's), on both servers.
fn assert_same_slots(ours: &mut Raw, theirs: &mut Raw, keys: &BTreeSet<Vec<u8>>) {
    let slots: BTreeSet<i64> = keys
        .iter()
        .map(|k| ours.ok(&[&b"CLUSTER"[..], b"KEYSLOT", k]).int())
        .collect();
    for slot in 0..16384 {
        let slot = slot.to_string();
        let count = &["CLUSTER", "COUNTKEYSINSLOT", slot.as_str()];
        assert_eq!(ours.cmd(count), theirs.cmd(count), "COUNTKEYSINSLOT {slot}");
    }
    for slot in slots {
        let slot = slot.to_string();
        let get = |raw: &mut Raw, count: &str| -> BTreeSet<Vec<u8>> {
            Reply::parse(&raw.cmd(&["CLUSTER", "GETKEYSINSLOT", slot.as_str(), count]))
                .array()
                .into_iter()
                .collect()
        };
        let all = get(ours, "1000");
        assert_eq!(all, get(theirs, "1000"), "GETKEYSINSLOT {slot}");
        let some = get(ours, "2");
        assert_eq!(some.len(), all.len().min(2), "GETKEYSINSLOT {slot} 2");
        assert!(some.is_subset(&all));
    }
}

#[test]
fn the_slot_index_matches_redis_through_writes_renames_expiry_reloads_and_flushes() {
    let Some(redis) = single_node_redis_cluster() else {
        return;
    };
    let lite = Launch::lite()
        .cluster_node()
        .args(&["--enable-debug-command", "yes", "--appendonly", "yes"])
        .start();
    serve_every_slot(&lite);
    let (mut theirs, mut ours) = (redis.raw(), lite.raw());
    let mut both = |args: &[&[u8]]| {
        let reply = ours.ok(args);
        assert_eq!(reply, theirs.ok(args), "{:?}", args);
    };
    let mut keys = BTreeSet::new();
    for key in awkward_keys().into_iter().filter(|k| !k.is_empty()) {
        both(&[&b"SET"[..], &key, b"v"]);
        keys.insert(key);
    }
    for i in 0..200 {
        let key = format!("{{tag{}}}:{i}", i % 5).into_bytes();
        both(&[&b"RPUSH"[..], &key, b"x"]);
        keys.insert(key);
    }
    // Deletions, a rename (within its slot: Redis refuses others in cluster mode; the engine's
    // tests move keys between slots), keys that expire.
    for key in ["a", "{a}b", "{tag1}:1", "key:3:2068338037"] {
        both(&[&b"DEL"[..], key.as_bytes()]);
        keys.remove(key.as_bytes());
    }
    both(&[&b"RENAME"[..], b"{tag2}:2", b"{tag2}:renamed"]);
    keys.remove(&b"{tag2}:2"[..]);
    keys.insert(b"{tag2}:renamed".to_vec());
    for i in 0..20 {
        let key = format!("{{tag3}}:{i}").into_bytes();
        both(&[&b"PEXPIRE"[..], &key, b"1"]);
        keys.remove(&key);
    }
    wait_until("the keys expired", Duration::from_secs(10), || {
        [&mut ours, &mut theirs]
            .into_iter()
            .all(|raw| raw.ok(&[&b"DBSIZE"[..]]).int() == keys.len() as i64)
    });
    let (mut ours, mut theirs) = (lite.raw(), redis.raw());
    assert_same_slots(&mut ours, &mut theirs, &keys);

    // A reload from the RDB file rebuilds the index.
    ours.ok(&[&b"DEBUG"[..], b"RELOAD"]);
    theirs.ok(&[&b"DEBUG"[..], b"RELOAD"]);
    assert_same_slots(&mut ours, &mut theirs, &keys);

    // So does replaying the append-only file (redis-lite's only: the data is the same).
    ours.ok(&[&b"DEBUG"[..], b"LOADAOF"]);
    assert_same_slots(&mut ours, &mut theirs, &keys);

    ours.ok(&[&b"FLUSHALL"[..]]);
    theirs.ok(&[&b"FLUSHALL"[..]]);
    assert_same_slots(&mut ours, &mut theirs, &keys);
}

/// GETKEYSINSLOT's order: Redis 7.0 lists a slot's keys newest first (created, not written:
/// an overwrite keeps a key's place, a key deleted and set again moves to the front), which
/// redis-lite deliberately does not keep (ARCHITECTURE.md, "Hash slots in the engine"); it
/// lists the same keys, and COUNT takes that many of them.
#[test]
fn getkeysinslot_lists_redis_keys_in_another_order_redis_listing_newest_first() {
    let Some(redis) = single_node_redis_cluster() else {
        return;
    };
    let lite = Launch::lite().cluster_node().start();
    serve_every_slot(&lite);
    let slot = "15891"; // {t}
    let keys = |raw: &mut Raw, count: &str| -> Vec<String> {
        Reply::parse(&raw.cmd(&["CLUSTER", "GETKEYSINSLOT", slot, count]))
            .array()
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect()
    };
    let (mut theirs, mut ours) = (redis.raw(), lite.raw());
    for raw in [&mut theirs, &mut ours] {
        for name in ["a", "b", "c", "d", "e"] {
            raw.ok(&[&b"SET"[..], format!("{{t}}{name}").as_bytes(), b"1"]);
        }
        raw.ok(&[&b"DEL"[..], b"{t}c"]);
        raw.ok(&[&b"SET"[..], b"{t}c", b"2"]);
        raw.ok(&[&b"SET"[..], b"{t}a", b"3"]);
        raw.ok(&[&b"RENAME"[..], b"{t}e", b"{t}f"]);
    }
    let newest_first = ["{t}f", "{t}c", "{t}d", "{t}b", "{t}a"];
    assert_eq!(keys(&mut theirs, "10"), newest_first);
    assert_eq!(keys(&mut theirs, "2"), newest_first[..2]);
    let mut all = keys(&mut ours, "10");
    all.sort();
    let mut expected = newest_first.to_vec();
    expected.sort();
    assert_eq!(all, expected);
    let some = keys(&mut ours, "2");
    assert_eq!(some.len(), 2);
    assert!(some.iter().all(|k| expected.contains(&k.as_str())));
}

#[test]
fn slot_subcommands_without_cluster_mode_answer_as_redis() {
    differential(
        &[
            &["SET", "a", "1"][..],
            &["CLUSTER", "KEYSLOT", "a"],
            &["CLUSTER", "COUNTKEYSINSLOT", "15495"],
            &["CLUSTER", "GETKEYSINSLOT", "15495", "10"],
            &["CLUSTER", "KEYSLOT"],
            &["CLUSTER", "GETKEYSINSLOT", "1"],
        ],
        false,
    );
}
