//! Property tests: random datasets survive write → read with data, encodings and expiries
//! intact; damaged files fail with an offset and never panic.

use proptest::prelude::*;
use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::{End, List};
use redis_lite_engine::set::Set;
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{EncodingLimits, Value};
use redis_lite_persist::rdb::{read_rdb, Event, RdbWriter, WriteOptions};
use redis_lite_persist::{dump_value, restore_value};

type Item = (u64, Vec<u8>, Value, Option<i64>);

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (-200i64..200).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..30),
        (1usize..200, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        proptest::collection::vec(b'a'..b'e', 0..120),
    ]
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let l = EncodingLimits::default();
    prop_oneof![
        bytes_strategy().prop_map(|b| Value::string(&b)),
        proptest::collection::vec(bytes_strategy(), 1..300).prop_map(|items| {
            let mut list = List::new(-2);
            for i in &items {
                list.push(End::Right, i);
            }
            Value::List(Box::new(list))
        }),
        proptest::collection::vec(bytes_strategy(), 1..200).prop_map(|items| {
            let mut s = Set::new();
            for i in &items {
                s.insert(i, 64);
            }
            Value::Set(Box::new(s))
        }),
        proptest::collection::vec((bytes_strategy(), bytes_strategy()), 1..200).prop_map(
            move |items| {
                let mut h = Hash::new();
                for (f, v) in &items {
                    h.set(f, v, &l);
                }
                Value::Hash(Box::new(h))
            }
        ),
        proptest::collection::vec((bytes_strategy(), -1e6f64..1e6), 1..200).prop_map(
            move |items| {
                let mut z = ZSet::new();
                for (m, s) in &items {
                    z.insert(m, *s, &l);
                }
                Value::ZSet(Box::new(z))
            }
        ),
    ]
}

fn dataset_strategy() -> impl Strategy<Value = Vec<Item>> {
    proptest::collection::vec(
        (
            0u64..4,
            value_strategy(),
            proptest::option::of(0i64..i64::MAX),
        ),
        0..12,
    )
    .prop_map(|items| {
        let mut out: Vec<Item> = items
            .into_iter()
            .enumerate()
            .map(|(i, (db, v, e))| (db, format!("key{i}").into_bytes(), v, e))
            .collect();
        out.sort_by_key(|x| x.0);
        out
    })
}

fn write(data: &[Item], opts: WriteOptions) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), opts);
    w.write_header().unwrap();
    w.write_default_aux(1, 2).unwrap();
    let mut dbs: Vec<u64> = data.iter().map(|e| e.0).collect();
    dbs.dedup();
    for db in dbs {
        let keys: Vec<_> = data.iter().filter(|e| e.0 == db).collect();
        w.select_db(db, keys.len() as u64, 0).unwrap();
        for (_, k, v, e) in keys {
            w.entry(k, v, *e).unwrap();
        }
    }
    w.finish().unwrap()
}

fn read(bytes: &[u8]) -> Result<Vec<Item>, redis_lite_persist::RdbError> {
    let mut db = 0;
    let mut out = Vec::new();
    read_rdb(bytes, EncodingLimits::default(), |e| {
        match e {
            Event::SelectDb(d) => db = d,
            Event::Entry {
                key,
                value,
                expire_at_ms,
            } => out.push((db, key, value, expire_at_ms)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// Equal as data, and in encoding (strings compared by text: a long `RawStr` loads as `Str`).
fn same(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::Int(n) => Some(n.to_string().into_bytes()),
        Value::Str(s) => Some(s.to_vec()),
        Value::RawStr(s) => Some(s.clone()),
        _ => None,
    };
    a.encoding() == b.encoding()
        && match (text(a), text(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn datasets_round_trip(data in dataset_strategy(), compression: bool, checksum: bool, fill in prop_oneof![Just(-2i64), Just(-1), Just(3), Just(128)]) {
        let opts = WriteOptions { compression, checksum, list_max_listpack_size: fill };
        let bytes = write(&data, opts);
        let got = read(&bytes).unwrap();
        prop_assert_eq!(got.len(), data.len());
        for (a, b) in got.iter().zip(&data) {
            prop_assert_eq!((a.0, &a.1, a.3), (b.0, &b.1, b.3));
            prop_assert!(same(&a.2, &b.2), "{:?} vs {:?}", a.2, b.2);
        }
    }

    #[test]
    fn dump_restore_round_trip(v in value_strategy()) {
        let p = dump_value(&v, &WriteOptions::default());
        let back = restore_value(&p, EncodingLimits::default()).unwrap();
        prop_assert!(same(&back, &v));
    }

    #[test]
    fn damaged_files_fail_cleanly(data in dataset_strategy(), flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4), cut in any::<prop::sample::Index>(), truncate: bool) {
        let mut bytes = write(&data, WriteOptions::default());
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        // With a checksum, any change is detected; the error always names an offset.
        match read(&bytes) {
            Ok(_) => prop_assert!(false, "damage went unnoticed"),
            Err(e) => {
                prop_assert!(e.offset().is_some());
                prop_assert!(e.to_string().contains("at offset"), "{}", e);
            }
        }
        // The same damage in a DUMP payload is caught too.
        if let Some((_, _, v, _)) = data.first() {
            let mut p = dump_value(v, &WriteOptions::default());
            let (at, x) = flips[0];
            let i = at.index(p.len());
            p[i] ^= x;
            prop_assert!(restore_value(&p, EncodingLimits::default()).is_err());
        }
    }

    #[test]
    fn damaged_unchecksummed_files_never_panic(data in dataset_strategy(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let opts = WriteOptions { checksum: false, ..WriteOptions::default() };
        let mut bytes = write(&data, opts);
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        // Without a checksum the damage may parse; it must not panic either way.
        if let Err(e) = read(&bytes) {
            prop_assert!(e.to_string().contains("at offset"), "{}", e);
        }
    }

    #[test]
    fn garbage_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..400), header: bool) {
        if header && data.len() >= 9 {
            data[..9].copy_from_slice(b"REDIS0010");
        }
        let _ = read(&data);
        let _ = restore_value(&data, EncodingLimits::default());
    }
}
