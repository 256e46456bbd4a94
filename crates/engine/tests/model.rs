//! Model-based property tests of `Keyspace`: random operation sequences run against the real
//! keyspace (few shards, few keys, so keys share shards and buckets) and against a plain
//! `BTreeMap` model, comparing every lookup, the per-database key and volatile counts, the
//! expired-keys counter and full SCANs.
//!
//! Time is virtual: operations pass `now` explicitly. `Keyspace::scan` alone filters with the
//! wall clock, so the virtual clock starts far in the future, where the wall clock never hides
//! a stored key; the model therefore tracks the keys *stored*, including ones whose TTL passed
//! but that nothing has removed yet, and compares lazy and active expiry exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use redis_lite_engine::{Db, Entry, Keyspace, Value};

const SHARDS: usize = 4;
const DBS: usize = 3;
/// Year 2096 in Unix ms: later than any wall clock the tests run at.
const EPOCH: u64 = 4_000_000_000_000;
const KEYS: &[&[u8]] = &[b"a", b"b", b"c", b"key:1", b"", b"\0\xff\r\n"];

/// What a key holds in the model: its value bytes and absolute expiry (0 = none).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    value: Vec<u8>,
    expire_at: u64,
}

impl Stored {
    fn expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }
}

/// The reference: every stored key, the clock, and the expired-keys counter.
#[derive(Default)]
struct Model {
    keys: BTreeMap<(usize, Vec<u8>), Stored>,
    now: u64,
    expired: u64,
}

impl Model {
    /// A lookup with lazy expiry, as `Db::get` and `Db::peek` do.
    fn lookup(&mut self, db: usize, key: &[u8]) -> Option<Stored> {
        let slot = (db, key.to_vec());
        let stored = self.keys.get(&slot)?.clone();
        if stored.expired(self.now) {
            self.keys.remove(&slot);
            self.expired += 1;
            return None;
        }
        Some(stored)
    }

    fn db_keys(&self, db: usize) -> impl Iterator<Item = (&Vec<u8>, &Stored)> {
        self.keys
            .iter()
            .filter(move |((d, _), _)| *d == db)
            .map(|((_, k), s)| (k, s))
    }

    /// (keys, volatile keys) stored in `db`.
    fn counts(&self, db: usize) -> (usize, usize) {
        let stored: Vec<_> = self.db_keys(db).collect();
        let volatile = stored.iter().filter(|(_, s)| s.expire_at != 0).count();
        (stored.len(), volatile)
    }
}

fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Int(n) => n.to_string().into_bytes(),
        Value::Str(s) => s.to_vec(),
        Value::RawStr(s) => s.to_vec(),
        other => panic!(
            "the model stores only strings, found a {}",
            other.type_name()
        ),
    }
}

fn stored(entry: &Entry) -> Stored {
    Stored {
        value: value_bytes(&entry.value()),
        expire_at: entry.expire_at(),
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// SET, then an optional TTL `ttl` ms from now. With `keep_ttl`, the key is looked up
    /// first, as a command does before writing.
    Set {
        db: usize,
        key: usize,
        value: Vec<u8>,
        keep_ttl: bool,
        ttl: Option<u64>,
    },
    Get {
        db: usize,
        key: usize,
    },
    Peek {
        db: usize,
        key: usize,
    },
    /// Raw removal: also removes a stored key whose TTL passed.
    Remove {
        db: usize,
        key: usize,
    },
    /// Raw `set_expire` on a stored key: `Some(ttl)` from now, `None` to persist.
    SetExpire {
        db: usize,
        key: usize,
        ttl: Option<u64>,
    },
    /// MOVE/RENAME as commands do them: look both keys up, take the entry out and insert it
    /// under the new key (replacing it) with its TTL.
    Rename {
        from: (usize, usize),
        to: (usize, usize),
    },
    Advance(u64),
    Flush {
        db: Option<usize>,
        lazy: bool,
    },
    Swap(usize, usize),
    ActiveExpire,
    /// Expires what is due in `db` by looking every key up, then SCANs it to completion.
    Scan {
        db: usize,
        count: usize,
    },
    /// RANDOMKEY: a live key (expiring the due ones it meets), or None when none is live.
    RandomKey {
        db: usize,
    },
}

fn db() -> impl Strategy<Value = usize> {
    0..DBS
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

/// Values that exercise the integer encoding: canonical integers, near-integers and bytes.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..30),
        (-1000i64..1000).prop_map(|n| n.to_string().into_bytes()),
        prop::sample::select(vec![
            &b"007"[..],
            b"-0",
            b"+1",
            b" 1",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"9223372036854775808",
        ])
        .prop_map(<[u8]>::to_vec),
    ]
}

fn ttl() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(0u64..5)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (db(), key(), value(), any::<bool>(), ttl()).prop_map(|(db, key, value, keep_ttl, ttl)| {
            Op::Set { db, key, value, keep_ttl, ttl }
        }),
        4 => (db(), key()).prop_map(|(db, key)| Op::Get { db, key }),
        2 => (db(), key()).prop_map(|(db, key)| Op::Peek { db, key }),
        2 => (db(), key()).prop_map(|(db, key)| Op::Remove { db, key }),
        3 => (db(), key(), ttl()).prop_map(|(db, key, ttl)| Op::SetExpire { db, key, ttl }),
        2 => ((db(), key()), (db(), key())).prop_map(|(from, to)| Op::Rename { from, to }),
        4 => (0u64..4).prop_map(Op::Advance),
        1 => (prop::option::of(db()), any::<bool>()).prop_map(|(db, lazy)| Op::Flush { db, lazy }),
        1 => (db(), db()).prop_map(|(a, b)| Op::Swap(a, b)),
        1 => Just(Op::ActiveExpire),
        2 => (db(), 1usize..8).prop_map(|(db, count)| Op::Scan { db, count }),
        1 => db().prop_map(|db| Op::RandomKey { db }),
    ]
}

/// Looks a key up in the keyspace, with lazy expiry (`get`, or `peek` when `!touch`).
fn lookup(ks: &Keyspace, db: usize, key: &[u8], now: u64, touch: bool) -> Option<Stored> {
    let mut locked = ks.lock_keys([key]);
    let (table, hash) = locked.db(db, key);
    if touch {
        table.get(hash, key, now).as_deref().map(stored)
    } else {
        table.peek(hash, key, now).map(stored)
    }
}

/// Every key a full SCAN of `db` returns, in order of arrival, duplicates kept.
fn full_scan(ks: &Keyspace, db: usize, count: usize) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut cursor = 0;
    for _ in 0..10_000 {
        cursor = ks.scan(db, cursor, count, |e, _| seen.push(e.key().to_vec()));
        if cursor == 0 {
            return seen;
        }
    }
    panic!("SCAN of db {db} did not finish");
}

/// Applies `op` to both sides and checks every result it produces.
fn apply(ks: &Keyspace, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let now = model.now;
    match *op {
        Op::Set {
            db,
            key,
            ref value,
            keep_ttl,
            ttl,
        } => {
            let k = KEYS[key];
            let kept = if keep_ttl {
                let before = lookup(ks, db, k, now, false);
                prop_assert_eq!(&before, &model.lookup(db, k));
                before.map_or(0, |s| s.expire_at)
            } else {
                // A write over a key whose TTL passed expires it first (counted), as in Redis.
                model.lookup(db, k);
                0
            };
            let expire_at = ttl.map_or(kept, |t| now + t);
            let mut locked = ks.lock_keys([k]);
            let (table, hash) = locked.db(db, k);
            table.set(hash, k, Value::string(value), keep_ttl, now);
            if ttl.is_some() {
                table.set_expire(hash, k, expire_at);
            }
            let value = value.clone();
            model
                .keys
                .insert((db, k.to_vec()), Stored { value, expire_at });
        }
        Op::Get { db, key } | Op::Peek { db, key } => {
            let k = KEYS[key];
            let got = lookup(ks, db, k, now, matches!(op, Op::Get { .. }));
            prop_assert_eq!(got, model.lookup(db, k), "{:?}", op);
        }
        Op::Remove { db, key } => {
            let k = KEYS[key];
            let mut locked = ks.lock_keys([k]);
            let (table, hash) = locked.db(db, k);
            let got = table.remove(hash, k).map(|e| stored(&e));
            prop_assert_eq!(got, model.keys.remove(&(db, k.to_vec())));
        }
        Op::SetExpire { db, key, ttl } => {
            let k = KEYS[key];
            let at = ttl.map_or(0, |t| now + t);
            let mut locked = ks.lock_keys([k]);
            let (table, hash) = locked.db(db, k);
            table.set_expire(hash, k, at);
            if let Some(s) = model.keys.get_mut(&(db, k.to_vec())) {
                s.expire_at = at;
            }
        }
        Op::Rename {
            from: (from_db, from_key),
            to: (to_db, to_key),
        } => {
            let (src, dst) = (KEYS[from_key], KEYS[to_key]);
            let source = lookup(ks, from_db, src, now, false);
            prop_assert_eq!(&source, &model.lookup(from_db, src));
            if source.is_none() || (from_db, src) == (to_db, dst) {
                return Ok(());
            }
            let mut locked = ks.lock_keys([src, dst]);
            let (table, hash) = locked.db(from_db, src);
            let old = table.remove(hash, src).expect("looked up above");
            let (_, value, expire_at) = old.into_parts();
            let entry = Entry::new(dst, value).expiring_at(expire_at);
            let (table, hash) = locked.db(to_db, dst);
            table.remove(hash, dst);
            table.insert_entry(hash, entry);
            let moved = model
                .keys
                .remove(&(from_db, src.to_vec()))
                .expect("in model");
            model.keys.insert((to_db, dst.to_vec()), moved);
        }
        Op::Advance(ms) => model.now += ms,
        Op::Flush { db, lazy } => {
            ks.flush(db, lazy);
            model.keys.retain(|(d, _), _| db.is_some_and(|f| f != *d));
        }
        Op::Swap(a, b) => {
            ks.swap_databases(a, b);
            let swap = |d: usize| match d {
                d if d == a => b,
                d if d == b => a,
                d => d,
            };
            model.keys = std::mem::take(&mut model.keys)
                .into_iter()
                .map(|((d, k), s)| ((swap(d), k), s))
                .collect();
        }
        Op::ActiveExpire => {
            // Fewer volatile keys per table than one sample: a cycle finds all that are due.
            let expired = ks
                .active_expire(
                    now,
                    Duration::from_secs(10),
                    redis_lite_engine::keyspace::ExpireEffort::DEFAULT,
                )
                .expired;
            let before = model.keys.len();
            model.keys.retain(|_, s| !s.expired(now));
            let due = before - model.keys.len();
            model.expired += due as u64;
            prop_assert_eq!(expired, due);
        }
        Op::Scan { db, count } => {
            purge(ks, model, db)?;
            let mut got = full_scan(ks, db, count);
            got.sort();
            let live: Vec<Vec<u8>> = model.db_keys(db).map(|(k, _)| k.clone()).collect();
            prop_assert_eq!(got, live, "every live key exactly once");
        }
        Op::RandomKey { db } => {
            let picked = ks.random_key(db, now);
            // Which due keys it expired on the way is random: expire the rest on both sides.
            let live_before: Vec<Vec<u8>> = model
                .db_keys(db)
                .filter(|(_, s)| !s.expired(now))
                .map(|(k, _)| k.clone())
                .collect();
            purge(ks, model, db)?;
            match picked {
                Some(k) => prop_assert!(live_before.contains(&k.to_vec()), "picked {:?}", k),
                None => prop_assert!(live_before.is_empty()),
            }
        }
    }
    Ok(())
}

/// Looks every key of `db` up on both sides, so neither holds a key whose TTL passed.
fn purge(ks: &Keyspace, model: &mut Model, db: usize) -> Result<(), TestCaseError> {
    for k in KEYS {
        prop_assert_eq!(lookup(ks, db, k, model.now, false), model.lookup(db, k));
    }
    Ok(())
}

/// Checks the counts INFO keyspace and DBSIZE report against the model.
fn check_counts(ks: &Keyspace, model: &Model) -> Result<(), TestCaseError> {
    let stats = ks.db_stats();
    prop_assert_eq!(stats.len(), DBS);
    for (db, &(keys, volatile, _)) in stats.iter().enumerate() {
        prop_assert_eq!((keys, volatile), model.counts(db), "db {}", db);
        prop_assert_eq!(ks.db_len(db), keys);
    }
    prop_assert_eq!(ks.expired_keys(), model.expired);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn keyspace_matches_model(ops in prop::collection::vec(op(), 1..80)) {
        let ks = Keyspace::new(SHARDS, DBS);
        let mut model = Model { now: EPOCH, ..Model::default() };
        for op in &ops {
            apply(&ks, &mut model, op)?;
            check_counts(&ks, &model)?;
        }
    }

    /// SCAN's guarantee: a key stored for the whole scan is returned, however much the
    /// tables grow and shrink between calls.
    #[test]
    fn scan_returns_keys_present_throughout_despite_churn(
        stable in 1usize..60,
        count in 1usize..12,
        churn in prop::collection::vec((any::<bool>(), 1usize..80), 1..20),
    ) {
        let ks = Keyspace::new(SHARDS, DBS);
        let set = |key: &[u8]| {
            let mut locked = ks.lock_keys([key]);
            let (table, hash) = locked.db(0, key);
            table.set(hash, key, Value::string(b"v"), false, 0);
        };
        let stable_keys: Vec<Vec<u8>> = (0..stable).map(|i| format!("s{i}").into_bytes()).collect();
        for k in &stable_keys {
            set(k);
        }
        let mut churned: Vec<Vec<u8>> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = ks.scan(0, cursor, count, |e, _| {
                seen.insert(e.key().to_vec());
            });
            if cursor == 0 {
                break;
            }
            let (grow, n) = churn[step % churn.len()];
            // Bounded churn: a table that kept growing faster than the cursor advances would
            // keep the scan from finishing, and long scans would make the test slow.
            if step >= 300 {
                // The tables have resized many times already; let the scan finish.
            } else if grow && churned.len() < 400 {
                for j in 0..n {
                    let k = format!("c{step}-{j}").into_bytes();
                    set(&k);
                    churned.push(k);
                }
            } else {
                for k in churned.drain(..n.min(churned.len())) {
                    let mut locked = ks.lock_keys([&k[..]]);
                    let (table, hash) = locked.db(0, &k);
                    table.remove(hash, &k);
                }
            }
            step += 1;
            prop_assert!(step < 20_000, "SCAN did not finish");
        }
        for k in &stable_keys {
            prop_assert!(seen.contains(k), "missing {:?}", String::from_utf8_lossy(k));
        }
        prop_assert!(seen.iter().all(|k| k[0] == b's' || k[0] == b'c'));
    }
}

#[test]
fn scan_skips_and_reclaims_keys_whose_ttl_passed_on_the_wall_clock() {
    let ks = Keyspace::new(SHARDS, DBS);
    for (key, at) in [(&b"gone"[..], 1), (b"kept", 0), (b"later", EPOCH)] {
        let mut locked = ks.lock_keys([key]);
        let (table, hash) = locked.db(1, key);
        table.set(hash, key, Value::string(b"v"), false, 0);
        table.set_expire(hash, key, at);
    }
    let mut got = full_scan(&ks, 1, 1);
    got.sort();
    assert_eq!(got, vec![b"kept".to_vec(), b"later".to_vec()]);
    // Reclaimed as the scan passed it, as Redis's SCAN does.
    assert_eq!(ks.db_stats()[1].0, 2);
}

/// Runs `f` on the table that holds key "k" of database 0, with the key's hash.
fn with_k<R>(ks: &Keyspace, f: impl FnOnce(&mut Db, u64) -> R) -> R {
    let mut locked = ks.lock_keys([&b"k"[..]]);
    let (table, hash) = locked.db(0, b"k");
    f(table, hash)
}

/// SET ... KEEPTTL on a key whose TTL has passed (but which nothing has removed yet) must
/// create a fresh key, as Redis's lookup-before-write does; the engine keeps the passed TTL,
/// so the value just written is immediately gone.
#[test]
fn set_keep_ttl_over_an_expired_key_starts_without_ttl() {
    let ks = Keyspace::new(SHARDS, DBS);
    let got = with_k(&ks, |table, hash| {
        table.set(hash, b"k", Value::string(b"old"), false, 1_000);
        table.set_expire(hash, b"k", 2_000);
        table.set(hash, b"k", Value::string(b"new"), true, 3_000);
        table.get(hash, b"k", 3_000).as_deref().map(stored)
    });
    let fresh = Stored {
        value: b"new".to_vec(),
        expire_at: 0,
    };
    assert_eq!(got, Some(fresh));
}

/// Redis's SET looks the key up first, so overwriting a key whose TTL passed counts it in
/// `expired_keys` (`DEBUG SET-ACTIVE-EXPIRE 0`, `SET k v PX 1`, wait, `SET k v2` gives
/// `expired_keys:1`); `Db::set` replaces the stale entry silently.
#[test]
fn set_over_an_expired_key_counts_it_as_expired() {
    let ks = Keyspace::new(SHARDS, DBS);
    with_k(&ks, |table, hash| {
        table.set(hash, b"k", Value::string(b"v"), false, 1_000);
        table.set_expire(hash, b"k", 1_001);
        table.set(hash, b"k", Value::string(b"v2"), false, 2_000);
    });
    assert_eq!(ks.expired_keys(), 1);
}

/// INFO keyspace's avg_ttl: Redis's expiry cycle resets it to 0 for a database that has no
/// volatile keys left (`SET k v EX 100`, `PERSIST k` gives `expires=0,avg_ttl=0`), but the
/// engine skips such a database and keeps the last estimate.
#[test]
fn avg_ttl_resets_once_no_key_is_volatile() {
    let ks = Keyspace::new(SHARDS, DBS);
    let expire = |at: u64| {
        with_k(&ks, |table, hash| {
            table.set(hash, b"k", Value::string(b"v"), true, EPOCH);
            table.set_expire(hash, b"k", at);
        })
    };
    expire(EPOCH + 100_000);
    ks.active_expire(
        EPOCH,
        Duration::from_secs(1),
        redis_lite_engine::keyspace::ExpireEffort::DEFAULT,
    );
    assert_eq!(ks.db_stats()[0], (1, 1, 100_000));
    expire(0);
    ks.active_expire(
        EPOCH,
        Duration::from_secs(1),
        redis_lite_engine::keyspace::ExpireEffort::DEFAULT,
    );
    assert_eq!(ks.db_stats()[0], (1, 0, 0));
}
