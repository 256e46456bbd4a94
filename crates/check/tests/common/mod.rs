//! What this crate's tests share besides the workspace's test kit: running the built
//! `redis-lite-check`, and an RDB holding every type and encoding the engine has.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::List;
use redis_lite_engine::set::Set;
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{EncodingLimits, Value};
use redis_lite_persist::{read_all, save_atomically, LoadedKey, WriteOptions};

/// Runs the tool; returns its output (status, stdout, stderr).
pub fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redis-lite-check"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run redis-lite-check")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every key of an RDB file, sorted by database and name.
pub fn keys_of(path: &Path) -> Vec<LoadedKey> {
    let bytes = std::fs::read(path).unwrap();
    let mut keys = read_all(&bytes[..], EncodingLimits::default()).unwrap().1;
    keys.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
    keys
}

/// Keys of every type and encoding, with binary names and contents, expiries, in databases
/// 0, 1 and 15: (db, key, value, expire_at_ms).
pub fn dataset() -> Vec<(u64, Vec<u8>, Value, Option<i64>)> {
    let limits = EncodingLimits::default();
    let binary: &[u8] = b"\x00\xff\xfe bin\r\n";
    let many: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("element-{i}").into_bytes())
        .collect();
    let list =
        |items: &[&[u8]]| Value::List(Box::new(List::from_values(-2, items.iter().copied())));
    let set = |items: &[&[u8]]| {
        let mut s = Set::new();
        for i in items {
            s.insert(i, limits.set_max_intset_entries as usize);
        }
        Value::Set(Box::new(s))
    };
    let hash = |pairs: &[(&[u8], &[u8])]| {
        let mut h = Hash::new();
        for (f, v) in pairs {
            h.set(f, v, &limits);
        }
        Value::Hash(Box::new(h))
    };
    let zset = |pairs: &[(&[u8], f64)]| {
        let mut z = ZSet::new();
        for (m, s) in pairs {
            z.insert(m, *s, &limits);
        }
        Value::ZSet(Box::new(z))
    };
    let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let ints: Vec<Vec<u8>> = (0..600)
        .map(|i| (i * 7 - 100).to_string().into_bytes())
        .collect();
    let int_refs: Vec<&[u8]> = ints.iter().map(Vec::as_slice).collect();
    let pairs: Vec<(&[u8], &[u8])> = refs.iter().map(|r| (*r, *r)).collect();
    let scored: Vec<(&[u8], f64)> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| (*r, i as f64 / 3.0))
        .collect();
    let long = "abcdefgh".repeat(40).into_bytes();
    let far = 4_102_444_800_000; // 2100-01-01, so the key outlives any test run
    vec![
        (0, b"int".to_vec(), Value::string(b"-123456"), None),
        (
            0,
            b"bigint".to_vec(),
            Value::string(b"12345678901234"),
            Some(far),
        ),
        (0, b"embstr".to_vec(), Value::string(b"hello"), None),
        (0, b"raw".to_vec(), Value::raw(b"appended".to_vec()), None),
        (0, b"lzf".to_vec(), Value::string(&long), None),
        (0, binary.to_vec(), Value::string(binary), Some(far + 1)),
        (
            0,
            b"utf8-\xc3\xa9".to_vec(),
            Value::string("café ☕".as_bytes()),
            None,
        ),
        (
            0,
            b"list".to_vec(),
            list(&[b"a", b"1", binary, b"-7", &long]),
            None,
        ),
        (0, b"biglist".to_vec(), list(&refs.repeat(5)), Some(far)),
        (1, b"intset".to_vec(), set(&[b"1", b"-5", b"100000"]), None),
        (1, b"bigintset".to_vec(), set(&int_refs), None),
        (1, b"strset".to_vec(), set(&[b"a", binary, b"c"]), None),
        (
            1,
            b"hash".to_vec(),
            hash(&[(b"f", b"v"), (binary, binary), (b"n", b"42")]),
            Some(far),
        ),
        (1, b"bighash".to_vec(), hash(&pairs), None),
        (1, b"longhash".to_vec(), hash(&[(b"f", &long)]), None),
        (
            15,
            b"zset".to_vec(),
            zset(&[
                (b"a", 1.5),
                (binary, -0.25),
                (b"inf", f64::INFINITY),
                (b"ninf", f64::NEG_INFINITY),
                (b"tiny", 1e-300),
                (b"third", 1.0 / 3.0),
            ]),
            None,
        ),
        (15, b"bigzset".to_vec(), zset(&scored), Some(far)),
        (
            15,
            binary.to_vec(),
            Value::string(b"same name, other db"),
            None,
        ),
    ]
}

/// Writes [`dataset`] to `path` with the persist crate's writer.
pub fn write_dataset(path: &Path) {
    let data = dataset();
    save_atomically(path, WriteOptions::default(), None, |w| {
        w.write_default_aux(1_700_000_000, 0)?;
        for db in [0, 1, 15] {
            let keys: Vec<_> = data.iter().filter(|k| k.0 == db).collect();
            let expires = keys.iter().filter(|k| k.3.is_some()).count() as u64;
            w.select_db(db, keys.len() as u64, expires)?;
            for (_, key, value, expire) in keys {
                w.entry(key, value, *expire)?;
            }
        }
        Ok(())
    })
    .unwrap();
}

/// Checks that a data set has every encoding, so a round trip covers them all.
pub fn encodings(keys: &[LoadedKey]) -> Vec<&'static str> {
    let mut e: Vec<&'static str> = keys.iter().map(|k| k.value.encoding()).collect();
    e.sort();
    e.dedup();
    e
}
